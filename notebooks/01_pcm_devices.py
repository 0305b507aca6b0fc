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
# # PCM devices: what the two shipped presets do
#
# memxbar ships two phase-change-memory (PCM) device presets (YAML files in
# `hw_configs/devices/`):
#
# - **`pcm_nandakumar2019`** — the *statistical* model fitted on IBM's one-million-device
#   doped-GST array (Nandakumar et al., ICECS 2019; the model in aihwkit's
#   `PCMLikeNoiseModel`). Devices are written by program-and-verify to a target conductance
#   and then drift and read noisily. It is the model for inference with programmed weights.
# - **`pcm_gst_pulse`** — the *pulse-level* model (Nandakumar et al., J. Appl. Phys. 2018)
#   for on-chip learning: every SET pulse crystallises the cell a little more (cumulative,
#   saturating, stochastic), a RESET melt-quenches it back near 0 µS in one shot. Drift and
#   read noise are those of the statistical model.
#
# This notebook draws, for both presets, the figures that `memxbar devices plot` writes:
# conductance vs SET pulse number, drift from 1 s to 10 years, and programming and read noise
# vs target conductance. All numbers come from `memxbar.runtime.report.device_figures`, the same
# code the CLI runs. Units: conductances in µS on the plots (S inside the code), times in s.
#
# Environment variables: `MEMXBAR_NOTEBOOK_SMALL=1` simulates 200 instead of 2000 devices
# per curve (for the tests); `MEMXBAR_NOTEBOOK_OUT` is the folder the PNGs go to (default
# `notebooks/out`, relative to the working directory), one subfolder per preset.

# %%
import os
from pathlib import Path

import jax
import numpy as np

from memxbar.devices import load_preset
from memxbar.runtime.report import device_figures as df

SMALL = os.environ.get("MEMXBAR_NOTEBOOK_SMALL", "0") == "1"
N_DEVICES = 200 if SMALL else 2000
OUT = Path(os.environ.get("MEMXBAR_NOTEBOOK_OUT", "notebooks/out"))
PRESETS = ("pcm_gst_pulse", "pcm_nandakumar2019")
uS = 1e-6  # S per µS

models = {name: load_preset(name) for name in PRESETS}
out_dirs = {name: df.make_output_dir(OUT / name) for name in PRESETS}
k_set, k_drift, k_noise = jax.random.split(jax.random.key(0), 3)


def saved(fig, preset, figure):
    """Write ``fig`` to OUT/<preset>/<figure file>.png and return it (Jupyter shows it)."""
    df.save_figure(fig, out_dirs[preset] / df.FIGURE_FILES[figure])
    return fig


for name, model in models.items():
    print(f"{name:20s} {type(model).__name__:15s} g_max = {model.g_max_S / uS:g} µS")
    print(f"{'':20s} {model.description}")
print(f"{N_DEVICES} devices per curve, figures in {OUT}/<preset>/")

# %% [markdown]
# ## 1. Cumulative partial SET (pulse-level model only)
#
# Starting from RESET, each SET pulse adds an increment ΔG ~ N(μ, σ) with
# μ = 0.880 − 0.084 G + 1.40 P and σ = 0.260 + 0.091 G + 2.15 P (µS), where the "pulse
# memory" P decays by e^(−1/2.6) per pulse. The first pulses therefore move the cell most and
# the response saturates near 10.5 µS: the JAP 2018 model gives a mean of 7.8 µS after 10
# pulses, 9.4 µS after 20, and a median of 17 pulses to first reach 10 µS. The preset adds
# 20 % device-to-device spread of the step size (as aihwkit's PCM preset), which widens the
# band and lowers the mean slightly. The statistical model has no pulse response.

# %%
pulse_model = models["pcm_gst_pulse"]
g_set = df.set_pulse_curves(pulse_model, N_DEVICES, 40, key=k_set)
to_10uS = df.pulses_to_reach(g_set, 10 * uS)
print(f"mean after 10 pulses: {g_set[10].mean() / uS:.2f} µS (JAP 2018 model: 7.8 µS)")
print(f"mean after 20 pulses: {g_set[20].mean() / uS:.2f} µS (JAP 2018 model: 9.4 µS)")
print(f"median pulses to first reach 10 µS: {np.median(to_10uS):g} (JAP 2018 model: 17)")
for name, model in models.items():
    print(f"{name}: pulse-level SET response: {df.supports_set_pulses(model)}")
saved(df.plot_set_pulses(pulse_model, g_set), "pcm_gst_pulse", "set_pulses")

# %% [markdown]
# ## 2. Drift
#
# After a write the amorphous phase relaxes and the conductance decays as a power law,
# g(t) = g_prog ((t + t0)/t0)^(−ν) with t0 = 20 s. Each device draws its exponent ν once,
# from a distribution whose mean (0.05–0.1) is larger for small conductances, so low targets
# lose a larger fraction. On top, every read carries fresh 1/f noise. The curves show the
# mean and the 5–95 % band of reads of devices programmed to 2, 5, 10, 15 and 20 µS at
# t = 0 s.

# %%
times = df.drift_times_s()


def drift_figure(name):
    """Simulate, summarise and save the drift figure of preset ``name``; return the Figure."""
    model = models[name]
    targets = df.drift_targets_S(model)
    g_drift = df.drift_curves(model, targets, times, N_DEVICES, key=k_drift)
    for target, mean in zip(targets, g_drift.mean(axis=2), strict=True):
        print(
            f"{name}: target {target / uS:4.0f} µS -> mean {mean[0] / uS:5.2f} µS at 1 s, "
            f"{mean[-1] / uS:5.2f} µS after 10 years ({mean[-1] / mean[0]:.0%})"
        )
    return saved(df.plot_drift(model, targets, times, g_drift), name, "drift")


drift_figure("pcm_gst_pulse")

# %%
drift_figure("pcm_nandakumar2019")

# %% [markdown]
# ## 3. Programming noise and read noise
#
# Program-and-verify stops within a conductance-dependent error: the programmed value is
# g_T + N(0, σ_p) with σ_p = 0.26348 + 1.9650 g − 1.1731 g² µS (g = g_T / 25 µS). The black
# markers measure it over the simulated devices and the line is the formula. For the
# pulse-level preset the measured spread rises above the formula near 25 µS: each device has
# its own g_max (10 % spread), and targets above it are clipped there.
#
# Read noise is 1/f noise accumulated since the write: relative std
# Q_s(g) · sqrt(ln((t + t_read)/(2 t_read))), t_read = 250 ns. The squares measure one read
# minus the device's noiseless drifted conductance at 1 s, 1 h and 1 day; the dashed lines are
# the formula for the same devices. The noise in µS shrinks over time because the drift
# lowers the conductance faster than the 1/f factor grows.


# %%
def noise_figure(name):
    """Measure, summarise and save the noise figure of preset ``name``; return the Figure."""
    model = models[name]
    stats = df.noise_vs_target(model, df.noise_targets_S(model), n_devices=N_DEVICES, key=k_noise)
    i = len(stats.targets_S) // 2
    print(
        f"{name}: at {stats.targets_S[i] / uS:.1f} µS programming std "
        f"{stats.prog_std_S[i] / uS:.3f} µS (formula {stats.prog_std_formula_S[i] / uS:.3f} µS), "
        f"read std at 1 s {stats.read_std_S[0, i] / uS:.3f} µS "
        f"(formula {stats.read_std_expected_S[0, i] / uS:.3f} µS)"
    )
    return saved(df.plot_noise_vs_target(model, stats), name, "noise_vs_target")


noise_figure("pcm_gst_pulse")

# %%
noise_figure("pcm_nandakumar2019")

# %% [markdown]
# ## 4. The same figures from the command line
#
# `memxbar devices plot pcm_gst_pulse -o figures/` writes `set_pulses.png`, `drift.png` and
# `noise_vs_target.png` with the helpers used above (`write_device_figures`); for the
# statistical preset there is no `set_pulses.png`. `memxbar devices show <preset>` prints
# every parameter with its unit.

# %%
written = sorted(p.relative_to(OUT).as_posix() for p in OUT.glob("*/*.png"))
print("\n".join(written))
