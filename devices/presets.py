"""Loading device presets from YAML."""

from __future__ import annotations

from pathlib import Path

from ..hw_configs import ConfigError, apply_overrides, build, preset_path, read_yaml
from .abstract import AbstractDevice
from .pulse import PulsePCM
from .statistical import StatisticalPCM

__all__ = ["MODELS", "load_preset", "device_from_mapping"]

#: The value of a preset's ``model`` key → the class it builds.
MODELS: dict[str, type[AbstractDevice]] = {
    "pcm_statistical": StatisticalPCM,
    "pcm_pulse": PulsePCM,
}


def device_from_mapping(mapping: dict, *, source: str) -> AbstractDevice:
    """Build a device model from a parsed preset mapping (``source`` names it in errors)."""
    if not isinstance(mapping, dict):
        raise ConfigError(source, "<top>", "expected a mapping of preset keys")
    if "model" not in mapping:
        raise ConfigError(source, "model", f"is missing (one of: {', '.join(MODELS)})")
    model = mapping["model"]
    if model not in MODELS:
        raise ConfigError(source, "model", f"expected one of {', '.join(MODELS)}, got {model!r}")
    rest = {k: v for k, v in mapping.items() if k != "model"}
    return build(MODELS[model], rest, source=source)


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
