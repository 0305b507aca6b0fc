"""The conductance window of a device."""

from __future__ import annotations

import equinox as eqx

from ..hw_configs import InvalidParameter, param


class ConductanceRange(eqx.Module):
    """Conductance window of a PCM device."""

    g_max_S: float = param("maximum (fully crystalline) conductance, S", gt=0.0)
    g_min_S: float = param("minimum conductance a write targets, S", ge=0.0)

    def __check_init__(self):
        if isinstance(self.g_min_S, float) and self.g_min_S >= self.g_max_S:
            raise InvalidParameter(
                "g_min_S", f"must be below g_max_S ({self.g_max_S:g} S), got {self.g_min_S:g} S"
            )
