"""Turning requested weight changes into SET-pulse counts.

Three schemes, as on real PCM learning chips:
- deterministic: round(|dW| / dw_pulse) pulses;
- stochastic: floor(q) + Bernoulli(q - floor(q)) pulses for q = |dW| / dw_pulse, unbiased in
  the pulse count;
- pulse_train: the fully parallel outer-product update of stochastic row and column pulse
  trains (Gokmen & Vlasov 2016; aihwkit's ``PulseType.STOCHASTIC_COMPRESSED``): a synapse
  receives a pulse in every slot where its row and its column both fire.
The sign of a change selects the device of the differential pair (G+ up for potentiation,
G- up for depression); counts are returned per side, and :func:`fire_at_device` fires them
at one device of each side of a multi-memristive pair.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..devices import prng
from ..devices.random import uniform_elementwise

__all__ = ["fire_at_device", "rounded_pulses", "pulse_train_pulses"]


def fire_at_device(device, devices, index, n_sides, t, *, key, one_sided: bool = False):
    """Fire pulse counts (2, rows, cols) at device ``index`` (of N) of each side of every pair.

    ``devices`` are the (2, N, rows, cols) states of model ``device``; returns the new states.
    ``one_sided``: the caller promises that no pair has pulses on both sides (rounded
    updates: a change has one sign). Then the pulsed side of each pair is gathered into one
    (1, rows, cols) array and only that is pulsed, which halves the random numbers and the
    per-device arithmetic of an update (benchmarks/README.md: an update's cost is its pulse
    loop over the devices). The pulsed devices follow the same statistics either way.
    """

    if jax.tree.leaves(devices)[0].shape[1] == 1:
        # One device per side: the index can only be 0. Under vmap with a batched index (the
        # chips of a vmapped sweep; a TiledMatrix group keeps its arbiter once, see
        # PCMTile.lockstep_fields) a dynamic index becomes a gather and a scatter of every
        # device array (2.5x the cost of an update). The device axis is kept rather than
        # dropped and re-inserted: a vmapped group laid the re-inserted axis out apart from the
        # loop's state and copied every device array back each step (benchmarks/README.md).

        def select(a):
            return a

        def place(full, part):
            del full
            return part

    else:

        def select(a):
            return jax.lax.dynamic_slice_in_dim(a, index, 1, axis=1)

        def place(full, part):
            return jax.lax.dynamic_update_slice_in_dim(full, part, index, axis=1)

    chosen = jax.tree.map(select, devices)  # (2, 1, rows, cols)
    if not one_sided:
        return jax.tree.map(place, devices, device.set_pulses(chosen, n_sides[:, None], t, key=key))
    # Side 0 where it has pulses, else side 1 (which then has pulses or none at all).
    up = n_sides[0] > 0
    pulsed = jax.tree.map(lambda a: jnp.where(up, a[0], a[1]), chosen)
    # The pulsed side's counts: with one side at most pulsed, the sum of the two sides.
    fired = device.set_pulses(pulsed, n_sides[0] + n_sides[1], t, key=key)

    # (2, 1, rows, cols): True on the side whose device was pulsed. Built by broadcasting,
    # not by stacking the two sides: under vmap a stack came out in a layout of its own that
    # XLA copied back into the loop's state, every device array, every step.
    on_pulsed_side = (jnp.arange(2)[:, None, None, None] == 1) != up

    def merge(old, before, after):
        if after is before:  # a field the pulses do not write: nothing to merge
            return old
        return jnp.where(on_pulsed_side, after, old)

    return jax.tree.map(place, devices, jax.tree.map(merge, chosen, pulsed, fired))


def rounded_pulses(dW, dw_pulse, max_pulses: int, *, stochastic: bool, key):
    """Pulse counts (2, rows, cols) int32 for potentiation (side 0) and depression (side 1).

    Args:
        dW: requested weight change (rows, cols).
        dw_pulse: weight change of one nominal SET pulse (> 0).
        max_pulses: cap per device per update.
        stochastic: unbiased stochastic rounding instead of round-to-nearest.
        key: PRNG key (used only when stochastic).
    """
    q = jnp.abs(dW) / dw_pulse
    if stochastic:
        whole = jnp.floor(q)
        n = whole + (uniform_elementwise(key, q.shape) < (q - whole))
    else:
        n = jnp.round(q)
    n = jnp.minimum(n, max_pulses).astype(jnp.int32)
    return jnp.stack([jnp.where(dW > 0, n, 0), jnp.where(dW < 0, n, 0)])


def pulse_train_pulses(x, d, scale, dw_pulse, length: int, max_pulses: int, *, key):
    """Pulse counts (2, rows, cols) of stochastic pulse-train coincidences for a batch.

    The requested change is dW = scale * sum_b outer(x_b, d_b). Row i of sample b fires in each
    of ``length`` slots with probability p = min(a |x_bi|, 1) and column j with
    q = min(c |d_bj|, 1), where a c = scale / (dw_pulse * length) so that the expected number
    of coincidences, length * p * q, equals |dW_b,ij| / dw_pulse; a and c balance the two
    sides (aihwkit's update management). Probabilities that would exceed 1 are clipped, so
    very large requests saturate, as on hardware. Counts of a batch add up per device.
    """
    x = jnp.reshape(x, (-1, x.shape[-1]))
    d = jnp.reshape(d, (-1, d.shape[-1]))
    gain = jnp.abs(scale) / (dw_pulse * length)
    x_max = jnp.maximum(jnp.max(jnp.abs(x)), 1e-30)
    d_max = jnp.maximum(jnp.max(jnp.abs(d)), 1e-30)
    a = jnp.sqrt(gain * d_max / x_max)
    c = jnp.sqrt(gain * x_max / d_max)
    p = jnp.minimum(a * jnp.abs(x), 1.0)
    q = jnp.minimum(c * jnp.abs(d), 1.0)
    k_row, k_col = prng.split(key)
    batch = x.shape[0]
    row_fires = uniform_elementwise(k_row, (batch, length, x.shape[1])) < p[:, None, :]
    col_fires = uniform_elementwise(k_col, (batch, length, d.shape[1])) < q[:, None, :]
    sign = jnp.sign(scale)
    x_pos = (row_fires & (sign * x[:, None, :] > 0)).reshape(-1, x.shape[1]).astype(jnp.float32)
    x_neg = (row_fires & (sign * x[:, None, :] < 0)).reshape(-1, x.shape[1]).astype(jnp.float32)
    d_pos = (col_fires & (d[:, None, :] > 0)).reshape(-1, d.shape[1]).astype(jnp.float32)
    d_neg = (col_fires & (d[:, None, :] < 0)).reshape(-1, d.shape[1]).astype(jnp.float32)
    potentiate = x_pos.T @ d_pos + x_neg.T @ d_neg
    depress = x_pos.T @ d_neg + x_neg.T @ d_pos
    n = jnp.stack([potentiate, depress])
    return jnp.minimum(jnp.round(n), max_pulses).astype(jnp.int32)
