"""What an analogue read of a tile sees at one chip time, computed once and reused."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..devices import AbstractDevice, DeviceState
from .ir_drop import ir_drop_attenuation

__all__ = ["ReadView"]


class ReadView(eqx.Module):
    """Summaries of the (2, N, rows, cols) devices of a tile at one chip time.

    Everything an MVM needs that depends on the devices and the time but not on the input:
    drift and IR drop are applied to the mean, and 1/f read noise enters as a variance, so a
    batch of reads costs two matmuls and one Gaussian per output. A tile keeps its latest view
    and reuses it while neither the time nor the devices change.

    Attributes:
        g_diff_S: sum over devices of G+ − G− (rows, cols), S.
        g_var_S2: sum over all devices of the read-noise variance (rows, cols), S².
        row_total_S: total conductance on each row (rows,), S (read energy of forward MVMs).
        col_total_S: total conductance on each column (cols,), S (read energy of transposed MVMs).
        total_S: total conductance of the tile, S (the drift-compensation reference).
        total_var_S2: read-noise variance of ``total_S``, S².
    """

    g_diff_S: Float[Array, "rows cols"]
    g_var_S2: Float[Array, "rows cols"]
    row_total_S: Float[Array, " rows"]
    col_total_S: Float[Array, " cols"]
    total_S: Float[Array, ""]
    total_var_S2: Float[Array, ""]

    @classmethod
    def compute(
        cls, device: AbstractDevice, devices: DeviceState, t, wire_resistance_Ohm
    ) -> ReadView:
        """The view of ``devices`` (2, N, rows, cols) of model ``device`` at chip time t (s)."""
        elapsed = jnp.maximum(t - devices.t_prog_s, 0.0)
        g_mean = devices.g_prog_S * device.drift.factor(elapsed, devices.nu)
        g_mean = g_mean * ir_drop_attenuation(g_mean, wire_resistance_Ohm)
        g_sigma = jnp.abs(g_mean) * device.read_noise_sigma(devices, elapsed)
        g_total = jnp.sum(g_mean, axis=(0, 1))
        return cls(
            g_diff_S=jnp.sum(g_mean[0] - g_mean[1], axis=0),
            g_var_S2=jnp.sum(g_sigma * g_sigma, axis=(0, 1)),
            row_total_S=jnp.sum(g_total, axis=1),
            col_total_S=jnp.sum(g_total, axis=0),
            total_S=jnp.sum(g_total),
            total_var_S2=jnp.sum(g_sigma * g_sigma),
        )
