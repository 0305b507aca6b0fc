"""The runtime: run files, energy accounting, checkpoints and resume, determinism, the CLI.

Runs are tiny (192 training samples, batch 32, 2 epochs = 12 steps, chunks of 4, refresh
every 4 steps, 100 test samples) and share one job object per tile kind, so the jitted chunk
runner compiles once per shape for the whole module.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from support import (
    REPO,
    approx,
    assert_counted_energy,
    assert_identical_files,
    assert_one_line_error,
    assert_png,
    files_under,
    h5_contents,
    job_mapping,
    joules,
    run_cli,
    write_yaml,
)

from memxbar.cli import main
from memxbar.compiler import compile_network, program_from_yaml
from memxbar.crossbar import COUNTERS
from memxbar.runtime.job import load_job
from memxbar.runtime.loop import RunInterrupted, run_job
from memxbar.runtime.outputs import checkpoint_path
from memxbar.runtime.report.summary import format_summary
from memxbar.runtime.run_file import ENERGY_KEYS, read_run_file

LAYER = "hebbian"
CATEGORIES = ("read", "set", "reset", "dac", "adc", "refresh")
STEPS = 12  # 192 // 32 steps per epoch, 2 epochs
FINAL_KEYS = {
    "test_accuracy",
    "train_accuracy",
    "training_steps",
    "training_samples",
    *COUNTERS,  # every ledger counter of training, the initial programming excluded
    "initial_programming_J",
    "training_energy_J",
    "test_samples",
    "chip_time_end_s",
    "norm_deviation",
    "winner_probability",
}


# --- shared runs -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runtime")


@pytest.fixture(scope="module")
def pcm_job(tiny_pcm_run):
    return load_job(tiny_pcm_run[0])


@pytest.fixture(scope="module")
def ideal_job(folder):
    return load_job(write_yaml(folder / "ideal_job.yaml", job_mapping("ideal")))


@pytest.fixture(scope="module")
def pcm_run(tiny_pcm_run) -> Path:
    """The reference PCM run (seed 0, uninterrupted; shared with tests/test_interrupt.py)."""
    return tiny_pcm_run[1]


@pytest.fixture(scope="module")
def ideal_run(folder, ideal_job) -> Path:
    out = folder / "ideal_reference.h5"
    run_job(ideal_job, out, seed=0, progress=False)
    return out


# --- the run file ----------------------------------------------------------------------------


@pytest.mark.parametrize("tiles", ["pcm", "ideal"])
def test_run_file_has_the_documented_layout(tiles, request):
    path = request.getfixturevalue(f"{tiles}_run")
    job = request.getfixturevalue(f"{tiles}_job")
    contents = h5_contents(path)
    groups = {name for name, (value, _) in contents.items() if value is None and name != "/"}
    datasets = {name for name, (value, _) in contents.items() if value is not None}
    top = {"config", "metrics", "energy", "final", "weights", "conductances", "setup"}
    assert groups == top
    expected = {
        "config/job_yaml",
        "config/program_yaml",
        "metrics/step",
        "metrics/norm_deviation",
        "metrics/winner_probability",
        "energy/step",
        *(f"energy/{k}" for k in ENERGY_KEYS),
        f"weights/{LAYER}",
        *(f"final/{k}" for k in FINAL_KEYS),
        "setup/tiles",
    }
    if tiles == "pcm":
        expected.add(f"conductances/{LAYER}")
    assert datasets == expected
    assert ENERGY_KEYS == (*CATEGORIES, "total")

    with h5py.File(path, "r") as f:
        assert f["config/job_yaml"][()].decode() == job.text
        assert f["setup/tiles"][()].decode() == tiles
        # The program the job compiles to, as the report reads it back.
        program = program_from_yaml(f["config/program_yaml"][()].decode())
        chip = job.chip()
        assert program == compile_network(job.network, chip, device=job.device(chip))
        assert [b.layer for b in program.blocks] == [LAYER]

        steps = f["metrics/step"][()]
        np.testing.assert_array_equal(steps, [4, 8, 12])
        for name in ("norm_deviation", "winner_probability"):
            assert f[f"metrics/{name}"].shape == steps.shape
            assert np.all(np.isfinite(f[f"metrics/{name}"][()]))
        # The soft winner-take-all output is a probability, above 1/100 (uniform).
        assert np.all(f["metrics/winner_probability"][()] > 0.01)
        assert np.all(f["metrics/winner_probability"][()] <= 1.0)

        np.testing.assert_array_equal(f["energy/step"][()], steps)
        assert set(f["energy"].attrs) == {
            "per_synaptic_update_J",
            "per_inference_J",
            "per_sample_J",
        }

        final = {k: f[f"final/{k}"][()].item() for k in f["final"]}
        assert 0.0 <= final["test_accuracy"] <= 1.0 and 0.0 <= final["train_accuracy"] <= 1.0
        assert final["training_steps"] == STEPS
        assert final["training_samples"] == STEPS * 32
        assert final["test_samples"] == 100
        assert final["chip_time_end_s"] == approx(STEPS * 1e-3)
        assert final["norm_deviation"] == f["metrics/norm_deviation"][-1]
        assert final["update_events"] > 0

        weights = f[f"weights/{LAYER}"]
        assert weights.shape == (2, 64, 100) and weights.dtype == np.float32
        # Planned snapshots at steps 6 and 12; with chunks of 4 the first is taken at the end
        # of the chunk that reaches step 6, and the attribute says so.
        np.testing.assert_array_equal(weights.attrs["steps"], [8, 12])
        assert np.all(np.isfinite(weights[()]))
        assert not np.array_equal(weights[0], weights[1])  # it learned between snapshots


@pytest.mark.parametrize("tiles", ["pcm", "ideal"])
def test_energy_adds_up_and_only_grows(tiles, request):
    record = read_run_file(request.getfixturevalue(f"{tiles}_run"))
    energy = np.stack([record.energy[k] for k in CATEGORIES])
    assert energy.shape == (6, 3)
    np.testing.assert_allclose(energy.sum(axis=0), record.energy["total"], rtol=1e-12, atol=0)
    assert np.all(energy >= 0.0)
    for key in ENERGY_KEYS:
        assert np.all(np.diff(record.energy[key]) >= 0.0), key
    final = record.final
    assert final["training_energy_J"] == record.energy["total"][-1]
    attrs = record.energy_attrs
    if tiles == "ideal":
        # Ideal float tiles book counts but no joules.
        assert np.all(energy == 0.0)
        assert attrs == {"per_synaptic_update_J": 0.0, "per_inference_J": 0.0, "per_sample_J": 0.0}
        assert final["initial_programming_J"] == 0.0
        # Every synapse gets a nonzero change every step on ideal tiles.
        assert final["update_events"] == STEPS * 64 * 100
        return
    programming = sum(record.energy[k][-1] for k in ("set", "reset", "refresh"))
    assert record.energy["set"][-1] > 0 and record.energy["read"][-1] > 0
    assert record.energy["dac"][-1] > 0 and record.energy["adc"][-1] > 0
    assert record.energy["refresh"][-1] > 0  # a refresh every 4 steps reads every device
    assert attrs["per_synaptic_update_J"] > 0
    assert attrs["per_synaptic_update_J"] == approx(programming / final["update_events"], rel=1e-12)
    # A synaptic update is at least one SET pulse (2 pJ in pcm_gst_pulse) and, with the
    # refreshes it causes, well under a nanojoule.
    assert 2e-12 <= attrs["per_synaptic_update_J"] < 1e-9
    assert attrs["per_sample_J"] == approx(record.energy["total"][-1] / (STEPS * 32))
    assert attrs["per_inference_J"] > 0
    assert final["initial_programming_J"] > 0
    # Stochastic rounding touches a fraction of the synapses per step.
    assert 0 < final["update_events"] < STEPS * 64 * 100


@pytest.mark.parametrize("tiles", ["pcm", "ideal"])
def test_each_category_pays_for_the_operations_it_counted(tiles, request):
    """Joules ÷ count per category is the preset's energy per operation (issue 11), with the
    counts of training only: the initial programming is excluded from both."""
    record = read_run_file(request.getfixturevalue(f"{tiles}_run"))
    energy = assert_counted_energy(record)
    final = record.final
    if tiles == "ideal":
        assert all(final[name] == 0 for name in ("set_pulses", "device_reads", "adc_conversions"))
        assert final["mvm_vectors"] > 0 and final["update_events"] > 0
        return
    assert final["set_pulses"] > 0 and final["device_reads"] > 0
    assert final["refresh_device_reads"] > 0 and final["refresh_adc_conversions"] > 0
    # A rate job RESETs only inside refreshes: no RESET pulse is left uncounted or unpaid.
    assert final["reset_pulses"] == 0 and energy["reset"] == 0.0
    # The summary prints every category's joules next to the operations they paid for.
    summary = format_summary(record)
    line = re.search(
        r"^  set +[\d.]+ [mµnpf]?J +[\d.]+%  (\d+) SET pulses, 2 pJ each$", summary, re.M
    )
    assert line and int(line[1]) == final["set_pulses"]
    assert re.search(r"^  adc .*  \d+ ADC conversions, 2\.56 pJ each$", summary, re.M)
    assert re.search(r"^  reset +0 J +0\.0%  0 RESET pulses$", summary, re.M)
    refreshed = f"{final['refreshes']:.6g} synapses refreshed"
    assert re.search(rf"^  refresh +[\d.]+ [mµnpf]?J +[\d.]+%  {refreshed}", summary, re.M)


def test_summary_prints_each_figure_measured_next_to_its_estimate(pcm_job, pcm_run, ideal_run):
    """E_update, E_inference, E_sample by name; the estimates are compile's, from the program
    stored in the run file, so `memxbar report` compares the same quantities."""
    from memxbar.compiler import mapping_summary

    record = read_run_file(pcm_run)
    chip = pcm_job.chip()
    program = compile_network(pcm_job.network, chip, device=pcm_job.device(chip))
    estimates = mapping_summary(program)["estimates"]
    assert estimates["E_update"] == approx(2e-12)
    summary = format_summary(record)
    rows = dict(
        (m[0], m[1:])
        for m in re.findall(
            r"^  (E_\w+) +([\d.]+ [mµnpf]?J|-) +([\d.]+ [mµnpf]?J|-)  ", summary, re.M
        )
    )
    assert list(rows) == ["E_update", "E_inference", "E_sample"]
    attrs = record.energy_attrs
    for name, attr in (
        ("E_update", "per_synaptic_update_J"),
        ("E_inference", "per_inference_J"),
        ("E_sample", "per_sample_J"),
    ):
        assert joules(rows[name][0]) == approx(attrs[attr], rel=5e-4)
    assert joules(rows["E_update"][1]) == approx(estimates["E_update"], rel=5e-4)
    assert joules(rows["E_inference"][1]) == approx(estimates["E_inference"], rel=5e-4)
    assert rows["E_sample"][1] == "-"
    # E_update split into its parts, which add up to the measurement.
    parts = re.search(
        r"E_update = set (\S+ [mµnpf]?J) \+ reset (\S+ J) \+ refresh (\S+ [mµnpf]?J); "
        r"([\d.]+) SET pulses per event",
        summary,
    )
    events = record.final["update_events"]
    assert joules(parts[1]) == approx(record.energy["set"][-1] / events, rel=5e-4)
    assert joules(parts[3]) == approx(record.energy["refresh"][-1] / events, rel=5e-4)
    assert float(parts[4]) == approx(record.final["set_pulses"] / events, abs=5e-4)
    # Ideal tiles: measured 0 J, no estimates, no E_update parts.
    ideal = format_summary(read_run_file(ideal_run))
    assert re.search(r"^  E_update +0 J +-  programming energy", ideal, re.M)
    assert re.search(r"^  E_inference +0 J +-  inference energy", ideal, re.M)
    assert "E_update = set" not in ideal and "estimates:" not in ideal


def test_drift_study_is_a_table_in_the_summary_and_the_report(pcm_run, tmp_path, capsys):
    """--eval-times: accuracy against time after the last update, compensated and not, with
    times in human units, printed by run and report alike (both print format_summary)."""
    import dataclasses

    from memxbar.runtime.run_file import write_run_file

    record = read_run_file(pcm_run)
    times = np.array([1.0, 90.0, 3600.0, 86400.0, 2.6e6, 3.15e7, 1e9])
    compensated = np.linspace(0.9, 0.8, times.size)
    uncompensated = np.linspace(0.9, 0.5, times.size)
    drift = dataclasses.replace(
        record,
        eval_times_s=times,
        accuracy_vs_time={"compensated": compensated, "uncompensated": uncompensated},
    )
    path = tmp_path / "drift.h5"
    write_run_file(path, drift)
    assert main(["report", str(path), "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip("\n") == format_summary(read_run_file(path), "drift")
    table = out.split("test accuracy after the last update (drift; readout trained at 1 s):\n")[1]
    lines = table.splitlines()
    assert lines[0].split() == ["time", "seconds", "compensated", "uncompensated"]
    shown = [line.split() for line in lines[1 : 1 + times.size]]
    assert [f"{row[0]} {row[1]}" for row in shown] == [
        "1 s",
        "1.5 min",
        "1 h",
        "1 d",
        "30.09 d",
        "364.6 d",
        "31.69 y",
    ]
    assert [float(row[2]) for row in shown] == approx(times.tolist())
    assert [float(row[3]) for row in shown] == approx(np.round(compensated, 4).tolist())
    assert [float(row[4]) for row in shown] == approx(np.round(uncompensated, 4).tolist())
    # A run without --eval-times prints no table.
    assert "test accuracy after the last update" not in format_summary(record)


def test_pcm_conductances_match_the_final_weights(pcm_job, pcm_run, ideal_run):
    pcm, ideal = read_run_file(pcm_run), read_run_file(ideal_run)
    assert ideal.conductances == {}
    g = pcm.conductances[LAYER]
    assert g.shape == (2, 1, 64, 100)  # (G+/G−, devices per side, rows, cols)
    assert np.all(g >= 0.0) and np.all(g < 25e-6 * 1.5)  # pcm_gst_pulse g_max 25 µS (±10 %)
    with h5py.File(pcm_run, "r") as f:
        assert f[f"conductances/{LAYER}"].attrs["unit"] == "S"
    # The last snapshot is the final state: w = w_max / g_weight_max · (G+ − G−), where
    # pcm_256 maps |w| = w_max to g_weight_max = 8 µS.
    w = (g[0] - g[1]).sum(axis=0) * (pcm_job.hardware.w_max / 8e-6)
    np.testing.assert_allclose(pcm.weights[LAYER][-1], w, rtol=1e-5, atol=1e-6)


def test_run_and_checkpoint_files_get_the_usual_permissions(pcm_job, pcm_run, tmp_path):
    # Files are created 0o666 minus the umask, as open() would; a private 0o600 (what
    # tempfile.mkstemp gives) keeps colleagues from reading a shared run.
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(pcm_run.stat().st_mode) == 0o666 & ~umask
    out = tmp_path / "run.h5"
    with pytest.raises(RunInterrupted):
        run_job(pcm_job, out, seed=0, progress=False, stop_after_chunks=1)
    assert stat.S_IMODE(checkpoint_path(out).stat().st_mode) == 0o666 & ~umask


# --- determinism, resume, chunk size ---------------------------------------------------------


def test_resumed_run_is_bit_identical_to_an_uninterrupted_one(pcm_job, pcm_run, tmp_path):
    out = tmp_path / "resumed.h5"
    ckpt = checkpoint_path(out)
    assert ckpt.name == "resumed.h5.ckpt"
    with pytest.raises(RunInterrupted, match="resume"):
        run_job(pcm_job, out, seed=0, progress=False, stop_after_chunks=1)
    assert ckpt.is_file() and not out.exists()
    # Interrupted a second time, after one more chunk, then to the end.
    with pytest.raises(RunInterrupted):
        run_job(pcm_job, out, seed=0, progress=False, resume=True, stop_after_chunks=1)
    assert ckpt.is_file() and not out.exists()
    record = run_job(pcm_job, out, seed=0, progress=False, resume=True)
    assert not ckpt.exists()  # a finished run leaves no checkpoint behind
    assert record.final["training_steps"] == STEPS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resumed.h5"]
    assert_identical_files(out, pcm_run)


def test_same_seed_same_file_other_seed_other_result(pcm_job, pcm_run, tmp_path):
    again = tmp_path / "again.h5"
    run_job(pcm_job, again, seed=0, progress=False)
    assert_identical_files(again, pcm_run)

    other = tmp_path / "other.h5"
    run_job(pcm_job, other, seed=1, progress=False)
    a, b = read_run_file(pcm_run), read_run_file(other)
    assert not np.array_equal(a.weights[LAYER], b.weights[LAYER])
    assert not np.array_equal(a.conductances[LAYER], b.conductances[LAYER])
    assert a.energy["total"][-1] != b.energy["total"][-1]


def test_resume_checks_the_checkpoint(pcm_job, tmp_path):
    out = tmp_path / "run.h5"
    ckpt = checkpoint_path(out)
    with pytest.raises(RunInterrupted):
        run_job(pcm_job, out, seed=0, progress=False, stop_after_chunks=1)
    good = ckpt.read_bytes()
    for override in ({"seed": 1}, {"seed": 0, "epochs": 3}):
        with pytest.raises(ValueError, match="checkpoint belongs to another job or seed"):
            run_job(pcm_job, out, progress=False, resume=True, **override)
    assert ckpt.read_bytes() == good  # a refused resume keeps the checkpoint
    for bad in (b"not a checkpoint at all", good[: len(good) // 2], good[:40], b""):
        ckpt.write_bytes(bad)
        with pytest.raises(ValueError, match=re.escape(str(ckpt)) + ": not a readable"):
            run_job(pcm_job, out, seed=0, progress=False, resume=True)
    assert not out.exists()


def test_result_does_not_depend_on_the_chunk_size(folder, pcm_run, tmp_path):
    # Chunks of 6 vs 4: the boundaries differ (6 | 4, 8), the refresh every 4 steps falls
    # inside chunks, and the second epoch starts inside a chunk of 4.
    job = load_job(write_yaml(tmp_path / "job6.yaml", job_mapping("pcm", chunk_steps=6)))
    out = tmp_path / "chunks6.h5"
    run_job(job, out, seed=0, progress=False)
    a, b = read_run_file(pcm_run), read_run_file(out)
    np.testing.assert_array_equal(b.metric_steps, [6, 12])
    np.testing.assert_array_equal(b.weight_steps[LAYER], [6, 12])
    # The final state, hence the evaluation, is bit-identical.
    np.testing.assert_array_equal(a.weights[LAYER][-1], b.weights[LAYER][-1])
    np.testing.assert_array_equal(a.conductances[LAYER], b.conductances[LAYER])
    for key in ENERGY_KEYS:
        assert a.energy[key][-1] == b.energy[key][-1], key
    assert a.energy_attrs == b.energy_attrs
    per_chunk = {"norm_deviation", "winner_probability"}  # chunk means
    assert {k: v for k, v in a.final.items() if k not in per_chunk} == {
        k: v for k, v in b.final.items() if k not in per_chunk
    }


# --- the command line ------------------------------------------------------------------------


def test_cli_run_writes_run_file_and_plots_and_report_repeats_the_summary(
    pcm_job, tmp_path, capsys
):
    job = Path(pcm_job.source)
    out = tmp_path / f"{pcm_job.name}.h5"
    assert main(["run", str(job), "-o", str(out), "-q"]) == 0
    printed, err = capsys.readouterr()
    assert err == ""
    record = read_run_file(out)
    summary = format_summary(record, pcm_job.name)
    assert printed.startswith(summary + "\n")
    assert re.search(r"^test_accuracy +0\.\d{4}$", printed, re.M)
    assert re.search(r"^  E_update +[\d.]+ [mµnpf]?J +2 pJ  programming energy", printed, re.M)
    assert re.search(r"^  E_inference +[\d.]+ [mµnpf]?J +[\d.]+ pJ  inference", printed, re.M)
    assert re.search(r"^  E_sample +[\d.]+ [mµnpf]?J +-  training energy", printed, re.M)
    assert f"wrote {out}" in printed
    plots = {
        f"{pcm_job.name}_{name}.png"
        for name in ("metrics", "energy", "energy_breakdown", f"conductance_{LAYER}")
    }
    assert {p.name for p in tmp_path.glob("*.png")} == plots
    for name in plots:
        assert_png(tmp_path / name)
        assert f"wrote {tmp_path / name}" in printed
    assert not checkpoint_path(out).exists()

    assert main(["report", str(out), "--no-plots"]) == 0
    reported, err = capsys.readouterr()
    assert err == ""
    assert reported.rstrip("\n") == summary
    for png in tmp_path.glob("*.png"):
        png.unlink()
    assert main(["report", str(out)]) == 0
    reported, _ = capsys.readouterr()
    assert reported.startswith(summary)
    assert {p.name for p in tmp_path.glob("*.png")} == plots


def _job_with(tmp: Path, change) -> Path:
    job = job_mapping("pcm")
    change(job)
    return write_yaml(tmp / "job.yaml", job)


def _too_big(tmp: Path) -> Path:
    chip = yaml.safe_load((REPO / "hw_configs" / "chips" / "pcm_256.yaml").read_text())
    chip["tile"]["count"] = 1
    chip_path = write_yaml(tmp / "one_tile_chip.yaml", chip)

    def change(job):
        job["hardware"]["chip"] = str(chip_path)
        job["network"]["layers"][0]["out_features"] = 1000  # 64 x 1000: 4 tiles of 256 cols

    return _job_with(tmp, change)


def _unknown_key(tmp: Path) -> Path:
    return _job_with(tmp, lambda job: job["training"].update(bogus_knob=1))


def _malformed(tmp: Path) -> Path:
    path = tmp / "malformed.yaml"
    path.write_text("name: x\ntraining: [epochs: 1\n")
    return path


def _garbage_run(tmp: Path) -> Path:
    path = tmp / "garbage.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4)
    return path


def _not_a_run(tmp: Path) -> Path:
    path = tmp / "other.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.arange(3)
    return path


def _truncated_copy(tmp: Path, run: Path) -> Path:
    data = run.read_bytes()
    path = tmp / "truncated.h5"
    path.write_bytes(data[: len(data) // 2])
    return path


def _corrupt_checkpoint(tmp: Path) -> Path:
    job = _job_with(tmp, lambda job: None)
    (tmp / "r.h5.ckpt").write_bytes(b"PK\x03\x04 truncated zip")
    return job


def _plain_job(tmp: Path) -> str:
    return str(_job_with(tmp, lambda job: None))


# case → (arguments from (tmp folder, a finished run file), fragments the error line names)
BAD_INPUTS = {
    "missing job": (lambda t, run: ["run", str(t / "nope.yaml")], ["nope.yaml"]),
    "malformed job": (lambda t, run: ["run", str(_malformed(t))], ["malformed.yaml"]),
    "unknown key": (lambda t, run: ["run", str(_unknown_key(t))], ["job.yaml", "bogus_knob"]),
    "does not fit": (
        lambda t, run: ["run", str(_too_big(t)), "-o", str(t / "r.h5")],
        ["does not fit", "needs 4 tiles", "the chip has 1"],
    ),
    "compile does not fit": (lambda t, run: ["compile", str(_too_big(t))], ["does not fit"]),
    "no output folder": (
        lambda t, run: ["run", _plain_job(t), "-o", str(t / "no" / "r.h5")],
        ["does not exist", "/no'"],
    ),
    "zero epochs": (
        lambda t, run: ["run", _plain_job(t), "-o", str(t / "r.h5"), "--epochs", "0"],
        ["epochs"],
    ),
    "corrupt checkpoint": (
        lambda t, run: ["run", str(_corrupt_checkpoint(t)), "-o", str(t / "r.h5"), "--resume"],
        ["r.h5.ckpt", "not a readable memxbar checkpoint"],
    ),
    "report missing": (
        lambda t, run: ["report", str(t / "nope.h5")],
        ["nope.h5", "does not exist"],
    ),
    "report garbage": (
        lambda t, run: ["report", str(_garbage_run(t))],
        ["garbage.h5", "not a complete memxbar run file"],
    ),
    "report truncated": (
        lambda t, run: ["report", str(_truncated_copy(t, run))],
        ["truncated.h5", "not a complete memxbar run file"],
    ),
    "report not a run": (
        lambda t, run: ["report", str(_not_a_run(t))],
        ["other.h5", "not a complete memxbar run file"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(case, pcm_run, tmp_path, capsys):
    make_args, fragments = BAD_INPUTS[case]
    args = make_args(tmp_path, pcm_run)
    before = files_under(tmp_path)
    rc = main(args)
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_error(rc, err, *fragments)
    assert files_under(tmp_path) == before  # nothing written, half-written or removed


def test_cli_error_in_a_fresh_interpreter_has_no_traceback(tmp_path):
    result = run_cli("run", str(_unknown_key(tmp_path)), "-q", cwd=tmp_path)
    assert result.stdout == ""
    assert_one_line_error(result.returncode, result.stderr, "bogus_knob")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.yaml"]


# --- the README ------------------------------------------------------------------------------


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README.md has no ```bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_first_command_trains_the_pcm_job(tmp_path):
    first, second = readme_commands()[:2]
    assert first == "python3 -m pip install -e . && memxbar run examples/softhebb_digits_pcm.yaml"
    job = shlex.split(first.split("&&")[1])[2]
    assert (REPO / job).is_file()
    # The CI script runs the README's second command verbatim.
    assert second in (REPO / ".ci" / "run").read_text().splitlines()

    out = tmp_path / "x.h5"
    result = run_cli(
        *("run", job, "--epochs", "1", "-o", str(out), "-q"),
        # Compile-bound at one epoch: skip XLA's backend optimisations.
        env={"XLA_FLAGS": "--xla_backend_optimization_level=0"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(r"^test_accuracy +0\.\d{4}$", result.stdout, re.M)
    assert re.search(r"^  E_update +[\d.]+ [mµnpf]?J +2 pJ ", result.stdout, re.M)
    record = read_run_file(out)
    assert record.final["training_steps"] == 1437 // 32  # the 80 % training split, 1 epoch
    assert record.final["test_samples"] == 360
    # Even one epoch on PCM learns features a readout separates far above chance (0.1).
    assert record.final["test_accuracy"] > 0.5
    assert (tmp_path / "x_metrics.png").is_file()


def test_plots_of_an_ideal_run_need_no_energy(ideal_run, tmp_path):
    """Ideal tiles book no joules; the energy plot says so instead of warning."""
    from memxbar.runtime.report.plots import write_run_plots

    paths = write_run_plots(read_run_file(ideal_run), tmp_path, prefix="ideal_")
    assert {p.name for p in paths} >= {"ideal_metrics.png", "ideal_energy.png"}
    for path in paths:
        assert_png(path)


def test_nan_energy_from_a_cached_program_stops_the_run(tmp_path, monkeypatch):
    """With the compilation cache on, the ledger books a negative increment as NaN (no host
    callback in a stored program); the driver refuses the chunk instead of writing NaN."""
    from memxbar.runtime.rate_experiment import RateExperiment

    history_rows = RateExperiment.history_rows

    def corrupted(self, records, state):
        rows = history_rows(self, records, state)
        return rows | {"energy": np.where(np.arange(rows["energy"].size) == 1, np.nan, 1.0)}

    monkeypatch.setattr(RateExperiment, "history_rows", corrupted)
    job = load_job(write_yaml(tmp_path / "job.yaml", job_mapping("ideal")))
    with pytest.raises(RuntimeError, match="negative increment .*--no-cache"):
        run_job(job, tmp_path / "run.h5", progress=False)
    assert not (tmp_path / "run.h5").exists()
