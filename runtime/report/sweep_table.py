"""The table of a sweep: one row per point (``memxbar sweep`` and ``memxbar report``)."""

from __future__ import annotations

import numpy as np

__all__ = ["format_sweep_table"]

#: The /final metrics the table shows when the runs have them, in this order.
_HEADLINE = ("test_accuracy", "training_energy_J")


def _number(value) -> str:
    """A point's value, or '-' for a point not run yet (NaN)."""
    return "-" if np.isnan(value) else f"{value:.4g}"


def format_sweep_table(record) -> str:
    """One row per point: its axis values, then the headline metrics and energies."""
    metrics = [m for m in _HEADLINE if m in record.final]
    energies = sorted(record.energy)
    header = [*record.keys, *metrics, *energies]
    rows = []
    for i, point in enumerate(record.points):
        values = [str(point[k]) for k in record.keys]
        values += [_number(record.final[name][i]) for name in metrics]
        values += [_number(record.energy[name][i]) for name in energies]
        rows.append(values)
    widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)
