"""The one abstraction every algorithm programs against: a crossbar tile.

Tiles follow Equinox's abstract/final pattern: :class:`AbstractTile` declares what a tile has
(``rows``, ``cols``, ``ledger``, ... as ``eqx.AbstractVar``) and does (abstract methods); each
concrete tile (IdealTile, PCMTile, TiledMatrix) is final and implements exactly those, never
overriding a concrete method of the base. Code two tiles share lives in a plain function
(:func:`outer_product_update`) or, for the tiles with float weights, in
:class:`~.exact_tile.AbstractExactWeightsTile`.
"""

# No ``from __future__ import annotations``: equinox reads AbstractVar annotations as objects.
import abc

import equinox as eqx
import jax.numpy as jnp

from .ledger import EnergyLedger

__all__ = ["AbstractTile", "outer_product_update"]


class AbstractTile(eqx.Module):
    """A rows × cols array of synaptic weights with a forward read and a learning write.

    Weights act as ``y = x @ W`` with ``W`` of shape (rows, cols). Every method is pure and
    returns the new tile; ``t`` is the chip time in seconds; ``key`` is keyword-only and
    consumed. Energy of every operation is booked in ``tile.ledger``.

    Attributes:
        rows, cols: the tile's size (fields, or properties of a composite tile).
        ledger: the :class:`EnergyLedger` of everything the tile did.
        refreshes: whether :meth:`refresh` can change anything (a runner skips refresh where
            it cannot).
        dw_pulse: the weight change of one nominal SET pulse (weight units; a scalar, or one
            value per synapse broadcastable to (rows, cols)), or None for a tile with exact
            weights: what a controller that accumulates changes until they are worth a pulse
            needs to know.
    """

    rows: eqx.AbstractVar[int]
    cols: eqx.AbstractVar[int]
    ledger: eqx.AbstractVar[EnergyLedger]
    refreshes: eqx.AbstractVar[bool]
    dw_pulse: eqx.AbstractVar[jnp.ndarray | float | None]

    @abc.abstractmethod
    def mvm(self, x, t, *, key) -> "tuple[jnp.ndarray, AbstractTile]":
        """Forward read: ``x`` of shape (..., rows) → ``y`` of shape (..., cols)."""

    @abc.abstractmethod
    def mvm_t(self, y, t, *, key) -> "tuple[jnp.ndarray, AbstractTile]":
        """Transposed read: ``y`` of shape (..., cols) → (..., rows), i.e. ``y @ W.T``."""

    @abc.abstractmethod
    def update(self, dW, t, *, key) -> "AbstractTile":
        """Apply a requested weight change ``dW`` of shape (rows, cols)."""

    @abc.abstractmethod
    def update_outer(self, x, d, t, *, key, scale=1.0) -> "AbstractTile":
        """Apply ``dW = scale * sum_b outer(x_b, d_b)`` for x (..., rows) and d (..., cols).

        Tiles whose hardware updates outer products in parallel (stochastic pulse trains) do
        so; the others form ``dW`` and call :meth:`update` (:func:`outer_product_update`).
        """

    @abc.abstractmethod
    def reset_and_reprogram(self, dW, W_read, t, *, key) -> "AbstractTile":
        """Apply ``dW`` (rows, cols), depressing by RESET-and-reprogram.

        The alternative to depressing a differential pair by SET pulses on its G− device
        (what :meth:`update` does for dW < 0, after which both devices climb towards
        saturation and need refreshes), used by PCM STDP demonstrators whose depression is
        abrupt (Tuma et al., Nat. Nanotechnol. 2016; Moraitis et al., IJCNN 2017): take the
        weight the synapse had (its read ``W_read``, (rows, cols), already booked where it
        was read), RESET both devices, and program the lowered weight back with
        program-and-verify. Each depression then costs two RESETs and a program-and-verify
        write instead of a few SET pulses, but leaves the pair with full headroom.
        Potentiation (dW > 0) goes through :meth:`update`. Tiles with exact weights apply
        ``dW`` as :meth:`update` does.
        """

    @abc.abstractmethod
    def read_weights(self, t, *, key) -> "tuple[jnp.ndarray, AbstractTile]":
        """Full weight read (rows, cols), booked as a read of every synapse."""

    @abc.abstractmethod
    def program_weights(self, W, t, *, key) -> "AbstractTile":
        """Write absolute weights ``W`` (rows, cols) (program-and-verify on hardware)."""

    @abc.abstractmethod
    def refresh(self, t, *, key) -> "AbstractTile":
        """Restore headroom of saturated synapses without changing their weights."""

    @abc.abstractmethod
    def with_drift_compensation(self, enabled: bool) -> "AbstractTile":
        """This tile with global drift compensation switched on or off (if it has any)."""

    @abc.abstractmethod
    def calibrate(self, t, *, key) -> "AbstractTile":
        """Take the reference read used by global drift compensation (no-op if not needed)."""

    @abc.abstractmethod
    def true_weights(self) -> jnp.ndarray:
        """The weights the emulator holds (rows, cols), without noise or drift.

        Introspection for snapshots and tests, not a hardware operation: nothing is booked.
        """

    @abc.abstractmethod
    def programmed_conductances(self) -> jnp.ndarray | None:
        """The programmed conductances (2, N, rows, cols) of G+ and G− (N devices per side),
        S, or None for a tile without devices. Introspection: nothing is booked."""

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

    def check_matrix(self, M, what: str):
        """Raise a clear error when ``M`` is not (rows, cols); ``what`` names the argument."""
        if jnp.shape(M) != (self.rows, self.cols):
            raise ValueError(
                f"{type(self).__name__}.{what} must be {(self.rows, self.cols)}, got {jnp.shape(M)}"
            )


def outer_product_update(tile: AbstractTile, x, d, t, *, key, scale=1.0) -> AbstractTile:
    """``tile.update(scale * sum_b outer(x_b, d_b))``: an outer-product update formed digitally."""
    tile.check_outer(x, d)
    x2 = jnp.reshape(x, (-1, tile.rows))
    d2 = jnp.reshape(d, (-1, tile.cols))
    return tile.update(scale * (x2.T @ d2), t, key=key)
