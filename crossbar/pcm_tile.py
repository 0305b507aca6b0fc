"""A crossbar tile of PCM differential pairs with DAC/ADC periphery and an energy ledger."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ..devices import AbstractDevice, DeviceState, load_preset, prng
from ..devices.counting import count_max, count_total
from .chip import ChipSpec, Periphery, UpdateConfig, load_chip
from .ledger import EnergyLedger
from .programming import pair_targets, program_cost, reset_and_program, saturated_pairs
from .pulse_schemes import fire_at_device, fire_one_sided, pulse_train_pulses, rounded_counts
from .read_view import ReadView, side_sums
from .tile import AbstractTile, outer_product_update

__all__ = ["PCMTile"]


class PCMTile(AbstractTile):
    """rows × cols synapses, each w = w_scale (sum G+ − sum G−) over N devices per side.

    ``w_scale = w_max / (N g_weight_max)``: a weight of w_max corresponds to every device of
    the positive side at ``g_weight_max`` and the negative side at 0.

    Forward read (:meth:`mvm`): DAC quantisation and clipping of the inputs → conductances at
    chip time t (drift) → first-order IR drop → 1/f read noise and additive output noise,
    exact in distribution at the outputs (:meth:`ReadView.sense`: a batch costs one extra
    matmul instead of a fresh read of every device; the chip's
    ``periphery.read_noise_variance: column_mean`` replaces that matmul by an
    approximation) → ADC quantisation with saturation → digital scaling and optional global
    drift compensation. (The clip of each read
    conductance at 0 S is not applied in this form; it only matters far below 1 µS.)

    Updates (:meth:`update`): requested changes become SET-pulse counts on G+ (potentiation) or
    G− (depression), on one device per side chosen by a rotating arbiter.

    The tile caches what a read sees at the last read time (``view``); every method that
    writes devices invalidates it. Replace ``devices`` only through the methods (or set
    ``view_time_s`` to NaN after a manual ``eqx.tree_at``), or a read may use stale values.
    """

    device: AbstractDevice
    periphery: Periphery
    update_config: UpdateConfig
    devices: DeviceState
    ledger: EnergyLedger
    arbiter: Int[Array, ""]
    drift_reference_S: Float[Array, ""]
    view: ReadView
    view_time_s: Float[Array, ""]
    w_max: float
    rows: int = eqx.field(static=True)
    cols: int = eqx.field(static=True)
    devices_per_side: int = eqx.field(static=True)

    refreshes: ClassVar[bool] = True
    #: Fields every operation changes alike in all tiles it is applied to (the arbiter turns
    #: after every update): a TiledMatrix keeps them once for a group of alike blocks.
    lockstep_fields: ClassVar[tuple[str, ...]] = ("arbiter",)

    @classmethod
    def create(
        cls,
        chip: ChipSpec | str = "pcm_256",
        *,
        key,
        rows: int | None = None,
        cols: int | None = None,
        w_max: float = 1.0,
        device: AbstractDevice | None = None,
        weights=None,
        t: float = 0.0,
    ) -> PCMTile:
        """A fresh tile (devices in their RESET state), optionally programmed to ``weights``.

        Args:
            chip: a ChipSpec or a chip preset name / YAML path (periphery, update scheme,
                energies, devices per side, default size).
            key: PRNG key (device fabrication and programming).
            rows, cols: tile size; default the chip's tile size.
            w_max: the weight represented by a full device (weight units).
            device: a device model overriding the chip's device preset.
            weights: optional (rows, cols) weights to program at chip time ``t`` (s).
        """
        spec = load_chip(chip) if isinstance(chip, str) else chip
        rows = spec.tile.rows if rows is None else rows
        cols = spec.tile.cols if cols is None else cols
        if rows < 1 or cols < 1:
            raise ValueError(f"PCMTile: rows and cols must be ≥ 1, got {rows} × {cols}")
        if not (isinstance(w_max, int | float) and math.isfinite(w_max) and w_max > 0):
            raise ValueError(f"PCMTile: w_max must be a positive number, got {w_max!r}")
        model = load_preset(spec.device_preset) if device is None else device
        model = spec.periphery.read_model(model)
        n = spec.tile.devices_per_side
        k_init, k_prog = prng.split(key)
        devices = model.init((2, n, rows, cols), key=k_init)
        tile = cls(
            device=model,
            periphery=spec.periphery,
            update_config=spec.update,
            devices=devices,
            ledger=EnergyLedger.zeros(),
            arbiter=jnp.zeros((), jnp.int32),
            drift_reference_S=jnp.zeros((), jnp.float32),
            view=ReadView.compute(
                model,
                devices,
                t,
                spec.periphery.wire_resistance_Ohm,
                line_means=spec.periphery.view_line_means,
            ),
            view_time_s=jnp.asarray(t, jnp.float32),
            w_max=float(w_max),
            rows=rows,
            cols=cols,
            devices_per_side=n,
        )
        if weights is not None:
            tile = tile.program_weights(weights, t, key=k_prog)
        return tile

    @property
    def w_scale(self):
        """Weight per siemens of conductance difference (weight units / S)."""
        return self.w_max / (self.devices_per_side * self.update_config.g_weight_max_S)

    @property
    def dw_pulse(self):
        """Weight change of one nominal SET pulse (weight units)."""
        return self.w_scale * self.update_config.pulse_step_S

    def _book(self, **increments) -> PCMTile:
        return eqx.tree_at(lambda s: s.ledger, self, self.ledger.add(**increments))

    # --- analogue read path -----------------------------------------------------------------

    def _view_at(self, t) -> tuple[ReadView, PCMTile]:
        """The read view at chip time t (s), reused when the tile already holds it."""

        def fresh():
            return ReadView.compute(
                self.device,
                self.devices,
                t,
                self.periphery.wire_resistance_Ohm,
                line_means=self.periphery.view_line_means,
            )

        t = jnp.asarray(t, jnp.float32)
        view = jax.lax.cond(self.view_time_s == t, lambda: self.view, fresh)
        return view, eqx.tree_at(lambda s: (s.view, s.view_time_s), self, (view, t))

    def _with_devices(self, devices: DeviceState) -> PCMTile:
        """The tile with new device states; its read view is stale from now on.

        So is the drift-compensation reference: a write changes the total conductance, and
        a reference taken before it would read as drift. Compensation is off (factor 1, no
        reference reads) until the next :meth:`calibrate`. During on-chip learning the
        devices are written every few milliseconds, when drift is negligible anyway.
        """
        return eqx.tree_at(
            lambda s: (s.devices, s.view_time_s, s.drift_reference_S),
            self,
            (devices, jnp.float32(jnp.nan), jnp.float32(0.0)),
        )

    def _reference_read(self, view: ReadView, key):
        """A noisy read of the summed conductance of the tile (S) and its cost."""
        total = view.sense_total(key)
        cost = dict(
            read=self.device.energy.read_J(view.total_S),
            dac=self.rows * self.periphery.dac.energy_J,
            adc=2 * self.cols * self.periphery.adc.conversion_energy_J,
            device_reads=self.devices.g_prog_S.size,
            dac_conversions=self.rows,
            adc_conversions=2 * self.cols,
            latency_s=self.periphery.read_time_s(2 * self.cols),
        )
        return total, cost

    def _mvm(self, x, t, key, transpose: bool):
        n_in, n_out = (self.cols, self.rows) if transpose else (self.rows, self.cols)
        self.check_input(x, n_in, "y" if transpose else "x")
        k_read, k_ref = prng.split(key)
        view, tile = self._view_at(t)
        dac = self.periphery.dac
        v = dac.convert(x) / dac.input_range
        per_unit = 1.0 / (self.devices_per_side * self.update_config.g_weight_max_S)
        out_sigma = self.periphery.output_noise * self.periphery.adc.output_range
        sensed = view.sense(
            v,
            per_unit,
            out_sigma,
            transpose=transpose,
            key=k_read,
            variance=self.periphery.read_noise_variance,
        )
        y = self.periphery.adc.convert(sensed) * dac.input_range * self.w_max
        in_total = view.col_total_S if transpose else view.row_total_S
        vectors = math.prod(jnp.shape(x)[:-1])
        # A line whose input converts to 0 is not driven (no read pulse, no DAC conversion):
        # event-driven periphery, so a spike train pays only for its spikes.
        driven = count_total(v != 0)
        tile = tile._book(
            read=self.device.energy.read_J(jnp.sum((v * v) @ in_total)),
            dac=driven * dac.energy_J,
            adc=vectors * n_out * self.periphery.adc.conversion_energy_J,
            mvm_vectors=vectors,
            device_reads=driven * n_out * 2 * self.devices_per_side,
            dac_conversions=driven,
            adc_conversions=vectors * n_out,
            latency_s=vectors * self.periphery.read_time_s(n_out),
        )
        if self.periphery.drift_compensation:
            alpha, tile = tile._drift_alpha(view, k_ref)
            y = y * alpha
        return y, tile

    def _drift_alpha(self, view: ReadView, key):
        """Global drift compensation factor (1 before the first calibration) and its cost."""
        now, cost = self._reference_read(view, key)
        calibrated = self.drift_reference_S > 0
        alpha = jnp.where(calibrated, self.drift_reference_S / now, 1.0)
        # An uncalibrated tile has no reference to compare with, so it takes no reading.
        return alpha, self._book(**{k: jnp.where(calibrated, v, 0.0) for k, v in cost.items()})

    def mvm(self, x, t, *, key):
        """Forward read y = x @ W of a batch (..., rows) → (..., cols) at chip time t (s)."""
        return self._mvm(x, t, key, transpose=False)

    def mvm_t(self, y, t, *, key):
        """Transposed read y @ W.T of a batch (..., cols) → (..., rows) at chip time t (s)."""
        return self._mvm(y, t, key, transpose=True)

    def calibrate(self, t, *, key):
        """Record the reference read of global drift compensation at chip time t (s)."""
        view, tile = self._view_at(t)
        reference, cost = tile._reference_read(view, key)
        tile = eqx.tree_at(lambda s: s.drift_reference_S, tile, reference)
        return tile._book(**cost)

    def read_weights(self, t, *, key):
        """Full weight read (rows, cols) at chip time t (s).

        Each synapse is sensed once (both sides, all devices, with fresh read noise), its
        conductance difference digitised with the ADC's bits over ±w_max and scaled (and
        drift-compensated when enabled). Booked: a read of every device, one DAC conversion
        per row and one ADC conversion per synapse.

        The sensed difference is drawn from the read view: the devices' 1/f noise is Gaussian
        and independent, so the sum over a synapse's devices is Gaussian with the summed
        variance (one sample per synapse instead of one per device, and the drifted
        conductances are shared with an MVM at the same time). As in :meth:`mvm`, the clip of
        each device's read at 0 S is not applied; it only matters far below 1 µS.
        """
        k_read, k_ref = prng.split(key)
        view, tile = self._view_at(t)
        W = view.sense_differences(k_read) * self.w_scale
        adc = self.periphery.adc
        W = adc.convert(W / self.w_max * adc.output_range) / adc.output_range * self.w_max
        tile = tile._book(
            read=self.device.energy.read_J(view.total_S),
            dac=self.rows * self.periphery.dac.energy_J,
            adc=self.rows * self.cols * adc.conversion_energy_J,
            device_reads=self.devices.g_prog_S.size,
            dac_conversions=self.rows,
            adc_conversions=self.rows * self.cols,
            weight_reads=1,
            latency_s=self.rows * self.periphery.read_time_s(self.cols),
        )
        if self.periphery.drift_compensation:
            alpha, tile = tile._drift_alpha(view, k_ref)
            W = W * alpha
        return W, tile

    def with_drift_compensation(self, enabled: bool) -> PCMTile:
        periphery = dataclasses.replace(self.periphery, drift_compensation=bool(enabled))
        return eqx.tree_at(lambda s: s.periphery, self, periphery)

    def true_weights(self):
        """Weights from the programmed conductances (no drift, no noise, nothing booked)."""
        g_pos, g_neg = side_sums(self.devices.g_prog_S)
        return (g_pos - g_neg) * self.w_scale

    def programmed_conductances(self):
        return self.devices.g_prog_S

    # --- writes -----------------------------------------------------------------------------

    def program_weights(self, W, t, *, key):
        """Program-and-verify every synapse to the weights ``W`` (rows, cols) at chip time t (s).

        The positive part goes to G+ and the negative part to G−, split evenly over the N
        devices of a side; the other side is written to g_min. Booked as one RESET plus the
        preset's program-and-verify iterations per device. The drift reference is re-taken.
        """
        self.check_matrix(W, "program_weights: W")
        k_prog, k_cal = prng.split(key)
        targets = pair_targets(W, self.w_scale, self.devices_per_side)
        devices = self.device.program(self.devices, targets, t, key=k_prog)
        tile = self._with_devices(devices)
        tile = tile._book(**program_cost(self.device.energy, targets, True))
        return tile.calibrate(t, key=k_cal)

    def _with_pulsed(self, devices) -> PCMTile:
        """The tile with the pulsed ``devices``; the arbiter turns to the next device."""
        arbiter = (self.arbiter + 1) % self.devices_per_side
        return eqx.tree_at(lambda s: s.arbiter, self._with_devices(devices), arbiter)

    def _book_update(self, per_synapse, latency_s):
        """Book an update that fired ``per_synapse`` (rows, cols) pulses at the pairs."""
        # Counts are non-negative, so a synapse was written (G+ or G- pulsed) iff this is > 0;
        # one (rows, cols) array serves all the counts (each reduction costs a pass over it).
        pulses = count_total(per_synapse)
        return self._book(
            set=self.device.energy.set_J(pulses),
            set_pulses=pulses,
            update_events=count_total(per_synapse > 0),
            update_calls=1,
            latency_s=latency_s,
        )

    def update(self, dW, t, *, key):
        """Turn a requested weight change ``dW`` (rows, cols) into SET pulses at chip time t (s).

        Deterministic or stochastic rounding of |dW| / dw_pulse per the chip's update scheme,
        capped at ``max_pulses``; rows are programmed one after another (latency booked).
        The ``pulse_train`` scheme needs the outer-product factors: use :meth:`update_outer`.
        """
        dW = jnp.asarray(dW)
        self.check_matrix(dW, "update: dW")
        scheme = self.update_config.scheme
        if scheme == "pulse_train":
            raise ValueError(
                "PCMTile.update: the chip's update scheme is 'pulse_train', which updates outer "
                "products in parallel; call update_outer(x, d, t, key=...) instead"
            )
        k_round, k_pulse = prng.split(key)
        n = rounded_counts(
            dW,
            self.dw_pulse,
            self.update_config.max_pulses,
            stochastic=scheme == "stochastic",
            key=k_round,
        )
        pulses = jnp.abs(n)
        latency = self.rows * count_max(pulses) * self.update_config.set_pulse_s
        devices = fire_one_sided(self.device, self.devices, self.arbiter, n, t, key=k_pulse)
        return self._with_pulsed(devices)._book_update(pulses, latency)

    def update_outer(self, x, d, t, *, key, scale=1.0):
        """Apply dW = scale * sum_b outer(x_b, d_b), in parallel when the scheme is pulse_train."""
        if self.update_config.scheme != "pulse_train":
            return outer_product_update(self, x, d, t, key=key, scale=scale)
        self.check_outer(x, d)
        k_train, k_pulse = prng.split(key)
        length = self.update_config.pulse_train_length
        n = pulse_train_pulses(
            x, d, scale, self.dw_pulse, length, self.update_config.max_pulses, key=k_train
        )
        samples = math.prod(jnp.shape(x)[:-1])
        latency = samples * length * self.update_config.set_pulse_s
        devices = fire_at_device(self.device, self.devices, self.arbiter, n, t, key=k_pulse)
        return self._with_pulsed(devices)._book_update(n[0] + n[1], latency)

    def _reprogram(self, synapses, W, t, *, key):
        """RESET both sides of the ``synapses`` (bool (rows, cols)) and program them to ``W``
        (rows, cols) (:func:`~.programming.reset_and_program`); returns (tile, cost), nothing
        booked yet."""
        targets = pair_targets(W, self.w_scale, self.devices_per_side)
        devices, cost = reset_and_program(self.device, self.devices, synapses, targets, t, key=key)
        return self._with_devices(devices), cost

    def reset_and_reprogram(self, dW, W_read, t, *, key):
        """Potentiate by SET pulses on G+; RESET every synapse with dW < 0 and program it to
        ``W_read + dW`` (clipped to ±w_max) at chip time t (s).

        Booked: the potentiation's pulses, the RESETs, the program-and-verify SET pulses and
        verify reads, and one update event per depressed synapse.
        """
        dW = jnp.asarray(dW)
        self.check_matrix(dW, "reset_and_reprogram: dW")
        self.check_matrix(W_read, "reset_and_reprogram: W_read")
        k_set, k_write = prng.split(key)
        tile = self.update(jnp.maximum(dW, 0.0), t, key=k_set)
        lowered = dW < 0
        target = jnp.clip(W_read + dW, -self.w_max, self.w_max)
        tile, cost = tile._reprogram(lowered, target, t, key=k_write)
        return tile._book(**cost, update_events=count_total(lowered))

    def refresh(self, t, *, key):
        """Refresh synapses whose devices near saturation (Boybat et al. 2018 style).

        All devices are read. The synapses :func:`~.programming.saturated_pairs` picks have
        both sides RESET and the read weight re-programmed onto one side. Everything it costs
        is booked under ``refresh`` and counted by the ``refresh_*`` counters (its device
        reads, SET and RESET pulses and ADC conversions); ``refreshes`` counts synapses.
        """
        k_read, k_write = prng.split(key)
        g = self.device.read(self.devices, t, key=k_read)
        saturated = saturated_pairs(g, self.update_config)
        g_pos, g_neg = side_sums(g)
        W = (g_pos - g_neg) * self.w_scale
        tile, cost = self._reprogram(saturated, W, t, key=k_write)
        refresh_J = (
            self.device.energy.read_J(jnp.sum(g))
            + self.rows * self.cols * self.periphery.adc.conversion_energy_J
            + cost["reset"]
            + cost["set"]
            + cost["read"]
        )
        return tile._book(
            refresh=refresh_J,
            refresh_device_reads=g.size + cost["device_reads"],
            refresh_reset_pulses=cost["reset_pulses"],
            refresh_set_pulses=cost["set_pulses"],
            refresh_adc_conversions=self.rows * self.cols,
            refreshes=count_total(saturated),
        )
