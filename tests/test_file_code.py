"""The correlative time code of file metadata (issue 15): deterministic, nominal values nearly
disjoint, overlap monotone in the number of shared key–values, ordinal overlap smooth in the
value."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memxbar.runtime.data.file_code import CorrelativeTimeCode, OrdinalKey, overlap

NOMINAL = ("ext", "uid", "mode", "dir1", "dir2", "dir3")
CODE = CorrelativeTimeCode(
    nominal=NOMINAL,
    ordinal=(OrdinalKey("log_size", 0.0, 9.0),),
    neurons_per_key=32,
    events_per_value=4,
    steps=20,
    seed=7,
)


def record(values, log_size=3.0):
    return dict(zip(NOMINAL, values, strict=True)) | {"log_size": log_size}


def test_same_record_same_events_and_the_seed_matters():
    r = record(["so", "0", "100644", "usr", "lib", "x86_64"])
    a = CODE.events(r)
    assert a == CODE.events(dict(r)) == CorrelativeTimeCode(**{**CODE.__dict__}).events(r)
    other_seed = CorrelativeTimeCode(**{**CODE.__dict__, "seed": 8})
    assert a != other_seed.events(r)
    # Every nominal key gives its events inside its own group; the ordinal key a bump.
    groups = np.array([n for n, _ in a]) // CODE.neurons_per_key
    assert np.bincount(groups, minlength=7)[:6].tolist() == [4] * 6
    assert all(0 <= t < CODE.steps for _, t in a)


def test_different_nominal_values_rarely_share_events():
    """Over many pairs of distinct values, shared events per key stay near the collision
    rate: 4 events among 32 neurons × 20 steps, so about 4·4/640 = 0.025 per pair."""
    shared = [
        overlap(CODE._nominal_events(0, "ext", f"a{i}"), CODE._nominal_events(0, "ext", f"b{i}"))
        for i in range(400)
    ]
    mean, expected = np.mean(shared), 4 * 4 / (32 * 20)
    # 4.5 standard errors of a mean of 400 counts of variance ≤ their mean (binomial-like).
    assert mean < expected + 4.5 * math.sqrt(expected / 400)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_overlap_grows_with_the_number_of_shared_key_values(seed):
    rng = np.random.default_rng(seed)
    base = [f"v{rng.integers(10**9)}" for _ in NOMINAL]
    other = [f"w{rng.integers(10**9)}" for _ in NOMINAL]
    order = rng.permutation(len(NOMINAL))
    overlaps = []
    for k in range(len(NOMINAL) + 1):
        # Share the keys order[:k] with base, the others hold their other value.
        shared = set(order[:k].tolist())
        values = [base[i] if i in shared else other[i] for i in range(len(NOMINAL))]
        overlaps.append(overlap(CODE.events(record(base)), CODE.events(record(values))))
    # Each newly shared key adds its 4 events less the rare collisions its other value had.
    assert all(b > a for a, b in zip(overlaps, overlaps[1:], strict=False)), overlaps
    assert overlaps[-1] == len(CODE.events(record(base)))


def test_ordinal_overlap_falls_with_the_difference():
    code = CorrelativeTimeCode(
        nominal=(), ordinal=(OrdinalKey("depth", 0.0, 10.0),), neurons_per_key=41, steps=20
    )
    # Spacing 0.25, reach 8 spacings = 2.0, 3 levels: no overlap beyond 2/3.
    for v in np.linspace(2.0, 8.0, 25):
        at = code.events({"depth": v})
        shared = [overlap(at, code.events({"depth": v + d})) for d in np.arange(0, 1.0, 0.05)]
        assert shared[0] == len(at) >= 15
        assert all(b <= a for a, b in zip(shared, shared[1:], strict=False)), (v, shared)
        assert shared[1] > 0 and shared[-1] == 0  # near values overlap, far ones do not
    # Values beyond the range are clipped to it.
    assert code.events({"depth": 99.0}) == code.events({"depth": 10.0})


def test_raster_holds_the_events():
    records = [record(["so", "0", "100644", "usr", "lib", "x"], 2.0), record(["py"] * 6, 7.5)]
    raster = CODE.raster(records)
    assert raster.shape == (2, CODE.steps, CODE.n_inputs) and raster.dtype == np.uint8
    for i, r in enumerate(records):
        times, neurons = np.nonzero(raster[i])
        assert sorted(zip(neurons.tolist(), times.tolist(), strict=True)) == CODE.events(r)


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"nominal": (), "ordinal": ()}, "no keys"),
        ({"nominal": ("a", "a")}, "duplicate"),
        ({"events_per_value": 40}, "exceeds neurons_per_key"),
        ({"steps": 0}, "steps"),
        ({"width": 0.0}, "width"),
        ({"levels": 11}, "levels"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_settings_name_the_setting(changes, match):
    with pytest.raises(ValueError, match=match):
        CorrelativeTimeCode(**{**CODE.__dict__, **changes})


def test_bad_records_name_the_key():
    with pytest.raises(ValueError, match="no key 'dir3'"):
        CODE.events({k: "x" for k in NOMINAL[:-1]} | {"log_size": 1.0})
    with pytest.raises(ValueError, match="'log_size': expected a finite number"):
        CODE.events(record(["x"] * 6, float("nan")))
    with pytest.raises(ValueError, match="finite low < high"):
        OrdinalKey("size", 3.0, 3.0)


def test_timed_patterns_show_the_codes_raster_pattern_after_pattern():
    import jax

    from memxbar.algorithms.snn import TimedPatterns

    records = [
        record(["so", "0", "100644", "usr", "lib", "x"], 2.0),
        record(["py"] * 6, 7.5),
        record(["sh", "0", "100755", "usr", "bin", "y"], 0.0),
    ]
    source = TimedPatterns.create(
        [CODE.events(r) for r in records], n_inputs=CODE.n_inputs, steps_per_pattern=CODE.steps
    )
    raster = CODE.raster(records).reshape(-1, CODE.n_inputs)
    # Any window of steps, across pattern boundaries, wrapping around after the last one.
    for start, n in ((0, 60), (13, 20), (45, 30)):
        got = np.asarray(source.sample(start, n, 1e-3, key=jax.random.key(0)))
        want = raster[(start + np.arange(n)) % len(raster)]
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="pattern 0 has the event"):
        TimedPatterns.create([[(0, 20)]], n_inputs=4, steps_per_pattern=20)
    with pytest.raises(ValueError, match="no patterns"):
        TimedPatterns.create([], n_inputs=4, steps_per_pattern=20)
