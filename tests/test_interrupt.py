"""Ctrl-C and SIGTERM stop a run cleanly; output files are checked, locked and never lost.

The signal tests run ``memxbar run`` in a subprocess and signal it at several moments (while
Python starts JAX, while XLA compiles the first chunk, between chunks, during the final
evaluation). Whatever the moment: exit code 130 (or 0 if the run had already finished), no
traceback, no crash, the lock released, and a resume gives the uninterrupted run's result.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from support import assert_one_line_error

from memxbar.cli import main
from memxbar.hw_configs import files
from memxbar.runtime.job import load_job
from memxbar.runtime.loop import run_job
from memxbar.runtime.outputs import checkpoint_path, claim_outputs, lock_path

EXIT_INTERRUPTED = 130


@pytest.fixture(scope="module")
def job_file(tiny_pcm_run) -> Path:
    """The tiny digits PCM job (tests/support.py): 12 steps in 3 chunks, 2 epochs."""
    return tiny_pcm_run[0]


@pytest.fixture(scope="module")
def reference(tiny_pcm_run):
    """The uninterrupted run (in this process; shared with tests/test_runtime.py)."""
    return _result(tiny_pcm_run[1])


def _result(path: Path) -> dict[str, np.ndarray]:
    """What must be identical between two runs: final scalars, weights, energy, conductances."""
    with h5py.File(path, "r") as f:
        out = {}
        for group in ("final", "weights", "energy", "conductances"):
            for name, dataset in f[group].items():
                out[f"{group}/{name}"] = np.asarray(dataset[()])
    return out


class _Run:
    """``memxbar run`` in a subprocess whose stderr lines are collected as they come."""

    def __init__(self, job: Path, out: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "memxbar.cli", "run", str(job), "-o", str(out)],
            cwd=out.parent,
            env=dict(os.environ, JAX_PLATFORMS="cpu"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_for(self, fragment: str, timeout: float = 240.0) -> bool:
        """Wait until a stderr line holds ``fragment``; False if the process ended first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(fragment in line for line in self.lines):
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.02)
        raise AssertionError(f"no '{fragment}' within {timeout} s: {''.join(self.lines)}")

    def finish(self, timeout: float = 240.0) -> tuple[int, str]:
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        self.proc.stderr.close()
        return rc, "".join(self.lines)


#: moment → (stderr fragment to wait for, seconds after it, signal)
MOMENTS = {
    "starting": (None, 1.0, signal.SIGINT),
    "first_compile": ("compiling the first chunk", 0.3, signal.SIGINT),
    "between_chunks": ("(33%)", 0.0, signal.SIGTERM),  # after the first of 3 chunks
    "evaluation": ("(100%)", 0.2, signal.SIGINT),
}


#: Moments of the default suite; the others run with -m slow.
DEFAULT_MOMENTS = ("between_chunks",)


@pytest.mark.parametrize(
    "moment",
    [pytest.param(m, marks=() if m in DEFAULT_MOMENTS else pytest.mark.slow) for m in MOMENTS],
)
def test_a_signal_at_any_moment_stops_cleanly_and_the_run_resumes(
    moment, job_file, reference, tmp_path
):
    fragment, delay, signum = MOMENTS[moment]
    out = tmp_path / "run.h5"
    run = _Run(job_file, out)
    alive = run.wait_for(fragment) if fragment else True
    if alive and moment == "first_compile":
        # The lock is held from the start: a second run on the same output is refused.
        assert main(["run", str(job_file), "-o", str(out), "-q"]) == 2
    time.sleep(delay)
    if alive:
        run.proc.send_signal(signum)
    rc, err = run.finish()

    assert rc >= 0, f"killed by signal {-rc}: {err}"  # never a crash
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert not lock_path(out).exists()
    if rc == 0:  # finished before the signal arrived: the run is whole
        assert not checkpoint_path(out).exists()
        _assert_same(_result(out), reference)
        return
    assert rc == EXIT_INTERRUPTED, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("memxbar: interrupted: "), err
    assert not out.exists()
    if checkpoint_path(out).exists():
        assert "--resume" in last
    else:
        assert "nothing to resume" in last
    run_job(load_job(job_file), out, resume=True, progress=False)
    assert not checkpoint_path(out).exists()
    _assert_same(_result(out), reference)


def _assert_same(result, reference):
    assert result.keys() == reference.keys()
    for name, value in reference.items():
        np.testing.assert_array_equal(result[name], value, err_msg=name)


def test_the_refusal_names_the_other_run(job_file, tmp_path, capsys):
    out = tmp_path / "run.h5"
    with claim_outputs(out, resume=False, overwrite=False):
        assert main(["run", str(job_file), "-o", str(out), "-q"]) == 2
        _, err = capsys.readouterr()
        assert f"PID {os.getpid()}" in err and str(lock_path(out)) in err
    assert not lock_path(out).exists()  # released on exit


# --- the output files' policy -----------------------------------------------------------------


def test_a_checkpoint_is_neither_overwritten_nor_ignored(tmp_path, capsys):
    out = tmp_path / "run.h5"
    ckpt = checkpoint_path(out)
    ckpt.write_bytes(b"work of an interrupted run")
    with pytest.raises(OSError, match=r"--resume to continue it, --overwrite to start again"):
        claim_outputs(out, resume=False, overwrite=False)
    assert ckpt.read_bytes() == b"work of an interrupted run"
    assert not lock_path(out).exists()
    with claim_outputs(out, resume=True, overwrite=False) as outputs:
        assert outputs.resume
    with claim_outputs(out, resume=False, overwrite=True) as outputs:
        assert not outputs.resume and not ckpt.exists()
    with claim_outputs(out, resume=True, overwrite=False) as outputs:
        assert not outputs.resume
    assert f"no checkpoint at {ckpt}: starting from the beginning" in capsys.readouterr().err
    with pytest.raises(ValueError, match="exclude each other"):
        claim_outputs(out, resume=True, overwrite=True)


def test_a_finished_run_file_is_only_replaced_on_request(tmp_path):
    out = tmp_path / "run.h5"
    out.write_bytes(b"a finished run")
    for resume in (False, True):
        with pytest.raises(OSError, match="--overwrite"):
            claim_outputs(out, resume=resume, overwrite=False)
    with claim_outputs(out, resume=False, overwrite=True):
        pass
    assert out.read_bytes() == b"a finished run"  # replaced only when the new run ends


def test_a_stale_lock_is_taken_over(tmp_path, capsys):
    out = tmp_path / "run.h5"
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(gone.stdout)
    lock_path(out).write_text(f"{socket.gethostname()} {pid}\n")
    with claim_outputs(out, resume=False, overwrite=False):
        assert lock_path(out).read_text().split()[1] == str(os.getpid())
    assert f"stale lock of PID {pid}" in capsys.readouterr().err


def test_temporary_files_of_a_killed_writer_are_removed(tmp_path):
    out = tmp_path / "run.h5"
    left = [tmp_path / ".run.h5.abc123.tmp", tmp_path / ".run.h5.ckpt.xyz.tmp"]
    for path in left:
        path.write_bytes(b"half")
    with claim_outputs(out, resume=False, overwrite=False):
        pass
    assert not any(path.exists() for path in left)


@pytest.mark.parametrize("command", ["run", "compile"])
def test_bad_output_paths_fail_before_any_work(command, job_file, tmp_path, capsys, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("compiled before the output path was checked")

    import memxbar.compiler
    import memxbar.runtime.rate_job

    monkeypatch.setattr(memxbar.compiler, "compile_network", no_work)
    monkeypatch.setattr(memxbar.runtime.rate_job, "compile_network", no_work)
    folder = tmp_path / "a_folder"
    folder.mkdir()
    cases = {
        str(folder): "is a folder",
        str(
            tmp_path / "missing" / "x.out"
        ): f"output folder '{tmp_path / 'missing'}' does not exist",
        str(tmp_path / "small.yaml" / "x.out"): "is not a folder",
    }
    (tmp_path / "small.yaml").write_text("not a folder")
    for path, fragment in cases.items():
        assert main([command, str(job_file), "-o", path]) == 2
        _, err = capsys.readouterr()
        assert_one_line_error(2, err, f"-o {path}", fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_folder", "small.yaml"]
    assert list(folder.iterdir()) == []


def test_os_errors_name_the_path(tmp_path, monkeypatch, job_file, capsys):
    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", disk_full)
    target = tmp_path / "program.yaml"
    with pytest.raises(OSError) as caught:
        files.atomic_write_bytes(target, b"data")
    assert caught.value.filename == str(target) and caught.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []  # no temporary file left

    assert main(["compile", str(job_file), "-o", str(target)]) == 2
    _, err = capsys.readouterr()
    assert_one_line_error(2, err, f"{target}: cannot write (No space left on device)")
    assert list(tmp_path.iterdir()) == []
