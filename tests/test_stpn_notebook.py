"""notebooks/06_stpn.py at its small size: six runs, four figures, printed numbers that are
the run files' numbers."""

from __future__ import annotations

import re

import pytest
from support import REPO, assert_png, run_notebook

from memxbar.runtime.run_file import read_run_file

NOTEBOOK = REPO / "notebooks" / "06_stpn.py"
FIGURES = ("assoc_validation.png", "stpn_drift.png", "assoc_energy.png", "stpn_decays.png")
RUNS = (
    "stpn_assoc_ideal",
    "lstm_assoc",
    "rnn_assoc",
    "stpn_assoc_pcm",
    "lstm_assoc_pcm",
    "rnn_assoc_pcm",
)


@pytest.mark.slow
def test_notebook_runs_the_recurrent_jobs_and_draws_the_figures(tmp_path):
    out = run_notebook(NOTEBOOK, tmp_path)
    for name in FIGURES:
        assert_png(tmp_path / name, 15_000)
    records = {run: read_run_file(tmp_path / f"{run}.h5") for run in RUNS}
    for run, record in records.items():
        assert record.kind == "recurrent" and record.final["epochs"] == 2, run
        assert record.final["test_sequences"] == 1000
    for run in RUNS[:3]:
        line = re.search(rf"^{run} +test accuracy (\d\.\d{{4}})$", out, re.M)
        assert line and float(line[1]) == round(records[run].final["test_accuracy"], 4)
    assert "runs compared:" in out and "realisable λ:" in out
    # The comparison table lists every run with its E_step.
    table = out[out.index("runs compared:") :].splitlines()
    assert [row.split()[0] for row in table[2:8]] == list(RUNS)
