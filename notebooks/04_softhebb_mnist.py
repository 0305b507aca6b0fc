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
# # SoftHebb on MNIST on a PCM chip: accuracy, drift and energy
#
# The job `examples/softhebb_mnist_pcm.yaml` trains shallow SoftHebb at the paper's scale
# (784 inputs → 2000 neurons, 1/τ = 12, η₀ = 0.045, batch 32) on an emulated chip of PCM
# crossbar tiles (`pcm_256`: 32 tiles of 256 × 256 for this layer, pulse-level doped-GST
# devices in differential pairs, 8-bit DAC and ADC), on the 5,000-image MNIST training subset.
# A digital linear classifier on the features then classifies the 10,000 official test images.
#
# Then the chip is left alone: PCM conductances drift down as a power law of the time since
# their last write, so the test accuracy is measured again 1 s, 1 h, 1 day, 1 month and
# 1 year after the last update, with and without global drift compensation (one reference
# read per tile rescales its outputs). This notebook shows
#
# 1. test accuracy against time after training (the drift study);
# 2. the receptive fields the neurons learned, as a grid of 28 × 28 images;
# 3. where the energy of on-chip learning goes.
#
# Environment variables: `MEMXBAR_NOTEBOOK_SMALL=1` runs a small version (100 neurons, 320
# training and 300 test images, 1 epoch) for the tests; `MEMXBAR_NOTEBOOK_OUT` is the folder
# for the run file and the PNGs (default `notebooks/out`).
#
# Data: the MNIST files come from the folder in `MEMXBAR_DATA`, else from the per-user data
# folder that `memxbar data fetch mnist` fills (11 MB, checksums verified); run that command
# once before this notebook.

# %%
import os
from pathlib import Path

import numpy as np
import yaml

from memxbar.crossbar import ENERGY_CATEGORIES
from memxbar.runtime.data.mnist import mnist_folder
from memxbar.runtime.job import load_job
from memxbar.runtime.loop import run_job
from memxbar.runtime.report.plots import receptive_fields_figure, write_run_plots
from memxbar.runtime.report.summary import format_summary

SMALL = os.environ.get("MEMXBAR_NOTEBOOK_SMALL", "0") == "1"
OUT = Path(os.environ.get("MEMXBAR_NOTEBOOK_OUT", "notebooks/out"))
OUT.mkdir(parents=True, exist_ok=True)
# Run from the repository root (the tests) or from notebooks/ (Jupyter).
REPO = Path.cwd() if (Path.cwd() / "examples").is_dir() else Path.cwd().parent
try:
    DATA = str(mnist_folder(None))  # $MEMXBAR_DATA, else the folder `memxbar data fetch` fills
except ValueError as err:
    raise SystemExit(
        f"This notebook needs MNIST: run `memxbar data fetch mnist` once (or set MEMXBAR_DATA "
        f"to a folder holding the MNIST IDX files).\n{err}"
    ) from None
print(f"MNIST from {DATA}")
JOB_FILE = REPO / "examples" / "softhebb_mnist_pcm.yaml"
EVAL_TIMES_S = (1.0, 3600.0, 86400.0, 2.6e6, 3.15e7)  # 1 s, 1 h, 1 day, 1 month, 1 year

if SMALL:
    # The same job, smaller: written out, so the run file records what actually ran.
    mapping = yaml.safe_load(JOB_FILE.read_text())
    mapping["data"].update(train_limit=320, test_limit=300)
    mapping["network"]["layers"][0]["out_features"] = 100
    mapping["training"].update(epochs=1, chunk_steps=10, refresh_every_steps=10)
    JOB_FILE = OUT / "softhebb_mnist_pcm_small.yaml"
    JOB_FILE.write_text(yaml.safe_dump(mapping, sort_keys=False))

job = load_job(JOB_FILE)
layer = job.network.layers[0]
print(f"job {job.name}: {layer.in_features} inputs -> {layer.out_features} neurons")
print(f"chip {job.hardware.chip}, {job.hardware.tiles} tiles, {job.training.epochs} epochs")

# %% [markdown]
# ## Train on the chip, then let it drift

# %%
run_file = OUT / f"{job.name}.h5"
record = run_job(job, run_file, progress=not SMALL, eval_times_s=EVAL_TIMES_S, data_dir=DATA)
print(format_summary(record, job.name))

# %% [markdown]
# ## 1. Accuracy against time after the last update
#
# Without compensation every column current shrinks as the conductances drift, and because
# devices drift at different rates (ν depends on the conductance and varies from device to
# device) the features change shape, not only scale. Global compensation undoes the common
# part of the decay; what is left is the spread of drift exponents.

# %%
print(f"{'time after training':>22s} {'compensated':>12s} {'uncompensated':>14s}")
names = ("1 s", "1 hour", "1 day", "1 month", "1 year")
compensated = record.accuracy_vs_time["compensated"]
uncompensated = record.accuracy_vs_time["uncompensated"]
for name, a, b in zip(names, compensated, uncompensated, strict=True):
    print(f"{name:>22s} {a:12.4f} {b:14.4f}")
plots = write_run_plots(record, OUT, prefix="softhebb_mnist_")
for path in plots:
    print(f"wrote {path}")

# %% [markdown]
# ## 2. What the neurons learned
#
# Each neuron's 784 weights as a 28 × 28 image (from the programmed conductances at the end of
# training; red positive, blue negative; the inputs are centred, so fields are signed).
# Trained SoftHebb neurons look like digit prototypes: the soft winner-take-all makes each
# neuron specialise on one cluster of the training images.

# %%
weights = record.weights[layer.name][-1]  # (inputs, neurons), the final snapshot
fig = receptive_fields_figure(weights, (28, 28), max_neurons=100)
fields_path = OUT / "softhebb_mnist_receptive_fields.png"
fig.savefig(fields_path, dpi=90)
print(f"wrote {fields_path}")
fig  # noqa: B018 (the figure is the cell's output in Jupyter)

# %% [markdown]
# ## 3. Where the energy goes
#
# The ledger of every tile books device reads, SET and RESET pulses, DAC and ADC conversions
# and refreshes. During learning each step reads the array twice (the forward MVM of the
# batch and a weight read for the row norms), so the ADC dominates; the programming energy
# (SET, RESET, refresh) per synapse update that fired is E_update, the energy per synaptic
# update event (`memxbar --help` defines every energy figure).

# %%
final = {name: float(values[-1]) for name, values in record.energy.items() if len(values)}
total = final.get("total", 0.0)
for name in ENERGY_CATEGORIES:
    share = final.get(name, 0.0) / total if total > 0 else 0.0
    print(f"{name:>8s} {final.get(name, 0.0) * 1e6:12.3f} µJ {100 * share:6.1f} %")
attrs = record.energy_attrs
print(f"E_update     {attrs['per_synaptic_update_J'] * 1e12:.3g} pJ per synaptic update event")
print(f"E_inference  {attrs['per_inference_J'] * 1e9:.3g} nJ per test sample")
assert np.isfinite(total)
