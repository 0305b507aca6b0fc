"""DAC and ADC of a tile's periphery: range, resolution, saturation, energy and time."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from ..hw_configs import InvalidParameter, param

__all__ = ["DAC", "ADC", "quantise", "MAX_BITS"]

#: Finest converter the model represents. Quantisation runs in float32, whose 24-bit
#: significand holds every grid index exactly only up to 2^24; a finer grid is below float32
#: resolution at full scale (and 2^(bits-1) overflows the integer types at 64 bits).
MAX_BITS = 24


def quantise(value, full_scale, bits: int):
    """Clip ``value`` to ±``full_scale`` and round it to a signed uniform grid.

    The grid has 2^(bits-1) - 1 steps on each side of zero (zero is exact, the range is
    symmetric), as a sign-magnitude converter does.
    """
    levels = 2 ** (bits - 1) - 1
    step = full_scale / levels
    return jnp.round(jnp.clip(value, -full_scale, full_scale) / step) * step


class DAC(eqx.Module):
    """Input digital-to-analogue converter: one conversion per input element per vector."""

    bits: int = param(
        f"resolution in bits (signed, sign-magnitude; at most {MAX_BITS}: float32 arithmetic)",
        ge=2,
        le=MAX_BITS,
        static=True,
    )
    input_range: float = param("|x| mapped to the full read voltage; larger inputs clip", gt=0.0)
    energy_J: float = param("energy per conversion, J", ge=0.0)

    def convert(self, x):
        """Quantised input in units of x (clipped to ±input_range)."""
        return quantise(x, self.input_range, self.bits)


class ADC(eqx.Module):
    """Output analogue-to-digital converter shared by the columns of a tile.

    Its full scale is stated as ``output_range`` in weight·input units: the ADC saturates when
    |sum_i x_i w_ij| exceeds output_range · input_range · w_max (aihwkit's ``out_bound`` idea);
    in current that is output_range · V_read · g_weight_max · devices_per_side.
    """

    bits: int = param(
        f"resolution in bits (signed; at most {MAX_BITS}: float32 arithmetic)",
        ge=2,
        le=MAX_BITS,
        static=True,
    )
    output_range: float = param("full scale in units of (input_range · w_max)", gt=0.0)
    conversion_s: float = param("time of one conversion, s", gt=0.0)
    per_tile: int = param(
        "ADCs per tile, at most one per column; columns share them in turn", ge=1, static=True
    )
    energy_J: float | None = param(
        "energy per conversion, J, whatever the resolution (or give walden_fom_J)",
        ge=0.0,
        default=None,
    )
    walden_fom_J: float | None = param(
        "Walden figure of merit, J per conversion step: a conversion costs FoM · 2^bits, so "
        "the energy follows the resolution (or give energy_J)",
        ge=0.0,
        default=None,
    )

    def __check_init__(self):
        if (self.energy_J is None) == (self.walden_fom_J is None):
            given = "both" if self.energy_J is not None else "neither"
            raise InvalidParameter(
                "energy_J", f"give the energy per conversion or walden_fom_J, not {given}"
            )

    @property
    def conversion_energy_J(self) -> float:
        """Energy of one conversion, J: ``energy_J``, or FoM · 2^bits (Walden)."""
        if self.energy_J is not None:
            return self.energy_J
        return self.walden_fom_J * 2.0**self.bits

    def convert(self, y_normalised):
        """Quantise outputs in full-scale units of (input_range · w_max); saturates."""
        return quantise(y_normalised, self.output_range, self.bits)
