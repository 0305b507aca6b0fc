"""with_device_draw: a hardware-aware model reads one programmed chip until the next draw
(programming errors and drift exponents fixed; the read noise stays fresh per read)."""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np

from memxbar.crossbar import AwareTile, IdealTile, load_chip, with_device_draw
from memxbar.devices import load_preset

# Converters and wires exact, no read noise: a read differs from another only by the
# programming errors and drift exponents it draws.
EXACT = {
    "periphery.adc.bits": 24,
    "periphery.dac.bits": 24,
    "periphery.output_noise": 0.0,
    "periphery.wire_resistance_Ohm": 0.0,
}


def tiles(drift_s: float):
    chip = load_chip("pcm_256", EXACT)
    device = load_preset(chip.device_preset, {"read_noise.scale": 0.0})
    W = jax.random.uniform(jax.random.key(0), (6, 4), minval=-0.8, maxval=0.8)
    make = lambda w: AwareTile.create(chip, device, weights=w, w_max=1.0, drift_s=drift_s)  # noqa: E731
    return {"a": make(W), "b": make(W.T), "plain": IdealTile.create(6, 4)}


@eqx.filter_jit
def _read(tile, key):
    x = jax.random.uniform(jax.random.key(9), (3, tile.rows))
    return tile.mvm(x, 0.0, key=key)[0]


def read(tile, key):
    return np.asarray(_read(tile, key))


def test_one_draw_is_one_chip_until_the_next():
    for drift_s in (0.0, 86400.0):
        model = tiles(drift_s)
        fixed = with_device_draw(model, jax.random.key(1))
        for name in ("a", "b"):
            # Without a draw, two reads are two chips; with one, the same chip.
            assert not np.array_equal(
                read(model[name], jax.random.key(2)), read(model[name], jax.random.key(3))
            )
            np.testing.assert_array_equal(
                read(fixed[name], jax.random.key(2)), read(fixed[name], jax.random.key(3))
            )
        # Each tile has its own devices; another draw is another chip.
        other = with_device_draw(model, jax.random.key(4))
        assert not np.array_equal(
            read(fixed["a"], jax.random.key(2)), read(other["a"], jax.random.key(2))
        )
        assert eqx.tree_equal(fixed["plain"], model["plain"])


def test_a_tree_without_aware_tiles_is_unchanged():
    tree = {"w": IdealTile.create(2, 2), "x": np.zeros(3)}
    assert with_device_draw(tree, jax.random.key(0)) is tree
