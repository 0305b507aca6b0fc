"""notebooks/07_ststdp.py at its small size: the ideal and PCM short-term STDP jobs, four
figures, and printed numbers that are the run files' numbers."""

from __future__ import annotations

import re

import numpy as np
import pytest
from support import REPO, assert_png, run_notebook

from memxbar.runtime.run_file import read_run_file

NOTEBOOK = REPO / "notebooks" / "07_ststdp.py"
#: The figures and their least size in bytes (the row of 8 x 8 frames is a small picture).
FIGURES = {
    "ststdp_sequence.png": 5_000,
    "ststdp_fast_weights.png": 15_000,
    "ststdp_accuracy_vs_speed.png": 15_000,
    "ststdp_pcm.png": 15_000,
}
RUNS = ("ststdp_digits_ideal", "ststdp_digits_pcm")
TITLES = {
    "ststdp_digits_ideal": "ideal tiles, F digital: accuracy per frame",
    "ststdp_digits_pcm": "W on PCM, F volatile: accuracy per frame",
}
NUMBER = r"([+-]?\d+\.\d+)"


def table_rows(out: str, title: str, n: int) -> list[list[float]]:
    """The ``n`` rows of numbers below the header that follows ``title``."""
    lines = out[out.index(title + "\n") :].splitlines()
    assert lines[1].split()[:4] == ["speed", "W", "alone", "W+F"], lines[1]
    return [[float(v) for v in line.split()] for line in lines[2 : 2 + n]]


@pytest.mark.slow  # a whole notebook run (two small jobs, ~1 min on 2 cores): -m slow
def test_notebook_runs_the_ststdp_jobs_and_draws_the_figures(tmp_path):
    out = run_notebook(NOTEBOOK, tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {*FIGURES, *(f"{r}.h5" for r in RUNS), *(f"{r}_small.yaml" for r in RUNS)}
    for name, min_bytes in FIGURES.items():
        assert_png(tmp_path / name, min_bytes)

    records = {run: read_run_file(tmp_path / f"{run}.h5") for run in RUNS}
    for run, record in records.items():
        assert record.kind == "ststdp", run
        assert record.final["test_samples"] == 60, run  # the small size, recorded in the file
        assert "train_limit: 300" in record.job_yaml and "steps_per_frame: 10" in record.job_yaml
        np.testing.assert_array_equal(record.curves["speed"], [0.0, 4.0])
    assert records["ststdp_digits_ideal"].setup["fast_weights"] == "digital"
    assert records["ststdp_digits_pcm"].setup == {"fast_weights": "volatile", "tiles": "pcm"}

    # Sections 1 and 2: the sequence at speed 4, F recorded per frame, the winners per frame.
    assert re.search(r"^sequence 0 at speed 4: 6 frames of a '\d'$", out, re.M)
    assert re.search(r"^W: 64 inputs x 20 neurons$", out, re.M)
    assert re.search(r"^F recorded: 6 frames x 64 x 20$", out, re.M)
    largest = re.search(rf"^F largest: {NUMBER} \(bound {NUMBER}\)$", out, re.M)
    bound = records["ststdp_digits_ideal"].final["fast_bound_weight"]
    assert float(largest[2]) == round(bound, 3)
    assert 0 < float(largest[1]) <= bound
    table = out[out.index("frame  label") :].splitlines()[1:7]
    assert [int(row.split()[0]) for row in table] == list(range(6))
    for name in ("W alone", "W + F"):
        right = re.search(rf"^{re.escape(name)} +frames right: (\d) of 6$", out, re.M)
        assert right, name

    # Sections 3 and 4: the accuracy tables are the run files' curves.
    for run, title in TITLES.items():
        curves = records[run].curves
        rows = table_rows(out, title, 2)
        for i, row in enumerate(rows):
            expected = [curves["speed"][i]]
            expected += [curves[f"accuracy_{n}"][i] for n in ("w", "wf", "mlp")]
            expected += [curves[f"accuracy_{n}_shuffled"][i] for n in ("w", "wf", "mlp")]
            assert row == [round(float(v), 3) for v in expected], (run, i)
        final = records[run].final
        block = out[out.index(title + "\n") :]
        advantage = re.search(rf"ordered {NUMBER}, shuffled {NUMBER}", block)
        assert float(advantage[1]) == round(final["mean_advantage_wf"], 4)
        assert float(advantage[2]) == round(final["mean_advantage_wf_shuffled"], 4)
    # The PCM job's summary with its sequence study.
    assert (
        "run ststdp_digits_pcm" in out
        and "transformed sequences, accuracy per frame (F: volatile)" in out
    )

    # The energy table: ideal tiles book nothing; PCM and the volatile F do.
    energy = {
        "energy per W+F frame (nJ)": ("energy_per_frame_J", 1e9),
        "energy per static image (W) (nJ)": ("energy_per_static_image_J", 1e9),
        "energy per F update (pJ)": ("energy_per_fast_update_J", 1e12),
    }
    for title, (key, unit) in energy.items():
        row = re.search(rf"^{re.escape(title)} +{NUMBER} +{NUMBER}$", out, re.M)
        assert row, title
        for value, run in zip(row.groups(), RUNS, strict=True):
            assert float(value) == round(records[run].final[key] * unit, 4), (title, run)
    ideal, pcm = (records[run].final for run in RUNS)
    assert ideal["energy_per_frame_J"] == 0 and pcm["energy_per_frame_J"] > 0
    assert pcm["energy_per_fast_update_J"] > 0
    events = re.search(rf"^F update events per frame +{NUMBER} +{NUMBER}$", out, re.M)
    frames = 2 * 2 * 20 * 6  # speeds × (ordered, shuffled) × sequences × frames
    for value, final in zip(events.groups(), (ideal, pcm), strict=True):
        assert float(value) == round(final["fast_update_events"] / frames, 1)
    assert float(events[2]) > 0
