"""Crossbar tiles: exactness of IdealTile and the statistics, periphery, updates, refresh,
multi-device synapses, pulse trains, energy bookkeeping and JAX transformations of PCMTile.

Tolerances are derived from the model in each test's comments. Tiles are small and the
jitted functions are shared by the tests (see ``create`` / ``mvm`` below)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import (
    approx,
    clipped_normal_moments,
    fast_jit,
    quiet,
    read_relative_sigma,
    sigma_prog_S,
)

from memxbar.crossbar import AbstractTile, IdealTile, PCMTile, TiledMatrix, load_chip
from memxbar.devices import load_preset
from memxbar.hw_configs import ConfigError, preset_path

CHIP = load_chip("pcm_256")
MODEL = load_preset(CHIP.device_preset)  # pcm_gst_pulse
DAY_S = 86400.0
uS = 1e-6
# Numbers of the presets, written out so that expectations do not come from the code under test.
G_W = 8 * uS  # pcm_256: the conductance of |w| = w_max
STEP_S = 0.6 * uS  # pcm_256: the nominal conductance step of one SET pulse
THRESHOLD_S = 0.9 * G_W  # pcm_256: refresh a synapse when a device passes 90 % of G_W
G_RESET_S, RESET_SPREAD = 0.1 * uS, 0.1  # pcm_gst_pulse (JAP 2018): RESET level and spread
E_SET, E_RESET = 2e-12, 20e-12  # pcm_gst_pulse: J per SET and per RESET pulse
V_READ, T_READ = 0.2, 250e-9  # pcm_256 read voltage (V) and pulse (s)
E_DAC, E_ADC, T_ADC = 0.1e-12, 2.56e-12, 10e-9  # pcm_256: J per conversion, s per ADC conversion
T_SET = 100e-9  # pcm_256: s per SET pulse slot


# --- helpers -----------------------------------------------------------------------------------


def linearised(model=MODEL, *, step_std_S: float = 0.01 * uS):
    """Every SET pulse adds the chip's nominal pulse_step_S (± step_std_S): no memory, no
    saturation, no variation, no drift, no read noise."""
    quiet_model = quiet(model)
    return eqx.tree_at(
        lambda m: (
            m.set_response.mean_slope,
            m.set_response.mean_memory_S,
            m.set_response.std_slope,
            m.set_response.std_memory_S,
            m.set_response.mean_offset_S,
            m.set_response.std_offset_S,
        ),
        quiet_model,
        (0.0, 0.0, 0.0, 0.0, STEP_S, step_std_S),
    )


def chip_with(chip=CHIP, *, dac=None, adc=None, update=None, **periphery):
    """``chip`` with periphery fields, DAC/ADC fields or update fields replaced."""
    p = chip.periphery
    if dac:
        periphery["dac"] = dataclasses.replace(p.dac, **dac)
    if adc:
        periphery["adc"] = dataclasses.replace(p.adc, **adc)
    chip = dataclasses.replace(chip, periphery=dataclasses.replace(p, **periphery))
    if update:
        chip = dataclasses.replace(chip, update=dataclasses.replace(chip.update, **update))
    return chip


# The chip without IR drop and output noise. Only float parameters differ from CHIP, so the
# two share compiled functions (static fields such as bits, schemes and drift_compensation
# would not). With noiseless devices its drift compensation is exactly 1: the reference and
# the current read of the total conductance are the same number.
CLEAN = chip_with(wire_resistance_Ohm=0.0, output_noise=0.0)
# The same without drift compensation, with round-to-nearest pulse counts.
PLAIN = chip_with(CLEAN, drift_compensation=False, update={"scheme": "deterministic"})


def with_conductances(tile: PCMTile, g_S) -> PCMTile:
    """``tile`` with its devices (2, N, rows, cols) set to ``g_S`` (S), written at t = 0 with
    drift exponent 0. The cached read view is at the creation time, so read at another t."""
    g = jnp.asarray(g_S, jnp.float32)
    return eqx.tree_at(
        lambda s: (s.devices.g_prog_S, s.devices.t_prog_s, s.devices.nu),
        tile,
        (g, jnp.zeros_like(g), jnp.zeros_like(g)),
    )


def relative_error(y, reference) -> float:
    y = np.asarray(y, np.float64)
    reference = np.asarray(reference, np.float64)
    return float(np.linalg.norm(y - reference) / np.linalg.norm(reference))


# Compiled once per tile structure and reused: jax.jit traces the float parameters of chip,
# device and tile, so only static fields (sizes, bits, schemes) and shapes recompile. The
# tiles are tiny, so compilation dominates: XLA's backend optimisations are skipped.
jit = fast_jit
create = jit(PCMTile.create, static_argnames=("rows", "cols", "w_max"))
mvm = jit(lambda tile, x, t, key: tile.mvm(x, t, key=key))
mvm_t = jit(lambda tile, y, t, key: tile.mvm_t(y, t, key=key))
update = jit(lambda tile, dW, t, key: tile.update(dW, t, key=key))
refresh = jit(lambda tile, t, key: tile.refresh(t, key=key))
program = jit(lambda tile, W, t, key: tile.program_weights(W, t, key=key))
read_weights = jit(lambda tile, t, key: tile.read_weights(t, key=key))

# Most tests use one small tile size so that they share compiled functions.
R, C = 4, 3


def T(t) -> jax.Array:
    return jnp.asarray(t, jnp.float32)


def K(seed: int) -> jax.Array:
    return jax.random.key(seed)


# --- IdealTile ---------------------------------------------------------------------------------


def test_ideal_tile_is_exact():
    rng = np.random.default_rng(0)
    W = rng.uniform(-1, 1, (5, 4)).astype(np.float32)
    x = rng.uniform(-2, 2, (3, 5)).astype(np.float32)
    d = rng.uniform(-2, 2, (3, 4)).astype(np.float32)
    dW = rng.normal(size=(5, 4)).astype(np.float32)
    tile = IdealTile.create(5, 4, weights=W)
    y, tile = tile.mvm(x, 0.0, key=K(0))
    np.testing.assert_array_equal(np.asarray(y), np.asarray(jnp.asarray(x) @ jnp.asarray(W)))
    yt, tile = tile.mvm_t(d, 0.0, key=K(1))
    np.testing.assert_array_equal(np.asarray(yt), np.asarray(jnp.asarray(d) @ jnp.asarray(W).T))
    updated = tile.update(dW, 0.0, key=K(2))
    np.testing.assert_array_equal(np.asarray(updated.weights), W + dW)
    outer = tile.update_outer(x, d, 0.0, key=K(3), scale=0.25)
    np.testing.assert_allclose(np.asarray(outer.weights), W + 0.25 * x.T @ d, rtol=1e-6, atol=1e-6)
    read, _ = updated.read_weights(0.0, key=K(4))
    np.testing.assert_array_equal(np.asarray(read), W + dW)
    assert IdealTile.create(2, 3).weights.shape == (2, 3)
    # Operations are counted, energy is zero.
    assert float(tile.ledger.count("mvm_vectors")) == 6
    assert float(updated.ledger.count("update_events")) == 20
    assert float(updated.ledger.total_J) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from([0.0, -0.0, 1e-37, -1.2e-38, 3.0e38, -1.0, 0.5, np.inf, -np.inf]),
        min_size=12,
        max_size=12,
    )
)
def test_an_exact_tile_books_one_update_event_per_non_zero_change(entries):
    dW = np.array(entries, np.float32).reshape(3, 4)
    tile = IdealTile.create(3, 4).update(dW, 0.0, key=K(0))
    assert float(tile.ledger.count("update_events")) == np.count_nonzero(dW)


def test_a_nan_change_makes_the_update_event_count_nan():
    dW = np.zeros((3, 4), np.float32)
    dW[1, 2] = np.nan
    tile = IdealTile.create(3, 4).update(dW, 0.0, key=K(0))
    assert np.isnan(float(tile.ledger.count("update_events")))


# --- the tile interface ------------------------------------------------------------------------

TILE_CLASSES = (IdealTile, PCMTile, TiledMatrix)


def test_tiles_follow_the_abstract_final_pattern():
    """Equinox's rule: the base declares attributes (AbstractVar) and abstract methods; a
    concrete tile implements exactly those and never overrides a concrete method."""
    assert {"rows", "cols", "ledger", "refreshes", "dw_pulse"} <= AbstractTile.__abstractvars__
    concrete = {
        name
        for name, value in vars(AbstractTile).items()
        if callable(value)
        and not name.startswith("__")
        and name not in AbstractTile.__abstractmethods__
    }
    assert concrete == {"check_input", "check_outer", "check_matrix"}
    for cls in TILE_CLASSES:
        assert not cls.__abstractmethods__ and not cls.__abstractvars__, cls
        assert not concrete & set(vars(cls)), cls
        assert cls.__subclasses__() == [], cls  # final


def _grid(kind: str) -> TiledMatrix:
    """A 6 × 5 matrix on tiles of at most 4 × 3, split balanced: blocks of 3×2, 3×3, 3×2, 3×3."""

    def block(n, rows, cols):
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        if kind == "ideal":
            return IdealTile.create(*shape, weights=jnp.full(shape, 0.1 * n))
        weights = jnp.full(shape, 0.1 * n)
        return create(CHIP, key=K(n), rows=shape[0], cols=shape[1], w_max=0.5 + n, weights=weights)

    return TiledMatrix.build(6, 5, 4, 3, block)


def test_tiled_matrix_assembles_pulse_steps_and_conductances_of_its_blocks():
    matrix = _grid("pcm")
    steps = np.asarray(matrix.dw_pulse)
    g = np.asarray(matrix.programmed_conductances())
    assert steps.shape == (6, 5) and g.shape == (2, CHIP.tile.devices_per_side, 6, 5)
    blocks = [(slice(0, 3), slice(0, 2)), (slice(0, 3), slice(2, 5))]
    blocks += [(slice(3, 6), slice(0, 2)), (slice(3, 6), slice(2, 5))]
    for n, (block, (rows, cols)) in enumerate(zip(matrix.blocks, blocks, strict=True)):
        # Each block has its own w_max, so its own pulse step w_max / (N g_w) · step
        # = w_max · 0.6 µS / 8 µS with one device per side.
        np.testing.assert_array_equal(steps[rows, cols], np.float32(block.dw_pulse))
        assert block.dw_pulse == approx((0.5 + n) * 0.075)
        np.testing.assert_array_equal(g[:, :, rows, cols], np.asarray(block.devices.g_prog_S))
    ideal = _grid("ideal")
    assert ideal.dw_pulse is None and IdealTile.create(2, 2).dw_pulse is None
    assert ideal.programmed_conductances() is None
    assert ideal.refreshes is False and matrix.refreshes is True
    mixed = (matrix.blocks[0], *ideal.blocks[1:])
    with pytest.raises(ValueError, match="one kind, got IdealTile and PCMTile"):
        TiledMatrix(blocks=mixed, row_edges=matrix.row_edges, col_edges=matrix.col_edges)


def test_a_tiled_update_in_a_loop_keeps_the_device_arrays_in_the_loop_layout():
    # A vmapped group's update once stacked the two sides of every device array in a layout
    # of its own (side axis or device axis major) and XLA copied each array back into the
    # loop's layout every step: 97 such arrays in this program, ~10 % of a PCM SoftHebb step.
    block = create(CHIP, key=K(2), rows=4, cols=3, w_max=0.5, weights=jnp.full((4, 3), 0.1))
    alike = TiledMatrix.build(8, 6, 4, 3, lambda n, rows, cols: block)
    arrays, static = eqx.partition(alike, eqx.is_array)
    dW = jnp.linspace(-0.2, 0.2, 48).reshape(8, 6)

    def steps(arrays):
        def step(arrays, t):
            tile = eqx.combine(arrays, static).update(dW, t, key=K(0))
            return eqx.partition(tile, eqx.is_array)[0], None

        return jax.lax.scan(step, arrays, jnp.arange(1.0, 4.0))[0]

    hlo = jax.jit(steps).lower(arrays).compile().as_text()
    devices = "[4,2,1,4,3]"  # (blocks, sides, devices per side, rows, cols)
    laid_out = [line for line in hlo.splitlines() if f"32{devices}{{" in line]
    assert len(laid_out) > 20  # the device arrays are there to be checked
    assert all(f"32{devices}{{4,3,2,1,0}}" in line for line in laid_out)


def test_pulses_leave_the_fields_they_do_not_write_untouched():
    tile = create(CHIP, key=K(3), rows=5, cols=4, w_max=1.0, weights=jnp.zeros((5, 4)))
    dW = jnp.linspace(-0.5, 0.5, 20).reshape(5, 4)
    after = jax.jit(lambda tile: tile.update(dW, 10.0, key=K(4)))(tile)
    pulsed = np.asarray(after.devices.set_pulses) > 0
    assert pulsed[0].any() and pulsed[1].any()  # both sides got pulses somewhere
    for field in ("step_scale", "g_max_S", "cycles", "fault", "nu_z"):
        before, now = getattr(tile.devices, field), getattr(after.devices, field)
        assert np.asarray(now).tobytes() == np.asarray(before).tobytes(), field
    # The pulsed devices moved and no other did.
    moved = np.asarray(after.devices.g_prog_S) != np.asarray(tile.devices.g_prog_S)
    assert moved.any() and not (moved & ~pulsed).any()


def test_reset_and_reprogram_is_an_update_on_exact_tiles():
    W = jnp.full((6, 5), 0.25)
    dW = jnp.linspace(-0.2, 0.2, 30).reshape(6, 5)
    for tile in (IdealTile.create(6, 5, weights=W), _grid("ideal")):
        after = tile.reset_and_reprogram(dW, W, 1.0, key=K(0))
        np.testing.assert_array_equal(
            after.true_weights(), tile.update(dW, 1.0, key=K(0)).true_weights()
        )
        with pytest.raises(ValueError, match=r"reset_and_reprogram: W_read must be \(6, 5\)"):
            tile.reset_and_reprogram(dW, W[:2], 1.0, key=K(0))


# --- PCMTile MVM statistics ----------------------------------------------------------------------

ROWS, COLS, BATCH = 128, 64, 64


@pytest.fixture(scope="module")
def programmed():
    """A pcm_256 tile (no IR drop, to keep the expectation first-order exact) programmed to
    uniform weights in ±1 at t = 0, and a batch of uniform inputs in ±1."""
    chip = chip_with(wire_resistance_Ohm=0.0)
    W = np.asarray(jax.random.uniform(K(1), (ROWS, COLS), minval=-1.0, maxval=1.0))
    x = np.asarray(jax.random.uniform(K(2), (BATCH, ROWS), minval=-1.0, maxval=1.0))
    tile = create(chip, key=K(0), rows=ROWS, cols=COLS, weights=W)
    return chip, tile, W.astype(np.float64), x.astype(np.float64)


def test_mvm_error_at_programming_time_matches_the_noise_model(programmed):
    """E||y − xW||² = bias² + programming noise + read noise + DAC/ADC/output noise, derived
    from the device model; the measurement agrees within 5 sampling standard deviations."""
    chip, tile, W, x = programmed
    dac, adc = chip.periphery.dac, chip.periphery.adc
    g_w = G_W
    w_scale = 1.0 / g_w  # w_max = 1, one device per side
    y, _ = mvm(tile, jnp.asarray(x, jnp.float32), T(0.0), K(3))
    y = np.asarray(y, np.float64)
    ideal = x @ W

    # Programming: each side targets |W|/w_scale (or 0 S) and lands at max(N(T, σ_p(T)), 0):
    # clipped-normal moments (for the 0 S side: mean σ/√(2π), variance σ²(1/2 − 1/(2π))).
    target_pos = np.where(W > 0, W, 0.0) * g_w
    target_neg = np.where(W < 0, -W, 0.0) * g_w
    mean_pos, var_pos = clipped_normal_moments(target_pos, sigma_prog_S(target_pos))
    mean_neg, var_neg = clipped_normal_moments(target_neg, sigma_prog_S(target_neg))
    w_mean = w_scale * (mean_pos - mean_neg)
    w_var = w_scale**2 * (var_pos + var_neg)
    # The DAC output is deterministic: v = round(x·L)/L, L = 2^(bits−1) − 1 levels per side.
    levels = 2 ** (dac.bits - 1) - 1
    v = np.round(np.clip(x, -1.0, 1.0) * levels) / levels
    bias = v @ w_mean - ideal  # DAC rounding and the clipped-noise offset of each side
    programming = (v * v) @ w_var
    # 1/f read noise of each programmed device at t = 0 (time since write 0, plus t0):
    # σ = |g| Q_s(g) sqrt(ln((t0 + t_read)/(2 t_read))), fresh per read, summed over devices.
    g = np.asarray(tile.devices.g_prog_S, np.float64)
    rel = read_relative_sigma(g, 0.0)
    g_var = np.sum((g * rel) ** 2, axis=(0, 1))
    read = (v * v) @ g_var * w_scale**2
    # ADC rounding (LSB²/12, LSB = output_range/levels in units of input_range·w_max) and
    # the additive output noise (output_noise · output_range in the same units).
    lsb = adc.output_range / (2 ** (adc.bits - 1) - 1)
    converter = lsb**2 / 12 + (chip.periphery.output_noise * adc.output_range) ** 2
    # Global drift compensation: α = reference/now, two noisy reads of the total
    # conductance, so var(α) ≈ 2 var(total)/total² multiplies ||y||².
    total = np.sum(g)
    alpha_var = 2.0 * np.sum((g * rel) ** 2) / total**2
    expected = (
        np.sum(bias**2)
        + np.sum(programming)
        + np.sum(read)
        + y.size * converter
        + alpha_var * np.sum(ideal**2)
    )
    measured = np.sum((y - ideal) ** 2)
    # Sampling error: programming noise is shared by the batch; for column j the squared
    # error is δ_jᵀ M δ_j with M = vᵀv, whose variance for independent δ is
    # 2 Σ_ii' M_ii'² s_i s_i'. Read, ADC and output noise are fresh per output (2 Σ var²).
    M = v.T @ v
    var_programming = 2.0 * sum(
        np.sum(M * M * np.outer(w_var[:, j], w_var[:, j])) for j in range(COLS)
    )
    var_fresh = 2.0 * np.sum((read + converter) ** 2)
    sd = math.sqrt(var_programming + var_fresh)
    assert abs(measured - expected) < 5.0 * sd, (measured, expected, sd)
    # The test can tell: 5 sd is ~8 % of the expectation, while read noise alone is ~40 %
    # and the programming noise ~60 % of it.
    assert 5.0 * sd < 0.1 * expected
    assert np.sum(read) > 0.3 * expected and np.sum(programming) > 0.4 * expected
    assert 0.1 < relative_error(y, ideal) < 0.25


def test_weight_read_noise_is_the_sum_of_the_device_read_noises(programmed):
    """read_weights draws one Gaussian per synapse with the summed variance of its devices'
    1/f read noise (DESIGN.md 10: fewer samples, same statistics); checked against the
    device model's per-device noise, with the ADC rounding (LSB²/12) added."""
    chip, tile, W, _ = programmed
    adc = chip.periphery.adc
    tile = tile.with_drift_compensation(False)
    t = 3600.0
    keys = jax.random.split(K(11), 400)
    reads = jax.vmap(lambda k: read_weights(tile, T(t), k)[0])(keys)
    reads = np.asarray(reads, np.float64)
    # DESIGN.md 4.1: g_drift = g_prog ((t − t_prog + t0)/t0)^−ν, read-noise std |g_drift| Q_s
    # sqrt(ln((t − t_prog + t0 + t_read)/(2 t_read))).
    g = np.asarray(tile.devices.g_prog_S, np.float64)
    elapsed = t - np.asarray(tile.devices.t_prog_s, np.float64)
    g_drift = g * ((elapsed + 20.0) / 20.0) ** -np.asarray(tile.devices.nu, np.float64)
    rel = read_relative_sigma(g, elapsed)
    w_scale = 1.0 / G_W  # w_max = 1, one device per side
    mean = w_scale * (g_drift[0, 0] - g_drift[1, 0])
    var_read = w_scale**2 * np.sum((g_drift * rel) ** 2, axis=(0, 1))
    lsb = 1.0 / (2 ** (adc.bits - 1) - 1)  # ±w_max over the ADC's levels
    var = var_read + lsb**2 / 12
    n = reads.shape[0]
    # Means within 5 standard errors on average over the synapses (sd of a mean over
    # synapses of standardised errors: 1/sqrt(synapses)); variances likewise (relative
    # sampling sd of a variance: sqrt(2/(n-1))).
    z_mean = (reads.mean(axis=0) - mean) / np.sqrt(var / n)
    assert abs(z_mean.mean()) < 5 / math.sqrt(z_mean.size)
    # (+2 %: LSB²/12 is the rounding variance only when the noise spans several LSBs,
    # Sheppard's correction; it is a small part of the total here.)
    ratio = reads.var(axis=0, ddof=1) / var
    assert abs(ratio.mean() - 1.0) < 5 * math.sqrt(2 / (n - 1)) / math.sqrt(ratio.size) + 0.02
    # The test can tell: read noise is most of the spread (not the ADC).
    assert np.mean(var_read) > 3 * lsb**2 / 12


def test_drift_at_one_day_with_and_without_compensation(programmed):
    chip, tile, W, x = programmed
    xj = jnp.asarray(x, jnp.float32)
    uncompensated = eqx.tree_at(
        lambda s: s.periphery,
        tile,
        dataclasses.replace(tile.periphery, drift_compensation=False),
    )
    ideal = x @ W
    y0, _ = mvm(tile, xj, T(0.0), K(4))
    y_day_off, _ = mvm(uncompensated, xj, T(DAY_S), K(5))
    y_day_on, _ = mvm(tile, xj, T(DAY_S), K(5))
    e0, e_off, e_on = (relative_error(y, ideal) for y in (y0, y_day_off, y_day_on))
    # Drift shrinks every conductance by ((t + t0)/t0)^−ν ≈ 0.6 after a day (ν ≈ 0.05):
    # without compensation outputs shrink by ~40 % and the error roughly doubles; the global
    # correction rescales by the drift of the total conductance and removes most of it.
    assert e_off > 1.5 * e0
    assert e_on < 0.7 * e_off
    assert e_on > e0  # ν varies between devices and read noise grows: not everything returns
    # The shrink itself, predicted from the devices' own drift exponents.
    # DESIGN.md 4.1: every device shrinks by ((t − t_prog + t0)/t0)^−ν, t0 = 20 s.
    g_w = G_W
    g = np.asarray(tile.devices.g_prog_S, np.float64)
    elapsed = DAY_S - np.asarray(tile.devices.t_prog_s, np.float64)
    f = ((elapsed + 20.0) / 20.0) ** -np.asarray(tile.devices.nu, np.float64)
    drifted_W = (g * f)[0, 0] / g_w - (g * f)[1, 0] / g_w
    norm2 = np.sum(ideal**2)
    slope_predicted = np.sum((x @ drifted_W) * ideal) / norm2
    alpha_predicted = np.sum(g) / np.sum(g * f)
    slope_off = np.sum(np.asarray(y_day_off, np.float64) * ideal) / norm2
    slope_on = np.sum(np.asarray(y_day_on, np.float64) * ideal) / norm2
    # Read noise (~10 % of |y| per output, zero mean) and rounding move a projection onto
    # 4096 outputs by ≲ 0.5 %; 2 % is generous, while the drift moves it by ~40 %.
    assert slope_predicted < 0.8
    assert slope_off == approx(slope_predicted, rel=0.02)
    assert slope_on == approx(alpha_predicted * slope_predicted, rel=0.02)
    assert slope_on == approx(1.0, abs=0.05)


# --- periphery --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ideal_programmed():
    """Noiseless devices, ideal programming, no IR drop, no output noise: only the converters
    stand between x and xW. w_max = 2."""
    W = np.asarray(jax.random.uniform(K(11), (R, C), minval=-2.0, maxval=2.0), np.float32)
    tile = create(CLEAN, key=K(12), rows=R, cols=C, w_max=2.0, device=quiet(MODEL), weights=W)
    return tile, W.astype(np.float64)


def with_converters(tile, *, bits=None, input_range=None, output_range=None):
    p = tile.periphery
    dac, adc = p.dac, p.adc
    if bits is not None:
        dac, adc = dataclasses.replace(dac, bits=bits), dataclasses.replace(adc, bits=bits)
    if input_range is not None:
        dac = dataclasses.replace(dac, input_range=input_range)
    if output_range is not None:
        adc = dataclasses.replace(adc, output_range=output_range)
    return eqx.tree_at(lambda s: s.periphery, tile, dataclasses.replace(p, dac=dac, adc=adc))


def test_many_bit_converters_converge_to_the_ideal_mvm(ideal_programmed):
    tile, W = ideal_programmed
    # ADC full scale 4 · input_range · w_max = 8 = R · max|x| · max|W|: no output can saturate
    # (y has a std of ~1.3, so the steps stay fine against it).
    tile = with_converters(tile, output_range=4.0)
    x = np.asarray(jax.random.uniform(K(13), (512, R), minval=-1.0, maxval=1.0), np.float64)
    ideal = x @ W
    errors = {}
    for bits in (5, 7, 24):
        y, _ = mvm(with_converters(tile, bits=bits), jnp.asarray(x, jnp.float32), T(1.0), K(14))
        errors[bits] = relative_error(y, ideal)
    # 24 bits: both LSBs ~1e-7 of full scale, so float32 arithmetic is all that remains.
    assert errors[24] < 1e-5
    # Fewer bits: ADC rounding (LSB_y²/12 per output, LSB_y = 8/L for L = 2^(bits−1) − 1
    # levels) plus DAC rounding (Σ_i W_ij² LSB_x²/12, LSB_x = 1/L) predicts the error; the
    # rounding errors of smooth inputs are uniform, and 10 % covers the sampling of 1536
    # outputs (~4 % on the squared error, ~2 % on the error).
    for bits in (5, 7):
        levels = 2 ** (bits - 1) - 1
        lsb_y = 4.0 * 1.0 * float(tile.w_max) / levels
        lsb_x = 1.0 / levels
        expected = x.shape[0] * (C * lsb_y**2 / 12 + np.sum(W**2) * lsb_x**2 / 12)
        assert errors[bits] == approx(math.sqrt(expected / np.sum(ideal**2)), rel=0.1)
    assert errors[5] > 3 * errors[7] > 1000 * errors[24]


def test_dac_clips_inputs_and_adc_saturates(ideal_programmed):
    tile, W = ideal_programmed
    # input_range 0.5 and output_range 1: the ADC saturates at 1 · 0.5 · w_max = 1.
    narrow = with_converters(tile, input_range=0.5, output_range=1.0)
    x = np.asarray(jax.random.uniform(K(15), (64, R), minval=-1.5, maxval=1.5), np.float32)
    clipped = np.clip(x, -0.5, 0.5)
    y, _ = mvm(narrow, jnp.asarray(x), T(1.0), K(16))
    y_clipped, _ = mvm(narrow, jnp.asarray(clipped), T(1.0), K(16))
    # Inputs beyond ±input_range act exactly as if clipped.
    np.testing.assert_array_equal(np.asarray(y), np.asarray(y_clipped))
    y = np.asarray(y, np.float64)
    ideal = clipped.astype(np.float64) @ W
    limit = 1.0 * 0.5 * float(tile.w_max)
    assert np.max(np.abs(y)) == approx(limit, rel=1e-6)
    saturated = np.abs(ideal) > limit
    assert 0.1 < saturated.mean() < 0.9  # both regimes are exercised
    np.testing.assert_allclose(y[saturated], np.sign(ideal[saturated]) * limit, rtol=1e-6)
    # Below saturation the output is the ideal one up to half an ADC step plus the DAC
    # rounding of R inputs (R · LSB_x/2 · max|W|).
    lsb_y = limit / 127
    lsb_x = 0.5 / 127
    bound = lsb_y / 2 + R * lsb_x / 2 * np.max(np.abs(W))
    assert np.max(np.abs(y[~saturated] - ideal[~saturated])) <= bound


# --- updates ----------------------------------------------------------------------------------

N_SEEDS = 1000


def achieved_dW(tile: PCMTile, dW, key):
    """Weight change that ``tile.update(dW)`` achieves, from the noiseless programmed state."""
    new = tile.update(dW, 0.0, key=key)
    g_new, g_old = new.devices.g_prog_S, tile.devices.g_prog_S
    return jnp.sum((g_new[0] - g_old[0]) - (g_new[1] - g_old[1]), axis=0) * tile.w_scale


@jit
def achieved_over_seeds(tile, dW, keys):
    return eqx.filter_vmap(achieved_dW, in_axes=(None, None, 0))(tile, dW, keys)


# Requested changes in units of dw_pulse: fractional, integer-and-a-bit, both signs.
REQUEST_PULSES = np.array(
    [[0.3, -0.3, 0.5], [1.7, -2.25, 0.05], [3.9, -0.7, 1.0], [-1.45, 2.6, 0.0]], np.float32
)


@pytest.fixture(scope="module")
def linear_tiles():
    """A small tile of linearised devices per rounding scheme (0.6 µS ± 0.01 µS per pulse)."""
    out = {}
    for scheme, chip in (("stochastic", CLEAN), ("deterministic", PLAIN)):
        out[scheme] = create(chip, key=K(20), rows=R, cols=C, device=linearised())
    return out


def test_stochastic_rounding_is_unbiased(linear_tiles):
    tile = linear_tiles["stochastic"]
    dw = float(tile.dw_pulse)
    keys = jax.random.split(K(21), N_SEEDS)
    got = np.asarray(achieved_over_seeds(tile, jnp.asarray(REQUEST_PULSES * dw), keys))
    mean = got.mean(axis=0) / dw
    # Pulses: floor(q) + Bernoulli(frac q), variance frac(1 − frac); each pulse adds
    # 0.6 µS ± 0.01 µS, i.e. 1 ± 1/60 pulse units. Standard error of the mean over seeds:
    q = np.abs(REQUEST_PULSES)
    frac = q - np.floor(q)
    se = np.sqrt((frac * (1 - frac) + q * (0.01 / 0.6) ** 2) / N_SEEDS) + 1e-6
    assert np.all(np.abs(mean - REQUEST_PULSES) < 5 * se), (mean, REQUEST_PULSES)
    # Individual updates really are random whole pulses (not the mean): 0.3 gives 0 or 1.
    assert set(np.round(got[:, 0, 0] / dw).astype(int)) == {0, 1}


def test_deterministic_rounding_is_biased_for_fractional_requests(linear_tiles):
    tile = linear_tiles["deterministic"]
    dw = float(tile.dw_pulse)
    got = np.asarray(
        achieved_over_seeds(tile, jnp.asarray(REQUEST_PULSES * dw), jax.random.split(K(22), 50))
    )
    mean = got.mean(axis=0) / dw
    # round-to-nearest: 0.3 → 0, 1.7 → 2, -2.25 → -2, 0.05 → 0 whatever the seed; each
    # pulse is 1 ± 1/60 units, so 50 seeds pin the mean to ±0.01 of round(q).
    np.testing.assert_allclose(mean, np.round(REQUEST_PULSES), atol=0.01)
    assert mean[0, 0] == 0.0 and mean[0, 1] == 0.0  # ±0.3 requested, nothing happens
    bias = np.abs(mean - REQUEST_PULSES)
    assert bias[0, 0] > 0.29 and bias[1, 0] > 0.28  # 0.3 and 1.7 pulses: 0.3 off, always


def test_real_pcm_response_is_biased_by_its_state():
    """The nonlinear device (pcm_gst_pulse) does not deliver the nominal 0.6 µS per pulse:
    after a RESET the pulse memory P = 1 makes the first pulse ~3× larger, and near 8 µS
    with P = 0 increments shrink to ~1/3 (Nandakumar et al., JAP 2018)."""
    n_seeds = 400
    fresh = create(CLEAN, key=K(23), rows=R, cols=C)
    full = program(fresh, np.ones((R, C), np.float32), T(0.0), K(24))
    dw = float(fresh.dw_pulse)
    one_pulse = jnp.full((R, C), dw)  # q = 1 (to float32 rounding): one pulse
    keys = jax.random.split(K(25), n_seeds)
    step = STEP_S
    for tile, memory in ((fresh, math.exp(-1.0 / 2.6)), (full, 0.0)):
        got = np.asarray(achieved_over_seeds(tile, one_pulse, keys)) / dw
        # Per device (fixed step scale s and starting G0), the pulse gives
        # max(G0 + s·N(μ, σ), 0) − G0 with μ = 0.880 − 0.084 G0 + 1.40 P, σ = 0.260 + 0.091
        # G0 + 2.15 P (µS), P = e^(−1/2.6) after a RESET and 0 after program-and-verify:
        # clipped-normal mean and variance, averaged over the devices.
        g0 = np.asarray(tile.devices.g_prog_S[0, 0], np.float64)
        s = np.asarray(tile.devices.step_scale[0, 0], np.float64)
        mu = 0.880 * uS - 0.084 * g0 + 1.40 * uS * memory
        sd = 0.260 * uS + 0.091 * g0 + 2.15 * uS * memory
        m, v = clipped_normal_moments(g0 + s * mu, s * sd)
        expected = np.mean(m - g0) / step
        se = math.sqrt(np.sum(v) / n_seeds) / g0.size / step
        assert got.mean() == approx(expected, abs=5 * se), tile.devices.pulse_memory
        if memory > 0:
            # ≈ 1.83 µS = 3.0 nominal pulses (3.2 with the clip of negative draws at 0 S)
            assert 2.8 < got.mean() < 3.6
        else:
            # ≈ 0.88 − 0.084 · 8 = 0.21 µS = 0.35 nominal pulses
            assert 0.2 < got.mean() < 0.5


# --- refresh --------------------------------------------------------------------------------------


def test_refresh_restores_weights_within_programming_noise():
    model = quiet(MODEL, programming=1.0)  # programming noise only: reads are exact
    tile = create(CLEAN, key=K(30), rows=R, cols=C, device=model)
    g_w, threshold = G_W, THRESHOLD_S
    rng = np.random.default_rng(31)
    g_pos = rng.uniform(1.0, 6.0, (R, C)) * uS
    g_neg = rng.uniform(1.0, 6.0, (R, C)) * uS
    # Six saturated synapses: one device above 0.9 · 8 µS = 7.2 µS, the weight moderate.
    hot = np.zeros((R, C), bool)
    hot[[0, 0, 1, 2, 3, 3], [0, 2, 1, 2, 0, 1]] = True
    g_pos[hot] = [7.5e-6, 9.0e-6, 8.0e-6, 6.0e-6, 7.3e-6, 9.5e-6]
    g_neg[hot] = [6.0e-6, 7.4e-6, 4.0e-6, 7.8e-6, 5.0e-6, 8.5e-6]
    tile = with_conductances(tile, np.stack([g_pos, g_neg])[:, None])
    W_before = (g_pos - g_neg) / g_w
    new = refresh(tile, T(1.0), K(32))
    g_new = np.asarray(new.devices.g_prog_S, np.float64)[:, 0]
    W_after = (g_new[0] - g_new[1]) / g_w
    # Untouched synapses keep their devices exactly.
    stored = np.stack([g_pos, g_neg]).astype(np.float32).astype(np.float64)
    np.testing.assert_array_equal(g_new[:, ~hot], stored[:, ~hot])
    # Refreshed ones: one side re-programmed to |W|·g_w with σ_p, the other RESET to
    # g_reset (1 ± 10 %) — the ~0.1 µS reset level stays on the unused side, as after
    # program_weights (where the 0 S side lands at the clipped-noise mean 0.1 µS).
    target = np.abs(W_before[hot]) * g_w
    sigma_p = sigma_prog_S(target)
    spread = RESET_SPREAD * G_RESET_S
    offset = -np.sign(W_before[hot]) * G_RESET_S / g_w
    error = W_after[hot] - (W_before[hot] + offset)
    assert np.all(np.abs(error) < 5 * np.sqrt(sigma_p**2 + spread**2) / g_w), error
    assert np.max(np.abs(W_after[hot] - W_before[hot])) > 0  # it was re-written
    assert np.all(g_new < threshold)
    assert float(new.ledger.count("refreshes")) == hot.sum()
    # Energy: all under 'refresh', nothing in the other categories, and so are the counts.
    for category in ("read", "set", "reset", "dac", "adc"):
        assert float(new.ledger.energy_J(category)) == 0.0
    for counter in ("device_reads", "set_pulses", "reset_pulses", "adc_conversions"):
        assert float(new.ledger.count(counter)) == 0.0
    assert float(new.ledger.energy_J("refresh")) > 0.0
    assert float(new.ledger.count("refresh_reset_pulses")) == 2 * hot.sum()


def test_refresh_after_driving_devices_into_saturation_with_updates():
    model = quiet(MODEL, programming=1.0)
    tile = create(CLEAN, key=K(33), rows=R, cols=C, device=model)
    dw = float(tile.dw_pulse)
    key = K(34)
    # Alternate potentiation and depression: both sides climb towards the ~10.5 µS
    # saturation of the SET response while the weight stays moderate.
    for step in range(12):
        key, k = jax.random.split(key)
        sign = 1.0 if step % 2 == 0 else -1.0
        tile = update(tile, jnp.full((R, C), sign * 6 * dw), T(0.0), k)
    g_w, threshold = G_W, THRESHOLD_S
    g = np.asarray(tile.devices.g_prog_S, np.float64)
    saturated = np.any(g > threshold, axis=(0, 1))
    assert saturated.sum() >= 6  # most synapses (12) have a device past 7.2 µS
    before = tile.ledger
    new = refresh(tile, T(0.0), K(35))
    assert float(new.ledger.count("refreshes")) == saturated.sum()
    g_new = np.asarray(new.devices.g_prog_S, np.float64)
    W_before = np.sum(g[0] - g[1], axis=0) / g_w
    W_after = np.sum(g_new[0] - g_new[1], axis=0) / g_w
    np.testing.assert_array_equal(W_after[~saturated], W_before[~saturated])
    # Re-programmed to |W| g_w with σ_p, the unused side at the RESET level 0.1 µS ± 10 %.
    target = np.abs(W_before) * g_w
    sigma_p = sigma_prog_S(target)
    bound = 5 * np.hypot(sigma_p, RESET_SPREAD * G_RESET_S) + G_RESET_S
    assert np.all(np.abs(W_after - W_before)[saturated] < bound[saturated] / g_w)
    # Synapses whose weight fits under the threshold (target + 5 σ_p) end below it; a
    # weight above 0.9 w_max cannot (its one device must sit above 7.2 µS).
    fits = saturated & (target + 5 * sigma_p < threshold)
    assert fits.sum() >= 4
    assert np.all(g_new[:, :, fits] < threshold)
    assert float(new.ledger.energy_J("refresh")) > 0.0
    assert float(new.ledger.energy_J("set")) == float(before.energy_J("set"))


# --- multi-device synapses ---------------------------------------------------------------------


def test_multi_device_synapses_rotate_the_arbiter_and_read_the_sum(tmp_path):
    text = preset_path("chips", "pcm_256").read_text()
    assert "devices_per_side: 1 " in text
    path = tmp_path / "pcm_256_x2.yaml"
    path.write_text(text.replace("devices_per_side: 1 ", "devices_per_side: 2 "))
    chip = load_chip(path)
    assert chip.tile.devices_per_side == 2
    chip = chip_with(
        chip,
        dac={"bits": 24},
        adc={"bits": 24},
        update={"scheme": "deterministic"},
        wire_resistance_Ohm=0.0,
        output_noise=0.0,
        drift_compensation=False,
    )
    tile = create(chip, key=K(40), rows=3, cols=2, device=linearised())
    assert tile.devices.g_prog_S.shape == (2, 2, 3, 2)
    assert float(tile.w_scale) == approx(1.0 / (2 * G_W))
    dW = np.array([[2, -1], [0, 3], [-2, 1]], np.float32) * float(tile.dw_pulse)
    n = np.round(np.abs(dW) / float(tile.dw_pulse)).astype(int)
    pos, neg = np.where(dW > 0, n, 0), np.where(dW < 0, n, 0)
    hits = []
    for step in range(3):
        assert int(tile.arbiter) == step % 2
        tile = update(tile, jnp.asarray(dW), T(0.0), K(41 + step))
        hits.append(np.asarray(tile.devices.set_pulses))
    # Update 1 goes to device 0 of each side, update 2 to device 1, update 3 to device 0.
    for step, expected in enumerate(
        ([1, 0], [1, 1], [2, 1])  # updates each device has received after each step
    ):
        for device, times in enumerate(expected):
            np.testing.assert_array_equal(hits[step][0, device], times * pos)
            np.testing.assert_array_equal(hits[step][1, device], times * neg)
    # Reads sum the devices of a side: give each device its own conductance.
    g = np.asarray(jax.random.uniform(K(45), (2, 2, 3, 2), minval=0.5, maxval=6.0)) * uS
    tile = with_conductances(tile, g)
    x = np.asarray(jax.random.uniform(K(46), (5, 3), minval=-1, maxval=1), np.float64)
    y, _ = mvm(tile, jnp.asarray(x, jnp.float32), T(1.0), K(47))
    W_sum = np.sum(g[0] - g[1], axis=0) * float(tile.w_scale)
    W_first = (g[0, 0] - g[1, 0]) * float(tile.w_scale)
    assert relative_error(y, x @ W_sum) < 1e-5
    assert relative_error(y, x @ W_first) > 0.1
    # Programming splits a weight evenly: every device of the side gets |W| g_w / w_max.
    W = np.array([[0.5, -0.25], [0.0, 1.0], [-1.0, 0.75]], np.float32)
    programmed = program(tile, W, T(1.0), K(48))
    g_prog = np.asarray(programmed.devices.g_prog_S)
    np.testing.assert_allclose(
        g_prog[0],
        np.broadcast_to(np.maximum(W, 0) * G_W, (2, 3, 2)),
        rtol=1e-6,
        atol=1e-12,
    )


def test_alike_multi_device_blocks_share_one_arbiter_and_rotate_it_together():
    # pcm_hermes_128: two devices per side. Two alike blocks are stacked; the arbiter, which
    # every update turns in all blocks alike, is kept once (0-d) for the group, so selecting
    # the pulsed device stays a slice (a batched index would gather and scatter every device
    # array). Each block's pulses land on device 0, then 1, then 0, as a lone tile's do.
    chip = load_chip("pcm_hermes_128")
    assert chip.tile.devices_per_side == 2

    def block(n, rows, cols):
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        return create(chip, key=K(60 + n), rows=shape[0], cols=shape[1], w_max=0.5)

    matrix = TiledMatrix.build(4, 6, 4, 3, block)
    assert matrix.members == ((0, 1),)
    assert matrix.groups[0].arbiter.shape == ()
    assert matrix.groups[0].devices.g_prog_S.shape == (2, 2, 2, 4, 3)
    dW = jnp.asarray(np.where(np.arange(24).reshape(4, 6) % 2, 1.0, -1.0), jnp.float32)
    dW = dW * 2.0 * matrix.blocks[0].dw_pulse
    grouped = jit(lambda m, k: m.update(dW, T(0.0), key=k))
    counts = []
    for step in range(3):
        assert all(int(b.arbiter) == step % 2 for b in matrix.blocks)
        matrix = grouped(matrix, K(70 + step))
        counts.append(np.asarray(matrix.groups[0].devices.set_pulses))
    # Pulses each device has received after each update: (device 0, device 1).
    for step, (first, second) in enumerate(((1, 0), (1, 1), (2, 1))):
        pulsed = counts[step].sum(axis=2)  # both devices of a side: (blocks, 2 sides, r, c)
        np.testing.assert_array_equal(counts[step][:, :, 0], first / (first + second) * pulsed)
        assert (counts[step][:, :, 1] == second / (first + second) * pulsed).all()
        assert pulsed.sum() > 0


# --- pulse trains ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pulse_train_tile():
    chip = chip_with(CLEAN, update={"scheme": "pulse_train"})
    return create(chip, key=K(50), rows=4, cols=3, device=linearised())


def pulse_counts(tile, x, d, scale, key):
    return tile.update_outer(x, d, 0.0, key=key, scale=scale).devices.set_pulses[:, 0]


@jit
def pulse_counts_over_seeds(tile, x, d, scale, keys):
    return eqx.filter_vmap(pulse_counts, in_axes=(None, None, None, None, 0))(
        tile, x, d, scale, keys
    )


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_pulse_train_counts_match_the_requested_outer_product(pulse_train_tile, sign):
    tile = pulse_train_tile
    dw = float(tile.dw_pulse)
    length = tile.update_config.pulse_train_length
    x = np.array([[0.9, -0.4, 0.1, 0.0], [-0.3, 0.8, 0.6, -1.0]], np.float32)
    d = np.array([[0.5, -1.0, 0.2], [0.7, 0.3, -0.6]], np.float32)
    scale = sign * 2.5 * dw  # at most 2.5 pulses per sample: far from length 31 and from 16
    n_seeds = 2000
    counts = np.asarray(
        pulse_counts_over_seeds(tile, x, d, jnp.float32(scale), jax.random.split(K(51), n_seeds))
    )
    assert counts.dtype.kind == "i" and counts.min() >= 0
    # Per sample b, pulses on G+ where scale·x_bi·d_bj > 0, on G− where it is < 0; the
    # expected count is |scale x_bi d_bj| / dw_pulse = length · p · q (Binomial(length, pq)).
    request = scale * x[:, :, None] * d[:, None, :] / dw  # (batch, rows, cols) in pulses
    expected = np.stack([np.maximum(request, 0).sum(axis=0), np.maximum(-request, 0).sum(axis=0)])
    pq = np.abs(request) / length
    variance = np.stack(
        [
            np.sum(np.where(request > 0, length * pq * (1 - pq), 0), axis=0),
            np.sum(np.where(request < 0, length * pq * (1 - pq), 0), axis=0),
        ]
    )
    se = np.sqrt(variance / n_seeds) + 1e-9
    mean = counts.mean(axis=0)
    assert np.all(np.abs(mean - expected) < 5 * se), (mean, expected)
    np.testing.assert_array_equal(mean[expected == 0], 0.0)
    assert expected.max() > 2.0  # a real request, not zeros


def test_update_with_pulse_train_scheme_is_refused(pulse_train_tile):
    with pytest.raises(ValueError, match="update_outer"):
        pulse_train_tile.update(jnp.zeros((4, 3)), 0.0, key=K(52))


# --- energy ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def energy_tile():
    """A 4 × 3 tile with known conductances, noise and drift off, no drift compensation."""
    chip = PLAIN
    tile = create(chip, key=K(60), rows=R, cols=C, device=quiet(MODEL))
    g_pos = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [0.0, 9.0, 0.5], [2.5, 1.0, 8.0]]
    g_neg = [[0.5, 0.25, 0.0], [2.0, 1.5, 7.0], [3.0, 0.0, 0.1], [1.0, 4.0, 2.0]]
    g = np.array([g_pos, g_neg])[:, None] * uS
    return chip, with_conductances(tile, g), g[:, 0]


def zeroed(tile):
    return eqx.tree_at(lambda s: s.ledger, tile, type(tile.ledger).zeros())


def test_mvm_energy_matches_a_hand_computation(energy_tile):
    _, tile, g = energy_tile
    V, t_read = V_READ, T_READ
    # Three input vectors; 2.0 and -1.5 clip to the input range ±1.
    x = np.array([[0.5, -1.0, 0.0, 0.3], [0.25, 0.75, -0.6, 1.0], [2.0, 0.0, -1.5, 0.1]])
    # DAC: v = round(clip(x) · 127)/127 (8 bits, input_range 1).
    v = np.round(np.clip(x, -1, 1) * 127) / 127
    _, after = mvm(tile, jnp.asarray(x, jnp.float32), T(1.0), K(61))
    L = after.ledger
    row_total = g.sum(axis=(0, 2))  # Σ_j,side G per row (S)
    read = np.sum(v**2 @ row_total) * V**2 * t_read
    assert float(L.energy_J("read")) == approx(read, rel=1e-6)
    # Only driven lines convert and read (event-driven): the two zero inputs cost nothing.
    driven = np.count_nonzero(v)
    assert driven == 10
    assert float(L.energy_J("dac")) == approx(driven * E_DAC, rel=1e-6)
    assert float(L.energy_J("adc")) == approx(3 * 3 * E_ADC, rel=1e-6)
    assert float(L.count("dac_conversions")) == driven
    assert float(L.count("adc_conversions")) == 9
    assert float(L.count("mvm_vectors")) == 3
    assert float(L.count("device_reads")) == driven * 2 * C
    for category in ("set", "reset", "refresh"):
        assert float(L.energy_J(category)) == 0.0
    # 3 ADC conversions per vector on 32 ADCs: one conversion time per vector.
    latency = 3 * (t_read + T_ADC)
    assert float(L.count("latency_s")) == approx(latency, rel=1e-6)
    # Transposed read: rows of v over the columns, Σ_i,side G per column.
    y = np.array([[1.0, 0.0, -0.5]])
    _, after_t = mvm_t(tile, jnp.asarray(y, jnp.float32), T(1.0), K(62))
    col_total = g.sum(axis=(0, 1))
    v = np.round(y * 127) / 127
    read_t = np.sum(v**2 @ col_total) * V**2 * t_read
    assert float(after_t.ledger.energy_J("read")) == approx(read_t, rel=1e-6)
    assert float(after_t.ledger.energy_J("dac")) == approx(2 * E_DAC, rel=1e-6)
    assert float(after_t.ledger.energy_J("adc")) == approx(4 * E_ADC, rel=1e-6)


def test_update_energy_and_energy_per_update_event(energy_tile):
    _, tile, _ = energy_tile
    dw = float(tile.dw_pulse)
    n = np.array([[2, 0, -1], [0, 3, 1], [0, 0, 0], [-1, 0, 0]])
    new = update(tile, jnp.asarray(n * dw, jnp.float32), T(1.0), K(63))
    L = new.ledger
    e_set = E_SET
    assert float(L.count("set_pulses")) == 8
    assert float(L.energy_J("set")) == approx(8 * e_set, rel=1e-6)
    assert float(L.count("update_events")) == 5
    assert float(L.count("update_calls")) == 1
    # Programming energy per synaptic update event: 8 pulses over 5 synapses.
    assert float(L.per_update_event_J) == approx(8 * e_set / 5, rel=1e-6)
    # Rows are programmed one after another, each for the largest pulse count (3).
    latency = R * 3 * T_SET
    assert float(L.count("latency_s")) == approx(latency, rel=1e-6)
    np.testing.assert_array_equal(
        np.asarray(new.devices.set_pulses)[:, 0], np.stack([np.maximum(n, 0), np.maximum(-n, 0)])
    )


def test_ledger_is_additive_over_steps(energy_tile):
    _, tile, _ = energy_tile
    x = jnp.asarray([[0.5, -1.0, 0.2, 0.0], [0.25, 0.75, 1.0, -0.4]], jnp.float32)
    dW = jnp.asarray([[2, 0, -1], [0, 3, 1], [1, 1, 1], [0, 0, -2]], jnp.float32) * tile.dw_pulse
    ops = [
        lambda s: mvm(s, x, T(1.0), K(64))[1],
        lambda s: update(s, dW, T(2.0), K(65)),
        lambda s: mvm_t(s, x[:, :C], T(3.0), K(66))[1],
    ]
    state, increments = tile, []
    for op in ops:
        increments.append(op(zeroed(state)).ledger)  # the cost of this step alone
        state = op(state)
    total = increments[0] + increments[1] + increments[2]
    np.testing.assert_allclose(
        np.asarray(state.ledger.joules - state.ledger.joules_err),
        np.asarray(total.joules - total.joules_err),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        np.asarray(state.ledger.counts - state.ledger.counts_err),
        np.asarray(total.counts - total.counts_err),
        rtol=1e-6,
    )
    assert float(state.ledger.total_J) > float(increments[0].total_J) > 0


def test_every_counted_conversion_is_paid_for():
    """Energy booked under 'dac' / 'adc' equals conversions × energy per conversion, also
    for calibration, drift-compensated MVMs and weight reads (their reference and weight
    reads convert too); refresh books its ADC conversions under 'refresh' and counts them in
    'refresh_adc_conversions'."""
    tile = create(CHIP, key=K(67), rows=R, cols=C, device=quiet(MODEL, programming=1.0))
    W = np.full((R, C), 0.5, np.float32)
    tile = program(tile, W, T(0.0), K(68))  # includes a calibration
    _, tile = mvm(tile, jnp.ones((2, R)), T(10.0), K(69))  # drift-compensated
    _, tile = read_weights(tile, T(20.0), K(70))
    L = tile.ledger
    assert float(L.energy_J("dac")) == approx(float(L.count("dac_conversions")) * E_DAC, rel=1e-6)
    assert float(L.energy_J("adc")) == approx(float(L.count("adc_conversions")) * E_ADC, rel=1e-6)
    # A refresh converts every synapse once (rows·cols ADC conversions); their energy and
    # their count belong to the refresh.
    hot = with_conductances(tile, np.full((2, 1, R, C), 7.5 * uS))
    refreshed = refresh(hot, T(30.0), K(71))
    assert float(refreshed.ledger.count("adc_conversions")) == float(L.count("adc_conversions"))
    assert float(refreshed.ledger.count("refresh_adc_conversions")) == R * C
    g_read = 7.5 * uS * 2 * R * C  # every device read once, exact (read noise off, drift 0)
    # Both sides of every synapse are RESET; W = 0 ⇒ no side is re-programmed. Reads cost
    # V²·G·t each (DESIGN.md 4.3).
    expected = V_READ**2 * g_read * T_READ + 2 * R * C * E_RESET + R * C * E_ADC
    assert float(refreshed.ledger.energy_J("refresh")) == approx(expected, rel=1e-6)


# --- JAX transformations ------------------------------------------------------------------------

W_VMAP = np.asarray(jax.random.uniform(K(80), (R, C), minval=-1, maxval=1), np.float32)
X_VMAP = jnp.asarray(jax.random.uniform(K(81), (5, R), minval=-1, maxval=1))


def create_and_read(key):
    k_create, k_read = jax.random.split(key)
    tile = PCMTile.create(CHIP, key=k_create, rows=R, cols=C, weights=W_VMAP)
    return tile.mvm(X_VMAP, DAY_S, key=k_read)[0]


def test_vmap_over_seeds_matches_single_runs():
    keys = jax.random.split(K(82), 16)
    batched = np.asarray(jit(lambda k: eqx.filter_vmap(create_and_read)(k))(keys))
    assert batched.shape == (16, 5, C)
    flat = batched.reshape(16, -1)
    distances = np.linalg.norm(flat[:, None] - flat[None], axis=-1)
    assert np.all(distances[~np.eye(16, dtype=bool)] > 1e-3)  # 16 different chips
    for i in range(16):
        # The same steps one chip at a time, through the module's jitted create and mvm.
        k_create, k_read = jax.random.split(keys[i])
        tile = create(CHIP, key=k_create, rows=R, cols=C, weights=W_VMAP)
        y, _ = mvm(tile, X_VMAP, T(DAY_S), k_read)
        np.testing.assert_allclose(np.asarray(y), batched[i], rtol=1e-6, atol=1e-6)
    # Same key, same result (bit-identical).
    again, _ = mvm(
        create(CHIP, key=k_create, rows=R, cols=C, weights=W_VMAP), X_VMAP, T(DAY_S), k_read
    )
    np.testing.assert_array_equal(np.asarray(again), np.asarray(y))


def test_scan_of_updates_and_reads_equals_the_step_by_step_loop():
    tile = create(CHIP, key=K(83), rows=R, cols=C, weights=W_VMAP)
    dW = 0.1 * jnp.asarray(np.sign(W_VMAP), jnp.float32)

    def step(tile, inputs):
        t, key = inputs
        k_update, k_read = jax.random.split(key)
        tile = tile.update(dW, t, key=k_update)
        y, tile = tile.mvm(X_VMAP, t, key=k_read)
        return tile, y

    times = jnp.asarray([1.0, 10.0, 100.0, 1000.0], jnp.float32)
    keys = jax.random.split(K(84), 4)
    scanned_tile, ys = jit(lambda s: jax.lax.scan(step, s, (times, keys)))(tile)
    looped = tile
    for i in range(4):
        k_update, k_read = jax.random.split(keys[i])
        looped = update(looped, dW, times[i], k_update)
        y, looped = mvm(looped, X_VMAP, times[i], k_read)
        np.testing.assert_allclose(np.asarray(ys[i]), np.asarray(y), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(scanned_tile.devices.g_prog_S), np.asarray(looped.devices.g_prog_S), rtol=1e-6
    )
    np.testing.assert_allclose(
        float(scanned_tile.ledger.total_J), float(looped.ledger.total_J), rtol=1e-6
    )
    assert float(scanned_tile.ledger.count("update_calls")) == 4
    assert np.sum(np.asarray(scanned_tile.devices.set_pulses)) > 0  # the updates did act


def test_read_view_cache_equals_a_fresh_read():
    tile = create(CHIP, key=K(85), rows=R, cols=C, weights=W_VMAP)
    y1, after = mvm(tile, X_VMAP, T(DAY_S), K(86))
    assert float(after.view_time_s) == DAY_S  # the view at t is now cached
    y2, _ = mvm(after, X_VMAP, T(DAY_S), K(86))
    np.testing.assert_array_equal(np.asarray(y1), np.asarray(y2))
    # A write invalidates the cache: reading the updated tile at the same t sees the change.
    updated = update(after, jnp.full((R, C), 0.3), T(DAY_S), K(87))
    y3, _ = mvm(updated, X_VMAP, T(DAY_S), K(86))
    assert np.max(np.abs(np.asarray(y3) - np.asarray(y1))) > 0.1


# --- bad input ---------------------------------------------------------------------------------


def test_wrong_shapes_are_value_errors_naming_the_expected_width():
    pcm = create(CHIP, key=K(90), rows=R, cols=C)
    ideal = IdealTile.create(R, C)
    for tile in (pcm, ideal):
        with pytest.raises(ValueError, match="last axis of 4.*\\(2, 3\\)"):
            tile.mvm(jnp.ones((2, 3)), 0.0, key=K(91))
        with pytest.raises(ValueError, match="last axis of 3"):
            tile.mvm_t(jnp.ones((2, 4)), 0.0, key=K(92))
        with pytest.raises(ValueError, match="\\(4, 3\\)"):
            tile.update(jnp.ones((3, 4)), 0.0, key=K(93))
        with pytest.raises(ValueError, match="\\(4, 3\\)"):
            tile.program_weights(jnp.ones((4, 4)), 0.0, key=K(94))

    with pytest.raises(ValueError, match="weights must have shape"):
        IdealTile.create(4, 3, weights=np.ones((3, 4)))


@pytest.mark.parametrize("kind", ["pcm", "ideal"])
def test_update_outer_checks_its_factors(kind):
    """x must be (..., rows) and d (..., cols) with the same batch shape. A (1, 8) x on a
    4-row tile must not be silently reshaped into two 4-input samples."""
    tile = create(CHIP, key=K(98), rows=R, cols=C) if kind == "pcm" else IdealTile.create(R, C)
    with pytest.raises(ValueError, match="last axis of 4"):
        tile.update_outer(jnp.ones((2, 5)), jnp.ones((2, 3)), 0.0, key=K(95))
    with pytest.raises(ValueError, match="last axis of 4"):
        tile.update_outer(jnp.ones((1, 8)), jnp.ones((2, 3)), 0.0, key=K(95))
    with pytest.raises(ValueError, match="last axis of 3"):
        tile.update_outer(jnp.ones((2, 4)), jnp.ones((2, 4)), 0.0, key=K(95))
    with pytest.raises(ValueError, match="batch"):
        tile.update_outer(jnp.ones((2, 4)), jnp.ones((3, 3)), 0.0, key=K(95))


@pytest.mark.parametrize("w_max", [0.0, -1.0, float("nan"), float("inf")])
def test_non_positive_w_max_is_refused(w_max):
    with pytest.raises(ValueError, match="w_max"):
        PCMTile.create(CHIP, key=K(96), rows=2, cols=2, w_max=w_max)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        (
            "  output_noise: 0.002",
            "  output_noise: 0.002\n  outpt_gain: 1.0",
            "periphery.outpt_gain",
        ),
        ("    bits: 8               # 8-bit outputs", "    bits: 1  #", "periphery.adc.bits"),
        ("g_weight_max_uS: 8.0", "g_weight_max_uS: -8.0", "update.g_weight_max_uS"),
        ("  scheme: stochastic", "  scheme: random", "update.scheme"),
    ],
)
def test_bad_chip_yaml_names_file_and_key(tmp_path, old, new, key):
    text = preset_path("chips", "pcm_256").read_text()
    assert old in text
    path = tmp_path / "broken_chip.yaml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=f"key '{key}'") as info:
        load_chip(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match=str(Path(path).name)):
        PCMTile.create(str(path), key=K(97), rows=2, cols=2)


def test_alike_blocks_run_stacked_and_each_gets_what_it_gets_alone():
    # 5 × 5 on tiles of 2 × 3, split balanced (rows 1 + 2 + 2, columns 2 + 3): blocks of 1×2,
    # 1×3, 2×2 (2 of them) and 2×3 (2), one setting: stored as 4 groups (two lone, two
    # stacked), every operation one vmapped call per group.
    # Each block must get what the same operation on it alone, with its own key, gives (to
    # float rounding: XLA fuses the batched program differently).
    def block(n, rows, cols):
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        return create(CHIP, key=K(n), rows=shape[0], cols=shape[1], w_max=0.5)

    matrix = TiledMatrix.build(5, 5, 2, 3, block)
    assert matrix.members == ((0,), (1,), (2, 4), (3, 5))
    assert matrix.groups[2].devices.g_prog_S.shape[0] == 2

    def slices(n):
        i, j = divmod(n, len(matrix.col_edges) - 1)
        rows = slice(matrix.row_edges[i], matrix.row_edges[i + 1])
        return rows, slice(matrix.col_edges[j], matrix.col_edges[j + 1])

    x = jax.random.uniform(K(5), (3, 5), minval=-1.0, maxval=1.0)
    dW = jnp.full((5, 5), 0.2)

    # Refresh goes through the same group machinery as these three (its own test of a
    # stacked refresh would add 30 s of compilation to the default suite).
    def steps(m, key, t):
        k_update, k_read, k_weights = jax.random.split(key, 3)
        m = m.update(dW, t, key=k_update)
        y, m = m.mvm(x, t, key=k_read)
        W, m = m.read_weights(t, key=k_weights)
        return y, W, m

    def steps_alone(m, key, t):
        keys = [jax.random.split(k, m.n_blocks) for k in jax.random.split(key, 3)]
        y, W, tiles = jnp.zeros((3, 5)), jnp.zeros((5, 5)), []
        for n, tile in enumerate(m.blocks):
            rows, cols = slices(n)
            tile = tile.update(dW[rows, cols], t, key=keys[0][n])
            part, tile = tile.mvm(x[:, rows], t, key=keys[1][n])
            y = y.at[:, cols].add(part)
            part, tile = tile.read_weights(t, key=keys[2][n])
            W = W.at[rows, cols].set(part)
            tiles.append(tile)
        return y, W, tiles

    y, W, grouped = jit(steps)(matrix, K(7), 20.0)
    y_alone, W_alone, alone = jit(steps_alone)(matrix, K(7), 20.0)
    np.testing.assert_allclose(np.asarray(y), np.asarray(y_alone), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(W), np.asarray(W_alone), rtol=1e-5, atol=1e-6)
    total = alone[0].ledger
    for tile in alone[1:]:
        total = total + tile.ledger
    assert float(grouped.ledger.count("set_pulses")) == float(total.count("set_pulses")) > 0
    np.testing.assert_allclose(float(grouped.ledger.total_J), float(total.total_J), rtol=1e-5)
    for a, b in zip(grouped.blocks, alone, strict=True):
        for u, v in zip(jax.tree.leaves(a.devices), jax.tree.leaves(b.devices), strict=True):
            np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-5, atol=1e-12)
