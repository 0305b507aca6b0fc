"""Hardware presets (YAML package data) and the strict loader that reads them.

The presets live in ``devices/`` and ``chips/`` beside this file and are found through
``importlib.resources`` so they work from a wheel as well as from a source checkout.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .strict import (
    ConfigError,
    InvalidParameter,
    apply_overrides,
    brief,
    build,
    describe,
    param,
    parse_yaml,
    read_text,
    read_yaml,
    section,
    si_text,
    written_key,
)

__all__ = [
    "ConfigError",
    "apply_overrides",
    "InvalidParameter",
    "brief",
    "build",
    "describe",
    "param",
    "read_yaml",
    "read_text",
    "parse_yaml",
    "section",
    "si_text",
    "written_key",
    "preset_names",
    "preset_path",
]


def preset_names(category: str) -> list[str]:
    """Names (file stems) of the shipped presets of ``category`` ('devices' or 'chips')."""
    folder = resources.files(__name__) / category
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def preset_path(category: str, name_or_path: str | Path) -> Path:
    """Resolve a shipped preset name or a path to a YAML file.

    Raises:
        ConfigError: neither a shipped preset of that name nor an existing file.
    """
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise ConfigError(str(candidate), "<file>", "file does not exist")
        return candidate
    shipped = resources.files(__name__) / category / f"{name_or_path}.yaml"
    if not shipped.is_file():
        known = ", ".join(preset_names(category))
        raise ConfigError(
            str(name_or_path), "<preset>", f"no {category} preset of that name (known: {known})"
        )
    return Path(str(shipped))
