"""Spiking plasticity rules: the abstract rule the engine drives, and pair-based (F)STDP.

The engine (:mod:`.engine`) scans a rule's per-step parts through a window of K steps with
the weights held, then asks it for the window's net weight change:

- :meth:`AbstractSpikingRule.presynaptic`: per step, the input spikes → the tile input
  (spikes scaled by their efficacy) and the pre trace;
- :meth:`AbstractSpikingRule.postsynaptic`: per step, the neurons' spikes → the post trace;
- :meth:`AbstractSpikingRule.delta`: per window, the change (n_inputs, n_neurons) from the
  weights and the stacked per-step values.

**FSTDP** (Moraitis, Sebastian, Boybat, Le Gallo, Tuma, Eleftheriou, "Fatiguing STDP:
learning from spike-timing codes in the presence of rate codes", IJCNN 2017,
arXiv:1706.05563): every input synapse carries a short-term fatigue variable e ∈ (0, 1]. A
presynaptic spike is transmitted with efficacy e and then multiplies e by (1 − U); between
spikes e recovers to 1 with time constant τ_f. The long-term STDP change caused by that spike
is scaled by the same e. An input at rate r then delivers on average r ⟨e⟩ = r / (1 + U r τ_f)
≈ 1 / (U τ_f) "effective" spikes per second once U r τ_f ≫ 1, the same at every rate: a high
rate no longer buys potentiation, while a spike-timing correlation (spikes that arrive
together and make the neuron fire) still does. With fatigue off (e ≡ 1) the rule is plain
pair-based STDP.

The rule, per synapse (i input, j neuron), with traces decaying exactly per time step:
- pre trace x_i: x_i ← x_i exp(−dt/τ₊) + e_i s_i (s_i ∈ {0, 1} the presynaptic spike);
- post trace y_j: y_j ← y_j exp(−dt/τ₋) + z_j (z_j the postsynaptic spike);
- at a postsynaptic spike: Δw_ij = A₊ f₊(w_ij) x_i − A_post f₋(w_ij) (the second term is an
  optional heterosynaptic depression of every synapse of the neuron, as in the hardware STDP
  of Tuma et al. 2016, where a neuron's spike depresses the synapses that did not take part);
- at a presynaptic spike: Δw_ij = −A₋ f₋(w_ij) e_i y_j, with y_j the trace before this step's
  postsynaptic spikes (a pre and a post spike in the same step count as causal);
- weight dependence (Gütig et al. 2003): f₊(w) = ((w_max − w)/(w_max − w_min))^μ,
  f₋(w) = ((w − w_min)/(w_max − w_min))^μ; μ = 0 is additive, μ = 1 multiplicative. Weights
  are clipped to [w_min, w_max] in both cases.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ...hw_configs import param
from .bounds import check_bounds, check_ordered

__all__ = ["AbstractSpikingRule", "Fatigue", "PreState", "STDP"]


class PreState(eqx.Module):
    """Per-input state of a rule: the synapses' efficacy e (1 without short-term plasticity)
    and the pre trace, each (n_inputs,)."""

    efficacy: Float[Array, " n"]
    trace: Float[Array, " n"]

    @classmethod
    def rested(cls, n_inputs: int) -> PreState:
        """Rested synapses (e = 1) and empty traces."""
        return cls(jnp.ones(n_inputs, jnp.float32), jnp.zeros(n_inputs, jnp.float32))


class AbstractSpikingRule(eqx.Module):
    """A plasticity rule the spiking engine runs window by window (see the module docstring)."""

    @abc.abstractmethod
    def presynaptic(self, state: PreState, spikes, dt_s: float):
        """One step of the input side.

        Args:
            spikes: presynaptic spikes (n_inputs,) in {0, 1}.
        Returns:
            (state, (sent, trace)): ``sent``, the tile input of this step (the spikes scaled
            by their efficacy), and the pre trace after this step's spikes.
        """

    @abc.abstractmethod
    def postsynaptic(self, trace, spikes, dt_s: float):
        """One step of the neuron side: (post trace after, post trace before this step's
        spikes), for spikes (n_neurons,) in {0, 1}."""

    #: A supervised rule learns from target spikes (the engine's ``teacher``); others never
    #: see them.
    supervised: ClassVar[bool] = False

    @abc.abstractmethod
    def delta(self, W, sent, pre_trace, post_spikes, post_before, target=None):
        """The net weight change (n_inputs, n_neurons) of a window of K steps.

        Args:
            W: weights (n_inputs, n_neurons) during the window (as read from the tile).
            sent: (K, n_inputs) tile inputs of :meth:`presynaptic`.
            pre_trace: (K, n_inputs) pre traces after each step's spikes.
            post_spikes: (K, n_neurons) postsynaptic spikes.
            post_before: (K, n_neurons) post traces before each step's spikes.
            target: (K, n_neurons) the target spikes of a supervised rule, else None.
        """


class Fatigue(eqx.Module):
    """Short-term synaptic fatigue of the input synapses (Moraitis et al., IJCNN 2017).

    A presynaptic spike is transmitted with the current efficacy e, then e ← e (1 − U);
    between spikes 1 − e decays with time constant τ_f. Per time step of dt the order is:
    use e, apply the spike, recover by exp(−dt/τ_f).
    """

    use: float = param("U: fraction of efficacy one spike uses up", gt=0.0, le=1.0)
    tau_s: float = param("tau_f: recovery time constant, s", gt=0.0)

    def __check_init__(self):
        check_bounds(self)

    def step(self, e, spikes, dt_s: float):
        """One step: (efficacy after the step, efficacy this step's spikes were sent with)."""
        recovery = jnp.exp(-dt_s / self.tau_s)
        return 1.0 - (1.0 - e * (1.0 - self.use * spikes)) * recovery, e

    def mean_efficacy(self, rate_Hz, dt_s: float):
        """Exact stationary ⟨e⟩ seen by the spikes of a Bernoulli input (p = r dt per step).

        Stationarity of E[e] = m under the step above: m = 1 − (1 − m (1 − pU)) d with
        d = exp(−dt/τ_f), so m = 1 / (1 + U p d / (1 − d)). Spikes are independent of e, so
        the mean efficacy of the transmitted spikes is m too (and the mean of e over time).
        For dt → 0,
        p d / (1 − d) = r dt / (exp(dt/τ_f) − 1) → r (τ_f − dt/2 + O(dt²)): the result tends to
        :meth:`mean_efficacy_continuous`, 1 / (1 + U r τ_f), which is also exact for a
        continuous Poisson input.
        """
        p = jnp.asarray(rate_Hz) * dt_s
        # d / (1 − d) = 1 / expm1(dt/τ_f), without the cancellation in 1 − d.
        return 1.0 / (1.0 + self.use * p / jnp.expm1(dt_s / self.tau_s))

    def mean_efficacy_continuous(self, rate_Hz):
        """⟨e⟩ = 1 / (1 + U r τ_f) of a continuous-time Poisson input at ``rate_Hz``."""
        return 1.0 / (1.0 + self.use * jnp.asarray(rate_Hz) * self.tau_s)


class STDP(AbstractSpikingRule):
    """Pair-based STDP with traces; with ``fatigue`` set it is FSTDP (see the module docstring)."""

    a_plus: float = param("A+: potentiation per unit of pre trace at a post spike", ge=0.0)
    a_minus: float = param("A-: depression per unit of post trace at a pre spike", ge=0.0)
    tau_plus_s: float = param("pre trace (potentiation window) time constant, s", gt=0.0)
    tau_minus_s: float = param("post trace (depression window) time constant, s", gt=0.0)
    a_post: float = param(
        "heterosynaptic depression of all of a neuron's synapses per spike of it",
        ge=0.0,
        default=0.0,
    )
    mu: float = param(
        "weight dependence exponent (0 additive, 1 multiplicative)",
        ge=0.0,
        le=1.0,
        default=1.0,
        static=True,
    )
    w_min: float = param("lower weight bound", default=0.0)
    w_max: float = param("upper weight bound", default=1.0)
    fatigue: Fatigue | None = param("synaptic fatigue (FSTDP); null: plain STDP", default=None)

    def __check_init__(self):
        check_bounds(self)
        check_ordered(self, "w_min", "w_max")

    @property
    def name(self) -> str:
        """The rule's name in a compiled network: 'stdp', or 'fstdp' with fatigue."""
        return "stdp" if self.fatigue is None else "fstdp"

    def presynaptic(self, state: PreState, spikes, dt_s: float):
        if self.fatigue is None:
            efficacy, sent = state.efficacy, spikes
        else:
            efficacy, used = self.fatigue.step(state.efficacy, spikes, dt_s)
            sent = spikes * used
        trace = state.trace * jnp.exp(-dt_s / self.tau_plus_s) + sent
        return PreState(efficacy, trace), (sent, trace)

    def postsynaptic(self, trace, spikes, dt_s: float):
        # The "before" trace, already decayed to this step, is what a presynaptic spike of
        # this step is paired with (depression).
        before = trace * jnp.exp(-dt_s / self.tau_minus_s)
        return before + spikes, before

    def delta(self, W, sent, pre_trace, post_spikes, post_before, target=None):
        del target  # unsupervised
        potentiation = pre_trace.T @ post_spikes
        depression = self.a_minus * (sent.T @ post_before)
        depression = depression + self.a_post * jnp.sum(post_spikes, axis=0)
        span = self.w_max - self.w_min
        up = self._dependence((self.w_max - W) / span)
        down = self._dependence((W - self.w_min) / span)
        dW = self.a_plus * up * potentiation - down * depression
        return jnp.clip(W + dW, self.w_min, self.w_max) - W

    def _dependence(self, headroom):
        headroom = jnp.clip(headroom, 0.0, 1.0)
        if self.mu == 0.0:
            return jnp.ones_like(headroom)
        if self.mu == 1.0:
            return headroom
        # x**mu with a float exponent costs ~20× more than exp/log on CPU.
        return jnp.exp(self.mu * jnp.log(jnp.maximum(headroom, 1e-30)))
