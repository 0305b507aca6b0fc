"""Behaviour of the pulse-level PCM model (DESIGN.md 4.2): cumulative SET, RESET, faults, wear.

Tolerances: a sample mean of N devices with std s is within 5 s/sqrt(N) of its expectation, a
sample std within 5 sqrt((m4 - s^4)/(4 s^2 N)) (s/sqrt(2N) for a normal variable), a binomial
fraction within 5 sqrt(p(1-p)/N) (false-alarm rate 5.7e-7 per comparison). Where the expected
value is a number quoted in DESIGN.md (7.8 uS, 9.4 uS, 9.27 uS: a Monte-Carlo rounded to
0.1 uS / 0.01 uS) the rounding is added as a model tolerance of half the last digit.
"""

from __future__ import annotations

import math
from importlib import resources

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from support import (
    device_drifted,
    device_init,
    device_program,
    device_pulses,
    device_reset,
    traced,
    vary,
)

import memxbar.devices as mdev
from memxbar.devices import HEALTHY, STUCK_RESET, STUCK_SET, WORN_OUT

UMHO = 1e-6
N_SIGMA = 5.0
DECAY = math.exp(-1 / 2.6)


# --- jitted calls --------------------------------------------------------------------------
# Parameters become jax arrays (``traced``) so model variants share a compilation; counts,
# masks, targets and times are passed as arrays of the state's shape, and the tests use two
# array sizes, so each function compiles a handful of times only.

N_SMALL = 2_000
N_LARGE = 50_000


@pytest.fixture(scope="module")
def model():
    return traced(mdev.load_preset("pcm_gst_pulse"))


@pytest.fixture(scope="module")
def nominal(model):
    """Every device has the nominal step size and g_max (no device-to-device spread)."""
    return vary(
        model, lambda m: (m.variability.step_relative, m.variability.g_max_relative), (0.0, 0.0)
    )


init = device_init


def pulses(model, state, n, t, key):
    n = jnp.broadcast_to(jnp.asarray(n, jnp.int32), state.shape)
    return device_pulses(model, state, n, jnp.float32(t), key)


def reset(model, state, mask, t, key):
    mask = jnp.broadcast_to(jnp.asarray(mask, bool), state.shape)
    return device_reset(model, state, mask, jnp.float32(t), key)


def program(model, state, g, t, key, mask=True):
    g = jnp.broadcast_to(jnp.asarray(g, jnp.float32), state.shape)
    mask = jnp.broadcast_to(jnp.asarray(mask, bool), state.shape)
    return device_program(model, state, g, jnp.float32(t), key, mask)


def drifted(model, state, t):
    return device_drifted(model, state, jnp.float32(t))


@eqx.filter_jit
def trajectory(model, state, n_pulses, key):
    """Conductance after each of ``n_pulses`` single SET pulses at t = 0 s: (n_pulses, ...)."""

    def step(state, k):
        state = model.set_pulses(state, 1, jnp.float32(0.0), key=k)
        return state, state.g_prog_S

    return jax.lax.scan(step, state, jax.random.split(key, n_pulses))


def to_uS(x):
    return np.asarray(x, np.float64) / UMHO


def mean_tol(x):
    return N_SIGMA * float(np.std(x)) / math.sqrt(x.size)


def std_tol(x):
    d = x - x.mean()
    m2, m4 = float(np.mean(d * d)), float(np.mean(d**4))
    return N_SIGMA * math.sqrt((m4 - m2 * m2) / (4 * m2 * x.size))


T0 = 0.0


# --- cumulative SET -----------------------------------------------------------------------


N_PULSED = N_LARGE


@pytest.fixture(scope="module")
def nominal_trajectory(nominal):
    state = init(nominal, (N_PULSED,), jax.random.key(1))
    final, g = trajectory(nominal, state, 40, jax.random.key(2))
    return state, final, to_uS(g)


def test_about_twenty_pulses_take_a_device_from_reset_to_ten_uS(nominal_trajectory):
    _, _, g = nominal_trajectory
    # DESIGN.md 4.2: mean 7.8 uS after 10 pulses, 9.4 uS after 20 (rounded to 0.1 uS)
    for n_pulses, expected in ((10, 7.8), (20, 9.4)):
        x = g[n_pulses - 1]
        tol = mean_tol(x) + 0.05
        assert abs(x.mean() - expected) <= tol, (n_pulses, x.mean(), expected, tol)


def test_median_pulses_to_ten_uS_is_17(nominal_trajectory):
    _, _, g = nominal_trajectory
    reached = g >= 10.0
    first = np.where(reached.any(0), reached.argmax(0) + 1, 10**6)
    # median 17 means P(first <= 16) < 1/2 <= P(first <= 17). A Monte-Carlo of the equations
    # gives 0.481 and 0.516; with N = 50,000 the binomial SE is 0.0022, so both sides are
    # resolved by > 7 SE.
    assert np.median(first) == 17
    se = 0.5 / math.sqrt(first.size)
    assert np.mean(first <= 16) < 0.5 - 3 * se
    assert np.mean(first <= 17) > 0.5 + 3 * se


def test_n_pulses_at_once_equal_single_pulses_in_distribution(nominal):
    # One call with n = 10 then n = 10 again: the same statistics as 20 single pulses.
    state = init(nominal, (N_PULSED,), jax.random.key(3))
    after10 = pulses(nominal, state, 10, T0, jax.random.key(4))
    after20 = pulses(nominal, after10, 10, T0, jax.random.key(5))
    for st, expected, n in ((after10, 7.8, 10), (after20, 9.4, 20)):
        x = to_uS(st.g_prog_S)
        assert abs(x.mean() - expected) <= mean_tol(x) + 0.05, (n, x.mean())
        np.testing.assert_array_equal(np.asarray(st.set_pulses), n)
    # pulse memory: P = exp(-n/2.6) after n pulses from RESET
    np.testing.assert_allclose(np.asarray(after20.pulse_memory), DECAY**20, rtol=1e-5)


def test_preset_spread_lowers_the_mean_slightly(model):
    # With the preset's 20 % step and 10 % g_max spread the mean after 20 pulses is 9.27 uS
    # (Monte-Carlo of the equations with 4e5 devices: 9.269 uS, SE 0.004).
    state = init(model, (N_PULSED,), jax.random.key(6))
    x = to_uS(pulses(model, state, 20, T0, jax.random.key(7)).g_prog_S)
    assert abs(x.mean() - 9.27) <= mean_tol(x) + 0.02, x.mean()


def test_mean_increment_shrinks_as_conductance_grows(nominal):
    # Devices programmed (noise off, so exactly) to G, with pulse memory 0 after a
    # program-and-verify, get dG ~ N(0.880 - 0.084 G, 0.260 + 0.091 G) uS from one pulse.
    quiet = vary(nominal, lambda m: m.programming_noise.scale, 0.0)
    levels = np.array([1.0, 3.0, 5.0, 7.0, 9.0])
    per_level = np.repeat(levels, N_LARGE // levels.size)
    state = init(quiet, (N_LARGE,), jax.random.key(8))
    state = program(quiet, state, per_level * UMHO, T0, jax.random.key(9))
    np.testing.assert_allclose(np.asarray(state.pulse_memory), 0.0)
    np.testing.assert_allclose(to_uS(state.g_prog_S), per_level, rtol=1e-6)
    after = pulses(quiet, state, 1, T0, jax.random.key(10))
    dg = (to_uS(after.g_prog_S) - to_uS(state.g_prog_S)).reshape(levels.size, -1)
    means = dg.mean(1)
    for row, g in enumerate(levels):
        assert abs(means[row] - (0.880 - 0.084 * g)) <= mean_tol(dg[row]), (g, means[row])
        assert abs(dg[row].std() - (0.260 + 0.091 * g)) <= std_tol(dg[row]), (g, dg[row].std())
    assert np.all(np.diff(means) < 0)


def test_mean_increment_per_pulse_shrinks_from_reset(nominal_trajectory):
    # Along the trajectory from RESET the mean step falls (pulse memory decays, G grows).
    # Steps 1-6 differ by > 0.06 uS, > 5 SE of a difference of two mean steps (SE < 0.011).
    initial, _, g = nominal_trajectory
    g = np.concatenate([to_uS(initial.g_prog_S)[None], g])
    steps = np.diff(g, axis=0).mean(1)
    assert np.all(np.diff(steps[:6]) < -0.05), steps[:7]
    assert steps[0] > 1.2 and steps[19] < 0.15, steps


def test_devices_with_zero_pulses_are_untouched(nominal):
    state = init(nominal, (N_SMALL,), jax.random.key(11))
    state = pulses(nominal, state, 3, T0, jax.random.key(12))
    n = jnp.asarray(np.arange(N_SMALL) % 3, jnp.int32)  # 0, 1, 2 pulses
    after = pulses(nominal, state, n, 5.0, jax.random.key(13))
    idle = np.asarray(n) == 0
    for field in ("g_prog_S", "t_prog_s", "nu", "pulse_memory"):
        np.testing.assert_array_equal(
            np.asarray(getattr(after, field))[idle], np.asarray(getattr(state, field))[idle]
        )
    np.testing.assert_array_equal(np.asarray(after.set_pulses), 3 + np.asarray(n))
    busy = ~idle
    assert np.all(np.asarray(after.t_prog_s)[busy] == 5.0)
    np.testing.assert_allclose(
        np.asarray(after.pulse_memory)[busy], DECAY ** (3 + np.asarray(n)[busy]), rtol=1e-5
    )


# --- RESET ----------------------------------------------------------------------------------


def test_reset_lands_at_a_tenth_of_a_uS_with_ten_percent_spread(model):
    state = init(model, (N_PULSED,), jax.random.key(14))
    state = pulses(model, state, 15, T0, jax.random.key(15))
    assert to_uS(state.g_prog_S).mean() > 8.0
    after = reset(model, state, True, 10.0, jax.random.key(16))
    g = to_uS(after.g_prog_S)
    assert abs(g.mean() - 0.1) <= mean_tol(g)
    assert abs(g.std() - 0.01) <= std_tol(g)
    np.testing.assert_array_equal(np.asarray(after.pulse_memory), 1.0)
    np.testing.assert_array_equal(np.asarray(after.cycles), 1)
    np.testing.assert_array_equal(np.asarray(after.t_prog_s), 10.0)
    # a fresh drift exponent for the RESET level (mu clipped to 0.1, sigma to 0.045)
    assert abs(float(after.nu.mean()) - 0.1) < 0.01


def test_reset_mask_and_memory(model):
    state = init(model, (N_SMALL,), jax.random.key(17))
    state = pulses(model, state, 4, T0, jax.random.key(18))
    mask = np.arange(N_SMALL) % 2 == 0
    after = reset(model, state, mask, T0, jax.random.key(19))
    np.testing.assert_array_equal(np.asarray(after.pulse_memory)[mask], 1.0)
    np.testing.assert_allclose(np.asarray(after.pulse_memory)[~mask], DECAY**4, rtol=1e-5)
    np.testing.assert_array_equal(
        np.asarray(after.g_prog_S)[~mask], np.asarray(state.g_prog_S)[~mask]
    )
    np.testing.assert_array_equal(np.asarray(after.cycles), mask.astype(int))
    assert np.all(to_uS(after.g_prog_S)[mask] < 0.2)
    # the first pulse after a RESET is larger again than the fifth pulse without one
    more = pulses(model, after, 1, T0, jax.random.key(20))
    step = to_uS(more.g_prog_S) - to_uS(after.g_prog_S)
    assert step[mask].mean() > step[~mask].mean() + 0.5


# --- device-to-device variation --------------------------------------------------------


def test_step_size_spread_is_twenty_percent(model):
    # Switch the cycle-to-cycle increment noise and the RESET spread off: the first step of
    # device i is then step_scale_i * mu(g_reset, P_1) exactly, so the relative std of the
    # measured steps is the device-to-device step spread (0.2; SE 0.2/sqrt(2N)).
    det = vary(
        model,
        lambda m: (
            m.set_response.std_offset_S,
            m.set_response.std_slope,
            m.set_response.std_memory_S,
            m.reset_response.relative_spread,
        ),
        (0.0, 0.0, 0.0, 0.0),
    )
    n = N_LARGE
    state = init(det, (n,), jax.random.key(21))
    step = to_uS(pulses(det, state, 1, T0, jax.random.key(22)).g_prog_S) - 0.1
    rel = step / step.mean()
    assert abs(rel.std() - 0.2) <= N_SIGMA * 0.2 / math.sqrt(2 * n), rel.std()
    expected_mean = 0.880 - 0.084 * 0.1 + 1.40 * DECAY
    assert abs(step.mean() - expected_mean) <= N_SIGMA * 0.2 * expected_mean / math.sqrt(n)
    # the spread is a property of the device: its second step scales the same way
    state2 = pulses(det, state, 2, T0, jax.random.key(23))
    second = to_uS(state2.g_prog_S) - 0.1 - step
    assert np.corrcoef(step, second)[0, 1] > 0.999
    # and the g_max spread is 10 %
    g_max = to_uS(state.g_max_S)
    assert abs(g_max.mean() - 25.0) <= mean_tol(g_max)
    assert abs(g_max.std() / 25.0 - 0.1) <= N_SIGMA * 0.1 / math.sqrt(2 * n)


# --- faults and wear ----------------------------------------------------------------------


def with_faults(model, p_set, p_reset, endurance=1e8):
    return vary(
        model,
        lambda m: (m.faults.p_stuck_set, m.faults.p_stuck_reset, m.faults.endurance_cycles),
        (p_set, p_reset, endurance),
    )


@pytest.mark.parametrize("preset", ["pcm_gst_pulse", "pcm_nandakumar2019"])
def test_stuck_fractions_match_probabilities(preset):
    faulty = with_faults(mdev.load_preset(preset), 0.02, 0.05)
    n = N_LARGE
    state = init(faulty, (n,), jax.random.key(24))
    fault = np.asarray(state.fault)
    for code, p in ((STUCK_SET, 0.02), (STUCK_RESET, 0.05), (HEALTHY, 0.93)):
        count = int(np.sum(fault == code))
        assert abs(count - n * p) <= N_SIGMA * math.sqrt(n * p * (1 - p)), (code, count)
    g = np.asarray(state.g_prog_S)
    np.testing.assert_array_equal(
        g[fault == STUCK_SET], np.asarray(state.g_max_S)[fault == STUCK_SET]
    )
    # Stuck at RESET: the pulse model's RESET level (0.1 µS, JAP 2018), the statistical
    # model's g_min (0 S).
    reset_level = 0.1 * UMHO if isinstance(faulty, mdev.PulsePCM) else 0.0
    np.testing.assert_allclose(g[fault == STUCK_RESET], reset_level, rtol=1e-6)


@pytest.mark.parametrize("preset", ["pcm_gst_pulse", "pcm_nandakumar2019"])
def test_stuck_devices_do_not_move_but_count(preset):
    faulty = with_faults(mdev.load_preset(preset), 0.2, 0.2)
    state = init(faulty, (N_SMALL,), jax.random.key(25))
    stuck = np.asarray(state.fault) != HEALTHY
    assert 0.3 * N_SMALL < stuck.sum() < 0.5 * N_SMALL  # p = 0.4
    g0 = np.asarray(state.g_prog_S)
    fault0 = np.asarray(state.fault)
    t_prog0 = np.asarray(state.t_prog_s)
    if isinstance(faulty, mdev.PulsePCM):
        state = pulses(faulty, state, 3, 1.0, jax.random.key(26))
    state = reset(faulty, state, True, 2.0, jax.random.key(27))
    state = program(faulty, state, 5 * UMHO, 3.0, jax.random.key(28))
    g = np.asarray(state.g_prog_S)
    np.testing.assert_array_equal(g[stuck], g0[stuck])
    np.testing.assert_array_equal(np.asarray(state.t_prog_s)[stuck], t_prog0[stuck])
    np.testing.assert_array_equal(np.asarray(state.fault), fault0)  # nobody wore out
    # healthy devices did move: programmed to 5 uS
    assert abs(to_uS(g[~stuck]).mean() - 5.0) < 0.1
    # pulses and cycles are counted for every device (the periphery fires them all)
    pulses_expected = 3 if isinstance(faulty, mdev.PulsePCM) else 0
    np.testing.assert_array_equal(np.asarray(state.set_pulses), pulses_expected)
    np.testing.assert_array_equal(np.asarray(state.cycles), 2)


def test_endurance_wears_out_exactly_after_the_fifth_cycle(model):
    worn_model = with_faults(model, 0.0, 0.0, endurance=5.0)
    n = N_SMALL
    state = init(worn_model, (n,), jax.random.key(29))
    group_a = np.arange(n) % 2 == 0  # cycled every step
    key = jax.random.key(30)
    worn_g = None
    for step in range(1, 11):
        mask = group_a | (step % 2 == 0)  # group B every second step
        key, k1, k2, k3 = jax.random.split(key, 4)
        state = pulses(worn_model, state, 2, step, k1)
        if step % 3 == 0:  # program-and-verify is a write cycle too
            state = program(worn_model, state, np.where(mask, 5 * UMHO, 0.0), step, k2)
        else:
            state = reset(worn_model, state, mask, step, k3)
        cycles = np.asarray(state.cycles)
        fault = np.asarray(state.fault)
        np.testing.assert_array_equal(fault == WORN_OUT, cycles >= 5, err_msg=f"step {step}")
        np.testing.assert_array_equal(fault[cycles < 5], HEALTHY)
        g = np.asarray(state.g_prog_S)
        # worn devices sit exactly at the worn-out level (stuck_reset: g_reset) and stay there
        np.testing.assert_allclose(g[cycles >= 5], 0.1 * UMHO, rtol=1e-6)
        if worn_g is not None:
            was_worn = ~np.isnan(worn_g)
            np.testing.assert_array_equal(g[was_worn], worn_g[was_worn])
        worn_g = np.where(cycles >= 5, g, np.nan)
        np.testing.assert_array_equal(np.asarray(state.set_pulses), 2 * step)
    assert np.all(np.asarray(state.fault) == WORN_OUT)


def test_endurance_wears_out_at_stuck_set(model, tmp_path):
    # worn_out_state is static configuration: write a modified preset.
    source = resources.files("memxbar.hw_configs") / "devices" / "pcm_gst_pulse.yaml"
    text = yaml.safe_load(source.read_text(encoding="utf-8"))
    text["faults"]["worn_out_state"] = "stuck_set"
    text["faults"]["endurance_cycles"] = 5
    path = tmp_path / "worn_set.yaml"
    path.write_text(yaml.safe_dump(text))
    worn_model = traced(mdev.load_preset(path))
    assert worn_model.faults.worn_out_state == "stuck_set" != model.faults.worn_out_state
    state = init(worn_model, (N_SMALL,), jax.random.key(31))
    for i in range(5):
        assert np.all(np.asarray(state.fault) == HEALTHY)
        state = reset(
            worn_model, state, True, jnp.float32(i), jax.random.fold_in(jax.random.key(32), i)
        )
    assert np.all(np.asarray(state.fault) == WORN_OUT)
    np.testing.assert_array_equal(np.asarray(state.g_prog_S), np.asarray(state.g_max_S))
    after = pulses(worn_model, state, 4, 9.0, jax.random.key(33))
    after = reset(worn_model, after, True, 9.0, jax.random.key(34))
    np.testing.assert_array_equal(np.asarray(after.g_prog_S), np.asarray(state.g_max_S))


# --- the statistical model has no pulses; drift clocks ------------------------------------


def test_statistical_model_has_no_set_pulses():
    stat = traced(mdev.load_preset("pcm_nandakumar2019"))
    state = init(stat, (N_SMALL,), jax.random.key(0))
    with pytest.raises(NotImplementedError, match="pulse"):
        stat.set_pulses(state, 1, 0.0, key=jax.random.key(1))


@pytest.mark.parametrize("preset", ["pcm_gst_pulse", "pcm_nandakumar2019"])
def test_drift_clock_restarts_on_a_write(preset):
    dev = traced(mdev.load_preset(preset))
    n = N_SMALL
    state = init(dev, (n,), jax.random.key(35))
    state = program(dev, state, 8 * UMHO, T0, jax.random.key(36))
    t1 = 1e4
    g_before = to_uS(drifted(dev, state, t1))
    assert np.all(g_before < to_uS(state.g_prog_S))  # drifted down since t = 0
    half = np.arange(n) < n // 2
    if isinstance(dev, mdev.PulsePCM):
        state2 = pulses(dev, state, half.astype(np.int32), t1, jax.random.key(37))
    else:
        state2 = program(dev, state, 8 * UMHO, t1, jax.random.key(37), mask=half)
    t_prog = np.asarray(state2.t_prog_s)
    np.testing.assert_array_equal(t_prog[half], 1e4)
    np.testing.assert_array_equal(t_prog[~half], 0.0)
    # right after the write the written devices have not drifted; the others keep drifting
    g_now = np.asarray(drifted(dev, state2, t1))
    np.testing.assert_array_equal(g_now[half], np.asarray(state2.g_prog_S)[half])
    np.testing.assert_allclose(to_uS(g_now)[~half], g_before[~half], rtol=1e-6)
    # one hour later the written devices drift along ((t - t_write + t0)/t0)^-nu
    t2 = 1e4 + 3600.0
    g_later = to_uS(drifted(dev, state2, t2))
    expected = to_uS(state2.g_prog_S) * ((t2 - t_prog + 20.0) / 20.0) ** (
        -np.asarray(state2.nu, np.float64)
    )
    np.testing.assert_allclose(g_later, expected, rtol=2e-5)


def test_pulses_start_from_the_drifted_conductance(nominal):
    # Deterministic increments (noise off): one pulse at time t adds mu to the drifted value.
    det = vary(
        nominal,
        lambda m: (
            m.set_response.std_offset_S,
            m.set_response.std_slope,
            m.set_response.std_memory_S,
        ),
        (0.0, 0.0, 0.0),
    )
    state = init(det, (N_SMALL,), jax.random.key(38))
    state = pulses(det, state, 5, T0, jax.random.key(39))
    t = 86400.0
    g_drift = to_uS(drifted(det, state, t))
    assert np.all(g_drift < to_uS(state.g_prog_S))
    assert g_drift.mean() < 0.8 * to_uS(state.g_prog_S).mean()  # a day of drift, nu ~ 0.05
    after = pulses(det, state, 1, t, jax.random.key(40))
    memory = np.asarray(state.pulse_memory, np.float64) * DECAY
    expected = g_drift + 0.880 - 0.084 * g_drift + 1.40 * memory
    np.testing.assert_allclose(to_uS(after.g_prog_S), expected, rtol=1e-5)
