"""The measurement of a :class:`~.measurements.Design`, run on a device model.

Fresh devices are RESET at chip time 0 s; at each stage of the design the SET pulses that
reach its pulse number are fired, and each of its points is read ``reads`` times at its read
time after those pulses. Everything goes through the model's own ``init``, ``reset``,
``set_pulses`` and ``read``, so synthetic data are what the emulator does, and the fit
matches the model that later runs on the chip. Pure and jittable; forward-mode
differentiable in the model's parameters (``set_pulses`` loops with a traced pulse count,
which reverse mode cannot differentiate).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .. import prng
from ..abstract import AbstractDevice
from .measurements import Design

__all__ = [
    "Schedule",
    "check_pulse_model",
    "jitted_reads",
    "masked",
    "schedule_of",
    "simulate_reads",
]


def check_pulse_model(model: AbstractDevice) -> None:
    """Raise ValueError unless ``model`` has a pulse-level SET response."""
    if not hasattr(model, "set_response"):
        raise ValueError(
            f"needs a pulse-level device model (model: pcm_pulse), got "
            f"{type(model).__name__} ('{model.description}')"
        )


class Schedule(eqx.Module):
    """A :class:`Design` as arrays a jitted simulation takes (shapes fix the compilation).

    Attributes:
        fired: pulses fired to reach each stage, ``(S,)`` int32.
        stage_time_s: chip time of each stage's pulses, s, ``(S,)``.
        point_stage: stage of each read point, ``(K,)`` int32.
        point_time_s: chip time of each point's reads, s, ``(K,)``.
        max_reads: reads simulated per point (points with fewer are masked later).
    """

    fired: jax.Array
    stage_time_s: jax.Array
    point_stage: jax.Array
    point_time_s: jax.Array
    max_reads: int = eqx.field(static=True)


def schedule_of(design: Design) -> Schedule:
    """The :class:`Schedule` of ``design``."""
    stage_time = design.stage_times_s()
    stage = design.stage_of_point()
    return Schedule(
        fired=jnp.asarray(design.pulses_fired(), jnp.int32),
        stage_time_s=jnp.asarray(stage_time, jnp.float32),
        point_stage=jnp.asarray(stage, jnp.int32),
        point_time_s=jnp.asarray(stage_time[stage] + design.t_read_s, jnp.float32),
        max_reads=design.max_reads,
    )


def simulate_reads(model: AbstractDevice, schedule: Schedule, n_devices: int, *, key):
    """Conductance reads (S) of ``n_devices`` fresh devices measured per ``schedule``.

    Returns:
        float32 array ``(n_devices, K, max_reads)``, K the schedule's read points.
    """
    k_init, k_reset, k_pulses, k_reads = prng.split(key, 4)
    state = model.init((n_devices,), key=k_init)
    state = model.reset(state, True, 0.0, key=k_reset)

    def stage(state, step):
        n, t, k = step
        state = model.set_pulses(state, n, t, key=k)
        return state, state

    stage_keys = prng.split(k_pulses, schedule.fired.shape[0])
    _, states = jax.lax.scan(stage, state, (schedule.fired, schedule.stage_time_s, stage_keys))

    def point(s, t, k):
        at = jax.tree.map(lambda leaf: leaf[s], states)
        return jax.vmap(lambda kr: model.read(at, t, key=kr))(prng.split(k, schedule.max_reads))

    point_keys = prng.split(k_reads, schedule.point_stage.shape[0])
    reads = jax.vmap(point)(schedule.point_stage, schedule.point_time_s, point_keys)
    return jnp.transpose(reads, (2, 0, 1))


@eqx.filter_jit
def jitted_reads(model: AbstractDevice, schedule: Schedule, n_devices: int, key):
    """:func:`simulate_reads`, jitted (``n_devices`` and the model's Python numbers static)."""
    return simulate_reads(model, schedule, n_devices, key=key)


def masked(g_S, design: Design) -> np.ndarray:
    """``g_S`` (``(D, K, max_reads)``) with the read slots a point does not use set to 0."""
    return np.where(design.read_mask()[None], np.asarray(g_S, np.float64), 0.0)
