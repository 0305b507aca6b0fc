"""Counting pulses and events over device arrays: exact, and fast on XLA:CPU.

XLA:CPU rewrites a reduction over a dimension longer than 32 into a 32-wide ``reduce-window``
followed by a reduction (its tree-reduction pass, for the accuracy of float sums). For int32
and bool operands that ``reduce-window`` is not vectorised: the largest pulse count of a
3.1 M-device update took 6.4 ms against 1.1 ms for the same counts as float32, and the
MNIST-shaped SoftHebb step spent ~12 % of its time in four such counts
(benchmarks/README.md, "Counting in float32, merging in place"). Counts are small
non-negative integers, so they go through float32, which holds every integer below 2^24.
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["count_max", "count_total"]


def count_total(counts):
    """Sum of non-negative integer or boolean ``counts`` (any shape), as float32 (what the
    ledger books).

    Exact while the sum is below 2^24 (16.7 M); above, with float32's rounding of the partial
    sums (a relative error of order 1e-7 per level of the reduction tree), as the ledger keeps
    every count in float32 anyway.
    """
    return jnp.sum(jnp.asarray(counts, jnp.float32))


def count_max(counts):
    """Largest of non-negative integer ``counts`` (< 2^24), as int32; 0 for an empty array."""
    counts = jnp.asarray(counts, jnp.float32)
    if counts.size == 0:
        return jnp.int32(0)
    return jnp.max(counts).astype(jnp.int32)
