"""Turning requested weight changes into SET-pulse counts.

Three schemes, as on real PCM learning chips:
- deterministic: round(|dW| / dw_pulse) pulses;
- stochastic: floor(q) + Bernoulli(q - floor(q)) pulses for q = |dW| / dw_pulse, unbiased in
  the pulse count;
- pulse_train: the fully parallel outer-product update of stochastic row and column pulse
  trains (Gokmen & Vlasov 2016; aihwkit's ``PulseType.STOCHASTIC_COMPRESSED``): a synapse
  receives a pulse in every slot where its row and its column both fire.
The sign of a change selects the device of the differential pair (G+ up for potentiation,
G- up for depression). Rounded changes have one sign, so their counts come as one count per
synapse, signed (:func:`rounded_counts`, fired by :func:`fire_one_sided`); pulse-train
coincidences may pulse both sides, so theirs come per side (fired by :func:`fire_at_device`).
Either fires at the arbiter's device of each side of a multi-memristive pair.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..devices import prng
from ..devices.random import computed_once, uniform_elementwise
from .device_index import device_of_pair, with_device_of_pair

__all__ = [
    "fire_at_device",
    "fire_one_sided",
    "pulse_train_pulses",
    "rounded_counts",
    "rounded_pulses",
]


def _device_of_side(devices, index):
    """(take, put) of the arbiter's device ``index`` of each side of (2, N, rows, cols)
    arrays: take gives (2, 1, rows, cols), put writes such an array back."""
    if jax.tree.leaves(devices)[0].shape[1] == 1:
        # One device per side: the index can only be 0, and the device axis is kept rather
        # than dropped and re-inserted: a vmapped group laid the re-inserted axis out apart
        # from the loop's state and copied every device array back each step
        # (benchmarks/README.md).
        return (lambda a: a), (lambda full, part: part)
    return (
        lambda a: device_of_pair(a, index),
        lambda full, part: with_device_of_pair(full, part, index),
    )


def fire_at_device(device, devices, index, n_sides, t, *, key):
    """Fire pulse counts (2, rows, cols) at device ``index`` (of N) of each side of every pair.

    ``devices`` are the (2, N, rows, cols) states of model ``device``; returns the new states.
    Both sides of a pair may have pulses (pulse-train coincidences); for changes of one sign,
    :func:`fire_one_sided` does the same work at half the cost.
    """
    take, put = _device_of_side(devices, index)
    chosen = jax.tree.map(take, devices)  # (2, 1, rows, cols)
    return jax.tree.map(put, devices, device.set_pulses(chosen, n_sides[:, None], t, key=key))


def fire_one_sided(device, devices, index, signed_counts, t, *, key):
    """Fire signed pulse counts (rows, cols) at device ``index`` of each pair's G+ where the
    count is positive and of its G− where it is negative (:func:`rounded_counts`: the rounded
    updates, where a change has one sign).

    Only the pulsed side of each pair is gathered into one (1, rows, cols) array and pulsed,
    which halves the random numbers and the per-device arithmetic against pulsing both sides
    (benchmarks/README.md: an update's cost is its pulse loop over the devices).
    """
    # Side 0 where it has pulses, else side 1 (which then has pulses or none at all).
    up = signed_counts > 0
    n = jnp.abs(signed_counts)
    take, put = _device_of_side(devices, index)
    chosen = jax.tree.map(take, devices)  # (2, 1, rows, cols)
    pulsed = jax.tree.map(lambda a: jnp.where(up, a[0], a[1]), chosen)
    fired = device.set_pulses(pulsed, n, t, key=key)

    # (2, 1, rows, cols): True on the side whose device was pulsed. Built by broadcasting,
    # not by stacking the two sides: under vmap a stack came out in a layout of its own that
    # XLA copied back into the loop's state, every device array, every step.
    on_pulsed_side = (jnp.arange(2)[:, None, None, None] == 1) != up

    def merge(old, before, after):
        if after is before:  # a field the pulses do not write: nothing to merge
            return old
        return jnp.where(on_pulsed_side, after, old)

    return jax.tree.map(put, devices, jax.tree.map(merge, chosen, pulsed, fired))


def rounded_counts(dW, dw_pulse, max_pulses: int, *, stochastic: bool, key):
    """Signed pulse counts (rows, cols) int32: n > 0 pulses on G+ (potentiation), n < 0 is
    |n| pulses on G− (depression).

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
    # Computed once, sign included: the counts feed the pulse loop, the choice of side and
    # the ledger's sums, and XLA would otherwise redo the rounding's random numbers (and the
    # caller's arithmetic behind dW) in each of them.
    signed = computed_once(jnp.where(dW > 0, 1.0, -1.0) * jnp.minimum(n, max_pulses))
    return signed.astype(jnp.int32)


def rounded_pulses(dW, dw_pulse, max_pulses: int, *, stochastic: bool, key):
    """Pulse counts (2, rows, cols) int32 for potentiation (side 0) and depression (side 1):
    :func:`rounded_counts` per side (arguments alike)."""
    n = rounded_counts(dW, dw_pulse, max_pulses, stochastic=stochastic, key=key)
    return jnp.stack([jnp.maximum(n, 0), jnp.maximum(-n, 0)])


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
