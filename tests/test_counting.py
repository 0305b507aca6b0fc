"""Counting pulses and events through float32 (devices/counting.py): exact, and no slow
integer reduction left in the compiled program."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from memxbar.devices.counting import count_max, count_total

count_arrays = hnp.arrays(
    np.int32,
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=7),
    elements=st.integers(0, 2**12),  # a total below 2^24: exact
)


@settings(max_examples=60, deadline=None)
@given(count_arrays)
def test_counts_equal_numpy_exactly(counts):
    total = jax.jit(count_total)(counts)
    assert total.dtype == jnp.float32 and int(total) == int(np.sum(counts, dtype=np.int64))
    largest = jax.jit(count_max)(counts)
    assert largest.dtype == jnp.int32
    assert int(largest) == (int(counts.max()) if counts.size else 0)


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.bool_, hnp.array_shapes(min_dims=1, max_dims=3, max_side=9)))
def test_flags_are_counted(flags):
    assert int(jax.jit(count_total)(flags)) == int(np.count_nonzero(flags))


def test_counts_are_exact_up_to_the_end_of_float32_integers():
    # 2^24 - 1: every float32 partial sum on the way is an integer, and so is the total.
    counts = np.ones((4096, 4096), np.int32)
    counts[1234, 567] = 0
    assert int(count_total(counts)) == 2**24 - 1
    assert int(count_max(np.array([2**24 - 1, 3], np.int32))) == 2**24 - 1


def test_no_integer_reduce_window_is_left_in_the_compiled_counts():
    # XLA:CPU rewrites a long reduction into a 32-wide reduce-window, which it does not
    # vectorise for int32: 6x slower than float32 for the largest of 3.1 M pulse counts.
    counts = jnp.zeros((2, 300, 400), jnp.int32)

    def hlo(fn):
        return jax.jit(fn).lower(counts).compile().as_text()

    def integer_windows(text):  # over the counts themselves (their lines' sums may be)
        return re.findall(r"reduce-window\S* \(param\S+ s32\[2,300,400\]", text)

    assert integer_windows(hlo(lambda n: (jnp.max(n), jnp.sum(n))))  # the trap exists
    assert not integer_windows(hlo(lambda n: (count_max(n), count_total(n))))


def test_a_forward_read_counts_its_driven_lines_without_an_integer_reduce_window():
    # The DAC's driven lines (inputs that convert to a non-zero voltage) of every MVM.
    from memxbar.crossbar import PCMTile, load_chip

    tile = PCMTile.create(
        load_chip("pcm_256"), key=jax.random.key(0), rows=100, cols=40, weights=jnp.zeros((100, 40))
    )
    x = jnp.ones((8, 100)).at[:, ::3].set(0.0)

    def read(tile, x):
        y, tile = tile.mvm(x, 1.0, key=jax.random.key(1))
        return y, tile.ledger

    text = jax.jit(read).lower(tile, x).compile().as_text()
    assert not re.findall(r"reduce-window\S* \(param\S+ s32\[", text)
    _, ledger = read(tile, x)
    driven = ledger.count("dac_conversions") - tile.ledger.count("dac_conversions")
    # 34 of the 100 lines are at 0 V; the drift-compensation reference read (the tile is
    # calibrated when programmed) drives all 100 rows once.
    assert int(driven) == 8 * 66 + 100
