"""Programming noise of program-and-verify writes (Nandakumar et al., ICECS 2019)."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from ..hw_configs import param


class ProgrammingNoise(eqx.Module):
    """Gaussian programming noise whose std is a polynomial in the normalised target.

    sigma_p(g_T) = scale * sum_i c_i (g_T / g_ref)^i, with c_i in siemens. The fit was made
    with g_ref = 25 µS (Nandakumar et al., ICECS 2019; aihwkit ``PCMLikeNoiseModel``).
    """

    coefficients_S: tuple[float, ...] = param("polynomial coefficients c_0, c_1, ... of sigma_p, S")
    g_ref_S: float = param("conductance the polynomial is normalised by, S", gt=0.0)
    scale: float = param("multiplier of sigma_p (0 switches programming noise off)", ge=0.0)

    def sigma_S(self, g_target_S):
        """Std of the programmed conductance (S) for a target conductance (S)."""
        g_rel = jnp.asarray(g_target_S) / self.g_ref_S
        sigma = jnp.zeros_like(g_rel)
        for coefficient in reversed(self.coefficients_S):  # Horner's scheme
            sigma = sigma * g_rel + coefficient
        return self.scale * jnp.maximum(sigma, 0.0)
