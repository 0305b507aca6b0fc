"""A volatile conductance: it relaxes toward 0 S by itself and is written by small pulses.

The element of a fast, decaying synaptic term (short-term plasticity): diffusive
memristors, whose conductance relaxes spontaneously after a write (Wang et al., "Memristors
with diffusive dynamics as synaptic emulators for neuromorphic computing", Nat. Mater. 16,
101, 2017), or a capacitor holding a transistor's gate charge. Between two steps of
``step_s`` a device relaxes as

    G ← G · exp(−step_s / τ) · (1 + decay_noise · ξ),          ξ ~ N(0, 1) per device per step

so the mean decays exactly exponentially and the standard deviation after one step is
``decay_noise`` times the mean. Each device's τ is programmed within [tau_min_s, tau_max_s]
(the retention a compliance current or bias sets) and realised with a device-to-device
lognormal spread ``tau_spread`` (fixed once programmed). A write adds a requested change
ΔG ≥ 0 with relative noise ``write_noise``; conductances stay within [0, g_max_S]. A read
has relative noise ``read_noise``.

The defaults of :func:`VolatileDevice.default` are illustrative orders of magnitude, not a
fit to a measured device: replace them with your element's values (every field is a job
key).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp

from ..hw_configs import InvalidParameter, param
from .random import normal_elementwise

__all__ = ["VolatileDevice"]


class VolatileDevice(eqx.Module):
    """Parameters of a volatile element (see the module docstring for the equations)."""

    g_max_S: float = param("largest conductance a device holds, S", gt=0.0)
    tau_min_s: float = param("shortest programmable relaxation time constant, s", gt=0.0)
    tau_max_s: float = param("longest programmable relaxation time constant, s", gt=0.0)
    tau_spread: float = param(
        "device-to-device lognormal sigma of the realised time constant (0: exact)", ge=0.0
    )
    decay_noise: float = param(
        "relative std of a device's conductance after one step's relaxation", ge=0.0
    )
    write_noise: float = param("relative std of a written conductance change", ge=0.0)
    read_noise: float = param("relative std of a read", ge=0.0)
    write_pulse_J: float = param("energy of one write pulse (one device, one step), J", ge=0.0)

    def __check_init__(self):
        if not self.tau_max_s >= self.tau_min_s:
            raise InvalidParameter(
                "tau_max_s",
                f"must be ≥ tau_min_s ({self.tau_min_s} s), got {self.tau_max_s} s",
            )

    @classmethod
    def default(cls) -> VolatileDevice:
        """Illustrative values (see the module docstring): a 10 µS window, time constants
        from 0.1 ms to 1 s, 10 % spread of τ, 2 % noise per step, 5 % write noise, 1 % read
        noise and 1 pJ per write pulse (the order of a PCM SET pulse)."""
        return cls(
            g_max_S=10e-6,
            tau_min_s=1e-4,
            tau_max_s=1.0,
            tau_spread=0.1,
            decay_noise=0.02,
            write_noise=0.05,
            read_noise=0.01,
            write_pulse_J=1e-12,
        )

    def decay_range(self, step_s: float) -> tuple[float, float]:
        """The per-step decay factors exp(−step_s/τ) the element can realise: (min, max)."""
        return math.exp(-step_s / self.tau_min_s), math.exp(-step_s / self.tau_max_s)

    def programmed_tau_s(self, decay, step_s: float):
        """The time constant (s) to program for a per-step decay factor ``decay`` (clipped to
        what the element realises): τ = −step_s / ln(decay)."""
        low, high = self.decay_range(step_s)
        decay = jnp.clip(jnp.asarray(decay, jnp.float32), low, high)
        return -step_s / jnp.log(decay)

    def realised_tau_s(self, tau_s, *, key):
        """Programmed time constants (s) as realised by the devices (lognormal spread)."""
        return tau_s * jnp.exp(self.tau_spread * normal_elementwise(key, jnp.shape(tau_s)))

    def relax(self, g_S, tau_s, step_s: float, *, key):
        """Conductances (S) after ``step_s`` seconds of relaxation with time constants ``tau_s``."""
        mean = g_S * jnp.exp(-step_s / tau_s)
        return jnp.maximum(mean * (1.0 + self.decay_noise * normal_elementwise(key, g_S.shape)), 0)

    def write(self, g_S, delta_S, *, key):
        """Conductances (S) after adding the changes ``delta_S`` ≥ 0 (noisy), within the window."""
        noisy = delta_S * (1.0 + self.write_noise * normal_elementwise(key, jnp.shape(delta_S)))
        return jnp.clip(g_S + jnp.maximum(noisy, 0.0), 0.0, self.g_max_S)

    def read(self, g_S, *, key):
        """One noisy read of conductances ``g_S`` (S)."""
        return g_S * (1.0 + self.read_noise * jax.random.normal(key, jnp.shape(g_S)))
