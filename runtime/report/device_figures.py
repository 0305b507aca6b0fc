"""Figures of a device model's behaviour: SET-pulse response, drift, programming and read noise.

The data helpers (:func:`set_pulse_curves`, :func:`drift_curves`, :func:`noise_vs_target`)
run the device model under ``jax`` and return ``numpy`` arrays in SI units (S, s); the
``plot_*`` helpers turn them into :class:`matplotlib.figure.Figure` objects (no pyplot, so no
global figure state and no backend switch: PNGs are rendered by Agg); and
:func:`write_device_figures` does both and writes the PNGs that ``memxbar devices plot`` and
``notebooks/01_pcm_devices.py`` produce.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from ...devices import AbstractDevice, prng
from .figure_files import TIME_TICKS, YEAR_S, log_time_axis, make_output_dir, save_figure

__all__ = [
    "DRIFT_TARGETS_S",
    "FIGURE_FILES",
    "NOISE_READ_TIMES_S",
    "NoiseStats",
    "band",
    "device_figures",
    "drift_curves",
    "drift_targets_S",
    "drift_times_s",
    "make_output_dir",
    "noise_targets_S",
    "noise_vs_target",
    "plot_drift",
    "plot_noise_vs_target",
    "plot_set_pulses",
    "pulses_to_reach",
    "save_figure",
    "set_pulse_curves",
    "supports_set_pulses",
    "write_device_figures",
]

#: File name of each figure :func:`write_device_figures` may write.
FIGURE_FILES = {
    "set_pulses": "set_pulses.png",
    "drift": "drift.png",
    "noise_vs_target": "noise_vs_target.png",
}
#: Targets (S) of the drift figure before capping to the model's g_max.
DRIFT_TARGETS_S = (2e-6, 5e-6, 10e-6, 15e-6, 20e-6)
#: Times after programming (s) at which the noise figure measures read noise: 1 s, 1 h, 1 day.
NOISE_READ_TIMES_S = (1.0, 3600.0, 86400.0)

_uS = 1e-6  # S per µS


# --- data ------------------------------------------------------------------------------------


def band(samples, axis: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, 5th and 95th percentile of ``samples`` along ``axis`` (same unit as the input)."""
    samples = np.asarray(samples)
    low, high = np.percentile(samples, [5.0, 95.0], axis=axis)
    return samples.mean(axis=axis), low, high


def supports_set_pulses(model: AbstractDevice) -> bool:
    """Whether ``model`` has a pulse-level SET response (traced only, nothing is computed)."""

    def one_pulse(model, key):
        state = model.init((1,), key=key)
        return model.set_pulses(state, 1, 0.0, key=key)

    try:
        eqx.filter_eval_shape(one_pulse, model, jax.random.key(0))
    except NotImplementedError:
        return False
    return True


def _check_devices(n_devices) -> int:
    if isinstance(n_devices, bool) or not isinstance(n_devices, int | np.integer):
        raise ValueError(f"n_devices must be an integer, got {n_devices!r}")
    if n_devices < 1:
        raise ValueError(f"n_devices must be at least 1, got {n_devices}")
    return int(n_devices)


@eqx.filter_jit
def _set_pulse_trajectories(model, n_devices: int, n_pulses: int, key):
    k_init, k_reset, k_pulses = prng.split(key, 3)
    state = model.init((n_devices,), key=k_init)
    state = model.reset(state, True, 0.0, key=k_reset)

    def one_pulse(state, k):
        state = model.set_pulses(state, 1, 0.0, key=k)
        return state, state.g_prog_S

    _, g = jax.lax.scan(one_pulse, state, prng.split(k_pulses, n_pulses))
    return jnp.concatenate([state.g_prog_S[None], g])


def set_pulse_curves(model: AbstractDevice, n_devices: int, n_pulses: int, *, key) -> np.ndarray:
    """Conductance (S) of ``n_devices`` fresh devices after 0, 1, ..., ``n_pulses`` SET pulses.

    Every device is RESET, then fired ``n_pulses`` partial SET pulses back to back (no time
    between them, so no drift); the value after each pulse is the programmed conductance
    without read noise.

    Returns:
        float array of shape ``(n_pulses + 1, n_devices)`` in S; row ``i`` is after ``i`` pulses.

    Raises:
        NotImplementedError: the model has no pulse-level SET response (statistical model).
        ValueError: ``n_devices < 1`` or ``n_pulses < 0``.
    """
    n_devices = _check_devices(n_devices)
    if n_pulses < 0:
        raise ValueError(f"n_pulses must be non-negative, got {n_pulses}")
    return np.asarray(_set_pulse_trajectories(model, n_devices, int(n_pulses), key))


def pulses_to_reach(g_S, level_S: float) -> np.ndarray:
    """Pulses each device needs to first reach ``level_S`` (S); ``inf`` where it never does.

    ``g_S`` is a :func:`set_pulse_curves` result, shape ``(n_pulses + 1, n_devices)`` in S.
    """
    reached = np.asarray(g_S) >= level_S
    return np.where(reached.any(axis=0), reached.argmax(axis=0), np.inf)


def drift_targets_S(model: AbstractDevice) -> np.ndarray:
    """The drift figure's targets (S): :data:`DRIFT_TARGETS_S` capped to the model's g_max."""
    return np.unique(np.minimum(np.asarray(DRIFT_TARGETS_S), model.g_max_S))


def drift_times_s(n_times: int = 49) -> np.ndarray:
    """Log-spaced read times (s) after programming, from 1 s to 10 years."""
    return np.logspace(0.0, np.log10(10 * YEAR_S), n_times)


def _program_and_read(model, targets, times, n_devices: int, key):
    """Devices of shape (n_targets, n_devices) programmed at t = 0 s to ``targets`` (S), and
    their noisy and noiseless conductances (S), shape (n_times, n_targets, n_devices), read
    at ``times`` (s)."""
    k_init, k_prog, k_read = prng.split(key, 3)
    state = model.init((targets.shape[0], n_devices), key=k_init)
    state = model.program(state, targets[:, None], 0.0, key=k_prog)

    def at(t, k):
        return model.read(state, t, key=k), model.drifted(state, t)

    reads, drifted = jax.vmap(at)(times, prng.split(k_read, times.shape[0]))
    return state, reads, drifted


@eqx.filter_jit
def _drift_reads(model, targets, times, n_devices: int, key):
    _, reads, _ = _program_and_read(model, targets, times, n_devices, key)
    return reads.transpose(1, 0, 2)


def drift_curves(model: AbstractDevice, targets_S, times_s, n_devices: int, *, key) -> np.ndarray:
    """Read conductances (S) of devices programmed at t = 0 s, at ``times_s`` (s) afterwards.

    ``n_devices`` devices per target are written with program-and-verify (programming noise,
    one drift exponent per device) and read with fresh 1/f read noise at every time.

    Returns:
        float array of shape ``(len(targets_S), len(times_s), n_devices)`` in S.
    """
    n_devices = _check_devices(n_devices)
    targets = jnp.asarray(targets_S, jnp.float32).reshape(-1)
    times = jnp.asarray(times_s, jnp.float32).reshape(-1)
    return np.asarray(_drift_reads(model, targets, times, n_devices, key))


def noise_targets_S(model: AbstractDevice, n_targets: int = 25) -> np.ndarray:
    """Evenly spaced targets (S) from 2 % of g_max up to g_max, for the noise figure."""
    return model.g_max_S * np.linspace(0.02, 1.0, n_targets)


@dataclasses.dataclass(frozen=True)
class NoiseStats:
    """Programming- and read-noise statistics over devices, per target conductance.

    Attributes:
        targets_S: target conductances (S), shape ``(n_targets,)``.
        prog_std_S: std over devices of the programmed conductance (S), ``(n_targets,)``.
        prog_std_formula_S: the model's sigma_p at each target (S), ``(n_targets,)``.
        read_times_s: read times after programming (s), ``(n_times,)``.
        read_std_S: std over devices of one read minus the device's noiseless drifted
            conductance (S), i.e. the 1/f read noise alone, ``(n_times, n_targets)``.
        read_std_expected_S: the std the read-noise formula predicts for the same devices,
            rms of ``|g_drift| * relative_sigma(g_prog, t + t0)`` (S), ``(n_times, n_targets)``.
    """

    targets_S: np.ndarray
    prog_std_S: np.ndarray
    prog_std_formula_S: np.ndarray
    read_times_s: np.ndarray
    read_std_S: np.ndarray
    read_std_expected_S: np.ndarray


@eqx.filter_jit
def _noise_stats(model, targets, times, n_devices: int, key):
    state, reads, drifted = _program_and_read(model, targets, times, n_devices, key)

    def expected_std(t, g_drift):
        sigma = model.read_noise.relative_sigma(state.g_prog_S, t + model.drift.t0_s)
        return jnp.sqrt(jnp.mean((jnp.abs(g_drift) * sigma) ** 2, axis=-1))

    return (
        jnp.std(state.g_prog_S, axis=-1),
        model.programming_noise.sigma_S(targets),
        jnp.std(reads - drifted, axis=-1),
        jax.vmap(expected_std)(times, drifted),
    )


def noise_vs_target(
    model: AbstractDevice,
    targets_S,
    read_times_s=NOISE_READ_TIMES_S,
    n_devices: int = 2000,
    *,
    key,
) -> NoiseStats:
    """Measure programming noise and read noise of ``n_devices`` devices per target.

    Devices are programmed at t = 0 s to each target (S) and read once at each of
    ``read_times_s`` (s); see :class:`NoiseStats` for what is measured.
    """
    n_devices = _check_devices(n_devices)
    targets = jnp.asarray(targets_S, jnp.float32).reshape(-1)
    times = jnp.asarray(read_times_s, jnp.float32).reshape(-1)
    prog_std, prog_formula, read_std, read_expected = _noise_stats(
        model, targets, times, n_devices, key
    )
    return NoiseStats(
        targets_S=np.asarray(targets),
        prog_std_S=np.asarray(prog_std),
        prog_std_formula_S=np.asarray(prog_formula),
        read_times_s=np.asarray(times),
        read_std_S=np.asarray(read_std),
        read_std_expected_S=np.asarray(read_expected),
    )


# --- figures ---------------------------------------------------------------------------------


def _title(ax, what: str, model: AbstractDevice) -> None:
    ax.set_title(f"{what}\n{model.description}", fontsize=8)


def plot_set_pulses(model: AbstractDevice, g_S) -> Figure:
    """Mean and 5–95 % band of conductance (µS) vs SET pulse number; ``g_S`` from
    :func:`set_pulse_curves`, shape ``(n_pulses + 1, n_devices)`` in S."""
    g_S = np.asarray(g_S)
    mean, low, high = band(g_S / _uS, axis=1)
    pulses = np.arange(g_S.shape[0])
    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    ax.fill_between(pulses, low, high, alpha=0.3, label="5–95 % of devices")
    ax.plot(pulses, mean, marker="o", markersize=3, label="mean")
    ax.set_xlabel("SET pulses since RESET")
    ax.set_ylabel("conductance (µS)")
    ax.set_xlim(0, pulses[-1])
    ax.set_ylim(bottom=0.0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", title=f"{g_S.shape[1]} devices")
    _title(ax, "Cumulative partial SET", model)
    return fig


def plot_drift(model: AbstractDevice, targets_S, times_s, g_S) -> Figure:
    """Mean and 5–95 % band of read conductance (µS) vs time (s, log axis), one curve per
    target; ``g_S`` from :func:`drift_curves`, shape ``(n_targets, n_times, n_devices)`` in S."""
    g_S = np.asarray(g_S)
    times_s = np.asarray(times_s)
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for target, g in zip(np.asarray(targets_S), g_S, strict=True):
        mean, low, high = band(g / _uS, axis=1)
        (line,) = ax.plot(times_s, mean, label=f"{target / _uS:g} µS")
        ax.fill_between(times_s, low, high, color=line.get_color(), alpha=0.2)
    log_time_axis(ax, times_s)
    ax.set_ylabel("read conductance (µS)")
    ax.set_ylim(bottom=0.0)
    ax.grid(alpha=0.3)
    ax.legend(title=f"target (mean, 5–95 %,\n{g_S.shape[2]} devices)", fontsize=8, ncols=2)
    _title(ax, "Drift and read noise after program-and-verify at t = 0 s", model)
    return fig


def _time_label(t_s: float) -> str:
    for t, label in TIME_TICKS:
        if np.isclose(t_s, t):
            return label
    return f"{t_s:g} s"


def plot_noise_vs_target(model: AbstractDevice, stats: NoiseStats) -> Figure:
    """Programming-noise and read-noise std (µS) vs target conductance (µS)."""
    targets = stats.targets_S / _uS
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(targets, stats.prog_std_formula_S / _uS, color="k", label="programming, formula σ_p")
    ax.plot(targets, stats.prog_std_S / _uS, "ko", markersize=4, label="programming, measured")
    for t, measured, expected in zip(
        stats.read_times_s, stats.read_std_S, stats.read_std_expected_S, strict=True
    ):
        (line,) = ax.plot(targets, measured / _uS, "s", markersize=3)
        ax.plot(
            targets,
            expected / _uS,
            "--",
            color=line.get_color(),
            label=f"read at {_time_label(float(t))} (markers measured, dashed formula)",
        )
    ax.set_xlabel("target conductance (µS)")
    ax.set_ylabel("standard deviation over devices (µS)")
    ax.set_xlim(0.0, targets[-1])
    ax.set_ylim(bottom=0.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    _title(ax, "Programming noise and 1/f read noise", model)
    return fig


def device_figures(model: AbstractDevice, *, n_devices: int = 2000, seed: int = 0):
    """The device figures of ``model`` as ``{name: Figure}`` (names as in :data:`FIGURE_FILES`).

    ``set_pulses`` is left out for models without a pulse-level SET response.
    """
    n_devices = _check_devices(n_devices)
    k_set, k_drift, k_noise = prng.split(jax.random.key(seed), 3)
    figures = {}
    if supports_set_pulses(model):
        g = set_pulse_curves(model, n_devices, 40, key=k_set)
        figures["set_pulses"] = plot_set_pulses(model, g)
    targets, times = drift_targets_S(model), drift_times_s()
    g = drift_curves(model, targets, times, n_devices, key=k_drift)
    figures["drift"] = plot_drift(model, targets, times, g)
    stats = noise_vs_target(model, noise_targets_S(model), n_devices=n_devices, key=k_noise)
    figures["noise_vs_target"] = plot_noise_vs_target(model, stats)
    return figures


def write_device_figures(
    model: AbstractDevice,
    out_dir: str | Path,
    *,
    n_devices: int = 2000,
    seed: int = 0,
    prefix: str = "",
) -> list[Path]:
    """Write the device figures of ``model`` as PNGs into ``out_dir`` (created if missing).

    Files (each name preceded by ``prefix``, e.g. the preset's name and ``_``, so figures of
    several presets can share a folder): ``set_pulses.png`` (conductance vs SET pulse number,
    pulse-level models only), ``drift.png`` (read conductance from 1 s to 10 years after
    programming) and ``noise_vs_target.png`` (programming- and read-noise std vs target), each
    from ``n_devices`` simulated devices per curve with PRNG seed ``seed``.

    Returns:
        the paths written, in the order above.

    Raises:
        OSError: ``out_dir`` cannot be created or a file in it cannot be written (the message
            names the path).
        ValueError: ``n_devices < 1``.
    """
    n_devices = _check_devices(n_devices)
    out_dir = make_output_dir(out_dir)
    figures = device_figures(model, n_devices=n_devices, seed=seed)
    return [
        save_figure(fig, out_dir / f"{prefix}{FIGURE_FILES[name]}") for name, fig in figures.items()
    ]
