"""Fitting a pulse-level PCM preset to measured pulse data.

:mod:`.measurements` defines the CSV format of measured conductances (SET sequences after a
RESET, optionally read at several times and repeatedly) and reads it strictly;
:mod:`.synthesis` makes such data from a preset; :mod:`.fit` estimates the parameters the
data determine by the simulated method of moments, with uncertainties; :mod:`.preset_writer`
writes the result as a strict preset whose comments state the fit.
"""

from .fit import DeviceFit, fit_device
from .measurements import (
    Design,
    MeasurementError,
    Measurements,
    read_measurements,
    write_measurements,
)
from .parameters import PARAMETERS, unidentifiable
from .synthesis import DRIFT_TIMES_S, standard_design, synthesize

__all__ = [
    "DRIFT_TIMES_S",
    "Design",
    "DeviceFit",
    "MeasurementError",
    "Measurements",
    "PARAMETERS",
    "fit_device",
    "read_measurements",
    "standard_design",
    "synthesize",
    "unidentifiable",
    "write_measurements",
]
