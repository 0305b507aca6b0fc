"""Where data sets live: a folder named by the job or the command line, $MEMXBAR_DATA, or the
per-user folder that ``memxbar data fetch`` fills.

Every loader and the fetcher resolve the folder here, in one order: the folder given
(``data.data_dir`` in a job, ``--data-dir`` / ``--dir`` on the command line), else
``$MEMXBAR_DATA``, else :func:`default_data_dir`. A run never downloads anything; its errors
say which ``memxbar data fetch`` command gets the data.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["DATA_ENV", "default_data_dir", "data_root", "find_data_folder", "fetch_hint"]

#: The environment variable that names the data folder.
DATA_ENV = "MEMXBAR_DATA"


def default_data_dir() -> Path:
    """The per-user data folder: ``$XDG_DATA_HOME/memxbar`` when that variable is set, else
    ``~/.local/share/memxbar`` (Linux and other POSIX systems),
    ``~/Library/Application Support/memxbar`` (macOS) or ``%LOCALAPPDATA%\\memxbar`` (Windows).
    """
    xdg = os.environ.get("XDG_DATA_HOME", "")
    if xdg:
        return Path(xdg) / "memxbar"
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path.home() / ".local" / "share"
    return Path(base) / "memxbar"


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The data folder: ``data_dir`` if given, else $MEMXBAR_DATA, else the per-user default."""
    given = data_dir or os.environ.get(DATA_ENV, "")
    return Path(given) if given else default_data_dir()


def fetch_hint(name: str, folder: Path | None = None) -> str:
    """The command that downloads data set ``name`` (into ``folder`` if it is not the default)."""
    if folder is None or folder == default_data_dir():
        return f"`memxbar data fetch {name}` downloads it"
    return f"`memxbar data fetch {name} --dir {folder}` downloads it there"


def find_data_folder(data_dir: str | None, what: str, name: str, layout: str) -> Path:
    """The existing data folder a loader reads; a ValueError that says how to get it otherwise.

    Args:
        data_dir: the folder from the job or the command line ('' or None: not given).
        what: the data set's name for messages, e.g. "CIFAR-10".
        name: its name for ``memxbar data fetch``, e.g. "cifar10".
        layout: what the folder should hold, quoted in the messages.
    """
    given = data_dir or os.environ.get(DATA_ENV, "")
    if given:
        path = Path(given)
        if not path.is_dir():
            raise ValueError(
                f"{path}: {what} data folder does not exist (expected {layout}; "
                f"{fetch_hint(name, path)})"
            )
        return path
    path = default_data_dir()
    if not path.is_dir():
        raise ValueError(
            f"{what} needs a data folder holding {layout}: set data.data_dir in the job, pass "
            f"--data-dir, or set {DATA_ENV}; or run `memxbar data fetch {name}`, which downloads "
            f"it to {path}, where runs find it (a run itself downloads nothing)"
        )
    return path
