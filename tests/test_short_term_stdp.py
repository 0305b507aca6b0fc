"""Short-term STDP (issue 14): F's growth and decay against the closed form for a regular pair
train, its bound, τ_F → 0 as exactly the W-only network, and resting neurons between images."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memxbar.algorithms.snn import (
    LIF,
    STDP,
    PoissonSpikes,
    RateCodedImages,
    ShortTermState,
    ShortTermSTDP,
    SpikingNetwork,
    init_state,
    run_windows,
    simulate,
)
from memxbar.crossbar import DigitalFastTile, IdealTile
from memxbar.hw_configs import InvalidParameter

DT = 1e-3


def digital_fast(rule: ShortTermSTDP, rows: int, cols: int) -> DigitalFastTile:
    return DigitalFastTile.create(*rule.tile_parameters(rows, cols, DT))


def pair_train_run(rule: ShortTermSTDP, period: int, pairs: int, silent_periods: int):
    """Input 0 spikes every ``period`` steps for ``pairs`` periods, then is silent; it drives
    neuron 0 over threshold with every spike (one spike, weight 1, psp 20 mV), so each pre
    spike is paired with a post spike in the same step. Input 1 is silent, neuron 1 has no
    weight. Returns F (windows, 2, 2) at the end of every window of ``period`` steps."""
    frame = np.zeros((period, 2), np.float32)
    frame[0, 0] = 1.0
    images = np.concatenate([np.tile(frame, (pairs, 1)), np.zeros((period * silent_periods, 2))])
    # p = image · max_rate · dt = 1: a spike exactly where the image is 1.
    sources = RateCodedImages.create(images, max_rate_Hz=1.0 / DT, steps_per_image=1)
    lif = LIF(count=2, tau_m_s=0.020, psp_V=0.020, refractory_s=0.0)
    net = SpikingNetwork(
        lif=lif,
        rule=None,
        short_term=rule,
        window_steps=period,
        record_fast=True,
        record_raster=True,
    )
    tile = IdealTile.create(2, 2, weights=jnp.array([[1.0, 0.0], [0.0, 0.0]]))
    state = init_state(net, 2, fast=digital_fast(rule, 2, 2))
    steps = images.shape[0]

    _, _, traces = run_windows(net, tile, sources, state, steps // period, key=jax.random.key(0))
    raster = np.asarray(traces["raster"])
    expected = np.zeros((steps, 2), bool)
    expected[: pairs * period : period, 0] = True
    np.testing.assert_array_equal(raster, expected)  # the pairing the closed form assumes
    return np.asarray(traces["fast"], np.float64)


@pytest.mark.parametrize("tau_fast_s, tau_pre_s, period", [(0.1, 0.02, 5), (0.03, 0.005, 3)])
def test_fast_term_grows_and_decays_as_the_closed_form(tau_fast_s, tau_pre_s, period):
    rule = ShortTermSTDP(tau_fast_s=tau_fast_s, tau_pre_s=tau_pre_s, gain=0.01)
    pairs, silent = 12, 8
    fast = pair_train_run(rule, period, pairs, silent)
    # Per period: a = λ_F^P, b = λ_pre^P; the trace at pairing k is (1 − b^(k+1))/(1 − b), and
    # F at the end of period n is γ Σ_k a^(n−k+1) x̄_k, summed in closed form.
    a = math.exp(-period * DT / tau_fast_s)
    b = math.exp(-period * DT / tau_pre_s)
    g = rule.gain
    grown = [
        g
        / (1 - b)
        * (a * (1 - a ** (n + 1)) / (1 - a) - a * b * (b ** (n + 1) - a ** (n + 1)) / (b - a))
        for n in range(pairs)
    ]
    np.testing.assert_allclose(fast[:pairs, 0, 0], grown, rtol=2e-5)
    # Then pure exponential decay: F(t) = F_end exp(−t/τ_F).
    decayed = grown[-1] * np.exp(-np.arange(1, silent + 1) * period * DT / tau_fast_s)
    np.testing.assert_allclose(fast[pairs:, 0, 0], decayed, rtol=2e-5)
    # Only the paired synapse changes; F never exceeds the rule's bound.
    assert np.all(fast[:, 1, :] == 0) and np.all(fast[:, :, 1] == 0)
    assert fast.max() <= rule.bound_weight(DT)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    tau_fast_ms=st.floats(1.0, 500.0),
    tau_pre_ms=st.floats(1.0, 100.0),
    p_pre=st.floats(0.0, 1.0),
    p_post=st.floats(0.0, 1.0),
)
def test_fast_term_stays_between_zero_and_its_bound(seed, tau_fast_ms, tau_pre_ms, p_pre, p_post):
    rule = ShortTermSTDP(tau_fast_s=tau_fast_ms / 1e3, tau_pre_s=tau_pre_ms / 1e3, gain=0.1)
    rng = np.random.default_rng(seed)
    pre = (rng.random((100, 3)) < p_pre).astype(np.float32)
    post = (rng.random((100, 2)) < p_post).astype(np.float32)
    state = ShortTermState.rested(digital_fast(rule, 3, 2))
    for x, z in zip(pre, post, strict=True):
        state = state.advance(rule, jnp.asarray(x), jnp.asarray(z), DT, key=None)
        F = np.asarray(state.fast.true_weights())
        assert F.min() >= 0.0
        assert F.max() <= rule.bound_weight(DT) * (1 + 1e-5)


def test_no_fast_term_at_tau_zero_is_exactly_the_w_only_network():
    rates = np.full(40, 30.0)
    sources = PoissonSpikes.create(rates)
    lif = LIF(count=4, tau_m_s=0.020, psp_V=0.004, winner_take_all=True)
    rule = STDP(a_plus=0.01, a_minus=0.012, tau_plus_s=0.02, tau_minus_s=0.02)
    common = dict(lif=lif, rule=rule, window_steps=10, record_raster=True)
    weights = jax.random.uniform(jax.random.key(1), (40, 4), minval=0.2, maxval=0.8)
    runs = []
    for short_term in (None, ShortTermSTDP(tau_fast_s=0.0, gain=0.5)):
        net = SpikingNetwork(short_term=short_term, **common)
        fast = None if short_term is None else digital_fast(short_term, 40, 4)
        state = init_state(net, 40, fast=fast)
        tile = IdealTile.create(40, 4, weights=weights)
        tile, _, traces = run_windows(net, tile, sources, state, 50, key=jax.random.key(2))
        runs.append((np.asarray(traces["raster"]), np.asarray(tile.true_weights())))
    assert runs[0][0].sum() > 20  # the comparison is about a network that fires
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    # And a nonzero τ_F does change it (the comparison can fail).
    net = SpikingNetwork(short_term=ShortTermSTDP(tau_fast_s=0.1, gain=0.5), **common)

    state = init_state(net, 40, fast=digital_fast(net.short_term, 40, 4))
    _, _, traces = run_windows(
        net, IdealTile.create(40, 4, weights=weights), sources, state, 50, key=jax.random.key(2)
    )
    assert not np.array_equal(np.asarray(traces["raster"]), runs[0][0])


def test_resting_neurons_forget_the_charge_of_earlier_steps():
    # Two inputs at 1 kHz-equivalent (a spike every step) through weight 1 with 6 mV per spike:
    # one step never reaches the 16 mV threshold, three do.
    images = np.ones((30, 2), np.float32)
    sources = RateCodedImages.create(images, max_rate_Hz=1.0 / DT, steps_per_image=1)
    lif = LIF(count=1, tau_m_s=1.0, psp_V=0.003)
    tile = IdealTile.create(2, 1, weights=jnp.ones((2, 1)))
    counts = {}
    for rest in (0, 1, 2, 3):
        net = SpikingNetwork(lif=lif, rule=None, window_steps=6, rest_every_steps=rest)
        _, traces = simulate(net, tile, sources, 30, key=jax.random.key(0))
        counts[rest] = int(np.asarray(traces["post_counts"]).sum())
    assert counts[1] == counts[2] == 0  # never 3 steps of charge
    assert counts[3] == 10  # fires at the 3rd step of each 3 (rest also ends refractoriness)
    assert counts[0] == 6  # no rest: 3 steps of charge, then 2 refractory steps, 30/5 spikes


def test_settings_are_checked_at_construction():
    with pytest.raises(InvalidParameter, match="tau_pre_s"):
        ShortTermSTDP(tau_pre_s=0.0)
    with pytest.raises(InvalidParameter, match="gain"):
        ShortTermSTDP(gain=-1.0)
    lif = LIF(count=2, tau_m_s=0.02, psp_V=0.001)
    with pytest.raises(InvalidParameter, match="record_fast"):
        SpikingNetwork(lif=lif, rule=None, record_fast=True)
    net = SpikingNetwork(lif=lif, rule=None, short_term=ShortTermSTDP())
    with pytest.raises(ValueError, match="fast-weight tile"):
        init_state(net, 3)
    with pytest.raises(ValueError, match="3 × 2"):
        init_state(net, 3, fast=digital_fast(net.short_term, 4, 2))
