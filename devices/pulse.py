"""The pulse-level PCM model for on-chip learning (Nandakumar et al., J. Appl. Phys. 2018)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..hw_configs import InvalidParameter, format_si, section
from . import prng
from .abstract import AbstractDevice
from .conductance import ConductanceRange
from .counting import count_max
from .drift import Drift
from .energy import DeviceEnergy
from .faults import Faults
from .programming_noise import ProgrammingNoise
from .random import normal_elementwise, normal_pair_elementwise
from .read_noise import ReadNoise
from .reset_response import ResetResponse
from .set_response import CumulativeSet
from .state import DeviceState
from .variability import DeviceVariability

__all__ = ["PulsePCM"]


class PulsePCM(AbstractDevice):
    """Cumulative stochastic partial SET, abrupt RESET, drift, read noise, faults and wear.

    SET increments follow Nandakumar et al., J. Appl. Phys. 124, 152135 (2018); drift and read
    noise follow the statistical model (Nandakumar et al., ICECS 2019). The drift clock of a
    device restarts at every write; its drift exponent is redrawn at RESET and
    program-and-verify and follows its conductance as SET pulses move it (same standard-normal
    draw, so one device keeps one trajectory).
    """

    description: str = eqx.field(static=True)
    conductance: ConductanceRange = section("conductance window")
    set_response: CumulativeSet = section("partial-SET increment statistics")
    reset_response: ResetResponse = section("conductance after RESET")
    variability: DeviceVariability = section("device-to-device variation")
    programming_noise: ProgrammingNoise = section("programming noise of program-and-verify")
    drift: Drift = section("drift exponent statistics")
    read_noise: ReadNoise = section("1/f read noise")
    energy: DeviceEnergy = section("energy per operation")
    faults: Faults = section("stuck devices and endurance")

    def __check_init__(self):
        # The RESET (amorphous) state is the bottom of the window; checked against the nominal
        # g_max, since each device's own ceiling is drawn around it at fabrication.
        g_reset, g_max = self.reset_response.g_reset_S, self.conductance.g_max_S
        if isinstance(g_reset, float) and isinstance(g_max, float) and not g_reset < g_max:
            raise InvalidParameter(
                "reset_response.g_reset_S",
                f"must be below conductance.g_max_S ({format_si(g_max, 'S')}), "
                f"got {format_si(g_reset, 'S')}",
            )

    def reset_level_S(self):
        return self.reset_response.g_reset_S

    def _reset_conductance(self, shape, key):
        return self._reset_level(normal_elementwise(key, shape))

    def _reset_level(self, xi):
        """Conductance (S) after a RESET for standard-normal draws ``xi``."""
        spread = self.reset_response.relative_spread * xi
        return jnp.maximum(self.reset_response.g_reset_S * (1.0 + spread), 0.0)

    def _fabricate(self, shape, *, key):
        k_step, k_gmax, k_reset = prng.split(key, 3)
        step_scale = jnp.maximum(
            1.0 + self.variability.step_relative * jax.random.normal(k_step, shape), 0.0
        )
        g_max = self.conductance.g_max_S * jnp.maximum(
            1.0 + self.variability.g_max_relative * jax.random.normal(k_gmax, shape), 0.05
        )
        return step_scale, g_max, self._reset_conductance(shape, k_reset)

    def set_pulses(self, state: DeviceState, n, t, *, key) -> DeviceState:
        """Fire ``n`` partial SET pulses per device at chip time ``t`` (s).

        ``n`` is a non-negative integer array broadcastable to the state. The pulses are
        applied one after another to the drifted conductance at ``t``; stuck and worn-out
        devices do not move but their pulses are still counted (the periphery fires them).
        """
        shape = state.shape
        n = jnp.broadcast_to(jnp.maximum(jnp.asarray(n, jnp.int32), 0), shape)
        healthy = state.healthy
        decay = self.set_response.memory_decay()
        g0 = self.drifted(state, t)

        def one_pulse(i, g, memory, xi):
            active = healthy & (i < n)
            memory_next = memory * decay
            mean = self.set_response.increment_mean_S(g, memory_next)
            std = self.set_response.increment_std_S(g, memory_next)
            g_next = jnp.clip(g + state.step_scale * (mean + std * xi), 0.0, state.g_max_S)
            return jnp.where(active, g_next, g), jnp.where(active, memory_next, memory)

        def two_pulses(k, carry):
            # Pulses 2k and 2k + 1 draw their increments from the two words of one cipher
            # call per device: half the random-number cost of a pulse (the cost of an update).
            xi_even, xi_odd = normal_pair_elementwise(prng.fold_in(key, k), shape)
            carry = one_pulse(2 * k, *carry, xi_even)
            return one_pulse(2 * k + 1, *carry, xi_odd)

        n_max = count_max(n)
        g, memory = jax.lax.fori_loop(0, (n_max + 1) // 2, two_pulses, (g0, state.pulse_memory))
        written = healthy & (n > 0)
        nu = self.drift.nu(g, state.nu_z)
        state = self.record_write(state, written, g, t, nu=nu, nu_z=state.nu_z, pulse_memory=memory)
        return eqx.tree_at(lambda s: s.set_pulses, state, state.set_pulses + n)

    def reset(self, state: DeviceState, mask, t, *, key) -> DeviceState:
        """RESET the devices where ``mask`` is true at chip time ``t`` (s): one melt-quench pulse.

        Healthy devices land near ``g_reset`` with the preset's spread, their pulse memory
        returns to 1 and a new drift exponent is drawn; every masked device counts a cycle,
        and devices past their endurance wear out.
        """
        shape = state.shape
        mask = jnp.broadcast_to(jnp.asarray(mask, bool), shape)
        # The level and the drift draw from the two words of one cipher call per device.
        xi, nu_z = normal_pair_elementwise(key, shape, once=True)
        g = self._reset_level(xi)
        written = state.healthy & mask
        state = self.record_write(
            state, written, g, t, nu=self.drift.nu(g, nu_z), nu_z=nu_z, pulse_memory=1.0
        )
        state = eqx.tree_at(lambda s: s.cycles, state, state.cycles + mask.astype(jnp.int32))
        return self.worn(state)
