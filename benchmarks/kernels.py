"""Where a SoftHebb training chunk's time goes, kernel by kernel, with each kernel's source.

Run: ``python benchmarks/kernels.py [--workload mnist-pcm] [--rounds 3] [--top 25]``.

Compiles the chunk of ``softhebb.py`` (``runtime.trainer.train_chunk``; ``digits`` 64 -> 100,
one tile, 44 steps; ``mnist`` 784 -> 2000 on 32 PCM tiles, 8 steps), runs it ``--rounds``
times under ``jax.profiler`` and prints, per learning step: the kernels' summed time and count,
the costliest kernels (XLA's name, output shape and the memxbar source line that made them)
and the time per source line. Kernel times are as the profiler records them on the CPU
(the two cores run some kernels side by side), so their sum is not the wall time; read them
against each other. This is how benchmarks/README.md found the integer counts and the layout
copies of "Counting in float32, merging in place".
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import re
import tempfile
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
from softhebb import BATCH, REFRESH_EVERY, digits_case, mnist_case

import memxbar
from memxbar import algorithms, compiler, crossbar, devices, runtime
from memxbar.algorithms.softhebb import ShallowSoftHebb
from memxbar.crossbar import load_chip
from memxbar.runtime.chip import tile_factory
from memxbar.runtime.trainer import Schedule, train_chunk

WORKLOADS = ("digits-ideal", "digits-pcm", "mnist-ideal", "mnist-pcm")
# The folders of memxbar's code (an editable install keeps the floors beside memxbar/).
OURS = tuple(
    str(Path(package.__file__).parent)
    for package in (memxbar, algorithms, compiler, crossbar, devices, runtime)
) + (str(Path(__file__).parent),)


def chunk_program(workload: str):
    """(jitted chunk of one argument, its argument, learning steps per call)."""
    case, tiles = workload.split("-")
    _, x_train, n_neurons, params, steps, w_max = (
        digits_case if case == "digits" else mnist_case
    )()
    algorithm = ShallowSoftHebb(
        layer_name="hebbian", n_inputs=x_train.shape[1], n_neurons=n_neurons, params=params
    )
    schedule = Schedule(x_train.shape[0], BATCH, epochs=1, step_time_s=1e-3)
    state = algorithm.init(tile_factory(load_chip("pcm_256"), tiles, w_max), key=jax.random.key(0))
    x = jnp.asarray(x_train, jnp.float32)
    indices = jnp.arange(steps * BATCH).reshape(steps, BATCH)
    arrays, static = eqx.partition(state, eqx.is_array)

    @jax.jit
    def chunk(arrays):
        state = eqx.combine(arrays, static)
        return train_chunk(
            algorithm, schedule, REFRESH_EVERY, state, x, indices, jnp.arange(steps),
            jax.random.key(1),
        )  # fmt: skip

    return chunk, arrays, steps


def _section(text: str, name: str, following: str) -> str:
    return text[text.index(f"\n{name}\n") : text.index(f"\n{following}\n")]


def kernel_sources(hlo: str) -> dict[str, tuple[str, str]]:
    """{instruction name: (output shape, innermost memxbar source 'file:line function')} of a
    compiled module's text (XLA prints the Python stack of every instruction at its end)."""
    files = dict(re.findall(r'^(\d+) "([^"]+)"', _section(hlo, "FileNames", "FunctionNames"), re.M))
    functions = dict(
        re.findall(r'^(\d+) "([^"]+)"', _section(hlo, "FunctionNames", "FileLocations"), re.M)
    )
    locations = {
        m[1]: (files[m[2]], functions[m[3]], m[4])
        for m in re.finditer(
            r"^(\d+) \{file_name_id=(\d+) function_name_id=(\d+) line=(\d+)",
            _section(hlo, "FileLocations", "StackFrames"),
            re.M,
        )
    }
    frames = {
        m[1]: (m[2], m[3])
        for m in re.finditer(
            r"^(\d+) \{file_location_id=(\d+) parent_frame_id=(\d+)",
            hlo[hlo.index("\nStackFrames\n") :],
            re.M,
        )
    }

    def innermost_memxbar(frame: str) -> str:
        seen = set()
        while frame in frames and frame not in seen:
            seen.add(frame)
            location, parent = frames[frame]
            path, function, line = locations[location]
            if path.startswith(OURS):
                return f"{path.rsplit('/', 2)[-2]}/{path.rsplit('/', 1)[-1]}:{line} {function}"
            frame = parent
        return "(jax)"

    sources = {}
    for m in re.finditer(r"\n\s*(?:ROOT )?%([\w.\-]+) = (\S+) [^\n]*", hlo):
        frame = re.search(r"stack_frame_id=(\d+)", m[0])
        sources[m[1]] = (m[2].split("{")[0], innermost_memxbar(frame[1]) if frame else "(xla)")
    return sources


def kernel_times_us(chunk, arrays, rounds: int, kernels) -> tuple[collections.Counter, ...]:
    """(µs per kernel, calls per kernel) over ``rounds`` profiled calls, for the profiler's
    events named as one of ``kernels`` (the module's instructions: not loops, conditions,
    thunks or the runtime's own events)."""
    jax.block_until_ready(chunk(arrays))  # compiled and warm before the trace
    with tempfile.TemporaryDirectory() as folder:
        with jax.profiler.trace(folder):
            for _ in range(rounds):
                jax.block_until_ready(chunk(arrays))
        (trace,) = glob.glob(f"{folder}/**/*.trace.json.gz", recursive=True)
        events = json.load(gzip.open(trace))["traceEvents"]
    time_us, calls = collections.Counter(), collections.Counter()
    for event in events:
        name = event.get("name", "")
        if event.get("ph") == "X" and name in kernels and not name.startswith(("while", "cond")):
            time_us[name] += event["dur"]
            calls[name] += 1
    return time_us, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=WORKLOADS, default="mnist-pcm")
    parser.add_argument("--rounds", type=int, default=3, help="profiled calls (default 3)")
    parser.add_argument("--top", type=int, default=25, help="kernels and sources listed")
    args = parser.parse_args()
    chunk, arrays, steps = chunk_program(args.workload)
    sources = kernel_sources(chunk.lower(arrays).compile().as_text())
    time_us, calls = kernel_times_us(chunk, arrays, args.rounds, sources)
    per_step = args.rounds * steps
    total_ms = sum(time_us.values()) / per_step / 1e3
    print(
        f"{args.workload}: {sum(calls.values()) / per_step:.0f} kernels and {total_ms:.3f} ms "
        f"of kernel time per step ({args.rounds} calls of {steps} steps)"
    )
    print(f"\n{'ms/step':>8s} {'calls':>6s}  {'kernel':34s} {'shape':26s} source")
    for name, us in time_us.most_common(args.top):
        shape, source = sources[name]
        print(
            f"{us / per_step / 1e3:8.3f} {calls[name] / per_step:6.2f}  "
            f"{name[:34]:34s} {shape[:26]:26s} {source}"
        )
    by_source, kernels_of = collections.Counter(), collections.Counter()
    for name, us in time_us.items():
        source = sources[name][1]
        by_source[source] += us
        kernels_of[source] += calls[name]
    print(f"\n{'ms/step':>8s} {'share':>6s} {'calls':>6s}  source")
    for source, us in by_source.most_common(args.top):
        print(
            f"{us / per_step / 1e3:8.3f} {us / sum(time_us.values()):6.1%} "
            f"{kernels_of[source] / per_step:6.1f}  {source}"
        )


if __name__ == "__main__":
    main()
