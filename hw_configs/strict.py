"""Strict conversion of YAML mappings into typed, frozen parameter classes.

A parameter class is any dataclass (``equinox.Module`` included) whose fields are declared
with :func:`param` or :func:`section`. A field's SI unit is part of its name (``g_max_S``,
``t0_s``, ``read_voltage_V``, ``set_pulse_energy_J``); a YAML file may state the same value in a
prefixed unit by changing only the suffix (``g_max_uS: 25``, ``set_pulse_energy_pJ: 2``), and
the loader converts it to SI. Dimensionless fields carry no suffix.

The field types the loader reads: ``bool``, ``int``, ``float``, ``str``; ``Literal[...]``;
``X | None``; a union of scalar types such as :data:`Scalar` (the value's own type picks
one); ``tuple[X, ...]`` (a list, non-empty unless the field says ``nonempty=False``);
``tuple[X, Y]`` (a list of exactly that length; with ``repeat=True`` one value stands for
all, ``kernel_size: 5``); :data:`Pairs` (a free-form mapping with text keys); a nested
parameter class (a mapping); and ``Annotated[Base, OneOf(tag, variants)]`` (a mapping whose
``tag`` key chooses the class, ``{type: dense, ...}``).

Everything a user can get wrong fails here, with the file and the dotted key in the message:
unknown and missing keys, wrong types, non-finite numbers and values outside physical bounds.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from .errors import ConfigError, InvalidParameter, kind_of
from .fields import OneOf, one_of_in, pairs_value_type
from .units import key_factor, key_spellings, round_si, unit_of

__all__ = ["build", "build_within", "written_key"]


def build(cls: type, mapping: Mapping[str, Any], *, source: str = "", prefix: str = "") -> Any:
    """Construct ``cls`` from ``mapping`` strictly.

    Args:
        cls: a dataclass whose fields were declared with :func:`param` / :func:`section`, or
            ``Annotated[Base, OneOf(...)]`` (the mapping's tag chooses the class).
        mapping: the YAML mapping.
        source: the file name (or other origin) quoted in error messages.
        prefix: the dotted key path of ``mapping`` inside the file (for messages).
    """
    one_of = one_of_in(cls)
    if one_of is not None:
        return _build_one_of(one_of, mapping, source, prefix)
    if not isinstance(mapping, Mapping):
        where = prefix.rstrip(".") or "<top>"
        raise ConfigError(source, where, f"expected a mapping, got {kind_of(mapping)}")
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = [f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("attached")]
    # Unknown keys first: a key with a wrong unit suffix (set_pulse_pV) is a typo to point
    # at, not a reason to report the field it failed to spell (set_pulse_J) as missing.
    spellings = [k for f in fields for k in key_spellings(f.name)]
    unknown = [k for k in mapping if k not in spellings]
    if unknown:
        allowed = sorted(f.name for f in fields)
        close = difflib.get_close_matches(str(unknown[0]), spellings, n=1, cutoff=0.75)
        hint = f"did you mean '{prefix}{close[0]}'? " if close else ""
        raise ConfigError(
            source,
            prefix + str(unknown[0]),
            f"is not a known key here ({hint}known: {', '.join(allowed)})",
        )
    kwargs: dict[str, Any] = {}
    for field in fields:
        found = _lookup(mapping, field.name, source, prefix)
        if found is None:
            if field.default is not dataclasses.MISSING:
                continue
            expected = field.name
            doc = field.metadata.get("doc", "")
            hint = f" ({doc})" if doc else ""
            raise ConfigError(source, prefix + expected, f"is missing{hint}")
        key, value, factor = found
        kwargs[field.name] = _convert(
            hints[field.name],
            value,
            {**field.metadata, "unit": unit_of(field.name)},
            factor,
            source,
            prefix + key,
        )
    try:
        return cls(**kwargs)
    except InvalidParameter as err:
        raise ConfigError(source, prefix + written_key(mapping, err.field), err.message) from None


def build_within(cls: type, mapping: Mapping[str, Any], *, key: str) -> Any:
    """:func:`build` for a mapping found at ``key`` inside something loaded before (the params
    of a rule in a network): the file is not known here, so an error is an
    :class:`InvalidParameter` whose ``field`` is the full dotted key, for the caller that
    knows the file to name it."""
    try:
        return build(cls, mapping, prefix=key + ".")
    except ConfigError as err:
        raise InvalidParameter(err.key, err.message) from None


_WORDS = {bool: "true/false", int: "an integer", float: "a number", str: "text"}


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float)


def _build_one_of(one_of: OneOf, mapping: Any, source: str, prefix: str) -> Any:
    """The variant that ``mapping``'s tag names, built strictly from its other keys."""
    if not isinstance(mapping, Mapping):
        where = prefix.rstrip(".") or "<top>"
        raise ConfigError(source, where, f"expected a mapping, got {kind_of(mapping)}")
    names = ", ".join(one_of.variants)
    if one_of.tag not in mapping:
        raise ConfigError(source, prefix + one_of.tag, f"is missing (one of: {names})")
    name = mapping[one_of.tag]
    if not isinstance(name, str) or name not in one_of.variants:
        raise ConfigError(
            source, prefix + one_of.tag, f"expected one of {names}, got {kind_of(name)}"
        )
    rest = {k: v for k, v in mapping.items() if k != one_of.tag}
    return build(one_of.variants[name], rest, source=source, prefix=prefix)


def _convert(tp: Any, value: Any, meta: Mapping[str, Any], factor: float, source: str, key: str):
    origin = typing.get_origin(tp)
    if origin is Annotated:
        one_of = one_of_in(tp)
        if one_of is None:
            return _convert(tp.__origin__, value, meta, factor, source, key)
        return _build_one_of(one_of, value, source, key + ".")
    if origin is Literal:
        return _literal(typing.get_args(tp), value, source, key)
    if origin in (tuple, list):
        return _sequence(tp, value, meta, factor, source, key)
    if origin in (types.UnionType, typing.Union):
        return _union(typing.get_args(tp), value, meta, factor, source, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(source, key, f"expected true or false, got {kind_of(value)}")
        return value
    if tp is str:
        if not isinstance(value, str) or (meta.get("nonempty") and not value):
            what = "non-empty text" if meta.get("nonempty") else "text"
            raise ConfigError(source, key, f"expected {what}, got {kind_of(value)}")
        return value
    if tp in (int, float):
        number = _as_number(value, source, key, want_int=tp is int)
        if tp is float and factor != 1.0:
            number = round_si(number * factor)
        _check_bounds(number, meta, source, key, meta.get("unit", ""))
        return number
    if dataclasses.is_dataclass(tp):
        shorthand = meta.get("shorthand")
        if shorthand is not None and _is_scalar(value):
            value = {shorthand: value}
        if not isinstance(value, Mapping):
            raise ConfigError(source, key, f"expected a mapping, got {kind_of(value)}")
        return build(tp, value, source=source, prefix=key + ".")
    raise TypeError(f"parameter type {tp!r} of key '{key}' is not supported by the loader")


def _literal(choices: tuple, value: Any, source: str, key: str):
    # By type as well: True == 1, but a flag is not the version number 1.
    if any(type(value) is type(c) and value == c for c in choices):
        return value
    shown = ", ".join(repr(c) for c in choices)
    expected = shown if len(choices) == 1 else f"one of {shown}"
    raise ConfigError(source, key, f"expected {expected}, got {kind_of(value)}")


def _sequence(tp: Any, value: Any, meta: Mapping[str, Any], factor, source: str, key: str):
    value_tp = pairs_value_type(tp)
    if value_tp is not None:
        return _pairs(value_tp, value, source, key)
    args = typing.get_args(tp)
    if typing.get_origin(tp) is list:
        args = (args[0], ...)
    if len(args) == 2 and args[1] is Ellipsis:
        nonempty = meta.get("nonempty", True)
        if not isinstance(value, list | tuple) or (nonempty and not value):
            what = "a non-empty list" if nonempty else "a list"
            raise ConfigError(source, key, f"expected {what}, got {kind_of(value)}")
        item_types = [args[0]] * len(value)
    else:
        if meta.get("repeat") and _is_scalar(value):
            value = [value] * len(args)
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise ConfigError(
                source, key, f"expected a list of {len(args)} values, got {kind_of(value)}"
            )
        item_types = args
    return tuple(
        _convert(t, v, meta, factor, source, f"{key}[{i}]")
        for i, (t, v) in enumerate(zip(item_types, value, strict=True))
    )


def _pairs(value_tp: Any, value: Any, source: str, key: str) -> tuple[tuple[str, Any], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError(source, key, f"expected a mapping, got {kind_of(value)}")
    pairs = []
    for name, item in value.items():
        where = f"{key}.{name}"
        if not isinstance(name, str):
            raise ConfigError(source, where, f"expected a text key, got {kind_of(name)}")
        pairs.append((name, _convert(value_tp, item, {}, 1.0, source, where)))
    return tuple(sorted(pairs, key=lambda pair: pair[0]))


def _union(args: tuple, value: Any, meta: Mapping[str, Any], factor, source: str, key: str):
    options = [a for a in args if a is not type(None)]
    if value is None and len(options) < len(args):
        return None
    if len(options) == 1:
        return _convert(options[0], value, meta, factor, source, key)
    for option in options:
        if type(value) is option:
            return _convert(option, value, meta, factor, source, key)
    words = [_WORDS.get(o, getattr(o, "__name__", str(o))) for o in options]
    expected = f"{', '.join(words[:-1])} or {words[-1]}"
    raise ConfigError(source, key, f"expected {expected}, got {kind_of(value)}")


def _lookup(mapping: Mapping[str, Any], name: str, source: str, path: str):
    """Find the YAML key for a field; return (key, value, SI factor) or None when absent."""
    found = [k for k in key_spellings(name) if k in mapping]
    if len(found) > 1:
        raise ConfigError(source, path + found[1], f"gives the same value as '{path}{found[0]}'")
    if not found:
        return None
    key = found[0]
    return key, mapping[key], key_factor(key, name)


def _as_number(value: Any, source: str, key: str, want_int: bool) -> float | int:
    if isinstance(value, bool):
        raise ConfigError(source, key, f"expected a number, got {kind_of(value)}")
    if isinstance(value, str):
        # YAML 1.1 reads 1e-6 (no dot, unsigned exponent) as a string; it is still a number.
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(source, key, f"expected a number, got {kind_of(value)}") from None
    if not isinstance(value, int | float):
        raise ConfigError(source, key, f"expected a number, got {kind_of(value)}")
    try:
        float(value)
    except OverflowError:
        raise ConfigError(
            source,
            key,
            f"expected a finite number, got an integer of {len(str(abs(value)))} digits",
        ) from None
    if not math.isfinite(value):
        raise ConfigError(source, key, f"expected a finite number, got {value!r}")
    if want_int:
        if float(value) != int(value):
            raise ConfigError(source, key, f"expected an integer, got {value!r}")
        return int(value)
    return float(value)


def _check_bounds(value: float, meta: Mapping[str, Any], source: str, key: str, unit: str):
    suffix = f" {unit}" if unit else ""
    checks = (
        ("ge", lambda b: value >= b, "≥"),
        ("gt", lambda b: value > b, ">"),
        ("le", lambda b: value <= b, "≤"),
        ("lt", lambda b: value < b, "<"),
    )
    for name, ok, symbol in checks:
        bound = meta.get(name)
        if bound is not None and not ok(bound):
            raise ConfigError(
                source,
                key,
                f"must be {symbol} {_number_text(bound)}{suffix}, "
                f"got {_number_text(value)}{suffix}",
            )


def _number_text(x: float | int) -> str:
    # Integers in full (a seed bound of 4294967295, not 4.29497e+09) unless absurdly long.
    if isinstance(x, int) and abs(x) < 10**21:
        return str(x)
    return f"{x:g}"


def written_key(mapping: Any, dotted_field: str) -> str:
    """The dotted key as ``mapping`` spells it, for a dotted path of field names.

    ``written_key({"update": {"g_weight_max_uS": 8}}, "update.g_weight_max_S")`` is
    ``'update.g_weight_max_uS'``. Parts the mapping does not hold (and list indices such as
    ``groups[1]``) are kept as given.
    """
    parts = dotted_field.split(".")
    written = []
    node = mapping
    for part in parts:
        key = part
        if isinstance(node, Mapping):
            key = next((k for k in key_spellings(part) if k in node), part)
            node = node.get(key)
        else:
            node = None
        written.append(key)
    return ".".join(written)
