"""What a call of the runtime's learning chunk costs before its program runs.

Run: ``python benchmarks/dispatch.py [--repeats 201] [--steps 1]``.

The digits SoftHebb chunk of ``softhebb.py`` on ideal tiles, ``--steps`` learning steps per
call, timed four ways in one process, round-robin (median of ``--repeats`` rounds):

  program alone     the chunk's ``jax.jit`` program called on its array arguments, prepared
                    once outside the timing: what any dispatch costs beyond it is Python
  train_chunk       ``runtime.trainer.train_chunk`` as the runtime calls it (``lean_jit``)
  eqx.filter_jit    the same function through ``eqx.filter_jit``, as train_chunk was before
  float rule        the float SoftHebb rule's chunk (``softhebb.py``'s reference), for scale

With one step per call the difference to "program alone" is the per-call cost of the
dispatch; ``softhebb.py`` runs 44 steps per call, so it spreads over 44 steps there.
"""

from __future__ import annotations

import argparse
import functools

import equinox as eqx
import jax
import jax.numpy as jnp
from softhebb import BATCH, REFRESH_EVERY, digits_case, float_chunk, median_times_s

from memxbar.algorithms.softhebb import ShallowSoftHebb, init_weights
from memxbar.crossbar import load_chip
from memxbar.runtime.chip import tile_factory
from memxbar.runtime.trainer import Schedule, train_chunk


def calls(steps: int) -> dict:
    """{label: zero-argument call} of the four rows."""
    _, x_train, n_neurons, params, _, w_max = digits_case()
    algorithm = ShallowSoftHebb(
        layer_name="hebbian", n_inputs=x_train.shape[1], n_neurons=n_neurons, params=params
    )
    schedule = Schedule(x_train.shape[0], BATCH, epochs=1, step_time_s=1e-3)
    key = jax.random.key(0)
    x = jnp.asarray(x_train, jnp.float32)
    indices = jnp.arange(steps * BATCH).reshape(steps, BATCH) % x.shape[0]
    step_numbers = jnp.arange(steps)
    state = algorithm.init(tile_factory(load_chip("pcm_256"), "ideal", w_max), key=key)
    chunk = train_chunk.__wrapped__  # the undecorated function
    arrays, static = eqx.partition(state, eqx.is_array)

    @jax.jit
    def program(arrays, x, indices, step_numbers, key):
        state = eqx.combine(arrays, static)
        return chunk(algorithm, schedule, REFRESH_EVERY, state, x, indices, step_numbers, key)

    args = (x, indices, step_numbers, key)
    W0 = init_weights(x.shape[1], n_neurons, params.init_radius, key=key)
    float_rule = float_chunk(params)
    return {
        "program alone": functools.partial(program, arrays, *args),
        "train_chunk": functools.partial(
            train_chunk, algorithm, schedule, REFRESH_EVERY, state, *args
        ),
        "eqx.filter_jit": functools.partial(
            eqx.filter_jit(chunk), algorithm, schedule, REFRESH_EVERY, state, *args
        ),
        "float rule": lambda: float_rule(W0, x, indices),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=201, help="timed rounds (default 201)")
    parser.add_argument("--steps", type=int, default=1, help="learning steps per call")
    args = parser.parse_args()
    if args.steps < 1 or args.repeats < 1:
        parser.error(f"--steps and --repeats must be at least 1, got {args.steps}, {args.repeats}")
    rows = calls(args.steps)
    times = median_times_s(list(rows.values()), args.repeats)
    alone = times[0]
    print(f"digits SoftHebb chunk on an ideal tile, {args.steps} step(s) per call, ", end="")
    print(f"median of {args.repeats}; jax {jax.__version__}")
    print(f"  {'':16s} {'ms/call':>9s} {'beyond the program, ms':>24s}")
    for label, t in zip(rows, times, strict=True):
        beyond = f"{(t - alone) * 1e3:24.3f}" if label != "float rule" else f"{'':24s}"
        print(f"  {label:16s} {t * 1e3:9.3f} {beyond}")


if __name__ == "__main__":
    main()
