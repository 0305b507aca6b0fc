"""What the runtime needs from a learning algorithm."""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax

from ..crossbar import AbstractTile
from .conv_blocks import triangle

__all__ = ["AbstractAlgorithm"]


class AbstractAlgorithm(eqx.Module):
    """An on-chip learning algorithm over the tiles of one network.

    The runtime builds tiles with ``make_tile(layer_name, matrix_name, rows, cols, *, key)``
    and drives the pure methods below inside jitted ``lax.scan`` chunks. The state is a
    pytree (typically ``{layer name: tile}``).
    """

    @abc.abstractmethod
    def init(self, make_tile, *, key):
        """Build and program the tiles; return the state."""

    @abc.abstractmethod
    def train_step(self, state, x, t, *, key):
        """One learning step on a batch ``x`` (batch, features) at chip time t (s).

        Returns (state, metrics) with metrics a dict of scalars named in ``metric_names``.
        """

    @abc.abstractmethod
    def features(self, state, x, t, *, key):
        """Features of ``x`` for the readout at chip time t (s); returns (features, state)."""

    @abc.abstractmethod
    def tiles(self, state) -> dict[str, AbstractTile]:
        """The tiles of the state by layer name (for ledgers, snapshots, refresh)."""

    @abc.abstractmethod
    def with_tiles(self, state, tiles: dict[str, AbstractTile]):
        """The state with its tiles replaced."""

    #: Names of the scalars ``train_step`` returns (a class attribute of each algorithm).
    metric_names: ClassVar[tuple[str, ...]] = ()

    def readout_features(self, u, readout):
        """What the linear readout is trained on, from ``features``' output ``u`` (batch, n).

        Default: the feature map the job's ``readout`` section names (``activation``):
        softmax(feature_inv_tau · u), the soft-WTA outputs, or the Triangle relu(u − mean u).
        """
        if readout.activation == "triangle":
            return triangle(u, 1.0)
        return jax.nn.softmax(readout.feature_inv_tau * u, axis=-1)
