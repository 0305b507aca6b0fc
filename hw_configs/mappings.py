"""Plain mappings to and from parameter classes, around the strict loader: :func:`dump` (the
inverse of :func:`~.strict.build`), :func:`describe` (rows of a parameter table) and
:func:`apply_overrides` (dotted-key edits of a mapping before it is built)."""

from __future__ import annotations

import copy
import dataclasses
import typing
from collections.abc import Mapping
from typing import Annotated, Any

from .errors import ConfigError
from .fields import one_of_in, pairs_value_type
from .units import si_parts, unit_of

__all__ = ["dump", "describe", "apply_overrides"]


def apply_overrides(
    mapping: Mapping[str, Any], overrides: Mapping[str, Any], *, source: str, what: str
) -> dict[str, Any]:
    """A copy of ``mapping`` with dotted keys replaced, e.g. {"periphery.adc.bits": 6}.

    Every key must already exist in ``mapping`` (so a typo cannot silently add a key); the
    result is then checked by :func:`build` like any file. ``what`` names the overrides in
    errors (e.g. "hardware.chip_overrides").
    """
    result = copy.deepcopy(dict(mapping))
    for dotted, value in overrides.items():
        node = result
        parts = str(dotted).split(".")
        for i, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                known = ", ".join(sorted(node)) if isinstance(node, dict) else "none"
                raise ConfigError(
                    source,
                    f"{what}.{dotted}",
                    f"'{'.'.join(parts[: i + 1])}' is not a key of the preset (known: {known})",
                )
            if i == len(parts) - 1:
                node[part] = value
            else:
                node = node[part]
    return result


def describe(obj: Any, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Rows ``(key, value, unit, doc)`` for every parameter of a parameter class instance.

    Values in siemens, joules and seconds are shown with an engineering prefix.
    """
    rows = []
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        key = prefix + field.name
        doc = field.metadata.get("doc", "")
        if dataclasses.is_dataclass(value):
            rows.extend(describe(value, key + "."))
            continue
        rows.append((key, *_pretty(value, unit_of(field.name)), doc))
    return rows


def _pretty(value: Any, unit: str) -> tuple[str, str]:
    if value is None:  # an optional parameter not given (another one stands for it)
        return "-", ""
    if isinstance(value, tuple):
        # One prefix for the whole list, chosen from its largest entry.
        largest = max(value, key=abs)
        if not unit or not isinstance(largest, float):
            return "[" + ", ".join(f"{v:.5g}" for v in value) + "]", unit
        shown = [si_parts(v, unit, like=largest, digits=5) for v in value]
        return "[" + ", ".join(number for number, _ in shown) + "]", shown[0][1]
    if not unit or not isinstance(value, float):
        return (f"{value:g}" if isinstance(value, float) else str(value)), unit
    return si_parts(value, unit)


def dump(obj: Any) -> dict[str, Any]:
    """The inverse of :func:`build`: a plain mapping that ``build(type(obj), ...)`` reads back.

    Keys are the field names (SI units, no prefixes), nested parameter classes become nested
    mappings (with their tag when the field is a :class:`OneOf`), tuples become lists and
    :data:`Pairs` mappings; values keep their Python types (int, float, bool, str, None).
    """
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise TypeError(f"dump expects a parameter class instance, got {type(obj).__name__}")
    hints = typing.get_type_hints(type(obj), include_extras=True)
    return {
        f.name: _dump_value(getattr(obj, f.name), hints.get(f.name))
        for f in dataclasses.fields(obj)
        if f.init and not f.metadata.get("attached")
    }


def _dump_value(value: Any, tp: Any) -> Any:
    one_of = one_of_in(tp)
    if one_of is not None:
        return {one_of.tag: one_of.name_of(value), **dump(value)}
    if typing.get_origin(tp) is Annotated:
        return _dump_value(value, tp.__origin__)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dump(value)
    if isinstance(value, tuple | list):
        pair_tp = pairs_value_type(tp)
        if pair_tp is not None:
            return {k: _dump_value(v, pair_tp) for k, v in value}
        args = typing.get_args(tp) if typing.get_origin(tp) in (tuple, list) else ()
        variable = len(args) == 2 and args[1] is Ellipsis
        item_types = [args[0]] * len(value) if variable else list(args)
        if len(item_types) != len(value):
            item_types = [None] * len(value)
        return [_dump_value(v, t) for v, t in zip(value, item_types, strict=True)]
    if hasattr(value, "shape") and hasattr(value, "item") and value.shape == ():
        return value.item()  # a NumPy or JAX scalar
    return value
