"""Start time of an MNIST-shaped PCM SoftHebb run: process start to its first chunk done.

The layer of the paper (784 -> 2000 on 32 tiles of pcm_256, blocks of 196 x 250), one chunk
of 8 steps of batch 32 on random inputs, with the persistent compilation cache in CACHE_DIR and
the ledger's storable checks (as the CLI runs). Run it twice with the same folder: the first
run compiles (cold cache), the second loads the programs (warm cache).

Run: ``python benchmarks/start_time.py CACHE_DIR``.
"""

from __future__ import annotations

import sys
import time

START = time.perf_counter()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from memxbar.algorithms.softhebb import ShallowSoftHebb, SoftHebbParams  # noqa: E402
from memxbar.crossbar import load_chip  # noqa: E402
from memxbar.runtime.chip import tile_factory  # noqa: E402
from memxbar.runtime.compilation_cache import (  # noqa: E402
    enable_compilation_cache,
    storable_checks,
)
from memxbar.runtime.trainer import Schedule, train_chunk  # noqa: E402

BATCH, STEPS = 32, 8


def main(cache_dir: str) -> None:
    enable_compilation_cache(cache_dir)
    with storable_checks():
        params = SoftHebbParams(inv_tau=30.0, eta0=0.045, power=0.2, init_radius=10.0)
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.uniform(0.0, 1.0, (STEPS * BATCH, 784)), jnp.float32)
        algorithm = ShallowSoftHebb(
            layer_name="hebbian", n_inputs=784, n_neurons=2000, params=params
        )
        schedule = Schedule(x.shape[0], BATCH, epochs=1, step_time_s=1e-3)
        make_tile = tile_factory(load_chip("pcm_256"), "pcm", 0.5)
        state = jax.block_until_ready(algorithm.init(make_tile, key=jax.random.key(0)))
        built = time.perf_counter()
        indices = jnp.arange(STEPS * BATCH).reshape(STEPS, BATCH)
        out = train_chunk(
            algorithm, schedule, 45, state, x, indices, jnp.arange(STEPS), jax.random.key(1)
        )
        jax.block_until_ready(out)
    done = time.perf_counter()
    print(
        f"tiles built and programmed {built - START:.1f} s, first chunk {done - built:.1f} s, "
        f"process start to first chunk done {done - START:.1f} s"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python benchmarks/start_time.py CACHE_DIR")
    main(sys.argv[1])
