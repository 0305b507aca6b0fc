"""Abrupt RESET of PCM: melt-quench back to a low conductance in one pulse."""

from __future__ import annotations

import equinox as eqx

from ..hw_configs import param


class ResetResponse(eqx.Module):
    """Conductance after a RESET pulse: g_reset * (1 + relative_spread * xi), clipped at 0."""

    g_reset_S: float = param("mean conductance right after a RESET, S", ge=0.0)
    relative_spread: float = param("relative std of the post-RESET conductance", ge=0.0)
