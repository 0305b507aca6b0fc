"""memxbar sweep run point after point (issue 16, first part): a point's result is the
ordinary run of its job, the sweep file holds every point, and an interrupted sweep resumes
with its finished points kept."""

from __future__ import annotations

import numpy as np
import pytest
from support import assert_png, job_mapping, run_cli, write_yaml

from memxbar.runtime.interrupt import RunInterrupted
from memxbar.runtime.job import job_from_text
from memxbar.runtime.loop import run_job
from memxbar.runtime.sweep import (
    parse_axis,
    point_folder,
    point_job_text,
    read_sweep_file,
    run_sweep,
)

AXES = ("seed=0,1", "readout.learning_rate=0.05,0.02")


@pytest.fixture(scope="module")
def tiny_job(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    return write_yaml(folder / "tiny.yaml", job_mapping("ideal"))


@pytest.fixture(scope="module")
def swept(tiny_job, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep_out") / "sweep.h5"
    run_sweep(tiny_job, [parse_axis(a) for a in AXES], out, progress=False)
    return out


def test_each_point_is_the_run_of_its_job_alone(tiny_job, swept, tmp_path):
    record = read_sweep_file(swept)
    assert record.points == [
        {"seed": s, "readout.learning_rate": r} for s in (0, 1) for r in (0.05, 0.02)
    ]
    assert record.done.all()
    i = 3  # seed 1, learning rate 0.02
    text = point_job_text(tiny_job.read_text(), record.points[i], str(tiny_job))
    alone = run_job(job_from_text(text, str(tiny_job)), tmp_path / "alone.h5", progress=False)
    assert record.final["test_accuracy"][i] == alone.final["test_accuracy"]
    for name, value in alone.energy_attrs.items():
        assert record.energy[name][i] == value
    np.testing.assert_array_equal(record.history[i]["step"], alone.metric_steps)
    # The axes matter: different seeds give different runs.
    assert record.final["test_accuracy"][1] != record.final["test_accuracy"][3] or (
        record.history[1]["norm_deviation"][-1] != record.history[3]["norm_deviation"][-1]
    )


def test_an_interrupted_sweep_resumes_with_its_finished_points(tiny_job, swept, tmp_path):
    out = tmp_path / "sweep.h5"
    axes = [parse_axis(a) for a in AXES]
    with pytest.raises(RunInterrupted, match="--resume"):
        run_sweep(tiny_job, axes, out, progress=False, stop_after_points=2)
    partial = read_sweep_file(out)
    # Points 0 and 2 (seeds 0 and 1 at learning rate 0.05) ran first, as one vmapped group.
    assert partial.done.tolist() == [True, False, True, False]
    assert np.isnan(partial.final["test_accuracy"][[1, 3]]).all()
    with pytest.raises(ValueError, match="--resume to continue, --overwrite"):
        run_sweep(tiny_job, axes, out, progress=False)
    finished_before = (point_folder(out) / "point_0000.h5").stat().st_mtime_ns
    resumed = run_sweep(tiny_job, axes, out, progress=False, resume=True)
    assert (point_folder(out) / "point_0000.h5").stat().st_mtime_ns == finished_before
    whole = read_sweep_file(swept)
    np.testing.assert_array_equal(resumed.final["test_accuracy"], whole.final["test_accuracy"])
    with pytest.raises(ValueError, match="another job or other points"):
        run_sweep(tiny_job, axes[:1], out, progress=False, resume=True)


def test_a_bad_point_is_refused_before_any_work(tiny_job, tmp_path):
    out = tmp_path / "bad.h5"
    axes = [parse_axis("hardware.w_max=0.5,-1")]
    with pytest.raises(ValueError, match=r"sweep point 1 \(hardware.w_max=-1\).*w_max"):
        run_sweep(tiny_job, axes, out, progress=False)
    assert not out.exists() and not point_folder(out).exists()


def test_cli_prints_the_table_and_refuses_bad_axes_in_one_line(tiny_job, swept, tmp_path):
    out = tmp_path / "cli.h5"
    result = run_cli("sweep", str(tiny_job), "--over", "seed=0:2", "-o", str(out), "-q")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.split("\n\n")[0].splitlines()
    assert header.split()[:2] == ["seed", "test_accuracy"]
    whole = read_sweep_file(swept)
    assert [float(r.split()[1]) for r in rows] == pytest.approx(
        [whole.final["test_accuracy"][0], whole.final["test_accuracy"][2]], abs=5e-4
    )
    assert result.stdout.strip().splitlines()[-1] == f"wrote {tmp_path / 'cli_over_seeds.png'}"
    assert_png(tmp_path / "cli_over_seeds.png")
    # report shows a sweep file's table and draws its figures; it refuses sweeps and runs mixed.
    report = run_cli("report", str(swept), "--no-plots")
    assert report.returncode == 0, report.stderr
    assert report.stdout.splitlines()[1].split()[:3] == [
        "seed",
        "readout.learning_rate",
        "test_accuracy",
    ]
    assert len(report.stdout.strip().splitlines()) == 2 + 4
    drawn = run_cli("report", str(swept))
    figure = swept.parent / "sweep_vs_readout.learning_rate.png"
    assert drawn.stdout.strip().splitlines()[-1] == f"wrote {figure}"
    assert_png(figure)
    mixed = run_cli("report", str(swept), str(point_folder(swept) / "point_0000.h5"))
    assert mixed.returncode == 2 and "not both" in mixed.stderr
    bad = run_cli("sweep", str(tiny_job), "--over", "seed=3:3", "-o", str(tmp_path / "x.h5"))
    assert bad.returncode == 2
    assert bad.stderr.strip() == "memxbar: error: sweep axis 'seed=3:3': the range 3:3 is empty"
    assert not (tmp_path / "x.h5").exists()
