"""The im2col mapping of a convolution onto a tile (crossbar/conv.py) is exact."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import FAST_COMPILE

from memxbar.compiler.network import Conv2d
from memxbar.crossbar import IdealTile
from memxbar.crossbar.conv import ConvGeometry, kernel_to_matrix, matrix_to_kernel


def _reference(x, kernel, stride, padding, mode="zeros"):
    if mode == "reflect":
        x = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)), mode="reflect")
        padding = 0
    return jax.lax.conv_general_dilated(
        x,
        kernel,
        (stride, stride),
        [(padding, padding), (padding, padding)],
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )


@st.composite
def conv_cases(draw):
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    padding = draw(st.integers(0, 2))
    h = draw(st.integers(max(kh - 2 * padding, 1), 9))
    w = draw(st.integers(max(kw - 2 * padding, 1), 9))
    mode = draw(st.sampled_from(["zeros", "reflect"])) if padding < min(h, w) else "zeros"
    return dict(
        batch=draw(st.integers(1, 3)),
        size=(h, w),
        c_in=draw(st.integers(1, 4)),
        c_out=draw(st.integers(1, 5)),
        kernel=(kh, kw),
        stride=draw(st.integers(1, 3)),
        padding=padding,
        mode=mode,
        seed=draw(st.integers(0, 2**16)),
    )


@settings(max_examples=25, deadline=None)
@given(conv_cases())
def test_ideal_tile_conv_equals_lax_conv(case):
    """Any kernel, stride, padding (zeros or reflect) and channel counts, float32 tolerance."""
    rng = np.random.default_rng(case["seed"])  # numpy: no compilation per new shape
    (h, w), (kh, kw) = case["size"], case["kernel"]
    x = rng.standard_normal((case["batch"], h, w, case["c_in"]), np.float32)
    kernel = rng.standard_normal((kh, kw, case["c_in"], case["c_out"]), np.float32)
    geometry = ConvGeometry(
        input_size=(h, w),
        in_channels=case["c_in"],
        kernel_size=(kh, kw),
        stride=case["stride"],
        padding=case["padding"],
        padding_mode=case["mode"],
    )

    def both(x, kernel):
        tile = IdealTile.create(geometry.rows, case["c_out"], weights=kernel_to_matrix(kernel))
        y, tile = geometry.mvm(tile, x, 0.0, key=None)
        ref = _reference(x, kernel, case["stride"], case["padding"], case["mode"])
        return y, ref, tile.ledger.count("mvm_vectors")

    # One compilation per example (every example has new shapes), without XLA's optimisations.
    y, ref, vectors = jax.jit(both, compiler_options=FAST_COMPILE)(x, kernel)
    assert y.shape == ref.shape == (case["batch"], *geometry.output_size, case["c_out"])
    # Sums of kh·kw·c_in products of unit normals: float32 rounding ~1e-7 · sqrt(terms) · |x|.
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5 * np.sqrt(geometry.rows))
    # Weight sharing: one MVM input vector per output position of every image.
    assert float(vectors) == case["batch"] * np.prod(y.shape[1:3])


def test_tile_rows_are_kernel_taps_row_major():
    """Row (i·kw + j)·C + c of the tile is tap (i, j) of channel c: a one-hot kernel shifts."""
    kh, kw, c = 3, 2, 4
    geometry = ConvGeometry(input_size=(6, 5), in_channels=c, kernel_size=(kh, kw))
    x = np.random.default_rng(1).standard_normal((2, 6, 5, c), np.float32)
    conv = jax.jit(
        lambda W: geometry.mvm(IdealTile.create(geometry.rows, 1, weights=W), x, 0.0, key=None)[0],
        compiler_options=FAST_COMPILE,
    )
    for i, j, ch in [(0, 0, 0), (2, 1, 3), (1, 0, 2)]:
        W = np.zeros((geometry.rows, 1), np.float32)
        W[(i * kw + j) * c + ch, 0] = 1.0
        y = conv(W)
        oh, ow = geometry.output_size
        np.testing.assert_array_equal(y[..., 0], x[:, i : i + oh, j : j + ow, ch])
        kernel = matrix_to_kernel(W, (kh, kw), c)
        assert kernel[i, j, ch, 0] == 1.0 and float(jnp.sum(kernel)) == 1.0
        np.testing.assert_array_equal(kernel_to_matrix(kernel), W)


def test_geometry_agrees_with_the_compiler_layer():
    layer = Conv2d(
        name="c", in_channels=3, out_channels=8, kernel_size=(5, 3), stride=2, padding=1,
        input_size=(17, 12),
    )  # fmt: skip
    geometry = ConvGeometry.from_layer(layer)
    assert (geometry.rows, 8) == layer.matrices()["weight"]
    assert geometry.output_size == layer.output_size()
    assert layer.mvms_per_inference()["weight"] == np.prod(geometry.output_size)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(kernel_size=(7, 3)), "larger than the padded input"),
        (dict(padding=6, padding_mode="reflect"), "reflect padding 6"),
        (dict(padding_mode="circular"), "padding_mode must be one of"),
        (dict(stride=0), "stride must be ≥ 1"),
        (dict(input_size=(0, 6)), "input_size must be two integers"),
    ],
)
def test_bad_geometry_is_rejected_at_construction(kwargs, match):
    base = dict(input_size=(6, 6), in_channels=1, kernel_size=(3, 3))
    with pytest.raises(ValueError, match=match):
        ConvGeometry(**(base | kwargs))


def test_wrong_images_or_tile_raise_clear_errors():
    geometry = ConvGeometry(input_size=(6, 6), in_channels=2, kernel_size=(3, 3))
    with pytest.raises(ValueError, match=r"images must be \(batch, 6, 6, 2\) NHWC"):
        geometry.patches(jnp.zeros((1, 6, 6, 3)))
    with pytest.raises(ValueError, match="the tile has 17 rows, the kernel needs 18"):
        geometry.mvm(IdealTile.create(17, 3), jnp.zeros((1, 6, 6, 2)), 0.0, key=None)
    with pytest.raises(ValueError, match=r"W must be \(18, out_channels\)"):
        matrix_to_kernel(jnp.zeros((17, 3)), (3, 3), 2)
