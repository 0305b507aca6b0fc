"""A float tile whose reads behave like a PCM tile's: the forward model of hardware-aware training.

Training offline for a PCM chip (Joshi et al., Nat. Commun. 11, 2473, 2020; aihwkit's
``InferenceRPUConfig``) keeps float weights but reads them as the chip would, so that what is
learned survives the chip's non-idealities. :class:`AwareTile` reads like
:meth:`PCMTile.mvm <memxbar.crossbar.PCMTile.mvm>` right after programming: DAC quantisation
of the inputs, weights clipped to ±w_max and split over a differential pair of N devices per
side, a fresh draw of the device model's programming noise and 1/f read noise on every read
(at the drift reference time t0), IR drop, output noise and ADC quantisation with
saturation. With ``drift_s`` > 0 the read is the one ``drift_s`` after programming instead:
each device drifts with its own exponent (the device model's ν distribution, a fresh draw per
read) and global drift compensation rescales the outputs by the ratio of the undrifted to the
drifted total conductance, so what remains is the device-to-device spread of drift that
compensation cannot undo, and the 1/f noise at that time. Gradients flow through it: the
noise enters additively with the mean's gradient (its standard deviation is held constant),
and the DAC/ADC rounding passes the gradient straight through (Bengio et al., 2013; the
gradient in W is that of the quantised inputs). With ``drift_s`` = 0, drift is left to global
drift compensation at inference, as in Joshi et al.

A chip is programmed once: every read of a sequence sees the same programming errors and
drift exponents. :func:`with_device_draw` gives the tiles of a model a ``device_key`` from
which each read draws those (the same for every read until the next call; the 1/f read noise
stays fresh per read), so that training can see one chip per batch instead of a new chip at
every read.

The ledger counts reads (``mvm_vectors``) but books no joules: training happens off chip.
After training, :meth:`true_weights` are what is programmed onto a :class:`PCMTile`.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..devices import AbstractDevice, prng
from ..devices.random import normal_elementwise
from .chip import ChipSpec
from .exact_tile import AbstractExactWeightsTile
from .ledger import EnergyLedger
from .programming import pair_targets
from .read_view import ReadView

__all__ = ["AwareTile", "straight_through", "with_device_draw"]


def straight_through(quantised, x):
    """``quantised`` in the forward pass, the gradient of ``x`` in the backward pass."""
    return x + jax.lax.stop_gradient(quantised - x)


class AwareTile(AbstractExactWeightsTile):
    """Float weights (rows, cols) read through the PCM read path of ``chip`` (see module doc)."""

    weights: Float[Array, "rows cols"]
    chip: ChipSpec
    device: AbstractDevice
    w_max: float
    ledger: EnergyLedger
    rows: int = eqx.field(static=True)
    cols: int = eqx.field(static=True)
    drift_s: float = eqx.field(static=True, default=0.0)
    #: Key of the programming errors and drift exponents of every read (None: a fresh draw
    #: per read); see :func:`with_device_draw`.
    device_key: jax.Array | None = None

    refreshes: ClassVar[bool] = False
    dw_pulse: ClassVar[None] = None  # float weights take any change

    @classmethod
    def create(
        cls,
        chip: ChipSpec,
        device: AbstractDevice,
        *,
        weights,
        w_max: float = 1.0,
        drift_s: float = 0.0,
    ):
        """A tile of ``weights`` (rows, cols) read as ``chip`` with ``device`` would read them
        ``drift_s`` seconds after programming (0: at the drift reference time t0)."""
        w = jnp.asarray(weights, jnp.float32)
        if w.ndim != 2 or min(w.shape) < 1:
            raise ValueError(f"AwareTile: weights must be a (rows, cols) matrix, got {w.shape}")
        if not w_max > 0:
            raise ValueError(f"AwareTile: w_max must be positive, got {w_max!r}")
        if not drift_s >= 0:
            raise ValueError(f"AwareTile: drift_s must be ≥ 0 s, got {drift_s!r}")
        chip.check_device(device)
        return cls(
            weights=w,
            chip=chip,
            device=chip.periphery.read_model(device),
            w_max=float(w_max),
            ledger=EnergyLedger.zeros(),
            rows=w.shape[0],
            cols=w.shape[1],
            drift_s=float(drift_s),
        )

    @property
    def w_scale(self) -> float:
        """Weight per siemens of conductance difference (as the PCM tile's)."""
        return self.w_max / (self.chip.tile.devices_per_side * self.chip.update.g_weight_max_S)

    def _view(self, key) -> ReadView:
        """The read view of one programming of the weights (fresh programming noise)."""
        w = jnp.clip(self.weights, -self.w_max, self.w_max)
        targets = pair_targets(w, self.w_scale, self.chip.tile.devices_per_side)
        sigma = jax.lax.stop_gradient(self.device.programming_noise.sigma_S(targets))
        drift = self.device.drift
        if self.drift_s > 0:
            key, k_nu = prng.split(key)
        g = g_programmed = jnp.maximum(
            targets + sigma * normal_elementwise(key, targets.shape), 0.0
        )
        g_programmed = jax.lax.stop_gradient(g_programmed)
        if self.drift_s > 0:
            nu = drift.nu(g_programmed, normal_elementwise(k_nu, targets.shape))
            drifted = g * jax.lax.stop_gradient(drift.factor(self.drift_s, nu))
            total = jnp.maximum(jnp.sum(drifted), 1e-30)
            g = drifted * jax.lax.stop_gradient(jnp.sum(g) / total)
        noise = self.device.read_noise
        relative = noise.relative_sigma(g_programmed, self.drift_s + drift.t0_s)
        periphery = self.chip.periphery
        view = ReadView.of_conductances(
            g,
            relative,
            periphery.wire_resistance_Ohm,
            line_means=periphery.view_line_means,
        )

        def variances(v):
            return v.g_var_S2, v.col_mean_var_S2, v.row_mean_var_S2

        return eqx.tree_at(
            variances,
            view,
            jax.tree.map(jax.lax.stop_gradient, variances(view)),
            is_leaf=lambda x: x is None,
        )

    def _mvm(self, x, key, transpose: bool):
        n_in = self.cols if transpose else self.rows
        self.check_input(x, n_in, "y" if transpose else "x")
        k_prog, k_read = prng.split(key)
        if self.device_key is not None:
            k_prog = self.device_key
        periphery = self.chip.periphery
        dac, adc = periphery.dac, periphery.adc
        v = straight_through(dac.convert(x), x) / dac.input_range
        per_unit = 1.0 / (self.chip.tile.devices_per_side * self.chip.update.g_weight_max_S)
        view = self._view(k_prog)
        out_sigma = jax.lax.stop_gradient(periphery.output_noise * adc.output_range)
        sensed = view.sense(
            v,
            per_unit,
            out_sigma,
            transpose=transpose,
            key=k_read,
            variance=periphery.read_noise_variance,
        )
        y = straight_through(adc.convert(sensed), sensed) * dac.input_range * self.w_max
        return y, self.booked(mvm_vectors=jnp.size(x) // n_in)

    def mvm(self, x, t, *, key):
        del t  # read as at the drift reference time: drift is compensated at inference
        return self._mvm(x, key, transpose=False)

    def mvm_t(self, y, t, *, key):
        del t
        return self._mvm(y, key, transpose=True)


def _is_aware(node) -> bool:
    return isinstance(node, AwareTile)


def with_device_draw(tree, key):
    """``tree`` with every :class:`AwareTile` in it reading one chip: tile i gets the device
    key ``fold_in(key, i)`` (programming errors and drift exponents fixed until the next call).
    A tree without AwareTiles is returned unchanged."""
    tiles = [leaf for leaf in jax.tree.leaves(tree, is_leaf=_is_aware) if _is_aware(leaf)]
    if not tiles:
        return tree
    keys = [prng.fold_in(key, i) for i in range(len(tiles))]

    def where(t):
        return [leaf for leaf in jax.tree.leaves(t, is_leaf=_is_aware) if _is_aware(leaf)]

    replaced = [
        eqx.tree_at(lambda s: s.device_key, tile, k, is_leaf=lambda x: x is None)
        for tile, k in zip(tiles, keys, strict=True)
    ]
    return eqx.tree_at(where, tree, replaced)
