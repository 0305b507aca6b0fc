"""The persistent compilation cache: where it lives, that a second process loads what the
first compiled, and that ``--no-cache`` leaves it alone (runtime/compilation_cache.py)."""

from __future__ import annotations

import re
from pathlib import Path

from support import job_mapping, run_cli, write_yaml

from memxbar.runtime.compilation_cache import CACHE_ENV, cache_dir, default_cache_dir

# With compilations logged, JAX logs every load from the persistent cache as a warning.
HIT_LOG = {"JAX_LOG_COMPILES": "1"}
HIT = "Persistent compilation cache hit"
CHUNK_HIT = re.compile(r"Persistent compilation cache hit for 'jit_\w*chunk'")


def test_the_folder_follows_xdg_cache_home_and_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "memxbar" / "jax"
    assert cache_dir() == default_cache_dir()
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    for off in ("off", "0", "OFF"):
        monkeypatch.setenv(CACHE_ENV, off)
        assert cache_dir() is None


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_a_second_run_loads_the_first_runs_programs_and_no_cache_writes_none(tmp_path):
    job = write_yaml(tmp_path / "job.yaml", job_mapping("ideal", epochs=1))
    cached = tmp_path / "cached"
    env = {"XDG_CACHE_HOME": str(cached), **HIT_LOG}
    folder = cached / "memxbar" / "jax"

    first = run_cli("run", str(job), "-o", str(tmp_path / "a.h5"), "-q", env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    assert CHUNK_HIT.search(first.stderr) is None
    assert _entries(folder), "the first run stored no compiled program"

    second = run_cli("run", str(job), "-o", str(tmp_path / "b.h5"), "-q", env=env, timeout=300)
    assert second.returncode == 0, second.stderr
    # The learning chunk, the run's longest compilation, comes from the first run's store.
    assert CHUNK_HIT.search(second.stderr) is not None, second.stderr[-2000:]

    uncached = tmp_path / "uncached"
    env = {"XDG_CACHE_HOME": str(uncached), **HIT_LOG}
    off = run_cli(
        "--no-cache", "run", str(job), "-o", str(tmp_path / "c.h5"), "-q", env=env, timeout=300
    )
    assert off.returncode == 0, off.stderr
    assert HIT not in off.stderr
    assert _entries(uncached / "memxbar") == []  # (matplotlib keeps its own cache beside)
