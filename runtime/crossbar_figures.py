"""Figures of a crossbar tile: MVM error over time (drift and its compensation) and the energy
breakdown of a training-like sequence.

The data helpers run tiles under ``jax`` (jitted) and return ``numpy`` arrays;
the ``plot_*`` helpers build :class:`matplotlib.figure.Figure` objects without pyplot (no
global state, PNGs rendered by Agg). ``notebooks/02_crossbar.py`` is written on top of them.
Units: seconds for chip times, joules for energies, weights in the tile's weight units.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from ..crossbar import ENERGY_CATEGORIES, EnergyLedger, PCMTile
from ..devices import PulsePCM
from ..hw_configs import format_joules
from .figure_files import YEAR_S, log_time_axis, make_output_dir, save_figure

__all__ = [
    "COMPENSATION_LABELS",
    "FIGURE_FILES",
    "TrainingRun",
    "drift_error_curves",
    "error_times_s",
    "linearised_device",
    "make_output_dir",
    "mvm_error_vs_time",
    "plot_energy_breakdown",
    "plot_error_vs_time",
    "save_figure",
    "training_sequence",
    "uniform_weights",
    "with_drift_compensation",
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


def uniform_weights(rows: int, cols: int, w_max: float = 1.0, *, key) -> jax.Array:
    """Weights (rows, cols) drawn uniformly in ±w_max (float32)."""
    return jax.random.uniform(key, (rows, cols), jnp.float32, -w_max, w_max)


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


def with_drift_compensation(tile: PCMTile, enabled: bool) -> PCMTile:
    """``tile`` with global drift compensation switched on or off (a static periphery flag)."""
    periphery = dataclasses.replace(tile.periphery, drift_compensation=bool(enabled))
    return eqx.tree_at(lambda s: s.periphery, tile, periphery)


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
    keys = jax.random.split(key, times.shape[0])
    errors = _relative_errors(tile, jnp.asarray(x), jnp.asarray(weights), times, keys)
    return np.asarray(errors, np.float64)


def drift_error_curves(tile: PCMTile, x, times_s, *, weights, key) -> dict[str, np.ndarray]:
    """:func:`mvm_error_vs_time` without and with global drift compensation.

    Both curves use the same reads (same key), so they differ only by the compensation.
    Keys are :data:`COMPENSATION_LABELS` values.
    """
    return {
        label: mvm_error_vs_time(
            with_drift_compensation(tile, enabled), x, times_s, weights=weights, key=key
        )
        for enabled, label in COMPENSATION_LABELS.items()
    }


@dataclasses.dataclass(frozen=True)
class TrainingRun:
    """Result of :func:`training_sequence`.

    Attributes:
        tile: the tile after the sequence (its ledger holds every joule of it).
        losses: mean squared output error of each step (steps,), before that step's update.
        refreshes: number of refresh operations run.
    """

    tile: PCMTile
    losses: np.ndarray
    refreshes: int


@jax.jit
def _train_chunk(tile, teacher, xs, t, dt_s, learning_rate, keys):
    def step(carry, inputs):
        tile, t = carry
        x, key = inputs
        k_read, k_update = jax.random.split(key)
        y, tile = tile.mvm(x, t, key=k_read)
        error = x @ teacher - y
        # Largest eigenvalue of xᵀx for uniform inputs (Marchenko–Pastur edge, E x² = 1/3).
        batch, rows = x.shape
        scale = learning_rate * 3.0 / (batch**0.5 + rows**0.5) ** 2
        tile = tile.update_outer(x, error, t, key=k_update, scale=scale)
        return (tile, t + dt_s), jnp.mean(error * error)

    (tile, t), losses = jax.lax.scan(step, (tile, t), (xs, keys))
    return tile, t, losses


_refresh = jax.jit(lambda tile, t, key: tile.refresh(t, key=key))


def training_sequence(
    tile: PCMTile,
    *,
    steps: int,
    batch: int,
    refresh_every: int,
    key,
    learning_rate: float = 0.3,
    dt_s: float = 1e-3,
    t0_s: float = 0.0,
) -> TrainingRun:
    """A training-like sequence of MVMs, updates and refreshes on ``tile``.

    A delta rule learns a random teacher T (rows, cols, uniform in ±w_max/2): each step
    reads y = x W for a batch of uniform inputs x in ±1 and applies
    dW = learning_rate · xᵀ (x T − y) / λ with ``update_outer`` (pulses per the chip's update
    scheme), where λ = (√batch + √rows)²/3 is the largest eigenvalue of xᵀx (Marchenko–Pastur
    edge for E x² = 1/3), so the step is stable for learning_rate < 2. Every
    ``refresh_every`` steps (and after the last step) the tile is refreshed. Steps are
    ``dt_s`` apart starting at chip time ``t0_s``; the steps between two refreshes run as
    one jitted ``lax.scan`` (compiled once per chunk length, so make ``steps`` a multiple
    of ``refresh_every`` to compile once).
    """
    if steps < 1 or batch < 1 or refresh_every < 1:
        raise ValueError(
            f"steps, batch and refresh_every must be ≥ 1, got {steps}, {batch}, {refresh_every}"
        )
    k_teacher, k_x, k_steps, k_refresh = jax.random.split(key, 4)
    w_max = float(tile.w_max)
    teacher = uniform_weights(tile.rows, tile.cols, w_max / 2, key=k_teacher)
    xs = jax.random.uniform(k_x, (steps, batch, tile.rows), jnp.float32, -1.0, 1.0)
    step_keys = jax.random.split(k_steps, steps)
    refresh_keys = jax.random.split(k_refresh, -(-steps // refresh_every))
    t = jnp.float32(t0_s)
    losses = []
    for chunk, start in enumerate(range(0, steps, refresh_every)):
        stop = min(start + refresh_every, steps)
        tile, t, chunk_losses = _train_chunk(
            tile, teacher, xs[start:stop], t, dt_s, learning_rate, step_keys[start:stop]
        )
        losses.append(np.asarray(chunk_losses))
        tile = _refresh(tile, t, refresh_keys[chunk])
    return TrainingRun(tile=tile, losses=np.concatenate(losses), refreshes=len(refresh_keys))


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
