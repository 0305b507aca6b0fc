"""The per-device state arrays that every device model reads and returns."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

__all__ = ["DeviceState", "HEALTHY", "STUCK_SET", "STUCK_RESET", "WORN_OUT"]

# Codes of DeviceState.fault. A stuck or worn-out device ignores every write but is still read.
HEALTHY = 0
STUCK_SET = 1  # manufacturing fault: held at its maximum conductance
STUCK_RESET = 2  # manufacturing fault: held at its RESET (amorphous) conductance
WORN_OUT = 3  # exceeded its endurance; frozen at the preset's worn-out level


class DeviceState(eqx.Module):
    """State of an array of PCM devices; every field has the array's shape.

    Attributes:
        g_prog_S: conductance right after the device was last written (S), before drift.
        t_prog_s: chip time of that write (s); drift and 1/f noise are counted from it.
        nu: drift exponent of the device since its last write (dimensionless).
        nu_z: the standard-normal draw behind ``nu``, kept so a device follows one drift
            trajectory whose exponent tracks its conductance (pulse model).
        read_noise_q: the 1/f noise coefficient Q_s of the device since its last write
            (fixed by the written conductance, so it is computed once per write, not per read).
        pulse_memory: the pulse-memory variable P of the cumulative SET model (1 after RESET).
        step_scale: device-to-device multiplier of the SET increment (1 = nominal).
        g_max_S: this device's maximum conductance (S) (device-to-device spread).
        set_pulses: SET pulses fired at the device so far (count).
        cycles: write cycles so far (RESETs and program-and-verify operations; count).
        fault: HEALTHY, STUCK_SET, STUCK_RESET or WORN_OUT.
    """

    g_prog_S: Float[Array, "*shape"]
    t_prog_s: Float[Array, "*shape"]
    nu: Float[Array, "*shape"]
    nu_z: Float[Array, "*shape"]
    read_noise_q: Float[Array, "*shape"]
    pulse_memory: Float[Array, "*shape"]
    step_scale: Float[Array, "*shape"]
    g_max_S: Float[Array, "*shape"]
    set_pulses: Int[Array, "*shape"]
    cycles: Int[Array, "*shape"]
    fault: Int[Array, "*shape"]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.g_prog_S.shape

    @property
    def healthy(self) -> jnp.ndarray:
        """Boolean mask of devices that still respond to writes."""
        return self.fault == HEALTHY
