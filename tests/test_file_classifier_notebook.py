"""notebooks/08_file_classifier.py at its small size: a scan of this Python installation, the
code's rasters, the ideal and PCM file-classifier jobs, and printed numbers that are the run
files' numbers."""

from __future__ import annotations

import re

import pytest
from support import REPO, assert_png, run_notebook

from memxbar.runtime.data.file_scan import read_scan_csv
from memxbar.runtime.run_file import read_run_file

NOTEBOOK = REPO / "notebooks" / "08_file_classifier.py"
FIGURES = {"files_rasters.png": 15_000, "files_confusion.png": 15_000, "files_pcm.png": 15_000}
RUNS = ("files_snn_ideal", "files_snn_pcm")
NUMBER = r"([+-]?\d+\.\d+)"


@pytest.mark.slow  # a scan and two small jobs (~1.5 min on 2 cores): -m slow
def test_notebook_scans_runs_both_jobs_and_draws_the_figures(tmp_path):
    out = run_notebook(NOTEBOOK, tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {
        "files.csv",
        *FIGURES,
        *(f"{r}.h5" for r in RUNS),
        *(f"{r}.yaml" for r in RUNS),
    }
    for name, min_bytes in FIGURES.items():
        assert_png(tmp_path / name, min_bytes)

    # Section 1: the scan it printed is the CSV it wrote.
    rows = read_scan_csv(tmp_path / "files.csv")
    scanned = re.search(r"^scanned .*: (\d+) files; skipped: (\d+) unreadable", out, re.M)
    assert int(scanned[1]) == len(rows) > 3000
    assert re.search(rf"^{len(rows)} files in files.csv; content types:$", out, re.M)

    # Section 2: the code's size, and files sharing a folder and a type share more events
    # than files of different types under different top-level folders.
    assert re.search(r"^code: 11 keys x 32 neurons = 352 inputs, 20 steps per file$", out, re.M)
    shared = {
        name: int(re.search(rf"^{name} +files: \d+ and \d+ events, (\d+) shared$", out, re.M)[1])
        for name in ("similar", "different")
    }
    assert shared["similar"] > shared["different"]

    # Sections 3 and 4: the small runs, and the table is the run files' numbers.
    records = {run: read_run_file(tmp_path / f"{run}.h5") for run in RUNS}
    for run, record in records.items():
        assert record.kind == "files", run
        assert record.final["train_files"] + record.final["test_files"] == 3000, run
        # The notebook's small size trains 3 epochs: every training file at most 3 times.
        assert 0 < record.final["training_presentations"] <= 3 * record.final["train_files"], run
    assert records["files_snn_ideal"].setup["tiles"] == "ideal"
    assert records["files_snn_pcm"].setup["tiles"] == "pcm"
    ideal, pcm = (records[run].final for run in RUNS)
    assert ideal["logreg_accuracy"] == pcm["logreg_accuracy"]  # same files, same split
    for key in ("test_accuracy", "logreg_accuracy", "svm_accuracy", "majority_accuracy"):
        row = re.search(rf"^{key} +{NUMBER} +{NUMBER}$", out, re.M)
        assert [float(v) for v in row.groups()] == [round(ideal[key], 4), round(pcm[key], 4)]
    assert ideal["test_accuracy"] > ideal["majority_accuracy"]
    for key in ("energy_per_classified_file_J", "energy_per_training_file_J"):
        row = re.search(rf"^{key.replace('_J', '')} \(nJ\) +{NUMBER} +{NUMBER}$", out, re.M)
        assert [float(v) for v in row.groups()] == [
            round(ideal[key] * 1e9, 4),
            round(pcm[key] * 1e9, 4),
        ]
    assert ideal["energy_per_classified_file_J"] == 0 < pcm["energy_per_classified_file_J"]
    assert "run files_snn_ideal" in out and "SNN test accuracy (ideal)" in out
