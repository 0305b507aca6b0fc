"""Float weights, exact updates, zero energy: the reference every PCM run is held against."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .ledger import EnergyLedger
from .tile import AbstractTile, exact_program, exact_update, outer_product_update

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
    dw_pulse: ClassVar[None] = None  # exact weights take any change

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
        return exact_update(self, dW)

    def update_outer(self, x, d, t, *, key, scale=1.0):
        return outer_product_update(self, x, d, t, key=key, scale=scale)

    def reset_and_reprogram(self, dW, W_read, t, *, key):
        self.check_matrix(W_read, "reset_and_reprogram: W_read")
        return self.update(dW, t, key=key)

    def read_weights(self, t, *, key):
        del t, key
        return self.weights, self._book(weight_reads=1)

    def program_weights(self, W, t, *, key):
        del t, key
        return exact_program(self, W)

    def true_weights(self):
        return self.weights

    def refresh(self, t, *, key):
        del t, key
        return self

    def with_drift_compensation(self, enabled: bool):
        del enabled  # exact weights do not drift
        return self

    def calibrate(self, t, *, key):
        del t, key
        return self

    def programmed_conductances(self):
        return None
