"""Stopping a run on Ctrl-C or SIGTERM at a safe point, never by an exception inside JAX.

Python's default SIGINT handler raises KeyboardInterrupt wherever the interpreter happens to
be, including inside callbacks that jaxlib runs during XLA compilation and garbage collection;
there the exception is swallowed ("Exception ignored in _xla_gc_callback") or crashes the
process. :func:`install` replaces the handlers of SIGINT and SIGTERM by one that only records
the request; long work polls :func:`stop_requested` between chunks (and other safe points),
writes its checkpoint and stops. A second signal stops the process at once with exit code
130: whatever the last checkpoint holds is kept, the chunk in progress is lost.

This module imports nothing heavy, so the command line installs the handler before JAX loads.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

__all__ = [
    "EXIT_INTERRUPTED",
    "install",
    "stop_requested",
    "request_stop",
    "reset",
    "on_hard_stop",
    "immediate",
    "RunInterrupted",
    "stop_if_requested",
]

#: Exit code of a process stopped by a signal (128 + SIGINT), as shells report Ctrl-C.
EXIT_INTERRUPTED = 130

_requested = threading.Event()
_cleanups: list = []


def _handle(signum, frame) -> None:  # noqa: ARG001 (the signal module's signature)
    if _requested.is_set():
        for cleanup in list(_cleanups):
            try:
                cleanup()
            except Exception:  # noqa: BLE001 (best effort on the way out)
                pass
        _say("stopped at once; the last checkpoint is kept")
        os._exit(EXIT_INTERRUPTED)
    _requested.set()
    name = signal.Signals(signum).name
    _say(f"{name}: stopping at the next safe point (send it again to stop at once)")


def _say(message: str) -> None:
    try:
        sys.stderr.write(f"\nmemxbar: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # stderr closed: nothing to tell


class install:
    """Route SIGINT and SIGTERM to a fresh stop request; as a context manager, restore the
    previous handlers on exit. Outside the main thread (where Python cannot set handlers) it
    does nothing."""

    def __init__(self):
        _requested.clear()
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, _handle)

    def __enter__(self) -> install:
        return self

    def __exit__(self, *exc) -> bool:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        return False


class RunInterrupted(RuntimeError):
    """Work stopped on request before its end; the message says what a rerun does."""


def stop_if_requested(message: str) -> None:
    """Raise RunInterrupted(``message``) if a stop was requested; call it at safe points."""
    if _requested.is_set():
        raise RunInterrupted(message)


class immediate:
    """Context manager: inside it, SIGINT and SIGTERM raise KeyboardInterrupt at once.

    For work that never enters JAX (downloads, unpacking), where waiting for a safe point
    would mean waiting for a stalled network read; on exit the previous handlers return.
    """

    def __enter__(self) -> immediate:
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, _raise_interrupt)
        return self

    def __exit__(self, *exc) -> bool:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        return False


def _raise_interrupt(signum, frame) -> None:  # noqa: ARG001 (the signal module's signature)
    raise KeyboardInterrupt


def stop_requested() -> bool:
    """True once a stop was requested (by a signal or :func:`request_stop`)."""
    return _requested.is_set()


def request_stop() -> None:
    """Ask the running work to stop at its next safe point, as a first Ctrl-C does."""
    _requested.set()


def reset() -> None:
    """Forget a stop request (tests, or a program that runs several jobs)."""
    _requested.clear()


class on_hard_stop:
    """Context manager: run ``cleanup()`` if a second signal ends the process inside it.

    Used for what must not outlive the process, such as a run's lock file.
    """

    def __init__(self, cleanup):
        self.cleanup = cleanup

    def __enter__(self):
        _cleanups.append(self.cleanup)
        return self

    def __exit__(self, *exc):
        _cleanups.remove(self.cleanup)
        return False
