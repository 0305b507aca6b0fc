"""Depression by RESET-and-reprogram, the alternative to SET pulses on the G− device.

A differential PCM synapse can only be depressed gradually by crystallising its G− device a
little more (what :meth:`PCMTile.update` does for dW < 0); both devices then climb towards
saturation and need periodic refreshes. The other way, used by PCM STDP demonstrators whose
depression is abrupt (Tuma et al., Nat. Nanotechnol. 2016; Moraitis et al., IJCNN 2017), is to
take the weight the synapse had (its read), RESET both devices, and program the lowered weight
back with program-and-verify. Each depression then costs two RESETs and a program-and-verify
write instead of a few SET pulses, but leaves the pair with full headroom.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .pcm_tile import PCMTile
from .tile import AbstractTile
from .tiled import TiledMatrix

__all__ = ["reset_and_reprogram"]


def reset_and_reprogram(tile: AbstractTile, dW, W_read, t, *, key) -> AbstractTile:
    """Apply ``dW`` (rows, cols) at chip time t (s), depressing by RESET-and-reprogram.

    Potentiation (dW > 0) goes through ``tile.update`` (partial SET pulses on G+). Every
    synapse with dW < 0 has both sides RESET and is programmed to ``W_read + dW`` (clipped to
    ±w_max), where ``W_read`` is the weight read the change was computed from (its read is
    already booked there). Booked: the RESETs, the program-and-verify SET pulses and verify
    reads, and one update event per depressed synapse. Tiles without devices (IdealTile)
    apply ``dW`` exactly; a TiledMatrix applies it block by block.
    """
    dW = jnp.asarray(dW)
    if jnp.shape(dW) != (tile.rows, tile.cols) or jnp.shape(W_read) != (tile.rows, tile.cols):
        raise ValueError(
            f"reset_and_reprogram: dW and W_read must be {(tile.rows, tile.cols)}, "
            f"got {jnp.shape(dW)} and {jnp.shape(W_read)}"
        )
    if isinstance(tile, TiledMatrix):
        return tile._replace(
            reset_and_reprogram(block, dW[rows, cols], W_read[rows, cols], t, key=k)
            for block, rows, cols, k in tile._grid(key)
        )
    if not isinstance(tile, PCMTile):
        return tile.update(dW, t, key=key)
    k_set, k_write = jax.random.split(key)
    tile = tile.update(jnp.maximum(dW, 0.0), t, key=k_set)
    lowered = dW < 0
    target = jnp.clip(W_read + dW, -tile.w_max, tile.w_max)
    tile, cost = tile.reprogram(lowered, target, t, key=k_write)
    return tile._book(**cost, update_events=jnp.sum(lowered))
