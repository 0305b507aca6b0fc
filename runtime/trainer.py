"""The learning loop: jitted lax.scan chunks of steps driven from Python.

Each step's key, batch and chip time depend only on the global step number, never on the
chunk boundaries, so a run gives the same result whatever its chunk size and after a resume.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..crossbar import ENERGY_CATEGORIES
from ..devices import prng
from .lean_jit import lean_jit

__all__ = [
    "Schedule",
    "train_chunk",
    "refresh_all",
    "map_tiles",
    "tiles_ledger",
    "ledger_row",
    "batched_features",
]


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Which samples each step sees and at what chip time it happens."""

    n_train: int
    batch_size: int
    epochs: int
    step_time_s: float

    def __post_init__(self):
        if self.n_train < self.batch_size:
            raise ValueError(
                f"the training set has {self.n_train} samples, fewer than one batch "
                f"({self.batch_size}); lower training.batch_size"
            )

    @property
    def steps_per_epoch(self) -> int:
        return self.n_train // self.batch_size

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def time_of(self, step):
        """Chip time (s) at which step ``step`` (0-based) learns."""
        return (step + 1) * self.step_time_s


def map_tiles(algorithm, state, fn, key):
    """The state with every tile replaced by ``fn(tile, key)``, one key of ``key`` per tile."""
    tiles = algorithm.tiles(state)
    keys = prng.split(key, len(tiles))
    return algorithm.with_tiles(
        state, {name: fn(tile, k) for (name, tile), k in zip(tiles.items(), keys, strict=True)}
    )


def refresh_all(algorithm, state, t, *, key):
    """Refresh every tile of the state at chip time t (s)."""
    return map_tiles(algorithm, state, lambda tile, k: tile.refresh(t, key=k), key)


def tiles_ledger(algorithm, state):
    """The sum of the ledgers of all tiles of the state."""
    ledgers = [tile.ledger for tile in algorithm.tiles(state).values()]
    total = ledgers[0]
    for ledger in ledgers[1:]:
        total = total + ledger
    return total


def ledger_row(ledger) -> np.ndarray:
    """(joules per energy category, then the total) of ``ledger`` as float64 (host)."""
    values = [float(ledger.energy_J(k)) for k in ENERGY_CATEGORIES]
    return np.array([*values, sum(values)], np.float64)


@lean_jit
def train_chunk(algorithm, schedule, refresh_every, state, x_train, indices, steps, key):
    """Learning steps ``steps`` (n,) on the samples ``indices`` (n, batch) of ``x_train``.

    Returns (state, metrics) with metrics stacked (n,) per name. The algorithm and schedule
    are static, so runs with equal settings share one compilation.
    """

    def body(state, inputs):
        idx, step = inputs
        t = schedule.time_of(step)
        k_step = prng.fold_in(key, step)
        state, metrics = algorithm.train_step(state, x_train[idx], t, key=k_step)
        if refresh_every > 0 and any(t.refreshes for t in algorithm.tiles(state).values()):
            k_refresh = prng.fold_in(k_step, 1)
            state = jax.lax.cond(
                (step + 1) % refresh_every == 0,
                lambda s: refresh_all(algorithm, s, t, key=k_refresh),
                lambda s: s,
                state,
            )
        return state, metrics

    return jax.lax.scan(body, state, (indices, steps))


def batched_features(algorithm, state, x, t, *, key, batch: int = 256):
    """Features of all of ``x`` at chip time t (s), ``batch`` samples per MVM call.

    Full batches run in one scan and the remainder in one more call, so exactly the samples
    of ``x`` are read and booked. Returns (features, state).
    """
    x = jnp.asarray(x, jnp.float32)
    t = jnp.asarray(t, jnp.float32)  # traced, so evaluations at other times reuse the compilation
    n = x.shape[0]
    n_full = n // batch
    k_scan, k_rest = prng.split(key)

    parts = []
    if n_full:
        chunks = x[: n_full * batch].reshape(n_full, batch, x.shape[1])
        feats, state = _scan_features(algorithm, state, chunks, t, k_scan)
        parts.append(feats)
    if n % batch:
        feats, state = _features(algorithm, state, x[n_full * batch :], t, k_rest)
        parts.append(feats)
    return jnp.concatenate(parts), state


@eqx.filter_jit
def _scan_features(algorithm, state, chunks, t, key):
    def body(state, inputs):
        i, xb = inputs
        f, state = algorithm.features(state, xb, t, key=prng.fold_in(key, i))
        return state, f

    state, feats = jax.lax.scan(body, state, (jnp.arange(chunks.shape[0]), chunks))
    return feats.reshape(-1, feats.shape[-1]), state


@eqx.filter_jit
def _features(algorithm, state, x, t, key):
    return algorithm.features(state, x, t, key=key)
