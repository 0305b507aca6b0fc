"""Program-and-verify writes of differential PCM pairs: device targets, RESETs and their cost.

Pure functions of device states, shared by a PCM tile's absolute writes
(``program_weights``), its refreshes and RESET-and-reprogram depression.
"""

from __future__ import annotations

import jax.numpy as jnp

from ..devices import AbstractDevice, DeviceState, prng
from ..devices.counting import count_total
from .chip import UpdateConfig
from .read_view import side_sums

__all__ = ["pair_targets", "program_cost", "reset_and_program", "saturated_pairs"]


def pair_targets(W, w_scale: float, devices_per_side: int):
    """Per-device target conductances (2, N, rows, cols), S, of absolute weights W (rows, cols).

    The positive part goes to G+ and the negative part to G−, split evenly over the N devices
    of a side; the other side's target is 0 S. ``w_scale`` is the weight per siemens of
    conductance difference.
    """
    g = jnp.asarray(W, jnp.float32) / (w_scale * devices_per_side)
    pos = jnp.maximum(g, 0.0)
    neg = jnp.maximum(-g, 0.0)
    return jnp.broadcast_to(jnp.stack([pos, neg])[:, None], (2, devices_per_side, *jnp.shape(W)))


def program_cost(energy, targets, mask) -> dict:
    """Ledger increments of program-and-verify writes of ``targets`` where ``mask``: one RESET
    and the preset's iterations of a SET pulse and a verify read per written device."""
    mask = jnp.broadcast_to(mask, targets.shape)
    writes = count_total(mask)
    iterations = energy.program_iterations
    return dict(
        reset=writes * energy.reset_pulse_J,
        set=writes * iterations * energy.set_pulse_J,
        read=iterations * jnp.sum(jnp.where(mask, energy.read_J(targets), 0.0)),
        reset_pulses=writes,
        set_pulses=writes * iterations,
        device_reads=writes * iterations,
    )


def reset_and_program(
    device: AbstractDevice, devices: DeviceState, synapses, targets, t, *, key
) -> tuple[DeviceState, dict]:
    """RESET both sides of the ``synapses`` (bool (rows, cols)), then program them to ``targets``.

    Every device of a chosen pair is RESET; the devices with a target above 0 S are then
    written with program-and-verify (targets beyond a device's window are clipped to it).

    Returns:
        (devices, cost): the new device states and the ledger increments of the RESETs
        (``reset``, ``reset_pulses``) and of the program-and-verify writes (``set``, ``read``
        of the verify reads, ``set_pulses``, ``device_reads``).
    """
    k_reset, k_prog = prng.split(key)
    mask = jnp.broadcast_to(synapses[None, None], devices.shape)
    devices = device.reset(devices, mask, t, key=k_reset)
    written = mask & (targets > 0)
    devices = device.program(devices, targets, t, key=k_prog, mask=written)
    resets = count_total(mask)
    cost = program_cost(device.energy, targets, written)
    cost.update(reset=resets * device.energy.reset_pulse_J, reset_pulses=resets)
    return devices, cost


def saturated_pairs(g, update: UpdateConfig):
    """The synapses (rows, cols) a refresh should re-balance, from read conductances g (S).

    A synapse qualifies when one of its devices is above refresh_threshold · g_weight_max while
    the other side also holds conductance (more than 10 % of g_weight_max). A synapse whose
    weight alone needs the high conductance does not, since a refresh could not give it
    headroom.
    """
    threshold = update.refresh_threshold * update.g_weight_max_S
    g_pos, g_neg = side_sums(g)
    g_high = side_sums(jnp.where(g > threshold, 1.0, 0.0))
    return (g_high[0] + g_high[1] > 0) & (jnp.minimum(g_pos, g_neg) > 0.1 * update.g_weight_max_S)
