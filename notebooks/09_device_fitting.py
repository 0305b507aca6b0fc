# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Your own device: fitting a preset to measured pulse data
#
# A hardware engineer who has measured a PCM device wants to know what it does to on-chip
# learning. This notebook goes from measurements to a preset and to a learning run:
#
# 1. **measurements**: conductance vs SET pulse number after a RESET, for many devices, read
#    three times per point and again at 10 s … 3 h after the last pulse (drift). Here they
#    are synthesised from a "lab device" (the shipped `pcm_gst_pulse` with a 20 % weaker SET
#    response and 30 % more drift), written to the CSV format that `memxbar devices fit`
#    reads (`device,pulse,G_uS,t_read_s,read_index`);
# 2. **fit**: the simulated method of moments of `memxbar.devices.fitting` recovers the
#    parameters the data determine, with uncertainties, and writes a strict preset;
# 3. **compare** the fitted preset with the shipped one (parameters and figures);
# 4. **learn**: the SoftHebb digits job on the chip with each device preset: accuracy and
#    energy.
#
# Environment variables: `MEMXBAR_NOTEBOOK_SMALL=1` measures 200 devices × 20 pulses and runs
# the digits job for 1 epoch on 256 training and 100 test samples (for the tests; the full
# size is 1000 devices × 50 pulses and 10 epochs); `MEMXBAR_NOTEBOOK_OUT` is the folder for
# the CSV, the presets, the figures and the run files (default `notebooks/out`).

# %%
import os
from pathlib import Path

import jax
import yaml

from memxbar.devices import load_preset
from memxbar.devices.fitting import (
    fit_device,
    read_measurements,
    standard_design,
    synthesize,
    write_measurements,
)
from memxbar.devices.fitting.compare import compare_rows
from memxbar.devices.fitting.parameters import value_of, with_values
from memxbar.devices.fitting.preset_writer import write_fitted_preset
from memxbar.hw_configs import format_si, preset_path
from memxbar.runtime.job import load_job
from memxbar.runtime.loop import run_job
from memxbar.runtime.report.device_fit_figures import write_compare_figures, write_fit_figures

SMALL = os.environ.get("MEMXBAR_NOTEBOOK_SMALL", "0") == "1"
OUT = Path(os.environ.get("MEMXBAR_NOTEBOOK_OUT", "notebooks/out"))
OUT.mkdir(parents=True, exist_ok=True)
# Run from the repository root (the tests) or from notebooks/ (Jupyter).
REPO = Path.cwd() if (Path.cwd() / "examples").is_dir() else Path.cwd().parent
N_DEVICES, N_PULSES = (200, 20) if SMALL else (1000, 50)
BASE = "pcm_gst_pulse"

shipped = load_preset(BASE)
# The "lab device": what the measurements come from (unknown to the fit).
CHANGES = {
    "set_response.mean_offset_S": 0.8,
    "set_response.mean_memory_S": 0.8,
    "drift.scale": 1.3,
}
lab = with_values(
    shipped, list(CHANGES), [float(value_of(shipped, f)) * x for f, x in CHANGES.items()]
)
design = standard_design(N_PULSES, reads=3, drift_times_s=(10.0, 100.0, 1000.0, 10000.0))
measured = synthesize(lab, design, N_DEVICES, key=jax.random.key(2024))
csv_path = write_measurements(OUT / "lab_measurements.csv", measured, comment="lab device")
print(f"{csv_path}: {N_DEVICES} devices, {design.describe()}")
print(csv_path.read_text().splitlines()[1:5])

# %% [markdown]
# ## 1. Fit
#
# The fit reads the CSV back (the strict reader: a bad line is an error naming the file, the
# line and the column), simulates 4× as many devices with the model's own pulse and read
# physics, and matches the mean and spread of the SET curve, the correlation of a device
# with itself from pulse to pulse, the spread of repeated reads (read noise) and the drift
# reads. Parameters the data cannot determine keep the base values, and the preset's comments
# say why.

# %%
data = read_measurements(csv_path)
fit = fit_device(data, shipped, key=jax.random.key(0))
print(f"fitted in {fit.seconds:.1f} s, chi2 = {fit.chi2:.1f} for {fit.dof} dof")
print(f"{'parameter':32s} {'lab (true)':>11s} {'fitted':>10s} {'± sigma':>10s} {'shipped':>10s}")
for field, base_value, value, sigma in fit.table():
    unit = "S" if field.endswith("_S") else ""
    true = float(value_of(lab, field))

    def show(v, unit=unit):
        return format_si(v, unit) if unit else f"{v:.4g}"

    print(
        f"{field:32s} {show(true):>11s} {show(value):>10s} {show(sigma):>10s} "
        f"{show(base_value):>10s}"
    )
for field, why in fit.kept.items():
    print(f"{field:32s} kept: {why}")

preset = write_fitted_preset(
    OUT / "lab_device.yaml", fit, preset_path("devices", BASE), base_name=BASE
)
fitted = load_preset(preset)  # the strict loader
print(f"\nwrote {preset}")
print("\n".join(preset.read_text().splitlines()[:12]))

# %% [markdown]
# The fit's figures: measured SET curves (mean ± std over devices) against devices simulated
# with the fitted and with the shipped preset, the drift after the last pulse, and the read
# noise of repeated reads against conductance.

# %%
for path in write_fit_figures(data, fit, OUT, prefix="lab_device_"):
    print(f"wrote {path}")

# %% [markdown]
# ## 2. Compare with the shipped preset
#
# `memxbar devices compare pcm_gst_pulse lab_device.yaml` prints every parameter side by
# side; here only the ones that differ. The overlay shows what the differences do: a slower
# SET response and faster drift.

# %%
for key, a, b, differs in compare_rows(shipped, fitted):
    if differs:
        print(f"* {key:34s} {a:>14s} {b:>14s}")
models = {"pcm_gst_pulse": shipped, "lab_device": fitted}
for path in write_compare_figures(models, OUT, prefix="shipped_vs_lab_", n_devices=500):
    print(f"wrote {path}")

# %% [markdown]
# ## 3. What the device does to SoftHebb on the chip
#
# The digits job (`examples/softhebb_digits_pcm.yaml`) runs twice on the `pcm_256` chip,
# once with the shipped device preset and once with the fitted one (the job only names the
# file: `hardware.chip_overrides: {device_preset: lab_device.yaml}`). Smaller SET steps mean
# more pulses per weight change, so more programming energy per update.

# %%
job_text = (REPO / "examples" / "softhebb_digits_pcm.yaml").read_text()
results = {}
for name, device in (("shipped", BASE), ("fitted", str(preset))):
    mapping = yaml.safe_load(job_text)
    mapping["name"] = f"softhebb_digits_{name}"
    mapping["hardware"]["chip_overrides"] = {"device_preset": device}
    if SMALL:
        mapping["data"].update(train_limit=256, test_limit=100)
        mapping["training"].update(epochs=1)
    else:
        mapping["training"].update(epochs=10)
    job_file = OUT / f"softhebb_digits_{name}.yaml"
    job_file.write_text(yaml.safe_dump(mapping, sort_keys=False))
    run_file = OUT / f"softhebb_digits_{name}.h5"
    run_file.unlink(missing_ok=True)
    record = run_job(load_job(job_file), run_file, progress=not SMALL)
    results[name] = record

print(f"{'device':8s} {'accuracy':>8s} {'SET pulses':>10s} {'E/update':>10s} {'E/sample':>10s}")
for name, record in results.items():
    energy = record.energy_attrs
    print(
        f"{name:8s} {record.final['test_accuracy']:8.3f} {int(record.final['set_pulses']):10d} "
        f"{format_si(energy['per_synaptic_update_J'], 'J'):>10s} "
        f"{format_si(energy['per_sample_J'], 'J'):>10s}"
    )
