"""``eqx.filter_jit``'s meaning at a fraction of its per-call cost, for the runtime's hot calls.

A learning run calls its jitted chunk again and again. ``eqx.filter_jit`` spends ~0.12 ms of
Python on each call before the program starts (binding the signature, partitioning every
argument, its modules' attribute hooks): on the 64 → 100 digits layer that is 2–3 µs per
learning step of a 44-step chunk, a tenth of what the ideal tile's step costs
(benchmarks/README.md, "Dispatch of a chunk"). :func:`lean_jit` flattens the arguments once,
traces their array leaves and keys one compiled program on everything else, as
``filter_jit`` does; what it does not offer: donation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.tree_util as jtu

__all__ = ["lean_jit"]


class _Static:
    """A pytree node with no leaves that carries an output's non-array part through jit."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


jtu.register_pytree_node(_Static, lambda s: ((), s.value), lambda value, _: _Static(value))


def _split(leaves):
    """(array leaves, the other leaves with None where an array was)."""
    arrays, others = [], []
    for leaf in leaves:
        if eqx.is_array(leaf):
            arrays.append(leaf)
            others.append(None)
        else:
            others.append(leaf)
    return arrays, tuple(others)


def _merge(arrays, others):
    it = iter(arrays)
    return [next(it) if leaf is None else leaf for leaf in others]


def lean_jit(fn: Callable) -> Callable:
    """``fn`` compiled like ``eqx.filter_jit(fn)``: every array leaf of the arguments
    (positional or by name) is traced, every other leaf is static (and must be hashable), and
    the outputs may hold non-array leaves. One program per structure and static leaves of the
    arguments (and per shapes and dtypes of the arrays, as ``jax.jit`` decides)."""
    programs: dict = {}

    def program_of(treedef, others):
        def run(arrays):
            args, kwargs = jtu.tree_unflatten(treedef, _merge(arrays, others))
            out_leaves, out_treedef = jtu.tree_flatten(fn(*args, **kwargs))
            out_arrays, out_others = _split(out_leaves)
            return out_arrays, _Static((out_treedef, out_others))

        run.__name__ = fn.__name__  # JAX names the program (and its cache entry) after it
        run.__qualname__ = fn.__qualname__
        return jax.jit(run)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        leaves, treedef = jtu.tree_flatten((args, kwargs))
        arrays, others = _split(leaves)
        key = (treedef, others)
        try:
            program = programs.get(key)
        except TypeError as error:
            unhashable = [type(leaf).__name__ for leaf in others if not _hashable(leaf)]
            raise TypeError(
                f"{fn.__qualname__}: every argument that is not an array is static and must "
                f"be hashable; got unhashable {', '.join(unhashable)}"
            ) from error
        if program is None:
            program = programs[key] = program_of(treedef, others)
        out_arrays, static = program(arrays)
        out_treedef, out_others = static.value
        return jtu.tree_unflatten(out_treedef, _merge(out_arrays, out_others))

    return call


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
