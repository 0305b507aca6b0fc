"""The files of one run — run file, checkpoint, lock — checked and claimed before any work.

A run writing ``OUT.h5`` keeps its checkpoint in ``OUT.h5.ckpt`` and holds ``OUT.h5.lock``
(the PID and host of its process) while it works, so that:

- a bad output path fails at once, not after the training (:func:`check_output_file`);
- a second run writing the same file refuses instead of overwriting the first one's work;
  a lock whose process is gone (same host, PID not running) is stale and taken over;
- a checkpoint of an interrupted run is never silently thrown away: a new run refuses
  unless told ``resume`` (continue it) or ``overwrite`` (start again); likewise a finished run
  file is only replaced with ``overwrite``.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import socket
import sys
from pathlib import Path

from ..hw_configs.files import check_output_file, temporary_siblings
from .interrupt import on_hard_stop

__all__ = ["RunOutputs", "checkpoint_path", "lock_path", "claim_outputs"]


def checkpoint_path(out_path: str | Path) -> Path:
    """Where the checkpoint of a run writing ``out_path`` lives: ``OUT.ckpt`` beside it."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.name + ".ckpt")


def lock_path(out_path: str | Path) -> Path:
    """The lock file a run writing ``out_path`` holds while it works: ``OUT.lock``."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.name + ".lock")


@dataclasses.dataclass
class RunOutputs:
    """Claimed output files of one run; a context manager that releases the lock on exit.

    Attributes:
        run_file: the HDF5 run file to write at the end.
        checkpoint: the checkpoint beside it.
        lock: the lock file this process holds.
        resume: whether a checkpoint is there to continue from.
    """

    run_file: Path
    checkpoint: Path
    lock: Path
    resume: bool

    def release(self) -> None:
        """Remove the lock if it is still ours."""
        if _lock_owner(self.lock) == _me():
            self.lock.unlink(missing_ok=True)

    def __enter__(self) -> RunOutputs:
        self._hard_stop = on_hard_stop(self.release).__enter__()
        return self

    def __exit__(self, *exc) -> bool:
        self._hard_stop.__exit__(*exc)
        self.release()
        return False


def claim_outputs(out_path: str | Path, *, resume: bool, overwrite: bool) -> RunOutputs:
    """Check the run's output paths and take its lock, before any work is done.

    Args:
        out_path: the run file.
        resume: continue from the checkpoint if there is one (if there is none, say so on
            stderr and start from the beginning).
        overwrite: start again, deleting a checkpoint and replacing a finished run file.

    Raises:
        OSError: a path cannot be written, another run holds the lock, or a checkpoint or
            a finished run file is in the way; one line naming the path and the way out.
    """
    if resume and overwrite:
        raise ValueError("--resume and --overwrite exclude each other (continue, or start again)")
    out = check_output_file(out_path)
    ckpt, lock = checkpoint_path(out), lock_path(out)
    for path in (ckpt, lock):
        if path.is_dir():
            raise OSError(f"-o {out}: '{path}' is a folder; the run needs that name for a file")
    _take_lock(lock, out)
    outputs = RunOutputs(out, ckpt, lock, resume=False)
    try:
        for stale in temporary_siblings(out) + temporary_siblings(ckpt):
            stale.unlink(missing_ok=True)  # left by a process killed while writing
        if ckpt.exists():
            if overwrite:
                ckpt.unlink()
            elif not resume:
                raise OSError(
                    f"{ckpt}: an interrupted run's checkpoint is here; --resume to continue "
                    "it, --overwrite to start again"
                )
            else:
                outputs.resume = True
        elif resume:
            if out.exists():
                raise OSError(
                    f"{out}: the run is finished (no checkpoint to resume); --overwrite to run "
                    "it again, or -o another file"
                )
            print(f"memxbar: no checkpoint at {ckpt}: starting from the beginning", file=sys.stderr)
        if out.exists() and not (overwrite or outputs.resume):
            raise OSError(
                f"{out}: a finished run file is here; --overwrite to replace it, or -o another file"
            )
    except BaseException:
        outputs.release()
        raise
    return outputs


def _me() -> tuple[str, int]:
    return socket.gethostname(), os.getpid()


def _lock_owner(lock: Path) -> tuple[str, int] | None:
    """(host, PID) written in ``lock``; None if it is absent or unreadable."""
    try:
        host, pid = lock.read_text(encoding="utf-8").split()[:2]
        return host, int(pid)
    except (OSError, ValueError):
        return None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _take_lock(lock: Path, out: Path) -> None:
    host, pid = _me()
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            owner = _lock_owner(lock)
            if owner is not None and owner[0] == host and not _running(owner[1]):
                print(
                    f"memxbar: {lock}: stale lock of PID {owner[1]} (not running) taken over",
                    file=sys.stderr,
                )
                lock.unlink(missing_ok=True)
                continue
            who = f"PID {owner[1]} on {owner[0]}" if owner else "an unknown process"
            raise OSError(
                f"{out}: another memxbar run ({who}) is writing it; wait for it, or delete "
                f"{lock} if that run is gone"
            ) from None
        except OSError as err:
            raise OSError(
                err.errno or errno.EIO, f"cannot create ({err.strerror})", str(lock)
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{host} {pid}\n")
        return
    raise OSError(f"{lock}: could not take the lock (another run keeps taking it)")
