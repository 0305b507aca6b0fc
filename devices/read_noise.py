"""Accumulated 1/f read noise of PCM (Nandakumar et al., ICECS 2019)."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from ..hw_configs import param


class ReadNoise(eqx.Module):
    """Relative 1/f read noise, fresh on every read.

    g_read = g_drift + |g_drift| * scale * Q_s(g_prog) * sqrt(ln((t + t_read) / (2 t_read))) * xi,
    Q_s = min(q_coefficient / max((g_prog/g_ref)^q_exponent, q_floor), q_max), where t is the
    time since the write plus the drift reference time t0 (the 1/f integral runs from the write).
    """

    q_coefficient: float = param("numerator of Q_s", ge=0.0)
    q_exponent: float = param("exponent of G/g_ref in Q_s", ge=0.0)
    q_floor: float = param("floor of (G/g_ref)^q_exponent in Q_s", gt=0.0)
    q_max: float = param("upper clip of Q_s", ge=0.0)
    t_read_s: float = param("read integration time of the 1/f fit, s", gt=0.0)
    g_ref_S: float = param("conductance the fit normalises G by, S", gt=0.0)
    scale: float = param("multiplier of the read noise (0 switches it off)", ge=0.0)

    def q_s(self, g_prog_S):
        """Q_s for devices written to ``g_prog_S`` (S)."""
        g_rel = jnp.maximum(jnp.abs(g_prog_S) / self.g_ref_S, 1e-30)
        # exp(a log g) instead of g**a: XLA's general pow is ~20x slower on CPU.
        g_pow = jnp.exp(self.q_exponent * jnp.log(g_rel))
        return jnp.minimum(self.q_coefficient / jnp.maximum(g_pow, self.q_floor), self.q_max)

    def time_factor(self, t_since_write_plus_t0_s):
        """sqrt(ln((t + t_read)/(2 t_read))) for t = time since the write + t0 (s)."""
        t = jnp.asarray(t_since_write_plus_t0_s)
        return jnp.sqrt(jnp.log((t + self.t_read_s) / (2.0 * self.t_read_s)))

    def relative_sigma(self, g_prog_S, t_since_write_plus_t0_s):
        """Std of a read relative to |g_drift| (dimensionless)."""
        return self.scale * self.q_s(g_prog_S) * self.time_factor(t_since_write_plus_t0_s)
