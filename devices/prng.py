"""Key derivation: ``jax.random.split`` and ``fold_in``, bit for bit, in one fused kernel.

On CPU, JAX lowers its Threefry-2x32 primitive as a rolled loop of 5 iterations
(``use_rolled_loops`` for the 'cpu' platform in ``jax/_src/random/threefry2x32.py``, which keeps
compile time down for large arrays). A key derivation ciphers one or a few counters, and there
the loop is all overhead: some 160 small kernels per call under ``vmap`` on XLA:CPU. The
spiking engine derives keys every window and every tile operation splits its key, so inside a
scan of thousands of windows these loops were most of the kernels a window launched
(benchmarks/README.md, "Key derivation"). The same cipher written in jnp
(:func:`memxbar.devices.random.threefry2x32`) fuses into one kernel.

For Threefry keys under JAX's default layout (``jax_threefry_partitionable``, the default since
JAX 0.5) the keys are those of ``jax.random``: key i of ``split(key, n)`` ciphers the counter
(0, i) and ``fold_in(key, d)`` the counter (0, d) (tested against ``jax.random`` in
tests/test_prng.py). Any other key implementation, the legacy layout or a batch of keys goes
to ``jax.random`` itself, so every call means what it means there.

Being plain arithmetic, a derived key could be fused into, and ciphered again by, every
kernel that consumes it; the package's samplers take their key through
:func:`memxbar.devices.random.key_words`, which has XLA compute it once.
"""

from __future__ import annotations

import math
import operator

import jax
import jax.numpy as jnp

from .random import threefry2x32

__all__ = ["fold_in", "split"]

_THREEFRY = "threefry2x32"


def _threefry_words(key):
    """(typed, k0, k1) of a single Threefry key this module ciphers itself, else None."""
    if not isinstance(key, jax.Array):
        key = jnp.asarray(key)
    typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    if typed:
        if key.shape != () or str(jax.random.key_impl(key)) != _THREEFRY:
            return None
        words = jax.random.key_data(key)
    else:
        if key.shape != (2,) or key.dtype != jnp.uint32:
            return None
        if jax.config.jax_default_prng_impl != _THREEFRY:
            return None
        words = key
    if not jax.config.jax_threefry_partitionable:
        return None
    return typed, words[0], words[1]


def _keys_of(key, typed: bool, a, b):
    words = jnp.stack([a, b], axis=-1)
    return jax.random.wrap_key_data(words, impl=_THREEFRY) if typed else words


def _shape(num) -> tuple[int, ...]:
    try:
        shape = tuple(map(operator.index, num if isinstance(num, tuple | list) else (num,)))
    except TypeError:
        shape = None
    if shape is None or any(d < 0 for d in shape):
        raise ValueError(f"split: num must be a count or a shape of counts >= 0, got {num!r}")
    return shape


def split(key, num: int | tuple[int, ...] = 2):
    """``jax.random.split(key, num)``: ``num`` (an int or a shape) new keys from ``key``."""
    shape = _shape(num)
    words = _threefry_words(key)
    count = math.prod(shape)
    if words is None or count >= 2**32:
        return jax.random.split(key, num)
    typed, k0, k1 = words
    index = jnp.arange(count, dtype=jnp.uint32).reshape(shape)
    a, b = threefry2x32(k0, k1, jnp.zeros_like(index), index)
    return _keys_of(key, typed, a, b)


def fold_in(key, data):
    """``jax.random.fold_in(key, data)``: a new key from ``key`` and a scalar integer ``data``
    (taken modulo 2^32, as JAX does)."""
    words = _threefry_words(key)
    data = jnp.asarray(data, dtype=jnp.uint32)
    if words is None or data.shape != ():
        return jax.random.fold_in(key, data)
    typed, k0, k1 = words
    a, b = threefry2x32(k0, k1, jnp.zeros_like(data), data)
    return _keys_of(key, typed, a, b)
