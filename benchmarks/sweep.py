"""Throughput of a sweep over chip seeds: N chips vmapped in one program vs the same N chips
run one after another, in one process.

Run: ``python benchmarks/sweep.py [--chips 64] [--epochs 1] [--job JOB.yaml]`` (default job:
examples/softhebb_digits_pcm.yaml).

Both sides run the training chunks of the same N experiments (the job with seeds 0..N-1):
  sequential   each chip's chunks through the program ``memxbar run`` uses (a vmapped batch
               of one, compiled once and shared by all N runs), one chip after another
  vmapped      the N chips' array leaves stacked, every chunk one call of the program
               vmapped over N points (what ``memxbar sweep --over seed=0:N`` runs)

Compilation is paid once by each side before timing (a warm-up round). Programming the chips
(``init``) and the end of each run (evaluation, readout, run file) are per chip in both modes
and are reported separately. Prints chip-steps per second and the ratio; the time is the
median of ``--repeats`` rounds, the two sides timed round-robin so background load hits them
alike. With several local devices the vmapped side is sharded over them.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp

from memxbar.runtime.job import load_job
from memxbar.runtime.sweep.batched import placed, point_axis_sharding
from memxbar.runtime.vmapped import VmappedChunk, chunk_function, chunk_view, stack_trees

REPO = Path(__file__).resolve().parents[1]


def experiments(job_path: Path, chips: int, epochs: int):
    job = load_job(job_path)
    return [job.experiment(seed=seed, epochs=epochs) for seed in range(chips)]


def run_sequential(exps, states, keys) -> None:
    """Every chip's whole training, one chip after another."""
    for experiment, state, key in zip(exps, states, keys, strict=True):
        chunk = chunk_function(experiment)
        step = 0
        while step < experiment.total_steps:
            state, _ = chunk(state, experiment.next_stop(step) - step, key=key)
            step = experiment.next_stop(step)
        jax.block_until_ready(state)


def run_vmapped(exps, states, keys) -> None:
    """All chips' training as one program vmapped over the chips."""
    first = exps[0]
    sharding = point_axis_sharding(len(exps))

    arrays = placed(stack_trees([eqx.filter(chunk_view(e), eqx.is_array) for e in exps]), sharding)
    state = placed(stack_trees(states), sharding)
    stacked_keys = placed(jnp.stack(keys), sharding)
    program = VmappedChunk(first)
    step = 0
    while step < first.total_steps:
        state, _ = program(arrays, state, stacked_keys, first.next_stop(step) - step)
        step = first.next_stop(step)
    jax.block_until_ready(state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", default=str(REPO / "examples" / "softhebb_digits_pcm.yaml"))
    parser.add_argument("--chips", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    start = time.perf_counter()
    exps = experiments(Path(args.job), args.chips, args.epochs)
    keys = [jax.random.key(seed) for seed in range(args.chips)]
    built = time.perf_counter()
    states = [e.init(key=k) for e, k in zip(exps, keys, strict=True)]
    jax.block_until_ready(states)
    programmed = time.perf_counter()
    print(
        f"job {args.job}: {args.chips} chips x {exps[0].total_steps} steps, devices {jax.devices()}"
    )
    print(
        f"build (data, compile to crossbar): {built - start:.1f} s; program chips (init): "
        f"{programmed - built:.1f} s, both per chip and the same in either mode"
    )

    sides = {"sequential": run_sequential, "vmapped": run_vmapped}
    for name, run in sides.items():  # warm-up: compile once per side
        t = time.perf_counter()
        run(exps, states, keys)
        print(f"{name:10s} first round (compiles): {time.perf_counter() - t:.1f} s")
    times = {name: [] for name in sides}
    for _ in range(args.repeats):
        for name, run in sides.items():
            t = time.perf_counter()
            run(exps, states, keys)
            times[name].append(time.perf_counter() - t)
    chip_steps = args.chips * exps[0].total_steps
    median = {name: statistics.median(ts) for name, ts in times.items()}
    for name in sides:
        print(f"{name:10s} {median[name]:8.2f} s  {chip_steps / median[name]:10.0f} chip-steps/s")
    print(f"vmapped / sequential throughput: {median['sequential'] / median['vmapped']:.1f}x")


if __name__ == "__main__":
    main()
