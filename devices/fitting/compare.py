"""Two device models' parameters side by side."""

from __future__ import annotations

from ...hw_configs import describe, dump
from ..abstract import AbstractDevice

__all__ = ["compare_rows"]


def _flat(mapping: dict, prefix: str = "") -> dict:
    """A nested mapping as {dotted key: value}."""
    out = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def compare_rows(a: AbstractDevice, b: AbstractDevice) -> list[tuple[str, str, str, bool]]:
    """Rows ``(key, value in a, value in b, differs)`` of every parameter either model has
    (``a``'s order, then ``b``'s extra keys), the description left out. Values are shown with
    an engineering prefix and their unit ('—' where a model lacks the key); ``differs``
    compares the exact values, so a difference below the shown digits is still marked."""
    shown_a = {key: f"{value} {unit}".strip() for key, value, unit, _ in describe(a)}
    shown_b = {key: f"{value} {unit}".strip() for key, value, unit, _ in describe(b)}
    exact_a, exact_b = _flat(dump(a)), _flat(dump(b))
    keys = list(shown_a) + [k for k in shown_b if k not in shown_a]
    return [
        (key, shown_a.get(key, "—"), shown_b.get(key, "—"), exact_a.get(key) != exact_b.get(key))
        for key in keys
        if key != "description"
    ]
