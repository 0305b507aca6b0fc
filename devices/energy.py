"""Energy per device operation."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from ..hw_configs import param


class DeviceEnergy(eqx.Module):
    """Energy of reads and writes of one device.

    A read dissipates V_read^2 * G * t_pulse (ohmic read); SET and RESET pulses cost fixed
    energies from the preset; a program-and-verify write is one RESET plus
    ``program_iterations`` (SET pulse + verify read) iterations.
    """

    read_voltage_V: float = param("read voltage across the device, V", gt=0.0)
    read_pulse_s: float = param("duration of one read pulse, s", gt=0.0)
    set_pulse_J: float = param("energy of one (partial) SET pulse, J", ge=0.0)
    reset_pulse_J: float = param("energy of one RESET pulse, J", ge=0.0)
    program_iterations: int = param("SET + verify iterations of one program-and-verify", ge=0)

    def read_J(self, g_S):
        """Energy (J) of reading devices of conductance ``g_S`` (S) once each (elementwise)."""
        return self.read_voltage_V**2 * jnp.abs(g_S) * self.read_pulse_s

    def set_J(self, n_pulses):
        """Energy (J) of ``n_pulses`` SET pulses (elementwise)."""
        return self.set_pulse_J * jnp.maximum(jnp.asarray(n_pulses, jnp.float32), 0.0)

    def reset_J(self, n_resets):
        """Energy (J) of ``n_resets`` RESET pulses (a count or a boolean mask, elementwise)."""
        return self.reset_pulse_J * jnp.maximum(jnp.asarray(n_resets, jnp.float32), 0.0)

    def program_J(self, g_target_S):
        """Energy (J) of one program-and-verify write to ``g_target_S`` (S) (elementwise)."""
        g = jnp.asarray(g_target_S)
        per_iteration = self.set_pulse_J + self.read_J(g)
        return self.reset_pulse_J + self.program_iterations * per_iteration
