"""The arbiter's device of each side of a multi-memristive pair, taken out and put back.

A pair's device arrays are laid out (2, N, rows, cols): side, device of the side, crossbar.
An update pulses one device per side, the one the tile's arbiter points at (``index``).

Alone, or under a vmap whose index is shared (a tiled group's lockstep arbiter), the device is
a dynamic slice and goes back by an in-place dynamic update. Under a vmap with an index per
chip (a sweep that vmaps whole chips, each with its own arbiter), a dynamic index would become
a gather and a scatter of every device array; there the device is chosen elementwise, which
XLA fuses with the pulse arithmetic around it (benchmarks/README.md, "The arbiter under a
vmap of chips"). Both give the same values bit for bit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

__all__ = ["device_of_pair", "with_device_of_pair"]


def _slice(a, index):
    return jax.lax.dynamic_slice_in_dim(a, index, 1, axis=1)


def _update(full, part, index):
    return jax.lax.dynamic_update_slice_in_dim(full, part, index, axis=1)


def _clamped(index, n_devices: int):
    """The index clamped into [0, N − 1], as a dynamic slice clamps its start."""
    return jnp.clip(index, 0, n_devices - 1)


def _onehot(index, n_devices: int, ndim: int):
    """(batch, 1, N, 1, ...) True at each chip's device, for arrays of ``ndim`` axes (batch
    included)."""
    shape = (index.shape[0], 1, n_devices) + (1,) * (ndim - 3)
    return (jnp.arange(n_devices) == index[:, None]).reshape(shape)


@custom_vmap
def device_of_pair(a, index):
    """Device ``index`` of each side of ``a`` (2, N, ...): an array (2, 1, ...)."""
    return _slice(a, index)


@device_of_pair.def_vmap
def _device_of_pair_batched(axis_size, in_batched, a, index):
    a_batched, index_batched = in_batched
    if not index_batched:
        return jax.vmap(_slice, in_axes=(0 if a_batched else None, None))(a, index), a_batched
    if not a_batched:
        a = jnp.broadcast_to(a, (axis_size,) + a.shape)
    index = _clamped(index, a.shape[2])
    index = index.reshape((axis_size,) + (1,) * (a.ndim - 1))
    chosen = a[:, :, :1]
    for n in range(1, a.shape[2]):
        chosen = jnp.where(index == n, a[:, :, n : n + 1], chosen)
    return chosen, True


@custom_vmap
def with_device_of_pair(full, part, index):
    """``full`` (2, N, ...) with device ``index`` of each side replaced by ``part`` (2, 1, ...)."""
    return _update(full, part, index)


@with_device_of_pair.def_vmap
def _with_device_of_pair_batched(axis_size, in_batched, full, part, index):
    full_batched, part_batched, index_batched = in_batched
    if not index_batched:
        axes = (0 if full_batched else None, 0 if part_batched else None, None)
        return jax.vmap(_update, in_axes=axes)(full, part, index), full_batched or part_batched
    if not full_batched:
        full = jnp.broadcast_to(full, (axis_size,) + full.shape)
    if not part_batched:
        part = jnp.broadcast_to(part, (axis_size,) + part.shape)
    index = _clamped(index, full.shape[2])
    return jnp.where(_onehot(index, full.shape[2], full.ndim), part, full), True
