"""Leaky integrate-and-fire neurons: the population a spiking layer's tile drives."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ...hw_configs import param
from .bounds import check_bounds, check_ordered

__all__ = ["LIF", "LIFState"]


class LIFState(eqx.Module):
    """Membrane potentials (V), synaptic currents (A) and refractory steps left, each (n,)."""

    v_V: Float[Array, " n"]
    i_syn_A: Float[Array, " n"]
    refractory: Int[Array, " n"]


class LIF(eqx.Module):
    """A population of current-based leaky integrate-and-fire neurons.

    Membrane: τ_m dv/dt = −(v − v_rest) + R I, integrated exactly over each step with the
    current held constant: v ← v_rest + (v − v_rest) α + R I (1 − α), α = exp(−dt/τ_m). For a
    constant current from rest this gives v(n dt) = v_rest + R I (1 − exp(−n dt/τ_m)) exactly.
    Synaptic current: decays with τ_syn; each unit of tile output delivers the charge
    :attr:`charge_per_weight_C` (spread over one step when τ_syn = 0). A neuron whose v
    reaches the threshold fires, is reset to v_reset and held there for ``refractory_s``.
    """

    count: int = param("neurons", ge=1, static=True)
    tau_m_s: float = param("membrane time constant, s", gt=0.0)
    psp_V: float = param(
        "depolarisation by one unfatigued spike through a weight of 1 (the membrane jump with "
        "tau_syn_s = 0), V",
        gt=0.0,
    )
    refractory_s: float = param("refractory period, s (rounded to steps)", ge=0.0, default=0.002)
    v_rest_V: float = param("resting potential, V", default=-0.070)
    v_reset_V: float = param("reset potential, V", default=-0.070)
    v_threshold_V: float = param("threshold, V", default=-0.054)
    resistance_Ohm: float = param("membrane resistance, Ohm", gt=0.0, default=1.0e8)
    tau_syn_s: float = param("synaptic current time constant, s (0: one step)", ge=0.0, default=0.0)
    lateral_inhibition_V: float = param(
        "every spike lowers the other neurons' potential by this, V", ge=0.0, default=0.0
    )
    winner_take_all: bool = param(
        "at most one neuron fires per step (the most depolarised)", default=False, static=True
    )

    def __check_init__(self):
        check_bounds(self)
        check_ordered(self, "v_reset_V", "v_threshold_V", unit=" V")

    @property
    def charge_per_weight_C(self):
        """Charge of one unit of tile output (one spike through a weight of 1), C.

        A charge q on the membrane gives a jump of R q / τ_m, so q = psp_V τ_m / R.
        """
        return self.psp_V * self.tau_m_s / self.resistance_Ohm

    def refractory_steps(self, dt_s: float):
        """Steps a neuron is held at v_reset after a spike (int32)."""
        return jnp.round(self.refractory_s / dt_s).astype(jnp.int32)

    def _syn_decay(self, dt_s: float):
        tau = jnp.asarray(self.tau_syn_s, jnp.float32)
        return jnp.where(tau > 0, jnp.exp(-dt_s / jnp.maximum(tau, 1e-30)), 0.0)

    def synaptic_current_A(self, y, dt_s: float):
        """Current (A) that a tile output ``y`` (weight units) adds to the synaptic current.

        Scaled so that the charge the exponentially decaying current delivers over all later
        steps is exactly ``y · charge_per_weight_C``.
        """
        return y * (self.charge_per_weight_C * (1.0 - self._syn_decay(dt_s)) / dt_s)

    def init(self) -> LIFState:
        """The ``count`` neurons at rest, no current, not refractory."""
        return LIFState(
            v_V=jnp.full(self.count, self.v_rest_V, jnp.float32),
            i_syn_A=jnp.zeros(self.count, jnp.float32),
            refractory=jnp.zeros(self.count, jnp.int32),
        )

    def step(self, state: LIFState, current_A, dt_s: float):
        """One step of dt_s with ``current_A`` (count,) added to the synaptic current.

        Returns (state, spikes) with spikes (count,) float32 in {0, 1}.
        """
        alpha = jnp.exp(-dt_s / self.tau_m_s)
        i_syn = state.i_syn_A * self._syn_decay(dt_s) + current_A
        v = self.v_rest_V + (state.v_V - self.v_rest_V) * alpha
        v = v + self.resistance_Ohm * i_syn * (1.0 - alpha)
        held = state.refractory > 0
        v = jnp.where(held, self.v_reset_V, v)
        fire = (v >= self.v_threshold_V) & ~held
        if self.winner_take_all:
            n = v.shape[-1]
            winner = jnp.argmax(jnp.where(fire, v, -jnp.inf), axis=-1)
            fire = fire & (jnp.arange(n) == winner[..., None])
        spikes = fire.astype(jnp.float32)
        others = jnp.sum(spikes, axis=-1, keepdims=True) - spikes
        v = v - self.lateral_inhibition_V * others
        v = jnp.where(fire, self.v_reset_V, v)
        refractory = jnp.where(
            fire, self.refractory_steps(dt_s), jnp.maximum(state.refractory - 1, 0)
        )
        return LIFState(v, i_syn, refractory), spikes
