"""The one abstraction every algorithm programs against: a crossbar tile."""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

__all__ = ["AbstractTile"]


class AbstractTile(eqx.Module):
    """A rows × cols array of synaptic weights with a forward read and a learning write.

    Weights act as ``y = x @ W`` with ``W`` of shape (rows, cols). Every tile has ``rows``,
    ``cols`` and ``ledger`` (an :class:`EnergyLedger`). Every method is pure and
    returns the new tile; ``t`` is the chip time in seconds; ``key`` is keyword-only and
    consumed. Energy of every operation is booked in ``tile.ledger``.
    """

    # Every tile has ``rows`` and ``cols`` (ints) and ``ledger`` (an EnergyLedger), as fields
    # or properties; they are not declared here, so that a composite tile can derive them.

    @abc.abstractmethod
    def mvm(self, x, t, *, key) -> tuple[jnp.ndarray, AbstractTile]:
        """Forward read: ``x`` of shape (..., rows) → ``y`` of shape (..., cols)."""

    @abc.abstractmethod
    def mvm_t(self, y, t, *, key) -> tuple[jnp.ndarray, AbstractTile]:
        """Transposed read: ``y`` of shape (..., cols) → (..., rows), i.e. ``y @ W.T``."""

    @abc.abstractmethod
    def update(self, dW, t, *, key) -> AbstractTile:
        """Apply a requested weight change ``dW`` of shape (rows, cols)."""

    @abc.abstractmethod
    def read_weights(self, t, *, key) -> tuple[jnp.ndarray, AbstractTile]:
        """Full weight read (rows, cols), booked as a read of every synapse."""

    @abc.abstractmethod
    def program_weights(self, W, t, *, key) -> AbstractTile:
        """Write absolute weights ``W`` (rows, cols) (program-and-verify on hardware)."""

    @abc.abstractmethod
    def refresh(self, t, *, key) -> AbstractTile:
        """Restore headroom of saturated synapses without changing their weights."""

    @abc.abstractmethod
    def true_weights(self) -> jnp.ndarray:
        """The weights the emulator holds (rows, cols), without noise or drift.

        Introspection for snapshots and tests, not a hardware operation: nothing is booked.
        """

    #: Whether :meth:`refresh` can change anything (a runner skips refresh where it cannot).
    refreshes: ClassVar[bool] = True

    def with_drift_compensation(self, enabled: bool) -> AbstractTile:
        """This tile with global drift compensation switched on or off (if it has any)."""
        del enabled
        return self

    def calibrate(self, t, *, key) -> AbstractTile:
        """Take the reference read used by global drift compensation (no-op if not needed)."""
        del t, key
        return self

    def update_outer(self, x, d, t, *, key, scale=1.0) -> AbstractTile:
        """Apply ``dW = scale * sum_b outer(x_b, d_b)`` for x (..., rows) and d (..., cols).

        Tiles whose hardware updates outer products in parallel (stochastic pulse trains)
        override this; the default forms ``dW`` and calls :meth:`update`.
        """
        self.check_outer(x, d)
        x2 = jnp.reshape(x, (-1, self.rows))
        d2 = jnp.reshape(d, (-1, self.cols))
        return self.update(scale * (x2.T @ d2), t, key=key)

    def check_outer(self, x, d):
        """Check the factors of an outer-product update: (..., rows) and (..., cols), same batch."""
        self.check_input(x, self.rows, "x")
        self.check_input(d, self.cols, "d")
        if jnp.shape(x)[:-1] != jnp.shape(d)[:-1]:
            raise ValueError(
                f"{type(self).__name__}.update_outer: x and d need the same batch shape, "
                f"got {jnp.shape(x)[:-1]} and {jnp.shape(d)[:-1]}"
            )

    def check_input(self, x, width: int, name: str):
        """Raise a clear error when the last axis of ``x`` is not ``width`` (trace time)."""
        if jnp.ndim(x) < 1 or jnp.shape(x)[-1] != width:
            raise ValueError(
                f"{type(self).__name__}: {name} must have a last axis of {width}, "
                f"got shape {jnp.shape(x)}"
            )
