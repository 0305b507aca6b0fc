"""The points of a sweep: axes of job keys, their product (or zip), and each point's job.

An axis is a dotted job key and its values, written ``KEY=V1,V2,...`` or, for integers,
``KEY=START:STOP[:STEP]`` (STOP excluded, as Python's ``range``). Values are YAML scalars
(``4``, ``0.5``, ``true``, ``pcm``). The points are the product of the axes, the first axis
varying slowest; axes named together in a zip group advance together instead (equal lengths),
as one axis of the product.

A key is a path through the job's mappings (``training.epochs``); below a mapping of
``*_overrides`` (``hardware.chip_overrides``, ``hardware.device_overrides``), whose keys are
themselves dotted, the rest of the path is one key: ``hardware.chip_overrides.periphery.adc.bits``
sets ``periphery.adc.bits`` in ``chip_overrides``. Whether a key exists and its value is
allowed is the strict loader's business: a point's job text is loaded like any job file, and
its errors name the key.
"""

from __future__ import annotations

import dataclasses
import itertools
import re

import yaml

from ...hw_configs import parse_yaml

__all__ = [
    "Axis",
    "parse_axis",
    "sweep_points",
    "apply_override",
    "point_job_text",
    "sweep_section",
    "merge_axes",
]

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_RANGE = re.compile(r"^(-?\d+):(-?\d+)(?::(-?\d+))?$")


@dataclasses.dataclass(frozen=True)
class Axis:
    """A dotted job key and the values a sweep gives it, in order."""

    key: str
    values: tuple

    def __post_init__(self):
        if not _KEY.match(self.key):
            raise ValueError(f"sweep axis: {self.key!r} is not a dotted job key (a.b.c)")
        if not self.values:
            raise ValueError(f"sweep axis {self.key}: no values")
        if len(set(map(repr, self.values))) != len(self.values):
            raise ValueError(f"sweep axis {self.key}: a value is repeated")


def _scalar(text: str, key: str):
    value = yaml.safe_load(text) if text.strip() else None
    if value is None or isinstance(value, dict | list):
        raise ValueError(f"sweep axis {key}: {text!r} is not a number, boolean or word")
    return value


def parse_axis(text: str) -> Axis:
    """``KEY=V1,V2,...`` or ``KEY=START:STOP[:STEP]`` → :class:`Axis` (errors name ``text``)."""
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not values.strip():
        raise ValueError(f"sweep axis {text!r}: expected KEY=V1,V2,... or KEY=START:STOP[:STEP]")
    span = _RANGE.match(values.strip())
    if span:
        start, stop, step = int(span[1]), int(span[2]), int(span[3] or 1)
        if step == 0 or not range(start, stop, step):
            raise ValueError(f"sweep axis {text!r}: the range {values.strip()} is empty")
        return Axis(key, tuple(range(start, stop, step)))
    return Axis(key, tuple(_scalar(v, key) for v in values.split(",")))


def sweep_section(job_text: str, source: str) -> tuple[list[Axis], list[tuple[str, ...]]]:
    """The axes and zip groups of a job file's ``sweep:`` section (none if it has none)::

        sweep:
          over:
            seed: 0:8                                       # START:STOP[:STEP], or
            hardware.chip_overrides.periphery.adc.bits: [4, 6, 8]   # a list, or "4,6,8"
          zip: [[key1, key2]]                               # optional: paired axes

    ``memxbar run`` ignores the section; errors name ``source`` and the key.
    """
    section = parse_yaml(job_text, source).get("sweep")
    if section is None:
        return [], []
    if not isinstance(section, dict) or set(section) - {"over", "zip"}:
        raise ValueError(f"{source}: sweep: expected a mapping with 'over' (and 'zip')")
    over = section.get("over") or {}
    if not isinstance(over, dict):
        raise ValueError(f"{source}: sweep.over: expected a mapping of job key to values")
    axes = []
    for key, values in over.items():
        where = f"{source}: sweep.over.{key}"
        if isinstance(values, list):
            if any(v is None or isinstance(v, dict | list) for v in values):
                raise ValueError(f"{where}: values must be numbers, booleans or words")
            text = None
        elif isinstance(values, str | int):
            text = f"{key}={values}"
        else:
            raise ValueError(f"{where}: expected a list, START:STOP[:STEP] or V1,V2,...")
        try:
            axes.append(Axis(str(key), tuple(values)) if text is None else parse_axis(text))
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
    groups = section.get("zip") or []
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and all(isinstance(k, str) for k in g) for g in groups
    ):
        raise ValueError(f"{source}: sweep.zip: expected a list of lists of axis keys")
    return axes, [tuple(g) for g in groups]


def merge_axes(file_axes: list[Axis], given: list[Axis]) -> list[Axis]:
    """The job file's axes with the ``given`` ones (the command line's) added; a given axis
    replaces the file's axis of the same key, in place."""
    by_key = {a.key: a for a in given}
    merged = [by_key.pop(a.key, a) for a in file_axes]
    return merged + [a for a in given if a.key in by_key]


def sweep_points(axes: list[Axis], zipped: list[tuple[str, ...]] = ()) -> list[dict]:
    """Every point, as {key: value} in axis order: the product of the axes, where the keys of
    each ``zipped`` group advance together (as one axis placed at its first key)."""
    by_key = {a.key: a for a in axes}
    if len(by_key) != len(axes):
        raise ValueError("sweep: an axis key is given twice")
    group_of = {}
    for group in zipped:
        if len(group) < 2:
            raise ValueError(f"sweep zip {','.join(group)}: name at least two axes")
        for key in group:
            if key not in by_key:
                raise ValueError(f"sweep zip: {key} is not an axis (give it with --over)")
            if key in group_of:
                raise ValueError(f"sweep zip: {key} is in two groups")
            group_of[key] = tuple(group)
        lengths = {len(by_key[k].values) for k in group}
        if len(lengths) != 1:
            raise ValueError(
                f"sweep zip {','.join(group)}: the axes must have as many values, got "
                + ", ".join(f"{k} {len(by_key[k].values)}" for k in group)
            )
    factors, seen = [], set()
    for axis in axes:
        group = group_of.get(axis.key, (axis.key,))
        if group in seen:
            continue
        seen.add(group)
        columns = [by_key[k].values for k in group]
        factors.append([dict(zip(group, row, strict=True)) for row in zip(*columns, strict=True)])
    points = []
    for combination in itertools.product(*factors):
        point = {}
        for part in combination:
            point |= part
        points.append({a.key: point[a.key] for a in axes})
    return points


def apply_override(mapping: dict, key: str, value) -> dict:
    """A copy of the job ``mapping`` with the dotted ``key`` set to ``value`` (see the module
    docstring for keys below ``*_overrides``). Missing mappings on the way are created."""
    out = dict(mapping)
    node = out
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = {}
        elif not isinstance(child, dict):
            where = ".".join(parts[: i + 1])
            raise ValueError(f"sweep axis {key}: {where} is a value, not a section")
        child = dict(child)
        node[part] = child
        node = child
        if part.endswith("_overrides"):
            node[".".join(parts[i + 1 :])] = value
            return out
    node[parts[-1]] = value
    return out


def point_job_text(job_text: str, point: dict, source: str) -> str:
    """The YAML text of the job ``job_text`` with the ``point``'s keys set (a ``seed`` key sets
    the job's seed). The text is read as job files are (:func:`~memxbar.hw_configs.parse_yaml`:
    its errors name ``source``); a ``sweep`` section is dropped (a point is one run)."""
    mapping = parse_yaml(job_text, source)
    mapping.pop("sweep", None)
    for key, value in point.items():
        mapping = apply_override(mapping, key, value)
    return yaml.safe_dump(mapping, sort_keys=False)
