"""devices.prng: split and fold_in give jax.random's keys bit for bit, without a loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memxbar.devices import prng
from memxbar.devices.random import normal_elementwise

seeds = st.integers(0, 2**32 - 1)
words = st.integers(0, 2**32 - 1)
# A few shapes (each compiles once); 2^32 seeds, keys random in both words.
shapes = st.sampled_from([1, 2, 3, 5, 8, (2, 3), (4, 1, 2)])


def _data(keys):
    return np.asarray(jax.random.key_data(keys))


def _key(seed: int):
    # Both words of the key vary (jax.random.key(seed) leaves the high word 0 for 32-bit seeds).
    return jax.random.fold_in(jax.random.key(seed), seed ^ 0x9E3779B9)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, num=shapes)
def test_split_gives_jax_random_keys(seed, num):
    key = _key(seed)
    ours, theirs = prng.split(key, num), jax.random.split(key, num)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(_data(ours), _data(theirs))
    raw = jax.random.key_data(key)
    np.testing.assert_array_equal(prng.split(raw, num), jax.random.split(raw, num))


@settings(max_examples=60, deadline=None)
@given(seed=seeds, data=words)
def test_fold_in_gives_jax_random_keys(seed, data):
    key = _key(seed)
    ours, theirs = prng.fold_in(key, data), jax.random.fold_in(key, data)
    assert ours.dtype == theirs.dtype and ours.shape == ()
    np.testing.assert_array_equal(_data(ours), _data(theirs))
    raw = jax.random.key_data(key)
    np.testing.assert_array_equal(prng.fold_in(raw, data), jax.random.fold_in(raw, data))


def test_traced_and_batched_derivations_match_and_run_no_cipher_loop():
    keys = jax.random.split(jax.random.key(7), 64)
    window = jnp.arange(64, dtype=jnp.int32) * 9973

    def derive(module):
        return jax.vmap(lambda k, w: module.split(module.fold_in(k, w), 5))

    np.testing.assert_array_equal(
        _data(jax.jit(derive(prng))(keys, window)), _data(jax.jit(derive(jax.random))(keys, window))
    )
    # Ours is plain jnp: no random primitive, no loop. jax.random's threefry primitive lowers
    # to a rolled loop of 5 iterations on CPU.
    jaxpr = str(jax.make_jaxpr(derive(prng))(keys, window))
    assert not any(p in jaxpr for p in ("random_split", "random_fold_in", "threefry2x32"))
    assert "while" not in jax.jit(derive(prng)).lower(keys, window).as_text()
    if jax.default_backend() == "cpu":
        assert "while" in jax.jit(derive(jax.random)).lower(keys, window).as_text()


def test_other_generators_and_layouts_go_to_jax_random():
    rbg = jax.random.key(3, impl="rbg")
    np.testing.assert_array_equal(_data(prng.split(rbg, 3)), _data(jax.random.split(rbg, 3)))
    np.testing.assert_array_equal(_data(prng.fold_in(rbg, 5)), _data(jax.random.fold_in(rbg, 5)))
    key = _key(11)
    before = jax.config.jax_threefry_partitionable
    jax.config.update("jax_threefry_partitionable", not before)
    try:
        legacy = prng.split(key, 4)
        np.testing.assert_array_equal(_data(legacy), _data(jax.random.split(key, 4)))
    finally:
        jax.config.update("jax_threefry_partitionable", before)
    assert not np.array_equal(_data(legacy), _data(jax.random.split(key, 4)))


def test_misuse_raises_as_jax_random_does():
    keys = jax.random.split(jax.random.key(0), 3)
    with pytest.raises(ValueError, match="single key"):
        prng.split(keys, 2)
    for num in (-1, 2.5, (2, -1), "3"):
        with pytest.raises(ValueError, match=r"split: num must be a count"):
            prng.split(jax.random.key(0), num)
    assert prng.split(jax.random.key(0), np.int64(3)).shape == (3,)
    with pytest.raises(TypeError, match="scalar"):
        prng.fold_in(jax.random.key(0), jnp.arange(3))


def _cipher_ops_per_sample(fn, key, shape) -> int:
    """xor ops on other shapes inside the kernels that produce ``shape``: each is computed
    again for every element."""
    hlo = jax.jit(fn).lower(key).compile().as_text()
    dims = f"[{','.join(map(str, shape))}]"
    count = 0
    for computation in hlo.split("\n\n"):
        header, _, body = computation.partition("{\n")
        if dims in header.partition("->")[2]:
            count += sum(1 for line in body.splitlines() if " xor(" in line and dims not in line)
    return count


def test_a_sampler_ciphers_a_derived_key_once():
    # XLA fuses cheap producers into their consumers: were the key's derivation (two ciphers on
    # one and five counters) fused into the sampler's kernel, it would be ciphered again for
    # every sample.
    shape = (300, 70)

    def derived(key):
        return normal_elementwise(prng.split(prng.fold_in(key, 3), 5)[2], shape)

    def given(key):
        return normal_elementwise(key, shape)

    key = jax.random.key(0)
    # The sampler's own key schedule (k0 ^ k1 ^ parity) is a scalar xor or two in its kernel.
    assert _cipher_ops_per_sample(derived, key, shape) == _cipher_ops_per_sample(given, key, shape)
