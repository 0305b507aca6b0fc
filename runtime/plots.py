"""PNG figures of a run: metrics and energy over training, breakdown, conductances, and the
receptive fields of learned weights."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .run_file import RunRecord

__all__ = ["write_run_plots", "receptive_fields_figure"]

_CATEGORIES = ("read", "set", "reset", "dac", "adc", "refresh")


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def write_run_plots(record: RunRecord, out_dir: str | Path, *, prefix: str = "") -> list[Path]:
    """Write metric, energy, breakdown and conductance-histogram PNGs into ``out_dir``."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"cannot create plot folder '{out}': {err.strerror or err}") from None
    paths = []

    fig = Figure(figsize=(5 * max(len(record.metrics), 1), 3.5))
    for i, (name, values) in enumerate(record.metrics.items()):
        ax = fig.add_subplot(1, max(len(record.metrics), 1), i + 1)
        ax.plot(record.metric_steps, values, marker=".")
        ax.set_xlabel("training step")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    fig.suptitle(f"test accuracy {record.final.get('test_accuracy', float('nan')):.3f}")
    paths.append(_save(fig, out / f"{prefix}metrics.png"))

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for name in (*_CATEGORIES, "total"):
        values = record.energy[name]
        if np.any(values > 0):
            steps = np.concatenate([[0], record.energy_steps])
            joules = np.concatenate([[0.0], values])
            ax.plot(steps, joules * 1e6, label=name, lw=2 if name == "total" else 1)
    ax.set_xlabel("training step")
    ax.set_ylabel("cumulative energy (µJ)")
    ax.set_title("on-chip learning energy")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no energy booked (ideal tiles)", ha="center", transform=ax.transAxes)
    ax.grid(alpha=0.3)
    paths.append(_save(fig, out / f"{prefix}energy.png"))

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    final = [
        float(record.energy[name][-1]) if len(record.energy[name]) else 0.0 for name in _CATEGORIES
    ]
    ax.bar(_CATEGORIES, np.array(final) * 1e6)
    ax.set_ylabel("energy over training (µJ)")
    per_update = record.energy_attrs["per_synaptic_update_J"]
    ax.set_title(f"energy breakdown — {per_update * 1e12:.3g} pJ per synaptic update")
    paths.append(_save(fig, out / f"{prefix}energy_breakdown.png"))

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
        paths.append(_save(fig, out / f"{prefix}accuracy_vs_time.png"))

    for layer, g in record.conductances.items():
        fig = Figure(figsize=(6, 4))
        ax = fig.add_subplot()
        ax.hist(g[0].ravel() * 1e6, bins=60, alpha=0.6, label="G+")
        ax.hist(g[1].ravel() * 1e6, bins=60, alpha=0.6, label="G−")
        ax.set_xlabel("programmed conductance (µS)")
        ax.set_ylabel("devices")
        ax.set_title(f"layer {layer}: conductances after training")
        ax.legend()
        paths.append(_save(fig, out / f"{prefix}conductance_{layer}.png"))
    return paths


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
