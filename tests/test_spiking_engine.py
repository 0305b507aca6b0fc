"""The spiking engine: LIF dynamics, spike sources, fatigue statistics, and the chunked runner.

Statistical tolerances are Z standard errors of the quantity tested (Z = 4.5: a false
alarm once in ~150,000 checks), with the standard error derived from the distribution named
at each test; the seeds are fixed.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import approx

from memxbar.algorithms.snn import (
    LIF,
    STDP,
    Fatigue,
    PoissonSpikes,
    PreState,
    PulseSchedule,
    RateCodedImages,
    SpikingNetwork,
    init_state,
    run_chunk,
    run_windows,
    simulate,
)
from memxbar.crossbar import IdealTile
from memxbar.hw_configs import ConfigError, InvalidParameter, build
from memxbar.runtime.data.correlated import correlation_benchmark

Z = 4.5


def neurons(**settings) -> LIF:
    """One LIF neuron (τ_m = 20 ms, 1 mV per spike of weight 1) with ``settings`` changed."""
    return LIF(**({"count": 1, "tau_m_s": 0.020, "psp_V": 1e-3} | settings))


def drive(lif: LIF, current_A, n_steps: int, dt_s: float):
    """(v after each step (steps, count), spikes (steps, count)) under a constant current."""
    current = jnp.broadcast_to(jnp.asarray(current_A, jnp.float32), (lif.count,))

    def body(state, _):
        state, z = lif.step(state, current, dt_s)
        return state, (state.v_V, z)

    _, (v, z) = jax.lax.scan(body, lif.init(), None, length=n_steps)
    return np.asarray(v, np.float64), np.asarray(z)


# --- LIF ---------------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(
    tau_m_s=st.floats(1e-3, 0.1),
    dt_s=st.sampled_from([1e-4, 5e-4, 1e-3]),
    drive_V=st.floats(-0.02, 0.03),
)
def test_membrane_follows_the_analytical_solution_for_constant_input(tau_m_s, dt_s, drive_V):
    lif = neurons(tau_m_s=tau_m_s, v_threshold_V=1.0, resistance_Ohm=1e8)
    current = drive_V / lif.resistance_Ohm
    v, z = drive(lif, current, 200, dt_s)
    t = dt_s * np.arange(1, 201)
    exact = lif.v_rest_V + drive_V * (1.0 - np.exp(-t / tau_m_s))
    # float32 state: a few ulps of |v| ≈ 0.1 V per step, accumulated over 200 steps.
    np.testing.assert_allclose(v[:, 0], exact, rtol=0, atol=2e-6)
    assert z.sum() == 0


def test_neuron_parameters_can_be_swept_under_vmap():
    taus = [0.005, 0.02, 0.05]
    stacked = jax.tree.map(
        lambda *x: jnp.stack(x), *[neurons(tau_m_s=t, v_threshold_V=1.0) for t in taus]
    )
    current = jnp.full(1, 0.01 / 1e8)

    def run(lif):
        def body(state, _):
            state, _ = lif.step(state, current, 1e-3)
            return state, state.v_V[0]

        return jax.lax.scan(body, neurons().init(), None, length=50)[1]

    v = np.asarray(jax.vmap(run)(stacked), np.float64)
    t = 1e-3 * np.arange(1, 51)
    for i, tau in enumerate(taus):
        np.testing.assert_allclose(v[i], -0.070 + 0.01 * (1 - np.exp(-t / tau)), atol=2e-6)


def test_synaptic_current_delivers_the_charge_of_its_input():
    dt = 1e-3
    for tau_syn in (0.0, 0.005):
        lif = neurons(tau_syn_s=tau_syn, psp_V=1.5e-3)
        state = lif.init()
        charge = 0.0
        for n in range(200):
            current = lif.synaptic_current_A(jnp.array([2.0 if n == 0 else 0.0]), dt)
            state, _ = lif.step(state, current, dt)
            charge += float(state.i_syn_A[0]) * dt
        # A jump of psp_V = R q / τ_m: q = 1.5 mV · 20 ms / 100 MOhm per unit of output.
        assert charge == approx(2.0 * 3e-13, rel=1e-5)


def _steps_to_threshold(lif: LIF, drive_V: float, dt_s: float) -> int:
    """Steps from v_reset to the first v ≥ threshold, from the closed-form solution."""
    alpha = math.exp(-dt_s / lif.tau_m_s)
    k = 1
    while True:
        v = lif.v_rest_V + drive_V + (lif.v_reset_V - lif.v_rest_V - drive_V) * alpha**k
        if v >= lif.v_threshold_V:
            # A margin from the threshold keeps float32 rounding from moving the spike.
            assert v - lif.v_threshold_V > 1e-5
            return k
        k += 1


@pytest.mark.parametrize(("refractory_s", "n_ref"), [(0.0, 0), (0.002, 2), (0.005, 5)])
def test_reset_and_refractory_give_the_analytical_spike_times(refractory_s, n_ref):
    dt = 1e-3
    lif = neurons(v_reset_V=-0.065, refractory_s=refractory_s, resistance_Ohm=1e8)
    drive_V = 0.03
    v, z = drive(lif, drive_V / lif.resistance_Ohm, 400, dt)
    first = _steps_to_threshold(eqx.tree_at(lambda m: m.v_reset_V, lif, lif.v_rest_V), drive_V, dt)
    assert int(lif.refractory_steps(dt)) == n_ref  # refractory_s / dt steps held
    period = n_ref + _steps_to_threshold(lif, drive_V, dt)
    spikes = np.flatnonzero(z[:, 0])
    expected = np.arange(first - 1, 400, period)
    np.testing.assert_array_equal(spikes, expected)
    for s in spikes:
        held = v[s : s + 1 + n_ref, 0]
        np.testing.assert_array_equal(held, np.float32(lif.v_reset_V))


def test_winner_take_all_lets_only_the_most_depolarised_neuron_fire():
    dt = 1e-3
    lif = neurons(count=3, winner_take_all=True, refractory_s=0.0)
    free = neurons(count=3, refractory_s=0.0)
    drives = jnp.array([0.020, 0.030, 0.025]) / lif.resistance_Ohm
    state = lif.init()
    winners = []
    for _ in range(200):
        # What each neuron would reach this step, and whether it would fire, without the WTA.
        _, would_fire = free.step(state, drives, dt)
        v_free = free.v_rest_V + (state.v_V - free.v_rest_V) * math.exp(-dt / free.tau_m_s)
        v_free = v_free + drives * free.resistance_Ohm * (1 - math.exp(-dt / free.tau_m_s))
        state, z = lif.step(state, drives, dt)
        z, would_fire = np.asarray(z), np.asarray(would_fire)
        assert z.sum() == (1 if would_fire.any() else 0)
        if z.any():
            candidates = np.where(would_fire > 0, np.asarray(v_free), -np.inf)
            assert np.argmax(z) == np.argmax(candidates)
            winners.append(int(np.argmax(z)))
    assert len(set(winners)) > 1


def test_lateral_inhibition_lowers_the_other_neurons_by_its_amount():
    inhibited = neurons(count=2, lateral_inhibition_V=0.004, refractory_s=0.0)
    free = neurons(count=2, refractory_s=0.0)
    drives = jnp.array([0.03, 0.010]) / free.resistance_Ohm
    v_inh, z_inh = drive(inhibited, drives, 60, 1e-3)
    v_free, z_free = drive(free, drives, 60, 1e-3)
    first = int(np.flatnonzero(z_free[:, 0])[0])
    np.testing.assert_array_equal(z_inh[: first + 1], z_free[: first + 1])
    assert v_free[first, 1] - v_inh[first, 1] == approx(0.004, abs=1e-6)
    assert np.all(v_inh[:first, 1] == v_free[:first, 1])


def test_lif_rejects_impossible_settings():
    with pytest.raises(ValueError, match="v_threshold_V.*must exceed v_reset_V"):
        neurons(v_threshold_V=-0.08)
    with pytest.raises(ValueError, match="tau_m_s.*> 0"):
        neurons(tau_m_s=0.0)
    with pytest.raises(ValueError, match="refractory_s.*≥ 0"):
        neurons(refractory_s=-1e-3)
    with pytest.raises(ValueError, match="psp_V.*finite"):
        neurons(psp_V=math.inf)
    with pytest.raises(ValueError, match="count.*integer"):
        neurons(count=2.5)


# --- spike sources -----------------------------------------------------------------------------


def test_poisson_rates_within_sampling_error():
    rates = np.repeat([0.0, 2.0, 10.0, 35.0, 100.0], 20)
    source = PoissonSpikes.create(rates)
    dt, n = 1e-3, 20_000
    spikes = np.asarray(source.sample(0, n, dt, key=jax.random.key(0)))
    assert set(np.unique(spikes)) <= {0.0, 1.0}
    for r in np.unique(rates):
        count = spikes[:, rates == r].sum()
        trials = n * np.sum(rates == r)
        p = r * dt
        # The count of a group is Binomial(trials, p).
        assert abs(count - trials * p) <= Z * math.sqrt(trials * p * (1 - p)) + 1e-9
    # Independent inputs: coincidences of two inputs at 100 Hz are Binomial(n, p²).
    a, b = spikes[:, -1], spikes[:, -2]
    p2 = (100 * dt) ** 2
    assert abs(np.sum(a * b) - n * p2) <= Z * math.sqrt(n * p2 * (1 - p2))


def test_engine_draws_the_rates_it_is_given():
    rates = np.array([5.0, 20.0, 50.0])
    source = PoissonSpikes.create(np.repeat(rates, 10))
    net = SpikingNetwork(lif=neurons(), rule=None, window_steps=20, record_inputs=True)
    tile = IdealTile.create(30, 1)
    _, traces = simulate(net, tile, source, 20_000, key=jax.random.key(1))
    counts = np.asarray(traces["pre_counts"]).sum(0)
    for i, r in enumerate(rates):
        trials, p = 20_000 * 10, r * 1e-3
        group = counts[10 * i : 10 * (i + 1)].sum()
        assert abs(group - trials * p) <= Z * math.sqrt(trials * p * (1 - p))


@pytest.mark.parametrize(("rate", "mother", "c"), [(20.0, None, 0.25), (20.0, 40.0, 0.4)])
def test_correlated_inputs_copy_the_mother_with_probability_c(rate, mother, c):
    n_in, n, dt = 40, 40_000, 1e-3
    source = PoissonSpikes.create(
        np.full(n_in, rate),
        groups=np.zeros(n_in, int),
        copy_prob=c,
        mother_rates_Hz=None if mother is None else [mother],
    )
    spikes, mothers = source.sample_with_mothers(0, n, dt, key=jax.random.key(2))
    spikes, m = np.asarray(spikes), np.asarray(mothers)[:, 0].astype(bool)
    # An input fires in a step with p = r dt = c p_m + (1 − c) p_own: its own spikes make up
    # what the copies of the mother (p_m = r_m dt) leave.
    p_mother = (rate if mother is None else mother) * dt
    p_own = (rate * dt - c * p_mother) / (1 - c)
    assert float(source.own_probability(dt)[0]) == approx(p_own, rel=1e-5)
    # Given the mother, every input fires independently: in mother steps with probability
    # q1 = c + (1 − c) p_own, elsewhere with q0 = (1 − c) p_own. Counts are binomial.
    for steps, q in ((m, c + (1 - c) * p_own), (~m, (1 - c) * p_own)):
        trials = n_in * steps.sum()
        hits = spikes[steps].sum()
        assert abs(hits / trials - q) <= Z * math.sqrt(q * (1 - q) / trials)
    c_hat = (spikes[m].mean() - p_own) / (1 - p_own)
    se = math.sqrt((c + (1 - c) * p_own) * (1 - c - (1 - c) * p_own) / (n_in * m.sum()))
    assert abs(c_hat - c) <= Z * se / (1 - p_own)
    # Each input keeps its rate: its count is Binomial(n, r dt) overall.
    p = rate * dt
    assert abs(spikes.sum() - n_in * n * p) <= Z * math.sqrt(n_in * n * p * (1 - p))


def test_correlation_benchmark_layout():
    bench = correlation_benchmark()
    assert bench.sources.n_inputs == 100
    assert bench.correlated.sum() == 20
    np.testing.assert_array_equal(bench.rates_Hz[bench.correlated], 10.0)
    rates, counts = np.unique(bench.rates_Hz[~bench.correlated], return_counts=True)
    np.testing.assert_array_equal(rates, [10, 20, 35, 50])
    np.testing.assert_array_equal(counts, 20)
    np.testing.assert_allclose(np.asarray(bench.sources.copy_prob)[bench.correlated], 0.25)


def test_rate_coded_images_follow_the_pixels_and_switch_images():
    images = np.array([[1.0, 0.0, 0.5, 0.25], [0.0, 1.0, 0.5, 0.0]])
    source = RateCodedImages.create(images, max_rate_Hz=100.0, steps_per_image=50)
    n, dt = 20_000, 1e-3
    spikes = np.asarray(source.sample(0, n, dt, key=jax.random.key(5)))
    shown = (np.arange(n) // 50) % 2
    for k in range(2):
        rows = spikes[shown == k]
        for j in range(4):
            p = images[k, j] * 100 * dt
            trials = rows.shape[0]
            assert abs(rows[:, j].sum() - trials * p) <= Z * math.sqrt(trials * p * (1 - p)) + 1e-9
    # A window that starts mid-run shows the image of its steps.
    late = np.asarray(source.sample(50, 50, dt, key=jax.random.key(6)))
    assert late[:, 0].sum() == 0


def test_sources_reject_bad_input():
    with pytest.raises(ValueError, match="rates_Hz"):
        PoissonSpikes.create([1.0, -2.0])
    with pytest.raises(ValueError, match="copy_prob"):
        PoissonSpikes.create([1.0, 1.0], groups=[0, 0], copy_prob=1.0)
    with pytest.raises(ValueError, match="mixes rates"):
        PoissonSpikes.create([1.0, 2.0], groups=[0, 0], copy_prob=0.5)
    with pytest.raises(ValueError, match="cannot keep its rate"):
        PoissonSpikes.create([1.0, 1.0], groups=[0, 0], copy_prob=0.5, mother_rates_Hz=[5.0])
    with pytest.raises(ValueError, match="groups"):
        PoissonSpikes.create([1.0, 1.0], groups=[0])
    with pytest.raises(ValueError, match="intensities"):
        RateCodedImages.create(np.full((2, 3), 2.0), max_rate_Hz=10.0, steps_per_image=5)
    with pytest.raises(ValueError, match="steps_per_image"):
        RateCodedImages.create(np.zeros((2, 3)), max_rate_Hz=10.0, steps_per_image=0)


# --- fatigue -----------------------------------------------------------------------------------


def discrete_mean_efficacy(use, rate_Hz, tau_s, dt_s) -> float:
    """Stationary E[e] of the per-step fatigue recursion e ← 1 − (1 − e (1 − U s)) d with
    d = exp(−dt/τ) and Bernoulli spikes s (p = r dt) independent of e: m = 1 − (1 − m (1 − U p)) d,
    so m = (1 − d) / (1 − d (1 − U p))."""
    one_minus_d, p = -math.expm1(-dt_s / tau_s), rate_Hz * dt_s
    return one_minus_d / (one_minus_d + (1 - one_minus_d) * use * p)


@pytest.mark.parametrize(("rate", "use", "tau_f"), [(20.0, 0.5, 0.5), (50.0, 0.2, 1.0)])
def test_fatigue_steady_state_matches_the_exact_mean(rate, use, tau_f):
    fatigue = Fatigue(use, tau_f)
    rule = STDP(0.0, 0.0, 0.01, 0.01, fatigue=fatigue)
    n_syn, dt, burn, n = 400, 1e-3, 2000, 20_000
    source = PoissonSpikes.create(np.full(n_syn, rate))
    spikes = source.sample(0, burn + n, dt, key=jax.random.key(7))

    def body(pre, s):
        before = pre.efficacy
        pre, (sent, _) = rule.presynaptic(pre, s, dt)
        return pre, (before, sent)

    _, (efficacy, sent) = jax.lax.scan(body, PreState.rested(n_syn), spikes)
    efficacy, sent = np.asarray(efficacy)[burn:], np.asarray(sent)[burn:]
    exact = discrete_mean_efficacy(use, rate, tau_f, dt)
    assert float(fatigue.mean_efficacy(rate, dt)) == approx(exact, rel=1e-5)
    # The transient from e = 1 decays per step by d (1 − pU): gone after the burn-in.
    assert (math.exp(-dt / tau_f) * (1 - use * rate * dt)) ** burn < 1e-6
    # Per-synapse time averages are independent across synapses: their spread gives the
    # standard error. Spikes are independent of the current e, so E[sent] = p m exactly.
    for per_synapse in (efficacy.mean(0), sent.mean(0) / (rate * dt)):
        se = per_synapse.std(ddof=1) / math.sqrt(n_syn)
        assert abs(per_synapse.mean() - exact) <= Z * se
    # The textbook 1 / (1 + U r τ_f) is within U r dt / 2 of the exact discrete mean.
    textbook = 1 / (1 + use * rate * tau_f)
    assert abs(exact - textbook) <= use * rate * dt / 2
    assert abs(efficacy.mean() - textbook) <= Z * se + use * rate * dt / 2


@settings(max_examples=200, deadline=None)
@given(
    use=st.floats(0.01, 1.0),
    rate=st.floats(0.0, 200.0),
    tau_f=st.floats(0.05, 20.0),
    dt=st.floats(1e-5, 2e-3),
)
def test_fatigue_means_are_the_stationary_solutions(use, rate, tau_f, dt):
    fatigue = Fatigue(use, tau_f)
    exact = discrete_mean_efficacy(use, rate, tau_f, dt)
    textbook = 1 / (1 + use * rate * tau_f)  # continuous-time Poisson input
    assert float(fatigue.mean_efficacy(rate, dt)) == approx(exact, rel=1e-5)
    assert float(fatigue.mean_efficacy_continuous(rate)) == approx(textbook, rel=1e-5)
    assert 0 < exact <= 1 and 0 < textbook <= 1
    # m = 1 / (1 + U p d/(1 − d)) and p d/(1 − d) = r τ q, q = x/(eˣ − 1) ∈ [1 − x/2, 1] for
    # x = dt/τ: the two differ by U r τ (1 − q) over denominators ≥ 1, at most U r dt / 2.
    assert abs(exact - textbook) <= use * rate * dt / 2 + 1e-6


# --- the chunked runner ------------------------------------------------------------------------


def _small_net(**kw):
    rule = STDP(0.05, 0.01, 0.01, 0.02, a_post=0.002, fatigue=Fatigue(0.5, 1.0))
    lif = neurons(count=2, tau_m_s=0.005, psp_V=0.02)
    return SpikingNetwork(lif=lif, rule=rule, window_steps=10, **kw)


def _small_setup():
    source = PoissonSpikes.create(
        np.r_[np.full(6, 10.0), np.full(6, 40.0)],
        groups=np.r_[np.zeros(6, int), -np.ones(6, int)],
        copy_prob=0.3,
    )
    tile = IdealTile.create(12, 2, weights=jnp.full((12, 2), 0.5))
    return source, tile


def test_same_key_same_run_and_chunking_does_not_matter():
    source, tile = _small_setup()
    net = _small_net(record_raster=True, record_inputs=True, weights_every_windows=5)
    t1, tr1 = simulate(net, tile, source, 2000, key=jax.random.key(9))
    t2, tr2 = simulate(net, tile, source, 2000, key=jax.random.key(9), chunk_steps=500)
    np.testing.assert_array_equal(t1.true_weights(), t2.true_weights())
    for name in tr1:
        np.testing.assert_array_equal(tr1[name], tr2[name])
    assert tr1["raster"].shape == (2000, 2)
    assert tr1["weights"].shape == (40, 12, 2)
    np.testing.assert_array_equal(tr1["raster"].reshape(200, 10, 2).sum(1), tr1["post_counts"])
    assert tr1["raster"].sum() > 0
    t3, _ = simulate(net, tile, source, 2000, key=jax.random.key(10))
    assert not np.array_equal(t1.true_weights(), t3.true_weights())


def test_reading_weights_less_often_changes_nothing_on_an_exact_tile():
    source, tile = _small_setup()
    every = simulate(_small_net(), tile, source, 1000, key=jax.random.key(3))[0]
    sparse = simulate(_small_net(read_every_windows=5), tile, source, 1000, key=jax.random.key(3))[
        0
    ]
    # The controller's estimate (last read plus the changes written since) is exact here.
    np.testing.assert_allclose(sparse.true_weights(), every.true_weights(), atol=1e-5)
    assert float(every.ledger.count("weight_reads")) == 100
    assert float(sparse.ledger.count("weight_reads")) == 20


def test_runs_vmap_over_seeds():
    source, tile = _small_setup()
    net = _small_net()
    state = init_state(net, 12)
    keys = jax.random.split(jax.random.key(4), 3)

    @jax.jit
    def many(keys):
        return jax.vmap(lambda k: run_windows(net, tile, source, state, 50, key=k))(keys)

    tiles, _, traces = many(keys)
    for i in range(3):
        one_tile, _, one = run_chunk(net, tile, source, state, 50, key=keys[i])
        np.testing.assert_allclose(tiles.weights[i], one_tile.weights, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(traces["post_counts"][i], one["post_counts"])


def test_runner_rejects_mismatched_shapes_and_lengths():
    source, tile = _small_setup()
    net = _small_net()
    with pytest.raises(ValueError, match="rows"):
        simulate(net, IdealTile.create(5, 2), source, 100, key=jax.random.key(0))
    with pytest.raises(
        ValueError, match=r"network.s neurons \(2\) must match the tile.s columns \(3\)"
    ):
        simulate(net, IdealTile.create(12, 3), source, 100, key=jax.random.key(0))
    with pytest.raises(ValueError, match="multiple of window_steps"):
        simulate(net, tile, source, 105, key=jax.random.key(0))
    with pytest.raises(ValueError, match="chunk_steps"):
        simulate(net, tile, source, 100, key=jax.random.key(0), chunk_steps=15)
    with pytest.raises(ValueError, match="window_steps"):
        SpikingNetwork(lif=neurons(), rule=None, window_steps=0)
    with pytest.raises(ValueError, match="depression"):
        SpikingNetwork(lif=neurons(), rule=None, depression="erase")


# --- the engine's settings are parameter classes -------------------------------------------------


def test_engine_settings_build_from_mappings_and_check_themselves_once():
    lif = build(LIF, {"count": 2, "tau_m_s": 0.005, "psp_mV": 50.0})
    # psp 50 mV with tau_m 5 ms and R = 100 MOhm (the default): q = 50 mV * 5 ms / 100 MOhm.
    assert lif.charge_per_weight_C == approx(0.05 * 0.005 / 1e8)
    assert (lif.refractory_s, lif.v_threshold_V, lif.winner_take_all) == (0.002, -0.054, False)
    mapping = {"a_plus": 0.05, "a_minus": 0.01, "tau_plus_s": 0.01, "tau_minus_s": 0.02}
    rule = build(STDP, {**mapping, "fatigue": {"use": 0.5, "tau_s": 2.0}})
    assert rule == STDP(0.05, 0.01, 0.01, 0.02, fatigue=Fatigue(0.5, 2.0)) and rule.name == "fstdp"
    assert build(STDP, mapping).name == "stdp"
    with pytest.raises(ConfigError, match=r"job.yaml: key 'rule.w_max': must exceed w_min \(2\)"):
        build(STDP, {**mapping, "w_min": 2.0}, source="job.yaml", prefix="rule.")
    with pytest.raises(ConfigError, match=r"key 'neurons.v_threshold_mV': must exceed v_reset_V"):
        build(
            LIF,
            {"count": 1, "tau_m_s": 0.01, "psp_V": 0.01, "v_threshold_mV": -80},
            prefix="neurons.",
        )
    # Built in code, the same declarations are checked; the error names the field.
    cases = [
        (
            lambda: SpikingNetwork(lif=lif, rule=rule, write_every_windows=2, read_every_windows=3),
            "read_every_windows",
        ),
        (
            lambda: SpikingNetwork(lif=lif, rule=rule, weights_every_windows=-1),
            "weights_every_windows",
        ),
        (lambda: PulseSchedule(0.0, max_pulses_per_write=2), "max_pulses_per_write"),
        (lambda: PulseSchedule(1.0, max_pulses_per_write=1.5), "max_pulses_per_write"),
        (lambda: Fatigue(1.5, 1.0), "use"),
        (lambda: STDP(0.1, 0.1, 0.01, "0.01"), "tau_minus_s"),
    ]
    for make, field in cases:
        with pytest.raises(InvalidParameter) as info:
            make()
        assert info.value.field == field
