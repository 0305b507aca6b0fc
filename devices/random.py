"""The package's random numbers: Threefry-2x32 in jnp, Gaussian and uniform samples.

Every generator of the package draws from here: device noise (Gaussians), spike trains
(uniforms, :func:`uniform24`) and the latent events of the weather workload (the cipher on
its own counters, with :func:`key_words` and :func:`unit_uniform`).

Random numbers, not arithmetic, set the cost of a noisy read (benchmarks/devices.py). JAX's
``random.normal`` spends one 32-bit threefry word per sample, and ``random.bits`` is slow on
CPU in JAX ≥ 0.5 (its partitionable threefry layout). :func:`normal16` runs the same cipher,
Threefry-2x32 with 20 rounds (Salmon et al., SC 2011; the generator behind ``jax.random``),
written in jnp so XLA fuses it with its consumer, and spends 16 bits per sample: each
half-word is a uniform on a grid of 2^16 points mapped through the inverse error function.
The samples are exactly Gaussian at that resolution: probabilities are right to 2^-16 and the
tails end at ±4.3 σ (a 1-in-60,000 event), far below what device noise statistics resolve.
About 2.5× faster than ``random.normal`` on a 2-core CPU (benchmarks/devices.py).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

__all__ = [
    "computed_once",
    "erf_inv",
    "key_words",
    "normal16",
    "normal_elementwise",
    "normal_pair_elementwise",
    "threefry2x32",
    "uniform24",
    "uniform_elementwise",
    "unit_uniform",
]

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))

# The single-precision inverse error function of M. Giles, "Approximating the erfinv
# function", GPU Computing Gems Jade Edition (2011): polynomials in w = -ln(1 - x^2), central
# (w < 5, in w - 2.5) and tail (in sqrt(w) - 3), highest power first.
_ERFINV_CENTRAL = (
    2.81022636e-08,
    3.43273939e-07,
    -3.5233877e-06,
    -4.39150654e-06,
    0.00021858087,
    -0.00125372503,
    -0.00417768164,
    0.246640727,
    1.50140941,
)
_ERFINV_TAIL = (
    -0.000200214257,
    0.000100950558,
    0.00134934322,
    -0.00367342844,
    0.00573950773,
    -0.0076224613,
    0.00943887047,
    1.00167406,
    2.83297682,
)
_PARITY = 0x1BD11BDA
_HALF = 1 << 16


def _rotl(x, r: int):
    return (x << jnp.uint32(r)) | (x >> jnp.uint32(32 - r))


def threefry2x32(k0, k1, x0, x1):
    """The Threefry-2x32 block cipher, 20 rounds, on uint32 arrays; returns two uint32 words."""
    ks = (k0, k1, k0 ^ k1 ^ jnp.uint32(_PARITY))
    x0, x1 = x0 + k0, x1 + k1
    for r in range(20):
        x0 = x0 + x1
        x1 = _rotl(x1, _ROTATIONS[(r // 4) % 2][r % 4]) ^ x0
        if r % 4 == 3:
            s = r // 4 + 1
            x0 = x0 + ks[s % 3]
            x1 = x1 + ks[(s + 1) % 3] + jnp.uint32(s)
    return x0, x1


def _horner(coefficients, w):
    p = coefficients[0]
    for c in coefficients[1:]:
        p = c + p * w
    return p


def erf_inv(x):
    """The inverse error function of float32 ``x`` in (-1, 1), Giles's approximation.

    The same polynomials as ``jax.lax.erf_inv``, with w = -ln((1 - x)(1 + x)) instead of
    -log1p(-x^2): on the samplers' grids 1 ± x are exact, so the tails come out more
    accurate (max error 5.5e-7 against float64 over all 2^23 points of
    :func:`normal_elementwise`'s grid, where ``lax.erf_inv`` errs by 1.5e-5), and XLA:CPU's
    log is ~8x faster than its log1p (a Gaussian ~20 % cheaper; benchmarks/README.md).
    """
    w = -jnp.log((1.0 - x) * (1.0 + x))
    central = _horner(_ERFINV_CENTRAL, w - 2.5)
    tail = _horner(_ERFINV_TAIL, jnp.sqrt(w) - 3.0)
    return jnp.where(w < 5.0, central, tail) * x


def key_words(key):
    """The two uint32 words of the cipher key of ``key`` (a typed PRNG key or raw key data).

    Both words are divided by a 1 that XLA cannot see is 1. The key usually comes from
    :mod:`.prng`, whose key derivation is plain arithmetic, and XLA duplicates cheap producers
    into their consumers: a sampler's elementwise kernel would cipher its key again for every
    sample (spiking net B on PCM ran 4.7x as long). An integer division by a non-constant
    counts as expensive, so XLA computes it, and the derivation before it, once.
    ``lax.optimization_barrier`` does not do this on CPU (it is gone before fusion).
    """
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    words = jnp.ravel(key).astype(jnp.uint32)
    one = (words[0] | jnp.uint32(1)) // (words[0] | jnp.uint32(1))
    return words[0] // one, words[1] // one


def unit_uniform(bits):
    """Uniforms in [0, 1) on a grid of 2^-24 (float32-exact) from uint32 cipher words."""
    return (bits >> 8).astype(jnp.float32) * (1.0 / (1 << 24))


def normal16(key, shape, dtype=jnp.float32):
    """Standard normal samples of ``shape``, four per cipher call (16 random bits each)."""
    shape = tuple(shape)
    n = math.prod(shape)
    if n == 0:
        return jnp.zeros(shape, dtype)
    k0, k1 = key_words(key)
    blocks = (n + 3) // 4
    counter = jnp.arange(blocks, dtype=jnp.uint32)
    a, b = threefry2x32(k0, k1, counter, jnp.zeros_like(counter))
    halves = jnp.concatenate([a >> 16, a & (_HALF - 1), b >> 16, b & (_HALF - 1)])[:n]
    u = (halves.astype(jnp.float32) + 0.5) * (2.0 / _HALF) - 1.0  # uniform in (-1, 1)
    return (math.sqrt(2.0) * erf_inv(u)).astype(dtype).reshape(shape)


def _elementwise_word_pair(key, shape):
    """Two 32-bit cipher words per element of ``shape`` (one cipher call), functions of the
    key and the element's row-major flat index only."""
    k0, k1 = key_words(key)
    index = jnp.zeros(shape, jnp.uint32)
    stride = 1
    for axis in reversed(range(len(shape))):
        index = index + jax.lax.broadcasted_iota(jnp.uint32, shape, axis) * jnp.uint32(stride)
        stride *= shape[axis]
    return threefry2x32(k0, k1, index, jnp.zeros_like(index))


def _elementwise_words(key, shape):
    """One 32-bit cipher word per element of ``shape``, a function of the key and the
    element's row-major flat index only."""
    return _elementwise_word_pair(key, shape)[0]


def computed_once(x):
    """``x`` itself, bit for bit, as a value XLA computes once rather than in every consumer.

    XLA duplicates a cheap elementwise producer into each kernel that consumes it, and counts
    the cipher's additions, shifts and xors as cheap: the Gaussians of a weight read were
    ciphered in three kernels of a SoftHebb step, and ``lax.optimization_barrier`` does not
    stop this on CPU. A division counts as expensive, so XLA computes it, and the cipher
    before it, once (benchmarks/README.md, "One cipher per sample"). The divisor 1 + 0·x is 1
    for every finite x, so the result is x exactly (subnormal x aside, which XLA:CPU flushes to
    zero in any arithmetic and no sampler produces), and XLA cannot simplify it away, as 0·x is
    NaN for an infinite x. A division by a scalar would become a product with its reciprocal.
    """
    return x / (1.0 + 0.0 * x)


def _normal_of_word(a, dtype, *, once: bool = False):
    # 23 bits: (k + 0.5) 2^-22 − 1 is exact in float32 for k < 2^23, so u < 1 strictly
    # (with 24 bits the largest k rounds to u = 1 and erf_inv gives inf, 1 sample in 2^24).
    u = ((a >> 9).astype(jnp.float32) + 0.5) * (2.0 / (1 << 23)) - 1.0  # uniform in (-1, 1)
    if once:
        # The uniform, not the Gaussian: erf_inv reads u twice (its logarithm and its final
        # product), and the logarithm's kernel is apart from the product's.
        u = computed_once(u)
    return (math.sqrt(2.0) * erf_inv(u)).astype(dtype)


def normal_elementwise(key, shape, dtype=jnp.float32):
    """Standard normal samples of ``shape``, one cipher call per sample (23 random bits each).

    Every sample depends only on its own index, so XLA fuses the whole generator into the
    consumer even inside a ``lax.fori_loop`` or ``while_loop`` body, where :func:`normal16`'s
    interleaving of four samples per call (a concatenation) is not fused and cost ~10× more
    per element on CPU. Outside loops :func:`normal16` is the cheaper of the two. The tails end
    at ±5.3 σ (probability 2^-23).
    """
    return _normal_of_word(_elementwise_words(key, tuple(shape)), dtype, once=True)


def normal_pair_elementwise(key, shape, dtype=jnp.float32, *, once: bool = False):
    """Two independent arrays of standard normal samples of ``shape`` from one cipher call
    per element: :func:`normal_elementwise` spends only one of the two 32-bit words a
    Threefry-2x32 call gives. Fuses into its consumer inside loops likewise; the first array
    equals ``normal_elementwise(key, shape)``.

    ``once``: each array's uniforms :func:`computed_once`, for samples that many kernels read
    (a write's new conductance and drift exponent feed every field of the device state). It
    costs one cipher pass per array, so it is off for a single consumer: the pulse loop, whose
    one kernel per pulse pair ciphers once, ran slower with it.
    """
    a, b = _elementwise_word_pair(key, tuple(shape))
    return _normal_of_word(a, dtype, once=once), _normal_of_word(b, dtype, once=once)


def uniform_elementwise(key, shape):
    """Uniforms in [0, 1) of ``shape`` on a grid of 2^-24 (float32-exact), one cipher call each.

    The generator of :func:`normal_elementwise`, fused into its consumer inside loops; about
    4× cheaper than ``jax.random.uniform`` on CPU. For Bernoulli draws ``u < p``: P = p to 2^-24.
    """
    return computed_once(unit_uniform(_elementwise_words(key, tuple(shape))))


@functools.partial(jax.jit, static_argnames="shape")
def uniform24(key, shape):
    """Uniforms in [0, 1) of ``shape`` on a grid of 2^-24 (float32-exact), one per 32-bit word.

    Two uniforms per cipher call, about 3.5× faster on CPU than ``jax.random.uniform``: the
    generator of spike trains outside loops. Jitted, so that calls outside a jitted run fuse
    the cipher too. The two words of a cipher call fill the two halves of a row (the last
    axis): XLA on CPU fuses that concatenation whatever the shape, while halves of the
    flattened array (split mid-row) fell off the fused path for some window sizes, 8× slower
    (e.g. 50 steps × 1001 inputs).
    """
    shape = tuple(shape)
    n = math.prod(shape)
    if n == 0:
        return jnp.zeros(shape, jnp.float32)
    k0, k1 = key_words(key)
    *lead, m = shape or (1,)
    half = (m + 1) // 2
    counter = jnp.arange(math.prod(lead) * half, dtype=jnp.uint32).reshape(*lead, half)
    a, b = threefry2x32(k0, k1, counter, jnp.zeros_like(counter))
    bits = jnp.concatenate([a, b], axis=-1)[..., :m]
    return unit_uniform(bits).reshape(shape)
