"""Figures of a sweep: accuracy and energy against each swept key, mean ± std over seeds.

For every axis other than ``seed`` one PNG: a panel per quantity (the test accuracy and the
energy figures the runs report), the axis on x, one line per combination of the other
non-seed axes, each marker the mean over the seeds of the points there and its bar the
standard deviation (ddof 1; none for a single seed). A sweep over seeds alone gets one PNG:
each quantity's value per seed, with its mean and ± std band.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ...hw_configs import format_si
from .figure_files import make_output_dir, save_figure

__all__ = ["write_sweep_plots", "sweep_series", "plotted_quantities"]

SEED = "seed"


def plotted_quantities(record) -> list[tuple[str, np.ndarray, str]]:
    """(name, per-point values, unit) of what the figures show: the test accuracy (when the
    runs have one) and every energy figure."""
    out = []
    if "test_accuracy" in record.final:
        out.append(("test_accuracy", record.final["test_accuracy"], ""))
    for name in sorted(record.energy):
        out.append((name, record.energy[name], "J"))
    return out


def sweep_series(record, x_key: str, values: np.ndarray) -> dict[str, tuple]:
    """{line label: (x values, means, stds, seeds per x)} of ``values`` against ``x_key``:
    points grouped by the other non-seed axes (the label), averaged over the seeds. Points
    not run (NaN) are left out."""
    others = [k for k in record.keys if k not in (x_key, SEED)]
    groups: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    for i, point in enumerate(record.points):
        if np.isfinite(values[i]):
            label = ", ".join(f"{k}={point[k]}" for k in others)
            groups[label][point[x_key]].append(float(values[i]))
    series = {}
    for label, by_x in groups.items():
        xs = list(by_x)
        samples = [np.asarray(by_x[x]) for x in xs]
        means = np.array([s.mean() for s in samples])
        stds = np.array([s.std(ddof=1) if len(s) > 1 else 0.0 for s in samples])
        series[label] = (xs, means, stds, np.array([len(s) for s in samples]))
    return series


def _x_positions(xs: list, every_x: list) -> tuple[np.ndarray, list | None]:
    """Numeric x as is; words placed at their index in the axis (and the tick labels)."""
    if all(isinstance(x, int | float) and not isinstance(x, bool) for x in every_x):
        return np.asarray(xs, float), None
    order = [str(x) for x in every_x]
    return np.asarray([order.index(str(x)) for x in xs], float), order


def _axis_figure(record, x_key: str) -> Figure:
    quantities = plotted_quantities(record)
    every_x = list(dict.fromkeys(p[x_key] for p in record.points))
    fig = Figure(figsize=(4.2 * len(quantities), 3.6), layout="constrained")
    for j, (name, values, unit) in enumerate(quantities):
        ax = fig.add_subplot(1, len(quantities), j + 1)
        for label, (xs, means, stds, counts) in sweep_series(record, x_key, values).items():
            pos, ticks = _x_positions(xs, every_x)
            seeds = f" ({counts.max()} seeds)" if counts.max() > 1 else ""
            ax.errorbar(pos, means, yerr=stds, marker="o", capsize=3, label=f"{label}{seeds}")
            if ticks is not None:
                ax.set_xticks(range(len(ticks)), ticks)
        ax.set_xlabel(x_key)
        ax.set_ylabel(f"{name} ({unit})" if unit else name)
        ax.set_title(name, fontsize=9)
        if any(ax.get_legend_handles_labels()[1]):
            ax.legend(fontsize=7, loc="best")
    fig.suptitle("mean ± std over seeds" if SEED in record.keys else "", fontsize=9)
    return fig


def _seed_figure(record) -> Figure:
    quantities = plotted_quantities(record)
    seeds = np.asarray([p[SEED] for p in record.points], float)
    fig = Figure(figsize=(4.2 * len(quantities), 3.4), layout="constrained")
    for j, (name, values, unit) in enumerate(quantities):
        ax = fig.add_subplot(1, len(quantities), j + 1)
        done = np.isfinite(values)
        ax.plot(seeds[done], values[done], "o")
        if done.sum() > 1:
            mean, std = values[done].mean(), values[done].std(ddof=1)
            ax.axhline(mean, color="k", lw=1)
            ax.axhspan(mean - std, mean + std, color="k", alpha=0.1)
            shown = format_si(mean, unit) if unit else f"{mean:.4g}"
            ax.set_title(f"{name}: mean {shown}, std {std / abs(mean):.1%}", fontsize=9)
        ax.set_xlabel("seed (chip)")
        ax.set_ylabel(f"{name} ({unit})" if unit else name)
    return fig


def write_sweep_plots(record, out_dir: str | Path, *, prefix: str = "") -> list[Path]:
    """Write the sweep's PNGs into ``out_dir``: ``{prefix}vs_<key>.png`` per non-seed axis,
    or ``{prefix}over_seeds.png`` for a sweep over seeds alone. Returns their paths."""
    out_dir = make_output_dir(out_dir)
    if not plotted_quantities(record) or not record.done.any():
        return []
    axes = [k for k in record.keys if k != SEED]
    if not axes:
        return [save_figure(_seed_figure(record), out_dir / f"{prefix}over_seeds.png")]
    return [
        save_figure(_axis_figure(record, key), out_dir / f"{prefix}vs_{key}.png") for key in axes
    ]
