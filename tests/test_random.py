"""The package's random numbers: normal16 (four Gaussian samples per cipher call),
normal_elementwise (one per call), the uniforms of spike trains and the key words."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from memxbar.devices.random import (
    computed_once,
    erf_inv,
    key_words,
    normal16,
    normal_elementwise,
    normal_pair_elementwise,
    uniform24,
    uniform_elementwise,
)

N = 400_000


@pytest.mark.parametrize("generator", [normal16, normal_elementwise])
def test_moments_match_a_standard_normal(generator):
    z = np.asarray(generator(jax.random.key(0), (N,)), np.float64)
    # Sampling errors of mean and variance of N(0,1): 1/sqrt(N) and sqrt(2/N); 5 of each.
    assert abs(z.mean()) < 5 / math.sqrt(N)
    assert abs(z.var() - 1.0) < 5 * math.sqrt(2 / N)
    # Kolmogorov–Smirnov against N(0,1): the 2^-16 grid is far below the test's resolution.
    assert stats.kstest(z, "norm").pvalue > 1e-3


@pytest.mark.parametrize("bits", [16, 23])
def test_erf_inv_is_float32_accurate_over_the_samplers_whole_grid(bits):
    # Every point the samplers feed it: (k + 0.5) 2^(1-bits) - 1. Giles's polynomials are
    # accurate to a few float32 ulps; with ln((1 - x)(1 + x)) exact on the grid the error stays
    # below 1e-6 out to the last point (lax.erf_inv, through log1p(-x^2), errs by 1.5e-5 there).
    from scipy.special import erfinv

    k = np.arange(2**bits, dtype=np.float64)
    x = ((k + 0.5) * 2.0 ** (1 - bits) - 1.0).astype(np.float32)
    got = np.asarray(jax.jit(erf_inv)(x), np.float64)
    want = erfinv(x.astype(np.float64))
    assert np.abs(got - want).max() < 1e-6
    assert np.all(np.diff(got) > 0)  # monotone: the samples keep the uniforms' order


def test_tails_end_at_the_16_bit_grid():
    z = np.asarray(normal16(jax.random.key(1), (N,)))
    bound = math.sqrt(2) * float(jax.lax.erf_inv(1.0 - 1.0 / 65536))  # last grid point
    assert np.abs(z).max() <= bound + 1e-5
    assert bound < 4.4


@pytest.mark.parametrize("generator", [normal16, normal_elementwise])
def test_same_key_same_samples_and_any_shape(generator):
    a = generator(jax.random.key(7), (3, 5))
    b = generator(jax.random.key(7), (3, 5))
    c = generator(jax.random.key(8), (3, 5))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert generator(jax.random.key(0), (7,)).shape == (7,)  # odd sizes use half a word
    assert generator(jax.random.key(0), (0, 4)).shape == (0, 4)
    assert generator(jax.random.key(0), ()).shape == ()


def test_elementwise_samples_stay_finite_at_the_extreme_words(monkeypatch):
    # Force the cipher's output to its extremes: the largest and smallest words must map to
    # finite samples at the 23-bit grid's ends (±5.3 σ), never to erf_inv(±1) = ±inf.
    import jax.numpy as jnp

    from memxbar.devices import random as rng

    words = jnp.array([0, 1, 2**31, 2**32 - 2, 2**32 - 1], jnp.uint32)
    monkeypatch.setattr(rng, "threefry2x32", lambda k0, k1, x0, x1: (words, words))
    z = np.asarray(rng.normal_elementwise(jax.random.key(0), (5,)))
    assert np.all(np.isfinite(z))
    bound = math.sqrt(2) * float(jax.lax.erf_inv(np.float32(1.0 - 2.0**-23)))
    np.testing.assert_allclose(z[[0, -1]], [-bound, bound], rtol=1e-4)
    assert 5.0 < bound < 5.6


def test_elementwise_samples_are_independent_across_positions_and_keys():
    # A sample depends on its flat index and the key: neighbours, the same index under a
    # folded key (a loop iteration) and a reshaped draw must all be uncorrelated / equal.
    key = jax.random.key(3)
    z = np.asarray(normal_elementwise(key, (N,)), np.float64)
    z_next = np.asarray(normal_elementwise(jax.random.fold_in(key, 1), (N,)), np.float64)
    # The sample correlation of independent pairs has standard error 1/sqrt(N); allow 5.
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 5 / math.sqrt(N)
    assert abs(np.corrcoef(z, z_next)[0, 1]) < 5 / math.sqrt(N)
    grid = np.asarray(normal_elementwise(key, (N // 100, 100)))
    np.testing.assert_array_equal(grid.ravel(), z.astype(np.float32))


def test_pair_samples_are_two_independent_standard_normals():
    # The two words of one cipher call: each array N(0, 1), the two uncorrelated at the same
    # position (also in their squares: no dependence through the magnitude), the first equal
    # to normal_elementwise's.
    key = jax.random.key(11)
    a, b = (np.asarray(z, np.float64) for z in normal_pair_elementwise(key, (N,)))
    for z in (a, b):
        assert abs(z.mean()) < 5 / math.sqrt(N)
        assert abs(z.var() - 1.0) < 5 * math.sqrt(2 / N)
        assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / math.sqrt(N)
    assert abs(np.corrcoef(a * a, b * b)[0, 1]) < 5 / math.sqrt(N)
    np.testing.assert_array_equal(a, np.asarray(normal_elementwise(key, (N,)), np.float64))


def test_cipher_is_jax_threefry():
    from jax.extend.random import threefry_2x32

    from memxbar.devices.random import threefry2x32

    key = np.array([0x12345678, 0x9ABCDEF0], np.uint32)
    words = np.arange(64, dtype=np.uint32)
    a, b = threefry2x32(key[0], key[1], words[:32], words[32:])
    np.testing.assert_array_equal(np.concatenate([a, b]), threefry_2x32(key, words))


def test_elementwise_uniforms_are_uniform_on_the_24_bit_grid():
    u = np.asarray(uniform_elementwise(jax.random.key(5), (N,)), np.float64)
    assert u.min() >= 0.0 and u.max() < 1.0
    np.testing.assert_array_equal(u * 2**24, np.floor(u * 2**24))  # on the 2^-24 grid
    # Mean 1/2 and variance 1/12 within 5 standard errors (sqrt(1/12N) and sqrt(1/180N)).
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / (12 * N))
    assert abs(u.var() - 1 / 12) < 5 * math.sqrt(1 / (180 * N))
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # Bernoulli draws u < p hit p within binomial error.
    for p in (0.01, 0.3):
        assert abs(np.mean(u < p) - p) < 5 * math.sqrt(p * (1 - p) / N)
    # Same key, same draws; a grid of another shape is the same stream.
    grid = np.asarray(uniform_elementwise(jax.random.key(5), (N // 100, 100)))
    np.testing.assert_array_equal(grid.ravel(), u.astype(np.float32))


@pytest.mark.parametrize("shape", [(N,), (N // 1001, 1001), (N // 50, 50)])
def test_uniform24_is_uniform_on_the_24_bit_grid_and_deterministic(shape):
    u = np.asarray(uniform24(jax.random.key(3), shape), np.float64)
    assert u.shape == shape and u.min() >= 0.0 and u.max() < 1.0
    np.testing.assert_array_equal(u * 2**24, np.floor(u * 2**24))
    # Mean of U(0,1) within 5 standard errors sqrt(1/12N); the two words of a cipher call
    # (the halves of a row) are independent: their correlation within 5/sqrt(pairs).
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / u.size)
    assert stats.kstest(u.ravel(), "uniform").pvalue > 1e-3
    rows = u.reshape(-1, shape[-1]) if len(shape) > 1 else u.reshape(-1, 2)
    half = rows.shape[1] // 2
    left, right = rows[:, :half].ravel(), rows[:, half : 2 * half].ravel()
    assert abs(np.corrcoef(left, right)[0, 1]) < 5 / math.sqrt(left.size)
    np.testing.assert_array_equal(u, np.asarray(uniform24(jax.random.key(3), shape)))
    assert not np.array_equal(u, np.asarray(uniform24(jax.random.key(4), shape)))
    assert uniform24(jax.random.key(0), (0, 3)).shape == (0, 3)


def test_key_words_are_the_same_for_a_typed_key_and_its_raw_data():
    key = jax.random.key(11)
    typed = [int(w) for w in key_words(key)]
    raw = [int(w) for w in key_words(jax.random.key_data(key))]
    legacy = [int(w) for w in key_words(jax.random.PRNGKey(11))]
    assert typed == raw == legacy == [int(w) for w in np.asarray(jax.random.key_data(key))]
    np.testing.assert_array_equal(uniform24(key, (7,)), uniform24(jax.random.key_data(key), (7,)))


def _full_shape_xors(fn, shape) -> int:
    """xor ops over a whole ``shape`` array in the compiled ``fn`` (20-odd per cipher pass)."""
    hlo = jax.jit(fn).lower(jax.random.key(0)).compile().as_text()
    dims = f"[{','.join(map(str, shape))}]"
    return sum(1 for line in hlo.splitlines() if " xor(" in line and dims in line)


def _first_of_pair_once(key, shape):
    return normal_pair_elementwise(key, shape, once=True)[0]


@pytest.mark.parametrize(
    "generator", [normal_elementwise, uniform_elementwise, _first_of_pair_once]
)
def test_a_sample_read_by_several_kernels_is_ciphered_once(generator):
    # XLA duplicates cheap producers into every consumer; three reductions and an elementwise
    # map are four kernels, and without computed_once each ciphered the samples again.
    shape = (300, 70)

    def one_consumer(key):
        return generator(key, shape) * 3.0

    def four_consumers(key):
        z = generator(key, shape)
        return jnp.sum(z, axis=0), jnp.max(z, axis=1), jnp.min(z), jnp.round(z * 3.0)

    once = _full_shape_xors(one_consumer, shape)
    assert once >= 10  # the cipher's rounds are there to be counted
    assert _full_shape_xors(four_consumers, shape) == once


def test_computed_once_is_the_identity_bit_for_bit():
    # Normal floats of every exponent and both signs, zeros, and the ends of the samplers'
    # grids (uniforms k 2^-24; the Gaussians' (k + 0.5) 2^-22 - 1). Subnormals are left out:
    # XLA:CPU flushes them to zero in any arithmetic, and no sampler produces one.
    tiny = np.finfo(np.float32).tiny
    x = np.concatenate(
        [
            np.float32(2.0) ** np.arange(-126, 128, dtype=np.float32) * 1.2345678,
            -(np.float32(2.0) ** np.arange(-126, 128, dtype=np.float32)),
            [0.0, -0.0, tiny, -tiny, np.finfo(np.float32).max, 2.0**-24, 1 - 2.0**-24],
            [1 - 2.0**-23, -1 + 2.0**-23, 0.999999940, -2.5],
        ]
    ).astype(np.float32)
    x = x[np.isfinite(x)]
    y = np.asarray(jax.jit(computed_once)(x))
    assert y.tobytes() == x.tobytes()
