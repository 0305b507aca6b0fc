"""Figures of a device fit and of a comparison of presets.

A fit's figures put the measured devices beside devices simulated with the fitted model and
with the base model, measured the same way (:func:`memxbar.devices.fitting.synthesize` on the
data's design): SET curves (mean ± std over devices against pulse number), drift (mean ± std
against read time after the last pulse) and read noise (relative std of repeated reads
against conductance). A comparison overlays the SET curves and the drift of two or more
presets (the data of :mod:`.device_figures`). Conductances in µS on the axes.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
from matplotlib.figure import Figure

from ...devices import AbstractDevice, prng
from ...devices.fitting import DeviceFit, Measurements, synthesize
from .device_figures import (
    drift_curves,
    drift_times_s,
    set_pulse_curves,
    supports_set_pulses,
)
from .figure_files import log_time_axis, make_output_dir, save_figure

__all__ = [
    "COMPARE_TARGETS_S",
    "compare_figures",
    "fit_figures",
    "write_compare_figures",
    "write_fit_figures",
]

#: Targets (S) of the comparison's drift figure.
COMPARE_TARGETS_S = (2e-6, 5e-6, 10e-6)
_uS = 1e-6


def _device_means(m: Measurements) -> np.ndarray:
    """Mean of each device's repeated reads (µS), ``(D, K)``."""
    mask = m.design.read_mask()
    return (m.g_S * mask).sum(axis=2) / m.design.reads / _uS


def _band(ax, x, y, label, style):
    """Mean line and ±1 std band of ``y`` (``(devices, len(x))``) over devices."""
    mean, std = y.mean(axis=0), y.std(axis=0, ddof=1)
    (line,) = ax.plot(x, mean, style, label=f"{label} (mean ± std)", markersize=3)
    ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2)


def _simulations(m: Measurements, fit: DeviceFit, seed: int) -> dict[str, np.ndarray]:
    k_fit, k_base = prng.split(jax.random.key(seed))
    n = max(m.n_devices, 200)
    return {
        "measured": _device_means(m),
        "fitted model": _device_means(synthesize(fit.model, m.design, n, key=k_fit)),
        "base model": _device_means(synthesize(fit.base, m.design, n, key=k_base)),
    }


_STYLES = {"measured": "o", "fitted model": "-", "base model": "--"}


def _figure():
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    return fig, fig.add_subplot()


def _finish(ax, xlabel: str, ylabel: str, heading: str, **legend) -> None:
    """Labels, grid, legend (``legend`` its options) and a small heading: what every figure
    here ends with."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(**legend)
    ax.set_title(heading, fontsize=8)


def _set_curves(m: Measurements, means: dict, title: str) -> Figure:
    curve = m.design.curve_points()
    pulses = m.design.pulse[curve]
    fig, ax = _figure()
    for name, y in means.items():
        _band(ax, pulses, y[:, curve], name, _STYLES[name])
    ax.set_ylim(bottom=0.0)
    _finish(
        ax,
        "SET pulses since RESET",
        "conductance (µS)",
        f"Cumulative SET: measured and simulated\n{title}",
        loc="lower right",
        fontsize=8,
        title=f"{m.n_devices} measured devices",
    )
    return fig


def _drift(m: Measurements, means: dict, title: str) -> Figure:
    points = m.design.drift_points()
    t = m.design.t_read_s[points]
    fig, ax = _figure()
    for name, y in means.items():
        _band(ax, t, y[:, points], name, _STYLES[name] + ("" if name == "measured" else "o"))
    # Reads at 0 s sit on the linear part of the axis, the rest on decades.
    ax.set_xscale("symlog", linthresh=1.0)
    _finish(
        ax,
        f"time after pulse {m.design.pulse[points[0]]} (s)",
        "read conductance (µS)",
        f"Drift after the last SET pulse\n{title}",
        fontsize=8,
    )
    return fig


def _relative_read_noise(m: Measurements) -> tuple[np.ndarray, np.ndarray]:
    """(mean G in µS, rms relative std of repeated reads) of each point with ≥ 2 reads."""
    points = np.flatnonzero(m.design.reads >= 2)
    mask = m.design.read_mask()[points]
    g = m.g_S[:, points] / _uS
    n = m.design.reads[points]
    mean = (g * mask).sum(axis=2) / n
    var = ((g - mean[..., None]) ** 2 * mask).sum(axis=2) / (n - 1)
    level = mean.mean(axis=0)
    return level, np.sqrt(var.mean(axis=0)) / np.maximum(level, 1e-12)


def _read_noise(m: Measurements, fit: DeviceFit, seed: int, title: str) -> Figure:
    fig, ax = _figure()
    keys = prng.split(jax.random.key(seed + 1))
    level, rel = _relative_read_noise(m)
    ax.plot(level, rel, "o", markersize=4, label="measured")
    for (name, model), key in zip(
        (("fitted model", fit.model), ("base model", fit.base)), keys, strict=True
    ):
        sim = synthesize(model, m.design, max(m.n_devices, 200), key=key)
        level, rel = _relative_read_noise(sim)
        order = np.argsort(level)
        ax.plot(level[order], rel[order], _STYLES[name], label=name)
    ax.set_xscale("log")
    ax.set_ylim(bottom=0.0)
    _finish(
        ax,
        "mean conductance of the repeated reads (µS, log scale)",
        "std of repeated reads / mean",
        f"1/f read noise: repeated reads of one state\n{title}",
        fontsize=8,
    )
    return fig


def fit_figures(m: Measurements, fit: DeviceFit, *, seed: int = 0) -> dict[str, Figure]:
    """The figures of ``fit`` to ``m`` as ``{name: Figure}``: ``fit_set_curves``, and
    ``fit_drift`` / ``fit_read_noise`` where the data have drift reads / repeated reads.
    Simulated devices: as many as measured (at least 200), PRNG seed ``seed``."""
    base = fit.base.description
    title = f"{Path(m.source).name}; base: {base if len(base) <= 50 else base[:49] + '…'}"
    means = _simulations(m, fit, seed)
    figures = {"fit_set_curves": _set_curves(m, means, title)}
    if m.design.drift_points().size >= 2:
        figures["fit_drift"] = _drift(m, means, title)
    if np.any(m.design.reads >= 2):
        figures["fit_read_noise"] = _read_noise(m, fit, seed, title)
    return figures


def write_fit_figures(
    m: Measurements, fit: DeviceFit, out_dir: str | Path, *, prefix: str = "", seed: int = 0
) -> list[Path]:
    """Write :func:`fit_figures` as ``out_dir/<prefix><name>.png``; returns the paths."""
    out_dir = make_output_dir(out_dir)
    return [
        save_figure(fig, out_dir / f"{prefix}{name}.png")
        for name, fig in fit_figures(m, fit, seed=seed).items()
    ]


def compare_figures(
    models: dict[str, AbstractDevice], *, n_devices: int = 1000, seed: int = 0
) -> dict[str, Figure]:
    """Overlays of several presets: ``compare_set_pulses`` (pulse-level models: mean ± std
    over ``n_devices`` devices, 40 pulses) and ``compare_drift`` (mean read conductance from
    1 s to 10 years after program-and-verify to :data:`COMPARE_TARGETS_S`)."""
    k_set, k_drift = prng.split(jax.random.key(seed))
    names = ", ".join(models)
    figures = {}
    pulsed = {n: m for n, m in models.items() if supports_set_pulses(m)}
    if pulsed:
        fig, ax = _figure()
        for (name, model), style in zip(pulsed.items(), ("-", "--", ":", "-."), strict=False):
            g = set_pulse_curves(model, n_devices, 40, key=k_set) / _uS
            _band(ax, np.arange(g.shape[0]), g.T, name, style)
        ax.set_ylim(bottom=0.0)
        _finish(
            ax,
            "SET pulses since RESET",
            "conductance (µS)",
            f"Cumulative SET: {names}",
            loc="lower right",
            fontsize=8,
            title=f"{n_devices} devices each",
        )
        figures["compare_set_pulses"] = fig
    times = drift_times_s()
    fig, ax = _figure()
    for (name, model), style in zip(models.items(), ("-", "--", ":", "-."), strict=False):
        targets = np.minimum(np.asarray(COMPARE_TARGETS_S), model.g_max_S)
        g = drift_curves(model, targets, times, n_devices, key=k_drift)
        for target, curve in zip(targets, g, strict=True):
            ax.plot(times, curve.mean(axis=1) / _uS, style, label=f"{name}, {target / _uS:g} µS")
    log_time_axis(ax, times)
    ax.set_ylabel("mean read conductance (µS)")
    ax.set_ylim(bottom=0.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncols=2)
    ax.set_title(f"Drift after program-and-verify at t = 0 s: {names}", fontsize=8)
    figures["compare_drift"] = fig
    return figures


def write_compare_figures(
    models: dict[str, AbstractDevice],
    out_dir: str | Path,
    *,
    prefix: str = "",
    n_devices: int = 1000,
    seed: int = 0,
) -> list[Path]:
    """Write :func:`compare_figures` as ``out_dir/<prefix><name>.png``; returns the paths."""
    out_dir = make_output_dir(out_dir)
    figures = compare_figures(models, n_devices=n_devices, seed=seed)
    return [save_figure(fig, out_dir / f"{prefix}{name}.png") for name, fig in figures.items()]
