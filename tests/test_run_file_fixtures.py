"""Run files written by earlier versions still report, and reports never parse the job YAML.

tests/data holds small run files committed as they were written:
- ``run_v0.1_*.h5``: memxbar 0.1 (before /setup existed and before the per-category refresh
  counters), a 1 s FSTDP run on ideal tiles and a one-epoch digits run;
- ``run_spiking.h5``, ``run_rate.h5``: the same jobs written with /setup.
If the job schema changes, these files keep their old job text: a report that re-parsed it
through the schema would break, so the report must read what it needs from /setup.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import pytest

from memxbar.cli import main
from memxbar.runtime.run_file import read_run_file

DATA = Path(__file__).parent / "data"
SPIKING = ("run_v0.1_spiking.h5", "run_spiking.h5")
RATE = ("run_v0.1_rate.h5", "run_rate.h5")
GROUPS = ("correlated", "r10", "r20", "r35", "r50")


def report(path: Path, capsys) -> str:
    assert main(["report", str(path), "--no-plots"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


@pytest.mark.parametrize("name", SPIKING)
def test_spiking_run_files_report_their_groups(name, capsys):
    text = report(DATA / name, capsys)
    header = next(line for line in text.splitlines() if line.strip().startswith("correlated"))
    assert header.split() == list(GROUPS)
    record = read_run_file(DATA / name)
    assert record.setup["group_names"] == list(GROUPS)
    assert list(record.setup["input_group"]) == [g for g in range(5) for _ in range(20)]
    assert record.setup["target_group"] == 0 and record.setup["tiles"] == "ideal"
    assert f"auc                          {record.final['auc']:.4f}" in text


@pytest.mark.parametrize("name", RATE)
def test_rate_run_files_report_their_accuracy(name, capsys):
    text = report(DATA / name, capsys)
    record = read_run_file(DATA / name)
    assert record.setup == {"tiles": "ideal"}
    assert f"test_accuracy                {record.final['test_accuracy']:.4f}" in text


@pytest.mark.parametrize("name", ("run_spiking.h5", "run_rate.h5"))
def test_a_report_does_not_read_the_job_text(name, tmp_path, capsys):
    """A run file whose job text no schema would accept reports exactly as before."""
    expected = report(DATA / name, capsys)
    copy = tmp_path / name
    shutil.copy(DATA / name, copy)
    with h5py.File(copy, "r+") as f:
        del f["config/job_yaml"]
        f["config/job_yaml"] = "kind: [a job file of a schema that no longer exists"
    assert report(copy, capsys) == expected.replace(DATA.name + "/", tmp_path.name + "/")
