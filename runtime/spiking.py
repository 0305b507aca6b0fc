"""The time-stepped spiking engine: LIF populations whose synapses live on a tile.

One plastic layer: ``n_inputs`` presynaptic spike trains (a :mod:`spike source
<memxbar.runtime.spike_sources>`) drive ``n_neurons`` leaky integrate-and-fire neurons through
a tile of shape (n_inputs, n_neurons). Per time step of ``dt_s``:

1. the inputs spike (0/1); the plasticity rule turns them into the tile input, the spikes
   scaled by their synaptic efficacy (fatigue, for FSTDP), and advances its traces;
2. the tile reads them (``tile.mvm``: on hardware each spike is a read pulse on its word line)
   and its output, in weight units, is the postsynaptic current (:meth:`LIF.synaptic_current_A`);
3. the neurons integrate, fire, reset and stay refractory; lateral inhibition or a
   winner-take-all choose who may fire (:meth:`LIF.step`);
4. the rule pairs pre and post spikes through its traces.

Why windows: presynaptic spikes never depend on the neurons, so the engine takes
``window_steps`` (K) steps at a time: the inputs of a window are drawn and transmitted as one
(K, n_inputs) batch, one MVM reads them all (a matmul, not K matrix-vector products), the
neurons scan through the K steps, and the rule's change of the window is formed from two
matmuls and sent through ``tile.update`` once. The weights are therefore held during a window
(K dt, a few ms) and change between windows: a delayed update, standard on neuromorphic
hardware, whose effect is second order in the learning rate. K = 1 is the strict per-step
update. Chip time for the tile is the window's start (reads) and end (the update); drift is
resolved to a window. With ``write_every_windows`` = M > 1 the changes of M windows
accumulate and are written together, and every read of those M windows (a write period)
happens at the period's start: on a large PCM tile the dense per-write work (pulses, reads,
refreshes of every device) is then paid once per period.

Windows run in ``lax.scan`` under jit (:func:`run_chunk`); keys come from the window index,
so a run is the same whatever the chunking. Everything is a pure function of its inputs, so
many seeds run at once under ``jax.vmap`` (of :func:`run_windows`).

API for runners:
- :class:`SpikingNetwork` (the settings), :func:`init_state`,
- :func:`run_chunk` ``(net, tile, sources, state, n_windows, *, key) -> (tile, state, traces)``,
- :func:`simulate` ``(net, tile, sources, n_steps, *, key) -> (tile, traces)`` (a whole run in
  chunks, traces concatenated).
Traces (per window unless said): ``post_counts`` (n_neurons,) spikes; ``pre_counts``
(n_inputs,) spikes and ``efficacy`` (n_inputs,) at the window's end (``record_inputs``);
``raster`` (steps, n_neurons) bool per step (``record_raster``); ``weights`` (n_inputs,
n_neurons) the tile's true weights every ``weights_every_windows`` windows (introspection,
nothing booked).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ..algorithms.stdp import STDP, Depression, PreState, PulseSchedule, apply_delta
from ..crossbar import AbstractTile
from .spike_sources import AbstractSpikeSource

__all__ = [
    "LIF",
    "LIFState",
    "SpikingNetwork",
    "SpikingState",
    "init_state",
    "run_windows",
    "run_chunk",
    "simulate",
]


class LIF(eqx.Module):
    """A population of current-based leaky integrate-and-fire neurons.

    Membrane: τ_m dv/dt = −(v − v_rest) + R I, integrated exactly over each step with the
    current held constant: v ← v_rest + (v − v_rest) α + R I (1 − α), α = exp(−dt/τ_m). For a
    constant current from rest this gives v(n dt) = v_rest + R I (1 − exp(−n dt/τ_m)) exactly.
    Synaptic current: decays with τ_syn; each unit of tile output delivers the charge
    ``charge_per_weight_C`` (spread over one step when τ_syn = 0). A neuron whose v reaches
    the threshold fires, is reset to v_reset and held there for ``refractory_s``.

    Attributes:
        tau_m_s: membrane time constant τ_m, s.
        v_rest_V, v_reset_V, v_threshold_V: resting, reset and threshold potentials, V.
        refractory_s: time a neuron is held at v_reset after a spike, s (rounded to steps).
        resistance_Ohm: membrane resistance R, Ohm.
        tau_syn_s: synaptic current time constant, s (0: the current lasts one step).
        charge_per_weight_C: charge of one unit of tile output (one spike of weight 1), C.
        lateral_inhibition_V: every spike lowers the potential of the other neurons by this, V.
        winner_take_all: at most one neuron fires per step (the most depolarised).
    """

    tau_m_s: float = 0.020
    v_rest_V: float = -0.070
    v_reset_V: float = -0.070
    v_threshold_V: float = -0.054
    refractory_s: float = 0.002
    resistance_Ohm: float = 1.0e8
    tau_syn_s: float = 0.0
    charge_per_weight_C: float = 2.0e-13
    lateral_inhibition_V: float = 0.0
    winner_take_all: bool = eqx.field(default=False, static=True)

    def __check_init__(self):
        for name in ("tau_m_s", "resistance_Ohm", "charge_per_weight_C"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"LIF: {name} must be > 0, got {value!r}")
        for name in ("refractory_s", "tau_syn_s", "lateral_inhibition_V"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"LIF: {name} must be ≥ 0, got {value!r}")
        if not self.v_threshold_V > self.v_reset_V:
            raise ValueError(
                f"LIF: v_threshold_V ({self.v_threshold_V}) must exceed v_reset_V "
                f"({self.v_reset_V})"
            )

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

    def init(self, n_neurons: int) -> LIFState:
        """Neurons at rest, no current, not refractory."""
        return LIFState(
            v_V=jnp.full(n_neurons, self.v_rest_V, jnp.float32),
            i_syn_A=jnp.zeros(n_neurons, jnp.float32),
            refractory=jnp.zeros(n_neurons, jnp.int32),
        )

    def step(self, state: LIFState, current_A, dt_s: float):
        """One step of dt_s with ``current_A`` (n,) added to the synaptic current.

        Returns (state, spikes) with spikes (n,) float32 in {0, 1}.
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


class LIFState(eqx.Module):
    """Membrane potentials (V), synaptic currents (A) and refractory steps left, each (n,)."""

    v_V: Float[Array, " n"]
    i_syn_A: Float[Array, " n"]
    refractory: Int[Array, " n"]


class SpikingNetwork(eqx.Module):
    """The settings of one plastic spiking layer (inputs → tile → LIF population).

    Attributes:
        lif: the neurons.
        rule: the plasticity rule (:class:`STDP`, FSTDP with fatigue), or None: static
            weights and no fatigue.
        dt_s: time step, s.
        window_steps: steps per update window K (weights held within a window, updated after
            it; 1 = every step). The run length must be a multiple of it.
        depression: how a PCM tile depresses: 'pair' (SET pulses on G−) or 'reset'
            (RESET both devices and re-program the lowered weight); see :func:`apply_delta`.
        schedule: when accumulated changes are written to a PCM tile (:class:`PulseSchedule`).
        read_every_windows: read the weights (``tile.read_weights``, for the rule's weight
            dependence and as the base of RESET-and-reprogram) every this many windows; in
            between the controller uses the last read plus the changes it has written since.
            A full read digitises every synapse, so on PCM reading every window costs ~10×
            the ADC energy of the forward reads of a 100 × 1 tile.
        refresh_every_windows: call ``tile.refresh`` after every this many windows (0: never;
            with 'pair' depression both devices of a pair climb and need it).
        write_every_windows: send the accumulated changes to the tile (``apply_delta``) only
            after every this many windows (M, a write period); in between they wait in the
            accumulator, as the pulse schedule's remainders do. Every read of a period
            happens at the period's start time, so a PCM tile computes what a read sees
            (drift, noise variances) once per period, and the conditional reads and
            refreshes (which copy a large tile state on CPU) are decided once per period:
            drift is resolved to the period. read_every_windows, refresh_every_windows and
            weights_every_windows must be multiples of M. M = 1 (default) is the
            per-window update described above.
        record_raster: return the neurons' spikes per step.
        record_inputs: return input spike counts and efficacies per window.
        weights_every_windows: return the true weights every this many windows (0: never).
    """

    lif: LIF
    rule: STDP | None
    dt_s: float = eqx.field(default=1e-3, static=True)
    window_steps: int = eqx.field(default=10, static=True)
    depression: Depression = eqx.field(default="pair", static=True)
    schedule: PulseSchedule = PulseSchedule()
    read_every_windows: int = eqx.field(default=1, static=True)
    refresh_every_windows: int = eqx.field(default=0, static=True)
    write_every_windows: int = eqx.field(default=1, static=True)
    record_raster: bool = eqx.field(default=False, static=True)
    record_inputs: bool = eqx.field(default=False, static=True)
    weights_every_windows: int = eqx.field(default=0, static=True)

    def __check_init__(self):
        if not (math.isfinite(self.dt_s) and self.dt_s > 0):
            raise ValueError(f"SpikingNetwork: dt_s must be > 0, got {self.dt_s!r}")
        if self.window_steps < 1:
            raise ValueError(f"SpikingNetwork: window_steps must be ≥ 1, got {self.window_steps}")
        for name in ("read_every_windows", "write_every_windows"):
            if getattr(self, name) < 1:
                raise ValueError(f"SpikingNetwork: {name} must be ≥ 1, got {getattr(self, name)}")
        if self.depression not in ("pair", "reset"):
            raise ValueError(
                f"SpikingNetwork: depression must be 'pair' or 'reset', got {self.depression!r}"
            )
        for name in ("refresh_every_windows", "weights_every_windows"):
            if getattr(self, name) < 0:
                raise ValueError(f"SpikingNetwork: {name} must be ≥ 0, got {getattr(self, name)}")
        # Reads open, refreshes and snapshots close a write period.
        for name in ("read_every_windows", "refresh_every_windows", "weights_every_windows"):
            if getattr(self, name) % self.write_every_windows:
                raise ValueError(
                    f"SpikingNetwork: {name} ({getattr(self, name)}) must be a multiple of "
                    f"write_every_windows ({self.write_every_windows})"
                )

    @property
    def window_s(self) -> float:
        """Duration of one update window, s."""
        return self.window_steps * self.dt_s


class SpikingState(eqx.Module):
    """Everything but the tile that a run carries from one window to the next.

    Attributes:
        neurons: the LIF state.
        pre: per-input fatigue efficacy and pre trace of the rule.
        post_trace: per-neuron post trace of the rule.
        pending: weight changes not yet written to the tile (the pulse schedule's
            accumulator), (n_inputs, n_neurons).
        weights: the controller's estimate of the weights, the last read plus the changes
            written since, (n_inputs, n_neurons).
        window: windows run so far (the next window's index; it picks the keys).
    """

    neurons: LIFState
    pre: PreState
    post_trace: Float[Array, " n_neurons"]
    pending: Float[Array, "n_inputs n_neurons"]
    weights: Float[Array, "n_inputs n_neurons"]
    window: Int[Array, ""]


def init_state(net: SpikingNetwork, n_inputs: int, n_neurons: int) -> SpikingState:
    """The state at the start of a run: neurons at rest, rested synapses, empty traces."""
    return SpikingState(
        neurons=net.lif.init(n_neurons),
        pre=PreState.rested(n_inputs),
        post_trace=jnp.zeros(n_neurons, jnp.float32),
        pending=jnp.zeros((n_inputs, n_neurons), jnp.float32),
        weights=jnp.zeros((n_inputs, n_neurons), jnp.float32),
        window=jnp.zeros((), jnp.int32),
    )


def _keys(key, w):
    """The keys of window ``w``: (source, MVM, read, update, refresh)."""
    return jax.random.split(jax.random.fold_in(key, w), 5)


def _window(net: SpikingNetwork, sources, key, t0_s, t_read, W, carry):
    """One update window of K steps with the weights W held; nothing is written to the tile.

    Returns ((tile, state), (dW, traces)): the state's ``pending`` is unchanged, and dW is
    the rule's change of this window (zeros without a rule).
    """
    tile, state = carry
    K, dt, rule = net.window_steps, net.dt_s, net.rule
    w = state.window
    k_src, k_mvm, _, _, _ = _keys(key, w)
    spikes = sources.sample(w * K, K, dt, key=k_src)

    pre = state.pre
    if rule is None:
        sent = pre_trace = spikes
    else:
        pre, (sent, pre_trace) = jax.lax.scan(lambda p, s: rule.presynaptic(p, s, dt), pre, spikes)
    y, tile = tile.mvm(sent, t_read, key=k_mvm)
    current = net.lif.synaptic_current_A(y, dt)

    def post_step(c, i):
        neurons, trace = c
        neurons, z = net.lif.step(neurons, i, dt)
        if rule is None:
            return (neurons, trace), (z, trace)
        trace, before = rule.postsynaptic(trace, z, dt)
        return (neurons, trace), (z, before)

    (neurons, post_trace), (post, post_before) = jax.lax.scan(
        post_step, (state.neurons, state.post_trace), current
    )
    if rule is None:
        dW = jnp.zeros_like(state.pending)
    else:
        dW = rule.delta(W, sent, pre_trace, post, post_before)
    state = SpikingState(neurons, pre, post_trace, state.pending, state.weights, w + 1)
    traces = {"post_counts": jnp.sum(post, axis=0)}
    if net.record_inputs:
        traces["pre_counts"] = jnp.sum(spikes, axis=0)
        traces["efficacy"] = pre.efficacy
    if net.record_raster:
        traces["raster"] = post > 0
    return (tile, state), (dW, traces)


def _period(net: SpikingNetwork, sources, key, t0_s, carry):
    """One write period of M = write_every_windows windows; ((tile, state), traces per window).

    At the period's start the weights are read (every read_every_windows windows) at the
    period's chip time, which every read of the period uses; the windows run with the
    weights held and their changes accumulate; at the end the accumulated change goes
    through the pulse schedule to the tile, and the tile is refreshed when due. For M = 1
    this is one window: read, learn, write, refresh.
    """
    tile, state = carry
    K, dt, M, rule = net.window_steps, net.dt_s, net.write_every_windows, net.rule
    w0 = state.window
    t_read = t0_s + (w0 * K).astype(jnp.float32) * dt
    W = state.weights
    if rule is not None:
        k_read = _keys(key, w0)[2]
        # A read every period needs no condition (lax.cond copies a large tile state on CPU).
        if net.read_every_windows == M:
            W, tile = tile.read_weights(t_read, key=k_read)
        else:
            W, tile = jax.lax.cond(
                w0 % net.read_every_windows == 0,
                lambda tl: tl.read_weights(t_read, key=k_read),
                lambda tl: (W, tl),
                tile,
            )

    def accumulate(carry, _):
        carry, (dW, traces) = _window(net, sources, key, t0_s, t_read, W, carry)
        tile, state = carry
        return (tile, eqx.tree_at(lambda s: s.pending, state, state.pending + dW)), traces

    # One traced window for all M (the write happens after the scan, with the accumulated
    # change as its pending part and nothing new).
    (tile, state), traces = jax.lax.scan(accumulate, (tile, state), None, length=M)
    w_last = state.window - 1
    t_end = t0_s + (state.window * K).astype(jnp.float32) * dt
    _, _, _, k_update, k_refresh = _keys(key, w_last)
    pending = state.pending
    if rule is not None:
        total = pending
        tile, pending = apply_delta(
            tile,
            jnp.zeros_like(pending),
            pending,
            W,
            t_end,
            key=k_update,
            depression=net.depression,
            schedule=net.schedule,
        )
        W = W + (total - pending)
    if not tile.refreshes:
        pass  # nothing a refresh could change (ideal tiles)
    elif net.refresh_every_windows == M:
        tile = tile.refresh(t_end, key=k_refresh)
    elif net.refresh_every_windows:
        tile = jax.lax.cond(
            state.window % net.refresh_every_windows == 0,
            lambda tl: tl.refresh(t_end, key=k_refresh),
            lambda tl: tl,
            tile,
        )
    state = SpikingState(state.neurons, state.pre, state.post_trace, pending, W, state.window)
    return (tile, state), traces


def run_windows(
    net: SpikingNetwork,
    tile: AbstractTile,
    sources: AbstractSpikeSource,
    state: SpikingState,
    n_windows: int,
    *,
    key,
    t0_s: float = 0.0,
):
    """Run ``n_windows`` windows from ``state`` (pure; jit with :func:`run_chunk`, or vmap).

    Args:
        tile: (n_inputs, n_neurons) synapses; ``sources.n_inputs`` must equal tile.rows.
        state: from :func:`init_state` or a previous chunk.
        key: the run's key (each window folds in its global index).
        t0_s: chip time of the run's first step, s.
    Returns:
        (tile, state, traces) with traces stacked per window (see the module docstring).
    """
    if sources.n_inputs != tile.rows:
        raise ValueError(
            f"run_windows: the sources have {sources.n_inputs} inputs but the tile has "
            f"{tile.rows} rows"
        )
    if state.neurons.v_V.shape[-1] != tile.cols:
        raise ValueError(
            f"run_windows: the state has {state.neurons.v_V.shape[-1]} neurons but the tile "
            f"has {tile.cols} columns"
        )
    every = net.weights_every_windows
    if every and n_windows % every:
        raise ValueError(
            f"run_windows: n_windows ({n_windows}) must be a multiple of weights_every_windows "
            f"({every})"
        )
    M = net.write_every_windows
    if n_windows % M:
        raise ValueError(
            f"run_windows: n_windows ({n_windows}) must be a multiple of write_every_windows ({M})"
        )
    t0 = jnp.asarray(t0_s, jnp.float32)

    def one(carry, _):
        return _period(net, sources, key, t0, carry)

    def flat(traces, n):
        return jax.tree.map(lambda a: a.reshape(n, *a.shape[2:]), traces)

    if not every:
        (tile, state), traces = jax.lax.scan(one, (tile, state), None, length=n_windows // M)
        traces = flat(traces, n_windows)
    else:

        def block(carry, _):
            carry, traces = jax.lax.scan(one, carry, None, length=every // M)
            return carry, (flat(traces, every), carry[0].true_weights())

        (tile, state), (traces, weights) = jax.lax.scan(
            block, (tile, state), None, length=n_windows // every
        )
        traces = flat(traces, n_windows)
        traces["weights"] = weights
    if net.record_raster:
        traces["raster"] = traces["raster"].reshape(-1, tile.cols)
    return tile, state, traces


@eqx.filter_jit
def _run_chunk(net, tile, sources, state, n_windows, key, t0_s):
    return run_windows(net, tile, sources, state, n_windows, key=key, t0_s=t0_s)


def run_chunk(net, tile, sources, state, n_windows: int, *, key, t0_s: float = 0.0):
    """:func:`run_windows` jitted (one compilation per settings, shapes and ``n_windows``)."""
    return _run_chunk(net, tile, sources, state, n_windows, key, jnp.asarray(t0_s, jnp.float32))


def simulate(
    net: SpikingNetwork,
    tile: AbstractTile,
    sources: AbstractSpikeSource,
    n_steps: int,
    *,
    key,
    chunk_steps: int | None = None,
    t0_s: float = 0.0,
):
    """Run ``n_steps`` steps from rest in jitted chunks; returns (tile, traces).

    ``chunk_steps`` (default: the whole run) must be a multiple of the update window (and of
    the weight-snapshot period); the result does not depend on it.
    """
    K = net.window_steps
    if n_steps < K or n_steps % K:
        raise ValueError(
            f"simulate: n_steps ({n_steps}) must be a positive multiple of window_steps ({K})"
        )
    chunk = n_steps if chunk_steps is None else chunk_steps
    period = K * max(net.weights_every_windows, 1)
    if n_steps % period:
        raise ValueError(
            f"simulate: n_steps ({n_steps}) must be a multiple of {period} steps "
            "(window_steps × weights_every_windows)"
        )
    if chunk < period or chunk % period:
        raise ValueError(
            f"simulate: chunk_steps ({chunk}) must be a positive multiple of {period} steps "
            "(window_steps × weights_every_windows)"
        )
    state = init_state(net, tile.rows, tile.cols)
    parts = []
    done = 0
    while done < n_steps:
        steps = min(chunk, n_steps - done)
        tile, state, traces = run_chunk(net, tile, sources, state, steps // K, key=key, t0_s=t0_s)
        parts.append(traces)
        done += steps
    return tile, jax.tree.map(lambda *a: jnp.concatenate(a), *parts)
