"""Multilayer convolutional SoftHebb on crossbar tiles.

Journé, Garcia Rodriguez, Guo and Moraitis, "Hebbian deep learning without feedback"
(ICLR 2023), and the authors' code (github.com/NeuromorphicComputing/SoftHebb: ``demo.py``,
``hebbconv.py``, ``presets.json``). Each block is

    BatchNorm without affine → Hebbian convolution (no bias) → Triangle → pooling,

with the convolution mapped by im2col onto one tile matrix per layer
(:mod:`memxbar.crossbar.conv`): every output position of every image is one MVM row.

Plasticity (soft anti-Hebbian), per layer and batch, at every output position:
s = softmax(u / tau) over the channels, y_k = s_k for the winner (largest u) and −s_k for
the others; ΔW_k = Σ_{batch, positions} y_k (x − u_k w_k), x the input patch; divided by the
layer's max |ΔW|; applied with the per-neuron rate η_k = η_0 |‖w_k‖ − 1|^power (power 0.5).
The math is :func:`memxbar.algorithms.softhebb.softhebb_delta` with ``anti_hebbian=True``,
applied to the patch matrix.

Choices taken from the paper's code and stated here:
- Padding of the convolutions is ``reflect`` (``padding_mode='reflect'`` in ``demo.py``).
- Initial weights: Gaussian with std r/√fan_in, so ‖w_k‖ ≈ r, with r = 25 (``demo.py``,
  ``presets.json`` "radius": 25); here every neuron is rescaled to norm exactly r.
- The CIFAR-10 preset: 96 (5×5, pad 2) → 384 (3×3, pad 1) → 1536 (3×3, pad 1), 1/τ = 1, 0.65,
  0.25, η_0 = 0.08, 0.005, 0.01, Triangle powers 0.7, 1.4, 1.0, pools max 4/2/1, max 4/2/1,
  avg 2/2/0, batch size 10, one epoch.
- Training order: all Hebbian layers learn together, each from the current output of the
  layers below, in the same pass over every batch (``demo.py``'s unsupervised loop; the
  repo's "consecutive" mode). BatchNorm uses the batch's statistics during learning and its
  running statistics (momentum 0.1) for the readout's features.
- Readout: a linear classifier on the flattened pooled output of the last block.

On any tile: the norms come from a booked ``tile.read_weights`` every step (as in the shallow
rule), and after each update the tile re-takes its drift-compensation reference (see
:func:`conv_tile_step`).

Rule parameters (``rule: {name: softhebb_conv, params: {...}}`` of each conv2d layer):
``inv_tau``, ``eta0``, ``triangle_power`` (required); ``power`` (0.5), ``init_radius`` (25),
``padding_mode`` (reflect | zeros; default reflect), ``pool`` (max | avg | none; default none),
``pool_size``, ``pool_stride``, ``pool_padding`` (defaults 1, 1, 0).
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from ..crossbar import AbstractTile
from ..crossbar.conv import ConvGeometry, PaddingMode, matrix_to_kernel
from ..devices import prng
from ..hw_configs import InvalidParameter, build_within, param
from .base import AbstractAlgorithm
from .conv_blocks import (
    BatchNormStats,
    Pool2d,
    PoolKind,
    batch_norm_eval,
    batch_norm_train,
    triangle,
)
from .softhebb import SoftHebbParams, norm_deviation, softhebb_delta

__all__ = [
    "RULE_NAME",
    "ConvRuleParams",
    "ConvBlockParams",
    "ConvSoftHebbLayer",
    "ConvSoftHebb",
    "init_conv_weights",
    "conv_tile_step",
    "reference_conv_step",
]

RULE_NAME = "softhebb_conv"


class ConvRuleParams(eqx.Module):
    """The ``params`` of a ``softhebb_conv`` rule, as a job writes them; read strictly by
    :func:`~memxbar.hw_configs.build`. Defaults are the paper's code (see the module
    docstring)."""

    inv_tau: float = param("1/tau of the soft-WTA over channels", gt=0.0)
    eta0: float = param("base learning rate", gt=0.0)
    triangle_power: float = param("exponent of the Triangle activation", gt=0.0)
    power: float = param("exponent of the adaptive rate |norm - 1|^power", gt=0.0, default=0.5)
    init_radius: float = param("initial norm of every kernel", gt=0.0, default=25.0)
    padding_mode: PaddingMode = param("how the convolution pads", default="reflect")
    pool: PoolKind = param("pooling after the activation", default="none")
    pool_size: int = param("pooling window", ge=1, default=1)
    pool_stride: int = param("pooling stride", ge=1, default=1)
    pool_padding: int = param("pooling padding", ge=0, default=0)

    def __check_init__(self):
        try:
            self.pooling()
        except ValueError as err:
            raise InvalidParameter("pool_padding", str(err)) from None

    def pooling(self) -> Pool2d:
        return Pool2d(self.pool, self.pool_size, self.pool_stride, self.pool_padding)

    def block_params(self) -> ConvBlockParams:
        """The hyperparameters one block runs with."""
        rule = SoftHebbParams(self.inv_tau, self.eta0, self.power, self.init_radius)
        return ConvBlockParams(rule, self.triangle_power, self.pooling(), self.padding_mode)


class ConvBlockParams(eqx.Module):
    """Hyperparameters of one block: the rule, the activation, the pooling, the padding."""

    rule: SoftHebbParams
    triangle_power: float
    pool: Pool2d
    padding_mode: str = eqx.field(static=True, default="reflect")


def init_conv_weights(n_inputs: int, n_neurons: int, radius: float, *, key):
    """Gaussian weights (n_inputs, n_neurons), each neuron rescaled to norm ``radius``.

    The paper's code draws N(0, (r/√fan_in)²), whose norms are ≈ r; the rescale makes them r.
    """
    w = jax.random.normal(key, (n_inputs, n_neurons), jnp.float32)
    return w * (radius / jnp.linalg.norm(w, axis=0, keepdims=True))


def conv_tile_step(tile: AbstractTile, geometry: ConvGeometry, images, t, rule, *, key):
    """One soft anti-Hebbian step of a conv layer on its tile at chip time t (s).

    The patches of ``images`` (batch, H, W, C) are one batched ``tile.mvm``; the norms need a
    booked ``tile.read_weights``; the change goes through ``tile.update`` (a write makes a PCM
    tile's drift-compensation reference stale, so reads during learning are uncompensated).

    Returns:
        (tile, u, y, W): the updated tile, the pre-activations (batch, out_h, out_w, out_c)
        measured before the update, the signed outputs y (positions, out_c) and the weights
        read.
    """
    k_mvm, k_read, k_update = prng.split(key, 3)
    patches = geometry.patches(images)
    u, tile = tile.mvm(patches, t, key=k_mvm)
    W, tile = tile.read_weights(t, key=k_read)
    dW, y = softhebb_delta(
        patches.reshape(-1, geometry.rows), u.reshape(-1, tile.cols), W, rule, anti_hebbian=True
    )
    tile = tile.update(dW, t, key=k_update)
    return tile, u, y, W


def reference_conv_step(W, geometry: ConvGeometry, images, rule: SoftHebbParams):
    """The same step in plain float, written as the paper's code computes it (no im2col).

    u is ``lax.conv_general_dilated``; Σ y x over batch and positions is the convolution of
    the inputs with the outputs (batch as the contracted axis, the stride as a dilation),
    as ``hebbconv.py`` computes it. Returns (W_new, u).
    """
    kernel = matrix_to_kernel(W, geometry.kernel_size, geometry.in_channels)
    p = geometry.padding
    mode = "constant" if geometry.padding_mode == "zeros" else "reflect"
    x = jnp.pad(images, ((0, 0), (p, p), (p, p), (0, 0)), mode=mode)
    s = geometry.stride
    u = lax.conv_general_dilated(
        x, kernel, (s, s), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    soft = jax.nn.softmax(rule.inv_tau * u, axis=-1)
    winner = u == jnp.max(u, axis=-1, keepdims=True)
    y = jnp.where(winner, soft, -soft)
    # Σ_{n, positions} x[n, oh·s + i, ow·s + j, c] y[n, oh, ow, o]: channels of x act as the
    # batch, images as the contracted feature axis, y as a kernel dilated by the stride.
    kh, kw = geometry.kernel_size
    yx = lax.conv_general_dilated(
        jnp.transpose(x, (3, 1, 2, 0)),
        jnp.transpose(y, (1, 2, 0, 3)),
        (1, 1),
        "VALID",
        rhs_dilation=(s, s),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )[:, :kh, :kw, :]
    yx = jnp.transpose(yx, (1, 2, 0, 3))  # (kh, kw, C, O)
    delta = yx - kernel * jnp.sum(y * u, axis=(0, 1, 2))
    delta = delta / jnp.maximum(jnp.max(jnp.abs(delta)), 1e-30)
    eta = rule.eta0 * jnp.abs(jnp.linalg.norm(W, axis=0) - 1.0) ** rule.power
    return W + eta * delta.reshape(W.shape), u


class ConvSoftHebbLayer(eqx.Module):
    """One block: its conv geometry, its output channels and its hyperparameters."""

    name: str = eqx.field(static=True)
    geometry: ConvGeometry
    out_channels: int = eqx.field(static=True)
    params: ConvBlockParams

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of the block's output, after pooling."""
        return (*self.params.pool.output_size(self.geometry.output_size), self.out_channels)

    def activate(self, u):
        """Triangle, then pooling, of pre-activations u (batch, H, W, out_channels)."""
        return self.params.pool(triangle(u, self.params.triangle_power))


class ConvSoftHebb(AbstractAlgorithm):
    """Convolutional SoftHebb blocks on tiles, all learning together; features for a readout.

    The state is ``{"tiles": {layer: tile}, "norm": {layer: BatchNormStats}}``.
    Metrics: ``norm_deviation``, the largest over layers of the mean |‖w_k‖ − 1|, and
    ``winner_probability``, the mean over layers and positions of the winner's softmax share.
    """

    layers: tuple[ConvSoftHebbLayer, ...]
    metric_names: ClassVar[tuple[str, ...]] = ("norm_deviation", "winner_probability")

    @classmethod
    def from_network(cls, network) -> ConvSoftHebb:
        """From a network of conv2d layers whose rules are 'softhebb_conv', chained in shape.

        Raises:
            InvalidParameter (a ValueError) whose ``field`` is the key in the network section,
                e.g. ``layers[1].rule.params.eta0`` or ``layers[1]``.
        """
        layers = network.layers
        wrong = [
            (layer.name, layer.type, layer.rule.name)
            for layer in layers
            if layer.type != "conv2d" or layer.rule.name != RULE_NAME
        ]
        if not layers or wrong:
            raise InvalidParameter(
                "layers",
                f"convolutional SoftHebb needs conv2d layers with rule '{RULE_NAME}'; "
                f"network '{network.name}' has {wrong or 'no layers'}",
            )
        built = []
        for i, layer in enumerate(layers):
            key = f"layers[{i}].rule.params"
            try:
                params = build_within(ConvRuleParams, layer.rule.as_dict(), key=key).block_params()
            except InvalidParameter as err:
                raise InvalidParameter(err.field, f"{err.message} (layer '{layer.name}')") from None
            try:
                geometry = ConvGeometry.from_layer(layer, params.padding_mode)
                block = ConvSoftHebbLayer(layer.name, geometry, layer.out_channels, params)
                block.output_shape  # noqa: B018 (raises when the pooling window does not fit)
            except ValueError as err:
                raise InvalidParameter(f"layers[{i}]", f"layer '{layer.name}': {err}") from None
            if built:
                want = built[-1].output_shape
                have = (*geometry.input_size, geometry.in_channels)
                if have != want:
                    raise InvalidParameter(
                        f"layers[{i}].input_size",
                        f"layer '{layer.name}': input_size × in_channels is {have}, but layer "
                        f"'{built[-1].name}' outputs {want} (height, width, channels) after "
                        "pooling",
                    )
            built.append(block)
        return cls(layers=tuple(built))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one input image."""
        g = self.layers[0].geometry
        return (*g.input_size, g.in_channels)

    @property
    def n_features(self) -> int:
        """Length of the flattened output of the last block (the readout's input)."""
        h, w, c = self.layers[-1].output_shape
        return h * w * c

    def images(self, x):
        """Flat inputs (batch, H·W·C), HWC row-major, as NHWC images."""
        h, w, c = self.input_shape
        if jnp.ndim(x) != 2 or jnp.shape(x)[1] != h * w * c:
            raise ValueError(
                f"convolutional SoftHebb: inputs must be (batch, {h * w * c}) = flattened "
                f"{h}x{w}x{c} HWC images, got shape {jnp.shape(x)}"
            )
        return jnp.reshape(jnp.asarray(x, jnp.float32), (-1, h, w, c))

    def init(self, make_tile, *, key):
        tiles, norms = {}, {}
        for layer, k in zip(self.layers, prng.split(key, len(self.layers)), strict=True):
            k_tile, k_w, k_prog = prng.split(k, 3)
            rows, cols = layer.geometry.rows, layer.out_channels
            tile = make_tile(layer.name, "weight", rows, cols, key=k_tile)
            W0 = init_conv_weights(rows, cols, layer.params.rule.init_radius, key=k_w)
            tiles[layer.name] = tile.program_weights(W0, 0.0, key=k_prog)
            norms[layer.name] = BatchNormStats.create(layer.geometry.in_channels)
        return {"tiles": tiles, "norm": norms}

    def train_step(self, state, x, t, *, key):
        h = self.images(x)
        tiles, norms = {}, {}
        deviations, winners = [], []
        for layer, k in zip(self.layers, prng.split(key, len(self.layers)), strict=True):
            h, norms[layer.name] = batch_norm_train(h, state["norm"][layer.name])
            tile, u, y, W = conv_tile_step(
                state["tiles"][layer.name], layer.geometry, h, t, layer.params.rule, key=k
            )
            tiles[layer.name] = tile
            deviations.append(norm_deviation(W))
            winners.append(jnp.mean(jnp.max(y, axis=-1)))  # the winner's y is its share s_k
            h = layer.activate(u)
        metrics = {
            "norm_deviation": jnp.max(jnp.stack(deviations)),
            "winner_probability": jnp.mean(jnp.stack(winners)),
        }
        return {"tiles": tiles, "norm": norms}, metrics

    def features(self, state, x, t, *, key):
        h = self.images(x)
        tiles = {}
        for layer, k in zip(self.layers, prng.split(key, len(self.layers)), strict=True):
            h = batch_norm_eval(h, state["norm"][layer.name])
            u, tiles[layer.name] = layer.geometry.mvm(state["tiles"][layer.name], h, t, key=k)
            h = layer.activate(u)
        return h.reshape(h.shape[0], -1), {**state, "tiles": tiles}

    def readout_features(self, u, readout):
        """The pooled Triangle activations themselves, the paper's classifier input.

        They already went through the blocks' activation and pooling, so the job's readout
        feature map (``readout.activation``, ``readout.feature_inv_tau``) is not applied.
        """
        del readout
        return u

    def tiles(self, state):
        return dict(state["tiles"])

    def with_tiles(self, state, tiles):
        return {**state, "tiles": dict(tiles)}
