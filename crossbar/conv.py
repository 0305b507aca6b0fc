"""A 2-D convolution on any tile, by im2col: one shared weight matrix, one MVM per position.

Layout. Images are NHWC (batch, height, width, channels). A kernel of shape
(kh, kw, in_channels, out_channels) (HWIO) is stored on a tile as the matrix
``W = kernel.reshape(kh * kw * in_channels, out_channels)``: tile row
``(i * kw + j) * in_channels + c`` holds kernel tap (i, j) of input channel c, i.e. the
(kh, kw, in_channels) axes row-major, and each column is one output channel. The patch of an
output position is flattened in the same order, so the output at that position is one
``tile.mvm`` of its patch. Every output position of every image is one row of a single batched
MVM: the weights are shared, the tile is read once per position, and the ledger books one
input vector per position, as a chip streaming the patches through one crossbar would.

Padding is zero padding, or ``reflect`` (mirror without repeating the edge, as PyTorch's
``padding_mode='reflect'`` that SoftHebb's convolutions use: Journé et al., ICLR 2023).
"""

from __future__ import annotations

import typing
from typing import Literal

import equinox as eqx
import jax.numpy as jnp
from jax import lax

from .tile import AbstractTile

__all__ = ["ConvGeometry", "PADDING_MODES", "PaddingMode", "kernel_to_matrix", "matrix_to_kernel"]

#: How a convolution pads its input.
PaddingMode = Literal["zeros", "reflect"]
PADDING_MODES = typing.get_args(PaddingMode)


def kernel_to_matrix(kernel):
    """The tile matrix (kh·kw·in_channels, out_channels) of an HWIO kernel."""
    kernel = jnp.asarray(kernel)
    if kernel.ndim != 4:
        raise ValueError(f"kernel must be (kh, kw, in_channels, out_channels), got {kernel.shape}")
    kh, kw, c_in, c_out = kernel.shape
    return kernel.reshape(kh * kw * c_in, c_out)


def matrix_to_kernel(W, kernel_size: tuple[int, int], in_channels: int):
    """The HWIO kernel (kh, kw, in_channels, out_channels) stored in tile matrix ``W``."""
    W = jnp.asarray(W)
    kh, kw = kernel_size
    if W.ndim != 2 or W.shape[0] != kh * kw * in_channels:
        raise ValueError(
            f"W must be ({kh * kw * in_channels}, out_channels) for a {kh}x{kw} kernel over "
            f"{in_channels} channels, got {W.shape}"
        )
    return W.reshape(kh, kw, in_channels, W.shape[1])


class ConvGeometry(eqx.Module):
    """The shape bookkeeping of one convolution: patches in, output positions out.

    Errors are raised at construction: a kernel larger than the padded input, a padding the
    mode cannot produce, a non-positive size.
    """

    input_size: tuple[int, int] = eqx.field(static=True)
    in_channels: int = eqx.field(static=True)
    kernel_size: tuple[int, int] = eqx.field(static=True)
    stride: int = eqx.field(static=True, default=1)
    padding: int = eqx.field(static=True, default=0)
    padding_mode: PaddingMode = eqx.field(static=True, default="zeros")

    def __check_init__(self):
        for name, pair in (("input_size", self.input_size), ("kernel_size", self.kernel_size)):
            if len(pair) != 2 or any(int(v) != v or v < 1 for v in pair):
                raise ValueError(f"ConvGeometry: {name} must be two integers ≥ 1, got {pair}")
        if self.in_channels < 1 or self.stride < 1 or self.padding < 0:
            raise ValueError(
                "ConvGeometry: in_channels and stride must be ≥ 1 and padding ≥ 0, got "
                f"{self.in_channels}, {self.stride}, {self.padding}"
            )
        if self.padding_mode not in PADDING_MODES:
            raise ValueError(
                f"ConvGeometry: padding_mode must be one of {PADDING_MODES}, "
                f"got {self.padding_mode!r}"
            )
        h, w = self.input_size
        if self.padding_mode == "reflect" and self.padding >= min(h, w):
            raise ValueError(
                f"ConvGeometry: reflect padding {self.padding} needs an input larger than the "
                f"padding, got {h}x{w}"
            )
        (kh, kw), p = self.kernel_size, self.padding
        if kh > h + 2 * p or kw > w + 2 * p:
            raise ValueError(
                f"ConvGeometry: kernel {kh}x{kw} is larger than the padded input "
                f"{h + 2 * p}x{w + 2 * p}"
            )

    @classmethod
    def from_layer(cls, layer, padding_mode: str = "zeros") -> ConvGeometry:
        """The geometry of a compiler ``Conv2d`` layer."""
        return cls(
            input_size=tuple(layer.input_size),
            in_channels=layer.in_channels,
            kernel_size=tuple(layer.kernel_size),
            stride=layer.stride,
            padding=layer.padding,
            padding_mode=padding_mode,
        )

    @property
    def rows(self) -> int:
        """Tile rows: kh · kw · in_channels."""
        kh, kw = self.kernel_size
        return kh * kw * self.in_channels

    @property
    def output_size(self) -> tuple[int, int]:
        """(height, width) of the output: floor((n + 2p − k) / stride) + 1 per axis."""
        (h, w), (kh, kw), p, s = self.input_size, self.kernel_size, self.padding, self.stride
        return ((h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1)

    def check_images(self, x):
        """Raise a clear error when ``x`` is not (batch, H, W, in_channels) of this geometry."""
        want = (*self.input_size, self.in_channels)
        if jnp.ndim(x) != 4 or tuple(jnp.shape(x)[1:]) != want:
            raise ValueError(
                f"ConvGeometry: images must be (batch, {want[0]}, {want[1]}, {want[2]}) NHWC, "
                f"got shape {jnp.shape(x)}"
            )

    def patches(self, x):
        """The im2col patches (batch, out_h, out_w, kh·kw·in_channels) of NHWC images ``x``.

        The last axis is ordered (kh, kw, in_channels) row-major, as the tile rows are.
        """
        self.check_images(x)
        p = self.padding
        if p:
            mode = "constant" if self.padding_mode == "zeros" else "reflect"
            x = jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), mode=mode)
        (kh, kw), s = self.kernel_size, self.stride
        (oh, ow), n, c = self.output_size, x.shape[0], self.in_channels
        # One strided slice per kernel tap: kh·kw cheap copies instead of a gather.
        taps = [
            lax.slice(
                x, (0, i, j, 0), (n, i + (oh - 1) * s + 1, j + (ow - 1) * s + 1, c), (1, s, s, 1)
            )
            for i in range(kh)
            for j in range(kw)
        ]
        return jnp.stack(taps, axis=3).reshape(n, oh, ow, kh * kw * c)

    def mvm(self, tile: AbstractTile, x, t, *, key):
        """The convolution of NHWC images ``x`` with the kernel on ``tile`` at chip time t (s).

        Returns (y (batch, out_h, out_w, out_channels), tile): one MVM row per output position.
        """
        if tile.rows != self.rows:
            raise ValueError(
                f"ConvGeometry.mvm: the tile has {tile.rows} rows, the kernel needs {self.rows} "
                f"({self.kernel_size[0]}x{self.kernel_size[1]}x{self.in_channels})"
            )
        return tile.mvm(self.patches(x), t, key=key)
