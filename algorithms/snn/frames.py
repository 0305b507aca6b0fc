"""Classifying frame sequences with a spiking winner-take-all layer on the engine.

Each sequence of T frames is shown as Poisson rates (pixel × ``max_rate_Hz``), one frame per
update window of ``net.window_steps`` steps; the neurons rest at each frame's start
(``net.rest_every_steps`` = window_steps), so without a fast term a frame's response does not
depend on the frames before it. A fast term (short-term STDP) starts at 0 with each sequence
and carries over from frame to frame. Many sequences run at once under ``jax.vmap``; the tile
is shared (read, never written).

A frame's class is the vote of the neurons that fired in it, each for its assigned class
(:func:`assign_labels`, the majority class of the training images it fired for); a frame with
no spike of a labelled neuron counts as wrong.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ...crossbar import AbstractFastTile, AbstractTile, EnergyLedger, with_empty_ledgers
from ...devices import prng
from .engine import init_state, run_windows
from .network import SpikingNetwork
from .sources import RateCodedImages

__all__ = ["frame_counts", "assign_labels", "frame_predictions", "group_predictions"]


@eqx.filter_jit
def _batch(net, tile, fast, frames, keys, max_rate_Hz, t0_s):
    n_frames, n_inputs = frames.shape[1:]

    def one(images, key):
        sources = RateCodedImages(
            images=images,
            max_rate_Hz=max_rate_Hz,
            steps_per_image=net.window_steps,
            n_inputs=n_inputs,
        )
        state = init_state(net, n_inputs, fast=fast)
        read, state, traces = run_windows(net, tile, sources, state, n_frames, key=key, t0_s=t0_s)
        fast_ledger = EnergyLedger.zeros() if fast is None else state.short_term.fast.ledger
        return traces["post_counts"], read.ledger, fast_ledger

    return jax.vmap(one)(frames, keys)


def frame_counts(
    net: SpikingNetwork,
    tile: AbstractTile,
    frames,
    *,
    max_rate_Hz: float,
    key,
    fast: AbstractFastTile | None = None,
    t0_s: float = 0.0,
    batch: int = 100,
):
    """Spike counts per frame and neuron for every sequence, and what the reads cost.

    Args:
        net: the layer; ``net.window_steps`` steps per frame, ``rest_every_steps`` equal to it,
            no long-term rule (the weights are only read).
        tile: (n_inputs, n_neurons) long-term weights W.
        frames: (n_sequences, n_frames, n_inputs) pixel intensities in [0, 1].
        fast: the fast-weight tile of ``net.short_term`` (None without one).
        t0_s: chip time of every sequence's first step, s.
        batch: sequences per compiled batch (the last batch is padded).
    Returns:
        (counts (n_sequences, n_frames, n_neurons) int, {"weights": EnergyLedger of the W
        reads, "fast": EnergyLedger of F's reads and writes}) summed over the sequences.
    """
    frames = np.asarray(frames, np.float32)
    if frames.ndim != 3 or frames.shape[2] != tile.rows:
        raise ValueError(
            f"frame_counts: frames must be (sequences, frames, {tile.rows}), got {frames.shape}"
        )
    if net.rule is not None or net.rest_every_steps != net.window_steps:
        raise ValueError(
            "frame_counts: the network must have no long-term rule and rest_every_steps equal "
            f"to window_steps (one frame per window), got rule={type(net.rule).__name__}, "
            f"rest_every_steps={net.rest_every_steps}, window_steps={net.window_steps}"
        )
    # Empty ledgers: each sequence books only what it costs (summed below), not what the tiles
    # did before.
    tile = with_empty_ledgers(tile)
    if fast is not None:
        fast = with_empty_ledgers(fast)
    n = frames.shape[0]
    pad = (-n) % batch
    padded = np.concatenate([frames, np.zeros((pad, *frames.shape[1:]), np.float32)])
    keys = prng.split(key, n + pad)
    counts, ledgers = [], {"weights": [], "fast": []}
    t0 = jnp.asarray(t0_s, jnp.float32)
    for start in range(0, n + pad, batch):
        real = min(batch, n - start)
        c, read, written = _batch(
            net,
            tile,
            fast,
            jnp.asarray(padded[start : start + batch]),
            keys[start : start + batch],
            float(max_rate_Hz),
            t0,
        )
        counts.append(np.asarray(c[:real]))
        for name, ledger in (("weights", read), ("fast", written)):
            ledgers[name].append(jax.tree.map(lambda a, r=real: jnp.sum(a[:r], axis=0), ledger))
    total = {name: jax.tree.map(lambda *a: sum(a), *parts) for name, parts in ledgers.items()}
    return np.concatenate(counts).astype(np.int64), total


def assign_labels(counts, labels, n_classes: int) -> np.ndarray:
    """Each neuron's class: the class whose images made it fire most, per image of that class
    (class sizes differ); −1 for a neuron that never fired. counts: (n_images, n_neurons)."""
    counts = np.asarray(counts, np.float64)
    labels = np.asarray(labels)
    per_class = np.stack([counts[labels == c].sum(0) for c in range(n_classes)])
    sizes = np.maximum(np.bincount(labels, minlength=n_classes), 1)[:, None]
    rate = per_class / sizes
    return np.where(per_class.sum(0) > 0, np.argmax(rate, axis=0), -1)


def frame_predictions(counts, neuron_labels, n_classes: int, peak_V=None) -> np.ndarray:
    """The class voted by each frame's spikes (…, n_neurons) → (…) (ties go to the lower
    class). Where no labelled neuron fired: −1, or with ``peak_V`` (…, n_neurons) the class of
    the labelled neuron that came closest to firing (highest peak potential)."""
    neuron_labels = np.asarray(neuron_labels)
    labelled = neuron_labels >= 0
    onehot = np.eye(n_classes)[np.where(labelled, neuron_labels, 0)] * labelled[:, None]
    votes = np.asarray(counts, np.float64) @ onehot
    fallback = -1
    if peak_V is not None and labelled.any():
        closest = np.argmax(np.where(labelled, np.asarray(peak_V, np.float64), -np.inf), axis=-1)
        fallback = neuron_labels[closest]
    return np.where(votes.sum(-1) > 0, np.argmax(votes, axis=-1), fallback)


def group_predictions(counts, peak_V, neurons_per_group: int) -> np.ndarray:
    """The group (class) whose neurons fired most in each frame; among groups tied on spikes
    (e.g. none fired), the one whose neuron came closest to firing (highest peak potential).

    counts, peak_V: (n_frames, n_groups · neurons_per_group), group after group.
    """
    counts = np.asarray(counts, np.float64)
    n_frames, n = counts.shape
    groups = n // neurons_per_group
    spikes = counts.reshape(n_frames, groups, neurons_per_group).sum(-1)
    peak = np.asarray(peak_V, np.float64).reshape(n_frames, groups, neurons_per_group).max(-1)
    best = spikes == spikes.max(axis=1, keepdims=True)
    return np.argmax(np.where(best, peak, -np.inf), axis=1)
