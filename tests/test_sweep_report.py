"""The figures of a sweep (issue 16): accuracy and energy against each axis, one line per
value of the other axes, mean ± std over seeds; numbers checked on a hand-made sweep."""

from __future__ import annotations

import numpy as np
import pytest
from support import approx, assert_png

from memxbar.runtime.report.sweep_plots import plotted_quantities, sweep_series, write_sweep_plots
from memxbar.runtime.sweep import SweepRecord

BITS = (4, 6, 8)
SEEDS = (0, 1, 2, 3)
TILES = ("ideal", "pcm")


def made_sweep(done_fraction: float = 1.0) -> SweepRecord:
    """adc bits x tiles x seeds with accuracy = 0.5 + bits/20 (+0.1 on ideal) + seed/100."""
    points = [{"bits": b, "tiles": t, "seed": s} for b in BITS for t in TILES for s in SEEDS]
    accuracy = np.array(
        [0.5 + p["bits"] / 20 + 0.1 * (p["tiles"] == "ideal") + p["seed"] / 100 for p in points]
    )
    energy = np.array([1e-12 * p["bits"] * (1 + p["seed"]) for p in points])
    done = np.arange(len(points)) < done_fraction * len(points)
    accuracy[~done] = np.nan
    energy[~done] = np.nan
    return SweepRecord(
        job_yaml="name: j\n",
        keys=("bits", "tiles", "seed"),
        zipped=(),
        points=points,
        done=done,
        final={"test_accuracy": accuracy},
        energy={"per_sample_J": energy},
        history={},
    )


def test_series_average_over_seeds_per_line_of_the_other_axis():
    record = made_sweep()
    names = [name for name, _, _ in plotted_quantities(record)]
    assert names == ["test_accuracy", "per_sample_J"]
    series = sweep_series(record, "bits", record.final["test_accuracy"])
    assert set(series) == {"tiles=ideal", "tiles=pcm"}
    xs, means, stds, counts = series["tiles=pcm"]
    assert xs == list(BITS)
    seed_mean, seed_std = np.mean(SEEDS) / 100, np.std(SEEDS, ddof=1) / 100
    np.testing.assert_allclose(means, [0.5 + b / 20 + seed_mean for b in BITS], rtol=1e-12)
    np.testing.assert_allclose(stds, seed_std, rtol=1e-12)
    assert counts.tolist() == [len(SEEDS)] * len(BITS)
    energy = sweep_series(record, "tiles", record.energy["per_sample_J"])
    assert set(energy) == {f"bits={b}" for b in BITS}
    assert energy["bits=6"][1] == approx([6e-12 * np.mean(np.add(SEEDS, 1))] * 2, rel=1e-12)


def test_points_not_run_are_left_out():
    record = made_sweep(done_fraction=0.5)  # bits 4 and 6 done, 8 not
    xs, means, _, _ = sweep_series(record, "bits", record.final["test_accuracy"])["tiles=ideal"]
    assert xs == [4, 6] and np.isfinite(means).all()


@pytest.mark.parametrize("keys", [("bits", "tiles", "seed"), ("seed",)])
def test_figures_are_written_per_axis_or_over_seeds(tmp_path, keys):
    record = made_sweep()
    if keys == ("seed",):
        record.keys, record.points = keys, [{"seed": p["seed"]} for p in record.points]
    paths = write_sweep_plots(record, tmp_path, prefix="s_")
    expected = ["s_vs_bits.png", "s_vs_tiles.png"] if len(keys) > 1 else ["s_over_seeds.png"]
    assert [p.name for p in paths] == expected
    for path in paths:
        assert_png(path)
    record.done[:] = False
    assert write_sweep_plots(record, tmp_path / "none") == []
