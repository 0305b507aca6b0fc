"""Pair-based STDP and FSTDP: the rule against brute-force pair sums, the pulse schedule and
both PCM depression modes, energy booking, and the synthetic benchmark of issue 6."""

from __future__ import annotations

import dataclasses
import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score
from support import FAST_COMPILE, approx, example_job, sigma_prog_S

from memxbar.algorithms.snn import (
    LIF,
    STDP,
    Fatigue,
    PoissonSpikes,
    PreState,
    PulseSchedule,
    SpikingNetwork,
    init_state,
    run_windows,
)
from memxbar.algorithms.snn import apply_delta as _apply_delta
from memxbar.crossbar import IdealTile, PCMTile, TiledMatrix, load_chip
from memxbar.runtime.job import load_job
from memxbar.runtime.loop import run_job
from memxbar.runtime.scores import auc, rate_flatness

Z = 4.5
DT = 1e-3
# Compile-heavy PCM paths: XLA's backend optimisation is not worth its compile time here.
reprogram = jax.jit(
    lambda tile, dW, W_read, t, key: tile.reset_and_reprogram(dW, W_read, t, key=key),
    compiler_options=FAST_COMPILE,
)
apply_delta = jax.jit(
    _apply_delta, static_argnames=("depression", "schedule"), compiler_options=FAST_COMPILE
)


@eqx.filter_jit
def _window(rule: STDP, W, pre, post_trace, s, z):
    """One window as the engine runs it, with given postsynaptic spikes."""
    pre, (sent, pre_trace) = jax.lax.scan(lambda p, x: rule.presynaptic(p, x, DT), pre, s)
    post_trace, before = jax.lax.scan(lambda y, x: rule.postsynaptic(y, x, DT), post_trace, z)
    return pre, post_trace, rule.delta(W, sent, pre_trace, z, before)


def rule_delta(rule: STDP, W, pre_spikes, post_spikes, window: int):
    """The rule's total change over given spike trains, W held, in windows of ``window`` steps."""
    pre = PreState.rested(pre_spikes.shape[1])
    post_trace = jnp.zeros(post_spikes.shape[1])
    total = jnp.zeros_like(W)
    for start in range(0, pre_spikes.shape[0], window):
        s = jnp.asarray(pre_spikes[start : start + window], jnp.float32)
        z = jnp.asarray(post_spikes[start : start + window], jnp.float32)
        pre, post_trace, dW = _window(rule, W, pre, post_trace, s, z)
        total = total + dW
    return np.asarray(total)


def brute_force(rule: STDP, pre_spikes, post_spikes):
    """All-to-all pair sums written from the definition (float64), weight-independent rule."""
    n_steps, n_in = pre_spikes.shape
    efficacy = np.ones((n_steps, n_in))
    if rule.fatigue is not None:
        e = np.ones(n_in)
        d = math.exp(-DT / rule.fatigue.tau_s)
        for t in range(n_steps):
            efficacy[t] = e
            e = 1 - (1 - e * (1 - rule.fatigue.use * pre_spikes[t])) * d
    dW = np.zeros((n_in, post_spikes.shape[1]))
    for ti, i in zip(*np.nonzero(pre_spikes), strict=True):
        for tj, j in zip(*np.nonzero(post_spikes), strict=True):
            lag = (tj - ti) * DT
            if tj >= ti:  # pre before post, or in the same step: causal
                dW[i, j] += rule.a_plus * efficacy[ti, i] * math.exp(-lag / rule.tau_plus_s)
            else:
                dW[i, j] -= rule.a_minus * efficacy[ti, i] * math.exp(lag / rule.tau_minus_s)
    return dW - rule.a_post * post_spikes.sum(0)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    window=st.sampled_from([1, 5, 8, 40]),
    fatigue=st.booleans(),
)
def test_rule_equals_all_to_all_pair_sums(seed, window, fatigue):
    rng = np.random.default_rng(seed)
    pre = (rng.random((40, 3)) < 0.15).astype(np.float32)
    post = (rng.random((40, 2)) < 0.1).astype(np.float32)
    rule = STDP(
        a_plus=0.03,
        a_minus=0.02,
        tau_plus_s=0.01,
        tau_minus_s=0.02,
        a_post=0.004,
        mu=0.0,
        w_min=-100.0,
        w_max=100.0,
        fatigue=Fatigue(0.4, 0.05) if fatigue else None,
    )
    got = rule_delta(rule, jnp.zeros((3, 2)), pre, post, window)
    np.testing.assert_allclose(got, brute_force(rule, pre, post), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("lag", [-7, -1, 0, 1, 3, 12])
def test_one_pair_follows_the_stdp_window(lag):
    rule = STDP(a_plus=0.1, a_minus=0.05, tau_plus_s=0.01, tau_minus_s=0.02, mu=0.0)
    pre = np.zeros((30, 1), np.float32)
    post = np.zeros((30, 1), np.float32)
    pre[10, 0] = 1
    post[10 + lag, 0] = 1
    got = rule_delta(rule, jnp.full((1, 1), 0.5), pre, post, window=10)[0, 0]
    if lag >= 0:
        assert got == approx(0.1 * math.exp(-lag * DT / 0.01), rel=1e-5)
    else:
        assert got == approx(-0.05 * math.exp(lag * DT / 0.02), rel=1e-5)


def test_fatigue_scales_the_current_and_the_stdp_change_of_each_spike():
    U, tau = 0.5, 0.1
    rule = STDP(a_plus=0.1, a_minus=0.0, tau_plus_s=0.01, tau_minus_s=0.02, mu=0.0)
    fstdp = dataclasses.replace(rule, fatigue=Fatigue(U, tau))
    pre = np.zeros((30, 1), np.float32)
    post = np.zeros((30, 1), np.float32)
    pre[0, 0] = pre[5, 0] = 1
    post[5, 0] = 1
    # The second spike finds e = 1 − U exp(−5 dt/τ_f) (after the first used up U and
    # recovered for 5 steps); it is sent with that amplitude and its pairing is scaled by it.
    e2 = 1 - U * math.exp(-5 * DT / tau)
    s = jnp.asarray(pre)
    _, (sent, _) = jax.lax.scan(lambda p, x: fstdp.presynaptic(p, x, DT), PreState.rested(1), s)
    np.testing.assert_allclose(np.asarray(sent)[[0, 5], 0], [1.0, e2], rtol=1e-6)
    plain = rule_delta(rule, jnp.zeros((1, 1)), pre, post, 10)[0, 0]
    fatigued = rule_delta(fstdp, jnp.zeros((1, 1)), pre, post, 10)[0, 0]
    assert plain == approx(0.1 * (math.exp(-5 * DT / 0.01) + 1), rel=1e-5)
    assert fatigued == approx(0.1 * (math.exp(-5 * DT / 0.01) + e2), rel=1e-5)


def test_multiplicative_dependence_scales_with_the_headroom():
    rule = STDP(a_plus=0.1, a_minus=0.1, tau_plus_s=0.01, tau_minus_s=0.01, mu=1.0)
    W = jnp.array([[0.2], [0.6]])
    pre = np.zeros((20, 2), np.float32)
    post = np.zeros((20, 1), np.float32)
    pre[3] = 1
    post[3] = 1
    up = rule_delta(rule, W, pre, post, 20)[:, 0]
    np.testing.assert_allclose(up, 0.1 * np.array([0.8, 0.4]), rtol=1e-5)
    pre2, post2 = post.copy()[:, [0, 0]], np.zeros((20, 1), np.float32)
    post2[2] = 1
    down = rule_delta(rule, W, pre2, post2, 20)[:, 0]
    np.testing.assert_allclose(down, -0.1 * math.exp(-DT / 0.01) * np.array([0.2, 0.6]), rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), mu=st.sampled_from([0.0, 0.5, 1.0]))
def test_weights_stay_within_their_bounds(seed, mu):
    rng = np.random.default_rng(seed)
    rule = STDP(a_plus=2.0, a_minus=2.0, tau_plus_s=0.02, tau_minus_s=0.02, a_post=0.5, mu=mu)
    W = jnp.asarray(rng.random((4, 3)), jnp.float32)
    pre = (rng.random((10, 4)) < 0.5).astype(np.float32)
    post = (rng.random((10, 3)) < 0.5).astype(np.float32)
    after = np.asarray(W) + rule_delta(rule, W, pre, post, 10)
    assert np.all(after >= rule.w_min - 1e-6) and np.all(after <= rule.w_max + 1e-6)


def test_rule_settings_are_checked():
    with pytest.raises(ValueError, match="a_minus"):
        STDP(a_plus=0.1, a_minus=-0.1, tau_plus_s=0.01, tau_minus_s=0.01)
    with pytest.raises(ValueError, match="tau_plus_s"):
        STDP(a_plus=0.1, a_minus=0.1, tau_plus_s=0.0, tau_minus_s=0.01)
    with pytest.raises(ValueError, match="mu"):
        STDP(a_plus=0.1, a_minus=0.1, tau_plus_s=0.01, tau_minus_s=0.01, mu=2.0)
    with pytest.raises(ValueError, match="w_max"):
        STDP(a_plus=0.1, a_minus=0.1, tau_plus_s=0.01, tau_minus_s=0.01, w_max=0.0)
    with pytest.raises(ValueError, match="use"):
        Fatigue(0.0, 1.0)
    with pytest.raises(ValueError, match="tau_s"):
        Fatigue(0.5, -1.0)
    with pytest.raises(ValueError, match="threshold_pulses"):
        PulseSchedule(-1.0)


# --- pulse schedule and depression modes --------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    total=st.floats(-1.0, 1.0, allow_subnormal=False),
    threshold=st.sampled_from([0.0, 0.5, 1.0, 2.5]),
)
def test_schedule_writes_whole_pulses_and_keeps_the_rest(total, threshold):
    quantum = 0.075
    request, rest = PulseSchedule(threshold).split(jnp.float32(total), quantum)
    request, rest = float(request), float(rest)
    assert request + rest == approx(total, abs=1e-6)
    if threshold == 0:
        assert rest == 0
        return
    n = request / quantum
    assert n == approx(round(n), abs=1e-4)
    if abs(total) < threshold * quantum:
        assert request == 0
    else:
        assert abs(request) >= quantum * 0.9999 and np.sign(request) == np.sign(total)
        assert abs(rest) <= max(quantum / 2, abs(total) - quantum) + 1e-6


@functools.cache
def _pcm_factory(rows: int, cols: int, n: int):
    chip = load_chip("pcm_256", {"tile.devices_per_side": n})

    def create(key, w):
        weights = jnp.full((rows, cols), w)
        tile = PCMTile.create(chip, key=key, rows=rows, cols=cols, weights=weights)
        return tile.with_drift_compensation(False)

    return jax.jit(create, compiler_options=FAST_COMPILE)


def _pcm(rows=4, cols=3, w=0.5, key=0, n=1) -> PCMTile:
    """A PCM tile (pcm_256 with n devices per side) programmed to ``w`` everywhere."""
    return _pcm_factory(rows, cols, n)(jax.random.key(key), w)


read_weights = jax.jit(
    lambda tile, t, key: tile.read_weights(t, key=key), compiler_options=FAST_COMPILE
)


def test_pending_changes_are_written_once_they_reach_the_threshold():
    tile = _pcm()
    q = tile.dw_pulse
    dW = jnp.zeros((4, 3)).at[0, 0].set(0.6 * q).at[1, 1].set(-0.6 * q)
    schedule = PulseSchedule(1.0)
    tile1, pending = apply_delta(tile, dW, None, 1.0, key=jax.random.key(1), schedule=schedule)
    assert float(tile1.ledger.count("set_pulses")) == float(tile.ledger.count("set_pulses"))
    np.testing.assert_allclose(pending, dW)
    tile2, pending = apply_delta(
        tile1, pending + dW, None, 2.0, key=jax.random.key(2), schedule=schedule
    )
    # 1.2 quanta each: one pulse on G+ of (0, 0) and one on G− of (1, 1); 0.2 quanta stay.
    assert float(tile2.ledger.count("set_pulses") - tile1.ledger.count("set_pulses")) == 2
    np.testing.assert_allclose(pending, 0.2 * dW / 0.6, atol=1e-7)
    g0, g1 = np.asarray(tile1.devices.g_prog_S), np.asarray(tile2.devices.g_prog_S)
    moved = g1 != g0
    assert moved[0, 0, 0, 0] and moved[1, 0, 1, 1] and moved.sum() == 2


def test_exact_tiles_take_every_change_at_once():
    tile = IdealTile.create(4, 3, weights=jnp.full((4, 3), 0.5))
    dW = jnp.arange(12.0).reshape(4, 3) * 1e-3 - 4e-3
    for depression in ("pair", "reset"):
        after, pending = apply_delta(
            tile, dW, tile.weights, 0.0, key=jax.random.key(0), depression=depression
        )
        np.testing.assert_allclose(after.weights, 0.5 + dW, rtol=1e-6)
        assert np.all(np.asarray(pending) == 0)


@pytest.mark.parametrize("n", [1, 2])
def test_reset_and_reprogram_lowers_the_weight_with_two_resets_per_device_pair(n):
    tile = _pcm(n=n)
    t = 5.0
    W_read, tile = read_weights(tile, t, jax.random.key(3))
    dW = jnp.zeros((4, 3)).at[0, 1].set(-0.2).at[2, 2].set(-0.3).at[3, 0].set(2 * tile.dw_pulse)
    after = reprogram(tile, dW, W_read, t, jax.random.key(4))
    W = np.asarray(after.true_weights())
    g_before, g_after = np.asarray(tile.devices.g_prog_S), np.asarray(after.devices.g_prog_S)
    untouched = np.asarray(dW) == 0
    np.testing.assert_array_equal(g_after[..., untouched], g_before[..., untouched])
    for i, j in ((0, 1), (2, 2)):
        target = float(W_read[i, j] + dW[i, j])
        g_target = target / (after.w_scale * n)
        sigma = float(sigma_prog_S(g_target)) * after.w_scale
        # G+ devices are programmed (noise σ each, n of them); the RESET G− devices hold
        # about g_reset = 0.1 µS each (JAP 2018).
        g_reset = 0.1e-6 * after.w_scale * n
        assert abs(W[i, j] - (target - g_reset)) <= Z * sigma * math.sqrt(n) + 0.5 * g_reset
    # The potentiated synapse got its two SET pulses on its G+ device(s).
    assert np.sum(g_after[0, :, 3, 0] != g_before[0, :, 3, 0]) == 1  # the arbiter's device
    assert np.all(g_after[1, :, 3, 0] == g_before[1, :, 3, 0])
    ledger, before = after.ledger, tile.ledger
    assert float(ledger.count("reset_pulses") - before.count("reset_pulses")) == 2 * 2 * n
    # Two SET pulses of the potentiation; program-and-verify (10 SET + verify iterations in
    # pcm_gst_pulse) of the n G+ devices of each of the two lowered synapses.
    assert float(ledger.count("set_pulses") - before.count("set_pulses")) == 2 + 2 * n * 10
    assert float(ledger.count("update_events") - before.count("update_events")) == 3
    # 20 pJ per RESET pulse (the preset's value).
    assert float(ledger.energy_J("reset") - before.energy_J("reset")) == approx(
        4 * n * 20e-12, rel=1e-5
    )


def test_reset_and_reprogram_works_block_by_block_on_a_tiled_matrix():
    blocks = tuple(_pcm(key=k) for k in range(2))
    matrix = TiledMatrix(blocks=blocks, row_edges=(0, 4, 8), col_edges=(0, 3))
    W_read, matrix = read_weights(matrix, 1.0, jax.random.key(0))
    dW = jnp.zeros((8, 3)).at[7, 2].set(-0.25)
    after = reprogram(matrix, dW, W_read, 1.0, jax.random.key(1))
    assert float(after.blocks[0].ledger.count("reset_pulses")) == float(
        matrix.blocks[0].ledger.count("reset_pulses")
    )
    assert (
        float(after.blocks[1].ledger.count("reset_pulses"))
        == float(matrix.blocks[1].ledger.count("reset_pulses")) + 2
    )
    assert float(after.true_weights()[7, 2]) < float(matrix.true_weights()[7, 2]) - 0.1


@pytest.mark.parametrize("depression", ["pair", "reset"])
def test_pcm_runs_book_their_update_energy(depression):
    source = PoissonSpikes.create(np.full(12, 30.0))
    rule = STDP(0.2, 0.05, 0.01, 0.02, a_post=0.01, fatigue=Fatigue(0.5, 0.5))
    lif = LIF(count=2, tau_m_s=0.005, psp_V=0.05)
    net = SpikingNetwork(lif=lif, rule=rule, window_steps=10, depression=depression)
    tile = _pcm(rows=12, cols=2)
    state = init_state(net, 12)
    run = jax.jit(
        lambda tile, key: run_windows(net, tile, source, state, 200, key=key),
        compiler_options=FAST_COMPILE,
    )
    after, _, traces = run(tile, jax.random.key(0))
    ledger, before = after.ledger, tile.ledger
    events = float(ledger.count("update_events") - before.count("update_events"))
    assert float(np.sum(traces["post_counts"])) > 0 and events > 0
    assert float(ledger.count("update_calls") - before.count("update_calls")) == 200
    programming = sum(float(ledger.energy_J(k)) for k in ("set", "reset", "refresh"))
    assert float(ledger.per_update_event_J) == approx(
        programming / float(ledger.count("update_events")), rel=1e-5
    )
    resets = float(ledger.count("reset_pulses") - before.count("reset_pulses"))
    assert (resets > 0) == (depression == "reset")
    # Every step reads the array once: one DAC conversion per row and one ADC per column.
    assert float(ledger.count("mvm_vectors") - before.count("mvm_vectors")) == 2000


# --- the benchmark (the example jobs) -----------------------------------------------------------


def run_example(name: str, folder, *, seed: int = 0, duration_s: float | None = None):
    """The run record of ``examples/<name>.yaml`` (optionally shortened to ``duration_s``)."""
    changes = {} if duration_s is None else {"simulation.duration_s": duration_s}
    path = example_job(folder / f"{name}_{seed}.yaml", name, changes)
    return run_job(load_job(path), path.with_suffix(".h5"), seed=seed, progress=False)


def rate_means(record) -> dict[str, float]:
    """Final mean weight of the neuron on each uncorrelated rate group."""
    return {g: float(record.metrics[f"mean_weight_{g}"][-1][0]) for g in ("r10", "r20", "r50")}


def test_scores():
    assert auc([3, 4], [1, 2]) == 1.0
    assert auc([1, 2], [3, 4]) == 0.0
    assert auc([1], [1]) == 0.5
    flat, means = rate_flatness(
        np.array([9.0, 1.0, 2.0, 2.0, 3.0]),
        np.array([10, 10, 10, 20, 20]),
        np.array([False, True, True, True, True]),
    )
    assert means == {10.0: 1.5, 20.0: 2.5}
    assert flat == approx(2.5 / 1.5)
    # The AUC of two score sets is scikit-learn's ROC AUC (ties count one half).
    rng = np.random.default_rng(0)
    pos = rng.normal(0.5, 1.0, 40)
    neg = np.r_[rng.normal(0.0, 1.0, 30), pos[:5]]
    labels = np.r_[np.ones(pos.size), np.zeros(neg.size)]
    assert auc(pos, neg) == approx(roc_auc_score(labels, np.r_[pos, neg]), rel=1e-12)


def test_fstdp_finds_the_timing_code_where_stdp_follows_the_rates(tmp_path):
    """The benchmark jobs shortened to 20 s of simulated time, on ideal tiles."""
    fstdp = run_example("fstdp_ideal", tmp_path, duration_s=20.0)
    stdp = run_example("stdp_ideal", tmp_path, duration_s=20.0)
    assert fstdp.final["auc"] >= 0.95 and fstdp.final["flatness"] <= 1.15
    assert stdp.final["auc"] <= 0.6
    means = rate_means(stdp)
    assert means["r50"] > means["r20"] > means["r10"]
    assert 5.0 < fstdp.final["post_rate_Hz"] < 50.0
