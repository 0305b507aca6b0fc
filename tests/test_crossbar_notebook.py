"""The crossbar notebook and the helpers it is written on (runtime/report/crossbar_figures.py)."""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest
from support import PREFIXES, REPO, approx, assert_png, run_notebook

from memxbar.algorithms import delta_rule
from memxbar.crossbar import ENERGY_CATEGORIES, PCMTile, load_chip
from memxbar.devices import load_preset
from memxbar.runtime.report import crossbar_figures as cf

NOTEBOOK = REPO / "notebooks" / "02_crossbar.py"
DAY_S = 86400.0
YEAR_S = 365.25 * DAY_S
ROWS, COLS = 32, 16
create = jax.jit(PCMTile.create, static_argnames=("rows", "cols"))


# --- the notebook ------------------------------------------------------------------------------


@pytest.mark.slow  # a whole notebook run (12 s on 2 cores): -m slow
def test_notebook_runs_and_writes_figures(tmp_path):
    out = run_notebook(NOTEBOOK, tmp_path)
    assert "tile 64 x 16" in out  # the small configuration
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(cf.FIGURE_FILES.values())
    for name in cf.FIGURE_FILES.values():
        assert_png(tmp_path / name)
    # Error summary: without compensation the 1-day error is larger than with it.
    one_day = {
        label: float(re.search(rf"^{label} .*1 day ([\d.]+) %", out, re.M).group(1))
        for label in cf.COMPENSATION_LABELS.values()
    }
    assert one_day["no drift compensation"] > one_day["global drift compensation"]
    # The ledger of the training sequence (20 steps of batch 8, refresh every 10 steps).
    counts = {k: float(v) for k, v in re.findall(r"^(\w+) +([\d.e+]+)$", out, re.M)}
    assert counts["mvm_vectors"] == 20 * 8
    assert counts["update_calls"] == 20
    assert counts["set_pulses"] > 0 and counts["device_reads"] > 0
    energies = {
        k: float(v) * PREFIXES[p]
        for k, v, p in re.findall(r"^(\w+) +([\d.]+) (\w?)J +[\d.]+%$", out, re.M)
    }
    assert set(energies) == {*ENERGY_CATEGORIES, "total"}
    for category in ("read", "set", "dac", "adc"):
        assert energies[category] > 0.0, category
    parts = sum(energies[k] for k in ENERGY_CATEGORIES)
    assert energies["total"] == approx(parts, rel=1e-3)  # 4 significant digits
    # The delta rule learns on the linearised device (the error falls by ~40 % in 20 steps),
    # while the real device's noisy first pulses keep its error from falling.
    losses = {
        name: tuple(map(float, m))
        for name, *m in re.findall(
            r"^(real PCM|linearised device) +mean squared output error +([\d.]+) .*-> +([\d.]+)",
            out,
            re.M,
        )
    }
    assert set(losses) == {"real PCM", "linearised device"}
    first, last = losses["linearised device"]
    assert last < 0.8 * first


# --- the helpers -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def programmed():
    chip = load_chip("pcm_256")
    k_w, k_tile, k_x = jax.random.split(jax.random.key(7), 3)
    weights = delta_rule.uniform_weights(ROWS, COLS, key=k_w)
    tile = create(chip, key=k_tile, rows=ROWS, cols=COLS, weights=weights)
    x = jax.random.uniform(k_x, (64, ROWS), minval=-1.0, maxval=1.0)
    return tile, x, weights


def test_error_times_span_one_second_to_one_year():
    times = cf.error_times_s(7)
    assert times[0] == approx(1.0) and times[-1] == approx(YEAR_S)
    np.testing.assert_allclose(np.diff(np.log(times)), np.log(YEAR_S) / 6)
    with pytest.raises(ValueError, match="n_times"):
        cf.error_times_s(1)


def test_weights_are_uniform_in_plus_minus_w_max():
    w = np.asarray(delta_rule.uniform_weights(200, 50, 0.5, key=jax.random.key(0)))
    assert w.shape == (200, 50) and w.dtype == np.float32
    assert np.all(np.abs(w) <= 0.5)
    # Uniform in ±0.5: mean 0 ± 0.29/100 (SE of 10^4 draws), variance 1/12 of the width².
    assert abs(w.mean()) < 0.015 and w.var() == approx(1 / 12, rel=0.05)


def test_drift_compensation_keeps_the_one_day_error_down(programmed):
    tile, x, weights = programmed
    times = np.array([1.0, 3600.0, DAY_S, YEAR_S])
    curves = cf.drift_error_curves(tile, x, times, weights=weights, key=jax.random.key(8))
    off = curves[cf.COMPENSATION_LABELS[False]]
    on = curves[cf.COMPENSATION_LABELS[True]]
    assert off.shape == on.shape == (4,)
    # At 1 s the drift factor is ~(21/20)^−ν ≈ 0.997, so both are the programming-time error
    # (~16 %, see tests/test_tiles.py); the reads are the same, only α differs.
    assert 0.08 < off[0] < 0.3
    assert on[0] == approx(off[0], rel=0.1)
    # After a day drift has shrunk the outputs by ~40 %: the uncompensated error has grown
    # well past the compensated one, and keeps growing to a year.
    assert off[2] > 1.5 * off[0]
    assert off[2] > 1.3 * on[2]
    assert off[3] > off[2] > off[1]
    assert on[3] < off[3]
    # The helper itself: same key, same numbers; the reference is x @ W.
    again = cf.mvm_error_vs_time(tile, x, times, weights=weights, key=jax.random.key(8))
    np.testing.assert_array_equal(again, on)
    figure = cf.plot_error_vs_time(times, curves)
    assert [line.get_label() for line in figure.axes[0].get_lines()] == list(curves)


def test_linearised_device_adds_exactly_one_step_per_pulse():
    model = load_preset("pcm_gst_pulse")
    linear = cf.linearised_device(model, 0.6e-6)
    state = linear.init((64,), key=jax.random.key(11))
    after = linear.set_pulses(state, 3, 0.0, key=jax.random.key(12))
    gained = np.asarray(after.g_prog_S, np.float64) - np.asarray(state.g_prog_S, np.float64)
    np.testing.assert_allclose(gained, 3 * 0.6e-6, rtol=1e-5)
    # The real model's three pulses from RESET give ~1.8 + 1.5 + 1.3 µS with a wide spread.
    real = model.set_pulses(
        model.init((64,), key=jax.random.key(11)), 3, 0.0, key=jax.random.key(12)
    )
    assert np.std(np.asarray(real.g_prog_S)) > 0.5e-6
    # Drift, read and programming noise stay those of the model.
    assert linear.drift == model.drift and linear.read_noise == model.read_noise
    with pytest.raises(ValueError, match="pulse-level"):
        cf.linearised_device(load_preset("pcm_nandakumar2019"), 0.6e-6)


def test_training_sequence_checks_its_arguments():
    # (The sequence itself runs in the notebook test above: its ledger is checked there.)
    tile = create(load_chip("pcm_256"), key=jax.random.key(9), rows=ROWS, cols=COLS)
    for bad in ({"steps": 0}, {"batch": 0}, {"refresh_every": 0}):
        kwargs = {"steps": 4, "batch": 2, "refresh_every": 2, **bad}
        with pytest.raises(ValueError, match="must be ≥ 1"):
            delta_rule.delta_rule_sequence(tile, key=jax.random.key(0), **kwargs)
    figure = cf.plot_energy_breakdown(tile.ledger, title="empty")
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == list(ENERGY_CATEGORIES)


def test_figures_are_written_where_asked(tmp_path):
    out = cf.make_output_dir(tmp_path / "a" / "b")
    assert out.is_dir()
    figure = cf.plot_error_vs_time(np.array([1.0, 10.0]), {"x": np.array([0.1, 0.2])})
    path = cf.save_figure(figure, out / "f.png")
    assert_png(path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError, match="cannot create output folder"):
        cf.make_output_dir(blocker / "sub")
