"""Device-to-device variability of the pulse response."""

from __future__ import annotations

import equinox as eqx

from ..hw_configs import param


class DeviceVariability(eqx.Module):
    """Per-device multipliers drawn once at fabrication (``init``).

    step_scale ~ max(N(1, step_relative), 0) scales every SET increment of a device;
    g_max ~ g_max * max(N(1, g_max_relative), 0.05) is the device's own ceiling.
    aihwkit's PCM preset uses 20 % step and 10 % g_max spread.
    """

    step_relative: float = param("relative std of the SET step size across devices", ge=0.0)
    g_max_relative: float = param("relative std of g_max across devices", ge=0.0, lt=1.0)
