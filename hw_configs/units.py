"""SI units: the unit a field's name carries, the prefixes a YAML key may use, and the one
formatter of values with an engineering prefix (``format_si(2.56e-12, "J")`` is
``'2.56 pJ'``) that every report, summary, figure and message uses."""

from __future__ import annotations

import math

__all__ = [
    "SI_UNITS",
    "unit_of",
    "key_spellings",
    "key_factor",
    "round_si",
    "si_parts",
    "format_si",
    "format_joules",
]

#: The units a field name may end in (``g_max_S``, ``t0_s``, ``read_voltage_V``).
SI_UNITS = ("S", "s", "V", "J", "A", "Ohm", "Hz", "W")

# Prefixes as printed, largest first, with their factors.
_SHOWN = {
    "G": 1e9,
    "M": 1e6,
    "k": 1e3,
    "": 1.0,
    "m": 1e-3,
    "µ": 1e-6,
    "n": 1e-9,
    "p": 1e-12,
    "f": 1e-15,
}
# A YAML key may also write micro as "u" (g_max_uS), which a keyboard has.
_KEY_PREFIXES = {**_SHOWN, "u": 1e-6}


def unit_of(field_name: str) -> str:
    """The SI unit encoded in a field name (``'g_max_S'`` → ``'S'``), or ``''``."""
    for unit in SI_UNITS:
        if field_name.endswith("_" + unit):
            return unit
    return ""


def key_spellings(field_name: str) -> list[str]:
    """The YAML keys that may give a field: its name, and with a unit every prefixed variant
    (``g_max_S``: ``g_max_GS`` … ``g_max_uS``, ``g_max_µS`` … ``g_max_fS``)."""
    unit = unit_of(field_name)
    if not unit:
        return [field_name]
    base = field_name[: -len(unit)]
    return [base + prefix + unit for prefix in _KEY_PREFIXES]


def key_factor(key: str, field_name: str) -> float:
    """The factor that converts a value given under ``key`` (one of :func:`key_spellings`)
    to the field's SI unit (``'g_max_uS'`` for ``'g_max_S'`` → 1e-6)."""
    unit = unit_of(field_name)
    if not unit:
        return 1.0
    return _KEY_PREFIXES[key[len(field_name) - len(unit) : -len(unit)]]


def round_si(value: float) -> float:
    """``value`` rounded to 12 significant digits: what the loader makes of a value it converts
    from a prefixed unit.

    A unit conversion leaves float noise (250 ns × 1e-9 = 2.5000000000000004e-07 s); rounded,
    the value prints as the short number it was written as (2.5e-07). Values given in SI units
    are kept as read, so a program file (SI, written with each float's shortest repr) reads
    back exactly. 12 digits are far below any physical precision.
    """
    return float(f"{value:.12g}")


def _prefix(value: float) -> str:
    """The largest prefix that shows ``value`` as a number of magnitude ≥ 1 ("f" below; none
    for zero and non-finite values)."""
    if value == 0.0 or not math.isfinite(value):
        return ""
    return next((p for p, scale in _SHOWN.items() if abs(value / scale) >= 1.0), "f")


def si_parts(value: float, unit: str, *, like: float | None = None, digits: int = 4):
    """``(number, prefixed unit)`` of ``value`` (SI): ``si_parts(2.5e-5, "S")`` is
    ``('25', 'µS')``.

    Args:
        like: choose the prefix for this value instead (one prefix for a list of values).
        digits: significant digits of the number.
    """
    prefix = _prefix(value if like is None else like)
    return f"{value / _SHOWN[prefix]:.{digits}g}", prefix + unit


def format_si(value: float, unit: str) -> str:
    """``value`` (SI) with an engineering prefix: ``format_si(2.56e-12, "J")`` is
    ``'2.56 pJ'``, ``format_si(0.0, "J")`` is ``'0 J'``."""
    return " ".join(si_parts(float(value), unit))


def format_joules(value_J: float) -> str:
    """An energy with an engineering prefix: ``format_joules(2e-12)`` is ``'2 pJ'``."""
    return format_si(value_J, "J")
