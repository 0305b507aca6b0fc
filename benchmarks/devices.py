"""Cost of device-level operations on a 512 x 512 array, as ratios to one elementwise pass.

Run: ``python benchmarks/devices.py [--size 512] [--repeats 200]``. Every time is the median of
``--repeats`` calls of a jitted function after warm-up, with ``block_until_ready``, the rows
timed round-robin (one call of each per round) so background load hits them alike; every
ratio divides by a plain jitted ``g * c`` on the same array measured in the same process
(docs/architecture.md, Performance: measure, compare as ratios in one process).

Rows:
  read (t = 1 day)          model.read: drift + 1/f read noise of every device, one call
  set_pulses n=1            one partial SET pulse on every device (pulse preset)
  set_pulses n in {0,1,2}   a mixed update: a third of the devices get 0, 1 and 2 pulses
and, to see where the read's time goes (rows marked "-" are not device calls):
  drifted (no noise)        the noiseless drift alone (log1p + exp per device)
  read, xi given            the read's arithmetic with the normals passed in (no PRNG)
  jax.random.normal/bits    the random numbers alone, per PRNG implementation
  read, partitionable=False model.read traced under jax.threefry_partitionable(False)
  read with rbg key         model.read unchanged, called with an rbg / unsafe_rbg key
  normal16                  the library's normals: fused jnp threefry-2x32, 16 bits a sample
  normal_elementwise        one cipher call a sample (what device writes and reads draw)
  ... in a loop (4 draws)   both inside a fori_loop body, as in every training or spiking scan:
                            normal16's interleave is not fused there
  fast read (shared log)    a candidate: one log per device shared by drift and 1/f noise
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp

import memxbar.devices as mdev
from memxbar.devices.random import erf_inv, normal16, normal_elementwise

DAY_S = 86400.0


def median_times_s(calls, repeats: int, warmup: int = 3) -> list[float]:
    """Median wall time of each ``(fn, args)``, timed round-robin.

    Interleaving the calls (one of each per round) exposes every row to the same background
    load, so the ratios stay meaningful on a shared machine.
    """
    for fn, args in calls:
        for _ in range(warmup):
            jax.block_until_ready(fn(*args))
    times = [[] for _ in calls]
    for _ in range(repeats):
        for i, (fn, args) in enumerate(calls):
            start = time.perf_counter()
            jax.block_until_ready(fn(*args))
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


# --- a candidate faster read (not used by devices/; its statistics would need the tests) -----


def _q_s(model, state):
    if hasattr(state, "read_noise_q"):  # stored per device at the write
        return state.read_noise_q
    return model.read_noise.q_s(state.g_prog_S)


def read_given_xi(model, state, t, xi):
    """model.read's arithmetic with the standard normals supplied (no random bits)."""
    elapsed = jnp.maximum(t - state.t_prog_s, 0.0)
    g_drift = state.g_prog_S * model.drift.factor(elapsed, state.nu)
    sigma = (
        model.read_noise.scale
        * _q_s(model, state)
        * model.read_noise.time_factor(elapsed + model.drift.t0_s)
    )
    return jnp.maximum(g_drift + jnp.abs(g_drift) * sigma * xi, 0.0)


def fast_read(model, state, t, key):
    """The read with one log per device shared by drift and 1/f noise (normal16 noise).

    ln(elapsed + t0) serves both the drift, ((e + t0)/t0)^-nu = exp(-nu (L - ln t0)), and the
    1/f factor, sqrt(ln((e + t0 + t_read)/(2 t_read))) = sqrt(L - ln(2 t_read)) (t_read ≪ t0:
    the dropped t_read/(e + t0) ≤ 1.3e-8 is below float32 resolution).
    """
    elapsed = jnp.maximum(t - state.t_prog_s, 0.0)
    log_t = jnp.log(elapsed + model.drift.t0_s)
    g_drift = state.g_prog_S * jnp.exp(-state.nu * (log_t - math.log(model.drift.t0_s)))
    time_factor = jnp.sqrt(log_t - math.log(2.0 * model.read_noise.t_read_s))
    sigma = model.read_noise.scale * _q_s(model, state) * time_factor
    xi = normal16(key, state.shape)
    return jnp.maximum(g_drift + jnp.abs(g_drift) * sigma * xi, 0.0)


def _in_loop(draw, shape, draws: int = 4):
    """Sum of ``draws`` samples of ``draw`` drawn inside a fori_loop body (fresh key each)."""

    def fn(key):
        def body(i, total):
            return total + draw(jax.random.fold_in(key, i), shape)

        return jax.lax.fori_loop(0, draws, body, jnp.zeros(shape, jnp.float32))

    return fn


def _unpartitioned(fn):
    """``fn`` traced and run under jax.threefry_partitionable(False) (the pre-0.5 default)."""

    def wrapped(*args):
        with jax.threefry_partitionable(False):
            return fn(*args)

    return wrapped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    shape = (args.size, args.size)
    repeats = args.repeats

    g = jax.random.uniform(jax.random.key(0), shape, maxval=25e-6)
    c = jnp.float32(0.9)
    scale = jax.jit(lambda g, c: g * c)

    rows: list[tuple[str, str]] = []
    calls = []

    def add(preset, label, fn, *fn_args):
        rows.append((preset, label))
        calls.append((fn, fn_args))

    add("-", "baseline: g * c", scale, g, c)
    read = eqx.filter_jit(lambda m, s, t, k: m.read(s, t, key=k))
    drifted = eqx.filter_jit(lambda m, s, t: m.drifted(s, t))
    pulses = eqx.filter_jit(lambda m, s, n, t, k: m.set_pulses(s, n, t, key=k))
    given_xi = eqx.filter_jit(read_given_xi)
    fast = eqx.filter_jit(fast_read)
    t_day = jnp.float32(DAY_S)
    n_mixed = (jnp.arange(shape[0] * shape[1], dtype=jnp.int32) % 3).reshape(shape)
    key = jax.random.key(3)

    for preset in ("pcm_nandakumar2019", "pcm_gst_pulse"):
        model = mdev.load_preset(preset)
        state = model.init(shape, key=jax.random.key(1))
        state = model.program(state, g, 0.0, key=jax.random.key(2))
        add(preset, "read (t = 1 day)", read, model, state, t_day, key)
        if isinstance(model, mdev.PulsePCM):
            add(preset, "set_pulses n=1", pulses, model, state, jnp.int32(1), t_day, key)
            add(preset, "set_pulses n in {0,1,2}", pulses, model, state, n_mixed, t_day, key)

    # where the read's time goes (statistical preset)
    preset = "pcm_nandakumar2019"
    model = mdev.load_preset(preset)
    state = model.init(shape, key=jax.random.key(1))
    state = model.program(state, g, 0.0, key=jax.random.key(2))
    add(preset, "drifted (no noise)", drifted, model, state, t_day)
    add(
        preset,
        "read, xi given (no PRNG)",
        given_xi,
        model,
        state,
        t_day,
        jax.random.normal(key, shape),
    )
    for impl in ("threefry2x32", "rbg", "unsafe_rbg"):
        k = jax.random.key(4, impl=impl)
        add("-", f"jax.random.bits ({impl})", jax.jit(lambda k: jax.random.bits(k, shape)), k)
        add("-", f"jax.random.normal ({impl})", jax.jit(lambda k: jax.random.normal(k, shape)), k)
    # jax_threefry_partitionable is read when tracing, so trace and call inside the context
    normal_np = jax.jit(lambda k: jax.random.normal(k, shape))
    add("-", "jax.random.normal, partitionable=False", _unpartitioned(normal_np), key)
    read_np = eqx.filter_jit(lambda m, s, t, k: m.read(s, t, key=k))
    add(preset, "read, partitionable=False", _unpartitioned(read_np), model, state, t_day, key)
    for impl in ("rbg", "unsafe_rbg"):
        add(
            preset, f"read with {impl} key", read, model, state, t_day, jax.random.key(3, impl=impl)
        )
    add("-", "erf_inv alone (library)", jax.jit(erf_inv), g / 25e-6 * 1.8 - 0.9)
    add("-", "lax.erf_inv alone", jax.jit(jax.lax.erf_inv), g / 25e-6 * 1.8 - 0.9)
    add("-", "normal16 (library: fused threefry)", jax.jit(lambda k: normal16(k, shape)), key)
    add("-", "normal_elementwise", jax.jit(lambda k: normal_elementwise(k, shape)), key)
    for name, draw in (("normal16", normal16), ("normal_elementwise", normal_elementwise)):
        add("-", f"{name} in a loop (4 draws)", jax.jit(_in_loop(draw, shape)), key)
    add(preset, "fast read (shared log + normal16)", fast, model, state, t_day, key)

    seconds = median_times_s(calls, repeats)
    base = statistics.median(
        t for (_, label), t in zip(rows, seconds, strict=True) if "g * c" in label
    )
    print(f"JAX {jax.__version__} on {jax.devices()[0].platform}, {shape[0]}x{shape[1]} float32")
    (hot,) = median_times_s([(scale, (g, c))], repeats)
    print(
        f"baseline: jitted g * c = {base * 1e3:.3f} ms timed among the rows (median of"
        f" {repeats}); {hot * 1e3:.3f} ms timed alone (hot cache, not used for the ratios)"
    )
    width = max(len(label) for _, label in rows)
    print(f"{'preset':<20} {'operation':<{width}} {'ms':>8} {'x g*c':>8}")
    for (preset, label), t in zip(rows, seconds, strict=True):
        print(f"{preset:<20} {label:<{width}} {t * 1e3:8.3f} {t / base:8.1f}")


if __name__ == "__main__":
    main()
