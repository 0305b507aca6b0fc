"""The two read-noise variance modes of a forward read (``periphery.read_noise_variance``).

'exact' gives output j the variance sum_i v_i² σ_ij²; 'column_mean' gives it
(sum_i v_i²) · mean_i σ_ij². Both are checked against those formulas by sampling many reads of
one input vector; tolerances are 5 standard deviations of a sample variance of n Gaussian
draws (relative sd sqrt(2 / (n − 1))) and of a sample mean (σ / sqrt(n)).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import fast_jit

from memxbar.crossbar import PCMTile, load_chip
from memxbar.crossbar.read_view import ReadView
from memxbar.hw_configs import ConfigError, preset_path

ROWS, COLS, SAMPLES = 6, 5, 20_000
uS = 1e-6


def view_with_row_dependent_noise():
    """One device per side; the positive devices' relative read sigma grows 10× down the rows,
    so the exact and the column-mean variance differ for inputs that are not all equal."""
    g = jnp.zeros((2, 1, ROWS, COLS))
    g = g.at[0, 0].set(jnp.linspace(2.0, 6.0, ROWS * COLS).reshape(ROWS, COLS) * uS)
    g = g.at[1, 0].set(1.0 * uS)
    relative = jnp.zeros_like(g).at[0, 0].set(jnp.linspace(0.01, 0.1, ROWS)[:, None])
    view = ReadView.of_conductances(g, relative, 0.0, line_means=True)
    return view, np.asarray(g), np.asarray(relative)


def _sample(view, v, key, variance):
    batch = jnp.broadcast_to(v, (SAMPLES, v.shape[-1]))
    return view.sense(batch, 1.0 / uS, 0.0, transpose=False, key=key, variance=variance)


_sample = fast_jit(_sample, static_argnames="variance")


def sample_moments(view, v, *, exact: bool):
    variance = "exact" if exact else "column_mean"
    y = np.asarray(_sample(view, jnp.asarray(v, jnp.float32), jax.random.key(3), variance))
    return y.mean(axis=0), y.var(axis=0, ddof=1)


def check_moments(mean, var, expected_mean, expected_var):
    var_tolerance = 5.0 * math.sqrt(2.0 / (SAMPLES - 1)) * expected_var
    np.testing.assert_array_less(np.abs(var - expected_var), var_tolerance)
    mean_tolerance = 5.0 * np.sqrt(expected_var / SAMPLES)
    np.testing.assert_array_less(np.abs(mean - expected_mean), mean_tolerance)


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "column_mean"])
def test_each_mode_draws_the_variance_of_its_formula(exact):
    view, g, relative = view_with_row_dependent_noise()
    v = np.array([1.0, 0.1, 0.5, 0.0, 0.2, 0.9])  # large inputs on the quiet and noisy rows
    sigma2 = np.sum((g * relative) ** 2, axis=(0, 1))  # (rows, cols), S²
    diff = (g[0, 0] - g[1, 0]) / uS
    exact_var = (v * v) @ sigma2 / uS**2
    column_mean_var = np.sum(v * v) * sigma2.mean(axis=0) / uS**2
    mean, var = sample_moments(view, v, exact=exact)
    check_moments(mean, var, v @ diff, exact_var if exact else column_mean_var)
    # The two formulas differ here by ~23 %, the variance tolerance is 5 sqrt(2/n) = 5 %: the
    # test can tell them apart.
    assert np.all(np.abs(column_mean_var - exact_var) > 0.15 * exact_var)


def test_the_modes_agree_for_inputs_of_equal_magnitude():
    view, g, relative = view_with_row_dependent_noise()
    v = np.array([0.5, -0.5, 0.5, 0.5, -0.5, 0.5])
    sigma2 = np.sum((g * relative) ** 2, axis=(0, 1))
    expected_var = (v * v) @ sigma2 / uS**2
    diff = (g[0, 0] - g[1, 0]) / uS
    for exact in (True, False):
        mean, var = sample_moments(view, v, exact=exact)
        check_moments(mean, var, v @ diff, expected_var)


def test_a_pcm_tile_reads_in_its_chips_mode():
    """Same key, same devices: the outputs' means agree, and the noise differs only through
    the variance formula (the Gaussians are the same numbers)."""
    chip = load_chip("pcm_256")
    cheap = dataclasses.replace(
        chip, periphery=dataclasses.replace(chip.periphery, read_noise_variance="column_mean")
    )
    W = jax.random.uniform(jax.random.key(0), (8, 4), minval=-1.0, maxval=1.0)
    x = jnp.ones((3, 8)) * 0.5
    ys = {}
    for name, spec in (("exact", chip), ("column_mean", cheap)):
        tile = PCMTile.create(spec, key=jax.random.key(1), rows=8, cols=4, weights=W)
        ys[name], _ = tile.mvm(x, 86400.0, key=jax.random.key(2))
    # Equal-magnitude inputs: the two modes' variances are equal up to float rounding, and so
    # are the outputs (the ADC then rounds both to the same level).
    np.testing.assert_allclose(np.asarray(ys["exact"]), np.asarray(ys["column_mean"]), atol=1e-5)


def test_an_unknown_mode_is_refused_naming_the_key(tmp_path):
    text = preset_path("chips", "pcm_256").read_text()
    assert "read_noise_variance: exact" in text
    path = tmp_path / "chip.yaml"
    path.write_text(text.replace("read_noise_variance: exact", "read_noise_variance: cheap"))
    with pytest.raises(ConfigError, match="read_noise_variance"):
        load_chip(str(path))
