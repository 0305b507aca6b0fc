"""Fast weights on volatile devices: F̃ relaxes by itself, writes are small pulses.

The stored term F̃ (:mod:`.fast_weights`) of each synapse is a differential pair of volatile
elements (:class:`~memxbar.devices.volatile.VolatileDevice`), F̃ = f_max (G+ − G−) / g_max,
both relaxing toward 0 S. The mapping of the fast-weight parameters onto the element:

- ``decay`` (the per-step factor λ) becomes each device's relaxation time constant
  τ = −step_s / ln λ, programmed once; λ outside the range the element realises
  (:meth:`VolatileDevice.decay_range`) is clipped to it, and the realised τ has the device's
  spread. The relaxation itself is free: it happens between steps.
- ``gain`` (γ) becomes a programming gain of the write drivers: one write pulse per synapse
  and step whose outer-product input x·d ≠ 0, of amplitude γ·x·d / (column_scale · f_max /
  g_max) on G+ (positive) or G− (negative); a write beyond the window saturates at g_max.
- The per-column divisor is a digital scale register (no write); a column whose scale falls
  below :data:`~.fast_weights.RENORMALISE_BELOW` is rewritten to scale · G (one pulse per
  device holding conductance, booked as a refresh) and its scale reset to 1.

Booked in the ledger: a read (V²·G·t_read per driven device, DAC and ADC conversions) per
MVM and per full read; one ``set`` pulse of ``write_pulse_J`` per written device. Programming
the time constants and gains and clearing F between sequences (waiting for relaxation or a
global erase) are not booked.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..devices import prng
from ..devices.counting import count_total
from ..devices.random import normal_elementwise
from ..devices.volatile import VolatileDevice
from .chip import Periphery
from .fast_weights import AbstractFastTile, renormalised_columns
from .ledger import EnergyLedger

__all__ = ["VolatileTile"]


class VolatileTile(AbstractFastTile):
    """A batch of fast-weight terms on volatile differential pairs (see the module docstring).

    Attributes:
        g_S: conductances (B, 2, rows, cols) of G+ and G−, S.
        tau_s: realised relaxation time constants (2, rows, cols), s.
        gain: programmed write gains (rows, cols).
        column_scale: digital column scales (B, cols).
        f_max: fast weight of a device at g_max (weight units).
        step_s: chip time between two steps, s.
    """

    device: VolatileDevice
    periphery: Periphery
    g_S: Float[Array, "batch 2 rows cols"]
    tau_s: Float[Array, "2 rows cols"]
    gain: Float[Array, "rows cols"]
    column_scale: Float[Array, "batch cols"]
    ledger: EnergyLedger
    f_max: float
    step_s: float
    rows: int = eqx.field(static=True)
    cols: int = eqx.field(static=True)

    @classmethod
    def create(
        cls, device: VolatileDevice, periphery: Periphery, *, decay, gain, f_max, step_s, key
    ) -> VolatileTile:
        """Program per-synapse ``decay`` and ``gain`` (rows, cols) onto fresh devices."""
        decay, gain = jnp.asarray(decay, jnp.float32), jnp.asarray(gain, jnp.float32)
        if decay.ndim != 2 or decay.shape != gain.shape:
            raise ValueError(
                f"VolatileTile: decay and gain must be (rows, cols) matrices of one shape, "
                f"got {decay.shape} and {gain.shape}"
            )
        if not (f_max > 0 and step_s > 0):
            raise ValueError(f"VolatileTile: f_max and step_s must be > 0, got {f_max}, {step_s}")
        tau = device.programmed_tau_s(decay, step_s)
        rows, cols = decay.shape
        return cls(
            device=device,
            periphery=periphery,
            g_S=jnp.zeros((0, 2, rows, cols), jnp.float32),
            tau_s=device.realised_tau_s(jnp.broadcast_to(tau, (2, rows, cols)), key=key),
            gain=gain,
            column_scale=jnp.ones((0, cols), jnp.float32),
            ledger=EnergyLedger.zeros(),
            f_max=float(f_max),
            step_s=float(step_s),
            rows=rows,
            cols=cols,
        )

    @property
    def f_per_S(self):
        """Stored fast weight per siemens of G+ − G−."""
        return self.f_max / self.device.g_max_S

    def realised_decay(self):
        """The mean per-step decay factors (2, rows, cols) the devices realise."""
        return jnp.exp(-self.step_s / self.tau_s)

    def _book(self, **counts) -> VolatileTile:
        return eqx.tree_at(lambda s: s.ledger, self, self.ledger.add(**counts))

    def fresh(self, batch: int):
        return eqx.tree_at(
            lambda s: (s.g_S, s.column_scale),
            self,
            (
                jnp.zeros((batch, 2, self.rows, self.cols), jnp.float32),
                jnp.ones((batch, self.cols), jnp.float32),
            ),
        )

    def true_weights(self):
        diff = self.g_S[:, 0] - self.g_S[:, 1]
        return self.column_scale[:, None, :] * diff * self.f_per_S

    def _read_energy_J(self, v2_weighted_S):
        p = self.periphery
        return p.read_voltage_V**2 * p.read_pulse_s * v2_weighted_S

    def mvm(self, x, *, key):
        self._check(x, self.rows, "x")
        p = self.periphery
        dac, adc = p.dac, p.adc
        v = dac.convert(x) / dac.input_range
        g = self.device.read(self.g_S, key=key)
        sensed = jnp.einsum("br,brc->bc", v, g[:, 0] - g[:, 1]) / self.device.g_max_S
        y = adc.convert(sensed) * dac.input_range * self.f_max * self.column_scale
        driven = count_total(v != 0)
        batch = x.shape[0]
        tile = self._book(
            read=self._read_energy_J(
                jnp.einsum("br,brc->", v * v, self.g_S[:, 0] + self.g_S[:, 1])
            ),
            dac=driven * dac.energy_J,
            adc=batch * self.cols * adc.conversion_energy_J,
            mvm_vectors=batch,
            device_reads=driven * self.cols * 2,
            dac_conversions=driven,
            adc_conversions=batch * self.cols,
            latency_s=batch * p.read_time_s(self.cols),
        )
        return y, tile

    def read_weights(self, *, key):
        p = self.periphery
        adc = p.adc
        g = self.device.read(self.g_S, key=key)
        diff = (g[:, 0] - g[:, 1]) / self.device.g_max_S
        diff = adc.convert(diff * adc.output_range) / adc.output_range
        batch = self.g_S.shape[0]
        tile = self._book(
            read=self._read_energy_J(jnp.sum(self.g_S)),
            dac=batch * self.rows * p.dac.energy_J,
            adc=batch * self.rows * self.cols * adc.conversion_energy_J,
            device_reads=self.g_S.size,
            dac_conversions=batch * self.rows,
            adc_conversions=batch * self.rows * self.cols,
            weight_reads=batch,
            latency_s=batch * self.rows * p.read_time_s(self.cols),
        )
        return self.column_scale[:, None, :] * diff * self.f_max, tile

    def advance(self, divisor, x, d, *, key):
        self._check(x, self.rows, "x")
        self._check(d, self.cols, "d")
        k_relax, k_write = prng.split(key)
        scale = self.column_scale / divisor
        g = self.device.relax(self.g_S, self.tau_s, self.step_s, key=k_relax)
        request = self.gain * (x[:, :, None] * d[:, None, :]) / (scale[:, None, :] * self.f_per_S)
        delta = jnp.stack([jnp.maximum(request, 0.0), jnp.maximum(-request, 0.0)], axis=1)
        k_write, k_renorm = prng.split(k_write)
        g = self.device.write(g, delta, key=k_write)
        pulses = jnp.sum(delta > 0)
        # Renormalising a column rewrites its devices to scale · G (one pulse per device
        # holding conductance, with the write noise): a refresh, F unchanged.
        low, renormalised = renormalised_columns(scale)
        column = low[:, None, None, :]
        rewritten = g * scale[:, None, None, :]
        noise = self.device.write_noise * normal_elementwise(k_renorm, g.shape)
        g = jnp.where(column, jnp.clip(rewritten * (1 + noise), 0, self.device.g_max_S), g)
        rewrites = jnp.sum(column & (g > 0))
        tile = eqx.tree_at(lambda s: (s.g_S, s.column_scale), self, (g, renormalised))
        return tile._book(
            set=pulses * self.device.write_pulse_J,
            set_pulses=pulses,
            update_events=pulses,
            update_calls=1,
            refresh=rewrites * self.device.write_pulse_J,
            refresh_set_pulses=rewrites,
            refreshes=jnp.sum(low) * self.rows,
        )

    def _check(self, x, width: int, name: str):
        if jnp.ndim(x) != 2 or jnp.shape(x)[-1] != width:
            raise ValueError(f"VolatileTile: {name} must be (batch, {width}), got {jnp.shape(x)}")
