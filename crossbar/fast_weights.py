"""Fast weights: a decaying outer-product term F (rows, cols) held per sequence.

Short-term plasticity adds to a tile's long-term weights a term that every step decays,
is divided column by column by a normaliser, and grows by a gated outer product:

    F ← decay ⊙ F / divisor[None, :] + gain ⊙ (x ⊗ d)

with ``decay`` and ``gain`` fixed per synapse (rows, cols) and ``divisor`` (cols,) given
per step. A batch of B sequences has B independent F (their state has a leading batch axis);
F starts at 0 for every sequence.

Both implementations keep F as ``column_scale[None, :] · F̃``: dividing a column is then a
change of its digital scale, never a write of the stored term F̃ (on hardware, a register per
column; writes of an outer product are divided by the scale instead). A scale that falls
below :data:`RENORMALISE_BELOW` would let F̃ outgrow the stored range, so that column is
renormalised after the step: F̃ ← scale · F̃, scale ← 1 (F unchanged; on hardware a rewrite
of the column, booked as a refresh).

- :class:`DigitalFastTile`: exact float arithmetic (training, the float reference).
- :class:`~.volatile_tile.VolatileTile`: F̃ on volatile devices that relax by themselves.
"""

# No ``from __future__ import annotations``: equinox reads AbstractVar annotations as objects.
import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .ledger import EnergyLedger

__all__ = ["AbstractFastTile", "DigitalFastTile", "RENORMALISE_BELOW", "renormalised_columns"]

#: A column whose scale falls below this is renormalised (F̃ stays within 1/RENORMALISE_BELOW
#: times the largest F̃ a single step writes).
RENORMALISE_BELOW = 0.5


def renormalised_columns(column_scale):
    """(columns to renormalise (B, cols) bool, the scales after it)."""
    low = column_scale < RENORMALISE_BELOW
    return low, jnp.where(low, 1.0, column_scale)


class AbstractFastTile(eqx.Module):
    """A batch of fast-weight terms F (B, rows, cols); see the module docstring.

    Every method is pure and returns the new tile; ``key`` is keyword-only and consumed.
    """

    rows: eqx.AbstractVar[int]
    cols: eqx.AbstractVar[int]
    ledger: eqx.AbstractVar[EnergyLedger]

    @abc.abstractmethod
    def fresh(self, batch: int) -> "AbstractFastTile":
        """The tile holding F = 0 for ``batch`` new sequences (ledger kept)."""

    @abc.abstractmethod
    def mvm(self, x, *, key) -> "tuple[jnp.ndarray, AbstractFastTile]":
        """Per-sequence read ``x[b] @ F[b]``: x (B, rows) → (B, cols)."""

    @abc.abstractmethod
    def read_weights(self, *, key) -> "tuple[jnp.ndarray, AbstractFastTile]":
        """Full read of F (B, rows, cols)."""

    @abc.abstractmethod
    def advance(self, divisor, x, d, *, key) -> "AbstractFastTile":
        """One step: ``F ← decay ⊙ F / divisor + gain ⊙ (x ⊗ d)``; divisor (B, cols) > 0,
        x (B, rows), d (B, cols)."""

    @abc.abstractmethod
    def true_weights(self) -> jnp.ndarray:
        """F (B, rows, cols) as held, without read noise (introspection; nothing booked)."""


class DigitalFastTile(AbstractFastTile):
    """Exact fast weights with learnable ``decay`` and ``gain`` (rows, cols); no energy booked.

    Attributes:
        decay: per-step decay factor of each synapse (λ of the STPN).
        decay_range: (low, high) the decay is clipped to when applied (the factors a physical
            element realises, :meth:`VolatileDevice.decay_range`), or None: any value, even
            growth (λ > 1), as in the float model of the paper.
        gain: weight added per unit of x·d (γ of the STPN).
        stored: F̃ (B, rows, cols); column_scale: (B, cols); F = column_scale · F̃.
    """

    decay: Float[Array, "rows cols"]
    gain: Float[Array, "rows cols"]
    stored: Float[Array, "batch rows cols"]
    column_scale: Float[Array, "batch cols"]
    ledger: EnergyLedger
    rows: int = eqx.field(static=True)
    cols: int = eqx.field(static=True)
    decay_range: tuple[float, float] | None = eqx.field(static=True, default=None)

    @classmethod
    def create(cls, decay, gain, *, decay_range=None) -> "DigitalFastTile":
        """A tile of per-synapse ``decay`` and ``gain`` (rows, cols), for a batch of 0."""
        decay, gain = jnp.asarray(decay, jnp.float32), jnp.asarray(gain, jnp.float32)
        if decay.ndim != 2 or decay.shape != gain.shape:
            raise ValueError(
                f"DigitalFastTile: decay and gain must be (rows, cols) matrices of one shape, "
                f"got {decay.shape} and {gain.shape}"
            )
        rows, cols = decay.shape
        return cls(
            decay=decay,
            gain=gain,
            stored=jnp.zeros((0, rows, cols), jnp.float32),
            column_scale=jnp.ones((0, cols), jnp.float32),
            ledger=EnergyLedger.zeros(),
            rows=rows,
            cols=cols,
            decay_range=None if decay_range is None else tuple(map(float, decay_range)),
        )

    def effective_decay(self):
        """The decay as applied: clipped to ``decay_range`` when there is one."""
        if self.decay_range is None:
            return self.decay
        return jnp.clip(self.decay, *self.decay_range)

    def fresh(self, batch: int):
        return eqx.tree_at(
            lambda s: (s.stored, s.column_scale),
            self,
            (
                jnp.zeros((batch, self.rows, self.cols), jnp.float32),
                jnp.ones((batch, self.cols), jnp.float32),
            ),
        )

    def true_weights(self):
        return self.column_scale[:, None, :] * self.stored

    def mvm(self, x, *, key):
        del key
        # A broadcast product and a sum: XLA on CPU runs a batched dot of such small
        # matrices ~20× slower than this fused form.
        y = jnp.sum(x[:, :, None] * self.stored, axis=1) * self.column_scale
        return y, self

    def read_weights(self, *, key):
        del key
        return self.true_weights(), self

    def advance(self, divisor, x, d, *, key):
        del key
        scale = self.column_scale / divisor
        write = self.gain * (x[:, :, None] * d[:, None, :]) / scale[:, None, :]
        stored = self.effective_decay() * self.stored + write
        low, renormalised = renormalised_columns(scale)
        stored = jnp.where(low[:, None, :], stored * scale[:, None, :], stored)
        return eqx.tree_at(lambda s: (s.stored, s.column_scale), self, (stored, renormalised))
