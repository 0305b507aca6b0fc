"""The device floor: PCM models in JAX, vectorised over arrays of any shape.

Two models share :class:`AbstractDevice`: the statistical model of programmed weights
(programming noise, conductance-dependent drift, 1/f read noise; Nandakumar et al. 2019) and
the pulse-level model for on-chip learning (cumulative SET with pulse memory, abrupt RESET,
device variation, faults, wear; Nandakumar et al. 2018); energy per operation; the one
random-number module (:mod:`.random`) and its key derivation (:mod:`.prng`: ``jax.random``'s
split and fold_in, bit for bit, without XLA:CPU's rolled cipher loop); and the volatile element
of fast, decaying synaptic terms (:class:`VolatileDevice`). It builds on hw_configs only.
"""

from .abstract import AbstractDevice
from .presets import MODELS, Device, device_from_mapping, load_preset
from .pulse import PulsePCM
from .state import HEALTHY, STUCK_RESET, STUCK_SET, WORN_OUT, DeviceState
from .statistical import StatisticalPCM
from .volatile import VolatileDevice

__all__ = [
    "VolatileDevice",
    "AbstractDevice",
    "Device",
    "DeviceState",
    "HEALTHY",
    "MODELS",
    "PulsePCM",
    "STUCK_RESET",
    "STUCK_SET",
    "StatisticalPCM",
    "WORN_OUT",
    "device_from_mapping",
    "load_preset",
]
