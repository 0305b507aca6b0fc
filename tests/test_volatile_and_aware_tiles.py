"""The volatile element and tile of fast weights, and the hardware-aware training tile."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import fast_filter_jit, fast_jit

from memxbar.crossbar import AwareTile, DigitalFastTile, PCMTile, VolatileTile, load_chip
from memxbar.devices import VolatileDevice, load_preset
from memxbar.hw_configs import InvalidParameter

N = 20_000  # devices per statistical test


def device(**changes) -> VolatileDevice:
    values = dict(
        g_max_S=10e-6,
        tau_min_s=1e-4,
        tau_max_s=1.0,
        tau_spread=0.0,
        decay_noise=0.02,
        write_noise=0.05,
        read_noise=0.0,
        write_pulse_J=1e-12,
    )
    return VolatileDevice(**(values | changes))


def test_relaxation_has_the_analytic_mean_and_the_sampled_std():
    """One step: mean G0·exp(−Δt/τ) exactly, std decay_noise times it. k steps: the mean
    stays exponential (the noise factors have mean 1) and the relative std grows as
    sqrt((1 + σ²)^k − 1). Tolerances: 4.5 standard errors of the sample mean, and of the
    sample std (relative error 1/sqrt(2N))."""
    d = device()
    g0, tau, dt = 5e-6, 5e-3, 1e-3
    g = jnp.full((N,), g0)
    for k in (1, 5):
        out = g
        for i in range(k):
            out = d.relax(out, jnp.full((N,), tau), dt, key=jax.random.key(i))
        out = np.asarray(out, np.float64)
        mean = g0 * math.exp(-k * dt / tau)
        rel_std = math.sqrt((1 + d.decay_noise**2) ** k - 1)
        assert abs(out.mean() - mean) < 4.5 * mean * rel_std / math.sqrt(N)
        assert out.std() == pytest.approx(mean * rel_std, rel=4.5 / math.sqrt(2 * N))


def test_decay_maps_to_a_programmed_time_constant_within_the_elements_range():
    d = device(tau_min_s=1e-3, tau_max_s=0.1)
    dt = 1e-3
    low, high = d.decay_range(dt)
    assert (low, high) == pytest.approx((math.exp(-1), math.exp(-0.01)))
    decay = jnp.array([0.5, 0.9, 0.0001, 0.9999])
    tau = np.asarray(d.programmed_tau_s(decay, dt))
    assert tau[:2] == pytest.approx(-dt / np.log([0.5, 0.9]), rel=1e-5)
    assert tau[2:] == pytest.approx([1e-3, 0.1], rel=1e-5)  # clipped to what it realises
    spread = device(tau_spread=0.2).realised_tau_s(jnp.full((N,), 0.01), key=jax.random.key(0))
    log_ratio = np.log(np.asarray(spread) / 0.01)
    assert abs(log_ratio.mean()) < 4.5 * 0.2 / math.sqrt(N)
    assert log_ratio.std() == pytest.approx(0.2, rel=4.5 / math.sqrt(2 * N))
    with pytest.raises(InvalidParameter, match="tau_max_s"):
        device(tau_min_s=1.0, tau_max_s=0.1)


def test_writes_are_unbiased_and_stay_in_the_window():
    d = device()
    g = d.write(jnp.zeros(N), jnp.full((N,), 2e-6), key=jax.random.key(0))
    assert float(jnp.mean(g)) == pytest.approx(2e-6, rel=4.5 * 0.05 / math.sqrt(N))
    assert float(jnp.std(g)) == pytest.approx(0.05 * 2e-6, rel=4.5 / math.sqrt(2 * N))
    full = d.write(jnp.full((3,), 9e-6), jnp.full((3,), 5e-6), key=jax.random.key(1))
    assert np.all(np.asarray(full) == pytest.approx(10e-6))


def _exact_periphery():
    chip = load_chip(
        "pcm_256",
        {"periphery.adc.bits": 24, "periphery.dac.bits": 24, "periphery.adc.output_range": 64.0},
    )
    return chip.periphery


def test_noiseless_volatile_tile_computes_what_the_digital_fast_weights_compute():
    """With every noise off and λ inside the realisable range, the volatile tile's reads
    follow F ← λ F / n + γ x dᵀ as the exact digital tile does."""
    rows, cols, batch, dt = 6, 4, 3, 1e-3
    keys = jax.random.split(jax.random.key(0), 8)
    decay = jax.random.uniform(keys[0], (rows, cols), minval=0.2, maxval=0.95)
    gain = jax.random.uniform(keys[1], (rows, cols), minval=-0.3, maxval=0.3)
    quiet = device(decay_noise=0.0, write_noise=0.0, tau_min_s=1e-4, tau_max_s=10.0)
    periphery = _exact_periphery()

    # Compile-bound: the tiles' creation and one step are jitted (one program each, reused by
    # every step) instead of run op by op.
    def create(key):
        volatile = VolatileTile.create(
            quiet, periphery, decay=decay, gain=gain, f_max=2.0, step_s=dt, key=key
        )
        return volatile.fresh(batch), DigitalFastTile.create(decay, gain).fresh(batch)

    def step_both(volatile, digital, k):
        x = jax.random.uniform(jax.random.fold_in(k, 0), (batch, rows), minval=-1, maxval=1)
        d = jax.random.uniform(jax.random.fold_in(k, 1), (batch, cols), minval=-1, maxval=1)
        n = jax.random.uniform(jax.random.fold_in(k, 2), (batch, cols), minval=0.8, maxval=1.5)
        y_v, volatile = volatile.mvm(x, key=k)
        y_d, digital = digital.mvm(x, key=k)
        volatile = volatile.advance(n, x, d, key=k)
        digital = digital.advance(n, x, d, key=k)
        return y_v, y_d, volatile, digital

    volatile, digital = fast_filter_jit(create)(keys[2])
    step_both = fast_filter_jit(step_both)
    for step in range(4):
        k = jax.random.fold_in(keys[3], step)
        y_v, y_d, volatile, digital = step_both(volatile, digital, k)
        # One ADC step of the 24-bit, ±64 converter, in weight units (f_max = 2).
        adc_step = 64.0 / (2**23 - 1) * 2.0
        np.testing.assert_allclose(np.asarray(y_v), np.asarray(y_d), rtol=1e-4, atol=adc_step)
    np.testing.assert_allclose(
        np.asarray(volatile.true_weights()),
        np.asarray(digital.true_weights()),
        rtol=1e-4,
        atol=1e-6,
    )


def test_volatile_tile_books_one_write_pulse_per_written_device_and_its_reads():
    rows, cols, batch = 5, 3, 2
    d = device()
    periphery = _exact_periphery()
    tile = VolatileTile.create(
        d,
        periphery,
        decay=jnp.full((rows, cols), 0.5),
        gain=jnp.full((rows, cols), 0.1),
        f_max=1.0,
        step_s=1e-3,
        key=jax.random.key(0),
    ).fresh(batch)
    x = jnp.array([[1.0, 0, 0, 0.5, 0], [0, 0, 1.0, 0, 0]])  # 3 nonzero inputs
    h = jnp.array([[0.2, -0.1, 0.0], [0.3, 0.4, 0.5]])  # 5 nonzero outputs
    tile = tile.advance(jnp.ones((batch, cols)), x, h, key=jax.random.key(1))
    writes = 2 * 2 + 1 * 3  # per sequence: nonzero x times nonzero h
    assert tile.ledger.count("set_pulses") == writes
    assert float(tile.ledger.energy_J("set")) == pytest.approx(writes * d.write_pulse_J)
    before = float(tile.ledger.energy_J("read"))
    _, read = tile.mvm(x, key=jax.random.key(2))
    g_sum = np.asarray(tile.g_S[:, 0] + tile.g_S[:, 1])  # (batch, rows, cols)
    v2 = np.asarray(x) ** 2
    want = periphery.read_voltage_V**2 * periphery.read_pulse_s * np.einsum("br,brc->", v2, g_sum)
    assert float(read.ledger.energy_J("read")) - before == pytest.approx(want, rel=1e-4)
    assert read.ledger.count("adc_conversions") == batch * cols


# --- the hardware-aware training tile --------------------------------------------------------

QUIET_DEVICE = {"programming_noise.scale": 0.0, "read_noise.scale": 0.0}


def _chip(**overrides):
    return load_chip("pcm_256", overrides)


def test_aware_tile_without_noise_reads_the_clipped_weights():
    chip = _chip(
        **{
            "periphery.adc.bits": 24,
            "periphery.dac.bits": 24,
            "periphery.output_noise": 0.0,
            "periphery.wire_resistance_Ohm": 0.0,
        }
    )
    dev = load_preset(chip.device_preset, QUIET_DEVICE)
    W = jax.random.uniform(jax.random.key(0), (7, 3), minval=-1.5, maxval=1.5)
    tile = AwareTile.create(chip, dev, weights=W, w_max=1.0)
    x = jax.random.uniform(jax.random.key(1), (4, 7), minval=-1, maxval=1)
    y, tile = tile.mvm(x, 0.0, key=jax.random.key(2))
    np.testing.assert_allclose(np.asarray(y), np.asarray(x @ jnp.clip(W, -1, 1)), atol=1e-5)
    assert tile.ledger.count("mvm_vectors") == 4 and float(tile.ledger.total_J) == 0.0


def test_aware_tile_gradient_passes_straight_through_the_converters():
    """d Σ y / dW = vᵀ 1 (v: the DAC's inputs) inside ±w_max, with 8-bit converters and
    noise (the noise's std is held constant, the rounding passes the gradient); 0 where W
    is clipped."""
    chip = _chip(**{"periphery.wire_resistance_Ohm": 0.0})
    dev = load_preset(chip.device_preset)
    W = jnp.array([[0.3, -0.2], [0.9, 1.7], [-0.5, 0.1]])
    x = jax.random.uniform(jax.random.key(1), (5, 3), minval=-1, maxval=1)

    def total(w):
        tile = AwareTile.create(chip, dev, weights=w, w_max=1.0)
        return jnp.sum(tile.mvm(x, 0.0, key=jax.random.key(3))[0])

    grad = np.asarray(fast_jit(jax.grad(total))(W))  # jitted: compile-bound op by op
    v = np.asarray(chip.periphery.dac.convert(x))  # the inputs as the DAC delivers them
    want = np.repeat(v.sum(axis=0)[:, None], 2, axis=1)
    want[1, 1] = 0.0  # 1.7 is beyond w_max: clipped
    np.testing.assert_allclose(grad, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("drift_s", [0.0, 86400.0])
def test_aware_tile_reads_like_a_freshly_programmed_pcm_tile(drift_s):
    """The distribution of one AwareTile read equals that of programming a fresh PCM tile
    and reading it at once (programming and read noise, converters) or, with ``drift_s``,
    one day later with global drift compensation calibrated right after programming (the
    devices' spread of drift exponents): means within 4.5 standard errors, standard
    deviations within 4.5/sqrt(2n) relative."""
    chip = _chip()
    assert chip.periphery.drift_compensation
    dev = load_preset(chip.device_preset, {"variability.g_max_relative": 0.0})
    W = jnp.array([[0.4, -0.6], [0.8, 0.05], [-0.3, 0.7], [0.2, -0.9]])
    x = jnp.array([[1.0, -0.5, 0.75, 0.25]])
    n = 1000
    keys = jax.random.split(jax.random.key(0), n)
    aware = AwareTile.create(chip, dev, weights=W, w_max=1.0, drift_s=drift_s)

    def aware_read(k):
        return aware.mvm(x, 0.0, key=k)[0][0]

    def pcm_read(k):
        k_make, k_cal, k_read = jax.random.split(k, 3)
        tile = PCMTile.create(chip, key=k_make, w_max=1.0, device=dev, weights=W, rows=4, cols=2)
        tile = tile.calibrate(0.0, key=k_cal)
        return tile.mvm(x, drift_s, key=k_read)[0][0]

    # Jitted: the vmapped reads are compile-bound op by op.
    a = np.asarray(fast_jit(jax.vmap(aware_read))(keys), np.float64)
    p = np.asarray(fast_jit(jax.vmap(pcm_read))(keys), np.float64)
    sem = np.sqrt(a.var(axis=0) / n + p.var(axis=0) / n)
    assert np.all(np.abs(a.mean(axis=0) - p.mean(axis=0)) < 4.5 * sem)
    np.testing.assert_allclose(a.std(axis=0), p.std(axis=0), rtol=4.5 * math.sqrt(2 / (2 * n)))
    if drift_s:  # the drifted read is noisier than the fresh one: the test can tell them apart
        fresh = AwareTile.create(chip, dev, weights=W, w_max=1.0)
        f = fast_jit(jax.vmap(lambda k: fresh.mvm(x, 0.0, key=k)[0][0]))(keys)
        f = np.asarray(f, np.float64)
        assert np.all(a.std(axis=0) > f.std(axis=0) * (1 + 4.5 * math.sqrt(2 / (2 * n))))
