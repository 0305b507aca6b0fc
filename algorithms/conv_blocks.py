"""The digital parts of a multilayer SoftHebb block around its Hebbian convolution.

Journé et al., "Hebbian deep learning without feedback" (ICLR 2023), and the authors' code
(github.com/NeuromorphicComputing/SoftHebb, ``demo.py``): each block is
BatchNorm without affine parameters → Hebbian convolution → Triangle activation → pooling.
These run in the chip's digital periphery; only the convolution is on crossbar tiles.
All arrays are NHWC, so "over channels" is the last axis.
"""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax.numpy as jnp
from jax import lax

__all__ = [
    "BatchNormStats",
    "batch_norm_train",
    "batch_norm_eval",
    "triangle",
    "Pool2d",
    "PoolKind",
]

BN_EPS = 1e-5  # PyTorch's BatchNorm2d default, as in the paper's code
BN_MOMENTUM = 0.1  # weight of the newest batch in the running statistics (PyTorch default)

#: Max pooling, average pooling, or none.
PoolKind = Literal["max", "avg", "none"]


class BatchNormStats(eqx.Module):
    """Running per-channel mean and variance, used for inference."""

    mean: jnp.ndarray
    var: jnp.ndarray

    @classmethod
    def create(cls, channels: int) -> BatchNormStats:
        """Zero mean, unit variance: the identity until the first training batch."""
        return cls(jnp.zeros(channels, jnp.float32), jnp.ones(channels, jnp.float32))


def _normalise(x, mean, var):
    return (x - mean) * lax.rsqrt(var + BN_EPS)


def batch_norm_train(x, stats: BatchNormStats, momentum: float = BN_MOMENTUM):
    """Normalise ``x`` (batch, H, W, C) with its own per-channel statistics over (batch, H, W).

    Returns (y, stats): the running statistics move by ``momentum`` towards the batch's mean
    and unbiased variance (n / (n − 1) times the biased one used to normalise), as
    PyTorch's ``BatchNorm2d(affine=False)`` in training mode does.
    """
    n = x.shape[0] * x.shape[1] * x.shape[2]
    mean = jnp.mean(x, axis=(0, 1, 2))
    var = jnp.mean(jnp.square(x - mean), axis=(0, 1, 2))
    unbiased = var * (n / max(n - 1, 1))
    stats = BatchNormStats(
        (1 - momentum) * stats.mean + momentum * mean,
        (1 - momentum) * stats.var + momentum * unbiased,
    )
    return _normalise(x, mean, var), stats


def batch_norm_eval(x, stats: BatchNormStats):
    """Normalise ``x`` (…, C) with the running statistics (inference)."""
    return _normalise(x, stats.mean, stats.var)


def triangle(u, power: float):
    """ReLU(u − mean over channels of u) ** power, channels on the last axis.

    The power is taken as exp(power · log(v)) on the positive part: a float power is much
    slower on the CPU, and zero stays exactly zero.
    """
    v = u - jnp.mean(u, axis=-1, keepdims=True)
    if power == 1.0:
        return jnp.maximum(v, 0.0)
    positive = v > 0
    return jnp.where(positive, jnp.exp(power * jnp.log(jnp.where(positive, v, 1.0))), 0.0)


class Pool2d(eqx.Module):
    """Max or average pooling over (H, W) of NHWC arrays, or none.

    Sizes follow PyTorch (floor((n + 2p − k) / stride) + 1); max pooling pads with −inf,
    average pooling pads with zeros and divides by the full window (count_include_pad).
    """

    kind: PoolKind = eqx.field(static=True, default="none")
    size: int = eqx.field(static=True, default=1)
    stride: int = eqx.field(static=True, default=1)
    padding: int = eqx.field(static=True, default=0)

    def __check_init__(self):
        if self.kind not in ("max", "avg", "none"):
            raise ValueError(f"Pool2d: kind must be 'max', 'avg' or 'none', got {self.kind!r}")
        if self.size < 1 or self.stride < 1 or self.padding < 0:
            raise ValueError(
                f"Pool2d: size and stride must be ≥ 1 and padding ≥ 0, got size {self.size}, "
                f"stride {self.stride}, padding {self.padding}"
            )
        if 2 * self.padding > self.size:
            raise ValueError(
                f"Pool2d: padding {self.padding} must be at most half the window {self.size}"
            )

    def output_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """(height, width) after pooling an input of (height, width) ``size``."""
        if self.kind == "none":
            return tuple(size)
        out = tuple((n + 2 * self.padding - self.size) // self.stride + 1 for n in size)
        if min(out) < 1:
            raise ValueError(f"Pool2d: a {self.size}x{self.size} window does not fit {size}")
        return out

    def __call__(self, x):
        if self.kind == "none":
            return x
        window = (1, self.size, self.size, 1)
        strides = (1, self.stride, self.stride, 1)
        p = self.padding
        pads = ((0, 0), (p, p), (p, p), (0, 0))
        if self.kind == "max":
            return lax.reduce_window(x, -jnp.inf, lax.max, window, strides, pads)
        total = lax.reduce_window(x, 0.0, lax.add, window, strides, pads)
        return total / (self.size * self.size)
