"""Where the milliseconds of a PCM tile go: the read and update paths taken apart.

Run: ``python benchmarks/pcm_profile.py [--size 512] [--batch 256] [--repeats 15]``.

Every row is one jitted piece of :class:`~memxbar.crossbar.PCMTile`'s forward read or update
on a ``size`` x ``size`` tile of ``pcm_256`` (batch ``batch``, read at 1 day), or the whole
operation with one physical effect switched off (an ablation: the row's cost minus the
whole's is what that effect costs). Times are medians over ``--repeats`` rounds, the rows
timed round-robin in one process, and stated as ratios to a jitted ``x @ W`` of the same
shapes (benchmarks/README.md says how to read them on a busy 2-core machine).
"""

from __future__ import annotations

import argparse

import equinox as eqx
import jax
import jax.numpy as jnp

# The sibling benchmark script (this folder is on sys.path when a script here runs).
from softhebb import median_times_s

from memxbar.crossbar import PCMTile, load_chip
from memxbar.crossbar.pulse_schemes import fire_one_sided, rounded_counts, rounded_pulses
from memxbar.crossbar.read_view import ReadView
from memxbar.devices.random import normal_elementwise, uniform_elementwise

DAY_S = 86400.0


def _switched_off(tile: PCMTile, **changes) -> PCMTile:
    """``tile`` with device or periphery settings replaced (e.g. read_noise.scale=0)."""
    for dotted, value in changes.items():
        part, name = dotted.split("__")
        where = {
            "read_noise": lambda s: s.device.read_noise,
            "drift": lambda s: s.device.drift,
            "periphery": lambda s: s.periphery,
        }[part]
        section = eqx.tree_at(lambda s, n=name: getattr(s, n), where(tile), value)
        tile = eqx.tree_at(where, tile, section)
    return tile


def rows_of(n: int, batch: int):
    """{label: zero-argument call} of the read and update pieces, and the matmul floor."""
    chip = load_chip("pcm_256")
    k_w, k_tile, k_x, k_dw = jax.random.split(jax.random.key(0), 4)
    W = jax.random.uniform(k_w, (n, n), jnp.float32, -1.0, 1.0)
    x = jax.random.uniform(k_x, (batch, n), jnp.float32, -1.0, 1.0)
    tile = PCMTile.create(chip, key=k_tile, rows=n, cols=n, weights=W)
    dW = jax.random.uniform(k_dw, (n, n), jnp.float32, 1.0, 3.0) * tile.dw_pulse * jnp.sign(W)
    t = jnp.float32(DAY_S)
    key = jax.random.key(1)
    view = ReadView.compute(tile.device, tile.devices, t, tile.periphery.wire_resistance_Ohm)
    cached = eqx.tree_at(lambda s: (s.view, s.view_time_s), tile, (view, t))
    wire = tile.periphery.wire_resistance_Ohm

    matmul = jax.jit(lambda x, W: x @ W)
    two = jax.jit(lambda x, A, B: (x @ A, (x * x) @ B))
    mvm = jax.jit(lambda tile, x, t, key: tile.mvm(x, t, key=key)[0])
    stats = jax.jit(lambda tile, t: tile.device.read_statistics(tile.devices, t))
    compute_view = jax.jit(lambda tile, t: ReadView.compute(tile.device, tile.devices, t, wire))
    update = jax.jit(lambda tile, dW, t, key: tile.update(dW, t, key=key).devices.g_prog_S)

    def pulses(tile, dW, key):
        return rounded_counts(dW, tile.dw_pulse, 16, stochastic=True, key=key)

    counts = jax.jit(pulses)(tile, dW, key)
    n_sides = rounded_pulses(dW, tile.dw_pulse, 16, stochastic=True, key=key)
    fire = jax.jit(
        lambda tile, counts, t, key: (
            fire_one_sided(tile.device, tile.devices, 0, counts, t, key=key).g_prog_S
        )
    )
    set_pulses = jax.jit(
        lambda tile, n, t, key: (
            tile.device.set_pulses(
                jax.tree.map(lambda a: a[:, 0], tile.devices), n, t, key=key
            ).g_prog_S
        )
    )
    no_noise = _switched_off(tile, read_noise__scale=0.0)
    no_drift = _switched_off(tile, drift__scale=0.0)
    no_comp = tile.with_drift_compensation(False)
    shape = tile.devices.g_prog_S.shape
    rows = {
        "plain x @ W": lambda: matmul(x, W),
        "two matmuls (mean, variance)": lambda: two(x, W, W),
        f"normal_elementwise {batch}x{n}": lambda: jax.jit(normal_elementwise, static_argnums=1)(
            key, (batch, n)
        ),
        f"jax.random.normal {batch}x{n}": lambda: jax.jit(jax.random.normal, static_argnums=1)(
            key, (batch, n)
        ),
        "mvm, cached view": lambda: mvm(cached, x, t, key),
        "mvm, fresh view": lambda: mvm(tile, x, t + 1.0, key),
        "  fresh, no read noise": lambda: mvm(no_noise, x, t + 1.0, key),
        "  fresh, no drift": lambda: mvm(no_drift, x, t + 1.0, key),
        "  fresh, no drift compensation": lambda: mvm(no_comp, x, t + 1.0, key),
        "  read_statistics (drift, 1/f sigma)": lambda: stats(tile, t),
        "  ReadView.compute (+ IR drop, sums)": lambda: compute_view(tile, t),
        "update (stochastic, 1-3 pulses)": lambda: update(tile, dW, t, key),
        "  rounded_counts": lambda: jax.jit(pulses)(tile, dW, key),
        "  fire_one_sided": lambda: fire(tile, counts, t, key),
        "  set_pulses on (2, rows, cols)": lambda: set_pulses(tile, n_sides, t, key),
        f"  normal_elementwise {'x'.join(map(str, shape))}": lambda: jax.jit(
            normal_elementwise, static_argnums=1
        )(key, shape),
        f"  uniform_elementwise {n}x{n}": lambda: jax.jit(uniform_elementwise, static_argnums=1)(
            key, (n, n)
        ),
    }
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="rows = cols of the tile")
    parser.add_argument("--batch", type=int, default=256, help="input vectors per MVM")
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds per row")
    args = parser.parse_args(argv)
    rows = rows_of(args.size, args.batch)
    times = median_times_s(list(rows.values()), args.repeats)
    floor = times[0]
    print(
        f"PCM tile pieces, {args.size}x{args.size}, batch {args.batch}, pcm_256, 1 day; "
        f"median of {args.repeats}, round-robin; JAX {jax.__version__}"
    )
    print(f"{'piece':42s} {'ms':>8s} {'x matmul':>9s}")
    for label, seconds in zip(rows, times, strict=True):
        print(f"{label:42s} {1e3 * seconds:8.3f} {seconds / floor:9.2f}")


if __name__ == "__main__":
    main()
