"""The weather workload: latent-event spike statistics, the selectivity scores, and FSTDP + WTA
against plain STDP.

Statistical tolerances are Z = 4.5 standard errors, derived from the distribution named at each
test (binomial counts given the events; means over independent groups otherwise).
"""

from __future__ import annotations

import math
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import normalized_mutual_info_score
from support import EXAMPLES, approx, example_job

from memxbar.runtime.data.weather import WeatherSpikes
from memxbar.runtime.job import load_job
from memxbar.runtime.loop import run_job
from memxbar.runtime.scores import (
    group_nmi,
    input_nmi,
    normalized_mutual_information,
    preferred_groups,
    selectivity,
    spiking_scores,
)

Z = 4.5
DT = 1e-3


@eqx.filter_jit
def _events(source, start, n_steps: int):
    return source.events(start, n_steps, DT)


@eqx.filter_jit
def _sample(source, start, n_steps: int, key):
    return source.sample(start, n_steps, DT, key=key)


def events(source, start: int, n_steps: int):
    """``source.events`` jitted; the start is traced, so a new start does not recompile."""
    return _events(source, jnp.int32(start), n_steps)


def sample(source, start: int, n_steps: int, key):
    return _sample(source, jnp.int32(start), n_steps, key)


def stations(n_groups, per_group, background, *, onset=5.0, duration=0.02, during=100.0, key=0):
    return WeatherSpikes.create(
        np.full(n_groups * per_group, background),
        np.repeat(np.arange(n_groups), per_group),
        event_rate_Hz=onset,
        event_duration_s=duration,
        event_input_rate_Hz=during,
        key=jax.random.key(key),
    )


# --- the latent events -------------------------------------------------------------------------


def test_events_are_active_with_the_stationary_probability():
    source = stations(200, 1, 10.0, onset=5.0, duration=0.02)
    active = np.asarray(events(source, 0, 20_000))
    exact = float(source.event_probability(DT)[0])
    assert exact == approx(1 - (1 - 5.0 * DT) ** 20)
    # The active fraction of one group is autocorrelated in time, but groups are independent:
    # their spread gives the standard error of the mean.
    per_group = active.mean(0)
    assert abs(per_group.mean() - exact) <= Z * per_group.std(ddof=1) / math.sqrt(200)
    # Onsets before step 0 count: the first step is already stationary (groups independent,
    # so the count of active groups at step 0 is binomial).
    many = stations(4000, 1, 10.0, onset=5.0, duration=0.02, key=1)
    first = np.asarray(events(many, 0, 1))[0]
    assert abs(first.mean() - exact) <= Z * math.sqrt(exact * (1 - exact) / first.size)


@settings(max_examples=20, deadline=None)
@given(start=st.integers(-50, 5000), cut=st.sampled_from([1, 150, 299]))
def test_events_do_not_depend_on_how_time_is_cut(start, cut):
    source = stations(3, 2, 10.0, onset=20.0, duration=0.015)
    whole = np.asarray(events(source, start, 300))
    parts = np.concatenate([events(source, start, cut), events(source, start + cut, 300 - cut)])
    np.testing.assert_array_equal(whole, parts)


def test_stations_fire_at_the_event_rate_during_events_and_the_background_otherwise():
    source = stations(4, 50, 10.0, onset=5.0, duration=0.02, during=100.0)
    n = 20_000
    spikes = np.asarray(sample(source, 0, n, jax.random.key(3)))
    active = np.asarray(events(source, 0, n))[:, np.asarray(source.group)] > 0
    assert set(np.unique(spikes)) <= {0.0, 1.0}
    # Given the events every station fires independently: binomial counts.
    for mask, rate in ((active, 100.0), (~active, 10.0)):
        p, trials = rate * DT, mask.sum()
        assert abs(spikes[mask].sum() - trials * p) <= Z * math.sqrt(trials * p * (1 - p))
    # Stations of one group share their events: they coincide more than stations of two groups.
    same = np.mean(spikes[:, 0] * spikes[:, 1])
    other = np.mean(spikes[:, 0] * spikes[:, 50])
    assert same > 2 * other


def test_mean_rate_mixes_background_and_events():
    source = stations(200, 5, 20.0, onset=3.0, duration=0.03, during=160.0)
    n = 20_000
    counts = np.asarray(sample(source, 0, n, jax.random.key(4))).reshape(n, 200, 5)
    per_group = counts.mean(axis=(0, 2)) / DT
    # An event is active when one began in the last 30 steps (onsets at 3 Hz): with that
    # probability a station fires at 160 Hz, else at its 20 Hz background.
    p_event = 1 - (1 - 3.0 * DT) ** 30
    expected = 20.0 + p_event * 140.0
    assert float(source.mean_rate_Hz(DT)[0]) == approx(expected)
    # Groups are independent: their spread gives the standard error.
    assert abs(per_group.mean() - expected) <= Z * per_group.std(ddof=1) / math.sqrt(200)


def test_same_latent_key_same_events_other_key_other_events():
    a = stations(2, 3, 10.0, onset=10.0, key=7)
    b = stations(2, 3, 10.0, onset=10.0, key=7)
    c = stations(2, 3, 10.0, onset=10.0, key=8)
    ea, eb, ec = (np.asarray(events(s, 0, 5000)) for s in (a, b, c))
    np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(ea, ec)
    sa = sample(a, 100, 50, jax.random.key(1))
    np.testing.assert_array_equal(sa, sample(b, 100, 50, jax.random.key(1)))


def test_bad_stations_are_rejected():
    key = jax.random.key(0)
    kwargs = dict(event_rate_Hz=1.0, event_duration_s=0.02, event_input_rate_Hz=50.0, key=key)
    with pytest.raises(ValueError, match="rates_Hz"):
        WeatherSpikes.create([5.0, -1.0], [0, 0], **kwargs)
    with pytest.raises(ValueError, match="groups"):
        WeatherSpikes.create([5.0, 5.0], [0], **kwargs)
    with pytest.raises(ValueError, match=r"groups \[1\] have no stations"):
        WeatherSpikes.create([5.0, 5.0], [0, 2], **kwargs)
    with pytest.raises(ValueError, match="event_duration_s"):
        WeatherSpikes.create([5.0], [0], **{**kwargs, "event_duration_s": 0.0})
    with pytest.raises(ValueError, match=r"\(2,\) arrays"):
        WeatherSpikes.create([5.0, 5.0], [0, 1], **{**kwargs, "event_rate_Hz": [1.0, 2.0, 3.0]})


# --- the scores --------------------------------------------------------------------------------


def test_selectivity_and_preferred_groups():
    group = np.array([0, 0, 1, 1, 1, 2])
    W = np.array([[0.9, 0.1], [0.7, 0.1], [0.1, 0.5], [0.2, 0.6], [0.0, 0.7], [0.3, 0.2]])
    np.testing.assert_allclose(selectivity(W, group), [[0.8, 0.1, 0.3], [0.1, 0.6, 0.2]])
    np.testing.assert_array_equal(preferred_groups(W, group), [0, 1])
    # Two neurons preferring two different groups: every neuron names its group.
    assert group_nmi(W, group) == 1.0
    assert group_nmi(W[:, [0, 0]], group) == 0.0
    # Inputs 0, 1 → neuron 0; 2, 3, 4 → neuron 1; 5 → neuron 0 (0.3 > 0.2).
    expected = normalized_mutual_info_score(group, [0, 0, 1, 1, 1, 0])
    assert input_nmi(W, group) == approx(expected)


def test_nmi_of_a_worked_example():
    # a = [0, 0, 1, 1], b = [0, 0, 0, 1]: H(a) = ln 2, H(b) = ln 4 − (3/4) ln 3,
    # H(a, b) = (3/2) ln 2, so I = ln 4 − (3/4) ln 3 − (1/2) ln 2 = (3/2) ln 2 − (3/4) ln 3.
    h_a, h_b = math.log(2), math.log(4) - 0.75 * math.log(3)
    mutual = 1.5 * math.log(2) - 0.75 * math.log(3)
    got = normalized_mutual_information([0, 0, 1, 1], [0, 0, 0, 1])
    assert got == approx(2 * mutual / (h_a + h_b))
    assert normalized_mutual_information([0, 0, 1, 1], [0, 1, 0, 1]) == approx(0.0, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    a=st.lists(st.integers(0, 4), min_size=2, max_size=40),
    seed=st.integers(0, 2**31 - 1),
)
def test_nmi_matches_scikit_learn_and_ignores_label_names(a, seed):
    rng = np.random.default_rng(seed)
    a = np.array(a)
    b = rng.integers(0, 3, a.size)
    got = normalized_mutual_information(a, b)
    assert 0.0 <= got <= 1.0
    assert got == approx(normalized_mutual_info_score(a, b), abs=1e-9)
    renamed = rng.permutation(10)[b]
    assert normalized_mutual_information(a, renamed) == approx(got, abs=1e-12)
    assert normalized_mutual_information(b, a) == approx(got, abs=1e-12)


def test_run_scores_use_only_the_neurons_that_fired():
    job = load_job(EXAMPLES / "fstdp_weather_ideal.yaml")
    layout = job.layout
    W = np.full((80, 4), 0.2)
    for j in range(4):
        W[layout.group == j, j] = 0.6
    out = spiking_scores(W, layout)
    assert out == {"nmi": 1.0, "groups_learned": 4.0}
    W[:, 3] = 0.5  # neuron 3 weights everything alike; it never fired
    assert spiking_scores(W, layout, active=[True, True, True, False])["groups_learned"] == 3.0
    benchmark = load_job(EXAMPLES / "fstdp_ideal.yaml").layout
    w = np.r_[np.full(20, 0.6), np.linspace(0.1, 0.5, 80)][:, None]
    got = spiking_scores(w, benchmark)
    assert set(got) == {"auc", "flatness"} and got["auc"] == 1.0


# --- learning ----------------------------------------------------------------------------------


def _ideal(name: str, tmp_path: Path, duration_s: float):
    changes = {
        "hardware.tiles": "ideal",
        "simulation.duration_s": duration_s,
        "simulation.chunk_s": duration_s / 2,
    }
    path = example_job(tmp_path / name, name, changes)
    out = path.with_suffix(".h5")  # one run file per job: a finished one is never replaced
    return run_job(load_job(path), out, progress=False).final


def test_fstdp_with_wta_separates_the_groups_where_stdp_follows_the_rates(tmp_path):
    """The weather jobs on ideal tiles, 100 s of the 300 s, seed 0."""
    fstdp = _ideal("fstdp_weather_pcm.yaml", tmp_path, 100.0)
    stdp = _ideal("stdp_weather_pcm.yaml", tmp_path, 100.0)
    assert fstdp["groups_learned"] >= 3 and fstdp["nmi"] >= 0.8
    assert stdp["groups_learned"] <= 2 and stdp["nmi"] <= 0.45
    assert fstdp["nmi"] >= stdp["nmi"] + 0.4


@pytest.mark.slow
def test_weather_on_pcm_over_eight_seeds(tmp_path):
    """The PCM weather job and its STDP control as shipped (300 s), seeds 0-7."""
    jobs = {
        name: load_job(EXAMPLES / name)
        for name in ("fstdp_weather_pcm.yaml", "stdp_weather_pcm.yaml")
    }
    results = {name: [] for name in jobs}
    for name, job in jobs.items():
        for seed in range(8):
            out = tmp_path / f"{seed}_{name}.h5"
            results[name].append(run_job(job, out, seed=seed, progress=False).final)
    fstdp = results["fstdp_weather_pcm.yaml"]
    stdp = results["stdp_weather_pcm.yaml"]
    nmi_f = np.array([r["nmi"] for r in fstdp])
    nmi_s = np.array([r["nmi"] for r in stdp])
    assert np.all([r["groups_learned"] >= 3 for r in fstdp])
    assert np.all([r["groups_learned"] <= 2 for r in stdp])
    # "Clearly above the STDP control" (issue 6): every FSTDP seed above every STDP seed (a
    # complete separation of 8 against 8 has probability 1 / C(16, 8) = 1 / 12870 if the two
    # were alike) and the means 0.4 apart. Measured: FSTDP 0.63-1.0 (mean 0.87), STDP
    # 0.24-0.45 (mean 0.33). A fixed gap between the extremes is not asserted: the spiking
    # turns float rounding into a seed's spread (moving every Gaussian by <= 1.5e-5 moved seed
    # 0's STDP from 0.38 to 0.45).
    assert nmi_f.min() >= 0.6
    assert nmi_s.max() <= 0.5
    assert nmi_f.min() > nmi_s.max()
    assert nmi_f.mean() >= nmi_s.mean() + 0.4
    assert all(r["update_events"] > 0 for r in fstdp + stdp)
