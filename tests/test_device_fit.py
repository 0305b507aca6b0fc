"""Fitting a pulse-level preset to measured pulse data (memxbar.devices.fitting, the
``memxbar devices synthesize|fit|compare`` commands and the fit's figures).

The round trips synthesise measurements from a known model, fit, and hold every fitted value
to the model within three of the fit's own standard uncertainties: a fit whose uncertainties
were too small, or that were biased, fails. The default suite fits 300 devices × 30 pulses
once (module fixture); 1,000 × 50 and the digits job run under -m slow.
"""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest
from support import (
    REPO,
    assert_one_line_error,
    assert_png,
    job_mapping,
    run_main,
    run_notebook,
    write_yaml,
)

from memxbar.devices import load_preset
from memxbar.devices.fitting import (
    PARAMETERS,
    MeasurementError,
    fit_device,
    read_measurements,
    standard_design,
    synthesize,
    unidentifiable,
    write_measurements,
)
from memxbar.devices.fitting.fit import WEAK
from memxbar.devices.fitting.parameters import value_of, with_values
from memxbar.devices.fitting.preset_writer import write_fitted_preset

BASE = "pcm_gst_pulse"
SHIPPED = REPO / "hw_configs" / "devices" / f"{BASE}.yaml"
#: The SET-step mean coefficients, each moved by 20 % for the perturbed round trip.
PERTURBED = {
    "set_response.mean_offset_S": 1.2,
    "set_response.mean_slope": 1.2,
    "set_response.mean_memory_S": 0.8,
}


def assert_recovered(fit, truth, n_sigma=3.0):
    """Every fitted value within ``n_sigma`` of its reported uncertainty of ``truth``'s."""
    assert fit.fields, fit.kept
    for field, _, value, sigma in fit.table():
        true = float(value_of(truth, field))
        assert sigma > 0, field
        # The fit keeps only what the data determine to better than WEAK of the value.
        assert sigma <= WEAK * abs(float(value_of(fit.base, field))) + 1e-30, field
        assert abs(value - true) <= n_sigma * sigma, (field, true, value, sigma)


@pytest.fixture(scope="module")
def base():
    return load_preset(BASE)


@pytest.fixture(scope="module")
def small(base):
    """300 devices × 30 pulses of the shipped preset (3 reads per point, drift to 10^4 s)."""
    return synthesize(base, standard_design(30), 300, key=jax.random.key(7))


@pytest.fixture(scope="module")
def small_fit(small, base):
    return fit_device(small, base, key=jax.random.key(8))


# --- measurements ----------------------------------------------------------------------------


def test_measurements_survive_the_csv_round_trip(tmp_path, base):
    data = synthesize(
        base, standard_design(3, reads=2, drift_times_s=(60.0,)), 4, key=jax.random.key(0)
    )
    path = write_measurements(tmp_path / "m.csv", data, comment="two\nlines")
    text = path.read_text()
    assert text.startswith("# two\n# lines\ndevice,pulse,G_uS,t_read_s,read_index\n")
    back = read_measurements(path)
    assert back.devices == data.devices == ("d0000", "d0001", "d0002", "d0003")
    np.testing.assert_array_equal(back.design.pulse, [0, 1, 2, 3, 3])
    np.testing.assert_array_equal(back.design.t_read_s, [0, 0, 0, 0, 60])
    np.testing.assert_array_equal(back.design.reads, [2] * 5)
    # G is written in µS with 6 significant digits.
    np.testing.assert_allclose(back.g_S, data.g_S, rtol=5e-6, atol=1e-15)
    assert back.source == str(path)


def test_columns_may_come_in_any_order_with_other_prefixes_and_without_options(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("G_nS,pulse,device\n100,0,a\n2000,1,a\n120,0,b\n2500,1,b\n120,1,b\n")
    with pytest.raises(MeasurementError, match=r"device 'b' has 2 read\(s\) at pulse 1"):
        read_measurements(path)
    path.write_text("G_nS,pulse,device\n# a comment\n100,0,a\n\n2000,1,a\n120,0,b\n2500,1,b\n")
    data = read_measurements(path)
    np.testing.assert_allclose(data.g_S[:, :, 0], [[100e-9, 2000e-9], [120e-9, 2500e-9]])
    np.testing.assert_array_equal(data.design.t_read_s, [0.0, 0.0])


BAD_CSV = {
    "missing column": ("device,G_uS\na,1\n", "line 1: the column 'pulse' is missing"),
    "unknown column": ("device,pulse,G_uS,temp_K\na,0,1,300\n", "line 1, column 'temp_K'"),
    "twice": ("device,pulse,G_uS,G_nS\na,0,1,1\n", "line 1, column 'G_nS': gives 'G_uS'"),
    "not a number": ("device,pulse,G_uS\na,0,1\na,1,high\n", "line 3, column 'G_uS'"),
    "negative": ("device,pulse,G_uS\na,0,-0.1\n", "line 2, column 'G_uS': expected a finite"),
    "not finite": ("device,pulse,G_uS\na,0,nan\n", "line 2, column 'G_uS'"),
    "pulse not integer": ("device,pulse,G_uS\na,1.5,1\n", "line 2, column 'pulse'"),
    "negative time": ("device,pulse,G_uS,t_read_s\na,0,1,-1\n", "line 2, column 't_read_s'"),
    "fields": ("device,pulse,G_uS\na,0\n", "line 2: expected 3 fields"),
    "empty device": ("device,pulse,G_uS\n,0,1\n", "line 2, column 'device'"),
    "read twice": (
        "device,pulse,G_uS,read_index\na,0,1,0\na,0,1,0\n",
        "line 3, column 'read_index': device 'a', pulse 0, t_read 0 s, read 0 was given "
        "before (line 2)",
    ),
    "missing pulse": (
        "device,pulse,G_uS\na,0,1\na,1,2\nb,0,1\n",
        "line 4, column 'pulse': device 'b' has no read at pulse 1",
    ),
    "extra pulse": (
        "device,pulse,G_uS\na,0,1\nb,0,1\nb,1,2\n",
        "line 3, column 'pulse': device 'b' has a read at pulse 1",
    ),
    "no rows": ("device,pulse,G_uS\n", "no data rows"),
    "empty": ("# only a comment\n", "no header line"),
}


@pytest.mark.parametrize("case", BAD_CSV, ids=list(BAD_CSV))
def test_bad_csv_names_file_line_and_column(tmp_path, case):
    text, fragment = BAD_CSV[case]
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(MeasurementError) as err:
        read_measurements(path)
    assert str(err.value).startswith(f"{path}")
    assert fragment in str(err.value)


def test_cli_turns_a_bad_csv_into_one_line(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CSV["not a number"][0])
    result = run_main(capsys, "devices", "fit", str(path), "-o", str(tmp_path / "x.yaml"))
    assert_one_line_error(result.returncode, result.stderr, "bad.csv", "line 3", "'G_uS'")
    missing = run_main(capsys, "devices", "fit", str(tmp_path / "none.csv"), "-o", "x.yaml")
    assert_one_line_error(missing.returncode, missing.stderr, "none.csv", "does not exist")
    assert not (tmp_path / "x.yaml").exists()


def test_synthetic_set_curve_is_the_device_models(base):
    """The measurement simulation is the model's own SET response: after 10 and 20 pulses the
    mean read equals the mean of the device figures' independent trajectories within 4
    standard errors (read noise has mean 0 away from 0 µS)."""
    from memxbar.runtime.report.device_figures import set_pulse_curves

    n = 4000
    data = synthesize(
        base, standard_design(20, reads=1, drift_times_s=()), n, key=jax.random.key(1)
    )
    curves = set_pulse_curves(base, n, 20, key=jax.random.key(2))
    for pulse in (10, 20):
        measured, direct = data.g_S[:, pulse, 0], curves[pulse]
        se = np.sqrt(measured.var() / n + direct.var() / n)
        assert abs(measured.mean() - direct.mean()) < 4 * se, pulse
    # JAP 2018 (DESIGN.md 4.2): ~7.8 µS after 10 pulses and ~9.4 µS after 20.
    assert data.g_S[:, 10, 0].mean() == pytest.approx(7.8e-6, rel=0.05)
    assert data.g_S[:, 20, 0].mean() == pytest.approx(9.4e-6, rel=0.05)


# --- identifiability -------------------------------------------------------------------------


def test_what_the_data_lack_is_not_fitted(base):
    bare = synthesize(
        base, standard_design(10, reads=1, drift_times_s=()), 20, key=jax.random.key(3)
    )
    kept = unidentifiable(bare, base)
    assert set(kept) == {
        "variability.g_max_relative",
        "reset_response.relative_spread",
        "drift.scale",
        "read_noise.q_coefficient",
        "read_noise.q_exponent",
    }
    assert "no reads at two or more times" in kept["drift.scale"]
    assert "no repeated reads" in kept["read_noise.q_coefficient"]
    assert "near g_max" in kept["variability.g_max_relative"]
    short = synthesize(base, standard_design(2, reads=2), 20, key=jax.random.key(3))
    assert "set_response.mean_offset_S" in unidentifiable(short, base)
    # A device whose ceiling is within reach shows the spread of g_max.
    low_ceiling = with_values(base, ["conductance.g_max_S"], [9e-6])
    near = synthesize(low_ceiling, standard_design(30, reads=1), 50, key=jax.random.key(3))
    assert "variability.g_max_relative" not in unidentifiable(near, low_ceiling)


def test_a_statistical_model_cannot_be_fitted(small):
    with pytest.raises(ValueError, match="needs a pulse-level device model"):
        fit_device(small, load_preset("pcm_nandakumar2019"), key=jax.random.key(0))


# --- round trips -----------------------------------------------------------------------------


def test_fit_recovers_the_shipped_preset_from_300_devices(small_fit, base):
    assert_recovered(small_fit, base)
    fitted = set(small_fit.fields)
    # The SET-step mean coefficients, the RESET level, drift and read noise are determined.
    assert {p.field for p in PARAMETERS[:3]} <= fitted
    assert {"reset_response.g_reset_S", "drift.scale", "read_noise.q_coefficient"} <= fitted
    assert set(small_fit.kept) | fitted == {p.field for p in PARAMETERS}
    # The model describes the data: chi2 within 4 standard deviations of its dof.
    assert abs(small_fit.chi2 - small_fit.dof) < 4 * np.sqrt(2 * small_fit.dof)
    assert small_fit.rms_uS["mean_curve"] < 0.3
    for field in small_fit.kept:
        assert value_of(small_fit.model, field) == value_of(base, field)


def test_same_key_same_fit(small, base, small_fit):
    again = fit_device(small, base, key=jax.random.key(8))
    np.testing.assert_array_equal(again.values, small_fit.values)
    np.testing.assert_array_equal(again.sigmas, small_fit.sigmas)


@pytest.mark.slow  # ~30 s per fit on 2 cores
def test_fit_recovers_the_shipped_preset_from_1000_devices_by_50_pulses(base):
    data = synthesize(base, standard_design(50), 1000, key=jax.random.key(11))
    fit = fit_device(data, base, key=jax.random.key(12))
    assert_recovered(fit, base)
    assert {p.field for p in PARAMETERS[:3]} <= set(fit.fields)
    assert fit.seconds < 120


@pytest.mark.slow  # ~30 s
def test_fit_recovers_perturbed_mean_coefficients(base):
    fields = list(PERTURBED)
    truth = with_values(base, fields, [float(value_of(base, f)) * PERTURBED[f] for f in fields])
    data = synthesize(truth, standard_design(50), 1000, key=jax.random.key(21))
    fit = fit_device(data, base, key=jax.random.key(22))
    assert_recovered(fit, truth)
    fitted = dict(zip(fit.fields, fit.values, strict=True))
    for field in fields:
        shipped, true = float(value_of(base, field)), float(value_of(truth, field))
        assert abs(fitted[field] - true) < abs(fitted[field] - shipped), field


# --- the preset file -------------------------------------------------------------------------


def test_fitted_preset_is_strict_and_states_the_fit(tmp_path, small_fit, base):
    path = write_fitted_preset(
        tmp_path / "mine.yaml", small_fit, SHIPPED, date="2025-01-31", base_name=BASE
    )
    model = load_preset(path)  # the strict loader
    text = path.read_text()
    assert text.startswith("# Fitted with `memxbar devices fit` on 2025-01-31.")
    assert f"base preset: {BASE}" in text
    assert f"chi2 = {small_fit.chi2:.1f} for {small_fit.dof} degrees of freedom" in text
    for field, _, value, sigma in small_fit.table():
        # Written to a tenth of its uncertainty, in the unit of the base file's key.
        assert float(value_of(model, field)) == pytest.approx(value, abs=sigma / 10), field
        section, name = field.split(".")
        key = name.replace("_S", "_uS") if name.endswith("_S") else name
        line = re.search(rf"^  {key}: (\S+) +# fitted (\S+) \+- (\S+) \(base (\S+)\)$", text, re.M)
        assert line, key
        factor = 1e-6 if name.endswith("_S") else 1.0
        assert float(line[3]) * factor == pytest.approx(sigma, rel=0.06), key
        assert float(line[4]) * factor == pytest.approx(float(value_of(base, field))), key
    assert "not identifiable from these data (base value kept):" in text
    for field in small_fit.kept:
        assert float(value_of(model, field)) == float(value_of(base, field))
        assert f"{field.split('.')[0]}." in text
    # Untouched lines keep the base file's source comments.
    assert "  set_pulse_pJ: 2.0       # assumption inside the pJ-scale SET energies" in text


def test_fitted_preset_runs_in_a_job(tmp_path, small_fit):
    """A job names the fitted file as its chip's device preset (an override): the job
    loads, its device is the fitted model, and the network compiles onto the chip."""
    from memxbar.compiler import compile_network
    from memxbar.runtime.job import load_job

    preset = write_fitted_preset(tmp_path / "mine.yaml", small_fit, SHIPPED, base_name=BASE)
    mapping = job_mapping("pcm")
    mapping["hardware"]["chip_overrides"] = {"device_preset": str(preset)}
    job = load_job(write_yaml(tmp_path / "job.yaml", mapping))
    device = job.device()
    for field, _, value, sigma in small_fit.table():
        assert float(value_of(device, field)) == pytest.approx(value, abs=sigma / 10)
    program = compile_network(job.network, job.chip())
    assert program.device_preset == str(preset)


@pytest.mark.slow  # the tiny digits job: ~30 s, compile-bound
def test_digits_job_runs_with_the_fitted_preset(tmp_path, small_fit):
    from memxbar.runtime.job import load_job
    from memxbar.runtime.loop import run_job

    preset = write_fitted_preset(tmp_path / "mine.yaml", small_fit, SHIPPED, base_name=BASE)
    mapping = job_mapping("pcm")
    mapping["hardware"]["chip_overrides"] = {"device_preset": str(preset)}
    record = run_job(load_job(write_yaml(tmp_path / "job.yaml", mapping)), tmp_path / "r.h5")
    assert 0.5 < record.final["test_accuracy"] <= 1.0  # 10 classes: chance is 0.1
    assert record.final["set_pulses"] > 0
    assert str(preset) in record.program_yaml


# --- the commands ----------------------------------------------------------------------------


def test_synthesize_then_fit_on_the_command_line(tmp_path, capsys):
    csv_path, out = tmp_path / "meas.csv", tmp_path / "my_device.yaml"
    made = run_main(
        capsys, "devices", "synthesize", "--devices", "300", "--pulses", "30", "--seed", "3",
        "-o", str(csv_path),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"{csv_path}: 300 devices, 31 pulse numbers (0…30)")
    data = read_measurements(csv_path)
    assert data.n_devices == 300 and data.g_S.shape == (300, 35, 3)
    fitted = run_main(
        capsys, "devices", "fit", str(csv_path), "-o", str(out), "--plot", str(tmp_path / "fig")
    )
    assert fitted.returncode == 0, fitted.stderr
    lines = fitted.stdout.splitlines()
    assert lines[1].split() == ["parameter", "base", "fitted", "±", "sigma"]
    assert str(out) in lines
    assert re.search(r"^chi2 [\d.]+ for \d+ dof; .* steps in [\d.]+ s$", fitted.stdout, re.M)
    model = load_preset(out)
    assert model.description.startswith("Fitted to meas.csv")
    figures = sorted(p.name for p in (tmp_path / "fig").iterdir())
    assert figures == [
        "my_device_fit_drift.png",
        "my_device_fit_read_noise.png",
        "my_device_fit_set_curves.png",
    ]
    for name in figures:
        assert_png(tmp_path / "fig" / name)


def test_synthesize_refuses_bad_options(tmp_path, capsys):
    out = str(tmp_path / "m.csv")
    for option, value, fragment in (
        ("--devices", "1", "--devices: expected an integer ≥ 2"),
        ("--drift-times", "10,-1", "--drift-times: expected comma-separated seconds"),
        ("--model", "pcm_nandakumar2019", "pulse"),
    ):
        result = run_main(capsys, "devices", "synthesize", option, value, "-o", out)
        assert_one_line_error(result.returncode, result.stderr, fragment)


def test_compare_prints_both_columns_and_marks_differences(tmp_path, capsys):
    changed = tmp_path / "changed.yaml"
    changed.write_text(
        SHIPPED.read_text().replace("mean_offset_uS: 0.880", "mean_offset_uS: 0.8800001")
    )
    result = run_main(capsys, "devices", "compare", BASE, str(changed))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{BASE}: PulsePCM")
    assert lines[1].startswith("changed: PulsePCM")
    assert lines[2].split() == ["parameter", BASE, "changed"]
    rows = [line for line in lines[3:-1]]
    marked = [line.split()[1] for line in rows if line.startswith("*")]
    # Marked although both print as 880 nS: the exact values differ.
    assert marked == ["set_response.mean_offset_S"]
    row = next(line for line in rows if "set_response.mean_offset_S" in line)
    assert row.split()[2:] == ["880", "nS", "880", "nS"]
    assert lines[-1] == f"* differs: 1 of {len(rows)} parameters"
    other = run_main(capsys, "devices", "compare", BASE, "pcm_nandakumar2019")
    assert other.returncode == 0
    assert re.search(r"^\* set_response\.mean_offset_S +880 nS +—$", other.stdout, re.M)


def test_compare_overlays_figures(tmp_path, capsys):
    result = run_main(
        capsys, "devices", "compare", BASE, "pcm_nandakumar2019", "--plot", str(tmp_path),
        "--devices", "100",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # The statistical model has no SET response: only the drift overlay holds both.
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "pcm_gst_pulse_vs_pcm_nandakumar2019_compare_drift.png",
        "pcm_gst_pulse_vs_pcm_nandakumar2019_compare_set_pulses.png",
    ]
    for name in names:
        assert_png(tmp_path / name)


# --- the notebook ----------------------------------------------------------------------------

NOTEBOOK = REPO / "notebooks" / "09_device_fitting.py"


@pytest.mark.slow  # a fit and two digits runs: ~2 min on 2 cores
def test_notebook_fits_compares_and_runs_both_presets(tmp_path):
    out = run_notebook(NOTEBOOK, tmp_path)
    assert re.search(r"^fitted in [\d.]+ s, chi2 = [\d.]+ for \d+ dof$", out, re.M)
    # The 20 % weaker mean SET step of the lab device is found (within 3 sigma).
    si = r"([\d.]+) ([nµ])S"
    row = re.search(rf"^set_response\.mean_memory_S +{si} +{si} +{si} +{si}$", out, re.M)
    assert row, out
    true, fitted, sigma, shipped = (
        float(row[i]) * {"n": 1e-9, "µ": 1e-6}[row[i + 1]] for i in (1, 3, 5, 7)
    )
    assert true == pytest.approx(0.8 * shipped)
    assert abs(fitted - true) <= 3 * sigma
    preset = load_preset(tmp_path / "lab_device.yaml")
    assert preset.description.startswith("Fitted to lab_measurements.csv")
    table = re.findall(r"^(shipped|fitted) +(0\.\d{3}) +(\d+) +(\S+ [mµnpf]?J) +", out, re.M)
    assert [name for name, *_ in table] == ["shipped", "fitted"]
    for name in ("shipped", "fitted"):
        assert (tmp_path / f"softhebb_digits_{name}.h5").is_file()
    for name in ("lab_device_fit_set_curves.png", "shipped_vs_lab_compare_drift.png"):
        assert_png(tmp_path / name)
