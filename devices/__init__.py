"""PCM device models: statistical (inference) and pulse-level (on-chip learning)."""

from .abstract import AbstractDevice
from .presets import MODELS, Device, device_from_mapping, load_preset
from .pulse import PulsePCM
from .state import HEALTHY, STUCK_RESET, STUCK_SET, WORN_OUT, DeviceState
from .statistical import StatisticalPCM

__all__ = [
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
