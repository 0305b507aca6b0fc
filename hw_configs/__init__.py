"""The lowest floor: hardware presets, the strict loader that reads every YAML file, file I/O
and SI units. It imports nothing else of the package.

- presets: the device and chip YAML files in ``devices/`` and ``chips/`` beside this file, found
  through ``importlib.resources`` so they work from a wheel as well as from a source checkout;
- :mod:`.fields` declares parameter classes; :mod:`.strict` builds them from YAML mappings
  (``build``), every error naming the file and the dotted key; :mod:`.mappings` is the way
  back (``dump``), parameter tables and overrides; :mod:`.yaml_reader` reads YAML text
  strictly; :mod:`.errors` holds the errors;
- :mod:`.files`: atomic writes and output-path checks;
- :mod:`.units`: unit suffixes of field names and the one engineering-prefix formatter.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import ConfigError, InvalidParameter, brief, kind_of
from .fields import OneOf, Pairs, Scalar, attached, param, section
from .mappings import apply_overrides, describe, dump
from .strict import build, build_within, written_key
from .units import format_joules, format_si, round_si, unit_of
from .yaml_reader import MAX_ALIAS_EXPANSION, parse_yaml, read_text, read_yaml

__all__ = [
    "ConfigError",
    "InvalidParameter",
    "MAX_ALIAS_EXPANSION",
    "OneOf",
    "Pairs",
    "Scalar",
    "apply_overrides",
    "brief",
    "build",
    "build_within",
    "describe",
    "dump",
    "format_joules",
    "format_si",
    "kind_of",
    "param",
    "parse_yaml",
    "read_text",
    "preset_names",
    "preset_path",
    "read_yaml",
    "round_si",
    "section",
    "attached",
    "unit_of",
    "written_key",
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
