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
# # Short-term STDP: recognising digits that move, on a PCM chip
#
# A network trained on static, centred digits meets them moving, rotating, changing size and
# swept by a bar. Short-term STDP (Moraitis, Sebastian & Eleftheriou 2020, arXiv:2009.06808)
# gives every synapse a fast term F beside its long-term weight W, so that its efficacy is
# G = W + F. Per time step dt, with x̄ the presynaptic trace and z the postsynaptic spikes,
#
#     F_{t+1} = λ_F (F_t + γ x̄_t ⊗ z_t),    λ_F = exp(−dt / τ_F):
#
# a neuron that fired for the last frames has its synapses from the pixels it saw
# strengthened for the next few frames (τ_F = 100 ms, five frames of 20 ms), and keeps
# recognising the digit while it transforms; F forgets by itself.
#
# This notebook runs the `ststdp` jobs of `examples/`: W is learned by SoftHebb on the chip's
# tiles from the static 8 × 8 scikit-learn digits; then a winner-take-all layer of LIF neurons
# reading W classifies every frame of transformed sequences, with W alone and with W + F,
# against an MLP trained by backprop on the same static images.
#
# 1. one transformed, occluded sequence of frames;
# 2. F over that sequence: the fast receptive field of the most active neuron, and which
#    neuron wins each frame with and without F;
# 3. accuracy per frame against the transformation speed (ideal tiles, F digital), ordered
#    frames and the shuffled control, in which consecutive frames are unrelated;
# 4. W on PCM tiles and F on volatile elements: accuracy, and energy per frame and per F
#    update.
#
# Environment variables: `MEMXBAR_NOTEBOOK_SMALL=1` runs both jobs on 300 training images, 20
# neurons and 20 six-frame sequences at speeds 0 and 4 (for the tests; the accuracies then
# mean little); `MEMXBAR_NOTEBOOK_OUT` is the folder for the run files and PNGs (default
# `notebooks/out`). The full size takes a few minutes on 2 CPU cores.

# %%
import dataclasses
import os
from pathlib import Path

import jax
import numpy as np
import yaml
from matplotlib.figure import Figure

from memxbar.algorithms.snn.engine import init_state, run_chunk
from memxbar.algorithms.snn.frames import assign_labels, frame_counts, frame_predictions
from memxbar.algorithms.snn.sources import RateCodedImages
from memxbar.crossbar import IdealTile
from memxbar.runtime.job import load_job
from memxbar.runtime.loop import run_job
from memxbar.runtime.report.plots import accuracy_vs_speed_axes
from memxbar.runtime.report.summary import format_summary

SMALL = os.environ.get("MEMXBAR_NOTEBOOK_SMALL", "0") == "1"
OUT = Path(os.environ.get("MEMXBAR_NOTEBOOK_OUT", "notebooks/out"))
OUT.mkdir(parents=True, exist_ok=True)
# Run from the repository root (the tests) or from notebooks/ (Jupyter).
REPO = Path.cwd() if (Path.cwd() / "examples").is_dir() else Path.cwd().parent
#: The small size (dotted keys of the job file), as tests/test_ststdp_jobs.py runs it.
SMALL_CHANGES = {
    "data.train_limit": 300,
    "data.test_limit": 60,
    "network.layers.0.out_features": 20,
    "neurons.count": 20,
    "training.epochs": 6,
    "training.chunk_steps": 9,
    "readout.epochs": 20,
    "sequences.n_sequences": 20,
    "sequences.frames": 6,
    "sequences.speeds": [0.0, 4.0],
    "coding.eval_batch": 20,
    "coding.steps_per_frame": 10,
    "baseline.max_iter": 30,
}


def job(name: str):
    """An example job; at the small size shortened and written out, so the run file records
    what actually ran."""
    path = REPO / "examples" / f"{name}.yaml"
    if SMALL:
        mapping = yaml.safe_load(path.read_text())
        for dotted, value in SMALL_CHANGES.items():
            *parents, last = dotted.split(".")
            node = mapping
            for part in parents:
                node = node[int(part)] if isinstance(node, list) else node[part]
            node[last] = value
        path = OUT / f"{name}_small.yaml"
        path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    return load_job(path)


def run(name: str):
    ststdp_job = job(name)
    record = run_job(ststdp_job, OUT / f"{name}.h5", overwrite=True, progress=not SMALL)
    return ststdp_job, record


def save(fig: Figure, name: str) -> Path:
    fig.tight_layout()
    path = OUT / name
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")
    return path


# %% [markdown]
# ## 1. A transformed, occluded sequence
#
# The ideal job runs first (SoftHebb training, then the whole sequence study; its results are
# in section 3). Its sequences come from the test images and the job's seed; here is the
# first sequence at speed 4 (or the fastest speed up to 4): the digit shifts by 1/8 of the
# side, turns by π/15 and changes log-size by 0.04 per frame, reflected at the bounds, while a
# one-pixel bar sweeps across the frame.

# %%
ideal_job, ideal = run("ststdp_digits_ideal")
experiment = ideal_job.experiment(seed=ideal_job.seed)
data, config, coding = experiment.rate.data, ideal_job.sequences, ideal_job.coding
side = int(round(np.sqrt(data.n_features)))
SPEED = max(s for s in config.speeds if s <= 4.0)
seqs = config.generate(data.x_test, data.y_test, speed=SPEED, seed=ideal_job.seed)
frames = seqs.frames[0].reshape(config.frames, -1)
true = seqs.labels[0]
T = config.frames
fig = Figure(figsize=(max(6.0, 0.85 * T), 1.9))
for k in range(T):
    ax = fig.add_subplot(1, T, k + 1)
    ax.imshow(frames[k].reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(f"{k}: '{true[k]}'", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(f"sequence 0 at speed {SPEED:g}: frame: label", fontsize=9)
save(fig, "ststdp_sequence.png")
print(f"sequence 0 at speed {SPEED:g}: {T} frames of a '{true[0]}'")

# %% [markdown]
# ## 2. F over the sequence
#
# The trained W is the run file's last weight snapshot (the final state; ideal tiles, so the
# exact weights the study read). The neurons are labelled as in the run: each by the class of
# the static training images that made it fire most (W alone, one frame each). Then the
# sequence runs twice with the same input spikes: W alone, and W + F with F recorded at the
# end of every frame. Both networks rest the neurons' potentials at each frame; only F
# carries over.

# %%
W = ideal.weights["hebbian"][-1]
rows, cols = W.shape
print(f"W: {rows} inputs x {cols} neurons")
tile = IdealTile.create(rows, cols, weights=W)
w_only = dataclasses.replace(experiment.network(fast=False), record_raster=True)
with_fast = dataclasses.replace(experiment.network(fast=True), record_fast=True, record_raster=True)
train_counts, _ = frame_counts(
    experiment.network(fast=False),
    tile,
    data.x_train[:, None, :],
    max_rate_Hz=coding.max_rate_Hz,
    key=jax.random.key(0),
    batch=coding.eval_batch,
)
labels = assign_labels(train_counts[:, 0], data.y_train, data.n_classes)
sources = RateCodedImages.create(
    frames, max_rate_Hz=coding.max_rate_Hz, steps_per_image=coding.steps_per_frame
)
key = jax.random.key(1)
traces = {}
for name, net, fast in (
    ("W alone", w_only, None),
    ("W + F", with_fast, experiment.fast_tile(key=jax.random.key(2))),
):
    state = init_state(net, rows, fast=fast)
    _, _, traces[name] = run_chunk(net, tile, sources, state, T, key=key)
counts = {name: np.asarray(t["post_counts"]) for name, t in traces.items()}
fast_weights = np.asarray(traces["W + F"]["fast"])  # (frames, inputs, neurons)
print(f"F recorded: {fast_weights.shape[0]} frames x {rows} x {cols}")
print(f"F largest: {fast_weights.max():.4f} (bound {ideal.final['fast_bound_weight']:.3f})")

# %% [markdown]
# Top: the long-term receptive field (W) of the neuron that fired most over the sequence with
# F, and its fast receptive field (F) at the end of a few frames: it grows from zero where
# the pixels it saw were on, and follows the digit as it moves. Bottom: the spikes of every
# neuron (rows sorted by their label), frame by frame, with W alone and with W + F; green
# dots are spikes of a neuron labelled with the true class.

# %%
star = int(np.argmax(counts["W + F"].sum(0)))
shown = np.unique(np.linspace(0, T - 1, min(T, 5)).round().astype(int))
fig = Figure(figsize=(11, 7.5))
grid = fig.add_gridspec(3, len(shown) + 1, height_ratios=[1.2, 1, 1])
ax = fig.add_subplot(grid[0, 0])
limit = float(np.abs(W[:, star]).max())
image = ax.imshow(W[:, star].reshape(side, side), cmap="RdBu_r", vmin=-limit, vmax=limit)
ax.set_title(f"W of neuron {star} ('{labels[star]}')", fontsize=9)
ax.set_xticks([])
ax.set_yticks([])
fig.colorbar(image, ax=ax, fraction=0.046)
f_max = max(float(fast_weights[:, :, star].max()), 1e-9)
for i, k in enumerate(shown):
    ax = fig.add_subplot(grid[0, i + 1])
    image = ax.imshow(
        fast_weights[k, :, star].reshape(side, side), cmap="magma", vmin=0, vmax=f_max
    )
    ax.set_title(f"F after frame {k}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(image, ax=ax, fraction=0.046)
order = np.argsort(labels, kind="stable")
rank = np.empty(cols, int)
rank[order] = np.arange(cols)
K = coding.steps_per_frame
for j, name in enumerate(("W alone", "W + F")):
    ax = fig.add_subplot(grid[j + 1, :])
    raster = np.asarray(traces[name]["raster"])
    steps, neurons = np.nonzero(raster)
    right = labels[neurons] == true[steps // K]
    for mask, colour in ((~right, "tab:red"), (right, "tab:green")):
        ax.scatter(steps[mask], rank[neurons[mask]], s=60, color=colour, marker="|", linewidths=1.5)
    for k in range(1, T):
        ax.axvline(k * K - 0.5, color="grey", lw=0.5)
    predicted = frame_predictions(counts[name], labels, data.n_classes)
    for k in range(T):
        ax.text((k + 0.5) * K, cols + 0.5, f"{predicted[k]}", ha="center", fontsize=8)
    ax.set_xlim(-0.5, T * K - 0.5)
    ax.set_ylim(-1, cols + 2)
    ax.set_ylabel("neuron (by label)")
    ax.set_title(f"{name}: spikes; class voted per frame above", fontsize=9)
ax.set_xlabel(f"time step ({coding.dt_s * 1e3:g} ms; {K} per frame)")
save(fig, "ststdp_fast_weights.png")

print("frame  label   winner W alone   winner W + F   (neuron 'its label', class voted)")
voted = {name: frame_predictions(counts[name], labels, data.n_classes) for name in counts}
for k in range(T):
    cells = []
    for name in ("W alone", "W + F"):
        c = counts[name][k]
        n = int(np.argmax(c))
        cells.append(f"{n:3d} '{labels[n]}' {voted[name][k]:2d}" if c.max() else "  - none   ")
    print(f"{k:5d}  {true[k]:5d}   {cells[0]:>14s}   {cells[1]:>12s}")
for name in ("W alone", "W + F"):
    print(f"{name:8s} frames right: {int(np.sum(voted[name] == true))} of {T}")

# %% [markdown]
# ## 3. Accuracy against speed (ideal tiles, F digital)
#
# Every frame of every sequence is classified by the vote of the neurons that fired in it
# (a frame without a spike of a labelled neuron counts as wrong). Solid lines: ordered
# frames; dashed: the shuffled control, the same frames pooled across sequences and
# shuffled, where F carries the wrong digit from frame to frame. The MLP classifies frame by
# frame, so its two curves coincide.

# %%
fig = Figure(figsize=(6.5, 4.2))
accuracy_vs_speed_axes(fig.add_subplot(), ideal)
save(fig, "ststdp_accuracy_vs_speed.png")


def accuracy_table(record, title: str) -> None:
    """The run file's accuracies per speed, as a table."""
    curves = record.curves
    print(title)
    print("speed    W alone      W+F      MLP   shuffled:  W alone      W+F      MLP")
    for i, speed in enumerate(curves["speed"]):
        ordered = [curves[f"accuracy_{n}"][i] for n in ("w", "wf", "mlp")]
        shuffled = [curves[f"accuracy_{n}_shuffled"][i] for n in ("w", "wf", "mlp")]
        print(
            f"{speed:5.1f}  "
            + "".join(f"{a:9.3f}" for a in ordered)
            + "            "
            + "".join(f"{a:9.3f}" for a in shuffled)
        )
    final = record.final
    print(
        f"mean advantage of W+F: ordered {final['mean_advantage_wf']:+.4f}, "
        f"shuffled {final['mean_advantage_wf_shuffled']:+.4f}"
    )


accuracy_table(ideal, "ideal tiles, F digital: accuracy per frame")

# %% [markdown]
# ## 4. W on PCM, F on volatile elements
#
# `ststdp_digits_pcm.yaml` learns W on PCM tiles (two devices per side of each differential
# synapse, program-and-verify, drift) and holds F on volatile elements that relax with τ_F
# by themselves (`VolatileDevice.default`): λ_F is the element's relaxation, γ a gain of the
# write drivers, and every step F is read with W and written where a neuron fired. The ideal
# tiles book no energy (they count operations only): the ideal job's energies are 0 J.
#
# Energy per frame: the W reads and F's reads and writes over every W + F frame; per static
# image: the W reads of one static test image (W alone); per F update: F's write energy per
# written synapse.

# %%
pcm_job, pcm = run("ststdp_digits_pcm")
accuracy_table(pcm, "W on PCM, F volatile: accuracy per frame")
print()
print(format_summary(pcm, pcm_job.name))

# %%
jobs = {"ideal": (ideal_job, ideal), "pcm": (pcm_job, pcm)}
rows_nJ = (
    ("energy per W+F frame", "energy_per_frame_J"),
    ("energy per static image (W)", "energy_per_static_image_J"),
)
print(f"{'':34s}{'ideal':>12s}{'pcm':>12s}")
for title, key in rows_nJ:
    values = [record.final[key] * 1e9 for _, record in jobs.values()]
    print(f"{title + ' (nJ)':34s}" + "".join(f"{v:12.4f}" for v in values))
values = [record.final["energy_per_fast_update_J"] * 1e12 for _, record in jobs.values()]
print(f"{'energy per F update (pJ)':34s}" + "".join(f"{v:12.4f}" for v in values))
per_frame = []
for ststdp_job, record in jobs.values():
    n_frames = 2 * len(ststdp_job.sequences.speeds) * ststdp_job.sequences.n_sequences
    per_frame.append(record.final["fast_update_events"] / (n_frames * ststdp_job.sequences.frames))
print(f"{'F update events per frame':34s}" + "".join(f"{v:12.1f}" for v in per_frame))

fig = Figure(figsize=(12, 4.2))
accuracy_vs_speed_axes(fig.add_subplot(1, 2, 1), pcm)
fig.axes[0].set_title("W on PCM, F volatile")
ax = fig.add_subplot(1, 2, 2)
final = pcm.final
bars = {
    "W + F frame": final["energy_per_frame_J"],
    "static image\n(W alone)": final["energy_per_static_image_J"],
    "one F update": final["energy_per_fast_update_J"],
    "F updates\nof a frame": final["energy_per_fast_update_J"] * per_frame[1],
}
ax.bar(list(bars), list(bars.values()), color=["C0", "C1", "C3", "C3"])
ax.set_yscale("log")
ax.set_ylabel("energy (J)")
ax.set_title("W on PCM, F volatile (ideal tiles: 0 J)")
for i, value in enumerate(bars.values()):
    ax.text(i, value, f"{value:.3g} J", ha="center", va="bottom", fontsize=8)
save(fig, "ststdp_pcm.png")

# %% [markdown]
# F costs a read of its own every step (one more MVM beside W's) and a volatile write per
# synapse of every neuron that fired, but no programming: the element forgets by itself,
# so there is no RESET and no refresh, and W on PCM is only read.
