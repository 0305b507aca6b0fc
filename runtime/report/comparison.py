"""One table of several runs side by side: accuracy and the energy figures they measured."""

from __future__ import annotations

from ...crossbar import ENERGY_FIGURES
from ...hw_configs import format_joules
from ..run_file import RunRecord

__all__ = ["format_comparison"]

#: Accuracy columns, in order, where a run has them (``final`` keys → header).
_ACCURACIES = {
    "test_accuracy_trained": "acc (trained)",
    "test_accuracy": "acc (test)",
}
#: The recurrent runs' energy measure of the STPN paper.
_MEASURE = ("energy_measure_per_step", "sum|G|z^2/step")


def format_comparison(records: list[RunRecord], names: list[str]) -> str:
    """Runs as rows; columns: kind and tiles, accuracies, the paper's measure (recurrent
    runs) and every energy figure any of the runs measured (``-`` where a run has none)."""
    attrs = [f for f in ENERGY_FIGURES if any(f.run_attr in r.energy_attrs for r in records)]
    accuracies = [k for k in _ACCURACIES if any(k in r.final for r in records)]
    measure = any(_MEASURE[0] in r.final for r in records)
    header = ["run", "kind", *(_ACCURACIES[k] for k in accuracies)]
    header += [_MEASURE[1]] if measure else []
    header += [f.name for f in attrs]
    rows = []
    for record, name in zip(records, names, strict=True):
        what = record.kind + (f" {record.setup['cell']}" if "cell" in record.setup else "")
        row = [name, f"{what} ({record.setup.get('tiles', '?')})"]
        row += [_number(record.final.get(k), "{:.4f}") for k in accuracies]
        row += [_number(record.final.get(_MEASURE[0]), "{:.4g}")] if measure else []
        row += [
            format_joules(record.energy_attrs[f.run_attr])
            if f.run_attr in record.energy_attrs
            else "-"
            for f in attrs
        ]
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [header, *rows]
    ]
    meanings = [f"  {f.name}: {f.meaning}" for f in attrs]
    return "\n".join(["runs compared:", *lines, "", *meanings])


def _number(value, spec: str) -> str:
    return "-" if value is None else spec.format(value)
