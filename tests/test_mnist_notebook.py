"""notebooks/04_softhebb_mnist.py at its small size: drift study, receptive fields, energy."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from support import MNIST_DIR, REPO, assert_png, needs_mnist, run_notebook

from memxbar.runtime.run_file import read_run_file

NOTEBOOK = REPO / "notebooks" / "04_softhebb_mnist.py"


@pytest.mark.slow  # a whole notebook run (20–35 s on 2 cores): -m slow
@needs_mnist()
def test_notebook_trains_on_mnist_and_draws_drift_fields_and_energy(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMXBAR_DATA", str(MNIST_DIR))
    out = run_notebook(NOTEBOOK, tmp_path)
    assert f"MNIST from {MNIST_DIR}" in out
    # The drift table: five times, each with a compensated and an uncompensated accuracy.
    rows = re.findall(r"^ +(1 s|1 hour|1 day|1 month|1 year) +(0\.\d{4}) +(0\.\d{4})$", out, re.M)
    assert [r[0] for r in rows] == ["1 s", "1 hour", "1 day", "1 month", "1 year"]
    # Energy breakdown: the six categories with shares that add up to 100 %.
    shares = re.findall(r"^ *(read|set|reset|dac|adc|refresh) +[\d.]+ µJ +([\d.]+) %$", out, re.M)
    assert [s[0] for s in shares] == ["read", "set", "reset", "dac", "adc", "refresh"]
    assert abs(sum(float(s[1]) for s in shares) - 100.0) < 0.5
    assert re.search(r"^E_update +[\d.]+ pJ per synaptic update event$", out, re.M)
    assert re.search(r"^E_inference +[\d.]+ nJ per test sample$", out, re.M)

    for name in ("metrics", "energy", "energy_breakdown", "accuracy_vs_time"):
        assert_png(tmp_path / f"softhebb_mnist_{name}.png")
    # 100 neurons of 28 x 28 pixels in a 10 x 10 grid: a large, detailed figure.
    width, height = assert_png(tmp_path / "softhebb_mnist_receptive_fields.png", 30_000)
    assert width >= 800 and height >= 800

    record = read_run_file(tmp_path / "softhebb_mnist_pcm.h5")
    assert record.final["test_samples"] == 300
    assert record.final["training_steps"] == 320 // 32
    assert list(record.eval_times_s) == [1.0, 3600.0, 86400.0, 2.6e6, 3.15e7]
    # The printed table is the run file's: both columns.
    for column, name in ((1, "compensated"), (2, "uncompensated")):
        printed = [float(r[column]) for r in rows]
        assert [round(float(a), 4) for a in record.accuracy_vs_time[name]] == printed, name


def test_notebook_without_data_says_how_to_fetch_it(tmp_path, no_data_env):
    result = subprocess.run(
        [sys.executable, str(NOTEBOOK)],
        cwd=REPO,
        env=dict(os.environ, MEMXBAR_NOTEBOOK_SMALL="1", MEMXBAR_NOTEBOOK_OUT=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("This notebook needs MNIST: run `memxbar data fetch mnist`")
