"""The arbiter's device of each side of a pair, taken and put back, alone and under vmap.

Chips vmapped with an arbiter each (a sweep over whole chips) must pulse exactly as lone
chips do, and without the gather and scatter of every device array that a batched dynamic
index used to compile to.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from memxbar.crossbar import PCMTile, load_chip
from memxbar.crossbar.device_index import device_of_pair, with_device_of_pair


def _lone_take(a, index):
    return a[:, index : index + 1]


def _lone_put(full, part, index):
    out = np.array(full)
    out[:, index : index + 1] = part
    return out


@settings(max_examples=25, deadline=None)
@given(
    chips=st.integers(1, 5),
    n_devices=st.integers(2, 4),
    dtype=st.sampled_from(["float32", "int32", "bool"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_a_batched_index_takes_and_puts_each_chips_own_device_bit_for_bit(
    chips, n_devices, dtype, seed
):
    rng = np.random.default_rng(seed)
    shape = (chips, 2, n_devices, 3, 4)
    a = rng.standard_normal(shape).astype(np.float32)
    if dtype == "bool":
        a = a > 0
    elif dtype == "int32":
        a = (a * 100).astype(np.int32)
    index = rng.integers(0, n_devices, chips).astype(np.int32)
    part = a[::-1, :, :1]

    taken = np.asarray(jax.jit(jax.vmap(device_of_pair))(a, index))
    put = np.asarray(jax.jit(jax.vmap(with_device_of_pair))(a, part, index))

    assert taken.dtype == a.dtype and put.dtype == a.dtype
    for chip in range(chips):
        np.testing.assert_array_equal(taken[chip], _lone_take(a[chip], index[chip]))
        np.testing.assert_array_equal(put[chip], _lone_put(a[chip], part[chip], index[chip]))


def test_a_shared_index_and_unbatched_operands_keep_the_slice():
    a = jnp.arange(2 * 3 * 2 * 2, dtype=jnp.float32).reshape(2, 3, 2, 2)
    stacked = jnp.stack([a, a + 100])
    # The index shared by the chips (a tiled group's lockstep arbiter).
    np.testing.assert_array_equal(
        jax.vmap(device_of_pair, in_axes=(0, None))(stacked, 2), stacked[:, :, 2:3]
    )
    # The index batched, the devices shared: each chip's own device of the same array.
    taken = jax.vmap(device_of_pair, in_axes=(None, 0))(a, jnp.array([2, 0]))
    np.testing.assert_array_equal(taken, jnp.stack([a[:, 2:3], a[:, 0:1]]))
    put = jax.vmap(with_device_of_pair, in_axes=(None, 0, 0))(
        a, jnp.zeros((2, 2, 1, 2, 2)), jnp.array([1, 2])
    )
    np.testing.assert_array_equal(put[0], a.at[:, 1].set(0.0))
    np.testing.assert_array_equal(put[1], a.at[:, 2].set(0.0))
    # An index out of range is clamped, as a dynamic slice clamps it.
    np.testing.assert_array_equal(
        jax.vmap(device_of_pair, in_axes=(None, 0))(a, jnp.array([5, -1])),
        jnp.stack([a[:, 2:3], a[:, 0:1]]),
    )
    put = jax.vmap(with_device_of_pair, in_axes=(None, None, 0))(
        a, jnp.zeros((2, 1, 2, 2)), jnp.array([7])
    )
    np.testing.assert_array_equal(put[0], a.at[:, 2].set(0.0))
    # Unbatched: the plain slice.
    np.testing.assert_array_equal(device_of_pair(a, 1), a[:, 1:2])


def test_chips_vmapped_with_their_own_arbiters_pulse_as_lone_chips():
    # Three pcm_hermes_128 chips (two devices per side) whose arbiters point at devices 0, 1, 0.
    chip = load_chip("pcm_hermes_128")
    assert chip.tile.devices_per_side == 2

    @eqx.filter_jit
    def create(keys):
        W = jnp.full((4, 3), 0.2)
        return jax.vmap(
            lambda key: PCMTile.create(chip, key=key, rows=4, cols=3, w_max=1.0, weights=W)
        )(keys)

    stacked = create(jax.random.split(jax.random.key(0), 3))
    stacked = eqx.tree_at(lambda t: t.arbiter, stacked, jnp.array([0, 1, 0], jnp.int32))
    dW = jnp.asarray(np.linspace(-0.3, 0.3, 12).reshape(4, 3), jnp.float32)
    keys = jax.random.split(jax.random.key(5), 3)

    def update(tile, key):
        return tile.update(dW, 1.0, key=key)

    batched = eqx.filter_jit(eqx.filter_vmap(update))(stacked, keys)
    lone_update = eqx.filter_jit(update)
    for n in range(3):
        tile = jax.tree.map(lambda leaf, n=n: leaf[n], stacked)
        lone = lone_update(tile, keys[n])
        for got, expected in zip(
            jax.tree.leaves(batched.devices), jax.tree.leaves(lone.devices), strict=True
        ):
            # The same arithmetic, compiled in two programs: equal to float32 rounding.
            np.testing.assert_allclose(got[n], expected, rtol=1e-6, atol=0)
        np.testing.assert_array_equal(batched.devices.set_pulses[n], lone.devices.set_pulses)
        assert int(batched.arbiter[n]) == int(lone.arbiter) == 1 - int(tile.arbiter)
        pulsed = lone.devices.set_pulses - tile.devices.set_pulses
        assert int(jnp.sum(pulsed[:, int(tile.arbiter)])) > 0  # on the arbiter's device
        assert int(jnp.sum(pulsed[:, 1 - int(tile.arbiter)])) == 0  # and on no other

    arrays, static = eqx.partition(stacked, eqx.is_array)

    def program(arrays, keys):
        return eqx.filter_vmap(update)(eqx.combine(arrays, static), keys)

    hlo = jax.jit(program).lower(arrays, keys).compile().as_text()
    assert " gather(" not in hlo and " scatter(" not in hlo
