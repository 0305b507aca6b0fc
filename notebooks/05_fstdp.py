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
# # Fatiguing STDP on PCM synapses
#
# Plain STDP strengthens a synapse each time its input fires shortly before the neuron does.
# An input that fires often takes part in more such pairings, so STDP ends up following the
# inputs' *rates* and misses a *timing* code carried by a few slow inputs that fire together.
# Fatiguing STDP (FSTDP, Moraitis et al., IJCNN 2017) gives every synapse a short-term fatigue
# e: a presynaptic spike is transmitted with efficacy e and then uses up a fraction U of it,
# which recovers with τ_f; the STDP change of that spike is scaled by e too. A fast input is
# then more fatigued, its effective rate r / (1 + U r τ_f) hardly depends on r, and what is
# left for learning is the timing.
#
# This notebook runs the jobs of `examples/` on an emulated chip of PCM crossbar tiles
# (`pcm_256`: doped-GST devices with noisy partial-SET pulses, differential pairs, DAC and ADC):
#
# 1. the synthetic benchmark: one neuron, 20 inputs at 10 Hz correlated through a common
#    "mother" train (copy probability 0.25), 80 uncorrelated inputs at 10–50 Hz; FSTDP
#    (`fstdp_pcm.yaml`) against plain STDP (`stdp_pcm.yaml`): weight trajectories coloured by
#    group and rate, the input and output spikes;
# 2. the energy of on-chip learning, per synaptic update event and per simulated second;
# 3. the "weather" workload: four groups of stations at 5–40 Hz driven by their own latent
#    rain events, four winner-take-all neurons (`fstdp_weather_pcm.yaml` against
#    `stdp_weather_pcm.yaml`): which neuron learns which group.
#
# Environment variables: `MEMXBAR_NOTEBOOK_SMALL=1` runs every job for a few simulated
# seconds (for the tests; the scores then mean little); `MEMXBAR_NOTEBOOK_OUT` is the folder
# for the run files and PNGs (default `notebooks/out`).

# %%
import os
from pathlib import Path

import jax
import numpy as np
import yaml
from matplotlib.figure import Figure

from memxbar.crossbar import ENERGY_CATEGORIES
from memxbar.runtime.job import load_job
from memxbar.runtime.loop import run_job
from memxbar.runtime.report.plots import group_colours, raster_axes, weight_trajectories_axes
from memxbar.runtime.report.summary import format_summary
from memxbar.runtime.spiking_experiment import build_sources
from memxbar.runtime.spiking_job import LAYER

SMALL = os.environ.get("MEMXBAR_NOTEBOOK_SMALL", "0") == "1"
OUT = Path(os.environ.get("MEMXBAR_NOTEBOOK_OUT", "notebooks/out"))
OUT.mkdir(parents=True, exist_ok=True)
# Run from the repository root (the tests) or from notebooks/ (Jupyter).
REPO = Path.cwd() if (Path.cwd() / "examples").is_dir() else Path.cwd().parent


def job(name: str):
    """An example job; at the small size shortened and written out, so the run file records
    what actually ran."""
    path = REPO / "examples" / name
    if SMALL:
        mapping = yaml.safe_load(path.read_text())
        mapping["simulation"].update(duration_s=4.0, chunk_s=2.0, record_every_s=0.5)
        path = OUT / name.replace(".yaml", "_small.yaml")
        path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    return load_job(path)


def run(name: str):
    spiking_job = job(name)
    record = run_job(spiking_job, OUT / f"{spiking_job.name}.h5", progress=not SMALL)
    return spiking_job, record


def save(fig: Figure, name: str) -> Path:
    fig.tight_layout()
    path = OUT / name
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")
    return path


# %% [markdown]
# ## 1. The synthetic benchmark: STDP follows the rates, FSTDP the timing
#
# Both runs use the same inputs, neuron model, pair terms and PCM tiles (two devices per side
# of each differential synapse; potentiation is partial-SET pulses on G+, depression on G−).
# Only the fatigue differs, and the neuron's gain, set so that both see the same mean drive.

# %%
fstdp_job, fstdp = run("fstdp_pcm.yaml")
stdp_job, stdp = run("stdp_pcm.yaml")
for name, record in (("FSTDP", fstdp), ("STDP", stdp)):
    final = record.final
    print(
        f"{name:6s} AUC {final['auc']:.3f}   flatness {final['flatness']:.3f}   "
        f"output rate {final['post_rate_Hz']:.1f} Hz"
    )

# %% [markdown]
# AUC is the probability that a correlated synapse ends above an uncorrelated one (1: the
# timing code found, 0.5: chance); flatness is the ratio of the largest to the smallest mean
# uncorrelated weight across the four rates (1: rates ignored). Thin lines are single
# synapses, thick lines the mean of a group; red is the correlated group, the others go from
# dark (10 Hz) to light (50 Hz).

# %%
fig = Figure(figsize=(12, 4.2))
for i, (name, spiking_job, record) in enumerate(
    (("plain STDP", stdp_job, stdp), ("FSTDP", fstdp_job, fstdp))
):
    ax = fig.add_subplot(1, 2, i + 1)
    title = f"{name}: AUC {record.final['auc']:.3f}, flatness {record.final['flatness']:.3f}"
    weight_trajectories_axes(
        ax, record.metrics["time_s"], record.weights[LAYER], spiking_job.layout, title=title
    )
fig.axes[0].legend(fontsize=7, loc="lower left")
save(fig, "fstdp_vs_stdp_weights.png")
fig  # noqa: B018 (the figure is the cell's output in Jupyter)

# %% [markdown]
# ## The spikes
#
# The inputs of the benchmark for one second, drawn from the job's spike source (rows
# coloured by group: the correlated inputs at the bottom fire together when their mother
# fires), and the neuron's output spikes over the last seconds of the FSTDP run.

# %%
layout = fstdp_job.layout
sources = build_sources(fstdp_job, key=jax.random.key(0))
spikes = np.asarray(sources.sample(0, 1000, fstdp_job.simulation.dt_s, key=jax.random.key(1)))
colours = group_colours(layout.rates_Hz, layout.target)
fig = Figure(figsize=(10, 6))
ax = fig.add_subplot(2, 1, 1)
steps, inputs = np.nonzero(spikes)
ax.scatter(
    steps * 1e-3,
    inputs,
    s=3,
    marker="|",
    c=[colours[g] for g in layout.group[inputs]],
    linewidths=0.8,
)
ax.set_xlabel("time (s)")
ax.set_ylabel("input")
ax.set_title("input spikes: correlated group (red), then 10, 20, 35, 50 Hz")
ax = fig.add_subplot(2, 1, 2)
end = float(fstdp.metrics["time_s"][-1])
raster_axes(
    ax, fstdp.raster["time_s"], fstdp.raster["neuron"], 1, window_s=(max(0.0, end - 2.0), end)
)
ax.set_title(f"output spikes of the FSTDP neuron ({fstdp.final['post_rate_Hz']:.1f} Hz)")
save(fig, "fstdp_raster.png")
print(f"input spikes in this second: {int(spikes.sum())} ({spikes.sum() / 100:.1f} Hz per input)")

# %% [markdown]
# ## 2. What learning costs on the chip
#
# Every step the spikes are read through the array (a spike is a read pulse on its word
# line, the neuron's current one ADC conversion per column); every 100 ms the controller
# reads all weights; accumulated changes are written as SET pulses once they are worth one
# pulse, and saturated pairs are refreshed. An update event is a synapse that received at
# least one pulse; E_update, the energy per update event, counts the programming (SET, RESET,
# refresh); E_second is all learning energy per simulated second (`memxbar --help` defines them).

# %%
print(format_summary(fstdp, fstdp_job.name))

# %%
categories = ENERGY_CATEGORIES
fig = Figure(figsize=(9, 4))
ax = fig.add_subplot(1, 2, 1)
width = 0.38
x = np.arange(len(categories))
for i, (name, record) in enumerate((("FSTDP", fstdp), ("STDP", stdp))):
    per_second = [record.energy[k][-1] / record.final["duration_s"] * 1e9 for k in categories]
    ax.bar(x + (i - 0.5) * width, per_second, width, label=name)
ax.set_xticks(x, categories)
ax.set_ylabel("energy per simulated second (nJ)")
ax.legend()
ax.set_title("learning energy by category")
ax = fig.add_subplot(1, 2, 2)
names = ("FSTDP", "STDP")
per_update = [r.energy_attrs["per_synaptic_update_J"] * 1e12 for r in (fstdp, stdp)]
events = [r.final["update_events"] for r in (fstdp, stdp)]
ax.bar(names, per_update, color=["tab:blue", "tab:orange"])
for i, n in enumerate(events):
    ax.text(i, per_update[i], f"{n:.0f} events", ha="center", va="bottom", fontsize=8)
ax.set_ylabel("E_update: energy per synaptic update event (pJ)")
ax.set_title("programming per update event")
save(fig, "fstdp_energy.png")
for name, record in (("FSTDP", fstdp), ("STDP", stdp)):
    attrs = record.energy_attrs
    print(
        f"{name:6s} E_update {attrs['per_synaptic_update_J'] * 1e12:8.2f} pJ per update event   "
        f"E_second {attrs['per_simulated_second_J'] * 1e9:8.2f} nJ per simulated second"
    )

# %% [markdown]
# The ADC dominates: the neuron's current is digitised every millisecond, and every weight
# read digitises all 100 synapses. Plain STDP writes far more often than FSTDP: its weights
# keep moving with the fast inputs.
#
# ## 3. The weather workload: one group per neuron
#
# Four groups of 20 stations fire at 5, 10, 20 and 40 Hz between rain events; during an
# event of its group (3 per second, 20 ms each) a station fires at 8× its background rate.
# Four neurons compete (winner-take-all with lateral inhibition). The selectivity matrix is
# the mean weight of every neuron on every group; NMI is the normalised mutual information
# between the stations' groups and the neuron that weights each station most.

# %%
weather_job, weather = run("fstdp_weather_pcm.yaml")
control_job, control = run("stdp_weather_pcm.yaml")
layout = weather_job.layout
fig = Figure(figsize=(10, 3.8))
for i, (name, record) in enumerate((("FSTDP + WTA", weather), ("STDP + WTA", control))):
    ax = fig.add_subplot(1, 2, i + 1)
    matrix = np.stack([record.metrics[f"mean_weight_{n}"][-1] for n in layout.names], axis=1)
    image = ax.imshow(matrix, cmap="magma", vmin=0, vmax=max(0.6, matrix.max()))
    labels = [f"{n}\n{r:g} Hz" for n, r in zip(layout.names, layout.rates_Hz, strict=True)]
    ax.set_xticks(range(layout.n_groups), labels)
    ax.set_yticks(range(matrix.shape[0]))
    ax.set_ylabel("neuron")
    final = record.final
    ax.set_title(f"{name}: NMI {final['nmi']:.2f}, {final['groups_learned']:.0f} groups learned")
    fig.colorbar(image, ax=ax, label="mean weight")
save(fig, "weather_selectivity.png")
for name, record in (("FSTDP", weather), ("STDP", control)):
    rates = record.metrics["spike_counts"].sum(0) / record.final["duration_s"]
    print(
        f"{name:6s} NMI {record.final['nmi']:.3f}   groups learned "
        f"{record.final['groups_learned']:.0f} of {layout.n_groups}   output rates "
        + " ".join(f"{r:.1f}" for r in rates)
        + " Hz"
    )

# %% [markdown]
# Plain STDP lets one neuron take the busiest group (its rates win every competition) and
# leaves the others silent; FSTDP hands each group's rain events to its own neuron.
