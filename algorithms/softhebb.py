"""Shallow SoftHebb: Hebbian learning in a soft winner-take-all layer.

Journé et al., "Hebbian deep learning without feedback" (ICLR 2023) and Moraitis et al.,
"SoftHebb" (2022): u = W^T x, y = softmax(u / tau),
dW_k = sum_batch y_k (x - u_k w_k), divided by the global max |dW|, applied with a per-neuron
rate eta_k = eta_0 |‖w_k‖ - 1|^power, which has ‖w_k‖ = 1 as its fixed point.

Weights are stored input-major, W of shape (inputs, neurons), so u = x @ W is a tile MVM.
The rule is written once: :func:`softhebb_delta` is the math; :func:`reference_step` applies
it to float weights and :func:`tile_step` to any tile (IdealTile or PCMTile), where the
forward pass is ``tile.mvm``, the norms come from a booked ``tile.read_weights`` and the
change goes through ``tile.update``.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from ..crossbar import AbstractTile
from ..devices import prng
from ..hw_configs import InvalidParameter, build_within, param
from .base import AbstractAlgorithm

__all__ = [
    "SoftHebbParams",
    "softhebb_delta",
    "reference_step",
    "tile_step",
    "init_weights",
    "encode_inputs",
    "norm_deviation",
    "ShallowSoftHebb",
]


class SoftHebbParams(eqx.Module):
    """Hyperparameters of shallow SoftHebb: the ``params`` of a ``softhebb`` rule, which
    :func:`~memxbar.hw_configs.build` reads strictly. The defaults are the paper's MNIST
    preset (Moraitis et al. 2022; radius 35 for 784 inputs)."""

    inv_tau: float = param("1/tau of the soft winner-take-all", gt=0.0, default=12.0)
    eta0: float = param("base learning rate", gt=0.0, default=0.045)
    power: float = param("exponent of the adaptive rate |norm - 1|^power", gt=0.0, default=0.2)
    init_radius: float = param("initial norm of each weight vector", gt=0.0, default=35.0)


def encode_inputs(x):
    """Inputs as the rule sees them (…, inputs): each sample centred and scaled to unit norm.

    Centring makes pixel vectors zero-mean, so randomly initialised neurons point towards
    some inputs and away from others and every neuron can win the competition; unit norm
    puts u = cos(angle) · ‖w‖ and keeps the DAC inputs within ±1.
    """
    x = jnp.asarray(x, jnp.float32)
    x = x - jnp.mean(x, axis=-1, keepdims=True)
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def init_weights(n_inputs: int, n_neurons: int, radius: float, *, key):
    """Uniform random weights, each neuron's vector rescaled to norm ``radius``."""
    w = jax.random.uniform(key, (n_inputs, n_neurons), minval=-1.0, maxval=1.0)
    return w * (radius / jnp.linalg.norm(w, axis=0, keepdims=True))


def norm_deviation(W):
    """Mean over neurons of |‖w_k‖ − 1|."""
    return jnp.mean(jnp.abs(jnp.linalg.norm(W, axis=0) - 1.0))


def softhebb_delta(x, u, W, params: SoftHebbParams, *, anti_hebbian: bool = False):
    """The weight change of one batch.

    Args:
        x: encoded inputs (batch, inputs).
        u: pre-activations x @ W (batch, neurons), as the hardware measured them.
        W: current weights (inputs, neurons), as the hardware read them.
        anti_hebbian: the soft anti-Hebbian plasticity of multilayer SoftHebb (Journé et al.,
            ICLR 2023): in each row the winner (largest u) keeps y_k = s_k and every other
            neuron gets y_k = −s_k, with s = softmax(u / tau).
    Returns:
        (dW, y): the change to apply (inputs, neurons) and the (signed) outputs y.
    """
    y = jax.nn.softmax(params.inv_tau * u, axis=-1)
    if anti_hebbian:
        winner = jax.nn.one_hot(jnp.argmax(u, axis=-1), u.shape[-1], dtype=bool)
        y = jnp.where(winner, y, -y)
    hebbian = x.T @ y - W * jnp.sum(y * u, axis=0)
    hebbian = hebbian / jnp.maximum(jnp.max(jnp.abs(hebbian)), 1e-30)
    norms = jnp.linalg.norm(W, axis=0)
    eta = params.eta0 * jnp.abs(norms - 1.0) ** params.power
    return eta * hebbian, y


def reference_step(W, x, params: SoftHebbParams):
    """One float SoftHebb step on weights W (inputs, neurons) for a batch x (batch, inputs)."""
    dW, y = softhebb_delta(x, x @ W, W, params)
    return W + dW, y


def tile_step(tile: AbstractTile, x, t, params: SoftHebbParams, *, key):
    """One SoftHebb step on a tile at chip time t (s): MVM, booked weight read, update.

    Returns:
        (tile, y, W_read): the updated tile, the soft-WTA outputs and the weights read.
    """
    k_mvm, k_read, k_update = prng.split(key, 3)
    u, tile = tile.mvm(x, t, key=k_mvm)
    W, tile = tile.read_weights(t, key=k_read)
    dW, y = softhebb_delta(x, u, W, params)
    return tile.update(dW, t, key=k_update), y, W


class ShallowSoftHebb(AbstractAlgorithm):
    """One dense SoftHebb layer on tiles, with softmax features for a linear readout."""

    layer_name: str = eqx.field(static=True)
    n_inputs: int = eqx.field(static=True)
    n_neurons: int = eqx.field(static=True)
    params: SoftHebbParams
    metric_names: ClassVar[tuple[str, ...]] = ("norm_deviation", "winner_probability")

    @classmethod
    def from_network(cls, network) -> ShallowSoftHebb:
        """From a network of one dense layer whose rule is 'softhebb'.

        Raises:
            InvalidParameter (a ValueError) whose ``field`` is the key in the network section,
                e.g. ``layers[0].rule.params.eta0``.
        """
        layers = network.layers
        if len(layers) != 1 or layers[0].type != "dense" or layers[0].rule.name != "softhebb":
            raise InvalidParameter(
                "layers",
                "shallow SoftHebb needs a network of exactly one dense layer with rule "
                f"'softhebb'; got {[(layer.type, layer.rule.name) for layer in layers]}",
            )
        layer = layers[0]
        params = build_within(SoftHebbParams, layer.rule.as_dict(), key="layers[0].rule.params")
        return cls(
            layer_name=layer.name,
            n_inputs=layer.in_features,
            n_neurons=layer.out_features,
            params=params,
        )

    def init(self, make_tile, *, key):
        k_tile, k_w, k_prog = prng.split(key, 3)
        tile = make_tile(self.layer_name, "weight", self.n_inputs, self.n_neurons, key=k_tile)
        W0 = init_weights(self.n_inputs, self.n_neurons, self.params.init_radius, key=k_w)
        return {self.layer_name: tile.program_weights(W0, 0.0, key=k_prog)}

    def train_step(self, state, x, t, *, key):
        tile, y, W = tile_step(state[self.layer_name], encode_inputs(x), t, self.params, key=key)
        metrics = {
            "norm_deviation": norm_deviation(W),
            "winner_probability": jnp.mean(jnp.max(y, axis=-1)),
        }
        return {self.layer_name: tile}, metrics

    def features(self, state, x, t, *, key):
        u, tile = state[self.layer_name].mvm(encode_inputs(x), t, key=key)
        return u, {self.layer_name: tile}

    def tiles(self, state):
        return dict(state)

    def with_tiles(self, state, tiles):
        return dict(tiles)
