"""Speed of crossbar tiles relative to a plain jitted matmul (docs/architecture.md).

A 512 × 512 tile, batch 256, on the pcm_256 chip (8-bit DAC/ADC, read noise, IR drop, global
drift compensation), read 1 day after programming. The rows are jitted calls, timed
round-robin after warm-up (each round calls every row once), and each is stated as the median
over rounds of its ratio to a jitted ``x @ W`` of the same shapes timed in the same round,
with the quartiles of that ratio (ratios survive a noisy machine better than times, and a
ratio within one round best).

Measured:
- PCM mvm, fresh read view: the first read at a new chip time computes drift, IR drop and
  read-noise variance of every device (the tile's cached view is at another time).
- PCM mvm, cached view: 10 reads at one chip time in a ``lax.scan`` carrying the tile (the
  view is computed once, before), against a scan of 10 plain matmuls.
- The same two reads with ``periphery.read_noise_variance: column_mean`` (the cheaper noise
  mode: the outputs' read-noise variance from each column's mean device variance, one matvec
  instead of a second matmul; crossbar/read_view.py). Every other row uses the exact mode.
- PCM update: a full-tile update with stochastic rounding of 1–3 pulses per device.
- IdealTile mvm.
The jitted functions return the outputs (y, or the new conductances for the update) and the
tile's energy ledger, what a user of the tile gets: returning the whole tile would copy its
~20 MB of device state per call and time that, and returning y alone would let XLA drop the
energy booking (the line totals of the read view) and time less than a read does.

Run: ``python benchmarks/crossbar.py [--size 512] [--batch 256] [--repeats 20]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import time

import jax
import jax.numpy as jnp

from memxbar.crossbar import IdealTile, PCMTile, load_chip

DAY_S = 86400.0
SCAN_LENGTH = 10


def round_robin_s(rows, *, repeats: int, warmup: int = 3) -> list[list[float]]:
    """Wall times (s) of every row's ``fn(*make_args(i))``, the rows called in turn in each of
    ``repeats`` rounds after ``warmup`` calls each: a row and its reference matmul are timed
    seconds apart, so load that comes and goes hits both (their ratio is taken per round)."""
    for _, fn, make_args, _ in rows:
        for i in range(warmup):
            jax.block_until_ready(fn(*make_args(i)))
    times = [[] for _ in rows]
    for i in range(repeats):
        for row, (_, fn, make_args, _) in zip(times, rows, strict=True):
            args = make_args(warmup + i)
            start = time.perf_counter()
            jax.block_until_ready(fn(*args))
            row.append(time.perf_counter() - start)
    return times


def rows(n: int = 512, batch: int = 256):
    """The timed rows: (key, label, jitted function, arguments of call i, index of the row it
    is a ratio to). Call i gets a chip time of its own, so the fresh rows recompute the view."""
    chip = load_chip("pcm_256")
    k_w, k_tile, k_x, k_dw = jax.random.split(jax.random.key(0), 4)
    W = jax.random.uniform(k_w, (n, n), jnp.float32, -1.0, 1.0)
    x = jax.random.uniform(k_x, (batch, n), jnp.float32, -1.0, 1.0)
    xs = jax.random.uniform(k_x, (SCAN_LENGTH, batch, n), jnp.float32, -1.0, 1.0)
    keys = jax.random.split(jax.random.key(1), 1000)

    create = jax.jit(PCMTile.create, static_argnames=("rows", "cols", "w_max"))
    tile = jax.block_until_ready(create(chip, key=k_tile, rows=n, cols=n, weights=W))
    column_mean = dataclasses.replace(
        chip, periphery=dataclasses.replace(chip.periphery, read_noise_variance="column_mean")
    )
    cheap_tile = jax.block_until_ready(create(column_mean, key=k_tile, rows=n, cols=n, weights=W))
    ideal = IdealTile.create(n, n, weights=W)
    # 1–3 pulses per device, both signs: |dW| uniform in [1, 3] · dw_pulse.
    dw = float(tile.dw_pulse)
    magnitude = jax.random.uniform(k_dw, (n, n), jnp.float32, 1.0, 3.0) * dw
    dW = magnitude * jnp.sign(W)

    matmul = jax.jit(lambda x, W: x @ W)
    matmul_scan = jax.jit(lambda xs, W: jax.lax.scan(lambda c, x: (c, x @ W), None, xs)[1])

    def outputs_and_energy(y, tile):
        return y, tile.ledger

    pcm_mvm = jax.jit(lambda tile, x, t, key: outputs_and_energy(*tile.mvm(x, t, key=key)))

    @jax.jit
    def pcm_mvm_scan(tile, xs, t, keys):
        def step(tile, inputs):
            x, key = inputs
            y, tile = tile.mvm(x, t, key=key)
            return tile, y

        tile, ys = jax.lax.scan(step, tile, (xs, keys))
        return outputs_and_energy(ys, tile)

    @jax.jit
    def pcm_update(tile, dW, t, key):
        new = tile.update(dW, t, key=key)
        return outputs_and_energy(new.devices.g_prog_S, new)

    ideal_mvm = jax.jit(lambda tile, x, key: outputs_and_energy(*tile.mvm(x, 0.0, key=key)))

    # The cached-view runs start from a tile whose view is already at 1 day.
    read_at = jax.jit(lambda tile, x, t, key: tile.mvm(x, t, key=key)[1])
    cached = read_at(tile, x, jnp.float32(DAY_S), keys[0])
    cheap_cached = read_at(cheap_tile, x, jnp.float32(DAY_S), keys[0])
    assert float(cached.view_time_s) == DAY_S == float(cheap_cached.view_time_s)

    def t_new(i):  # a new chip time for every call: the view is recomputed
        return jnp.float32(DAY_S + i)

    def scan_keys(i):
        return jax.random.split(keys[i], SCAN_LENGTH)

    # (key, label, jitted function, arguments of call i, the row it is a ratio to)
    return [
        ("matmul", "plain x @ W (jit)", matmul, lambda i: (x, W), 0),
        ("matmul-scan", f"plain scan of {SCAN_LENGTH} x @ W", matmul_scan, lambda i: (xs, W), 1),
        ("fresh", "PCM mvm, fresh read view", pcm_mvm, lambda i: (tile, x, t_new(i), keys[i]), 0),
        (
            "cached",
            f"PCM mvm, cached view (scan of {SCAN_LENGTH})",
            pcm_mvm_scan,
            lambda i: (cached, xs, jnp.float32(DAY_S), scan_keys(i)),
            1,
        ),
        (
            "fresh-column-mean",
            "  column_mean noise, fresh read view",
            pcm_mvm,
            lambda i: (cheap_tile, x, t_new(i), keys[i]),
            0,
        ),
        (
            "cached-column-mean",
            "  column_mean noise, cached view",
            pcm_mvm_scan,
            lambda i: (cheap_cached, xs, jnp.float32(DAY_S), scan_keys(i)),
            1,
        ),
        (
            "update",
            "PCM update (stochastic, 1-3 pulses)",
            pcm_update,
            lambda i: (tile, dW, t_new(i), keys[i]),
            0,
        ),
        ("ideal", "IdealTile mvm", ideal_mvm, lambda i: (ideal, x, keys[i]), 0),
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="rows = cols of the tile")
    parser.add_argument("--batch", type=int, default=256, help="input vectors per MVM")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per entry")
    args = parser.parse_args(argv)
    n, batch, repeats = args.size, args.batch, args.repeats
    timed = [
        (label, fn, make_args, reference) for _, label, fn, make_args, reference in rows(n, batch)
    ]
    times = round_robin_s(timed, repeats=repeats)

    print(
        f"crossbar tiles, {n}x{n}, batch {batch}, pcm_256 periphery, read at 1 day; "
        f"{repeats} rounds, rows round-robin; JAX {jax.__version__} on "
        f"{jax.devices()[0].platform} ({platform.processor() or platform.machine()})"
    )
    print(
        f"plain matmul floor: {1e3 * statistics.median(times[0]):.3f} ms; "
        f"scan of {SCAN_LENGTH}: {1e3 * statistics.median(times[1]):.3f} ms (medians)"
    )
    print(f"{'operation':40s} {'median':>10s} {'ratio to matmul':>16s} {'quartiles':>13s}")
    for (name, _, _, reference), row in zip(timed, times, strict=True):
        ratios = [t / r for t, r in zip(row, times[reference], strict=True)]
        low, _, high = statistics.quantiles(ratios, n=4)
        print(
            f"{name:40s} {1e3 * statistics.median(row):8.3f} ms "
            f"{statistics.median(ratios):15.2f}x {low:6.2f}-{high:.2f}"
        )


if __name__ == "__main__":
    main()
