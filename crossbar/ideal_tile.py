"""Float weights, exact updates, zero energy: the reference every PCM run is held against."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .ledger import EnergyLedger
from .tile import AbstractTile

__all__ = ["IdealTile"]


class IdealTile(AbstractTile):
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

    def _book(self, **counts) -> IdealTile:
        return eqx.tree_at(lambda t: t.ledger, self, self.ledger.add(**counts))

    def mvm(self, x, t, *, key):
        del t, key
        self.check_input(x, self.rows, "x")
        vectors = jnp.size(x) // self.rows
        return x @ self.weights, self._book(mvm_vectors=vectors)

    def mvm_t(self, y, t, *, key):
        del t, key
        self.check_input(y, self.cols, "y")
        vectors = jnp.size(y) // self.cols
        return y @ self.weights.T, self._book(mvm_vectors=vectors)

    def update(self, dW, t, *, key):
        del t, key
        dW = jnp.asarray(dW)
        if dW.shape != (self.rows, self.cols):
            raise ValueError(
                f"IdealTile.update: dW must be {(self.rows, self.cols)}, got {dW.shape}"
            )
        tile = eqx.tree_at(lambda s: s.weights, self, self.weights + dW)
        return tile._book(update_events=jnp.sum(dW != 0), update_calls=1)

    def read_weights(self, t, *, key):
        del t, key
        return self.weights, self._book(weight_reads=1)

    def program_weights(self, W, t, *, key):
        del t, key
        W = jnp.asarray(W, jnp.float32)
        if W.shape != (self.rows, self.cols):
            raise ValueError(
                f"IdealTile.program_weights: W must be {(self.rows, self.cols)}, got {W.shape}"
            )
        return eqx.tree_at(lambda s: s.weights, self, W)

    def true_weights(self):
        return self.weights

    def refresh(self, t, *, key):
        del t, key
        return self
