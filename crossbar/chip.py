"""The physical description of a chip: tile geometry, periphery, update scheme and energies."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import equinox as eqx

from ..hw_configs import (
    InvalidParameter,
    apply_overrides,
    build,
    format_si,
    param,
    preset_path,
    read_yaml,
    section,
)
from .converters import ADC, DAC

__all__ = ["ChipSpec", "TileGeometry", "Periphery", "UpdateConfig", "load_chip"]


#: Largest tile side (rows or columns). Published PCM compute tiles are 256×256 (HERMES,
#: Khaddam-Aljameh et al. 2022) to about 1024 lines; one emulated 4096×4096 tile already holds
#: 2 × 16.8 M device states (~40 bytes each, ~1.3 GB), so a larger number is a typo.
MAX_TILE_SIDE = 4096
#: Most tiles on a chip: HERMES has 64 cores; 2^20 leaves room for wafer-scale studies while
#: refusing a typo (the compiler lists every tile of a program).
MAX_TILE_COUNT = 2**20
#: Most devices per side of a synapse: multi-memristive synapses use 2-7 (Boybat et al. 2018).
MAX_DEVICES_PER_SIDE = 16


class TileGeometry(eqx.Module):
    """Size and count of the crossbar tiles."""

    rows: int = param(
        f"word lines (inputs) per tile (at most {MAX_TILE_SIDE}: real tiles are 256-1024)",
        ge=1,
        le=MAX_TILE_SIDE,
        static=True,
    )
    cols: int = param(
        f"bit lines (outputs) per tile (at most {MAX_TILE_SIDE}: real tiles are 256-1024)",
        ge=1,
        le=MAX_TILE_SIDE,
        static=True,
    )
    count: int = param(
        f"tiles on the chip (at most {MAX_TILE_COUNT})", ge=1, le=MAX_TILE_COUNT, static=True
    )
    devices_per_side: int = param(
        "PCM devices per side of a differential synapse (multi-memristive)",
        ge=1,
        le=MAX_DEVICES_PER_SIDE,
        static=True,
    )


class Periphery(eqx.Module):
    """Analogue read path around the array."""

    dac: DAC = section("input converters")
    adc: ADC = section("output converters")
    read_voltage_V: float = param("read voltage at full-scale input, V", gt=0.0)
    read_pulse_s: float = param("duration of one read pulse, s", gt=0.0)
    wire_resistance_Ohm: float = param(
        "wire resistance per cell segment along rows and columns, Ohm (0: no IR drop)", ge=0.0
    )
    output_noise: float = param(
        "std of additive output noise before the ADC, relative to the ADC full scale", ge=0.0
    )
    drift_compensation: bool = param(
        "rescale outputs by a reference read (global drift compensation)", static=True
    )
    read_noise_variance: Literal["exact", "column_mean"] = param(
        "variance of an output's 1/f read noise: 'exact' (sum_i v_i² σ_ij², a second matmul "
        "per read) or 'column_mean' (sum_i v_i² times the line's mean σ², a cheaper "
        "approximation: exact for inputs of equal magnitude, unbiased over the order of the "
        "rows; crossbar/read_view.py)",
        static=True,
        default="exact",
    )

    @property
    def view_line_means(self) -> bool:
        """Whether read views keep the lines' mean noise variances ('column_mean' reads)."""
        return self.read_noise_variance == "column_mean"

    def read_time_s(self, outputs: int) -> float:
        """Time of one read, s: a read pulse, then ``outputs`` conversions shared in turn by
        the tile's ADCs."""
        adc = self.adc
        return self.read_pulse_s + math.ceil(outputs / adc.per_tile) * adc.conversion_s

    def read_model(self, device):
        """``device`` (a device model) under this periphery's read conditions, which set its
        read energy."""
        return eqx.tree_at(
            lambda m: (m.energy.read_voltage_V, m.energy.read_pulse_s),
            device,
            (self.read_voltage_V, self.read_pulse_s),
        )


class UpdateConfig(eqx.Module):
    """How a requested weight change becomes pulses."""

    scheme: Literal["deterministic", "stochastic", "pulse_train"] = param(
        "rounding of pulse counts, or stochastic row/column pulse-train coincidence", static=True
    )
    g_weight_max_S: float = param(
        "conductance of one device that represents |w| = w_max, S", gt=0.0
    )
    pulse_step_S: float = param(
        "nominal conductance change of one SET pulse used to count pulses, S", gt=0.0
    )
    max_pulses: int = param("most SET pulses per device per update", ge=1, static=True)
    pulse_train_length: int = param(
        "slots of the stochastic pulse trains (pulse_train scheme)", ge=1, static=True
    )
    set_pulse_s: float = param("duration of one SET pulse slot, s", gt=0.0)
    refresh_threshold: float = param(
        "a pair is refreshed when a device exceeds this fraction of g_weight_max", gt=0.0, le=1.0
    )


class ChipSpec(eqx.Module):
    """Everything about the hardware that a tile, the compiler and the runtime need."""

    description: str = param("what this chip is", static=True)
    device_preset: str = param("device preset name or YAML path", static=True)
    tile: TileGeometry = section("tile geometry")
    periphery: Periphery = section("read periphery")
    update: UpdateConfig = section("update scheme")
    clock_Hz: float = param("digital clock frequency, Hz", gt=0.0)

    def __check_init__(self):
        if self.update.scheme == "pulse_train" and self.update.pulse_train_length < 2:
            raise InvalidParameter("update.pulse_train_length", "must be ≥ 2 for pulse trains")
        if self.periphery.adc.per_tile > self.tile.cols:
            raise InvalidParameter(
                "periphery.adc.per_tile",
                f"must not exceed the columns of a tile (tile.cols = {self.tile.cols}), "
                f"got {self.periphery.adc.per_tile}",
            )

    def check_device(self, device) -> None:
        """Refuse a device that cannot hold the conductance the update scheme asks of it.

        ``update.g_weight_max_S`` (|w| = w_max) must not exceed the device's nominal g_max:
        each device's own ceiling is drawn around the nominal one (``variability``), so some
        saturate earlier anyway, but a larger target would clip every full weight.

        Raises:
            InvalidParameter naming ``update.g_weight_max_S``.
        """
        g_w, g_max = self.update.g_weight_max_S, device.g_max_S
        if isinstance(g_w, float) and isinstance(g_max, float) and g_w > g_max:
            raise InvalidParameter(
                "update.g_weight_max_S",
                f"must not exceed the nominal g_max of the device preset "
                f"'{self.device_preset}' (conductance.g_max_S = {format_si(g_max, 'S')}), "
                f"got {format_si(g_w, 'S')}",
            )


def load_chip(name_or_path: str | Path, overrides: dict | None = None) -> ChipSpec:
    """Load a chip preset (a file stem in ``hw_configs/chips/`` or a YAML path).

    ``overrides`` replaces values by dotted key (e.g. ``{"periphery.adc.bits": 6}``) before
    the strict check, for ablations.

    Raises:
        ConfigError (a ValueError) naming the file and the key of the first problem.
    """
    path = preset_path("chips", name_or_path)
    mapping = read_yaml(path)
    if overrides:
        mapping = apply_overrides(mapping, overrides, source=str(path), what="chip_overrides")
    return build(ChipSpec, mapping, source=str(path))
