"""Assembling a chip's tiles: one TiledMatrix per weight matrix, ideal or PCM."""

from __future__ import annotations

from typing import Literal

import equinox as eqx

from ..crossbar import ChipSpec, IdealTile, PCMTile, TiledMatrix
from ..devices import load_preset, prng

__all__ = ["tile_factory"]


# Compiled once per block shape (and stored by the compilation cache): run op by op, the
# creation of the 32 tiles of a 784 × 2000 layer took 15 s of dispatch and small compilations.
_create_pcm_tile = eqx.filter_jit(PCMTile.create)


def tile_factory(chip: ChipSpec, kind: Literal["pcm", "ideal"], w_max: float, *, device=None):
    """A ``make_tile(layer, matrix, rows, cols, *, key)`` that splits matrices over tiles.

    ``device`` overrides the chip's device preset (e.g. with a job's device_overrides).

    PCM blocks follow the compiler's placement: rows in chunks of the chip's tile rows, columns
    in chunks of its tile columns, one block per tile, partial sums added digitally. Ideal
    tiles keep each matrix in one block: their partial sums are exact, so splitting would
    only cost time.
    """
    if kind not in ("pcm", "ideal"):
        raise ValueError(f"tiles must be 'pcm' or 'ideal', got {kind!r}")
    if kind == "pcm" and device is None:
        device = load_preset(chip.device_preset)
    if kind == "pcm":
        chip.check_device(device)

    def make_tile(layer: str, matrix: str, rows: int, cols: int, *, key) -> TiledMatrix:
        del layer, matrix

        def block(n, row_slice, col_slice):
            shape = (row_slice.stop - row_slice.start, col_slice.stop - col_slice.start)
            if kind == "ideal":
                return IdealTile.create(*shape)
            return _create_pcm_tile(
                chip,
                key=prng.fold_in(key, n),
                rows=shape[0],
                cols=shape[1],
                w_max=w_max,
                device=device,
            )

        if kind == "ideal":
            # Exact partial sums make the split invisible, so the float reference keeps the
            # matrix whole (one matmul instead of one per block).
            return TiledMatrix.build(rows, cols, rows, cols, block)
        return TiledMatrix.build(rows, cols, chip.tile.rows, chip.tile.cols, block)

    return make_tile
