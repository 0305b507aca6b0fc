"""Energy figures are defined once, and every ledger category's joules are its counted
operations times the preset's energy per operation (reads: V²·G·t per device read).

Tile operations run on a quiet device (no drift, read or programming noise, no variation), so
every conductance a read sees is the stored one and each expected energy is a hand formula.
The run-level checks of the same rule are in tests/test_runtime.py (a PCM digits job) and
tests/test_spiking_jobs.py (spiking jobs, RESET-and-reprogram depression included).
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import approx, quiet

from memxbar.crossbar import (
    CATEGORY_COUNTERS,
    COUNTERS,
    ENERGY_CATEGORIES,
    ENERGY_FIGURES,
    EnergyLedger,
    PCMTile,
    figure,
    figures_of_kind,
    figures_table,
    load_chip,
)
from memxbar.devices import load_preset

uS = 1e-6
R, C, N = 4, 3, 2  # rows, cols, devices per side


_BASE = load_chip("pcm_256")
CHIP = dataclasses.replace(
    _BASE,
    tile=dataclasses.replace(_BASE.tile, devices_per_side=N),
    periphery=dataclasses.replace(_BASE.periphery, wire_resistance_Ohm=0.0, output_noise=0.0),
    update=dataclasses.replace(_BASE.update, scheme="deterministic"),
)
MODEL = quiet(load_preset("pcm_gst_pulse"))
# The numbers of the presets (hw_configs/chips/pcm_256.yaml, devices/pcm_gst_pulse.yaml),
# written out so that the expected energies do not come from the code under test.
V, T_READ = 0.2, 250e-9  # read voltage (V) and read pulse (s)
E_SET, E_RESET = 2e-12, 20e-12  # per SET and per RESET pulse (J)
E_DAC, E_ADC = 0.1e-12, 2.56e-12  # per DAC and per ADC conversion (J)
ITERATIONS = 10  # SET + verify iterations of one program-and-verify
G_W = 8e-6  # the conductance of |w| = w_max = 1 (S)


def read_J(g_S) -> float:
    """V²·G·t_read summed over device reads of conductances ``g_S`` (S), float64."""
    return V**2 * T_READ * float(np.sum(np.asarray(g_S, np.float64)))


def zeroed(tile: PCMTile) -> PCMTile:
    return eqx.tree_at(lambda s: s.ledger, tile, EnergyLedger.zeros())


def g_of(tile: PCMTile) -> np.ndarray:
    return np.asarray(tile.devices.g_prog_S, np.float64)


def assert_operations_pay(ledger: EnergyLedger, *, read_J_expected: float, refresh_read_J=0.0):
    """Each category's joules = its counted operations × energy per operation."""
    got = ledger.values()
    assert got["set"] == approx(got["set_pulses"] * E_SET)
    assert got["reset"] == approx(got["reset_pulses"] * E_RESET)
    assert got["dac"] == approx(got["dac_conversions"] * E_DAC)
    assert got["adc"] == approx(got["adc_conversions"] * E_ADC)
    assert got["read"] == approx(read_J_expected)
    refresh = (
        got["refresh_set_pulses"] * E_SET
        + got["refresh_reset_pulses"] * E_RESET
        + got["refresh_adc_conversions"] * E_ADC
        + refresh_read_J
    )
    assert got["refresh"] == approx(refresh)
    # A category is paid for iff it counted operations.
    for category, counters in CATEGORY_COUNTERS.items():
        assert (got[category] > 0) == any(got[c] > 0 for c in counters), category


W0 = np.array(
    [[0.5, -0.25, 0.0], [0.75, 0.1, -0.6], [-0.3, 0.0, 0.4], [0.2, -0.8, 0.05]], np.float32
)


def targets_of(W) -> np.ndarray:
    """(2, N, R, C) program-and-verify targets of weights W: |W|·g_w on each device of the
    holding side (w = (ΣG+ − ΣG−) / (N g_w))."""
    W = np.asarray(W, np.float64)
    pair = np.stack([np.maximum(W, 0.0), np.maximum(-W, 0.0)]) * G_W
    return np.broadcast_to(pair[:, None], (2, N, R, C))


@pytest.fixture(scope="module")
def programmed():
    tile = PCMTile.create(CHIP, key=jax.random.key(0), rows=R, cols=C, device=MODEL)
    return tile.program_weights(jnp.asarray(W0), 0.0, key=jax.random.key(1))


# --- the definitions ---------------------------------------------------------------------------


def test_each_figure_is_defined_once_with_a_formula_over_ledger_categories():
    names = [f.name for f in ENERGY_FIGURES]
    assert len(set(names)) == len(names)
    assert {f.run_attr for f in ENERGY_FIGURES if f.run_attr} == {
        "per_synaptic_update_J",
        "per_inference_J",
        "per_sample_J",
        "per_simulated_second_J",
        "per_synaptic_event_J",
        "per_sequence_step_J",
        "per_sequence_J",
    }
    for f in ENERGY_FIGURES:
        assert set(f.categories) <= set(ENERGY_CATEGORIES)
        assert figure(f.name) is f
    assert figure("E_update").formula == "(set + reset + refresh) / update_events"
    assert figure("E_inference").formula == "(read + dac + adc) / test samples"
    assert figure("E_sample").formula == "total / training samples"
    assert [f.name for f in figures_of_kind("rate")] == ["E_update", "E_inference", "E_sample"]
    assert [f.name for f in figures_of_kind("spiking")] == ["E_update", "E_second", "E_syn_event"]
    assert [f.name for f in figures_of_kind("recurrent")] == ["E_update", "E_step", "E_sequence"]
    assert figure("E_step").formula == "total / (test sequences x steps)"
    assert [f.name for f in ENERGY_FIGURES if f.estimated] == ["E_update", "E_inference"]
    with pytest.raises(ValueError, match="no energy figure 'E_heat'.*E_update"):
        figure("E_heat")


def test_figure_values_follow_the_formula():
    energies = {"read": 1.0, "set": 2.0, "reset": 4.0, "dac": 8.0, "adc": 16.0, "refresh": 32.0}
    assert figure("E_update").value(energies, 2.0) == 19.0
    assert figure("E_inference").value(energies, 5.0) == 5.0
    assert figure("E_sample").value(energies, 3.0) == 21.0
    assert figure("E_update").value(energies, 0.0) == 0.0  # nothing to divide by
    # The ledger's own per-event figures are the same definitions.
    ledger = EnergyLedger.zeros().add(**energies, update_events=2.0, mvm_vectors=5.0)
    assert float(ledger.per_update_event_J) == approx(19.0)
    assert float(ledger.per_mvm_J) == approx(5.0)


def test_figures_table_lists_every_figure_within_78_columns():
    table = figures_table()
    for f in ENERGY_FIGURES:
        assert f"{f.name}  " in table and f"= {f.formula}" in table
    assert max(len(line) for line in table.splitlines()) <= 78


def test_readme_has_the_energy_figures_table():
    from support import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Energy figures", 1)[1].split("\n## ", 1)[0]
    for f in ENERGY_FIGURES:
        assert f"| `{f.name}` | {f.meaning} | `{f.formula}` |" in section, f.name


# --- joules = operations × energy per operation, per category, on a tile -----------------------


def test_program_weights(programmed):
    tile = PCMTile.create(CHIP, key=jax.random.key(0), rows=R, cols=C, device=MODEL)
    L = zeroed(tile).program_weights(jnp.asarray(W0), 0.0, key=jax.random.key(1)).ledger
    devices = 2 * N * R * C
    c = L.values()
    assert c["reset_pulses"] == devices
    assert c["set_pulses"] == c["device_reads"] - devices == ITERATIONS * devices
    assert (c["dac_conversions"], c["adc_conversions"]) == (R, 2 * C)  # the calibration
    np.testing.assert_allclose(g_of(programmed), targets_of(W0), rtol=1e-6, atol=1e-12)
    # Verify reads at the targets, then the calibration reads every device.
    expected = ITERATIONS * read_J(targets_of(W0)) + read_J(g_of(programmed))
    assert_operations_pay(L, read_J_expected=expected)


def dac(x):
    """The 8-bit DAC of pcm_256: round(clip(x, ±1) · 127) / 127."""
    return np.round(np.clip(np.asarray(x, np.float64), -1, 1) * 127) / 127


@pytest.mark.parametrize("transpose", [False, True])
def test_mvm_with_drift_compensation(programmed, transpose):
    x = np.array([[0.5, -1.0, 0.0, 0.3], [0.25, 0.75, -0.6, 1.0]], np.float32)
    if transpose:
        x = x[:, :C]
        _, after = zeroed(programmed).mvm_t(jnp.asarray(x), 10.0, key=jax.random.key(2))
    else:
        _, after = zeroed(programmed).mvm(jnp.asarray(x), 10.0, key=jax.random.key(2))
    g = g_of(programmed)
    line_totals = g.sum(axis=(0, 1, 3)) if not transpose else g.sum(axis=(0, 1, 2))
    v = dac(x)
    driven = int(np.count_nonzero(v))
    n_out = R if transpose else C
    c = after.ledger.values()
    assert c["device_reads"] == driven * 2 * N * n_out + g.size  # + the reference read
    assert c["dac_conversions"] == driven + R
    assert c["adc_conversions"] == 2 * n_out + 2 * C
    # A driven line reads its devices at V·v: V²v²·G·t each.
    expected = V**2 * T_READ * float(np.sum(v**2 @ line_totals)) + read_J(g)
    assert_operations_pay(after.ledger, read_J_expected=expected)


def test_update_and_read_weights(programmed):
    dw = float(programmed.dw_pulse)
    n = np.array([[2, 0, -1], [0, 3, 1], [0, 0, 0], [-1, 0, 4]])
    updated = zeroed(programmed).update(
        jnp.asarray(n * dw, jnp.float32), 1.0, key=jax.random.key(3)
    )
    c = updated.ledger.values()
    assert c["set_pulses"] == np.abs(n).sum() and c["update_events"] == np.count_nonzero(n)
    assert_operations_pay(updated.ledger, read_J_expected=0.0)

    _, after = zeroed(programmed).read_weights(20.0, key=jax.random.key(4))
    g = g_of(programmed)
    c = after.ledger.values()
    assert c["device_reads"] == 2 * g.size and c["weight_reads"] == 1
    assert (c["dac_conversions"], c["adc_conversions"]) == (2 * R, R * C + 2 * C)
    assert_operations_pay(after.ledger, read_J_expected=2 * read_J(g))


def with_conductances(tile: PCMTile, g_S) -> PCMTile:
    """``tile`` with its devices (2, N, R, C) at ``g_S`` (S); its cached read view is stale (a
    refresh reads the devices themselves)."""
    return eqx.tree_at(lambda s: s.devices.g_prog_S, tile, jnp.asarray(g_S, jnp.float32))


def test_refresh_counts_its_operations_apart_and_pays_for_them(programmed):
    # Synapses of row 0: G+ past the threshold (0.9 g_w) with G− holding conductance →
    # refreshed; the rest stay below it.
    g = np.zeros((2, N, R, C))
    g[0], g[1] = 3.0 * uS, 0.5 * uS
    g[0, :, 0, :], g[1, :, 0, :] = 7.5 * uS, 2.0 * uS
    hot = with_conductances(programmed, g)
    after = zeroed(hot).refresh(30.0, key=jax.random.key(5))
    refreshed = C
    c = after.ledger.values()
    assert c["refreshes"] == refreshed
    for counter in ("device_reads", "set_pulses", "reset_pulses", "adc_conversions"):
        assert c[counter] == 0.0, counter
    written = refreshed * N  # the G+ devices get the difference back
    assert c["refresh_reset_pulses"] == refreshed * 2 * N
    assert c["refresh_set_pulses"] == written * ITERATIONS
    assert c["refresh_device_reads"] == g.size + written * ITERATIONS
    assert c["refresh_adc_conversions"] == R * C
    # Reads: every device once, then the verify reads at the target N·(7.5 − 2.0) µS / N.
    reads = read_J(g) + ITERATIONS * written * V**2 * T_READ * 5.5 * uS
    assert_operations_pay(after.ledger, read_J_expected=0.0, refresh_read_J=reads)
    # The weight is kept, but for the RESET level (0.1 µS ± 10 %) left on the G− side.
    W = (g_of(after)[0].sum(0) - g_of(after)[1].sum(0)) / (N * G_W)
    np.testing.assert_allclose(W[0], (5.5 - 0.1) / 8.0, atol=0.02 / 8.0)


def test_reset_and_reprogram_books_resets_and_program_and_verify(programmed):
    W_read = np.asarray(programmed.true_weights(), np.float64)
    dw = float(programmed.dw_pulse)
    dW = np.zeros((R, C), np.float32)
    dW[0, 0] = -0.3  # 0.5 → 0.2
    dW[1, 2] = -0.2  # -0.6 → -0.8
    dW[2, 2] = 2 * dw  # potentiation: two SET pulses
    after = zeroed(programmed).reset_and_reprogram(
        jnp.asarray(dW), jnp.asarray(W_read), 1.0, key=jax.random.key(6)
    )
    lowered = 2
    c = after.ledger.values()
    assert c["update_events"] == lowered + 1
    assert c["reset_pulses"] == lowered * 2 * N
    assert c["set_pulses"] == 2 + lowered * N * ITERATIONS
    assert c["device_reads"] == lowered * N * ITERATIONS
    targets = (abs(W_read[0, 0] - 0.3) + abs(W_read[1, 2] - 0.2)) * G_W
    assert_operations_pay(after.ledger, read_J_expected=ITERATIONS * N * V**2 * T_READ * targets)


def test_counters_and_categories_cover_each_other():
    counted = [c for counters in CATEGORY_COUNTERS.values() for c in counters]
    assert set(CATEGORY_COUNTERS) == set(ENERGY_CATEGORIES)
    assert len(set(counted)) == len(counted) and set(counted) <= set(COUNTERS)
