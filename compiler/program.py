"""A compiled program: which block of which weight matrix sits on which tile.

A :class:`Program` is the network, the chip, the device model of the chip's preset and the
placement: a tuple of :class:`Block` s, each a rectangle ``[row_start, row_stop) ×
[col_start, col_stop)`` of one weight matrix (rows = inputs, cols = outputs) on its own tile.
Blocks of one matrix that share a column range produce partial sums of the same outputs; the
periphery adds them digitally (:meth:`Program.partial_sums`). Its files (YAML and HDF5) are
:mod:`.program_io`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..crossbar.chip import ChipSpec
from ..devices import AbstractDevice
from .network import Layer, Network

__all__ = ["Block", "PartialSum", "Program", "InvalidPlacement", "check_placement"]


@dataclasses.dataclass(frozen=True)
class Block:
    """Rows ``[row_start, row_stop)`` × cols ``[col_start, col_stop)`` of one matrix on a tile.

    The block occupies word lines ``0 .. rows-1`` and bit lines ``0 .. cols-1`` of ``tile``.
    """

    layer: str
    matrix: str
    tile: int
    row_start: int
    row_stop: int
    col_start: int
    col_stop: int

    @property
    def rows(self) -> int:
        return self.row_stop - self.row_start

    @property
    def cols(self) -> int:
        return self.col_stop - self.col_start

    @property
    def cells(self) -> int:
        """Synapses (differential pairs) the block occupies."""
        return self.rows * self.cols


@dataclasses.dataclass(frozen=True)
class PartialSum:
    """Outputs ``[col_start, col_stop)`` of a matrix are the digital sum of these tiles' outputs.

    ``tiles`` are in order of their blocks' row ranges.
    """

    layer: str
    matrix: str
    col_start: int
    col_stop: int
    tiles: tuple[int, ...]


class InvalidPlacement(ValueError):
    """Blocks that do not describe a valid placement; ``index`` is the offending block or None."""

    def __init__(self, index: int | None, message: str):
        self.index = index
        self.message = message
        where = f"block {index}: " if index is not None else ""
        super().__init__(where + message)


def check_placement(network: Network, chip: ChipSpec, blocks: tuple[Block, ...]) -> None:
    """Check that ``blocks`` place every weight matrix of ``network`` exactly once on ``chip``.

    Each block must name an existing layer and matrix, lie inside the matrix, fit a tile and sit
    on its own tile of the chip; the blocks of each matrix must cover it exactly once.

    Raises:
        InvalidPlacement (a ValueError).
    """
    layers = {layer.name: layer for layer in network.layers}
    geometry = chip.tile
    seen_tiles: dict[int, int] = {}
    per_matrix: dict[tuple[str, str], list[Block]] = {}
    for i, block in enumerate(blocks):
        if not isinstance(block, Block):
            raise InvalidPlacement(i, f"expected a Block, got {type(block).__name__}")
        layer = layers.get(block.layer)
        if layer is None:
            raise InvalidPlacement(
                i, f"layer '{block.layer}' is not in network '{network.name}' ({', '.join(layers)})"
            )
        shapes = layer.matrices()
        if block.matrix not in shapes:
            raise InvalidPlacement(
                i,
                f"layer '{block.layer}' has no matrix '{block.matrix}' ({', '.join(shapes)})",
            )
        n_rows, n_cols = shapes[block.matrix]
        for axis, start, stop, size in (
            ("rows", block.row_start, block.row_stop, n_rows),
            ("cols", block.col_start, block.col_stop, n_cols),
        ):
            if not 0 <= start < stop <= size:
                raise InvalidPlacement(
                    i,
                    f"{axis} [{start}, {stop}) are not a non-empty range inside "
                    f"{block.layer}.{block.matrix} ({n_rows}x{n_cols})",
                )
        if block.rows > geometry.rows or block.cols > geometry.cols:
            raise InvalidPlacement(
                i,
                f"a {block.rows}x{block.cols} block does not fit a "
                f"{geometry.rows}x{geometry.cols} tile",
            )
        if not 0 <= block.tile < geometry.count:
            raise InvalidPlacement(
                i, f"tile {block.tile} does not exist (the chip has tiles 0..{geometry.count - 1})"
            )
        if block.tile in seen_tiles:
            raise InvalidPlacement(
                i, f"tile {block.tile} already holds block {seen_tiles[block.tile]}"
            )
        seen_tiles[block.tile] = i
        per_matrix.setdefault((block.layer, block.matrix), []).append(block)
    for layer in network.layers:
        for matrix, shape in layer.matrices().items():
            _check_cover(layer, matrix, shape, per_matrix.get((layer.name, matrix), []))


def _check_cover(layer: Layer, matrix: str, shape: tuple[int, int], blocks: list[Block]):
    """Every cell of the matrix is in exactly one block (counted on the grid of block edges)."""
    name = f"{layer.name}.{matrix}"
    if not blocks:
        raise InvalidPlacement(None, f"matrix {name} ({shape[0]}x{shape[1]}) is not placed")
    row_cuts = sorted({0, shape[0], *(b.row_start for b in blocks), *(b.row_stop for b in blocks)})
    col_cuts = sorted({0, shape[1], *(b.col_start for b in blocks), *(b.col_stop for b in blocks)})
    count = np.zeros((len(row_cuts) - 1, len(col_cuts) - 1), np.int64)
    for b in blocks:
        r0, r1 = row_cuts.index(b.row_start), row_cuts.index(b.row_stop)
        c0, c1 = col_cuts.index(b.col_start), col_cuts.index(b.col_stop)
        count[r0:r1, c0:c1] += 1
    bad = np.argwhere(count != 1)
    if bad.size:
        i, j = bad[0]
        what = "not covered by any block" if count[i, j] == 0 else f"in {count[i, j]} blocks"
        raise InvalidPlacement(
            None,
            f"matrix {name}: rows [{row_cuts[i]}, {row_cuts[i + 1]}) x cols "
            f"[{col_cuts[j]}, {col_cuts[j + 1]}) are {what} (each cell must be in exactly one)",
        )


@dataclasses.dataclass(frozen=True)
class Program:
    """A network placed onto a chip: frozen, hashable and comparable.

    Attributes:
        network: the network IR (layers with their plasticity rules).
        chip: the chip (tile geometry, periphery, update scheme, clock).
        blocks: the placement, one block per tile.
        device: the device model of ``chip.device_preset``, resolved at compile time so the
            program is self-contained.
    """

    network: Network
    chip: ChipSpec
    blocks: tuple[Block, ...]
    device: AbstractDevice

    def __post_init__(self):
        object.__setattr__(self, "blocks", tuple(self.blocks))
        check_placement(self.network, self.chip, self.blocks)

    @property
    def device_preset(self) -> str:
        """The chip's device preset name (or path) the device model was loaded from."""
        return self.chip.device_preset

    @property
    def update_scheme(self) -> str:
        """How weight updates become pulses (``chip.update.scheme``)."""
        return self.chip.update.scheme

    def blocks_of(self, layer: str, matrix: str | None = None) -> tuple[Block, ...]:
        """The blocks of a layer (of one of its matrices when ``matrix`` is given), in order."""
        return tuple(
            b for b in self.blocks if b.layer == layer and (matrix is None or b.matrix == matrix)
        )

    def tiles(self, layer: str | None = None) -> tuple[int, ...]:
        """Sorted indices of the tiles in use (by ``layer`` when given)."""
        blocks = self.blocks if layer is None else self.blocks_of(layer)
        return tuple(sorted(b.tile for b in blocks))

    @property
    def tiles_used(self) -> int:
        return len(self.blocks)

    def utilisation(self, layer: str | None = None) -> float:
        """Used cells / (tiles used × tile rows × tile cols), overall or of one layer."""
        blocks = self.blocks if layer is None else self.blocks_of(layer)
        capacity = len(blocks) * self.chip.tile.rows * self.chip.tile.cols
        return sum(b.cells for b in blocks) / capacity if capacity else 0.0

    def partial_sums(self) -> tuple[PartialSum, ...]:
        """Where outputs of several tiles are added digitally.

        One entry per (layer, matrix, column range) held by more than one block: those blocks
        cover different input rows of the same outputs, so their outputs are summed.
        """
        groups: dict[tuple[str, str, int, int], list[Block]] = {}
        for b in self.blocks:
            groups.setdefault((b.layer, b.matrix, b.col_start, b.col_stop), []).append(b)
        return tuple(
            PartialSum(*key, tuple(b.tile for b in sorted(blocks, key=lambda b: b.row_start)))
            for key, blocks in groups.items()
            if len(blocks) > 1
        )
