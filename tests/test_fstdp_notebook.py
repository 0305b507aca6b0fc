"""notebooks/05_fstdp.py at its small size: weight trajectories, rasters, energy, selectivity."""

from __future__ import annotations

import re

import pytest
from support import REPO, assert_png, run_notebook

from memxbar.runtime.run_file import read_run_file

NOTEBOOK = REPO / "notebooks" / "05_fstdp.py"
FIGURES = (
    "fstdp_vs_stdp_weights.png",
    "fstdp_raster.png",
    "fstdp_energy.png",
    "weather_selectivity.png",
)
RUNS = ("fstdp_pcm", "stdp_pcm", "fstdp_weather_pcm", "stdp_weather_pcm")


@pytest.mark.slow  # a whole notebook run (20–35 s on 2 cores): -m slow
def test_notebook_runs_the_fstdp_jobs_and_draws_the_figures(tmp_path):
    out = run_notebook(NOTEBOOK, tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {
        *FIGURES,
        *(f"{run}.h5" for run in RUNS),
        *(f"{run}_small.yaml" for run in RUNS),
    }
    for name in FIGURES:
        assert_png(tmp_path / name, 20_000)

    records = {run: read_run_file(tmp_path / f"{run}.h5") for run in RUNS}
    for run, record in records.items():
        assert record.kind == "spiking"
        assert record.final["duration_s"] == 4.0, run  # the small size, recorded in the file
        assert "duration_s: 4.0" in record.job_yaml
    # The printed scores are those of the run files.
    for name, run in (("FSTDP", "fstdp_pcm"), ("STDP", "stdp_pcm")):
        final = records[run].final
        line = re.search(rf"^{name} +AUC (\d\.\d{{3}}) +flatness (\d+\.\d{{3}})", out, re.M)
        assert line, name
        assert float(line[1]) == round(final["auc"], 3)
        assert float(line[2]) == round(final["flatness"], 3)
    for name, run in (("FSTDP", "fstdp_weather_pcm"), ("STDP", "stdp_weather_pcm")):
        final = records[run].final
        line = re.search(rf"^{name} +NMI (\d\.\d{{3}}) +groups learned (\d) of 4", out, re.M)
        assert line, name
        assert float(line[1]) == round(final["nmi"], 3)
        assert int(line[2]) == final["groups_learned"]
    # The FSTDP summary with its energy per update event and per simulated second.
    assert re.search(r"^  E_update +[\d.]+ [mµnpf]?J +[\d.]+ [mµnpf]?J  programming", out, re.M)
    assert re.search(r"^  E_second +[\d.]+ [mµnpf]?J +-  learning energy per simulated", out, re.M)
    per_event = re.findall(r"^(FSTDP|STDP) +E_update +([\d.]+) pJ per update event", out, re.M)
    assert [p[0] for p in per_event] == ["FSTDP", "STDP"]
    for (_, value), run in zip(per_event, ("fstdp_pcm", "stdp_pcm"), strict=True):
        expected = records[run].energy_attrs["per_synaptic_update_J"] * 1e12
        assert float(value) == round(expected, 2) and expected > 0
    # One second of the benchmark's inputs: 100 inputs at a mean of 25 Hz.
    count = int(re.search(r"^input spikes in this second: (\d+)", out, re.M)[1])
    assert abs(count - 2500) < 4.5 * 2500**0.5
