"""Figures of a crossbar tile: MVM error over time (drift and its compensation) and the energy
breakdown of a training-like sequence.

The data helpers run tiles under ``jax`` (jitted) and return ``numpy`` arrays;
the ``plot_*`` helpers build :class:`matplotlib.figure.Figure` objects without pyplot (no
global state, PNGs rendered by Agg). ``notebooks/02_crossbar.py`` is written on top of them.
Units: seconds for chip times, joules for energies, weights in the tile's weight units.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from ...crossbar import ENERGY_CATEGORIES, EnergyLedger, PCMTile
from ...devices import PulsePCM, prng
from ...hw_configs import format_joules
from .figure_files import YEAR_S, log_time_axis, make_output_dir, save_figure

__all__ = [
    "COMPENSATION_LABELS",
    "FIGURE_FILES",
    "drift_error_curves",
    "error_times_s",
    "linearised_device",
    "make_output_dir",
    "mvm_error_vs_time",
    "plot_energy_breakdown",
    "plot_error_vs_time",
    "save_figure",
]

#: File name of each figure the crossbar notebook writes.
FIGURE_FILES = {
    "mvm_error_vs_time": "mvm_error_vs_time.png",
    "energy_breakdown": "energy_breakdown.png",
}
#: Curve names of :func:`drift_error_curves`, keyed by the drift-compensation setting.
COMPENSATION_LABELS = {False: "no drift compensation", True: "global drift compensation"}


# --- data --------------------------------------------------------------------------------------


def error_times_s(n_times: int = 25) -> np.ndarray:
    """``n_times`` (≥ 2) chip times from 1 s to 1 year, evenly spaced on a log axis (s)."""
    if n_times < 2:
        raise ValueError(f"n_times must be ≥ 2, got {n_times}")
    return np.logspace(0.0, np.log10(YEAR_S), n_times)


def linearised_device(model: PulsePCM, step_S: float) -> PulsePCM:
    """The pulse-level ``model`` with every SET pulse adding exactly ``step_S`` (S).

    No pulse memory, no saturation, no step noise, no device-to-device variation; drift,
    read and programming noise are kept. The reference a real device is compared with.
    """
    if not isinstance(model, PulsePCM):
        raise ValueError(
            f"linearised_device needs a pulse-level device model, got {type(model).__name__}"
        )
    return eqx.tree_at(
        lambda m: (
            m.set_response.mean_offset_S,
            m.set_response.mean_slope,
            m.set_response.mean_memory_S,
            m.set_response.std_offset_S,
            m.set_response.std_slope,
            m.set_response.std_memory_S,
            m.variability.step_relative,
            m.variability.g_max_relative,
        ),
        model,
        (float(step_S), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    )


@jax.jit
def _relative_errors(tile, x, weights, times, keys):
    ideal = x @ weights
    norm = jnp.linalg.norm(ideal)

    def one(inputs):
        t, key = inputs
        y, _ = tile.mvm(x, t, key=key)
        return jnp.linalg.norm(y - ideal) / norm

    # One read view per time, one after another: memory stays at one view.
    return jax.lax.map(one, (times, keys))


def mvm_error_vs_time(tile: PCMTile, x, times_s, *, weights, key) -> np.ndarray:
    """Relative MVM error ||y(t) − x W|| / ||x W|| at each chip time (s).

    Args:
        tile: a tile programmed to ``weights`` (at chip time 0 s for "time after programming").
        x: inputs (batch, rows).
        times_s: chip times (s) of the reads; each read is independent (fresh read noise).
        weights: the target weights W (rows, cols) the outputs are compared with.
        key: PRNG key of the reads.

    Returns:
        float64 array of shape ``(len(times_s),)``.
    """
    times = jnp.asarray(np.asarray(times_s, np.float64), jnp.float32)
    keys = prng.split(key, times.shape[0])
    errors = _relative_errors(tile, jnp.asarray(x), jnp.asarray(weights), times, keys)
    return np.asarray(errors, np.float64)


def drift_error_curves(tile: PCMTile, x, times_s, *, weights, key) -> dict[str, np.ndarray]:
    """:func:`mvm_error_vs_time` without and with global drift compensation.

    Both curves use the same reads (same key), so they differ only by the compensation.
    Keys are :data:`COMPENSATION_LABELS` values.
    """
    return {
        label: mvm_error_vs_time(
            tile.with_drift_compensation(enabled), x, times_s, weights=weights, key=key
        )
        for enabled, label in COMPENSATION_LABELS.items()
    }


# --- plots -------------------------------------------------------------------------------------


def plot_error_vs_time(times_s, curves: dict[str, np.ndarray], *, title: str = "") -> Figure:
    """Relative MVM error (%) vs chip time (log axis), one line per curve of ``curves``."""
    times_s = np.asarray(times_s)
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for label, errors in curves.items():
        ax.plot(times_s, 100.0 * np.asarray(errors), marker="o", markersize=3, label=label)
    log_time_axis(ax, times_s, margin=(1.5, 3.0))
    ax.set_ylabel("relative MVM error ||y − xW|| / ||xW|| (%)")
    ax.set_ylim(bottom=0.0)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title or "PCM tile: MVM error after programming", fontsize=10)
    return fig


def plot_energy_breakdown(ledger: EnergyLedger, *, title: str = "") -> Figure:
    """Bar chart of the energy (nJ) per ledger category, with shares and per-event energies."""
    energies = np.array([float(ledger.energy_J(k)) for k in ENERGY_CATEGORIES])
    total = float(ledger.total_J)
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    bars = ax.bar(ENERGY_CATEGORIES, energies / 1e-9, color="tab:blue")
    for bar, energy in zip(bars, energies, strict=True):
        share = energy / total if total > 0 else 0.0
        ax.annotate(
            f"{format_joules(energy)}\n{share:.1%}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylabel("energy (nJ)")
    ax.set_ylim(top=max(energies.max() / 1e-9 * 1.25, 1e-6))
    ax.grid(axis="y", alpha=0.3)
    per_mvm = format_joules(float(ledger.per_mvm_J))
    per_update = format_joules(float(ledger.per_update_event_J))
    subtitle = (
        f"total {format_joules(total)}; E_mvm {per_mvm} per MVM vector, "
        f"E_update {per_update} per update event"
    )
    ax.set_title(f"{title or 'Energy breakdown'}\n{subtitle}", fontsize=10)
    return fig
