"""A supervised spiking rule: the output spikes are compared with a target spike pattern.

Stanojevic, Cherubini, Moraitis et al., "File classification based on spiking neural
networks" (2020) train the classifier's synapses with an error signal "obtained by comparing
the spike pattern at the output neurons with a target pattern representing the desired
class". For one plastic layer that error needs no backpropagation through other layers: it
is the remote-supervision rule ReSuMe (Ponulak & Kasiński, Neural Computation 22, 2010),
which makes a neuron fire at its target spikes and nowhere else.

Per synapse (input i, neuron j), with the pre trace x_i (the rule's own, decaying with τ_pre,
incremented by each presynaptic spike), d_j(t) ∈ {0, 1} the target and z_j(t) the actual
spike of step t:

    Δw_ij = η Σ_t (d_j(t) − z_j(t)) (a + x_i(t)),

summed over a window of the engine (:mod:`.engine`). A target spike the neuron missed
potentiates the inputs that spiked shortly before it; a spike it should not have fired
depresses them; a spike at its target time changes nothing. ``a`` (ReSuMe's non-Hebbian
term) moves every synapse, active or not; 0 by default. Weights are clipped to
[w_min, w_max] (signed: a differential pair on a PCM tile stores both signs).
"""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp

from ...hw_configs import param
from .bounds import check_bounds, check_ordered
from .rules import AbstractSpikingRule, PreState

__all__ = ["TargetPatternRule"]


class TargetPatternRule(AbstractSpikingRule):
    """ReSuMe-style supervision by target spikes (see the module docstring)."""

    supervised: ClassVar[bool] = True

    learning_rate: float = param("η: weight change per unit of pre trace and error spike", gt=0.0)
    tau_pre_s: float = param("pre trace time constant τ_pre, s", gt=0.0, default=0.005)
    non_hebbian: float = param(
        "a: the error's share that moves every synapse of the neuron, active or not",
        default=0.0,
    )
    w_min: float = param("lower weight bound", default=-1.0)
    w_max: float = param("upper weight bound", default=1.0)

    def __check_init__(self):
        check_bounds(self)
        check_ordered(self, "w_min", "w_max")

    @property
    def name(self) -> str:
        """The rule's name in a compiled network."""
        return "target_pattern"

    def presynaptic(self, state: PreState, spikes, dt_s: float):
        trace = state.trace * jnp.exp(-dt_s / self.tau_pre_s) + spikes
        return PreState(state.efficacy, trace), (spikes, trace)

    def postsynaptic(self, trace, spikes, dt_s: float):
        # The rule keeps no post trace: the error is formed from the spikes themselves.
        return trace, trace

    def delta(self, W, sent, pre_trace, post_spikes, post_before, target=None):
        if target is None:
            raise ValueError("TargetPatternRule.delta: a supervised rule needs target spikes")
        error = target - post_spikes  # (K, n_neurons)
        dW = pre_trace.T @ error + self.non_hebbian * jnp.sum(error, axis=0)
        dW = self.learning_rate * dW
        return jnp.clip(W + dW, self.w_min, self.w_max) - W
