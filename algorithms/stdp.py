"""Pair-based STDP with traces, and fatiguing STDP (FSTDP) as the same rule with fatigue on.

FSTDP (Moraitis, Sebastian, Boybat, Le Gallo, Tuma, Eleftheriou, "Fatiguing STDP: learning
from spike-timing codes in the presence of rate codes", IJCNN 2017, arXiv:1706.05563): every
input synapse carries a short-term fatigue variable e ∈ (0, 1]. A presynaptic spike is
transmitted with efficacy e and then multiplies e by (1 − U); between spikes e recovers to 1
with time constant τ_f. The long-term STDP change caused by that spike is scaled by the same e.
An input at rate r then delivers on average r ⟨e⟩ = r / (1 + U r τ_f) ≈ 1 / (U τ_f)
"effective" spikes per second once U r τ_f ≫ 1, the same at every rate: a high rate no longer
buys potentiation, while a spike-timing correlation (spikes that arrive together and make the
neuron fire) still does. With fatigue off (e ≡ 1) the rule is plain pair-based STDP.

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

Where the rule meets the tile (:meth:`STDP.delta`): the engine accumulates the pair terms over
a window of steps (a few ms) in which the weights are held (two matmuls instead of one
outer product per step), reads the weights once per window (``tile.read_weights``, booked;
exact and free on an IdealTile) for the weight dependence, and sends the window's net change
to the tile (:func:`apply_delta`). On a PCMTile the change first waits in a digital
accumulator until it is worth a device pulse (:class:`PulseSchedule`, the documented pulse
schedule); then potentiation becomes partial-SET pulses on G+ and depression either SET
pulses on G− (``depression='pair'``) or a RESET of both devices and a re-programming of the
lowered weight (``depression='reset'``, see :mod:`memxbar.crossbar.depression`). Energy of
every pulse, RESET, verify read and weight read is booked in the tile's ledger.
"""

from __future__ import annotations

import math
from typing import Literal

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..crossbar import AbstractTile, PCMTile, TiledMatrix
from ..crossbar.depression import reset_and_reprogram

__all__ = [
    "Depression",
    "Fatigue",
    "PreState",
    "PulseSchedule",
    "STDP",
    "apply_delta",
    "pulse_quantum",
]

Depression = Literal["pair", "reset"]


def _positive(name: str, value) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


class Fatigue(eqx.Module):
    """Short-term synaptic fatigue of the input synapses (Moraitis et al., IJCNN 2017).

    A presynaptic spike is transmitted with the current efficacy e, then e ← e (1 − U);
    between spikes 1 − e decays with time constant τ_f. Per time step of dt the order is:
    use e, apply the spike, recover by exp(−dt/τ_f).

    Attributes:
        use: U ∈ (0, 1], the fraction of efficacy one spike uses up.
        tau_s: τ_f > 0, the recovery time constant, s.
    """

    use: float
    tau_s: float

    def __check_init__(self):
        if not (0.0 < self.use <= 1.0):
            raise ValueError(f"Fatigue: use (U) must be in (0, 1], got {self.use!r}")
        _positive("Fatigue: tau_s", self.tau_s)

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


class PreState(eqx.Module):
    """Per-input state of the rule: fatigue efficacy e and the potentiation trace x."""

    efficacy: Float[Array, " n"]
    trace: Float[Array, " n"]

    @classmethod
    def rested(cls, n_inputs: int) -> PreState:
        """Rested synapses (e = 1) and empty traces."""
        return cls(jnp.ones(n_inputs, jnp.float32), jnp.zeros(n_inputs, jnp.float32))


class STDP(eqx.Module):
    """Pair-based STDP with traces; with ``fatigue`` set it is FSTDP (see the module docstring).

    Attributes:
        a_plus: A₊, weight change per unit of pre trace at a postsynaptic spike (weight units).
        a_minus: A₋, weight change per unit of post trace at a presynaptic spike.
        tau_plus_s: τ₊, decay of the pre trace (potentiation window), s.
        tau_minus_s: τ₋, decay of the post trace (depression window), s.
        a_post: A_post, heterosynaptic depression of every synapse of a neuron per spike of it.
        mu: weight-dependence exponent μ ∈ [0, 1] (0 additive, 1 multiplicative).
        w_min, w_max: weight bounds.
        fatigue: the synaptic fatigue (FSTDP), or None for plain STDP.
    """

    a_plus: float
    a_minus: float
    tau_plus_s: float
    tau_minus_s: float
    a_post: float = 0.0
    mu: float = eqx.field(default=1.0, static=True)
    w_min: float = 0.0
    w_max: float = 1.0
    fatigue: Fatigue | None = None

    def __check_init__(self):
        for name in ("a_plus", "a_minus", "a_post"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"STDP: {name} must be a number ≥ 0, got {value!r}")
        _positive("STDP: tau_plus_s", self.tau_plus_s)
        _positive("STDP: tau_minus_s", self.tau_minus_s)
        if not (0.0 <= self.mu <= 1.0):
            raise ValueError(f"STDP: mu must be in [0, 1], got {self.mu!r}")
        if not self.w_max > self.w_min:
            raise ValueError(f"STDP: need w_max > w_min, got [{self.w_min}, {self.w_max}]")

    # --- per-step parts: the engine scans these ---------------------------------------------

    def presynaptic(self, state: PreState, spikes, dt_s: float):
        """One step of the input side.

        Args:
            spikes: presynaptic spikes (n_inputs,) in {0, 1}.
        Returns:
            (state, (sent, trace)): ``sent`` = e · s, the tile input of this step (the spikes
            scaled by their efficacy; the spikes themselves for plain STDP), and the pre trace
            after this step's spikes.
        """
        if self.fatigue is None:
            efficacy, sent = state.efficacy, spikes
        else:
            efficacy, used = self.fatigue.step(state.efficacy, spikes, dt_s)
            sent = spikes * used
        trace = state.trace * jnp.exp(-dt_s / self.tau_plus_s) + sent
        return PreState(efficacy, trace), (sent, trace)

    def postsynaptic(self, trace, spikes, dt_s: float):
        """One step of the neuron side: (post trace after, post trace before this step's spikes).

        The "before" trace, already decayed to this step, is what a presynaptic spike of this
        step is paired with (depression).
        """
        before = trace * jnp.exp(-dt_s / self.tau_minus_s)
        return before + spikes, before

    # --- per-window weight change -----------------------------------------------------------

    def delta(self, W, sent, pre_trace, post_spikes, post_before):
        """The net weight change (n_inputs, n_neurons) of a window of K steps.

        Args:
            W: weights (n_inputs, n_neurons) during the window (as read from the tile).
            sent: (K, n_inputs) transmitted spikes e · s.
            pre_trace: (K, n_inputs) pre traces after each step's spikes.
            post_spikes: (K, n_neurons) postsynaptic spikes.
            post_before: (K, n_neurons) post traces before each step's spikes.
        """
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


class PulseSchedule(eqx.Module):
    """How the rule's weight changes become device writes (the documented pulse schedule).

    A device pulse moves a PCM weight by a coarse, noisy step (``tile.dw_pulse``, 7.5 % of
    w_max on pcm_256), far more than one STDP event asks for. The schedule keeps the requested
    change of every synapse in a digital accumulator, as in mixed-precision in-memory training
    (Nandakumar et al., Front. Neurosci. 2020), and writes a synapse only once its accumulated
    change reaches ``threshold_pulses`` nominal pulses: it then sends round(change / dw_pulse)
    pulses (at least one; the tile caps them at the chip's ``max_pulses``) and keeps the
    remainder. ``threshold_pulses = 0`` sends every window's change as it is, and the tile
    rounds it (stochastically on pcm_256). Tiles with exact weights (IdealTile) always get the
    change as it is. The accumulator's own (digital) energy is not booked.

    ``max_pulses`` (> 0) caps the pulses one write sends to a synapse below the chip's cap;
    the rest of a larger change waits for the next write. The device model fires a tile's
    pulses one round at a time for every device, as many rounds as the largest count, so a
    few synapses that owe many pulses make a write of a large tile slow; writes spaced by
    ``write_every_windows`` accumulate such counts.

    Attributes:
        threshold_pulses: accumulated change, in nominal pulses, that triggers a write (≥ 0).
        max_pulses: most pulses per synapse and write (0: only the chip's cap).
    """

    threshold_pulses: float = eqx.field(default=1.0, static=True)
    max_pulses: int = eqx.field(default=0, static=True)

    def __check_init__(self):
        if not (math.isfinite(self.threshold_pulses) and self.threshold_pulses >= 0):
            raise ValueError(
                f"PulseSchedule: threshold_pulses must be ≥ 0, got {self.threshold_pulses!r}"
            )
        if not (isinstance(self.max_pulses, int) and self.max_pulses >= 0):
            raise ValueError(
                f"PulseSchedule: max_pulses must be an integer ≥ 0, got {self.max_pulses!r}"
            )
        if self.max_pulses and self.threshold_pulses == 0:
            raise ValueError(
                "PulseSchedule: max_pulses needs threshold_pulses > 0 (an accumulator)"
            )

    def split(self, total, quantum):
        """(request, rest): what to write now and what stays in the accumulator.

        ``total`` is the accumulated change, ``quantum`` the weight change of one nominal
        pulse (None: an exact tile, everything is written). ``request + rest == total``;
        ``request`` is a whole number of quanta.
        """
        if quantum is None or self.threshold_pulses == 0:
            return total, jnp.zeros_like(total)
        size = jnp.abs(total) / quantum
        n = jnp.where(size >= self.threshold_pulses, jnp.maximum(jnp.round(size), 1.0), 0.0)
        if self.max_pulses:
            n = jnp.minimum(n, float(self.max_pulses))
        request = jnp.sign(total) * n * quantum
        return request, total - request


def pulse_quantum(tile: AbstractTile):
    """Weight change of one nominal device pulse of ``tile``, or None for an exact tile."""
    if isinstance(tile, TiledMatrix):
        return pulse_quantum(tile.blocks[0])
    return tile.dw_pulse if isinstance(tile, PCMTile) else None


def apply_delta(
    tile: AbstractTile,
    dW,
    pending,
    W_read,
    t,
    *,
    key,
    depression: Depression = "pair",
    schedule: PulseSchedule | None = None,
):
    """Send a window's weight change ``dW`` to the tile at chip time t (s).

    Args:
        dW: the rule's change of this window (rows, cols).
        pending: changes accumulated but not yet written (rows, cols), see
            :class:`PulseSchedule`.
        W_read: the weights the change was computed from (read from the tile).
        depression: 'pair': all writes go through ``tile.update`` (on a PCMTile SET pulses on
            G+ for increases and on G− for decreases). 'reset': increases as above; a synapse
            to be lowered has both devices RESET and ``W_read`` + its accumulated change
            re-programmed (:func:`memxbar.crossbar.depression.reset_and_reprogram`), which
            clears its accumulator. On an exact tile both are the same update.
        schedule: the pulse schedule (default :class:`PulseSchedule()`).
    Returns:
        (tile, pending) with the changes still waiting in the accumulator.
    """
    if depression not in ("pair", "reset"):
        raise ValueError(f"apply_delta: depression must be 'pair' or 'reset', got {depression!r}")
    schedule = PulseSchedule() if schedule is None else schedule
    total = pending + dW
    request, rest = schedule.split(total, pulse_quantum(tile))
    if depression == "pair":
        return tile.update(request, t, key=key), rest
    lowered = request < 0
    tile = reset_and_reprogram(tile, jnp.where(lowered, total, request), W_read, t, key=key)
    return tile, jnp.where(lowered, 0.0, rest)
