"""SoftHebb: the float rule, its tile version, and what it learns on the digits."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memxbar.algorithms import train_readout
from memxbar.algorithms.softhebb import (
    SoftHebbParams,
    encode_inputs,
    init_weights,
    norm_deviation,
    reference_step,
    softhebb_delta,
    tile_step,
)
from memxbar.crossbar import IdealTile
from memxbar.hw_configs import build
from memxbar.runtime.data.datasets import centered, load_digits_split

PARAMS = SoftHebbParams(inv_tau=30.0, eta0=0.045, power=0.2, init_radius=10.0)


def test_delta_matches_the_equations_written_out_per_neuron():
    key = jax.random.key(0)
    x = encode_inputs(jax.random.normal(key, (5, 7)))
    W = init_weights(7, 3, 2.0, key=jax.random.key(1))
    u = x @ W
    dW, y = softhebb_delta(x, u, W, PARAMS)
    y_ref = np.exp(PARAMS.inv_tau * u) / np.exp(PARAMS.inv_tau * u).sum(1, keepdims=True)
    raw = np.zeros((7, 3))
    for k in range(3):
        for b in range(5):
            raw[:, k] += y_ref[b, k] * (x[b] - u[b, k] * W[:, k])
    raw /= np.abs(raw).max()
    eta = PARAMS.eta0 * np.abs(np.linalg.norm(W, axis=0) - 1.0) ** PARAMS.power
    np.testing.assert_allclose(y, y_ref, rtol=1e-5)
    np.testing.assert_allclose(dW, raw * eta, rtol=1e-4, atol=1e-7)


def test_rate_vanishes_at_unit_norm():
    W = jnp.eye(4)[:, :3]  # unit-norm neurons: the fixed point of the adaptive rate
    x = encode_inputs(jax.random.normal(jax.random.key(0), (8, 4)))
    dW, _ = softhebb_delta(x, x @ W, W, PARAMS)
    assert float(jnp.max(jnp.abs(dW))) == 0.0


def test_tile_step_on_ideal_tile_is_the_float_reference():
    x = encode_inputs(jax.random.normal(jax.random.key(2), (16, 10)))
    W = init_weights(10, 6, 3.0, key=jax.random.key(3))
    tile = IdealTile.create(10, 6, weights=W)
    W_ref, y_ref = reference_step(W, x, PARAMS)
    tile, y, W_read = tile_step(tile, x, 0.0, PARAMS, key=jax.random.key(4))
    np.testing.assert_array_equal(W_read, W)
    np.testing.assert_allclose(y, y_ref, rtol=1e-6)
    np.testing.assert_allclose(tile.weights, W_ref, rtol=1e-6, atol=1e-7)
    assert float(tile.ledger.count("weight_reads")) == 1.0


def test_rule_parameters_are_checked():
    with pytest.raises(ValueError, match=r"'eta': is not a known key here \(did you mean 'eta0'"):
        build(SoftHebbParams, {"eta": 0.1})
    with pytest.raises(ValueError, match="'inv_tau': must be > 0, got 0"):
        build(SoftHebbParams, {"inv_tau": 0})
    assert build(SoftHebbParams, {"eta0": 0.01, "power": 1}) == SoftHebbParams(eta0=0.01, power=1.0)


def _train_float(data, epochs: int, *, seed: int):
    x = encode_inputs(data.x_train)
    W = init_weights(x.shape[1], 100, PARAMS.init_radius, key=jax.random.key(seed))
    batch, steps = 32, x.shape[0] // 32

    @jax.jit
    def epoch(W, key):
        order = jax.random.permutation(key, x.shape[0])[: steps * batch].reshape(steps, batch)
        return jax.lax.scan(lambda W, idx: (reference_step(W, x[idx], PARAMS)[0], None), W, order)[
            0
        ]

    for e in range(epochs):
        W = epoch(W, jax.random.key(1000 + e))
    return W


def _readout_accuracy(data, W):
    def features(x):
        return jax.nn.softmax(5.0 * (encode_inputs(x) @ W), axis=-1)

    readout = train_readout(features(data.x_train), data.y_train, 10, steps=300, learning_rate=0.05)
    return float(readout.accuracy(features(data.x_test), data.y_test))


def test_float_softhebb_learns_digits_features():
    """Issue 4: 100 neurons, 80/20 split: norms converge (< 0.01) and the readout reaches
    ≥ 0.90, at least 5 points above the same readout on random unit-norm features."""
    data = centered(load_digits_split(0.2, seed=0))
    W = _train_float(data, epochs=40, seed=0)
    assert float(norm_deviation(W)) < 0.01
    learned = _readout_accuracy(data, W)
    random = _readout_accuracy(data, init_weights(64, 100, 1.0, key=jax.random.key(99)))
    assert learned >= 0.90
    assert learned >= random + 0.05, (learned, random)
