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
# # SoftHebb on an emulated PCM chip
#
# Shallow SoftHebb (Moraitis et al. 2022; Journé et al. 2023) learns features without labels
# and without back-propagation: a layer of neurons computes u = W x, competes through a soft
# winner-take-all y = softmax(u / τ), and every weight changes by Δw_k = y_k (x − u_k w_k),
# a local Hebbian rule with a per-neuron rate that settles each weight vector on the unit
# sphere. Locality is what makes it a candidate for on-chip learning: the forward pass is a
# crossbar MVM, the update an outer product the array can apply in place.
#
# This notebook runs the job `examples/softhebb_digits_pcm.yaml`, as `memxbar run` does:
# 100 neurons learn on the 8×8 scikit-learn digits on a chip of PCM crossbar tiles
# (`pcm_256`: pulse-level doped-GST devices, differential pairs, 8-bit DAC and ADC), then a
# digital linear classifier on the Triangle features relu(u − mean u) measures how useful the
# features are. It shows
#
# 1. the compiler's placement of the layer onto the chip (mapping report);
# 2. the run: test accuracy, and the energy the chip spent per synaptic update, per inference
#    and per training sample, by category;
# 3. accuracy and energy over training, and the learned receptive fields.
#
# Environment variables: `MEMXBAR_NOTEBOOK_SMALL=1` runs 1 epoch on 256 training and 100 test
# samples (for the tests); `MEMXBAR_NOTEBOOK_OUT` is the folder for the run file and the PNGs
# (default `notebooks/out`).

# %%
import os
from pathlib import Path

import yaml

from memxbar.compiler import compile_network, mapping_report
from memxbar.crossbar import load_chip
from memxbar.runtime.job import load_job
from memxbar.runtime.loop import run_job
from memxbar.runtime.report.plots import receptive_fields_figure, write_run_plots
from memxbar.runtime.report.summary import format_summary

SMALL = os.environ.get("MEMXBAR_NOTEBOOK_SMALL", "0") == "1"
OUT = Path(os.environ.get("MEMXBAR_NOTEBOOK_OUT", "notebooks/out"))
OUT.mkdir(parents=True, exist_ok=True)
# Run from the repository root (the tests) or from notebooks/ (Jupyter).
REPO = Path.cwd() if (Path.cwd() / "examples").is_dir() else Path.cwd().parent
JOB_FILE = REPO / "examples" / "softhebb_digits_pcm.yaml"

if SMALL:
    # The same job on a subset: written out, so the run file records what actually ran.
    mapping = yaml.safe_load(JOB_FILE.read_text())
    mapping["data"].update(train_limit=256, test_limit=100)
    mapping["training"].update(epochs=1)
    JOB_FILE = OUT / "softhebb_digits_pcm_small.yaml"
    JOB_FILE.write_text(yaml.safe_dump(mapping, sort_keys=False))

job = load_job(JOB_FILE)
layer = job.network.layers[0]
print(f"job {job.name}: {layer.in_features} inputs -> {layer.out_features} neurons")
print(f"chip {job.hardware.chip}, {job.hardware.tiles} tiles, {job.training.epochs} epochs")

# %% [markdown]
# ## 1. Compile: where the layer goes on the chip
#
# The 64 × 100 weight matrix fits one 256 × 256 tile. The report's energies are the
# compiler's first-order estimates (stated assumptions); the run below measures them with the
# device and periphery models.

# %%
chip = load_chip(job.hardware.chip)
program = compile_network(job.network, chip)
print(mapping_report(program))

# %% [markdown]
# ## 2. Learn on the chip
#
# Every step is an MVM on the tile (DAC, drifting and noisy conductances, ADC), a booked read
# of the weights for the row norms, and an update the tile turns into stochastically rounded
# partial-SET pulses; devices near saturation are refreshed (RESET and re-programmed).
# Everything is booked in the tiles' energy ledgers.

# %%
run_file = OUT / f"{job.name}.h5"
record = run_job(job, run_file, progress=not SMALL)
print(format_summary(record, job.name))
print(f"\nrun file: {run_file}")

# %% [markdown]
# An energy per synaptic update is the programming energy of training (SET, RESET and
# refresh) divided by the number of synapse updates that fired at least one pulse. It is
# larger than one SET pulse of the mapping report because an update is usually several
# pulses and refreshes add their reads and re-programming.

# %%
plots = write_run_plots(record, OUT, prefix="softhebb_pcm_")
for path in plots:
    print(f"wrote {path}")

# %% [markdown]
# ## 3. What the neurons learned
#
# Each neuron's 64 weights drawn as an 8 × 8 image (read back from the programmed
# conductances at the end of training; red positive, blue negative). Trained neurons look
# like digit prototypes and strokes; the input images are centred (the training set's mean
# image subtracted), so the fields are signed.

# %%
weights = record.weights[layer.name][-1]  # (inputs, neurons), the final snapshot
fig = receptive_fields_figure(weights, (8, 8))
fields_path = OUT / "softhebb_pcm_receptive_fields.png"
fig.savefig(fields_path, dpi=110)
print(f"wrote {fields_path}")
fig  # noqa: B018 (the figure is the cell's output in Jupyter)
