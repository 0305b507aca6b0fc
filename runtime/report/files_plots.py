"""PNG figures of a file classifier run: online training accuracy, the confusion matrix, the
ingest stream's running accuracy, the energy and the conductances."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..run_file import RunRecord
from .figure_files import make_output_dir

__all__ = ["write_files_plots", "confusion_axes", "stream_axes", "running_mean"]


def running_mean(values, window: int) -> np.ndarray:
    """Mean of the last ``window`` values at each position (fewer at the start)."""
    values = np.asarray(values, np.float64)
    total = np.cumsum(np.concatenate([[0.0], values]))
    n = np.arange(1, len(values) + 1)
    start = np.maximum(n - window, 0)
    return (total[n] - total[start]) / (n - start)


def confusion_axes(ax, record: RunRecord):
    """The test set's confusion matrix, each row (true class) as shares of its files."""
    confusion = np.asarray(record.curves["confusion"], np.float64)
    classes = record.setup.get("classes", [str(i) for i in range(len(confusion))])
    shares = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = record.final.get("test_accuracy", float("nan"))
    ax.set_title(f"test confusion (accuracy {accuracy:.3f})")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, label="share of the true class")
    return ax


def stream_axes(ax, record: RunRecord, *, window: int = 100):
    """Running accuracy over the ingest stream, frozen and learning, with the arrival of the
    new subtree marked."""
    curves = record.curves
    new = np.asarray(curves["stream_new_subtree"], bool)
    for name, colour in (("frozen", "C1"), ("learning", "C0")):
        key = f"stream_correct_{name}"
        if key in curves:
            correct = curves[key]
            ax.plot(running_mean(correct, window), color=colour, label=name)
    if new.any():
        ax.axvline(int(np.argmax(new)), color="k", ls="--", lw=1, label="new subtree arrives")
    ax.set_xlabel("file of the stream")
    ax.set_ylabel(f"accuracy (last {window} files)")
    ax.set_title(f"ingest stream: {record.setup.get('stream_subtree', '')}")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def write_files_plots(record: RunRecord, out_dir: str | Path, *, prefix: str = "") -> list[Path]:
    """Training curves, the confusion matrix, the stream (if any), energy and conductances."""
    from .plots import conductance_plots, energy_plots, save_figure

    out = make_output_dir(out_dir)
    steps = record.metric_steps
    files = steps * float(record.final["training_presentations"]) / max(float(steps[-1]), 1.0)
    fig = Figure(figsize=(10, 3.5))
    names = [n for n in ("train_accuracy", "spikes_per_file") if n in record.metrics]
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        ax.plot(files, record.metrics[name], marker=".")
        ax.set_xlabel("training files presented")
        ax.set_ylabel(name.replace("_", " ") + (" (online)" if name == "train_accuracy" else ""))
        ax.grid(alpha=0.3)
    paths = [save_figure(fig, out / f"{prefix}metrics.png")]
    fig = Figure(figsize=(6, 5))
    confusion_axes(fig.add_subplot(), record)
    paths.append(save_figure(fig, out / f"{prefix}confusion.png"))
    if "stream_new_subtree" in record.curves:
        fig = Figure(figsize=(6, 4))
        stream_axes(fig.add_subplot(), record)
        paths.append(save_figure(fig, out / f"{prefix}stream.png"))
    paths += energy_plots(record, out, prefix, steps, "time step of training")
    return paths + conductance_plots(record, out, prefix)
