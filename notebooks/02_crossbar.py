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
# # A PCM crossbar tile: accuracy over time and energy
#
# A `PCMTile` stores each weight as a differential pair of phase-change devices,
# w = w_scale (G⁺ − G⁻), and computes y = x W in the analogue domain: a DAC turns the inputs
# into read voltages, the devices' conductances (drifting, with 1/f read noise) weight them,
# the bit lines sum the currents, and an ADC digitises the outputs. This notebook uses the
# shipped chip preset `pcm_256` (8-bit DAC and ADC, pulse-level doped-GST devices,
# `hw_configs/chips/pcm_256.yaml`) and shows
#
# 1. how the MVM error grows from 1 s to 1 year after programming, with and without
#    global drift compensation (a reference read of the tile's total conductance rescales
#    the outputs, as in Joshi et al., Nat. Commun. 2020);
# 2. where the energy of a training-like sequence (MVMs, pulse updates, refreshes) goes.
#
# All numbers come from `memxbar.runtime.report.crossbar_figures`. Environment variables:
# `MEMXBAR_NOTEBOOK_SMALL=1` uses a small tile and few steps (for the tests);
# `MEMXBAR_NOTEBOOK_OUT` is the folder the PNGs go to (default `notebooks/out`).

# %%
import os
from pathlib import Path

import jax
import numpy as np

from memxbar.algorithms import delta_rule
from memxbar.crossbar import PCMTile, load_chip
from memxbar.runtime.report import crossbar_figures as cf

SMALL = os.environ.get("MEMXBAR_NOTEBOOK_SMALL", "0") == "1"
OUT = cf.make_output_dir(Path(os.environ.get("MEMXBAR_NOTEBOOK_OUT", "notebooks/out")))
ROWS, COLS = (64, 16) if SMALL else (256, 64)
BATCH = 32 if SMALL else 256
N_TIMES = 10 if SMALL else 25
STEPS, TRAIN_BATCH, REFRESH_EVERY = (20, 8, 10) if SMALL else (200, 32, 50)

chip = load_chip("pcm_256")
create = jax.jit(PCMTile.create, static_argnames=("rows", "cols", "w_max"))
k_w, k_tile, k_x, k_read, k_fresh, k_train = jax.random.split(jax.random.key(0), 6)
print(chip.description)
print(f"tile {ROWS} x {COLS}, {BATCH} input vectors per read, figures in {OUT}/")

# %% [markdown]
# ## 1. MVM error after programming
#
# The tile is programmed (program-and-verify, with programming noise) to weights drawn
# uniformly in ±w_max = ±1 at t = 0 s, then read at times from 1 s to 1 year with inputs
# uniform in ±1. Right after programming the error is set by programming noise, 1/f read
# noise and the converters (about 16 %, dominated by the devices, see `tests/test_tiles.py`
# for the derivation). Drift then shrinks every conductance by ((t + t0)/t0)^(−ν) with
# ν ≈ 0.05–0.1 per device: without compensation the outputs shrink with it. The global
# compensation divides by the drift of the total conductance, which removes the common
# shrink; what remains grows slowly because ν differs from device to device and the 1/f
# noise keeps accumulating.

# %%
weights = delta_rule.uniform_weights(ROWS, COLS, key=k_w)
tile = create(chip, key=k_tile, rows=ROWS, cols=COLS, weights=weights)
x = jax.random.uniform(k_x, (BATCH, ROWS), minval=-1.0, maxval=1.0)
times = cf.error_times_s(N_TIMES)
curves = cf.drift_error_curves(tile, x, times, weights=weights, key=k_read)

marks = {"1 s": 0, "1 day": int(np.argmin(np.abs(times - 86400.0))), "1 year": -1}
for label, errors in curves.items():
    summary = ", ".join(f"{name} {100 * errors[i]:.1f} %" for name, i in marks.items())
    print(f"{label:26s} {summary}")
figure = cf.plot_error_vs_time(
    times, curves, title=f"pcm_256 tile {ROWS}x{COLS}, weights uniform in ±1, 8-bit DAC/ADC"
)
cf.save_figure(figure, OUT / cf.FIGURE_FILES["mvm_error_vs_time"])
figure  # noqa: B018 (Jupyter shows the last value of a cell)

# %% [markdown]
# ## 2. Energy of a training-like sequence
#
# A fresh tile (all devices RESET) learns a random teacher with a delta rule: every step
# reads a batch through the tile (MVM: read, DAC and ADC energy), forms the output error and
# applies the outer-product update with `update_outer` (SET pulses on G⁺ or G⁻, stochastic
# rounding), and every few steps a refresh re-programs the synapses that have a device
# above 90 % of the weight range (reads, RESETs and program-and-verify, all booked under
# `refresh`). The tile's `EnergyLedger` books every joule.

# %%
fresh = create(chip, key=k_fresh, rows=ROWS, cols=COLS)
run = delta_rule.delta_rule_sequence(
    fresh, steps=STEPS, batch=TRAIN_BATCH, refresh_every=REFRESH_EVERY, key=k_train
)
ledger = run.tile.ledger
print(f"{STEPS} steps of batch {TRAIN_BATCH}, {run.refreshes} refreshes")
print(ledger.table())
figure = cf.plot_energy_breakdown(
    ledger, title=f"{STEPS} training steps on a pcm_256 tile {ROWS}x{COLS}"
)
cf.save_figure(figure, OUT / cf.FIGURE_FILES["energy_breakdown"])
figure  # noqa: B018 (Jupyter shows the last value of a cell)

# %% [markdown]
# Per input vector a forward read costs V_read² t_read Σ_i v_i² Σ_j (G⁺_ij + G⁻_ij): it
# grows with rows × cols and with the conductance the updates have built up (about 0.05 pJ
# per device at 5 µS), while the ADC costs 2.56 pJ per output and the DAC 0.1 pJ per
# input. So device reads dominate a 256 × 64 tile (32 768 devices per vector against 64
# conversions) and the ADC dominates the small 64 × 16 tile of the quick run. Programming
# energy (SET pulses of the updates, RESETs and program-and-verify of the refreshes) is
# spent only where the learning rule asks for pulses.
#
# What did the rule learn? The same sequence on a linearised device, whose every pulse adds
# exactly the nominal 0.6 µS, shows what the pulse scheme could do; the real doped-GST
# response (first pulses after a RESET about three times the nominal step, increments as
# noisy as they are large and shrinking towards saturation; Nandakumar et al., JAP 2018)
# keeps the error near where it started. This is why PCM learning chips add multi-device
# synapses or accumulate small updates digitally before they fire a pulse.

# %%
linear = create(
    chip,
    key=k_fresh,
    rows=ROWS,
    cols=COLS,
    device=cf.linearised_device(fresh.device, chip.update.pulse_step_S),
)
linear_run = delta_rule.delta_rule_sequence(
    linear, steps=STEPS, batch=TRAIN_BATCH, refresh_every=REFRESH_EVERY, key=k_train
)
window = max(STEPS // 10, 1)
for name, result in (("real PCM", run), ("linearised device", linear_run)):
    print(
        f"{name:18s} mean squared output error {result.losses[:window].mean():6.3f} "
        f"(first {window} steps) -> {result.losses[-window:].mean():6.3f} (last {window}); "
        f"{1e9 * float(result.tile.ledger.total_J):.1f} nJ"
    )

# %%
print("\n".join(sorted(p.name for p in OUT.glob("*.png"))))
