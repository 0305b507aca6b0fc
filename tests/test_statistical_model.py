"""Statistical tests of the PCM statistical model (DESIGN.md 4.1) against its equations and
against aihwkit's reference statistics (``shared/data/pcm_reference.csv``).

Every test uses a fixed seed and at least 10^4 devices. Tolerances are derived from the
sampling error, never tuned:

* a sample mean of N iid values with std s has standard error s / sqrt(N); we accept a
  difference from the exact expectation of 5 standard errors (two-sided false-alarm rate
  5.7e-7 per comparison for a correct model);
* a sample std has standard error sqrt((m4 - s^4) / (4 s^2 N)) (delta method on the sample
  variance, whose variance is (m4 - s^4) / N; m4 is the fourth central moment), which is
  s / sqrt(2N) for a normal variable. We estimate m4 from the sample itself so skewed and
  clipped distributions (folded normals, the mass at 0 of small conductances) get their own
  error, and accept 5 standard errors;
* when comparing two independent samples (ours against the reference file's 200,000
  devices), the variances of the two estimates add: tolerance = 5 sqrt(SE_ours^2 + SE_ref^2),
  where SE_ref uses the reference's own std and our sample's shape (kurtosis), which is the
  same distribution if the model is right.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import (
    clipped_normal_moments,
    device_drifted,
    device_read,
    drift_mu_sigma,
    mean_drift_factor,
    read_relative_sigma,
    sigma_prog_S,
    traced,
    vary,
)

import memxbar.devices as mdev

UMHO = 1e-6  # one microsiemens in siemens
N_SIGMA = 5.0
T0_S = 20.0  # drift reference time (DESIGN.md 4.1)


# --- the equations of DESIGN.md 4.1 (support.py writes them out independently of devices/) ---


def sigma_prog_uS(g_target_uS):
    return sigma_prog_S(np.asarray(g_target_uS, float) * UMHO) / UMHO


def nu_mu_sigma(g_uS):
    mu, sigma = drift_mu_sigma(g_uS * UMHO)
    return float(mu), float(sigma)


def _cdf(x):
    return 0.5 * math.erfc(-x / math.sqrt(2))


def folded_normal_moments(mu, sigma):
    """Mean and std of |X|, X ~ N(mu, sigma^2)."""
    a = mu / sigma
    mean = sigma * math.sqrt(2 / math.pi) * math.exp(-0.5 * a * a) + mu * (1 - 2 * _cdf(-a))
    return mean, math.sqrt(mu * mu + sigma * sigma - mean * mean)


def read_sigma_uS(g_uS, t_since_write_s):
    """Read-noise std (µS) of devices programmed exactly to ``g_uS`` (no drift)."""
    return g_uS * float(read_relative_sigma(g_uS * UMHO, t_since_write_s))


# --- sampling-error tolerances -----------------------------------------------------------------


def mean_se(x):
    """Standard error of the sample mean of ``x``."""
    return float(np.std(x) / math.sqrt(x.size))


def std_se(x, std=None):
    """Standard error of the sample std of ``x`` (delta method, kurtosis from ``x``).

    ``std`` rescales it to another std of the same-shaped distribution (the reference's).
    """
    d = x - x.mean()
    m2 = float(np.mean(d * d))
    m4 = float(np.mean(d**4))
    if m2 == 0.0:
        return 0.0
    per_device = (m4 - m2 * m2) / (4 * m2)  # variance of the std estimate times N
    scale = 1.0 if std is None else (std * std) / m2
    return math.sqrt(per_device * scale / x.size)


def assert_mean(x, expected, what, extra_se=0.0):
    tol = N_SIGMA * math.sqrt(mean_se(x) ** 2 + extra_se**2)
    got = float(np.mean(x))
    assert abs(got - expected) <= tol, (
        f"{what}: mean {got:.6g}, expected {expected:.6g} ± {tol:.3g}"
    )


def assert_std(x, expected, what, extra_se=0.0):
    tol = N_SIGMA * math.sqrt(std_se(x) ** 2 + extra_se**2)
    got = float(np.std(x))
    assert abs(got - expected) <= tol, f"{what}: std {got:.6g}, expected {expected:.6g} ± {tol:.3g}"


# --- jitted model calls ------------------------------------------------------------------------
# Parameters are made jax arrays (``traced``) so model variants share one compilation, and every
# programmed array has ROWS rows (targets padded), so each function compiles once per N.

ROWS = 7


@eqx.filter_jit
def _programmed(model, targets_S, n_devices, key):
    k_init, k_prog = jax.random.split(key)
    state = model.init((targets_S.shape[0], n_devices), key=k_init)
    return model.program(state, targets_S[:, None], jnp.float32(0.0), key=k_prog)


def programmed(model, targets_uS, n_devices, key):
    """A (ROWS, n_devices) array programmed at t = 0 s, row r to targets_uS[r] (padded)."""
    targets = np.asarray(targets_uS, np.float64)
    padded = np.concatenate([targets, np.full(max(ROWS - targets.size, 0), targets[-1])])
    return _programmed(model, jnp.asarray(padded * UMHO, jnp.float32), n_devices, key)


read = device_read
drifted = device_drifted


def to_uS(x):
    return np.asarray(x, np.float64) / UMHO


@pytest.fixture(scope="module")
def model():
    return traced(mdev.load_preset("pcm_nandakumar2019"))


# --- the equations -------------------------------------------------------------------------


N_DEVICES = 100_000


def test_programming_noise_std_matches_polynomial(model):
    # Targets ≥ 2.5 uS sit ≥ 5.6 sigma_p above 0: the clip at 0 S changes nothing measurable.
    targets_uS = np.array([2.5, 6.25, 12.5, 20.0, 25.0])
    state = programmed(model, targets_uS, N_DEVICES, jax.random.key(1))
    g = to_uS(state.g_prog_S)
    for row, target in enumerate(targets_uS):
        sigma = float(sigma_prog_uS(target))
        assert_mean(g[row], target, f"g_prog at {target} uS")
        assert_std(g[row], sigma, f"g_prog at {target} uS")


def test_programming_noise_clipped_at_zero_for_small_targets(model):
    # For small targets a sizeable fraction of max(g_T + sigma_p xi, 0) is exactly 0: compare
    # with the censored-normal moments instead of the raw polynomial.
    targets_uS = np.array([0.1, 0.25, 0.5])
    state = programmed(model, targets_uS, N_DEVICES, jax.random.key(2))
    g = to_uS(state.g_prog_S)
    assert np.all(g >= 0.0)
    for row, target in enumerate(targets_uS):
        mean, var = clipped_normal_moments(target, float(sigma_prog_uS(target)))
        std = math.sqrt(var)
        p_zero = _cdf(-target / float(sigma_prog_uS(target)))
        assert_mean(g[row], mean, f"g_prog at {target} uS")
        assert_std(g[row], std, f"g_prog at {target} uS")
        # the fraction clipped to exactly 0 is binomial: within 5 sqrt(p(1-p)/N)
        frac = float(np.mean(g[row] == 0.0))
        tol = N_SIGMA * math.sqrt(p_zero * (1 - p_zero) / g[row].size)
        assert abs(frac - p_zero) <= tol, (target, frac, p_zero)


def test_drift_exponent_is_folded_normal(model):
    # mu_nu is clipped at 0.1 below ~0.09 uS and at 0.049 above ~5.1 uS; sigma_nu at 0.045
    # below ~0.47 uS and at 0.008 above ~8.2 uS: the targets cover both clips and the slopes.
    targets_uS = np.array([0.05, 0.25, 1.25, 2.5, 6.25, 12.5, 25.0])
    state = programmed(model, targets_uS, N_DEVICES, jax.random.key(3))
    nu = np.asarray(state.nu, np.float64)
    assert np.all(nu >= 0.0)
    for row, target in enumerate(targets_uS):
        mean, std = folded_normal_moments(*nu_mu_sigma(target))
        assert_mean(nu[row], mean, f"nu at {target} uS")
        assert_std(nu[row], std, f"nu at {target} uS")


@pytest.mark.parametrize("t_s", [3600.0, 86400.0])
def test_mean_conductance_after_drift(model, t_s):
    # Programming noise off, so g_prog = g_T exactly and E[g(t)] = g_T E[((t+t0)/t0)^-nu].
    quiet = vary(model, lambda m: m.programming_noise.scale, 0.0)
    targets_uS = np.array([1.25, 6.25, 20.0])
    state = programmed(quiet, targets_uS, N_DEVICES, jax.random.key(4))
    g_prog = to_uS(state.g_prog_S)[: targets_uS.size]
    np.testing.assert_allclose(
        g_prog, np.broadcast_to(targets_uS[:, None], g_prog.shape), rtol=1e-6
    )
    g_clean = to_uS(drifted(quiet, state, t_s))
    g_read = to_uS(read(quiet, state, t_s, jax.random.key(5)))
    for row, target in enumerate(targets_uS):
        expected = target * float(mean_drift_factor(target * UMHO, t_s))
        assert_mean(g_clean[row], expected, f"drifted at {target} uS, {t_s} s")
        # read noise is zero-mean (the clip at 0 is > 20 sigma away here)
        assert_mean(g_read[row], expected, f"read at {target} uS, {t_s} s")
        # the drift must be visible: > 10 % lost after an hour at every target here
        assert g_clean[row].mean() < 0.9 * target


def test_drift_uses_the_sampled_exponent(model):
    # Device by device, drifted() is g_prog ((t+t0)/t0)^-nu with the device's own nu.
    state = programmed(model, [5.0], N_DEVICES, jax.random.key(6))
    t_s = 86400.0
    got = to_uS(drifted(model, state, t_s))
    nu = np.asarray(state.nu, np.float64)
    expected = to_uS(state.g_prog_S) * ((t_s + T0_S) / T0_S) ** (-nu)
    np.testing.assert_allclose(got, expected, rtol=2e-5)


def test_read_noise_grows_as_sqrt_log_time(model):
    # Drift and programming noise off: g_read = g_T (1 + Q_s(g_T) f(t) xi), so std / g_T is
    # Q_s f(t) and the ratio of stds at two times is f(t2)/f(t1). Each std has relative
    # standard error 1/sqrt(2N) (normal), the ratio sqrt(2) times that.
    quiet = vary(model, lambda m: (m.drift.scale, m.programming_noise.scale), (0.0, 0.0))
    targets_uS = np.array([2.5, 12.5])
    state = programmed(quiet, targets_uS, N_DEVICES, jax.random.key(7))
    assert float(jnp.max(state.nu)) == 0.0
    t1, t2 = 1.0, 86400.0
    g1 = to_uS(read(quiet, state, t1, jax.random.key(8)))
    g2 = to_uS(read(quiet, state, t2, jax.random.key(9)))
    for row, target in enumerate(targets_uS):
        for g, t in ((g1, t1), (g2, t2)):
            assert_mean(g[row], target, f"read at {target} uS, {t} s")
            assert_std(g[row], read_sigma_uS(target, t), f"read at {target} uS, {t} s")
        ratio = g2[row].std() / g1[row].std()
        expected = read_sigma_uS(target, t2) / read_sigma_uS(target, t1)
        tol = N_SIGMA * expected * math.sqrt(2) / math.sqrt(2 * g1[row].size)
        assert abs(ratio - expected) <= tol, (target, ratio, expected, tol)
    # the growth is real, not within noise: 1 s → 1 day raises the std by ~ 20 %
    assert read_sigma_uS(12.5, t2) / read_sigma_uS(12.5, t1) > 1.2


def test_read_noise_is_fresh_each_read(model):
    # Two reads of the same devices share the drift but not the noise: the noise parts are
    # uncorrelated (sample correlation of independent variables has SE 1/sqrt(N)).
    state = programmed(model, [10.0], N_DEVICES, jax.random.key(10))
    t = 60.0
    clean = to_uS(drifted(model, state, t))[0]
    a = to_uS(read(model, state, t, jax.random.key(11)))[0] - clean
    b = to_uS(read(model, state, t, jax.random.key(12)))[0] - clean
    assert a.std() > 0.1  # ~0.39 uS of read noise at 10 uS, 60 s
    assert abs(np.corrcoef(a, b)[0, 1]) < N_SIGMA / math.sqrt(a.size)


# --- the aihwkit reference file ------------------------------------------------------------


def reference_csv() -> Path:
    shared = os.environ.get("MEMXBAR_SHARED")
    root = Path(shared) if shared else Path(__file__).resolve().parents[1].parent / "shared"
    return root / "data" / "pcm_reference.csv"


def load_reference():
    path = reference_csv()
    if not path.is_file():
        pytest.skip(f"aihwkit reference statistics not found at {path} (set MEMXBAR_SHARED)")
    with path.open(newline="") as fh:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]
    assert rows, f"{path} has no rows"
    return rows


def test_reference_location(monkeypatch, tmp_path):
    # ../shared beside the checkout by default; MEMXBAR_SHARED names another shared/ folder
    monkeypatch.delenv("MEMXBAR_SHARED", raising=False)
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pcm_reference.csv"
    assert reference_csv() == default
    monkeypatch.setenv("MEMXBAR_SHARED", str(tmp_path))
    assert reference_csv() == tmp_path / "data" / "pcm_reference.csv"


N_REFERENCE_SAMPLE = 200_000


def compare_with_reference(model, rows, key):
    """Failures (text) of ``model`` against reference ``rows``: mean and std of g_prog, nu, g."""
    targets_uS = sorted({r["g_target_uS"] for r in rows})
    times_s = sorted({r["t_s"] for r in rows})
    k_prog, k_read = jax.random.split(key)
    state = programmed(model, targets_uS, N_REFERENCE_SAMPLE, k_prog)
    g_prog = to_uS(state.g_prog_S)
    nu = np.asarray(state.nu, np.float64)
    reads = {
        t: to_uS(read(model, state, t, jax.random.fold_in(k_read, i)))
        for i, t in enumerate(times_s)
    }
    failures = []

    def check(row, name, sample, ref_mean, ref_std):
        n_ref = row["n_devices"]
        where = f"{row['g_target_uS']:g} uS, {row['t_s']:g} s,"
        # mean: difference of two independent sample means
        tol_m = N_SIGMA * math.sqrt(sample.var() / sample.size + ref_std**2 / n_ref)
        if abs(sample.mean() - ref_mean) > tol_m:
            failures.append(
                f"{where} mean {name}: {sample.mean():.6g} vs {ref_mean:.6g} ± {tol_m:.2g}"
            )
        # std: difference of two independent sample stds of (under H0) the same distribution
        se_ours = std_se(sample)
        se_ref = std_se(sample, std=ref_std) * math.sqrt(sample.size / n_ref)
        tol_s = N_SIGMA * math.sqrt(se_ours**2 + se_ref**2)
        if abs(sample.std() - ref_std) > tol_s:
            failures.append(
                f"{where} std {name}: {sample.std():.6g} vs {ref_std:.6g} ± {tol_s:.2g}"
            )

    for row in rows:
        r = targets_uS.index(row["g_target_uS"])
        check(row, "g_prog", g_prog[r], row["mean_g_prog_uS"], row["std_g_prog_uS"])
        check(row, "nu", nu[r], row["mean_nu"], row["std_nu"])
        check(row, "g", reads[row["t_s"]][r], row["mean_g_uS"], row["std_g_uS"])
    return failures


def test_reproduces_aihwkit_reference(model):
    rows = load_reference()
    # 7 targets x 6 times, every row checked (42 rows x 6 statistics)
    assert len(rows) == len({r["g_target_uS"] for r in rows}) * len({r["t_s"] for r in rows})
    failures = compare_with_reference(model, rows, jax.random.key(2024))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "where, value, statistic",
    [
        # t0 = 2 s instead of 20 s: the 1-s mean read at 25 uS drops by ~0.4 uS (20 tolerances)
        (lambda m: m.drift.t0_s, 2.0, "mean g"),
        # 10 % less read noise: the 1-s std at 25 uS drops by ~0.05 uS (3 tolerances)
        (lambda m: m.read_noise.scale, 0.9, "std g"),
        # 10 % less programming noise: std g_prog at 25 uS drops by ~0.1 uS
        (lambda m: m.programming_noise.scale, 0.9, "std g_prog"),
    ],
    ids=["t0", "read_noise", "programming_noise"],
)
def test_reference_comparison_detects_a_wrong_model(model, where, value, statistic):
    # The tolerances are tight enough to catch plausible mistakes in the model.
    rows = [r for r in load_reference() if r["t_s"] == 1.0 and r["g_target_uS"] == 25.0]
    assert len(rows) == 1
    wrong = vary(model, where, value)
    failures = compare_with_reference(wrong, rows, jax.random.key(2024))
    assert any(f"{statistic}:" in f for f in failures), failures
