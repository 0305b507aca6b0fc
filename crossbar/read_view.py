"""What an analogue read of a tile sees at one chip time, computed once and reused."""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..devices import AbstractDevice, DeviceState
from ..devices.random import normal_elementwise
from .ir_drop import ir_drop_attenuation

__all__ = ["ReadView", "side_sums"]


def side_sums(g):
    """(G+ summed over its N devices, G− summed over its N devices) of a (2, N, rows, cols) array.

    Written as explicit slice additions: XLA on CPU reduces a short leading axis ~15× slower
    than it adds the slices (measured 4.6 ms against 0.3 ms for 2 × 512 × 512 float32).
    """
    pos, neg = g[0, 0], g[1, 0]
    for n in range(1, g.shape[1]):
        pos = pos + g[0, n]
        neg = neg + g[1, n]
    return pos, neg


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
        col_mean_var_S2: ``g_var_S2`` averaged over the rows (cols,), S², for the cheaper
            noise mode of forward reads (None unless the view was computed with
            ``line_means``).
        row_mean_var_S2: ``g_var_S2`` averaged over the columns (rows,), S², the same for
            transposed reads.
    """

    g_diff_S: Float[Array, "rows cols"]
    g_var_S2: Float[Array, "rows cols"]
    row_total_S: Float[Array, " rows"]
    col_total_S: Float[Array, " cols"]
    total_S: Float[Array, ""]
    total_var_S2: Float[Array, ""]
    col_mean_var_S2: Float[Array, " cols"] | None = None
    row_mean_var_S2: Float[Array, " rows"] | None = None

    @classmethod
    def compute(
        cls,
        device: AbstractDevice,
        devices: DeviceState,
        t,
        wire_resistance_Ohm,
        *,
        line_means: bool = False,
    ) -> ReadView:
        """The view of ``devices`` (2, N, rows, cols) of model ``device`` at chip time t (s)
        (``line_means``: with the lines' mean variances of the 'column_mean' noise mode)."""
        g_mean, relative_sigma = device.read_statistics(devices, t)
        # Materialised once: XLA would otherwise fuse the drift's logarithm and exponential
        # into each of the view's sums and compute them several times per device.
        g_mean, relative_sigma = jax.lax.optimization_barrier((g_mean, relative_sigma))
        return cls.of_conductances(
            g_mean, relative_sigma, wire_resistance_Ohm, line_means=line_means
        )

    @classmethod
    def of_conductances(
        cls, g_mean, relative_sigma, wire_resistance_Ohm, *, line_means: bool = False
    ) -> ReadView:
        """The view of mean conductances ``g_mean`` (2, N, rows, cols), S, whose reads have
        the relative standard deviation ``relative_sigma`` (broadcastable), before IR drop.

        Differentiable in ``g_mean`` (hardware-aware training reads through it).
        """
        g_mean = g_mean * ir_drop_attenuation(g_mean, wire_resistance_Ohm)
        g_sigma = jnp.abs(g_mean) * relative_sigma
        g_pos, g_neg = side_sums(g_mean)
        var_pos, var_neg = side_sums(g_sigma * g_sigma)
        g_total = g_pos + g_neg
        g_var = var_pos + var_neg
        row_total = jnp.sum(g_total, axis=1)
        return cls(
            g_diff_S=g_pos - g_neg,
            g_var_S2=g_var,
            row_total_S=row_total,
            col_total_S=jnp.sum(g_total, axis=0),
            total_S=jnp.sum(row_total),
            total_var_S2=jnp.sum(g_var),
            col_mean_var_S2=jnp.mean(g_var, axis=0) if line_means else None,
            row_mean_var_S2=jnp.mean(g_var, axis=1) if line_means else None,
        )

    def sense(
        self,
        v,
        per_unit,
        out_sigma,
        *,
        transpose: bool,
        key,
        variance: Literal["exact", "column_mean"] = "exact",
    ):
        """The outputs (..., out) of line voltages ``v`` (..., in) in units of the DAC range,
        before the ADC: ``(v @ g_diff) · per_unit`` with the devices' read noise and an output
        noise of standard deviation ``out_sigma``; one Gaussian per output.

        ``variance`` ('exact' or 'column_mean', the chip's ``periphery.read_noise_variance``):
        'exact' gives output j the read-noise variance sum_i v_i² σ_ij², exact in distribution
        (a second matmul, ``(v·v) @ σ²``). 'column_mean' gives it (sum_i v_i²) · mean_i σ_ij²
        (a matvec): the same when every input has the same magnitude or every device of the
        line the same σ², and its expectation when the inputs' order over the rows is random;
        it misplaces noise between outputs when large inputs meet devices of unusual σ. The
        mean of the outputs is exact in both.
        """
        g_diff = self.g_diff_S.T if transpose else self.g_diff_S
        mean = (v @ g_diff) * per_unit
        if variance == "exact":
            g_var = self.g_var_S2.T if transpose else self.g_var_S2
            read_var = (v * v) @ g_var
        elif variance == "column_mean":
            if self.col_mean_var_S2 is None:
                raise ValueError(
                    "ReadView.sense: variance='column_mean' needs a view computed with "
                    "line_means=True"
                )
            line_var = self.row_mean_var_S2 if transpose else self.col_mean_var_S2
            read_var = jnp.sum(v * v, axis=-1, keepdims=True) * line_var
        else:
            raise ValueError(
                f"ReadView.sense: variance must be 'exact' or 'column_mean', got {variance!r}"
            )
        std = jnp.sqrt(read_var * per_unit**2 + out_sigma**2)
        return mean + std * normal_elementwise(key, mean.shape)

    def sense_differences(self, key):
        """One noisy sensing of every synapse's G+ − G− (rows, cols), S."""
        return self.g_diff_S + jnp.sqrt(self.g_var_S2) * normal_elementwise(
            key, self.g_diff_S.shape
        )

    def sense_total(self, key):
        """One noisy sensing of the tile's summed conductance, S."""
        return self.total_S + jnp.sqrt(self.total_var_S2) * jax.random.normal(key)
