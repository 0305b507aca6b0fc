"""The time-stepped spiking engine: a LIF population whose synapses live on a tile.

One plastic layer: ``n_inputs`` presynaptic spike trains (a :mod:`spike source <.sources>`)
drive ``lif.count`` leaky integrate-and-fire neurons through a tile of shape (n_inputs,
count). Per time step of ``dt_s``:

1. the inputs spike (0/1); the plasticity rule turns them into the tile input, the spikes
   scaled by their synaptic efficacy (fatigue, for FSTDP), and advances its traces;
2. the tile reads them (``tile.mvm``: on hardware each spike is a read pulse on its word line)
   and its output, in weight units, is the postsynaptic current (:meth:`LIF.synaptic_current_A`);
3. the neurons integrate, fire, reset and stay refractory; lateral inhibition or a
   winner-take-all choose who may fire (:meth:`LIF.step`);
4. the rule pairs pre and post spikes through its traces; a supervised rule also compares
   the neurons' spikes with a ``teacher``'s target spikes (:mod:`.supervised`).

With short-term STDP (``net.short_term``, :mod:`.short_term`) the synapses carry a fast term
F on a fast-weight tile besides the tile's W: every step the spikes also read F (its share of
the current, G = W + F), and after the neurons step F decays and grows by the pairings. F
changes every step, so it is read and written per step, not per window. ``rest_every_steps``
returns the neurons (not the synapses) to rest at fixed steps, e.g. at each new image.

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

Settings: :class:`~.network.SpikingNetwork`. A run: :func:`init_state`, then :func:`run_chunk`
(or :func:`run_windows` under the caller's jit or vmap) chunk by chunk, or :func:`simulate` for
a whole run. Traces (per window unless said): ``post_counts`` (n_neurons,) spikes;
``pre_counts`` (n_inputs,) spikes and ``efficacy`` (n_inputs,) at the window's end
(``record_inputs``); ``raster`` (steps, n_neurons) bool per step (``record_raster``);
``fast`` (n_inputs, n_neurons) F at the window's end (``record_fast``);
``peak_V`` (n_neurons,) the highest membrane potential of the window after each step's
reset (``record_potential``: a readout's tie-break between silent neurons);
``weights`` (n_inputs, n_neurons) the tile's true weights every ``weights_every_windows``
windows (introspection, nothing booked).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ...crossbar import AbstractTile
from ...devices import prng
from .network import SpikingNetwork
from .neurons import LIFState
from .rules import PreState
from .short_term import ShortTermState
from .sources import AbstractSpikeSource
from .writes import apply_delta

__all__ = ["SpikingNetwork", "SpikingState", "init_state", "run_windows", "run_chunk", "simulate"]


class SpikingState(eqx.Module):
    """Everything but the tile that a run carries from one window to the next.

    Attributes:
        neurons: the LIF state.
        pre: per-input efficacy and pre trace of the rule.
        post_trace: per-neuron post trace of the rule.
        pending: weight changes not yet written to the tile (the pulse schedule's
            accumulator), (n_inputs, n_neurons).
        weights: the controller's estimate of the weights, the last read plus the changes
            written since, (n_inputs, n_neurons).
        window: windows run so far (the next window's index; it picks the keys).
        short_term: the fast term of short-term STDP (``net.short_term``), else None.
    """

    neurons: LIFState
    pre: PreState
    post_trace: Float[Array, " n_neurons"]
    pending: Float[Array, "n_inputs n_neurons"]
    weights: Float[Array, "n_inputs n_neurons"]
    window: Int[Array, ""]
    short_term: ShortTermState | None = None


def init_state(net: SpikingNetwork, n_inputs: int, fast=None) -> SpikingState:
    """The state at the start of a run: neurons at rest, rested synapses, empty traces.

    ``fast``: the fast-weight tile (:class:`~memxbar.crossbar.AbstractFastTile`, n_inputs ×
    neurons) that holds F when the network has short-term STDP; it starts at F = 0.
    """
    n_neurons = net.lif.count
    if (net.short_term is None) != (fast is None):
        raise ValueError(
            "init_state: a network with short_term needs a fast-weight tile (fast=...), and "
            "one without takes none"
        )
    if fast is not None and (fast.rows, fast.cols) != (n_inputs, n_neurons):
        raise ValueError(
            f"init_state: the fast-weight tile is {fast.rows} × {fast.cols}, the network needs "
            f"{n_inputs} × {n_neurons}"
        )
    return SpikingState(
        neurons=net.lif.init(),
        pre=PreState.rested(n_inputs),
        post_trace=jnp.zeros(n_neurons, jnp.float32),
        pending=jnp.zeros((n_inputs, n_neurons), jnp.float32),
        weights=jnp.zeros((n_inputs, n_neurons), jnp.float32),
        window=jnp.zeros((), jnp.int32),
        short_term=None if fast is None else ShortTermState.rested(fast),
    )


def _keys(key, w):
    """The keys of window ``w``: (source, MVM, read, update, refresh)."""
    return prng.split(prng.fold_in(key, w), 5)


#: Folded into a window's key for the fast term's reads and writes (kept apart from
#: :func:`_keys`, so adding short-term STDP changes no other draw).
_FAST_STREAM = 0x5717
#: Folded into a window's source key for a teacher's target spikes.
_TEACHER_STREAM = 0x7EAC


def _window(net: SpikingNetwork, sources, teacher, key, t_read, W, carry):
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

    st_rule, rest = net.short_term, net.rest_every_steps
    k_fast = prng.fold_in(prng.fold_in(key, w), _FAST_STREAM)

    def post_step(c, inputs):
        neurons, trace, fast = c
        i, s, x, n = inputs
        if rest:
            neurons = jax.tree.map(
                lambda now, rested: jnp.where((w * K + n) % rest == 0, rested, now),
                neurons,
                net.lif.init(),
            )
        if fast is not None:
            k_read, k_write = prng.split(prng.fold_in(k_fast, n))
            y_fast, fast = fast.read(s, key=k_read)
            i = i + net.lif.synaptic_current_A(y_fast, dt)
        neurons, z = net.lif.step(neurons, i, dt)
        if fast is not None:
            fast = fast.advance(st_rule, x, z, dt, key=k_write)
        if rule is None:
            return (neurons, trace, fast), (z, trace, neurons.v_V)
        trace, before = rule.postsynaptic(trace, z, dt)
        return (neurons, trace, fast), (z, before, neurons.v_V)

    (neurons, post_trace, short_term), (post, post_before, v_V) = jax.lax.scan(
        post_step,
        (state.neurons, state.post_trace, state.short_term),
        (current, sent, spikes, jnp.arange(K)),
    )
    if rule is None:
        dW = jnp.zeros_like(state.pending)
    else:
        target = None
        if teacher is not None:
            # Deterministic targets need no key; a stochastic teacher gets the source's stream
            # folded apart.
            target = teacher.sample(w * K, K, dt, key=prng.fold_in(k_src, _TEACHER_STREAM))
        dW = rule.delta(W, sent, pre_trace, post, post_before, target=target)
    state = SpikingState(neurons, pre, post_trace, state.pending, state.weights, w + 1, short_term)
    traces = {"post_counts": jnp.sum(post, axis=0)}
    if net.record_fast:
        traces["fast"] = short_term.fast.true_weights()[0]
    if net.record_inputs:
        traces["pre_counts"] = jnp.sum(spikes, axis=0)
        traces["efficacy"] = pre.efficacy
    if net.record_raster:
        traces["raster"] = post > 0
    if net.record_potential:
        traces["peak_V"] = jnp.max(v_V, axis=0)
    return (tile, state), (dW, traces)


def _when_due(every: int, M: int, window, operation, skip, tile):
    """``operation(tile)`` in a write period that starts or ends at a multiple of ``every``
    windows (``window``), else ``skip(tile)``. Due every period (every == M), it needs no
    condition, which matters: lax.cond copies a large tile state on CPU."""
    if every == M:
        return operation(tile)
    return jax.lax.cond(window % every == 0, operation, skip, tile)


def _period(net: SpikingNetwork, sources, teacher, key, t0_s, carry):
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
        W, tile = _when_due(
            net.read_every_windows,
            M,
            w0,
            lambda tl: tl.read_weights(t_read, key=k_read),
            lambda tl: (W, tl),
            tile,
        )

    def accumulate(carry, _):
        carry, (dW, traces) = _window(net, sources, teacher, key, t_read, W, carry)
        tile, state = carry
        return (tile, eqx.tree_at(lambda s: s.pending, state, state.pending + dW)), traces

    # One traced window for all M (the write happens after the scan, with the accumulated
    # change as its pending part and nothing new).
    (tile, state), traces = jax.lax.scan(accumulate, (tile, state), None, length=M)
    t_end = t0_s + (state.window * K).astype(jnp.float32) * dt
    _, _, _, k_update, k_refresh = _keys(key, state.window - 1)
    pending = state.pending
    if rule is not None:
        tile, pending = apply_delta(
            tile,
            state.pending,
            W,
            t_end,
            key=k_update,
            depression=net.depression,
            schedule=net.schedule,
        )
        W = W + (state.pending - pending)
    if tile.refreshes and net.refresh_every_windows:
        tile = _when_due(
            net.refresh_every_windows,
            M,
            state.window,
            lambda tl: tl.refresh(t_end, key=k_refresh),
            lambda tl: tl,
            tile,
        )
    state = eqx.tree_at(lambda s: (s.pending, s.weights), state, (pending, W))
    return (tile, state), traces


def _check_run(net: SpikingNetwork, tile: AbstractTile, sources, teacher, n_windows):
    supervised = net.rule is not None and net.rule.supervised
    if supervised and teacher is None:
        raise ValueError("run_windows: a supervised rule needs a teacher (target spikes)")
    if teacher is not None and not supervised:
        raise ValueError("run_windows: a teacher is given but the rule is not supervised")
    shapes = [
        ("the sources' inputs", sources.n_inputs, "the tile's rows", tile.rows),
        ("the network's neurons", net.lif.count, "the tile's columns", tile.cols),
    ]
    if teacher is not None:
        shapes.append(("the teacher's trains", teacher.n_inputs, "the neurons", tile.cols))
    for name, have, other, want in shapes:
        if have != want:
            raise ValueError(f"run_windows: {name} ({have}) must match {other} ({want})")
    for name in ("weights_every_windows", "write_every_windows"):
        every = getattr(net, name)
        if every and n_windows % every:
            raise ValueError(
                f"run_windows: n_windows ({n_windows}) must be a multiple of {name} ({every})"
            )


def run_windows(
    net: SpikingNetwork,
    tile: AbstractTile,
    sources: AbstractSpikeSource,
    state: SpikingState,
    n_windows: int,
    *,
    key,
    t0_s: float = 0.0,
    teacher: AbstractSpikeSource | None = None,
):
    """Run ``n_windows`` windows from ``state`` (pure; jit with :func:`run_chunk`, or vmap).

    Args:
        tile: (n_inputs, n_neurons) synapses; ``sources.n_inputs`` must equal tile.rows.
        state: from :func:`init_state` or a previous chunk.
        key: the run's key (each window folds in its global index).
        t0_s: chip time of the run's first step, s.
        teacher: the target spikes of a supervised rule (a source of n_neurons trains, on the
            same steps as ``sources``); None for an unsupervised rule.
    Returns:
        (tile, state, traces) with traces stacked per window (see the module docstring).
    """
    _check_run(net, tile, sources, teacher, n_windows)
    every, M = net.weights_every_windows, net.write_every_windows
    t0 = jnp.asarray(t0_s, jnp.float32)

    def one(carry, _):
        return _period(net, sources, teacher, key, t0, carry)

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
def _run_chunk(net, tile, sources, state, n_windows, key, t0_s, teacher):
    return run_windows(net, tile, sources, state, n_windows, key=key, t0_s=t0_s, teacher=teacher)


def run_chunk(net, tile, sources, state, n_windows: int, *, key, t0_s: float = 0.0, teacher=None):
    """:func:`run_windows` jitted (one compilation per settings, shapes and ``n_windows``)."""
    t0 = jnp.asarray(t0_s, jnp.float32)
    return _run_chunk(net, tile, sources, state, n_windows, key, t0, teacher)


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
    for name, steps in (("n_steps", n_steps), ("chunk_steps", chunk)):
        if steps < period or steps % period:
            raise ValueError(
                f"simulate: {name} ({steps}) must be a positive multiple of {period} steps "
                "(window_steps × weights_every_windows)"
            )
    state = init_state(net, tile.rows)
    parts = []
    done = 0
    while done < n_steps:
        steps = min(chunk, n_steps - done)
        tile, state, traces = run_chunk(net, tile, sources, state, steps // K, key=key, t0_s=t0_s)
        parts.append(traces)
        done += steps
    return tile, jax.tree.map(lambda *a: jnp.concatenate(a), *parts)
