"""Experiments stacked along a leading point axis and run under ``jax.vmap``.

Points whose experiments differ only in array values (the chip seed's device draws, the
data split, the key) share one compiled program: their array leaves are stacked and the
kind's ``chunk`` runs under ``eqx.filter_vmap``. XLA compiles a vmapped program with other
fusions than the unbatched one, and the two round some float32 operations of the physics
differently (a few devices of a PCM tile end a short run an ulp apart). So ``memxbar run`` of
a batchable kind runs its chunks as a batch of one (:func:`chunk_function`): a sweep point's
pulses, conductances, weights, counters and accuracies then equal the run of its job alone
bit for bit, whatever the number of points or their sharding. Float32 sums that XLA reduces
with shape-dependent vector lanes (the ledger's read energy, metric means over a batch) may
move by an ulp now and then (tests/test_sweep_batched.py bounds them).
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp

__all__ = [
    "NotBatchable",
    "stack_trees",
    "unstack_tree",
    "check_alike",
    "VmappedChunk",
    "chunk_function",
]


class NotBatchable(Exception):
    """The points' experiments differ in more than array values (run them one by one)."""


def stack_trees(trees: list):
    """One pytree whose array leaves stack the trees' along a new leading axis; its other
    leaves and static parts are the first tree's (equal in all, see :func:`check_alike`)."""
    arrays = [eqx.filter(t, eqx.is_array) for t in trees]
    leaves = [jax.tree.leaves(a) for a in arrays]
    stacked = [jnp.stack(xs) for xs in zip(*leaves, strict=True)]
    rest = eqx.filter(trees[0], eqx.is_array, inverse=True)
    return eqx.combine(jax.tree.unflatten(jax.tree.structure(arrays[0]), stacked), rest)


def unstack_tree(tree, i: int):
    """Point ``i`` of a stacked pytree."""
    return jax.tree.map(lambda x: x[i] if eqx.is_array(x) else x, tree)


def check_alike(trees: list, what: str) -> None:
    """NotBatchable unless the trees have the same array leaves (number, shapes, dtypes) and
    equal other leaves (Python numbers)."""

    def layout(tree):
        leaves = jax.tree.leaves(tree)
        arrays = [(x.shape, x.dtype) for x in leaves if eqx.is_array(x)]
        return arrays, [x for x in leaves if not eqx.is_array(x)]

    first = layout(trees[0])
    for tree in trees[1:]:
        if layout(tree) != first:
            raise NotBatchable(f"the points' {what} differ in more than array values")


def chunk_view(experiment):
    """``experiment`` without its host-only fields (``host_fields``: data sets, job text,
    factories), which ``chunk`` never reads: what the compiled program depends on, so that
    runs of equal jobs in one process share it (the data differ only in array values)."""
    return dataclasses.replace(experiment, **dict.fromkeys(experiment.host_fields))


@eqx.filter_jit
def _vmapped_chunk(views, states, keys, n_steps: int):
    def one(view, state, key):
        return view.chunk(state, n_steps, key=key)

    return eqx.filter_vmap(one)(views, states, keys)


class VmappedChunk:
    """``chunk`` of stacked experiments: ``(arrays, states, keys, n_steps) -> (states,
    records)``, ``arrays`` the experiments' stacked array leaves, every argument and result
    with a leading point axis. One compiled program per chunk length, number of points and
    job (shared across runs of this process)."""

    def __init__(self, experiment):
        self.static = eqx.filter(chunk_view(experiment), eqx.is_array, inverse=True)

    def __call__(self, arrays, states, keys, n_steps: int):
        views = eqx.combine(arrays, self.static)
        return _vmapped_chunk(views, states, keys, n_steps)


def chunk_function(experiment):
    """``(state, n_steps, *, key) -> (state, records)`` of one run: the experiment's own
    ``chunk``, or for a batchable kind the vmapped program as a batch of one."""
    if not getattr(experiment, "batchable", False):
        return experiment.chunk
    program = VmappedChunk(experiment)
    arrays = stack_trees([eqx.filter(chunk_view(experiment), eqx.is_array)])

    def chunk(state, n_steps: int, *, key):
        states, records = program(arrays, stack_trees([state]), key[None], n_steps)
        return unstack_tree(states, 0), unstack_tree(records, 0)

    return chunk
