"""JAX's persistent compilation cache, in the per-user cache folder.

XLA compilation, not the emulation, sets the start time of a run: a PCM job's first chunk
compiles for tens of seconds on a 2-core CPU (benchmarks/README.md). JAX can store every
compiled program on disk and load it when the same program (same shapes, settings, JAX and
XLA versions) is compiled again, so a second run of a job starts in seconds.

The command line turns the cache on (``memxbar --no-cache ...`` turns it off) in
:func:`default_cache_dir`, or in the folder ``$MEMXBAR_COMPILATION_CACHE`` names (``off``
there turns it off too). Library users call :func:`enable_compilation_cache` once, before
their first jitted call, or set JAX's own ``JAX_COMPILATION_CACHE_DIR``. The folder is not
pruned (JAX's size cap needs the ``filelock`` package); deleting it at any time is safe.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

__all__ = [
    "CACHE_ENV",
    "MIN_COMPILE_TIME_S",
    "cache_dir",
    "default_cache_dir",
    "enable_compilation_cache",
    "storable_checks",
]

#: The environment variable naming the cache folder (``off``, ``0`` or ``no``: no cache).
CACHE_ENV = "MEMXBAR_COMPILATION_CACHE"
_OFF = ("off", "0", "no", "false")

#: Programs that compile faster than this (s) are not stored. Zero: besides its learning
#: chunks (seconds each) a run compiles ~200 small programs (eager operations, initialisation,
#: evaluation; 10–100 ms each) that together take as long as the chunks. Stored, a job's
#: programs take ~2 MB, and a second one-epoch run of the digits PCM job takes 7 s instead of
#: 14 s with JAX's default of 1 s (19 s uncached; benchmarks/README.md).
MIN_COMPILE_TIME_S = 0.0


def default_cache_dir() -> Path:
    """The per-user cache folder of compiled programs: ``$XDG_CACHE_HOME/memxbar/jax`` when
    that variable is set, else ``~/.cache/memxbar/jax`` (Linux and other POSIX systems),
    ``~/Library/Caches/memxbar/jax`` (macOS) or ``%LOCALAPPDATA%\\memxbar\\cache\\jax``
    (Windows)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg:
        return Path(xdg) / "memxbar" / "jax"
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
        return Path(base) / "memxbar" / "cache" / "jax"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "memxbar" / "jax"
    return Path.home() / ".cache" / "memxbar" / "jax"


def cache_dir() -> Path | None:
    """The folder ``$MEMXBAR_COMPILATION_CACHE`` names, None where it says ``off``, else
    :func:`default_cache_dir`."""
    given = os.environ.get(CACHE_ENV, "").strip()
    if given.lower() in _OFF:
        return None
    return Path(given) if given else default_cache_dir()


def enable_compilation_cache(folder: str | os.PathLike | None = None) -> Path | None:
    """Store compiled programs in ``folder`` (default :func:`cache_dir`) and reuse them.

    Call it before the first jitted call of the process: JAX sets its cache up at the first
    compilation. Returns the folder, or None when ``$MEMXBAR_COMPILATION_CACHE`` turns the
    cache off and no folder is given.
    """
    import jax

    path = Path(folder) if folder is not None else cache_dir()
    if path is None:
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_S)
    return path


@contextlib.contextmanager
def storable_checks():
    """Within: the energy ledger's never-negative check books NaN instead of raising.

    JAX stores no program that holds a host callback, and equinox's raising checks are host
    callbacks: with them every learning chunk (each books energy) would compile afresh in
    every run. A negative booking is a bug, never an input error; under this context it
    shows as NaN energies in the run's report instead of an exception.
    """
    from ..crossbar import ledger

    previous = ledger.CHECKS[0]
    ledger.CHECKS[0] = "nan"
    try:
        yield
    finally:
        ledger.CHECKS[0] = previous
