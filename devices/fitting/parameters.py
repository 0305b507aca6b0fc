"""The parameters of the pulse-level model a fit estimates, and what data each one needs."""

from __future__ import annotations

import dataclasses
import functools

import equinox as eqx
import numpy as np

from ..abstract import AbstractDevice
from .measurements import Measurements

__all__ = [
    "FitParameter",
    "PARAMETERS",
    "field_bounds",
    "unidentifiable",
    "value_of",
    "with_values",
]


@dataclasses.dataclass(frozen=True)
class FitParameter:
    """One fitted parameter.

    Attributes:
        field: dotted field path in the model (SI units, as the loader builds it).
        meaning: what it is, for tables and the preset's comments.
        needs: the data it needs (a key of :data:`_NEEDS`).
    """

    field: str
    meaning: str
    needs: str


#: Everything a fit may estimate, in the order of its tables.
PARAMETERS = (
    FitParameter("set_response.mean_offset_S", "mean SET step at G = 0, P = 0", "curve"),
    FitParameter("set_response.mean_slope", "d(mean step)/dG", "curve"),
    FitParameter("set_response.mean_memory_S", "mean SET step per unit pulse memory", "curve"),
    FitParameter("set_response.std_offset_S", "SET step std at G = 0, P = 0", "curve"),
    FitParameter("set_response.std_slope", "d(step std)/dG", "curve"),
    FitParameter("set_response.std_memory_S", "SET step std per unit pulse memory", "curve"),
    FitParameter("set_response.memory_pulses", "pulse-memory decay constant, pulses", "curve"),
    FitParameter("variability.step_relative", "device-to-device step spread", "curve"),
    FitParameter("variability.g_max_relative", "device-to-device g_max spread", "near_g_max"),
    FitParameter("reset_response.g_reset_S", "mean conductance after RESET", "reset"),
    FitParameter("reset_response.relative_spread", "spread after RESET", "reset_repeated"),
    FitParameter("drift.scale", "multiplier of the drift exponent nu", "drift"),
    FitParameter("read_noise.q_coefficient", "1/f read-noise coefficient Q", "repeated"),
    FitParameter("read_noise.q_exponent", "exponent of G in Q", "repeated_levels"),
)

#: Fewest distinct pulse numbers of a SET curve that the SET step statistics are fitted on.
MIN_CURVE_STAGES = 4
#: g_max spread shows only where devices reach their ceiling: at least this fraction of the
#: reads must come within 80 % of the nominal g_max.
NEAR_G_MAX_FRACTION = 0.01


def value_of(model, field: str):
    """The value of the dotted ``field`` of ``model``."""
    return functools.reduce(getattr, field.split("."), model)


def with_values(model: AbstractDevice, fields, values) -> AbstractDevice:
    """``model`` with the dotted ``fields`` replaced by ``values`` (arrays may be traced)."""
    fields = list(fields)
    return eqx.tree_at(
        lambda m: [value_of(m, f) for f in fields], model, [values[i] for i in range(len(fields))]
    )


def field_bounds(model, field: str) -> tuple[float, float, bool, bool]:
    """(low, high, low is open, high is open): the bounds the loader enforces on ``field``
    (±inf where none)."""
    *path, name = field.split(".")
    owner = functools.reduce(getattr, path, model)
    meta = next(f.metadata for f in dataclasses.fields(owner) if f.name == name)
    low = next((meta[k] for k in ("ge", "gt") if meta.get(k) is not None), -np.inf)
    high = next((meta[k] for k in ("le", "lt") if meta.get(k) is not None), np.inf)
    return low, high, meta.get("gt") is not None, meta.get("lt") is not None


def _curve(m: Measurements, model) -> str | None:
    n = m.design.stages().size
    if n < MIN_CURVE_STAGES:
        return f"needs SET curves at ≥ {MIN_CURVE_STAGES} pulse numbers, the data have {n}"
    return None


def _reset(m: Measurements, model) -> str | None:
    return None if 0 in m.design.pulse else "no reads at pulse 0 (right after the RESET)"


def _reset_repeated(m: Measurements, model) -> str | None:
    if np.any((m.design.pulse == 0) & (m.design.reads >= 2)):
        return None
    return "no repeated reads at pulse 0: the RESET spread cannot be told from read noise"


def _drift(m: Measurements, model) -> str | None:
    if m.design.drift_points().size >= 2:
        return None
    return "no reads at two or more times after one pulse (t_read_s): drift does not show"


def _repeated(m: Measurements, model) -> str | None:
    if np.any(m.design.reads >= 2):
        return None
    return "no repeated reads (read_index): read noise cannot be told from the SET-step noise"


def _repeated_levels(m: Measurements, model) -> str | None:
    points = np.flatnonzero(m.design.reads >= 2)
    levels = m.g_S[:, points].sum(axis=(0, 2)) / (m.n_devices * m.design.reads[points])
    positive = levels[levels > 0]
    if positive.size >= 2 and positive.max() >= 2 * positive.min():
        return None
    return "repeated reads at one conductance level only: the exponent of G does not show"


def _near_g_max(m: Measurements, model) -> str | None:
    g_max = model.conductance.g_max_S
    reads = m.g_S[:, m.design.read_mask()]
    if np.mean(reads >= 0.8 * g_max) >= NEAR_G_MAX_FRACTION:
        return None
    share = np.mean(reads >= 0.8 * g_max)
    return (
        f"too few reads near g_max ({share:.2%} of them at ≥ 80 % of g_max "
        f"{g_max / 1e-6:.3g} µS, a few by read noise alone): the spread of g_max does not show"
    )


_NEEDS = {
    "curve": _curve,
    "reset": _reset,
    "reset_repeated": _reset_repeated,
    "drift": _drift,
    "repeated": _repeated,
    "repeated_levels": _repeated_levels,
    "near_g_max": _near_g_max,
}


def unidentifiable(measurements: Measurements, model: AbstractDevice) -> dict[str, str]:
    """``{field: why}`` for every parameter of :data:`PARAMETERS` that ``measurements``
    cannot determine (the fit keeps the base model's value)."""
    reasons = {p.field: _NEEDS[p.needs](measurements, model) for p in PARAMETERS}
    return {field: why for field, why in reasons.items() if why is not None}
