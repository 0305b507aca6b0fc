"""Test-suite setup: makes tests/support.py importable as ``support`` (tests run with
--import-mode=importlib). Tolerances come from ``support.approx``, never a patched pytest."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True, scope="session")
def _private_data_folders(tmp_path_factory):
    """Every test sees an empty per-user data folder ($XDG_DATA_HOME/memxbar), an empty
    compilation cache ($XDG_CACHE_HOME/memxbar/jax) and no download mirror, so none reads data
    its developer fetched, writes to their home or goes online."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg_data_home")))
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg_cache_home")))
        patch.delenv("MEMXBAR_DATA_MIRROR", raising=False)
        patch.delenv("MEMXBAR_COMPILATION_CACHE", raising=False)
        yield


@pytest.fixture
def no_data_env(monkeypatch, tmp_path):
    """No $MEMXBAR_DATA, and an empty per-user data folder of this test's own."""
    monkeypatch.delenv("MEMXBAR_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg_data_home"))


@pytest.fixture(scope="session")
def tiny_pcm_run(tmp_path_factory):
    """(job file, run file) of the tiny digits PCM job (support.job_mapping) run once,
    uninterrupted, seed 0: the reference of tests/test_runtime.py and tests/test_interrupt.py,
    which thus share the run and its compiled chunks."""
    from support import job_mapping, write_yaml

    from memxbar.runtime.job import load_job
    from memxbar.runtime.loop import run_job

    folder = tmp_path_factory.mktemp("tiny_pcm")
    job_file = write_yaml(folder / "pcm_job.yaml", job_mapping("pcm"))
    out = folder / "pcm_reference.h5"
    run_job(load_job(job_file), out, seed=0, progress=False)
    return job_file, out
