"""Float weights, exact updates, zero energy: the reference every PCM run is held against."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .exact_tile import AbstractExactWeightsTile
from .ledger import EnergyLedger

__all__ = ["IdealTile"]


class IdealTile(AbstractExactWeightsTile):
    """An exact tile. Its ledger counts operations but books zero joules."""

    weights: Float[Array, "rows cols"]
    ledger: EnergyLedger
    rows: int = eqx.field(static=True)
    cols: int = eqx.field(static=True)

    @classmethod
    def create(cls, rows: int, cols: int, *, weights=None) -> IdealTile:
        """A rows × cols tile holding ``weights`` (zeros when None)."""
        if rows < 1 or cols < 1:
            raise ValueError(f"IdealTile: rows and cols must be ≥ 1, got {rows} × {cols}")
        w = jnp.zeros((rows, cols), jnp.float32) if weights is None else jnp.asarray(weights)
        if w.shape != (rows, cols):
            raise ValueError(f"IdealTile: weights must have shape {(rows, cols)}, got {w.shape}")
        return cls(weights=w.astype(jnp.float32), ledger=EnergyLedger.zeros(), rows=rows, cols=cols)

    refreshes: ClassVar[bool] = False  # exact weights never saturate
    dw_pulse: ClassVar[None] = None  # exact weights take any change

    def mvm(self, x, t, *, key):
        del t, key
        self.check_input(x, self.rows, "x")
        vectors = jnp.size(x) // self.rows
        return x @ self.weights, self.booked(mvm_vectors=vectors)

    def mvm_t(self, y, t, *, key):
        del t, key
        self.check_input(y, self.cols, "y")
        vectors = jnp.size(y) // self.cols
        return y @ self.weights.T, self.booked(mvm_vectors=vectors)
