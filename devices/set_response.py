"""Cumulative, saturating, stochastic partial-SET response of PCM.

Nandakumar et al., J. Appl. Phys. 124, 152135 (2018): per SET pulse the pulse memory decays,
P <- P exp(-1/memory_pulses), then the conductance steps by dG ~ N(mu, sigma) with
mu = mean_offset + mean_slope G + mean_memory P and sigma = std_offset + std_slope G + std_memory P
(conductances in siemens, slopes dimensionless). P = 1 right after a RESET.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from ..hw_configs import param


class CumulativeSet(eqx.Module):
    """Statistics of the conductance increment of one partial SET pulse."""

    memory_pulses: float = param("decay constant of the pulse memory P, pulses", gt=0.0)
    mean_offset_S: float = param("mean increment at G = 0, P = 0, S")
    mean_slope: float = param("d(mean increment)/dG (negative: increments shrink as G grows)")
    mean_memory_S: float = param("extra mean increment per unit of pulse memory P, S")
    std_offset_S: float = param("increment std at G = 0, P = 0, S", ge=0.0)
    std_slope: float = param("d(increment std)/dG")
    std_memory_S: float = param("extra increment std per unit of pulse memory P, S")

    def memory_decay(self):
        """Factor applied to P before each pulse."""
        return jnp.exp(-1.0 / self.memory_pulses)

    def increment_mean_S(self, g_S, memory):
        """Mean conductance increment (S) of a pulse at conductance ``g_S`` and memory P."""
        return self.mean_offset_S + self.mean_slope * g_S + self.mean_memory_S * memory

    def increment_std_S(self, g_S, memory):
        """Std (S) of the increment of a pulse at conductance ``g_S`` and memory P (≥ 0)."""
        return jnp.maximum(
            self.std_offset_S + self.std_slope * g_S + self.std_memory_S * memory, 0.0
        )
