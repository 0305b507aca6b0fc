"""Conductance drift of amorphous PCM (Nandakumar et al., ICECS 2019; Joshi et al., 2020)."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from ..hw_configs import InvalidParameter, param


class Drift(eqx.Module):
    """Power-law drift g(t) = g_prog ((t + t0)/t0)^(-nu), t counted from the last write.

    The exponent of a device is nu = scale * |mu(g) + sigma(g) z|, z ~ N(0, 1) drawn once at
    the write, with mu(g) = clip(mu_slope ln g + mu_intercept, mu_min, mu_max) and
    sigma(g) = clip(sigma_slope ln g + sigma_intercept, sigma_min, sigma_max), g = G / g_ref.
    """

    t0_s: float = param("time after a write at which drift is referenced, s", gt=0.0)
    g_ref_S: float = param("conductance the fit normalises G by, S", gt=0.0)
    mu_slope: float = param("d mu_nu / d ln(G/g_ref)")
    mu_intercept: float = param("mu_nu at G = g_ref")
    mu_min: float = param("lower clip of mu_nu", ge=0.0)
    mu_max: float = param("upper clip of mu_nu", ge=0.0)
    sigma_slope: float = param("d sigma_nu / d ln(G/g_ref)")
    sigma_intercept: float = param("sigma_nu at G = g_ref")
    sigma_min: float = param("lower clip of sigma_nu", ge=0.0)
    sigma_max: float = param("upper clip of sigma_nu", ge=0.0)
    g_rel_floor: float = param("smallest G/g_ref used in ln (avoids ln 0)", gt=0.0)
    scale: float = param("multiplier of nu (0 switches drift off)", ge=0.0)

    def __check_init__(self):
        for low, high in (("mu_min", "mu_max"), ("sigma_min", "sigma_max")):
            lo, hi = getattr(self, low), getattr(self, high)
            if isinstance(lo, float) and lo > hi:
                raise InvalidParameter(low, f"must not exceed {high} ({hi:g}), got {lo:g}")

    def _log_g(self, g_S):
        return jnp.log(jnp.maximum(jnp.abs(g_S) / self.g_ref_S, self.g_rel_floor))

    def nu_mean(self, g_S):
        """Mean drift exponent of devices written to conductance ``g_S`` (S)."""
        return jnp.clip(
            self.mu_slope * self._log_g(g_S) + self.mu_intercept, self.mu_min, self.mu_max
        )

    def nu_std(self, g_S):
        """Std of the drift exponent (before the absolute value) at conductance ``g_S`` (S)."""
        return jnp.clip(
            self.sigma_slope * self._log_g(g_S) + self.sigma_intercept,
            self.sigma_min,
            self.sigma_max,
        )

    def nu(self, g_S, z):
        """Drift exponent for conductance ``g_S`` (S) and standard-normal draw ``z``."""
        return self.scale * jnp.abs(self.nu_mean(g_S) + self.nu_std(g_S) * z)

    def factor(self, elapsed_s, nu):
        """Multiplicative drift ((elapsed + t0)/t0)^(-nu) for ``elapsed_s`` ≥ 0 s since a write."""
        elapsed_s = jnp.maximum(elapsed_s, 0.0)
        # ln(e + t0) − ln t0 rather than log1p(e / t0): XLA:CPU's log1p is ~8x slower than its
        # log (3.2 vs 0.41 ms for this factor on 409k devices, benchmarks/README.md), and the
        # pulses' drift to the write time is taken for every pulsed device. The absolute error
        # in the exponent, ~1 ulp of ln t0 (2.4e-7), moves the factor by < 1e-8 relative.
        log_ratio = jnp.log(elapsed_s + self.t0_s) - jnp.log(self.t0_s)
        return jnp.exp(-nu * log_ratio)
