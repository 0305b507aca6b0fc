"""The network IR: layers, the weight matrices they need, and their plasticity rules.

A network is a sequence of layers. Each layer names the weight matrices it stores on
crossbars (``matrices``: name → (rows, cols), rows = inputs), how many matrix-vector products
one inference needs per matrix (``mvms_per_inference``), and its plasticity rule (a name and
hyperparameters that the algorithm of that name reads with its own parameter class). The IR
is plain frozen dataclasses, hashable and comparable, so a Program that holds it round-trips
exactly; they are parameter classes, so the strict loader (:func:`~memxbar.hw_configs.build`)
reads them from YAML (a layer's ``type`` key chooses its class) and ``dump`` writes them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from ..hw_configs import InvalidParameter, OneOf, Pairs, Scalar, build, dump, param, section

__all__ = [
    "PlasticityRule",
    "Layer",
    "Dense",
    "Conv2d",
    "Recurrent",
    "SpikingPopulation",
    "Network",
    "LAYER_TYPES",
    "network_from_mapping",
    "network_to_mapping",
]


@dataclasses.dataclass(frozen=True)
class PlasticityRule:
    """A learning rule by name with its hyperparameters (numbers, text or flags).

    ``params`` is stored as a sorted tuple of (key, value) pairs so the rule is hashable; the
    algorithm of the rule builds its own parameter class from them. In YAML a rule is
    ``{name, params}``, or just its name.
    """

    name: str = param("rule name (the algorithm that reads the params)")
    params: Pairs[Scalar] = param("hyperparameters, read by the rule's algorithm", default=())

    @classmethod
    def create(cls, name: str, params: Mapping[str, Any] | None = None) -> PlasticityRule:
        return cls(name, tuple(sorted((params or {}).items())))

    def as_dict(self) -> dict[str, Any]:
        return dict(self.params)

    def get(self, key: str, default: Any = None) -> Any:
        return self.as_dict().get(key, default)


NO_RULE = PlasticityRule("none")


def _rule() -> Any:
    return section("plasticity rule: its name or {name, params}", default=NO_RULE, shorthand="name")


def _count(doc: str, *, default: Any = dataclasses.MISSING, ge: int = 1) -> Any:
    return param(doc, ge=ge, default=default)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Layer:
    """Base of all layers; ``name`` is unique within a network."""

    type: ClassVar[str] = ""
    name: str = param("layer name, unique in the network", nonempty=True)

    def matrices(self) -> dict[str, tuple[int, int]]:
        """Weight matrices of this layer: matrix name → (rows = inputs, cols = outputs)."""
        raise NotImplementedError

    def mvms_per_inference(self) -> dict[str, int]:
        """Matrix-vector products per matrix for one input sample."""
        return {m: 1 for m in self.matrices()}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Dense(Layer):
    """A fully connected layer y = x @ W, W of shape (in_features, out_features)."""

    type: ClassVar[str] = "dense"
    in_features: int = _count("inputs")
    out_features: int = _count("outputs")
    rule: PlasticityRule = _rule()

    def matrices(self):
        return {"weight": (self.in_features, self.out_features)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Conv2d(Layer):
    """A 2-D convolution mapped by im2col: one shared (kh·kw·in_channels, out_channels) matrix.

    Every output position is one MVM of the shared matrix (weight sharing).
    """

    type: ClassVar[str] = "conv2d"
    in_channels: int = _count("input channels")
    out_channels: int = _count("output channels (kernels)")
    kernel_size: tuple[int, int] = param("kernel (height, width), or one size", ge=1, repeat=True)
    stride: int = _count("stride", default=1)
    padding: int = _count("padding on each side", default=0, ge=0)
    input_size: tuple[int, int] = param("input (height, width), or one size", ge=1, repeat=True)
    rule: PlasticityRule = _rule()

    def output_size(self) -> tuple[int, int]:
        (h, w), (kh, kw) = self.input_size, self.kernel_size
        return (
            (h + 2 * self.padding - kh) // self.stride + 1,
            (w + 2 * self.padding - kw) // self.stride + 1,
        )

    def matrices(self):
        kh, kw = self.kernel_size
        return {"weight": (kh * kw * self.in_channels, self.out_channels)}

    def mvms_per_inference(self):
        return {"weight": math.prod(self.output_size())}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Recurrent(Layer):
    """A recurrent layer: input (in_features, gates·hidden) and recurrent (hidden, gates·hidden)
    matrices (``gates`` = 4 for an LSTM's i, f, g, o; 1 for an RNN or an STPN).

    ``steps`` is the sequence length of one sample (MVMs of each matrix per inference).
    """

    type: ClassVar[str] = "recurrent"
    in_features: int = _count("inputs")
    hidden_features: int = _count("hidden units")
    steps: int = _count("time steps of one sample", default=1)
    gates: int = _count("gate pre-activations per hidden unit (LSTM: 4)", default=1)
    rule: PlasticityRule = _rule()

    def matrices(self):
        width = self.gates * self.hidden_features
        return {
            "input": (self.in_features, width),
            "recurrent": (self.hidden_features, width),
        }

    def mvms_per_inference(self):
        return {"input": self.steps, "recurrent": self.steps}


@dataclasses.dataclass(frozen=True, kw_only=True)
class SpikingPopulation(Layer):
    """LIF neurons driven through a (n_inputs, n_neurons) synapse matrix.

    ``steps`` is the number of simulation time steps of one sample (MVMs per inference).
    ``neuron`` holds the LIF parameters as sorted (key, value) pairs.
    """

    type: ClassVar[str] = "spiking"
    n_inputs: int = _count("inputs")
    n_neurons: int = _count("neurons")
    steps: int = _count("simulation time steps of one sample", default=1)
    lateral_inhibition: bool = param("neurons inhibit each other", default=False)
    neuron: Pairs[Scalar] = param("LIF parameters", default=())
    rule: PlasticityRule = _rule()

    def matrices(self):
        return {"synapses": (self.n_inputs, self.n_neurons)}

    def mvms_per_inference(self):
        return {"synapses": self.steps}


LAYER_TYPES: dict[str, type[Layer]] = {
    cls.type: cls for cls in (Dense, Conv2d, Recurrent, SpikingPopulation)
}


#: A layer as a parameter type: a mapping whose ``type`` key names its class.
AnyLayer = Annotated[Layer, OneOf("type", LAYER_TYPES)]


@dataclasses.dataclass(frozen=True)
class Network:
    """A named sequence of layers."""

    name: str = param("network name")
    layers: tuple[AnyLayer, ...] = param("the layers, inputs first")

    def __post_init__(self):
        names = [layer.name for layer in self.layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidParameter(
                "layers", f"network '{self.name}': duplicate layer names {duplicates}"
            )

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"network '{self.name}' has no layer '{name}'")


def network_from_mapping(mapping: Any, *, source: str, key: str = "network") -> Network:
    """Parse a network section ``{name, layers: [...]}``; errors name the file and key."""
    return build(Network, mapping, source=source, prefix=key + ".")


def network_to_mapping(network: Network) -> dict[str, Any]:
    """The ``{name, layers}`` mapping that :func:`network_from_mapping` reads back."""
    return dump(network)
