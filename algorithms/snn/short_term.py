"""Short-term STDP: a fast, decaying Hebbian term F on top of the long-term weights W.

Moraitis, Sebastian and Eleftheriou (2020), "Optimality of short-term synaptic plasticity in
modelling certain dynamic environments" (arXiv:2009.06808): a synapse's efficacy is G = W + F,
where F grows with pre/post spike pairings and relaxes back to 0 with a time constant τ_F of
tens to hundreds of ms. A winner-take-all network whose synapses carry F keeps recognising an
input that transforms continuously: the neuron that recognised the recent frames is primed
for the next one.

Per time step dt (the engine's order: the neurons see F_t, then F is updated):

    x̄_t     = λ_pre · x̄_{t−1} + x_t                 presynaptic trace (x: input spikes 0/1)
    F_{t+1} = λ_F · (F_t + γ · x̄_t ⊗ z_t)          z: postsynaptic spikes 0/1

with λ_pre = exp(−dt/τ_pre) and λ_F = exp(−dt/τ_F) (λ_F = 0 for τ_F = 0). Only pairings
potentiate; the decay is the forgetting. F therefore starts at 0, never goes negative and
never exceeds :meth:`ShortTermSTDP.bound_weight` (pre and post spiking every step), so a device
whose range covers that bound holds F without saturating. τ_F → 0 makes F ≡ 0: exactly the
network with W alone.

The fast term lives on a fast-weight tile (:class:`memxbar.crossbar.AbstractFastTile`):
exact digital state (:class:`~memxbar.crossbar.DigitalFastTile`) or volatile devices that
relax by themselves (:class:`~memxbar.crossbar.VolatileTile`), whose update
``F ← decay ⊙ F + gain ⊙ (x ⊗ d)`` this rule maps onto with decay = λ_F, gain = λ_F·γ,
x = x̄_t and d = z_t.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ...crossbar import AbstractFastTile
from ...hw_configs import param
from .bounds import check_bounds

__all__ = ["ShortTermSTDP", "ShortTermState"]


class ShortTermSTDP(eqx.Module):
    """The short-term STDP rule (see the module docstring); a parameter class."""

    tau_fast_s: float = param(
        "τ_F: time constant with which F relaxes to 0, s (0: no fast term, W alone)",
        ge=0.0,
        default=0.1,
        static=True,
    )
    tau_pre_s: float = param(
        "τ_pre: time constant of the presynaptic trace, s", gt=0.0, default=0.02, static=True
    )
    gain: float = param(
        "γ: F added to a synapse per postsynaptic spike per unit of presynaptic trace "
        "(weight units)",
        ge=0.0,
        default=0.001,
        static=True,
    )

    def __check_init__(self):
        check_bounds(self)

    def fast_decay(self, dt_s: float) -> float:
        """λ_F = exp(−dt/τ_F), 0 for τ_F = 0."""
        return math.exp(-dt_s / self.tau_fast_s) if self.tau_fast_s > 0 else 0.0

    def pre_decay(self, dt_s: float) -> float:
        """λ_pre = exp(−dt/τ_pre)."""
        return math.exp(-dt_s / self.tau_pre_s)

    def bound_weight(self, dt_s: float) -> float:
        """The largest F a synapse can reach (weight units): λ_F γ / ((1 − λ_pre)(1 − λ_F)),
        the fixed point with a pre and a post spike every step."""
        lam = self.fast_decay(dt_s)
        return lam * self.gain / ((1.0 - self.pre_decay(dt_s)) * (1.0 - lam))

    def tile_parameters(self, rows: int, cols: int, dt_s: float):
        """(decay, gain) matrices (rows, cols) of a fast-weight tile that realises the rule."""
        lam = self.fast_decay(dt_s)
        decay = jnp.full((rows, cols), lam, jnp.float32)
        return decay, jnp.full((rows, cols), lam * self.gain, jnp.float32)


class ShortTermState(eqx.Module):
    """The fast term of one run: the presynaptic trace and F on its tile (batch of one).

    Attributes:
        pre_trace: x̄ (n_inputs,), spikes.
        fast: the fast-weight tile holding F (1, n_inputs, n_neurons).
    """

    pre_trace: Float[Array, " n_inputs"]
    fast: AbstractFastTile

    @classmethod
    def rested(cls, fast: AbstractFastTile) -> ShortTermState:
        """No trace, F = 0 (the tile cleared for one sequence; its ledger kept)."""
        return cls(jnp.zeros(fast.rows, jnp.float32), fast.fresh(1))

    def read(self, spikes, *, key):
        """(y_F (n_neurons,), state): the fast term's share of the tile output, spikes @ F."""
        y, fast = self.fast.mvm(spikes[None, :], key=key)
        return y[0], eqx.tree_at(lambda s: s.fast, self, fast)

    def advance(self, rule: ShortTermSTDP, spikes, post, dt_s: float, *, key):
        """One step after the neurons fired: trace x̄ ← λ_pre x̄ + x, then F's update."""
        trace = self.pre_trace * rule.pre_decay(dt_s) + spikes
        ones = jnp.ones((1, self.fast.cols), jnp.float32)
        fast = self.fast.advance(ones, trace[None, :], post[None, :], key=key)
        return ShortTermState(trace, fast)
