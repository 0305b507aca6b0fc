"""Fitting a pulse-level PCM preset to measurements by the simulated method of moments.

The statistics of :mod:`.moments` are computed on the measured devices and on ``n_sim``
devices simulated with the model's own pulse and read physics (:mod:`.simulate`), always
with the same random numbers (common random numbers make the simulated statistics a smooth,
deterministic function of the parameters). The parameters minimise the whitened distance
r = L (m_sim − m_data), LᵀL = (Ω_w + ridge)⁻¹. Ω_w is the covariance of the statistics
that the *model* predicts (from simulated devices, at the base values, then again at the
first estimate): weights computed from the measured devices themselves correlate with their
own sampling noise and bias second-moment parameters (Altonji & Segal, J. Bus. Econ. Stat.
14, 353 (1996)); efficient weights still halve the uncertainty of the SET-step coefficients
against diagonal ones. The minimiser is Levenberg–Marquardt on r with the Jacobian from
forward-mode differentiation of the simulation: a least-squares problem of ~13 parameters
converges in a few tens of steps, where first-order optimisers (optax) need hundreds, and
reverse mode cannot differentiate ``set_pulses``' traced loop.

Uncertainties are the sandwich covariance of the method of moments,
Var θ = (JᵀJ)⁻¹ Jᵀ L Σ Lᵀ J (JᵀJ)⁻¹ with Σ = Ω_d (1 + D / n_sim): Ω_d is the covariance of
the measured statistics over the D devices (from the per-device contributions, i.e. a
bootstrap over devices to first order), and the independent simulation adds D / n_sim of it.
A parameter the data determine only to more than :data:`WEAK` of its base value is put back
to the base value and the others are refitted.
"""

from __future__ import annotations

import dataclasses
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .. import prng
from ..abstract import AbstractDevice
from .measurements import Design, Measurements
from .moments import MomentLayout, contributions, layout_of, moments
from .parameters import PARAMETERS, field_bounds, unidentifiable, value_of, with_values
from .simulate import Schedule, check_pulse_model, jitted_reads, schedule_of, simulate_reads

__all__ = ["DeviceFit", "RIDGE", "WEAK", "fit_device", "simulated_devices"]

#: Relative ridge on the diagonal of Ω_w before it is inverted for the weights.
RIDGE = 0.01
#: A fitted parameter whose uncertainty exceeds this fraction of its base value's magnitude
#: is not determined by the data: it keeps the base value.
WEAK = 0.3
#: Scale of a parameter whose base value is 0 (S for conductances, else dimensionless).
_ZERO_SCALE = {"S": 1e-7, "": 1e-2}
#: Most weighting stages: base values, the estimate, and refits after parameters are put back.
_STAGES = 6
_uS = 1e-6


def simulated_devices(n_devices: int, factor: int = 4) -> int:
    """Devices the fit simulates for ``n_devices`` measured ones: ``factor`` times as many,
    between 2,000 (a smooth objective) and 16,000 (memory)."""
    return int(np.clip(factor * n_devices, 2000, 16000))


class _Problem(eqx.Module):
    """The objective of one fit: parameters u (θ = θ_base + u · scale) → whitened residuals."""

    base: AbstractDevice
    fields: tuple[str, ...] = eqx.field(static=True)
    theta0: jax.Array
    scale: jax.Array
    schedule: Schedule
    layout: MomentLayout
    selected: jax.Array
    whiten: jax.Array
    target: jax.Array
    n_sim: int = eqx.field(static=True)
    n_measured: int = eqx.field(static=True)
    key: jax.Array

    def model(self, u):
        return with_values(self.base, self.fields, self.theta0 + u * self.scale)

    def simulated(self, u):
        """The selected statistics of the simulated devices at parameters ``u``."""
        g = simulate_reads(self.model(u), self.schedule, self.n_sim, key=self.key)
        return moments(g / _uS, self.layout)[self.selected]

    def residual(self, u):
        return self.whiten @ (self.simulated(u) - self.target)


@eqx.filter_jit
def _residual(problem: _Problem, u):
    return problem.residual(u)


@eqx.filter_jit
def _jacobian(problem: _Problem, u):
    """(whitened residual, its Jacobian in u)."""
    return problem.residual(u), jax.jacfwd(problem.residual)(u)


@eqx.filter_jit
def _model_contributions(problem: _Problem, u, key):
    """Per-device contributions of devices simulated at ``u`` with ``key``."""
    g = simulate_reads(problem.model(u), problem.schedule, problem.n_sim, key=key)
    return contributions(g / _uS, problem.layout)[:, problem.selected]


@dataclasses.dataclass(frozen=True)
class DeviceFit:
    """The result of :func:`fit_device`.

    Attributes:
        model: the base model with the fitted values in place.
        base: the model the fit started from (its values stay where data are missing).
        fields: the fitted parameters (dotted field paths, SI units).
        values: fitted values (SI), ``(len(fields),)``.
        sigmas: their standard uncertainties (SI), same shape.
        kept: ``{field: why}`` for the parameters the data do not determine.
        chi2: whitened residual sum of squares at the optimum; ``dof`` = statistics − fields
            (about ``dof`` when the model describes the data).
        rms_uS: root-mean-square measured − simulated difference of the mean SET curve
            (``mean_curve``), of its device-to-device std (``std_curve``) and of the mean
            drift reads (``drift``), µS.
        iterations: Levenberg–Marquardt steps taken; ``seconds``: wall time of the fit.
        n_devices, n_simulated: measured and simulated devices.
        source: the measurements' file; ``design``: how they were measured.
    """

    model: AbstractDevice
    base: AbstractDevice
    fields: tuple[str, ...]
    values: np.ndarray
    sigmas: np.ndarray
    kept: dict[str, str]
    chi2: float
    dof: int
    rms_uS: dict[str, float]
    iterations: int
    seconds: float
    n_devices: int
    n_simulated: int
    source: str
    design: Design

    def table(self) -> list[tuple[str, float, float, float]]:
        """Rows (field, base value, fitted value, sigma), SI, for the fitted parameters."""
        return [
            (f, float(value_of(self.base, f)), float(v), float(s))
            for f, v, s in zip(self.fields, self.values, self.sigmas, strict=True)
        ]


def _whitening(omega: np.ndarray) -> jax.Array:
    """L with LᵀL = (Ω + RIDGE · diag Ω)⁻¹."""
    regular = omega + RIDGE * np.diag(np.diag(omega))
    return jnp.asarray(np.linalg.inv(np.linalg.cholesky(regular)), jnp.float32)


def _covariance_of(h) -> np.ndarray:
    """Covariance of the mean over devices of per-device contributions ``h`` (D', n), for
    D' devices."""
    h = np.asarray(h, np.float64)
    return np.cov(h, rowvar=False) / h.shape[0]


def _problem(measurements, base, fields, n_sim, key) -> tuple[_Problem, np.ndarray]:
    """The objective (weights not yet set) and Ω_d, the covariance of the measured
    statistics."""
    design = measurements.design
    layout = layout_of(design)
    h = contributions(jnp.asarray(measurements.g_S / _uS, jnp.float32), layout)
    omega = _covariance_of(h)
    var = np.diag(omega)
    # Statistics that do not vary over devices (reads clipped at 0 S) carry no information.
    selected = np.flatnonzero(np.isfinite(var) & (var > 1e-12 * np.nanmax(var)))
    theta0 = np.array([float(value_of(base, f)) for f in fields])
    units = ["S" if f.endswith("_S") else "" for f in fields]
    scale = np.array([abs(t) or _ZERO_SCALE[u] for t, u in zip(theta0, units, strict=True)])
    problem = _Problem(
        base=base,
        fields=tuple(fields),
        theta0=jnp.asarray(theta0, jnp.float32),
        scale=jnp.asarray(scale, jnp.float32),
        schedule=schedule_of(design),
        layout=layout,
        selected=jnp.asarray(selected, jnp.int32),
        whiten=jnp.eye(selected.size, dtype=jnp.float32),
        target=jnp.asarray(np.asarray(h).mean(axis=0)[selected], jnp.float32),
        n_sim=n_sim,
        n_measured=measurements.n_devices,
        key=key,
    )
    return problem, omega[np.ix_(selected, selected)]


class _Bounds(eqx.Module):
    """The loader's bounds of the fitted fields, in units of u."""

    low: np.ndarray
    high: np.ndarray

    def project(self, u):
        return np.clip(u, self.low, self.high)


def _bounds(problem: _Problem) -> _Bounds:
    """Bounds of u; an open bound is kept 0.1 % of the scale away (float32 must not round
    θ onto it: a pulse-memory constant of 0 makes the derivative 0 · inf)."""
    low, high, low_open, high_open = np.array(
        [field_bounds(problem.base, f) for f in problem.fields], dtype=float
    ).T
    theta0, scale = np.asarray(problem.theta0, np.float64), np.asarray(problem.scale, np.float64)
    return _Bounds(
        low=(low - theta0) / scale + 1e-3 * low_open,
        high=(high - theta0) / scale - 1e-3 * high_open,
    )


def _levenberg_marquardt(problem, bounds, u, free, max_iterations):
    """Minimise |r(u)|² over the ``free`` components of u, within ``bounds``; returns
    (u, steps)."""
    r, jac = _jacobian(problem, jnp.asarray(u, jnp.float32))
    cost, damping = float(r @ r), 1e-3
    for steps in range(1, max_iterations + 1):
        j = np.asarray(jac, np.float64)[:, free]
        if not np.all(np.isfinite(j)):
            return u, steps
        jtj, grad = j.T @ j, j.T @ np.asarray(r, np.float64)
        step = np.zeros_like(u)
        step[free] = np.linalg.solve(jtj + damping * np.diag(np.diag(jtj) + 1e-12), -grad)
        trial = bounds.project(u + step)
        r_trial = _residual(problem, jnp.asarray(trial, jnp.float32))
        cost_trial = float(r_trial @ r_trial)
        if cost_trial < cost:
            converged = cost - cost_trial < 1e-5 * cost or np.max(np.abs(trial - u)) < 1e-4
            u, damping = trial, max(damping / 3.0, 1e-9)
            r, jac = _jacobian(problem, jnp.asarray(u, jnp.float32))
            cost = float(r @ r)
            if converged:
                return u, steps
        else:
            damping *= 4.0
            if damping > 1e8:
                return u, steps
    return u, max_iterations


def _refined(problem: _Problem, bounds, u, free, key, steps: int = 3):
    """Gauss-Newton steps toward J_Bᵀ r(u) = 0 with the Jacobian J_B of devices simulated
    with an independent ``key``; returns (u, J_B at u).

    Minimising |r|² solves J_Aᵀ r = 0 with the Jacobian of the very devices behind r, whose
    noise is correlated with r's (the derivative of a sample variance is that variance over
    σ): that biases second-moment parameters by a few σ at a few hundred statistics. An
    independent Jacobian removes the correlation."""
    other = eqx.tree_at(lambda p: p.key, problem, key)
    r = np.asarray(_residual(problem, jnp.asarray(u, jnp.float32)), np.float64)
    _, jac = _jacobian(other, jnp.asarray(u, jnp.float32))
    for _ in range(steps):
        j = np.asarray(jac, np.float64)[:, free]
        if not np.all(np.isfinite(j)):
            break
        step = np.zeros_like(u)
        step[free] = -np.linalg.lstsq(j, r, rcond=None)[0]
        trial = bounds.project(u + step)
        r_trial = np.asarray(_residual(problem, jnp.asarray(trial, jnp.float32)), np.float64)
        # The two Jacobians differ by noise: the refinement moves each parameter by about its
        # sigma, raising chi2 by about their number; more means J_B is unreliable there.
        if not np.all(np.isfinite(r_trial)) or r_trial @ r_trial > r @ r + free.sum():
            break
        u, r = trial, r_trial
        _, jac = _jacobian(other, jnp.asarray(u, jnp.float32))
    return u, jac


def _reweighted(problem: _Problem, u, key) -> _Problem:
    """``problem`` weighted by the covariance the model predicts at ``u`` for as many devices
    as were measured."""
    h = _model_contributions(problem, jnp.asarray(u, jnp.float32), key)
    omega = _covariance_of(h) * h.shape[0] / problem.n_measured
    return eqx.tree_at(lambda p: p.whiten, problem, _whitening(omega))


def _sandwich(jac, whiten, omega, inflation):
    """Covariance of u: (JᵀJ)⁺ Jᵀ L Σ Lᵀ J (JᵀJ)⁺, Σ = Ω · inflation."""
    jac, whiten = np.asarray(jac, np.float64), np.asarray(whiten, np.float64)
    bread = np.linalg.pinv(jac.T @ jac)
    meat = jac.T @ whiten @ (omega * inflation) @ whiten.T @ jac
    return bread @ meat @ bread


def _rms(design, data_uS, sim_uS) -> dict[str, float]:
    """rms differences (µS) of the mean SET curve, its std and the mean drift reads."""
    mask = design.read_mask()

    def per_point(g):
        ybar = (g * mask).sum(axis=2) / design.reads
        return ybar.mean(axis=0), ybar.std(axis=0, ddof=1)

    (mean_d, std_d), (mean_s, std_s) = per_point(data_uS), per_point(sim_uS)
    curve, drift = design.curve_points(), design.drift_points()

    def rms(a):
        return float(np.sqrt(np.mean(a**2))) if a.size else float("nan")

    return {
        "mean_curve": rms(mean_d[curve] - mean_s[curve]),
        "std_curve": rms(std_d[curve] - std_s[curve]),
        "drift": rms(mean_d[drift] - mean_s[drift]),
    }


def fit_device(
    measurements: Measurements,
    base: AbstractDevice,
    *,
    key,
    sim_factor: int = 4,
    max_iterations: int = 50,
) -> DeviceFit:
    """Fit the parameters of the pulse-level model ``base`` that ``measurements`` determine.

    Args:
        measurements: SET sequences after RESET (:mod:`.measurements`).
        base: a pulse-level model (``model: pcm_pulse``); its values are the starting point
            and stay where the data say nothing (:func:`.parameters.unidentifiable`, and
            :data:`WEAK`).
        key: PRNG key of the simulated devices (same key, same fit).
        sim_factor: simulated devices per measured one (:func:`simulated_devices`).
        max_iterations: most Levenberg–Marquardt steps per stage (three stages).

    Raises:
        ValueError: ``base`` has no pulse-level SET response, or the data determine none of
            the parameters.
    """
    start = time.perf_counter()
    check_pulse_model(base)
    kept = unidentifiable(measurements, base)
    fields = [p.field for p in PARAMETERS if p.field not in kept]
    if not fields:
        raise ValueError(f"{measurements.source}: the data determine no parameter ({kept})")
    n_sim = simulated_devices(measurements.n_devices, sim_factor)
    k_sim, k_weights = prng.split(key)
    problem, omega = _problem(measurements, base, fields, n_sim, k_sim)
    bounds = _bounds(problem)
    inflation = 1.0 + measurements.n_devices / n_sim
    u, free, steps = np.zeros(len(fields)), np.ones(len(fields), bool), 0

    def solve(problem, u, key):
        """LM, then the independent-Jacobian refinement; (u, steps, sigma of u)."""
        u, n = _levenberg_marquardt(problem, bounds, u, free, max_iterations)
        u, jac = _refined(problem, bounds, u, free, key)
        cov = np.zeros((len(fields), len(fields)))
        cov[np.ix_(free, free)] = _sandwich(
            np.asarray(jac)[:, free], problem.whiten, omega, inflation
        )
        return u, n, np.sqrt(np.clip(np.diag(cov), 0.0, None))

    for stage, k in enumerate(prng.split(k_weights, _STAGES)):
        k_w, k_jac = prng.split(k)
        # Weights at the base values first, then at the estimate (they depend on it).
        problem = _reweighted(problem, u, k_w)
        u, n, sigma_u = solve(problem, u, k_jac)
        steps += n
        # A value pinned at a bound, or one the statistics do not depend on (a step std
        # clipped at 0), has no sigma: the data push it out of the model's range.
        pinned = (u <= bounds.low + 1e-6) | (u >= bounds.high - 1e-6) | ~(sigma_u > 0)
        weak = free & ((sigma_u > WEAK) | pinned)
        if not weak.any():
            if stage >= 1:
                break
            continue
        # Put back the least determined parameter (one at a time: two collinear ones are
        # each uncertain alone and determined once the other is fixed); the others refit.
        i = int(np.argmax(np.where(weak, np.where(pinned, np.inf, sigma_u), -1.0)))
        kept[fields[i]] = (
            "the fit runs out of the model's range (a bound, or no effect on the statistics)"
            if pinned[i]
            else f"the data determine it only to ±{sigma_u[i] * 100:.0f} % of the base value "
            f"(more than {WEAK * 100:.0f} %)"
        )
        free[i], u[i] = False, 0.0
        if stage == _STAGES - 1:
            u, n, sigma_u = solve(problem, u, k_jac)
            steps += n
    values = np.asarray(problem.theta0 + jnp.asarray(u, jnp.float32) * problem.scale, np.float64)
    scale = np.asarray(problem.scale, np.float64)
    fitted = [f for f, on in zip(fields, free, strict=True) if on]
    model = with_values(base, fitted, [float(v) for v in values[free]])
    sim = jitted_reads(model, problem.schedule, n_sim, k_sim)
    r = _residual(problem, jnp.asarray(u, jnp.float32))
    return DeviceFit(
        model=model,
        base=base,
        fields=tuple(fitted),
        values=values[free],
        sigmas=(sigma_u * scale)[free],
        kept={f: kept[f] for f in (p.field for p in PARAMETERS) if f in kept},
        chi2=float(r @ r),
        dof=int(problem.selected.shape[0] - free.sum()),
        rms_uS=_rms(measurements.design, measurements.g_S / _uS, np.asarray(sim) / _uS),
        iterations=steps,
        seconds=time.perf_counter() - start,
        n_devices=measurements.n_devices,
        n_simulated=n_sim,
        source=measurements.source,
        design=measurements.design,
    )
