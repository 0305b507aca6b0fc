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
# # Short-term plasticity neurons on a PCM chip with a volatile fast-weight tile
#
# The STPN (Garcia Rodriguez, Guo, Moraitis, ICML 2022) is a recurrent unit whose synapses
# carry a short-term state F beside the long-term weights W: every step F decays by λ, is
# divided by the norm of the neuron's synapses, and grows by γ times the Hebbian product of
# the neuron's output and its inputs. λ and γ are learned by backpropagation through time.
#
# On a chip, W belongs on non-volatile PCM and F on an element that forgets by itself. This
# notebook runs the jobs of `examples/` on the associative retrieval task (Ba et al. 2016:
# "a1b2c3??b" → 2):
#
# 1. the float STPN (H = 11) against an LSTM (H = 9) and a vanilla RNN (H = 20) of the same
#    ~2k parameters: validation accuracy per epoch;
# 2. the STPN trained hardware-aware, programmed onto PCM tiles with F on a volatile tile,
#    tested 1 h, 1 day and 30 days after programming, with and without drift compensation;
# 3. the energy per sequence step of the three cells on the same chip model, and the paper's
#    measure Σ|G|z²;
# 4. the learned decays λ against what the volatile element can realise.
#
# Environment variables: `MEMXBAR_NOTEBOOK_SMALL=1` runs every job on 2,048 sequences for
# 2 epochs (for the tests; the accuracies then mean little); `MEMXBAR_NOTEBOOK_OUT` is the
# folder for the run files and PNGs (default `notebooks/out`). The full size takes about
# 20 minutes on 2 CPU cores.

# %%
import os
from pathlib import Path

import numpy as np
import yaml
from matplotlib.figure import Figure

from memxbar.runtime.job import load_job
from memxbar.runtime.loop import run_job
from memxbar.runtime.report.comparison import format_comparison
from memxbar.runtime.report.summary import format_summary

SMALL = os.environ.get("MEMXBAR_NOTEBOOK_SMALL", "0") == "1"
OUT = Path(os.environ.get("MEMXBAR_NOTEBOOK_OUT", "notebooks/out"))
OUT.mkdir(parents=True, exist_ok=True)
EXAMPLES = Path("examples") if Path("examples").is_dir() else Path("../examples")
SMALL_SIZES = {"n_train": 2048, "n_validation": 1000, "n_test": 1000}


def run(name: str):
    """Run ``examples/<name>.yaml`` (at the small size when SMALL) into OUT."""
    path = EXAMPLES / f"{name}.yaml"
    if SMALL:
        mapping = yaml.safe_load(path.read_text())
        mapping["task"] = SMALL_SIZES
        mapping["training"]["epochs"] = 2
        path = OUT / f"{name}_small.yaml"
        path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    return run_job(load_job(path), OUT / f"{name}.h5", overwrite=True, progress=not SMALL)


# %% [markdown]
# ## 1. The float cells, parameter-matched
#
# Each job trains by BPTT (Adam 1e-3, batch 128, cross-entropy at the last step) and keeps
# the epoch of best validation accuracy, as the paper's convergence criterion does.

# %%
FLOAT = ("stpn_assoc_ideal", "lstm_assoc", "rnn_assoc")
records = {name: run(name) for name in FLOAT}
fig = Figure(figsize=(6, 4))
ax = fig.add_subplot()
for name, record in records.items():
    ax.plot(record.metric_steps, record.metrics["validation_accuracy"], marker=".", label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("validation accuracy")
ax.set_title("associative retrieval, ~2k parameters each")
ax.grid(alpha=0.3)
ax.legend()
fig.savefig(OUT / "assoc_validation.png", dpi=110)
for name, record in records.items():
    print(f"{name:18s} test accuracy {record.final['test_accuracy']:.4f}")

# %% [markdown]
# ## 2. The STPN on the chip
#
# W and the readout are programmed onto PCM tiles (program-and-verify, then the
# drift-compensation reference read at 1 s); λ becomes each volatile device's relaxation
# time constant τ = −Δt / ln λ (Δt = 1 ms per symbol), γ a gain of the write drivers. The
# norm of each neuron's synapses needs W and F every step: W from the controller's digital
# copy (read once after programming), F from a full read of the volatile tile.

# %%
PCM = ("stpn_assoc_pcm", "lstm_assoc_pcm", "rnn_assoc_pcm")
records |= {name: run(name) for name in PCM}
stpn = records["stpn_assoc_pcm"]
print(format_summary(stpn, "stpn_assoc_pcm"))
fig = Figure(figsize=(6, 4))
ax = fig.add_subplot()
for label, values in stpn.accuracy_vs_time.items():
    ax.semilogx(stpn.eval_times_s, values, marker="o", label=f"drift {label}")
ax.axhline(stpn.final["test_accuracy_trained"], color="grey", ls="--", label="as trained")
ax.set_xlabel("time after programming (s)")
ax.set_ylabel("test accuracy")
ax.set_title("STPN on PCM with a volatile fast-weight tile")
ax.grid(alpha=0.3, which="both")
ax.legend()
fig.savefig(OUT / "stpn_drift.png", dpi=110)

# %% [markdown]
# ## 3. Energy per sequence step on the same chip
#
# The measured figures come from the tiles' ledgers during one pass over the test set a day
# after programming: reads of W, F and the readout, DAC and ADC conversions, and the
# volatile writes of F. The paper's measure Σ|G|z² counts only the synaptic currents.

# %%
print(format_comparison([records[n] for n in (*FLOAT, *PCM)], [*FLOAT, *PCM]))
fig = Figure(figsize=(7, 4))
ax = fig.add_subplot()
categories = ("read", "set", "dac", "adc")
bottom = np.zeros(len(PCM))
steps = np.array([records[n].final["test_sequences"] * 9 for n in PCM])
for category in categories:
    values = np.array([records[n].energy[category][-1] for n in PCM]) / steps * 1e12
    ax.bar(PCM, values, bottom=bottom, label=category)
    bottom += values
ax.set_ylabel("energy per sequence step (pJ)")
ax.set_title("inference energy on pcm_256, by category")
ax.legend()
fig.savefig(OUT / "assoc_energy.png", dpi=110)

# %% [markdown]
# ## 4. What the volatile element can realise
#
# A decay λ per step of Δt needs τ = −Δt / ln λ within the element's range; training for
# the chip clips λ to it (the float STPN is free to learn λ > 1, i.e. growth).

# %%
job = load_job(EXAMPLES / "stpn_assoc_pcm.yaml")
low, high = job.decay_range()
fig = Figure(figsize=(6, 4))
ax = fig.add_subplot()
for name in ("stpn_assoc_ideal", "stpn_assoc_pcm"):
    ax.hist(records[name].weights["fast_decay"][-1].ravel(), bins=40, alpha=0.6, label=name)
ax.axvspan(low, high, color="green", alpha=0.1, label="realisable")
ax.set_xlabel("λ (decay per step)")
ax.set_ylabel("synapses")
ax.legend()
fig.savefig(OUT / "stpn_decays.png", dpi=110)
print(f"realisable λ: {low:.4f} … {high:.4f}")
