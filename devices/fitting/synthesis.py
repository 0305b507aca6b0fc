"""Synthetic measurements from a device preset, to try the fit on (or test it with)."""

from __future__ import annotations

import numpy as np

from ..abstract import AbstractDevice
from .measurements import Design, Measurements
from .simulate import check_pulse_model, jitted_reads, masked, schedule_of

__all__ = ["DRIFT_TIMES_S", "standard_design", "synthesize"]

#: Read times (s) after the last pulse of the standard design: drift over four decades.
DRIFT_TIMES_S = (10.0, 100.0, 1000.0, 10000.0)


def standard_design(n_pulses: int, reads: int = 3, drift_times_s=DRIFT_TIMES_S) -> Design:
    """A SET sequence read right after the RESET and after each of ``n_pulses`` pulses (at
    0 s), then read again at ``drift_times_s`` (s) after the last pulse; ``reads`` repeated
    reads at every point.

    Raises:
        ValueError: ``n_pulses < 1``, ``reads < 1``, or a drift time that is not > 0 s.
    """
    if n_pulses < 1 or reads < 1:
        raise ValueError(f"need ≥ 1 pulse and ≥ 1 read, got {n_pulses} pulses, {reads} reads")
    times = np.unique(np.asarray(drift_times_s, np.float64))
    if times.size and not (np.all(np.isfinite(times)) and times[0] > 0):
        raise ValueError(f"drift times must be finite and > 0 s, got {list(drift_times_s)}")
    pulse = np.concatenate([np.arange(n_pulses + 1), np.full(times.size, n_pulses)])
    t_read = np.concatenate([np.zeros(n_pulses + 1), times])
    return Design(pulse=pulse, t_read_s=t_read, reads=np.full(pulse.size, reads))


def synthesize(model: AbstractDevice, design: Design, n_devices: int, *, key) -> Measurements:
    """``n_devices`` devices of ``model`` measured per ``design`` (labels d0000, d0001, …).

    Same key, same data. Raises ValueError for ``n_devices < 2`` (a spread needs two).
    """
    check_pulse_model(model)
    if n_devices < 2:
        raise ValueError(f"need at least 2 devices, got {n_devices}")
    g = jitted_reads(model, schedule_of(design), int(n_devices), key)
    width = max(4, len(str(n_devices - 1)))
    return Measurements(
        devices=tuple(f"d{i:0{width}d}" for i in range(n_devices)),
        design=design,
        g_S=masked(g, design),
        source=f"synthesized from '{model.description}'",
    )
