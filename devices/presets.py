"""Loading device presets from YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from ..hw_configs import OneOf, apply_overrides, build, preset_path, read_yaml
from .abstract import AbstractDevice
from .pulse import PulsePCM
from .statistical import StatisticalPCM

__all__ = ["MODELS", "Device", "load_preset", "device_from_mapping"]

#: The value of a preset's ``model`` key → the class it builds.
MODELS: dict[str, type[AbstractDevice]] = {
    "pcm_statistical": StatisticalPCM,
    "pcm_pulse": PulsePCM,
}


#: A device model as a parameter type: a mapping whose ``model`` key names its class.
Device = Annotated[AbstractDevice, OneOf("model", MODELS)]


def device_from_mapping(mapping: dict, *, source: str) -> AbstractDevice:
    """Build a device model from a parsed preset mapping (``source`` names it in errors)."""
    return build(Device, mapping, source=source)


def load_preset(name_or_path: str | Path, overrides: dict | None = None) -> AbstractDevice:
    """Load a device model from a shipped preset name or a YAML file path.

    Args:
        name_or_path: a file stem in ``hw_configs/devices/`` (e.g. ``'pcm_nandakumar2019'``)
            or a path to a YAML file.
        overrides: values replaced by dotted key before the strict check, e.g.
            ``{"variability.step_relative": 0.0}`` (ablations).

    Raises:
        ConfigError (a ValueError): the file is missing or malformed, or a key is unknown,
            missing, of the wrong type or physically impossible; the message names file and key.
    """
    path = preset_path("devices", name_or_path)
    mapping = read_yaml(path)
    if overrides:
        mapping = apply_overrides(mapping, overrides, source=str(path), what="device_overrides")
    return device_from_mapping(mapping, source=str(path))
