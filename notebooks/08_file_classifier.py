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
# # A spiking file classifier on a PCM chip
#
# Stanojevic, Cherubini, Moraitis et al. (2020) classify files from their metadata with a
# spiking network: every key–value of a file (owner, group, permission bits, directory names,
# size, age, depth) becomes a few input spikes of a *correlative time code*, so that files
# that share key–values give overlapping spike patterns; one layer of LIF neurons with
# memristive synapses learns the classes, and is compared with logistic regression and a
# linear SVM on the same key–values.
#
# 1. scan a directory tree (`memxbar files scan`): what the classifier sees, and the label
#    (the content type read from the first bytes of each file, never a feature);
# 2. the code: spike rasters of two similar files and two different ones, and their overlap;
# 3. the supervised classifier (target spike pattern per class) on ideal tiles, against the
#    baselines: confusion matrix;
# 4. the same on PCM tiles: accuracy, energy per classified and per training file, and the
#    ingest stream in which a subtree never seen in training arrives halfway.
#
# Data: the tree in `MEMXBAR_FILES_TREE` (default `/usr`, or this Python installation where
# there is no `/usr`), or an existing scan in `MEMXBAR_FILES_CSV`. `MEMXBAR_NOTEBOOK_SMALL=1`
# scans this Python installation and keeps 3,000 files and 3 epochs (for the tests; the
# numbers then mean little); `MEMXBAR_NOTEBOOK_OUT` is the folder for the files written
# (default `notebooks/out`). A tree of ~70,000 files takes a few minutes on 2 CPU cores.

# %%
import collections
import os
import sys
from pathlib import Path

import numpy as np
import yaml
from matplotlib.figure import Figure

from memxbar.runtime.data.file_code import overlap
from memxbar.runtime.data.file_scan import read_scan_csv, scan_tree, write_scan_csv
from memxbar.runtime.files_data import load_files
from memxbar.runtime.job import job_from_text
from memxbar.runtime.loop import run_job
from memxbar.runtime.report.files_plots import confusion_axes, stream_axes
from memxbar.runtime.report.summary import format_summary

SMALL = os.environ.get("MEMXBAR_NOTEBOOK_SMALL", "0") == "1"
OUT = Path(os.environ.get("MEMXBAR_NOTEBOOK_OUT", "notebooks/out"))
OUT.mkdir(parents=True, exist_ok=True)
# Run from the repository root (the tests) or from notebooks/ (Jupyter).
REPO = Path.cwd() if (Path.cwd() / "examples").is_dir() else Path.cwd().parent

# %% [markdown]
# ## 1. The scan
#
# Every regular file and symlink of the tree becomes a row: relative path, size, mode, owner,
# group, links, modification time, and the content type from its first bytes. Symlinks are
# recorded, never followed; unreadable entries are skipped and counted.

# %%
if os.environ.get("MEMXBAR_FILES_CSV"):
    csv_path = Path(os.environ["MEMXBAR_FILES_CSV"])
else:
    default_tree = "/usr" if Path("/usr").is_dir() and not SMALL else sys.prefix
    tree = Path(os.environ.get("MEMXBAR_FILES_TREE", default_tree))
    scan = scan_tree(tree, progress=not SMALL)
    csv_path = OUT / "files.csv"
    write_scan_csv(csv_path, scan)
    print(
        f"scanned {tree}: {len(scan.rows)} files; skipped: {scan.unreadable} unreadable, "
        f"{scan.special} special"
    )
rows = read_scan_csv(csv_path)
classes = collections.Counter(r["content_type"] for r in rows)
print(f"{len(rows)} files in {csv_path.name}; content types:")
for name, count in classes.most_common():
    print(f"  {name:14s} {count:>7d}")

# %% [markdown]
# ## 2. The correlative time code
#
# Each key owns 32 input neurons. A nominal value (an owner, a directory name) is hashed to
# four (neuron, time step) events of its key's group; an ordinal value (log size, log age,
# depth) fires the neurons whose preferred values are near it, later the farther they are.
# Files that share key–values share events. Below, two files of the same folder and type,
# and two files that share little.

# %%
job_text = (REPO / "examples" / "files_snn_ideal.yaml").read_text()
job_text = job_text.replace("csv: files.csv.gz", f"csv: {csv_path.resolve()}")
job_mapping = yaml.safe_load(job_text)
if SMALL:
    job_mapping["data"]["max_files"] = 3000
    job_mapping["training"]["epochs"] = 3
    job_mapping["training"]["files_per_chunk"] = 1000
    job_mapping["stream"] = None  # a Python installation may lack the example's subtree
elif not any(r["path"].startswith(job_mapping["stream"]["new_subtree"] + "/") for r in rows):
    job_mapping["stream"] = None
ideal_yaml = OUT / "files_snn_ideal.yaml"
ideal_yaml.write_text(yaml.safe_dump(job_mapping, sort_keys=False))
job = job_from_text(ideal_yaml.read_text(), str(ideal_yaml))
data = load_files(job)
labels, paths = data.files.labels, np.array(data.paths)


def pair_of_similar_files():
    """Two files of the same type in the same folder (the first such pair)."""
    seen = {}
    for i, p in enumerate(paths):
        key = (p.rsplit("/", 1)[0], labels[i])
        if key in seen:
            return seen[key], i
        seen[key] = i
    return 0, 1


def pair_of_different_files(avoid):
    """Two files of different types under different top-level folders, neither of type
    ``avoid`` (the first such pair)."""
    top = np.array([p.split("/", 1)[0] for p in paths])
    c = int(np.flatnonzero(labels != avoid)[0])
    others = np.flatnonzero((labels != avoid) & (labels != labels[c]) & (top != top[c]))
    if len(others) == 0:  # a tree with one top-level folder
        others = np.flatnonzero((labels != avoid) & (labels != labels[c]))
    return c, int(others[0])


a, b = pair_of_similar_files()
c, d = pair_of_different_files(labels[a])
chosen = [a, b, c, d]
fig = Figure(figsize=(12, 3.2))
for k, i in enumerate(chosen):
    ax = fig.add_subplot(1, 4, k + 1)
    events = np.array(data.patterns[i])
    ax.scatter(events[:, 1], events[:, 0], s=6, color="C0" if k < 2 else "C3")
    for g in range(1, len(data.code.keys)):
        ax.axhline(g * data.code.neurons_per_key, color="0.85", lw=0.5)
    ax.set_xlim(-0.5, data.code.steps - 0.5)
    ax.set_ylim(0, data.code.n_inputs)
    ax.set_xlabel("time step")
    if k == 0:
        ax.set_ylabel("input neuron (one band per key)")
    ax.set_title(f"{data.files.classes[labels[i]]}: …{paths[i][-28:]}", fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "files_rasters.png", dpi=110)
print(
    f"code: {len(data.code.keys)} keys x {data.code.neurons_per_key} neurons = "
    f"{data.code.n_inputs} inputs, {data.code.steps} steps per file"
)
for name, (i, j) in (("similar", (a, b)), ("different", (c, d))):
    shared = overlap(data.patterns[i], data.patterns[j])
    print(
        f"{name:9s} files: {len(data.patterns[i])} and {len(data.patterns[j])} events, "
        f"{shared} shared"
    )

# %% [markdown]
# ## 3. Supervised learning on ideal tiles
#
# One LIF neuron per class; the target pattern of a file is its class's neuron firing at the
# last step of its 20 ms presentation and every other neuron silent. The error between the
# output and the target spikes trains the synapses (ReSuMe, Ponulak & Kasiński 2010). A
# file's class is the neuron that fires most (ties: the one that came closest to its
# threshold). Logistic regression and a linear SVM learn from the same key–values, one-hot, on
# the same split.

# %%
ideal = run_job(job, OUT / "files_snn_ideal.h5", progress=not SMALL, overwrite=True)
print(format_summary(ideal, "files_snn_ideal"))
fig = Figure(figsize=(6.5, 5.5))
confusion_axes(fig.add_subplot(), ideal)
fig.tight_layout()
fig.savefig(OUT / "files_confusion.png", dpi=110)

# %% [markdown]
# ## 4. On PCM tiles
#
# The same network on differential pairs of the pulse-level PCM model, two devices per side,
# 8-bit DACs and ADCs. Each file's spikes are read through the crossbar (the energy per
# classified file); the changes accumulate in a digital accumulator per synapse and a synapse
# is written, by SET pulses, once it owes six nominal pulses (the energy per training file adds
# the writes and refreshes to the reads).

# %%
pcm_mapping = yaml.safe_load((REPO / "examples" / "files_snn_pcm.yaml").read_text())
for section in ("data", "training", "stream"):
    pcm_mapping[section] = job_mapping[section]
pcm_yaml = OUT / "files_snn_pcm.yaml"
pcm_yaml.write_text(yaml.safe_dump(pcm_mapping, sort_keys=False))
pcm = run_job(
    job_from_text(pcm_yaml.read_text(), str(pcm_yaml)),
    OUT / "files_snn_pcm.h5",
    progress=not SMALL,
    overwrite=True,
)
print(f"{'':28s} {'ideal':>10s} {'PCM':>10s}")
for key in ("test_accuracy", "logreg_accuracy", "svm_accuracy", "majority_accuracy"):
    print(f"{key:28s} {ideal.final[key]:>10.4f} {pcm.final[key]:>10.4f}")
for key in ("energy_per_classified_file_J", "energy_per_training_file_J"):
    print(
        f"{key.replace('_J', ' (nJ)'):28s} {ideal.final[key] * 1e9:>10.4f} "
        f"{pcm.final[key] * 1e9:>10.4f}"
    )

fig = Figure(figsize=(12, 4))
confusion_axes(fig.add_subplot(1, 2, 1), pcm)
if "stream_new_subtree" in pcm.curves:
    stream_axes(fig.add_subplot(1, 2, 2), pcm)
fig.tight_layout()
fig.savefig(OUT / "files_pcm.png", dpi=110)
