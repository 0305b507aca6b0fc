"""runtime/lean_jit.py: the meaning of ``eqx.filter_jit`` (arrays traced, every other leaf
static, non-array outputs passed through), one trace per static configuration, clear errors."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memxbar.runtime.lean_jit import lean_jit


class Layer(eqx.Module):
    weights: jax.Array
    name: str = eqx.field(static=True)
    gain: float = 2.0  # a non-array leaf: static under filter_jit


def step(layer, x, times, label):
    y = layer.gain * (x @ layer.weights) * times
    return eqx.tree_at(lambda m: m.weights, layer, layer.weights + 1.0), {"y": y, "label": label}


def _layer(gain=2.0):
    return Layer(jnp.arange(6.0).reshape(2, 3), "a", gain)


def test_outputs_are_those_of_filter_jit_with_their_static_parts():
    x = jnp.array([[1.0, -2.0]])
    args = (_layer(), x, 3, "run")
    lean_layer, lean_out = lean_jit(step)(*args)
    ref_layer, ref_out = eqx.filter_jit(step)(*args)
    assert lean_out["label"] == "run" and lean_layer.name == "a" and lean_layer.gain == 2.0
    np.testing.assert_array_equal(lean_layer.weights, ref_layer.weights)
    np.testing.assert_array_equal(lean_out["y"], ref_out["y"])
    expected = 2.0 * 3 * (np.array(x) @ np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(lean_out["y"], expected)


def test_keyword_arguments_mean_what_they_mean_to_the_function():
    x = jnp.array([[1.0, -2.0]])
    by_name = lean_jit(step)(_layer(), x, label="run", times=3)
    by_position = lean_jit(step)(_layer(), x, 3, "run")
    assert by_name[1]["label"] == "run"
    np.testing.assert_array_equal(by_name[1]["y"], by_position[1]["y"])


def test_one_trace_per_static_configuration():
    traces = []

    def counted(layer, x, times, label):
        traces.append((layer.gain, times, label))
        return step(layer, x, times, label)

    fn = lean_jit(counted)
    x = jnp.ones((1, 2))
    fn(_layer(), x, 3, "run")
    fn(_layer(), x + 1.0, 3, "run")  # new array values: the same program
    fn(_layer(), np.ones((1, 2), np.float32), 3, "run")  # a NumPy array is traced too
    assert traces == [(2.0, 3, "run")]
    fn(_layer(), x, 4, "run")
    fn(_layer(gain=5.0), x, 3, "run")
    fn(_layer(), jnp.ones((4, 2)), 3, "run")  # a new shape: jax.jit traces again
    assert traces[1:] == [(2.0, 4, "run"), (5.0, 3, "run"), (2.0, 3, "run")]


def test_works_inside_an_outer_transformation():
    fn = lean_jit(step)
    xs = jnp.arange(8.0).reshape(4, 1, 2)
    ys = jax.vmap(lambda x: fn(_layer(), x, 3, "run")[1]["y"])(xs)
    for x, y in zip(xs, ys, strict=True):
        np.testing.assert_array_equal(y, fn(_layer(), x, 3, "run")[1]["y"])


def test_an_unhashable_static_argument_names_the_function():
    with pytest.raises(TypeError, match=r"step: .*must be hashable; got unhashable set"):
        lean_jit(step)(_layer(), jnp.ones((1, 2)), 3, {"a set"})


def test_the_program_is_named_after_the_function():
    fn = lean_jit(step)
    assert fn.__name__ == "step"
    lowered = jax.jit(lambda x: fn(_layer(), x, 3, "run")[1]["y"]).lower(jnp.ones((1, 2)))
    assert "call @step(" in lowered.as_text()  # (the persistent cache's log names it so too)
