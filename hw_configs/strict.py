"""Strict conversion of YAML mappings into typed, frozen parameter classes.

A parameter class is any dataclass (``equinox.Module`` included) whose fields are declared
with :func:`param` or :func:`section`. A field's SI unit is part of its name (``g_max_S``,
``t0_s``, ``read_voltage_V``, ``set_pulse_energy_J``); a YAML file may state the same value in a
prefixed unit by changing only the suffix (``g_max_uS: 25``, ``set_pulse_energy_pJ: 2``), and
the loader converts it to SI. Dimensionless fields carry no suffix.

Everything a user can get wrong fails here, with the file and the dotted key in the message:
unknown and missing keys, wrong types, non-finite numbers and values outside physical bounds.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import reprlib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = [
    "ConfigError",
    "InvalidParameter",
    "build",
    "param",
    "section",
    "read_yaml",
    "read_text",
    "parse_yaml",
    "unit_of",
    "describe",
    "dump",
    "brief",
    "written_key",
    "si_text",
    "MAX_ALIAS_EXPANSION",
    "round_si",
]

# SI prefixes a YAML key may use in place of the field's own unit; "u" and "µ" both mean micro.
_PREFIXES = {
    "G": 1e9,
    "M": 1e6,
    "k": 1e3,
    "": 1.0,
    "m": 1e-3,
    "u": 1e-6,
    "µ": 1e-6,
    "n": 1e-9,
    "p": 1e-12,
    "f": 1e-15,
}
_SI_UNITS = ("S", "s", "V", "J", "A", "Ohm", "Hz", "W")


class ConfigError(ValueError):
    """A configuration value is unusable; the message names the file and the key."""

    def __init__(self, source: str, key: str, message: str):
        self.source = source
        self.key = key
        self.message = message
        where = f"{source}: " if source else ""
        super().__init__(f"{where}key '{key}': {message}")


class InvalidParameter(ValueError):
    """Raised by a parameter class's own checks; :func:`build` adds the file and key path."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"key '{field}': {message}")


def param(
    doc: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    default: Any = dataclasses.MISSING,
    static: bool = False,
) -> Any:
    """A scalar parameter field with a docstring and physical bounds checked at load time."""
    metadata = {"doc": doc, "ge": ge, "gt": gt, "le": le, "lt": lt}
    if static:
        metadata["static"] = True
    return dataclasses.field(default=default, metadata=metadata)


def section(doc: str) -> Any:
    """A nested parameter class (a YAML mapping)."""
    return dataclasses.field(metadata={"doc": doc, "section": True})


def unit_of(field_name: str) -> str:
    """The SI unit encoded in a field name (``'g_max_S'`` → ``'S'``), or ``''``."""
    for unit in _SI_UNITS:
        if field_name.endswith("_" + unit):
            return unit
    return ""


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML file that must hold one mapping; errors name the file."""
    return parse_yaml(read_text(path), str(path))


def read_text(path: str | Path) -> str:
    """The text of a UTF-8 file; a missing or unreadable file is a ConfigError naming it."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "<file>", "file does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(str(path), "<file>", f"cannot be read ({err})") from None


def parse_yaml(text: str, source: str) -> dict[str, Any]:
    """Parse YAML ``text`` that must hold one mapping, strictly (no duplicate keys, bounded
    aliases); errors name ``source``."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(source, "<file>", f"malformed YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            source, "<file>", f"expected a mapping at the top level, got {_kind(data)}"
        )
    return data


#: Most YAML nodes that aliases (``*name``) may add to one document. Aliases share one parsed
#: object, but everything that walks the result (the strict checks, a deep copy, an error
#: message) walks every expansion: nine levels of nine aliases ("billion laughs") are 9^9
#: values from a few hundred bytes. No preset or job needs more than a few hundred.
MAX_ALIAS_EXPANSION = 100_000


class _AliasBomb(yaml.MarkedYAMLError):
    pass


class _StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last),
    aliases that expand beyond :data:`MAX_ALIAS_EXPANSION` nodes, and an alias inside the
    value it names (a recursive structure, which no parameter can hold)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._node_sizes: dict[int, int] = {}
        self._expanded = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None:  # an undefined alias is PyYAML's own error
                if node.end_mark is None:  # still being composed: the alias is inside it
                    raise _AliasBomb(
                        problem=f"alias *{event.anchor} refers to a value that contains it",
                        problem_mark=event.start_mark,
                    )
                self._expanded += self._size(node)
                if self._expanded > MAX_ALIAS_EXPANSION:
                    raise _AliasBomb(
                        problem=f"aliases (*{event.anchor} and others) expand the document "
                        f"beyond {MAX_ALIAS_EXPANSION} values; write the values out",
                        problem_mark=event.start_mark,
                    )
        return super().compose_node(parent, index)

    def _size(self, node) -> int:
        """Nodes in ``node`` with every alias expanded (memoised: aliases share nodes)."""
        size = self._node_sizes.get(id(node))
        if size is None:
            size = 1
            if isinstance(node, yaml.SequenceNode):
                size += sum(self._size(child) for child in node.value)
            elif isinstance(node, yaml.MappingNode):
                size += sum(self._size(k) + self._size(v) for k, v in node.value)
            self._node_sizes[id(node)] = size
        return size


def _mapping_without_duplicates(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # '<<: *base' (construct_mapping merges it; later keys override it)
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {brief(key)}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)

_BRIEF = reprlib.Repr()
_BRIEF.maxlevel, _BRIEF.maxlist, _BRIEF.maxtuple, _BRIEF.maxdict = 3, 6, 6, 4
_BRIEF.maxstring = _BRIEF.maxother = 80


def brief(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to at most ``limit`` characters (``…`` marks a cut).

    Built with :mod:`reprlib`, so a huge or deeply nested value costs no more than its first
    few items: a message never holds a whole file's worth of data.
    """
    text = _BRIEF.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {brief(value)}"


def _yaml_keys_for(name: str) -> list[str]:
    unit = unit_of(name)
    if not unit:
        return [name]
    base = name[: -len(unit)]
    return [base + prefix + unit for prefix in _PREFIXES]


def _lookup(mapping: Mapping[str, Any], name: str, source: str, path: str):
    """Find the YAML key for a field; return (key, value, SI factor) or None when absent."""
    unit = unit_of(name)
    found = [k for k in _yaml_keys_for(name) if k in mapping]
    if len(found) > 1:
        raise ConfigError(source, path + found[1], f"gives the same value as '{path}{found[0]}'")
    if not found:
        return None
    key = found[0]
    factor = _PREFIXES[key[len(name) - len(unit) : -len(unit)]] if unit else 1.0
    return key, mapping[key], factor


def _as_number(value: Any, source: str, key: str, want_int: bool) -> float | int:
    if isinstance(value, bool):
        raise ConfigError(source, key, f"expected a number, got {_kind(value)}")
    if isinstance(value, str):
        # YAML 1.1 reads 1e-6 (no dot, unsigned exponent) as a string; it is still a number.
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(source, key, f"expected a number, got {_kind(value)}") from None
    if not isinstance(value, int | float):
        raise ConfigError(source, key, f"expected a number, got {_kind(value)}")
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


def round_si(value: float) -> float:
    """``value`` rounded to 12 significant digits: what the loader makes of a value it converts
    from a prefixed unit.

    A unit conversion leaves float noise (250 ns × 1e-9 = 2.5000000000000004e-07 s); rounded,
    the value prints as the short number it was written as (2.5e-07). Values given in SI units
    are kept as read, so a program file (SI, written with each float's shortest repr) reads
    back exactly. 12 digits are far below any physical precision.
    """
    return float(f"{value:.12g}")


def _convert(tp: Any, value: Any, meta: Mapping[str, Any], factor: float, source: str, key: str):
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            raise ConfigError(source, key, f"expected one of {allowed}, got {_kind(value)}")
        return value
    if origin in (tuple, list):
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple) or not value:
            raise ConfigError(source, key, f"expected a non-empty list, got {_kind(value)}")
        item_tp = args[0]
        return tuple(
            _convert(item_tp, v, meta, factor, source, f"{key}[{i}]") for i, v in enumerate(value)
        )
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(args[0], value, meta, factor, source, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(source, key, f"expected true or false, got {_kind(value)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(source, key, f"expected text, got {_kind(value)}")
        return value
    if tp in (int, float):
        number = _as_number(value, source, key, want_int=tp is int)
        if tp is float and factor != 1.0:
            number = round_si(number * factor)
        _check_bounds(number, meta, source, key, meta.get("unit", ""))
        return number
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(source, key, f"expected a mapping, got {_kind(value)}")
        return build(tp, value, source=source, prefix=key + ".")
    raise TypeError(f"parameter type {tp!r} of key '{key}' is not supported by the loader")


def build(cls: type, mapping: Mapping[str, Any], *, source: str = "", prefix: str = "") -> Any:
    """Construct ``cls`` from ``mapping`` strictly.

    Args:
        cls: a dataclass whose fields were declared with :func:`param` / :func:`section`.
        mapping: the YAML mapping.
        source: the file name (or other origin) quoted in error messages.
        prefix: the dotted key path of ``mapping`` inside the file (for messages).
    """
    if not isinstance(mapping, Mapping):
        raise ConfigError(source, prefix.rstrip(".") or "<top>", "expected a mapping")
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    # Unknown keys first: a key with a wrong unit suffix (set_pulse_pV) is a typo to point
    # at, not a reason to report the field it failed to spell (set_pulse_J) as missing.
    spellings = [k for f in fields for k in _yaml_keys_for(f.name)]
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
            key = next((k for k in _yaml_keys_for(part) if k in node), part)
            node = node.get(key)
        else:
            node = None
        written.append(key)
    return ".".join(written)


def apply_overrides(
    mapping: Mapping[str, Any], overrides: Mapping[str, Any], *, source: str, what: str
) -> dict[str, Any]:
    """A copy of ``mapping`` with dotted keys replaced, e.g. {"periphery.adc.bits": 6}.

    Every key must already exist in ``mapping`` (so a typo cannot silently add a key); the
    result is then checked by :func:`build` like any file. ``what`` names the overrides in
    errors (e.g. "hardware.chip_overrides").
    """
    import copy

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
        unit = unit_of(field.name)
        rows.append((key, *_pretty(value, unit), doc))
    return rows


def si_text(value: float, unit: str) -> str:
    """``value`` (SI) with an engineering prefix for messages: ``si_text(2.5e-5, "S")`` is
    ``'25 µS'``."""
    return " ".join(_pretty(float(value), unit))


def _pretty(value: Any, unit: str) -> tuple[str, str]:
    if isinstance(value, tuple):
        # One prefix for the whole list, chosen from its largest entry.
        _, shown_unit = _pretty(max(value, key=abs), unit)
        scale = _PREFIXES[shown_unit[: -len(unit)]] if unit and shown_unit != unit else 1.0
        return "[" + ", ".join(f"{v / scale:.5g}" for v in value) + "]", shown_unit
    if not unit or not isinstance(value, float) or value == 0.0:
        return (f"{value:g}" if isinstance(value, float) else str(value)), unit
    for prefix in ("G", "M", "k", "", "m", "µ", "n", "p", "f"):
        scaled = value / _PREFIXES[prefix]
        if abs(scaled) >= 1.0 or prefix == "f":
            return f"{scaled:.4g}", prefix + unit
    return f"{value:g}", unit


def dump(obj: Any) -> dict[str, Any]:
    """The inverse of :func:`build`: a plain mapping that ``build(type(obj), ...)`` reads back.

    Keys are the field names (SI units, no prefixes), nested parameter classes become nested
    mappings, tuples become lists; values keep their Python types (int, float, bool, str, None).
    """
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise TypeError(f"dump expects a parameter class instance, got {type(obj).__name__}")
    return {f.name: _dump_value(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}


def _dump_value(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dump(value)
    if isinstance(value, tuple | list):
        return [_dump_value(v) for v in value]
    if hasattr(value, "shape") and hasattr(value, "item") and value.shape == ():
        return value.item()  # a NumPy or JAX scalar
    return value
