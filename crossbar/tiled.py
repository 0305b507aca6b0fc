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

from ..devices import prng
from .ledger import EnergyLedger
from .tile import AbstractTile

__all__ = ["TiledMatrix", "block_edges"]


def block_edges(size: int, block: int) -> tuple[int, ...]:
    """Edges (0, ..., size) of a split of ``size`` into k = ceil(size / block) parts of at most
    ``block``, balanced: the parts differ in size by at most one (the larger ones last).

    784 rows on 256-row tiles are cut 196/196/196/196 rather than 256/256/256/16: the same
    4 tiles, but the blocks are alike, so a tiled matrix stacks them into one group and runs
    (and compiles) one program for all of them instead of one per block shape, and no column
    carries more rows than it must (less IR drop).
    """
    if size < 1 or block < 1:
        raise ValueError(f"block_edges: size and block must be ≥ 1, got {size}, {block}")
    parts = -(-size // block)
    small, larger = divmod(size, parts)
    sizes = [small] * (parts - larger) + [small + 1] * larger
    return (0, *itertools.accumulate(sizes))


def _stack(tiles):
    """The group of ``tiles`` (alike): one tile whose array leaves stack theirs on a new
    leading axis (other leaves, settings equal in all, are the first tile's); a lone tile is
    its own group, unstacked, so that it runs exactly as it does outside a tiled matrix."""
    if len(tiles) == 1:
        return tiles[0]
    group = jax.tree.map(lambda *a: jnp.stack(a) if eqx.is_array(a[0]) else a[0], *tiles)
    # Fields that every operation advances alike in all blocks (PCMTile's arbiter) stay one
    # 0-d value, shared by the group: a batched index would turn each selection by it into a
    # gather and a scatter of every device array.
    for name in getattr(type(tiles[0]), "lockstep_fields", ()):
        values = [getattr(tile, name) for tile in tiles]
        if not any(isinstance(v, jax.core.Tracer) for v in values) and all(
            bool(jnp.all(v == values[0])) for v in values[1:]
        ):
            group = eqx.tree_at(lambda g, name=name: getattr(g, name), group, values[0])
    return group


def _stacked(leaf) -> bool:
    """Whether a leaf of a stacked group has the group axis. Its per-tile arrays all do (a
    tile's scalars become vectors); a 0-d array is a setting shared by the group (a Python
    float of the tiles, traced by ``jax.jit``)."""
    return eqx.is_array(leaf) and jnp.ndim(leaf) > 0


def _member(group, i: int, size: int):
    """Tile ``i`` of a group of ``size`` tiles."""
    if size == 1:
        return group
    return jax.tree.map(lambda a: a[i] if _stacked(a) else a, group)


def _axes(group):
    """``vmap`` axes of a stacked group's leaves: 0 for stacked ones, None for shared ones."""
    return jax.tree.map(lambda a: 0 if _stacked(a) else None, group)


def _compiled_if_eager(fn, group):
    """``fn`` jitted when called outside any JAX transformation (``group`` holds no tracer):
    a job's initial programming would otherwise run the tile operations op by op (20 s for the
    32 tiles of a 784 × 2000 layer). Inside a jitted program ``fn`` is left as it is, so the
    program is the same as without tiling code in between."""
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(group)):
        return fn
    return eqx.filter_jit(fn)


def _alike_groups(blocks) -> tuple[tuple[int, ...], ...]:
    """The block indices in groups that one vmapped call can run: equal kind, shape and
    non-array fields (settings), in order of first appearance."""
    groups: dict = {}
    for n, tile in enumerate(blocks):
        arrays, static = eqx.partition(tile, eqx.is_array)
        leaves, treedef = jax.tree.flatten(static)
        shapes = tuple(jnp.shape(a) for a in jax.tree.leaves(arrays))
        groups.setdefault((treedef, tuple(map(repr, leaves)), shapes), []).append(n)
    return tuple(tuple(members) for members in groups.values())


class TiledMatrix(AbstractTile):
    """A grid of tiles acting as one (rows, cols) weight matrix.

    Block ``n`` (row-major: ``i, j = divmod(n, len(col_edges) - 1)``) holds rows
    ``row_edges[i]:row_edges[i+1]`` and columns ``col_edges[j]:col_edges[j+1]``.

    Blocks of equal kind, shape and settings are stored stacked (``groups``, one tile per
    group with a leading axis over its ``members``; a lone block is its own group, unstacked)
    and every operation runs on a group as one ``eqx.filter_vmap`` call. The compiled
    program then holds one copy of each tile operation per block shape instead of one per
    block: a 784 × 2000 layer on 256 × 256
    tiles is 32 blocks but 4 shapes, and XLA's compile time grows with the copies
    (benchmarks/README.md). Each block draws from its own key (``prng.split(key, n)``
    over the blocks), so a block's result is the same as when it runs alone, up to float
    rounding of the vmapped arithmetic. ``blocks`` gives the tiles one by one.
    """

    groups: tuple[AbstractTile, ...]
    members: tuple[tuple[int, ...], ...] = eqx.field(static=True)
    row_edges: tuple[int, ...] = eqx.field(static=True)
    col_edges: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, blocks, row_edges, col_edges):
        blocks = tuple(blocks)
        self.row_edges = tuple(row_edges)
        self.col_edges = tuple(col_edges)
        self._check_blocks(blocks)
        self.members = _alike_groups(blocks)
        self.groups = tuple(_stack([blocks[n] for n in group]) for group in self.members)

    def _check_blocks(self, blocks):
        n_r, n_c = len(self.row_edges) - 1, len(self.col_edges) - 1
        if len(blocks) != n_r * n_c:
            raise ValueError(f"TiledMatrix: expected {n_r}×{n_c} blocks, got {len(blocks)}")
        kinds = sorted({type(tile).__name__ for tile in blocks})
        if len(kinds) > 1:
            raise ValueError(f"TiledMatrix: blocks must be of one kind, got {' and '.join(kinds)}")
        for n, tile in enumerate(blocks):
            rows, cols = self._slices(n)
            want = (rows.stop - rows.start, cols.stop - cols.start)
            if (tile.rows, tile.cols) != want:
                i, j = divmod(n, n_c)
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
        return cls(blocks, row_edges, col_edges)

    @property
    def rows(self) -> int:
        return self.row_edges[-1]

    @property
    def cols(self) -> int:
        return self.col_edges[-1]

    @property
    def n_blocks(self) -> int:
        return (len(self.row_edges) - 1) * (len(self.col_edges) - 1)

    @property
    def blocks(self) -> tuple[AbstractTile, ...]:
        """The tiles, block by block (row-major); slices of the stacked groups."""
        out = [None] * self.n_blocks
        for group, members in zip(self.groups, self.members, strict=True):
            for i, n in enumerate(members):
                out[n] = _member(group, i, len(members))
        return tuple(out)

    @property
    def refreshes(self) -> bool:
        return any(group.refreshes for group in self.groups)

    @property
    def ledger(self) -> EnergyLedger:
        """The sum of the blocks' ledgers (added in block order)."""
        ledgers = [None] * self.n_blocks
        for group, members in zip(self.groups, self.members, strict=True):
            for i, n in enumerate(members):
                ledgers[n] = _member(group.ledger, i, len(members))
        total = ledgers[0]
        for ledger in ledgers[1:]:
            total = total + ledger
        return total

    @property
    def dw_pulse(self):
        """Each block's pulse step at its synapses, (rows, cols); None for exact blocks."""
        if self.groups[0].dw_pulse is None:
            return None
        return self._assemble(lambda tile: tile.dw_pulse, ())

    def _slices(self, n: int) -> tuple[slice, slice]:
        """(row slice, col slice) of block ``n``."""
        i, j = divmod(n, len(self.col_edges) - 1)
        return (
            slice(self.row_edges[i], self.row_edges[i + 1]),
            slice(self.col_edges[j], self.col_edges[j + 1]),
        )

    def _run(self, fn, key=None, args=None, *, writes: bool = True):
        """``fn(tile, key, *args(n)) -> (output, new tile or None)`` of every block n, run
        group by group (one vmapped call per group of two or more alike blocks; a lone block
        runs as itself). Keys: one per block, split from ``key`` (a fixed key when None).

        ``writes``: fn gives new tiles (else None, and the matrix is returned as it is).
        Returns (outputs in block order, the matrix with the new tiles).
        """
        keys = prng.split(jax.random.key(0) if key is None else key, self.n_blocks)
        outputs = [None] * self.n_blocks
        groups = []
        for group, members in zip(self.groups, self.members, strict=True):
            block_args = [() if args is None else tuple(args(n)) for n in members]
            if len(members) == 1:
                lone = _compiled_if_eager(fn, group)
                out, tile = lone(group, keys[members[0]], *block_args[0])
                outs = [out]
                new_group = tile
            else:
                stacked_args = [jnp.stack(a) for a in zip(*block_args, strict=True)]
                axes = _axes(group)
                vmapped = _compiled_if_eager(
                    eqx.filter_vmap(
                        fn,
                        in_axes=(axes, 0, *[0] * len(stacked_args)),
                        out_axes=(eqx.if_array(0), axes if writes else None),
                    ),
                    group,
                )
                out, new_group = vmapped(group, keys[jnp.asarray(members)], *stacked_args)
                outs = [None if out is None else out[i] for i in range(len(members))]
            for n, o in zip(members, outs, strict=True):
                outputs[n] = o
            groups.append(new_group)
        if not writes:
            return outputs, self
        return outputs, eqx.tree_at(lambda s: s.groups, self, tuple(groups))

    def _assemble(self, part, lead: tuple[int, ...]):
        """The (*lead, rows, cols) array whose block of every tile is ``part(tile)``."""
        parts, _ = self._run(
            lambda tile, _k: (jnp.asarray(part(tile), jnp.float32), None), writes=False
        )
        out = jnp.zeros((*lead, self.rows, self.cols), jnp.float32)
        for n, value in enumerate(parts):
            rows, cols = self._slices(n)
            out = out.at[..., rows, cols].set(value)
        return out

    def _read(self, inputs, t, key, transpose: bool):
        """Each block reads its slice of the inputs; partial sums are added digitally."""
        n_in, n_out = (self.cols, self.rows) if transpose else (self.rows, self.cols)
        self.check_input(inputs, n_in, "y" if transpose else "x")

        def in_out(n):
            rows, cols = self._slices(n)
            return (cols, rows) if transpose else (rows, cols)

        def read(tile, k, x):
            return (tile.mvm_t if transpose else tile.mvm)(x, t, key=k)

        parts, tiled = self._run(read, key, lambda n: (inputs[..., in_out(n)[0]],))
        out = jnp.zeros((*jnp.shape(inputs)[:-1], n_out), jnp.float32)
        for n, part in enumerate(parts):
            out = out.at[..., in_out(n)[1]].add(part)
        return out, tiled

    def mvm(self, x, t, *, key):
        return self._read(x, t, key, transpose=False)

    def mvm_t(self, y, t, *, key):
        return self._read(y, t, key, transpose=True)

    def _write(self, fn, key, args=None):
        """This matrix after ``fn(tile, key, *args(n))`` (a new tile) of every block n."""
        return self._run(lambda tile, k, *a: (None, fn(tile, k, *a)), key, args)[1]

    def _block_of(self, *matrices):
        """args(n): the block-n parts of (rows, cols) ``matrices``."""
        return lambda n: tuple(m[self._slices(n)] for m in matrices)

    def update(self, dW, t, *, key):
        self.check_matrix(dW, "update: dW")
        return self._write(lambda tile, k, d: tile.update(d, t, key=k), key, self._block_of(dW))

    def update_outer(self, x, d, t, *, key, scale=1.0):
        self.check_outer(x, d)

        def factors(n):
            rows, cols = self._slices(n)
            return x[..., rows], d[..., cols]

        return self._write(
            lambda tile, k, xb, db: tile.update_outer(xb, db, t, key=k, scale=scale), key, factors
        )

    def reset_and_reprogram(self, dW, W_read, t, *, key):
        """Block by block: every block RESETs and re-programs its own lowered synapses."""
        self.check_matrix(dW, "reset_and_reprogram: dW")
        self.check_matrix(W_read, "reset_and_reprogram: W_read")
        return self._write(
            lambda tile, k, d, w: tile.reset_and_reprogram(d, w, t, key=k),
            key,
            self._block_of(dW, W_read),
        )

    def read_weights(self, t, *, key):
        parts, tiled = self._run(lambda tile, k: tile.read_weights(t, key=k), key)
        W = jnp.zeros((self.rows, self.cols), jnp.float32)
        for n, part in enumerate(parts):
            W = W.at[self._slices(n)].set(part)
        return W, tiled

    def true_weights(self):
        return self._assemble(lambda tile: tile.true_weights(), ())

    def programmed_conductances(self):
        first = _member(self.groups[0], 0, len(self.members[0])).programmed_conductances()
        if first is None:
            return None
        return self._assemble(lambda tile: tile.programmed_conductances(), first.shape[:2])

    def program_weights(self, W, t, *, key):
        self.check_matrix(W, "program_weights: W")
        return self._write(
            lambda tile, k, w: tile.program_weights(w, t, key=k), key, self._block_of(W)
        )

    def refresh(self, t, *, key):
        return self._write(lambda tile, k: tile.refresh(t, key=k), key)

    def with_drift_compensation(self, enabled: bool):
        return eqx.tree_at(
            lambda s: s.groups,
            self,
            tuple(group.with_drift_compensation(enabled) for group in self.groups),
        )

    def calibrate(self, t, *, key):
        return self._write(lambda tile, k: tile.calibrate(t, key=k), key)
