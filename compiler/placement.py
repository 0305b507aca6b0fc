"""Placement: split weight matrices into tile-sized blocks and put each block on its own tile."""

from __future__ import annotations

import itertools
import math

from ..crossbar.chip import ChipSpec, TileGeometry
from ..crossbar.tiled import block_edges
from ..devices import AbstractDevice, load_preset
from .network import Network
from .program import Block, Program

__all__ = ["DoesNotFit", "compile_network", "split_blocks", "tiles_needed"]


class DoesNotFit(ValueError):
    """The network needs more tiles than the chip has.

    Attributes:
        needed: tiles needed per layer (layer name → tiles).
        total: tiles needed in all.
        available: tiles on the chip.
    """

    def __init__(self, network: Network, chip: ChipSpec, needed: dict[str, int]):
        self.needed = dict(needed)
        self.total = sum(needed.values())
        self.available = chip.tile.count
        per_layer = ", ".join(f"{name}: {n}" for name, n in needed.items())
        super().__init__(
            f"network '{network.name}' does not fit: it needs {self.total} tiles of "
            f"{chip.tile.rows}x{chip.tile.cols} ({per_layer}) but the chip has "
            f"{self.available}"
        )


def split_blocks(rows: int, cols: int, tile: TileGeometry) -> list[tuple[int, int, int, int]]:
    """Tile-sized blocks ``(row_start, row_stop, col_start, col_stop)`` of a rows×cols matrix.

    Rows are split into ceil(rows / tile.rows) balanced parts, columns likewise
    (:func:`memxbar.crossbar.block_edges`: parts differ by at most one row or column); blocks
    are listed row block by row block, columns inside. The runtime's tiled matrices split the
    same way.
    """
    row_edges, col_edges = block_edges(rows, tile.rows), block_edges(cols, tile.cols)
    return [
        (r0, r1, c0, c1)
        for r0, r1 in itertools.pairwise(row_edges)
        for c0, c1 in itertools.pairwise(col_edges)
    ]


def tiles_needed(network: Network, tile: TileGeometry) -> dict[str, int]:
    """Tiles each layer needs (one per block): layer name → count."""
    return {
        layer.name: sum(
            math.ceil(rows / tile.rows) * math.ceil(cols / tile.cols)
            for rows, cols in layer.matrices().values()
        )
        for layer in network.layers
    }


def compile_network(
    network: Network, chip: ChipSpec, *, device: AbstractDevice | None = None
) -> Program:
    """Place ``network`` onto ``chip``: one tile-sized block of a weight matrix per tile.

    Tiles are filled in order (layer by layer, matrix by matrix, row block by row block); blocks
    of one matrix that share a column range have their outputs added digitally
    (:meth:`Program.partial_sums`). The update scheme is the chip's (``chip.update``).

    Args:
        network: the network IR.
        chip: the chip description.
        device: the device model; by default loaded from ``chip.device_preset``.

    Raises:
        DoesNotFit (a ValueError): more tiles needed than the chip has; the message gives the
            tiles needed per layer and in total, and the tiles on the chip.
        ConfigError (a ValueError): the chip's device preset cannot be loaded.
        InvalidParameter (a ValueError): the chip asks more conductance of its device than
            the device's g_max (:meth:`ChipSpec.check_device`).
    """
    needed = tiles_needed(network, chip.tile)
    if sum(needed.values()) > chip.tile.count:
        raise DoesNotFit(network, chip, needed)
    if device is None:
        device = load_preset(chip.device_preset)
    chip.check_device(device)
    blocks = []
    for layer in network.layers:
        for matrix, (rows, cols) in layer.matrices().items():
            for r0, r1, c0, c1 in split_blocks(rows, cols, chip.tile):
                blocks.append(Block(layer.name, matrix, len(blocks), r0, r1, c0, c1))
    return Program(network, chip, tuple(blocks), device)
