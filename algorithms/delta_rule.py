"""A delta rule on one tile: the supervised workload behind the crossbar figures.

A random teacher T (rows, cols) is learned from uniform inputs by the delta rule
dW = η xᵀ (x T − y) / λ through ``tile.update_outer`` (pulses per the chip's update scheme),
with refreshes in between: a training-like sequence of MVMs, updates and refreshes whose
ledger shows where the energy of on-chip learning goes.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ..crossbar import AbstractTile
from ..devices import prng

__all__ = ["TrainingRun", "delta_rule_sequence", "uniform_weights"]


def uniform_weights(rows: int, cols: int, w_max: float = 1.0, *, key) -> jax.Array:
    """Weights (rows, cols) drawn uniformly in ±w_max (float32)."""
    return jax.random.uniform(key, (rows, cols), jnp.float32, -w_max, w_max)


@dataclasses.dataclass(frozen=True)
class TrainingRun:
    """Result of :func:`delta_rule_sequence`.

    Attributes:
        tile: the tile after the sequence (its ledger holds every joule of it).
        losses: mean squared output error of each step (steps,), before that step's update.
        refreshes: number of refresh operations run.
    """

    tile: AbstractTile
    losses: np.ndarray
    refreshes: int


@jax.jit
def _train_chunk(tile, teacher, xs, t, dt_s, learning_rate, keys):
    def step(carry, inputs):
        tile, t = carry
        x, key = inputs
        k_read, k_update = prng.split(key)
        y, tile = tile.mvm(x, t, key=k_read)
        error = x @ teacher - y
        # Largest eigenvalue of xᵀx for uniform inputs (Marchenko–Pastur edge, E x² = 1/3).
        batch, rows = x.shape
        scale = learning_rate * 3.0 / (batch**0.5 + rows**0.5) ** 2
        tile = tile.update_outer(x, error, t, key=k_update, scale=scale)
        return (tile, t + dt_s), jnp.mean(error * error)

    (tile, t), losses = jax.lax.scan(step, (tile, t), (xs, keys))
    return tile, t, losses


_refresh = jax.jit(lambda tile, t, key: tile.refresh(t, key=key))


def delta_rule_sequence(
    tile: AbstractTile,
    *,
    steps: int,
    batch: int,
    refresh_every: int,
    key,
    learning_rate: float = 0.3,
    dt_s: float = 1e-3,
    t0_s: float = 0.0,
) -> TrainingRun:
    """A training-like sequence of MVMs, updates and refreshes on ``tile``.

    A delta rule learns a random teacher T (rows, cols, uniform in ±w_max/2): each step
    reads y = x W for a batch of uniform inputs x in ±1 and applies
    dW = learning_rate · xᵀ (x T − y) / λ with ``update_outer`` (pulses per the chip's update
    scheme), where λ = (√batch + √rows)²/3 is the largest eigenvalue of xᵀx (Marchenko–Pastur
    edge for E x² = 1/3), so the step is stable for learning_rate < 2. Every
    ``refresh_every`` steps (and after the last step) the tile is refreshed. Steps are
    ``dt_s`` apart starting at chip time ``t0_s``; the steps between two refreshes run as
    one jitted ``lax.scan`` (compiled once per chunk length, so make ``steps`` a multiple
    of ``refresh_every`` to compile once).
    """
    if steps < 1 or batch < 1 or refresh_every < 1:
        raise ValueError(
            f"steps, batch and refresh_every must be ≥ 1, got {steps}, {batch}, {refresh_every}"
        )
    k_teacher, k_x, k_steps, k_refresh = prng.split(key, 4)
    w_max = float(tile.w_max)
    teacher = uniform_weights(tile.rows, tile.cols, w_max / 2, key=k_teacher)
    xs = jax.random.uniform(k_x, (steps, batch, tile.rows), jnp.float32, -1.0, 1.0)
    step_keys = prng.split(k_steps, steps)
    refresh_keys = prng.split(k_refresh, -(-steps // refresh_every))
    t = jnp.float32(t0_s)
    losses = []
    for chunk, start in enumerate(range(0, steps, refresh_every)):
        stop = min(start + refresh_every, steps)
        tile, t, chunk_losses = _train_chunk(
            tile, teacher, xs[start:stop], t, dt_s, learning_rate, step_keys[start:stop]
        )
        losses.append(np.asarray(chunk_losses))
        tile = _refresh(tile, t, refresh_keys[chunk])
    return TrainingRun(tile=tile, losses=np.concatenate(losses), refreshes=len(refresh_keys))
