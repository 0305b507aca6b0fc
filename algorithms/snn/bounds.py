"""The bounds of a parameter class's fields, checked on an instance built in code.

:func:`memxbar.hw_configs.build` checks the bounds declared with ``param(ge=..., gt=...)``
when it reads a file; an engine module built in code (``LIF(tau_m_s=0.0)``) skips the
loader, so its ``__check_init__`` calls :func:`check_bounds` on the same declarations.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
import typing

import jax

from ...hw_configs import InvalidParameter, brief

__all__ = ["check_bounds", "check_ordered"]

_BOUNDS = (("ge", operator.ge, "≥"), ("gt", operator.gt, ">"), ("le", operator.le, "≤"))
_BOUNDS += (("lt", operator.lt, "<"),)


@functools.cache
def _bounded_fields(cls) -> tuple[tuple[str, bool, tuple], ...]:
    """(name, must be an integer, ((symbol, test, bound), ...)) of every bounded field."""
    hints = typing.get_type_hints(cls)
    out = []
    for field in dataclasses.fields(cls):
        checks = tuple(
            (symbol, test, field.metadata[name])
            for name, test, symbol in _BOUNDS
            if field.metadata.get(name) is not None
        )
        if checks:
            out.append((field.name, hints[field.name] is int, checks))
    return tuple(out)


def check_bounds(module) -> None:
    """Raise InvalidParameter(field, ...) for the first field of ``module`` (a parameter class
    instance) that is not a finite number within its declared bounds (an integer where the
    field is an ``int``). Traced values (under jit or vmap) are not checked."""
    for name, integer, checks in _bounded_fields(type(module)):
        value = getattr(module, name)
        if isinstance(value, jax.core.Tracer):
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidParameter(name, f"expected a number, got {brief(value)}")
        if integer and not isinstance(value, int):
            raise InvalidParameter(name, f"expected an integer, got {brief(value)}")
        if not math.isfinite(value):
            raise InvalidParameter(name, f"expected a finite number, got {value!r}")
        for symbol, test, bound in checks:
            if not test(value, bound):
                raise InvalidParameter(name, f"must be {symbol} {bound:g}, got {value:g}")


def check_ordered(module, low: str, high: str, unit: str = "") -> None:
    """Raise InvalidParameter(high, ...) unless field ``high`` of ``module`` exceeds field
    ``low`` (e.g. w_max over w_min); ``unit`` is appended to the numbers in the message."""
    lo, hi = getattr(module, low), getattr(module, high)
    if isinstance(lo, jax.core.Tracer) or isinstance(hi, jax.core.Tracer):
        return
    if not hi > lo:
        raise InvalidParameter(high, f"must exceed {low} ({lo:g}{unit}), got {hi:g}{unit}")
