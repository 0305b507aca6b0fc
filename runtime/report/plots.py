"""PNG figures of a run: metrics and energy over training, breakdown, conductances, and the
receptive fields of learned weights; for a spiking run, weight trajectories, the spike
raster and the selectivity of the neurons."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ...crossbar import ENERGY_CATEGORIES
from ...hw_configs import format_joules
from ..run_file import ENERGY_KEYS, RunRecord
from .figure_files import make_output_dir
from .figure_files import save_figure as save_figure_file

__all__ = [
    "write_run_plots",
    "write_spiking_plots",
    "receptive_fields_figure",
    "group_colours",
    "weight_trajectories_axes",
    "raster_axes",
    "accuracy_vs_speed_axes",
]


def save_figure(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    return save_figure_file(fig, path, dpi=110)


def write_run_plots(record: RunRecord, out_dir: str | Path, *, prefix: str = "") -> list[Path]:
    """Write metric, energy, breakdown and conductance-histogram PNGs into ``out_dir``.

    A spiking run gets :func:`write_spiking_plots`.
    """
    if record.kind == "spiking":
        return write_spiking_plots(record, out_dir, prefix=prefix)
    if record.kind == "files":
        from .files_plots import write_files_plots

        return write_files_plots(record, out_dir, prefix=prefix)
    out = make_output_dir(out_dir)
    paths = []

    fig = Figure(figsize=(5 * max(len(record.metrics), 1), 3.5))
    for i, (name, values) in enumerate(record.metrics.items()):
        ax = fig.add_subplot(1, max(len(record.metrics), 1), i + 1)
        ax.plot(record.metric_steps, values, marker=".")
        ax.set_xlabel("training step")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    fig.suptitle(f"test accuracy {record.final.get('test_accuracy', float('nan')):.3f}")
    paths.append(save_figure(fig, out / f"{prefix}metrics.png"))
    paths += energy_plots(record, out, prefix, record.energy_steps, "training step")

    if len(record.eval_times_s):
        fig = Figure(figsize=(6, 4))
        ax = fig.add_subplot()
        for label, values in record.accuracy_vs_time.items():
            ax.semilogx(record.eval_times_s, values, marker="o", label=f"drift {label}")
        ax.set_xlabel("time after the last update (s)")
        ax.set_ylabel("test accuracy")
        ax.set_title("accuracy under conductance drift")
        ax.legend()
        ax.grid(alpha=0.3, which="both")
        paths.append(save_figure(fig, out / f"{prefix}accuracy_vs_time.png"))
    if record.curves:
        fig = Figure(figsize=(6, 4))
        accuracy_vs_speed_axes(fig.add_subplot(), record)
        paths.append(save_figure(fig, out / f"{prefix}accuracy_vs_speed.png"))

    return paths + conductance_plots(record, out, prefix)


def accuracy_vs_speed_axes(ax, record: RunRecord):
    """A short-term STDP run's per-frame accuracy against the transformation speed: W alone,
    W + F and the MLP, on ordered frames (solid) and the shuffled control (dashed)."""
    curves = record.curves
    speed = curves["speed"]
    styles = (("accuracy_wf", "W + F", "C0"), ("accuracy_w", "W alone", "C1"))
    for name, label, colour in (*styles, ("accuracy_mlp", "MLP (backprop)", "C2")):
        ax.plot(speed, curves[name], marker="o", color=colour, label=label)
    for name, label, colour in styles:
        ax.plot(
            speed,
            curves[f"{name}_shuffled"],
            marker="x",
            ls="--",
            color=colour,
            label=f"{label}, shuffled frames",
        )
    ax.set_xlabel("transformation speed (× the base rates per frame)")
    ax.set_ylabel("accuracy per frame")
    ax.set_title("transformed sequences: short-term STDP")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def energy_plots(record: RunRecord, out: Path, prefix: str, x, xlabel: str) -> list[Path]:
    """Cumulative energy per category against ``x`` (the energy records), and the breakdown."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for name in ENERGY_KEYS:
        values = record.energy[name]
        if np.any(values > 0):
            steps = np.concatenate([[0], x])
            joules = np.concatenate([[0.0], values])
            ax.plot(steps, joules * 1e6, label=name, lw=2 if name == "total" else 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("cumulative energy (µJ)")
    ax.set_title("on-chip learning energy")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no energy booked (ideal tiles)", ha="center", transform=ax.transAxes)
    ax.grid(alpha=0.3)
    paths = [save_figure(fig, out / f"{prefix}energy.png")]

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    final = [
        float(record.energy[name][-1]) if len(record.energy[name]) else 0.0
        for name in ENERGY_CATEGORIES
    ]
    ax.bar(ENERGY_CATEGORIES, np.array(final) * 1e6)
    ax.set_ylabel("energy over training (µJ)")
    per_update = record.energy_attrs["per_synaptic_update_J"]
    ax.set_title(f"energy breakdown — E_update {format_joules(per_update)} per synaptic update")
    paths.append(save_figure(fig, out / f"{prefix}energy_breakdown.png"))
    return paths


def conductance_plots(record: RunRecord, out: Path, prefix: str) -> list[Path]:
    paths = []
    for layer, g in record.conductances.items():
        fig = Figure(figsize=(6, 4))
        ax = fig.add_subplot()
        ax.hist(g[0].ravel() * 1e6, bins=60, alpha=0.6, label="G+")
        ax.hist(g[1].ravel() * 1e6, bins=60, alpha=0.6, label="G−")
        ax.set_xlabel("programmed conductance (µS)")
        ax.set_ylabel("devices")
        ax.set_title(f"layer {layer}: conductances after training")
        ax.legend()
        paths.append(save_figure(fig, out / f"{prefix}conductance_{layer}.png"))
    return paths


def group_colours(rates_Hz, target: int | None = None) -> list:
    """A colour per input group: a colormap over the groups' rates, the target group red."""
    from matplotlib import colormaps

    rates = np.asarray(rates_Hz, np.float64)
    low, high = rates.min(), rates.max()
    scale = (rates - low) / (high - low) if high > low else np.full(rates.size, 0.5)
    cmap = colormaps["viridis"]
    return ["tab:red" if g == target else cmap(0.1 + 0.8 * v) for g, v in enumerate(scale)]


def weight_trajectories_axes(ax, time_s, weights, layout, neuron: int = 0, *, title: str = ""):
    """Draw one neuron's synapses over time: thin lines per synapse, thick lines per group mean.

    Args:
        time_s: (records,) times of the snapshots, s.
        weights: (records, n_inputs, n_neurons) snapshots.
        layout: the job's :class:`~memxbar.runtime.spiking_job.InputLayout` (groups, rates).
    """
    colours = group_colours(layout.rates_Hz, layout.target)
    W = np.asarray(weights)[:, :, neuron]
    t = np.asarray(time_s)
    for g, name in enumerate(layout.names):
        members = layout.group == g
        ax.plot(t, W[:, members], color=colours[g], lw=0.4, alpha=0.35)
        label = f"{name} ({layout.rates_Hz[g]:g} Hz)"
        ax.plot(t, W[:, members].mean(1), color=colours[g], lw=2.2, label=label)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("weight")
    ax.set_title(title or f"neuron {neuron}")
    ax.grid(alpha=0.3)


def raster_axes(ax, time_s, neuron, n_neurons: int, *, window_s=None):
    """Draw output spikes as a raster; ``window_s`` = (start, stop) limits the time shown."""
    t, n = np.asarray(time_s), np.asarray(neuron)
    if window_s is not None:
        keep = (t >= window_s[0]) & (t < window_s[1])
        t, n = t[keep], n[keep]
        ax.set_xlim(*window_s)
    ax.scatter(t, n, s=4, marker="|", color="black", linewidths=0.8)
    ax.set_ylim(-0.5, n_neurons - 0.5)
    ax.set_yticks(range(n_neurons) if n_neurons <= 16 else [0, n_neurons - 1])
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("neuron")


def write_spiking_plots(record: RunRecord, out_dir: str | Path, *, prefix: str = "") -> list[Path]:
    """PNGs of a spiking run: weight trajectories, raster and rates, selectivity, energy."""
    from ..spiking_job import LAYER, InputLayout

    out = make_output_dir(out_dir)
    layout = InputLayout.from_setup(record.setup)
    time_s = record.metrics["time_s"]
    weights = record.weights[LAYER]
    n_neurons = weights.shape[2]
    paths = []

    shown = min(n_neurons, 8)
    columns = min(shown, 4)
    rows = -(-shown // columns)
    fig = Figure(figsize=(5 * columns, 3.6 * rows + 0.6))
    for j in range(shown):
        ax = fig.add_subplot(rows, columns, j + 1)
        weight_trajectories_axes(ax, time_s, weights, layout, j)
    fig.axes[0].legend(fontsize=7)
    scores = ", ".join(
        f"{k} {record.final[k]:.3f}" for k in ("auc", "flatness", "nmi") if k in record.final
    )
    fig.suptitle(f"weight trajectories{' — ' + scores if scores else ''}")
    paths.append(save_figure(fig, out / f"{prefix}weights.png"))

    fig = Figure(figsize=(8, 5.5))
    ax = fig.add_subplot(2, 1, 1)
    end = float(time_s[-1]) if len(time_s) else 0.0
    span = min(2.0, end)
    raster = record.raster
    raster_axes(
        ax,
        raster.get("time_s", []),
        raster.get("neuron", []),
        n_neurons,
        window_s=(end - span, end),
    )
    ax.set_title(f"output spikes, last {span:g} s")
    ax = fig.add_subplot(2, 1, 2)
    interval = np.diff(np.concatenate([[0.0], time_s]))
    rates = record.metrics["spike_counts"] / interval[:, None]
    for j in range(n_neurons):
        ax.plot(time_s, rates[:, j], lw=1, label=f"neuron {j}" if n_neurons <= 8 else None)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("firing rate (Hz)")
    if n_neurons <= 8:
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    paths.append(save_figure(fig, out / f"{prefix}raster.png"))

    if n_neurons > 1:
        means = np.stack([record.metrics[f"mean_weight_{n}"][-1] for n in layout.names], axis=1)
        fig = Figure(figsize=(1.2 * layout.n_groups + 2.5, 0.5 * n_neurons + 2))
        ax = fig.add_subplot()
        image = ax.imshow(means, cmap="magma", aspect="auto")
        ax.set_xticks(
            range(layout.n_groups),
            [f"{n}\n{r:g} Hz" for n, r in zip(layout.names, layout.rates_Hz, strict=True)],
        )
        ax.set_yticks(range(n_neurons))
        ax.set_ylabel("neuron")
        fig.colorbar(image, ax=ax, label="mean weight")
        ax.set_title("selectivity: mean weight per group")
        paths.append(save_figure(fig, out / f"{prefix}selectivity.png"))

    paths += energy_plots(record, out, prefix, time_s, "simulated time (s)")
    return paths + conductance_plots(record, out, prefix)


def receptive_fields_figure(
    W, image_shape: tuple[int, int], *, max_neurons: int | None = None, columns: int | None = None
) -> Figure:
    """The weights of each neuron drawn as an image: a grid of receptive fields.

    Args:
        W: weights (inputs, neurons), input-major as the tiles store them; inputs must equal
            the number of pixels of ``image_shape``.
        image_shape: (height, width) of one input image, e.g. (8, 8) for the digits.
        max_neurons: draw only the first this many neurons (default: all).
        columns: images per row (default: about square).

    Each image has its own symmetric colour scale (blue negative, red positive, white zero),
    so the pattern of every neuron is visible whatever its norm.
    """
    W = np.asarray(W, np.float64)
    if W.ndim != 2:
        raise ValueError(f"receptive fields: W must be (inputs, neurons), got shape {W.shape}")
    height, width = image_shape
    if W.shape[0] != height * width:
        raise ValueError(
            f"receptive fields: W has {W.shape[0]} inputs, but images of {height}x{width} "
            f"have {height * width} pixels"
        )
    n = W.shape[1] if max_neurons is None else min(max_neurons, W.shape[1])
    if n < 1:
        raise ValueError("receptive fields: no neurons to draw")
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    fig = Figure(figsize=(0.9 * columns + 0.4, 0.9 * rows + 0.6))
    for k in range(n):
        ax = fig.add_subplot(rows, columns, k + 1)
        image = W[:, k].reshape(height, width)
        scale = max(float(np.abs(image).max()), 1e-12)
        ax.imshow(image, cmap="bwr", vmin=-scale, vmax=scale, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"receptive fields of {n} neurons ({height}x{width})")
    top = 1.0 - 0.45 / fig.get_figheight()  # room for the title
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=top, wspace=0.1, hspace=0.1)
    return fig
