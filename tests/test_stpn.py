"""The STPN and its baselines: the cells against the equations written out in NumPy, BPTT
against finite differences, and the associative retrieval generator's statistics."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import fast_filter_jit

from memxbar.algorithms.recurrent import evaluate, init_classifier, trainable_spec
from memxbar.crossbar import IdealTile
from memxbar.runtime.data.assoc_retrieval import (
    N_SYMBOLS,
    SEQUENCE_LENGTH,
    assoc_sequences,
    assoc_splits,
    decode,
)


def ideal(name, w):
    del name
    return IdealTile.create(*w.shape, weights=w)


def _stpn_numpy(W, b, lam, gam, V, c, x):
    """The STPN of the issue's equations with the papers' H × (I + H) layout, in float64.

    z = [x; h], G = W + F, n_i = ‖G_i‖ + 1e-16, h = tanh(G z / n + b),
    F ← λ ⊙ F / n + γ ⊙ h zᵀ, logits = V h_T + c.
    """
    B, T, _ = x.shape
    H = W.shape[0]
    h = np.zeros((B, H))
    F = np.zeros((B, *W.shape))
    for t in range(T):
        z = np.concatenate([x[:, t], h], axis=1)
        G = W[None] + F
        n = np.sqrt(np.sum(G * G, axis=2)) + 1e-16
        h = np.tanh(np.einsum("bij,bj->bi", G, z) / n + b)
        F = lam * F / n[:, :, None] + gam * np.einsum("bi,bj->bij", h, z)
    return h @ V.T + c


def _as_papers_layout(model):
    """(W, b, λ, γ, V, c) of a classifier in the paper's layout (W: H × (I + H)), float64."""
    cell = model.cell
    W = np.concatenate([np.asarray(cell.w_in.weights), np.asarray(cell.w_rec.weights)]).T
    return (
        W.astype(np.float64),
        np.asarray(cell.bias, np.float64),
        np.asarray(cell.fast.decay, np.float64).T,
        np.asarray(cell.fast.gain, np.float64).T,
        np.asarray(model.readout.weights, np.float64).T,
        np.asarray(model.readout_bias, np.float64),
    )


def _random_model(cell, n_in=5, hidden=4, n_out=3, seed=0, gain_scale=300.0):
    model = init_classifier(cell, n_in, hidden, n_out, ideal, key=jax.random.key(seed))
    if cell == "stpn":
        # The paper's γ ~ 1e-3 leaves F negligible; a larger γ makes the test see F.
        model = eqx.tree_at(lambda m: m.cell.fast.gain, model, model.cell.fast.gain * gain_scale)
    return model


def test_stpn_cell_equals_the_equations_in_numpy():
    model = _random_model("stpn")
    x = np.asarray(jax.random.normal(jax.random.key(1), (6, 7, 5)))
    logits, _, _ = model(jnp.asarray(x, jnp.float32), 0.0, key=jax.random.key(2))
    want = _stpn_numpy(*_as_papers_layout(model), x)
    np.testing.assert_allclose(np.asarray(logits), want, rtol=2e-5, atol=2e-5)
    # The fast weights mattered: without them the outputs differ by far more than that.
    no_fast = eqx.tree_at(lambda m: m.cell.fast.gain, model, model.cell.fast.gain * 0)
    assert (
        np.max(np.abs(np.asarray(no_fast(jnp.asarray(x), 0.0, key=jax.random.key(2))[0]) - want))
        > 1e-2
    )


def test_stpn_energy_measure_is_sum_of_normalised_weights_times_z_squared():
    model = _random_model("stpn")
    x = np.asarray(jax.random.normal(jax.random.key(3), (2, 1, 5)))
    _, _, measure = model(jnp.asarray(x, jnp.float32), 0.0, key=jax.random.key(0))
    W, *_ = _as_papers_layout(model)
    # First step: F = 0, h = 0, so G = W and z = [x; 0].
    z = np.concatenate([x[:, 0], np.zeros((2, W.shape[0]))], axis=1)
    n = np.linalg.norm(W, axis=1) + 1e-16
    want = np.einsum("ij,bj->b", np.abs(W) / n[:, None], z**2)
    np.testing.assert_allclose(np.asarray(measure), want, rtol=1e-5)


def _lstm_numpy(W_in, W_rec, b, V, c, x):
    B, T, _ = x.shape
    H = W_rec.shape[0]
    h, cell = np.zeros((B, H)), np.zeros((B, H))

    def sigmoid(a):
        return 1 / (1 + np.exp(-a))

    for t in range(T):
        a = x[:, t] @ W_in + h @ W_rec + b
        i, f, g, o = np.split(a, 4, axis=1)
        cell = sigmoid(f) * cell + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(cell)
    return h @ V + c


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_baseline_cells_equal_their_equations(cell):
    model = _random_model(cell)
    x = np.asarray(jax.random.normal(jax.random.key(4), (3, 6, 5)), np.float64)
    logits, _, _ = model(jnp.asarray(x, jnp.float32), 0.0, key=jax.random.key(0))
    c = model.cell
    W_in, W_rec = np.asarray(c.w_in.weights, np.float64), np.asarray(c.w_rec.weights, np.float64)
    b, V = np.asarray(c.bias, np.float64), np.asarray(model.readout.weights, np.float64)
    bias_out = np.asarray(model.readout_bias, np.float64)
    if cell == "lstm":
        want = _lstm_numpy(W_in, W_rec, b, V, bias_out, x)
    else:
        h = np.zeros((3, W_rec.shape[0]))
        for t in range(6):
            h = np.tanh(x[:, t] @ W_in + h @ W_rec + b)
        want = h @ V + bias_out
    np.testing.assert_allclose(np.asarray(logits), want, rtol=2e-5, atol=2e-5)


def test_paper_parameter_counts_are_matched():
    """~2k parameters each at the paper's sizes (STPN 11, LSTM 9, RNN 20)."""
    counts = {}
    for cell, hidden in (("stpn", 11), ("lstm", 9), ("rnn", 20)):
        model = init_classifier(cell, N_SYMBOLS, hidden, N_SYMBOLS, ideal, key=jax.random.key(0))
        counts[cell] = sum(int(np.size(a)) for a in model.trainable())
    # STPN: W, λ, γ 3·11·48, b 11, readout 11·37 + 37.
    assert counts == {"stpn": 3 * 11 * 48 + 11 + 11 * 37 + 37, "lstm": 2062, "rnn": 1937}
    assert all(1900 <= n <= 2100 for n in counts.values())


def test_bptt_gradient_matches_finite_differences_through_ideal_tiles():
    """jax.grad of the loss through the tiles and the fast-weight recursion equals central
    differences in every kind of parameter (float32: steps of 1e-2, agreement to 2 %)."""
    # Compile-bound: the model's creation, the gradient and the loss are jitted (the 12
    # shifted losses share one program) instead of run op by op.
    model = fast_filter_jit(lambda: _random_model("stpn", gain_scale=100.0))()
    x = jax.nn.one_hot(jax.random.randint(jax.random.key(5), (4, 6), 0, 5), 5)
    y = jnp.array([0, 1, 2, 1])
    key = jax.random.key(0)
    spec = trainable_spec(model)
    params, static = eqx.partition(model, spec)

    def loss_of(params):
        return eqx.combine(params, static).loss(x, y, 0.0, key=key)[0]

    grads = fast_filter_jit(jax.grad(loss_of))(params)
    loss = fast_filter_jit(loss_of)
    picks = (
        (lambda m: m.cell.w_in.weights, (1, 2)),
        (lambda m: m.cell.w_rec.weights, (3, 0)),
        (lambda m: m.cell.bias, (2,)),
        (lambda m: m.cell.fast.decay, (4, 1)),
        (lambda m: m.cell.fast.gain, (6, 3)),
        (lambda m: m.readout.weights, (0, 1)),
    )
    eps = 1e-2
    for where, index in picks:
        base = where(params)

        def shifted(delta, where=where, base=base, index=index):
            return loss(eqx.tree_at(where, params, base.at[index].add(delta)))

        numeric = (float(shifted(eps)) - float(shifted(-eps))) / (2 * eps)
        analytic = float(where(grads)[index])
        assert analytic == pytest.approx(numeric, rel=2e-2, abs=1e-4), index


def test_evaluate_counts_every_sequence_and_reports_the_measure_per_step():
    model = _random_model("rnn", n_in=N_SYMBOLS, n_out=N_SYMBOLS)
    tokens, targets = assoc_sequences(20, np.random.default_rng(0))
    _, accuracy, measure = evaluate(
        model, tokens, targets, 0.0, 10, N_SYMBOLS, key=jax.random.key(0)
    )
    logits, _, per_sequence = model(jax.nn.one_hot(tokens, N_SYMBOLS), 0.0, key=jax.random.key(1))
    assert float(accuracy) == pytest.approx(float(np.mean(np.argmax(logits, -1) == targets)))
    assert float(measure) == pytest.approx(
        float(jnp.mean(per_sequence)) / SEQUENCE_LENGTH, rel=1e-5
    )
    with pytest.raises(ValueError, match="cannot fill one batch"):
        evaluate(model, tokens, targets, 0.0, 50, N_SYMBOLS, key=jax.random.key(0))


# --- the task -------------------------------------------------------------------------------


def test_assoc_sequences_have_three_distinct_keys_and_a_query_among_them():
    x, y = assoc_sequences(5000, np.random.default_rng(0))
    keys, digits = x[:, 0:6:2], x[:, 1:6:2]
    assert x.shape == (5000, SEQUENCE_LENGTH) and y.shape == (5000,)
    assert np.all((keys >= 0) & (keys < 26)) and np.all((digits >= 26) & (digits < 36))
    assert np.all(np.sort(keys, axis=1)[:, 1:] != np.sort(keys, axis=1)[:, :-1])
    assert np.all(x[:, 6:8] == 36)
    position = np.argmax(keys == x[:, 8:9], axis=1)
    assert np.all((keys == x[:, 8:9]).sum(axis=1) == 1)
    assert np.array_equal(y, digits[np.arange(5000), position])
    # Which pair is queried, and which letters and digits appear, are uniform: counts within
    # 4.5 binomial standard deviations of n·p.
    for values, k in ((position, 3), (keys.ravel(), 26), (digits.ravel() - 26, 10), (y - 26, 10)):
        counts = np.bincount(values, minlength=k)
        n, p = len(values), 1 / k
        assert np.all(np.abs(counts - n * p) < 4.5 * math.sqrt(n * p * (1 - p))), counts


def test_assoc_splits_are_seeded_and_independent_of_the_other_sizes():
    a = assoc_splits(3, n_train=100, n_validation=50, n_test=60)
    b = assoc_splits(3, n_train=400, n_validation=50, n_test=60)
    assert np.array_equal(a.x_test, b.x_test) and np.array_equal(a.y_test, b.y_test)
    assert np.array_equal(a.x_validation, b.x_validation)
    assert np.array_equal(assoc_splits(3, n_train=100).x_train, a.x_train)
    c = assoc_splits(4, n_train=100, n_validation=50, n_test=60)
    assert not np.array_equal(a.x_test, c.x_test)
    assert decode(a.x_test[0])[6:8] == "??"
    with pytest.raises(ValueError, match="n_test"):
        assoc_splits(0, n_test=0)
