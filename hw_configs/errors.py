"""The errors of bad configuration, and the short reprs their messages quote."""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = ["ConfigError", "InvalidParameter", "brief", "kind_of"]


class ConfigError(ValueError):
    """A configuration value is unusable; the message names the file and the key."""

    def __init__(self, source: str, key: str, message: str):
        self.source = source
        self.key = key
        self.message = message
        where = f"{source}: " if source else ""
        super().__init__(f"{where}key '{key}': {message}")


class InvalidParameter(ValueError):
    """Raised by a parameter class's own checks; the loader adds the file and key path."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"key '{field}': {message}")


_BRIEF = reprlib.Repr()
_BRIEF.maxlevel, _BRIEF.maxlist, _BRIEF.maxtuple, _BRIEF.maxdict = 3, 6, 6, 4
_BRIEF.maxstring = _BRIEF.maxother = 80


def brief(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to at most ``limit`` characters (``…`` marks a cut).

    Built with :mod:`reprlib`, so a huge or deeply nested value costs no more than its first
    few items: a message never holds a whole file's worth of data.
    """
    text = _BRIEF.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def kind_of(value: Any) -> str:
    """What a message says was found instead: ``"str 'fast'"``, ``"nothing (null)"``."""
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {brief(value)}"
