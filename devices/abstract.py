"""The interface every device model implements, and the physics all PCM models share."""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp

from . import prng
from .conductance import ConductanceRange
from .drift import Drift
from .energy import DeviceEnergy
from .faults import Faults
from .programming_noise import ProgrammingNoise
from .random import normal_elementwise, normal_pair_elementwise
from .read_noise import ReadNoise
from .state import HEALTHY, STUCK_RESET, STUCK_SET, WORN_OUT, DeviceState

__all__ = ["AbstractDevice"]


class AbstractDevice(eqx.Module):
    """A PCM device model, vectorised over arrays of any shape.

    All methods are pure: they take a :class:`DeviceState` and return a new one. Conductances
    are in siemens, times are chip times in seconds, ``key`` is a ``jax.random`` key that is
    split inside and never reused. Same key, same result.
    """

    description: eqx.AbstractVar[str]
    conductance: eqx.AbstractVar[ConductanceRange]
    programming_noise: eqx.AbstractVar[ProgrammingNoise]
    drift: eqx.AbstractVar[Drift]
    read_noise: eqx.AbstractVar[ReadNoise]
    energy: eqx.AbstractVar[DeviceEnergy]
    faults: eqx.AbstractVar[Faults]

    # --- what differs between models -------------------------------------------------------

    @abc.abstractmethod
    def reset_level_S(self):
        """Mean conductance (S) of a device in its RESET (amorphous) state."""

    @abc.abstractmethod
    def _fabricate(self, shape, *, key):
        """Per-device (step_scale, g_max_S, g_initial_S) of a fresh array."""

    @abc.abstractmethod
    def set_pulses(self, state: DeviceState, n, t, *, key) -> DeviceState:
        """Fire ``n`` (non-negative integers, per device) SET pulses at chip time ``t`` (s)."""

    @abc.abstractmethod
    def reset(self, state: DeviceState, mask, t, *, key) -> DeviceState:
        """RESET the devices where ``mask`` is true at chip time ``t`` (s)."""

    # --- shared physics ----------------------------------------------------------------------

    @property
    def g_max_S(self) -> float:
        """Nominal maximum conductance (S)."""
        return self.conductance.g_max_S

    def init(self, shape, *, key) -> DeviceState:
        """A fresh array of devices of ``shape``: RESET, drift clock at t = 0 s, faults drawn."""
        shape = tuple(shape)
        k_fault, k_fab, k_nu = prng.split(key, 3)
        u = jax.random.uniform(k_fault, shape)
        p_set, p_reset = self.faults.p_stuck_set, self.faults.p_stuck_reset
        fault = jnp.where(
            u < p_set, STUCK_SET, jnp.where(u < p_set + p_reset, STUCK_RESET, HEALTHY)
        ).astype(jnp.int8)
        step_scale, g_max, g = self._fabricate(shape, key=k_fab)
        g = jnp.where(fault == STUCK_SET, g_max, g)
        g = jnp.where(fault == STUCK_RESET, self.reset_level_S(), g)
        nu_z = normal_elementwise(k_nu, shape)
        return DeviceState(
            g_prog_S=g,
            t_prog_s=jnp.zeros(shape),
            nu=self.drift.nu(g, nu_z),
            nu_z=nu_z,
            read_noise_q=self.read_noise.q_s(g),
            pulse_memory=jnp.ones(shape),
            step_scale=step_scale,
            g_max_S=g_max,
            set_pulses=jnp.zeros(shape, jnp.int32),
            cycles=jnp.zeros(shape, jnp.int32),
            fault=fault,
        )

    def program(self, state: DeviceState, g_target, t, *, key, mask=None) -> DeviceState:
        """Program-and-verify healthy devices to ``g_target`` (S) at chip time ``t`` (s).

        The result carries programming noise (clipped at 0 S); the target is first clipped to
        the device's window. A fresh drift exponent is drawn for the target conductance. Only
        devices where ``mask`` is true are written (all when ``mask`` is None).
        """
        shape = state.shape
        target = jnp.clip(
            jnp.broadcast_to(jnp.asarray(g_target, jnp.float32), shape),
            self.conductance.g_min_S,
            state.g_max_S,
        )
        # Programming noise and the drift draw: the two words of one cipher call per device.
        xi, nu_z = normal_pair_elementwise(key, shape, once=True)
        g_new = jnp.maximum(target + self.programming_noise.sigma_S(target) * xi, 0.0)
        nu = self.drift.nu(target, nu_z)
        written = state.healthy if mask is None else state.healthy & mask
        touched = jnp.ones(shape, bool) if mask is None else jnp.broadcast_to(mask, shape)
        state = self.record_write(state, written, g_new, t, nu=nu, nu_z=nu_z, pulse_memory=0.0)
        state = eqx.tree_at(lambda s: s.cycles, state, state.cycles + touched.astype(jnp.int32))
        return self.worn(state)

    def drifted(self, state: DeviceState, t):
        """Noiseless conductance (S) at chip time ``t`` (s): programmed value times drift."""
        return state.g_prog_S * self.drift.factor(t - state.t_prog_s, state.nu)

    def read(self, state: DeviceState, t, *, key):
        """Conductance (S) read at chip time ``t`` (s): drift plus fresh 1/f read noise, ≥ 0."""
        g_drift, sigma = self.read_statistics(state, t)
        xi = normal_elementwise(key, state.shape)
        return jnp.maximum(g_drift + jnp.abs(g_drift) * sigma * xi, 0.0)

    def read_statistics(self, state: DeviceState, t):
        """(noiseless drifted conductance in S, read-noise std relative to it) at time ``t`` (s).

        Drift and 1/f noise both depend on ln(elapsed + t0), so one logarithm per device serves
        both: ((e + t0)/t0)^-nu = exp(-nu (L - ln t0)) and the 1/f factor
        sqrt(ln((e + t0 + t_read)/(2 t_read))) = sqrt(L - ln(2 t_read)), where the dropped
        t_read/(e + t0) ≤ 1.3e-8 is below float32 resolution. (A log per device is the
        costliest arithmetic of a read after the random numbers.)
        """
        elapsed = jnp.maximum(t - state.t_prog_s, 0.0)
        log_t = jnp.log(elapsed + self.drift.t0_s)
        drift = jnp.exp(-state.nu * (log_t - jnp.log(self.drift.t0_s)))
        time_factor = jnp.sqrt(log_t - jnp.log(2.0 * self.read_noise.t_read_s))
        sigma = self.read_noise.scale * state.read_noise_q * time_factor
        return state.g_prog_S * drift, sigma

    def read_energy_J(self, g_S):
        """Energy (J) of one read of devices at conductance ``g_S`` (S), elementwise."""
        return self.energy.read_J(g_S)

    def set_energy_J(self, n_pulses):
        """Energy (J) of ``n_pulses`` SET pulses, elementwise."""
        return self.energy.set_J(n_pulses)

    def reset_energy_J(self, n_resets):
        """Energy (J) of ``n_resets`` RESET pulses, elementwise."""
        return self.energy.reset_J(n_resets)

    def program_energy_J(self, g_target_S):
        """Energy (J) of one program-and-verify write to ``g_target_S`` (S), elementwise."""
        return self.energy.program_J(g_target_S)

    def worn(self, state: DeviceState) -> DeviceState:
        """Devices past their endurance stick at the preset's worn-out level."""
        worn = state.healthy & (state.cycles >= self.faults.endurance_cycles)
        level = state.g_max_S if self.faults.worn_out_state == "stuck_set" else self.reset_level_S()
        g = jnp.where(worn, level, state.g_prog_S)
        fault = jnp.where(worn, WORN_OUT, state.fault).astype(state.fault.dtype)
        # Q_s of the level, not of every device: a scalar for the RESET level, so a write pays
        # no logarithm per device for the (rare) devices that wear out.
        q = jnp.where(worn, self.read_noise.q_s(level), state.read_noise_q)
        return eqx.tree_at(lambda s: (s.g_prog_S, s.fault, s.read_noise_q), state, (g, fault, q))

    def record_write(self, state: DeviceState, written, g_new, t, *, nu, nu_z, pulse_memory):
        """The state after a write: conductance, write time, drift and noise coefficients
        replaced where ``written`` (a helper of the concrete models' write methods).

        A field passed as the state's own array (a SET keeps ``nu_z``) is left as it is, so
        that callers see it unwritten: a tile's update then does not merge it back.
        """
        t_new = jnp.broadcast_to(jnp.asarray(t, jnp.float32), state.shape)
        new = {
            "g_prog_S": g_new,
            "t_prog_s": t_new,
            "nu": nu,
            "nu_z": nu_z,
            "read_noise_q": self.read_noise.q_s(g_new),
            "pulse_memory": pulse_memory,
        }
        new = {name: value for name, value in new.items() if value is not getattr(state, name)}
        return eqx.tree_at(
            lambda s: tuple(getattr(s, name) for name in new),
            state,
            tuple(jnp.where(written, value, getattr(state, name)) for name, value in new.items()),
        )
