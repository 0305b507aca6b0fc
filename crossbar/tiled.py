"""A weight matrix larger than one tile, spread over a grid of tiles.

The compiler splits a (rows, cols) matrix into tile-sized blocks; this class puts the blocks
back together behind the same interface as one tile, so algorithms never see the split:
inputs are sliced by row block, each block does its own analogue MVM, and the partial sums of
a column range are added digitally.
"""

from __future__ import annotations

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp

from .ledger import EnergyLedger
from .tile import AbstractTile

__all__ = ["TiledMatrix", "block_edges"]


def block_edges(size: int, block: int) -> tuple[int, ...]:
    """Edges (0, block, 2·block, ..., size) of a split of ``size`` into ``block``-sized parts."""
    if size < 1 or block < 1:
        raise ValueError(f"block_edges: size and block must be ≥ 1, got {size}, {block}")
    return (*range(0, size, block), size)


class TiledMatrix(AbstractTile):
    """A grid of tiles acting as one (rows, cols) weight matrix.

    ``blocks[i][j]`` holds rows ``row_edges[i]:row_edges[i+1]`` and columns
    ``col_edges[j]:col_edges[j+1]``; ``blocks`` is stored row-major as a flat tuple.
    """

    blocks: tuple[AbstractTile, ...]
    row_edges: tuple[int, ...] = eqx.field(static=True)
    col_edges: tuple[int, ...] = eqx.field(static=True)

    def __check_init__(self):
        n_r, n_c = len(self.row_edges) - 1, len(self.col_edges) - 1
        if len(self.blocks) != n_r * n_c:
            raise ValueError(f"TiledMatrix: expected {n_r}×{n_c} blocks, got {len(self.blocks)}")
        kinds = sorted({type(tile).__name__ for tile in self.blocks})
        if len(kinds) > 1:
            raise ValueError(f"TiledMatrix: blocks must be of one kind, got {' and '.join(kinds)}")
        for n, tile in enumerate(self.blocks):
            i, j = divmod(n, n_c)
            want = (
                self.row_edges[i + 1] - self.row_edges[i],
                self.col_edges[j + 1] - self.col_edges[j],
            )
            if (tile.rows, tile.cols) != want:
                raise ValueError(
                    f"TiledMatrix: block ({i}, {j}) is {tile.rows}×{tile.cols}, "
                    f"expected {want[0]}×{want[1]}"
                )

    @classmethod
    def build(cls, rows: int, cols: int, tile_rows: int, tile_cols: int, make_tile) -> TiledMatrix:
        """Split (rows, cols) into tiles of at most (tile_rows, tile_cols).

        ``make_tile(index, row_slice, col_slice)`` builds the tile of one block.
        """
        row_edges = block_edges(rows, tile_rows)
        col_edges = block_edges(cols, tile_cols)
        row_ranges = [slice(a, b) for a, b in itertools.pairwise(row_edges)]
        col_ranges = [slice(a, b) for a, b in itertools.pairwise(col_edges)]
        blocks = tuple(
            make_tile(n, r, c) for n, (r, c) in enumerate(itertools.product(row_ranges, col_ranges))
        )
        return cls(blocks=blocks, row_edges=row_edges, col_edges=col_edges)

    @property
    def rows(self) -> int:
        return self.row_edges[-1]

    @property
    def cols(self) -> int:
        return self.col_edges[-1]

    @property
    def refreshes(self) -> bool:
        return any(tile.refreshes for tile in self.blocks)

    @property
    def ledger(self) -> EnergyLedger:
        """The sum of the blocks' ledgers."""
        total = self.blocks[0].ledger
        for tile in self.blocks[1:]:
            total = total + tile.ledger
        return total

    @property
    def dw_pulse(self):
        """Each block's pulse step at its synapses, (rows, cols); None for exact blocks."""
        if self.blocks[0].dw_pulse is None:
            return None
        return self._assemble(lambda tile: tile.dw_pulse, ())

    def _grid(self, key=None):
        """(tile, row slice, col slice, key) of every block; keys split from ``key``."""
        n_c = len(self.col_edges) - 1
        keys = (
            jax.random.split(key, len(self.blocks))
            if key is not None
            else [None] * len(self.blocks)
        )
        for n, (tile, k) in enumerate(zip(self.blocks, keys, strict=True)):
            i, j = divmod(n, n_c)
            rows = slice(self.row_edges[i], self.row_edges[i + 1])
            cols = slice(self.col_edges[j], self.col_edges[j + 1])
            yield tile, rows, cols, k

    def _assemble(self, part, lead: tuple[int, ...]):
        """The (*lead, rows, cols) array whose block of every tile is ``part(tile)``."""
        out = jnp.zeros((*lead, self.rows, self.cols), jnp.float32)
        for tile, rows, cols, _ in self._grid():
            out = out.at[..., rows, cols].set(part(tile))
        return out

    def _replace(self, blocks) -> TiledMatrix:
        return eqx.tree_at(lambda s: s.blocks, self, tuple(blocks))

    def _alike(self) -> list[list[int]]:
        """The blocks in groups that one vmapped call can run: equal kind, shape and
        non-array fields (settings), in order of first appearance."""
        groups: dict = {}
        for n, tile in enumerate(self.blocks):
            static = eqx.partition(tile, eqx.is_array)[1]
            leaves, treedef = jax.tree.flatten(static)
            shapes = tuple(jnp.shape(a) for a in jax.tree.leaves(eqx.filter(tile, eqx.is_array)))
            groups.setdefault((treedef, tuple(map(repr, leaves)), shapes), []).append(n)
        return list(groups.values())

    def _map_alike(self, fn, key):
        """``fn(tile, key)`` of every block (one key of ``key`` per block, as :meth:`_grid`
        splits them) → the results, in block order.

        Blocks of one shape run as one ``eqx.filter_vmap`` call over their stacked states:
        the program holds one copy of ``fn`` per block shape instead of one per block (XLA
        compile time grows with the copies: a 784 × 2000 layer is 32 blocks but 4 shapes;
        benchmarks/README.md). Stacking copies the blocks' states, so this serves the rare
        operations (refresh), not the per-step ones.
        """
        keys = jax.random.split(key, len(self.blocks))
        out = [None] * len(self.blocks)
        for members in self._alike():
            if len(members) == 1:
                (n,) = members
                out[n] = fn(self.blocks[n], keys[n])
                continue
            stacked = jax.tree.map(
                lambda *a: jnp.stack(a) if eqx.is_array(a[0]) else a[0],
                *(self.blocks[n] for n in members),
            )
            batched = eqx.filter_vmap(fn)(stacked, keys[jnp.asarray(members)])
            for i, n in enumerate(members):
                out[n] = jax.tree.map(lambda a, i=i: a[i] if eqx.is_array(a) else a, batched)
        return out

    def _read(self, inputs, t, key, transpose: bool):
        """Each block reads its slice of the inputs; partial sums are added digitally."""
        n_in, n_out = (self.cols, self.rows) if transpose else (self.rows, self.cols)
        self.check_input(inputs, n_in, "y" if transpose else "x")
        out = jnp.zeros((*jnp.shape(inputs)[:-1], n_out), jnp.float32)
        blocks = []
        for tile, rows, cols, k in self._grid(key):
            in_slice, out_slice = (cols, rows) if transpose else (rows, cols)
            read = tile.mvm_t if transpose else tile.mvm
            part, tile = read(inputs[..., in_slice], t, key=k)
            out = out.at[..., out_slice].add(part)
            blocks.append(tile)
        return out, self._replace(blocks)

    def mvm(self, x, t, *, key):
        return self._read(x, t, key, transpose=False)

    def mvm_t(self, y, t, *, key):
        return self._read(y, t, key, transpose=True)

    def update(self, dW, t, *, key):
        self.check_matrix(dW, "update: dW")
        return self._replace(
            tile.update(dW[rows, cols], t, key=k) for tile, rows, cols, k in self._grid(key)
        )

    def update_outer(self, x, d, t, *, key, scale=1.0):
        self.check_outer(x, d)
        return self._replace(
            tile.update_outer(x[..., rows], d[..., cols], t, key=k, scale=scale)
            for tile, rows, cols, k in self._grid(key)
        )

    def reset_and_reprogram(self, dW, W_read, t, *, key):
        """Block by block: every block RESETs and re-programs its own lowered synapses."""
        self.check_matrix(dW, "reset_and_reprogram: dW")
        self.check_matrix(W_read, "reset_and_reprogram: W_read")
        return self._replace(
            tile.reset_and_reprogram(dW[rows, cols], W_read[rows, cols], t, key=k)
            for tile, rows, cols, k in self._grid(key)
        )

    def read_weights(self, t, *, key):
        W = jnp.zeros((self.rows, self.cols), jnp.float32)
        blocks = []
        for tile, rows, cols, k in self._grid(key):
            part, tile = tile.read_weights(t, key=k)
            W = W.at[rows, cols].set(part)
            blocks.append(tile)
        return W, self._replace(blocks)

    def true_weights(self):
        return self._assemble(lambda tile: tile.true_weights(), ())

    def programmed_conductances(self):
        first = self.blocks[0].programmed_conductances()
        if first is None:
            return None
        return self._assemble(lambda tile: tile.programmed_conductances(), first.shape[:2])

    def program_weights(self, W, t, *, key):
        self.check_matrix(W, "program_weights: W")
        return self._replace(
            tile.program_weights(W[rows, cols], t, key=k) for tile, rows, cols, k in self._grid(key)
        )

    def refresh(self, t, *, key):
        return self._replace(self._map_alike(lambda tile, k: tile.refresh(t, key=k), key))

    def with_drift_compensation(self, enabled: bool):
        return self._replace(tile.with_drift_compensation(enabled) for tile in self.blocks)

    def calibrate(self, t, *, key):
        return self._replace(tile.calibrate(t, key=k) for tile, _, _, k in self._grid(key))
