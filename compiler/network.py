"""The network IR: layers, the weight matrices they need, and their plasticity rules.

A network is a sequence of layers. Each layer names the weight matrices it stores on
crossbars (``matrices``: name → (rows, cols), rows = inputs), how many matrix-vector products
one inference needs per matrix (``mvms_per_inference``), and its plasticity rule (a name and
hyperparameters that the algorithm of that name interprets). The IR is plain frozen
dataclasses, hashable and comparable, so a Program that holds it round-trips exactly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar

from ..hw_configs import ConfigError, brief

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
]


@dataclasses.dataclass(frozen=True)
class PlasticityRule:
    """A learning rule by name with its hyperparameters (numbers, text or flags).

    ``params`` is stored as a sorted tuple of (key, value) pairs so the rule is hashable.
    """

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def create(cls, name: str, params: Mapping[str, Any] | None = None) -> PlasticityRule:
        return cls(name, tuple(sorted((params or {}).items())))

    def as_dict(self) -> dict[str, Any]:
        return dict(self.params)

    def get(self, key: str, default: Any = None) -> Any:
        return self.as_dict().get(key, default)


NO_RULE = PlasticityRule("none")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Layer:
    """Base of all layers; ``name`` is unique within a network."""

    type: ClassVar[str] = ""
    name: str

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
    in_features: int
    out_features: int
    rule: PlasticityRule = NO_RULE

    def matrices(self):
        return {"weight": (self.in_features, self.out_features)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Conv2d(Layer):
    """A 2-D convolution mapped by im2col: one shared (kh·kw·in_channels, out_channels) matrix.

    Every output position is one MVM of the shared matrix (weight sharing).
    """

    type: ClassVar[str] = "conv2d"
    in_channels: int
    out_channels: int
    kernel_size: tuple[int, int]
    stride: int = 1
    padding: int = 0
    input_size: tuple[int, int]
    rule: PlasticityRule = NO_RULE

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
    """A recurrent layer: input (in_features, hidden) and recurrent (hidden, hidden) matrices.

    ``steps`` is the sequence length of one sample (MVMs of each matrix per inference).
    """

    type: ClassVar[str] = "recurrent"
    in_features: int
    hidden_features: int
    steps: int = 1
    rule: PlasticityRule = NO_RULE

    def matrices(self):
        return {
            "input": (self.in_features, self.hidden_features),
            "recurrent": (self.hidden_features, self.hidden_features),
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
    n_inputs: int
    n_neurons: int
    steps: int = 1
    lateral_inhibition: bool = False
    neuron: tuple[tuple[str, Any], ...] = ()
    rule: PlasticityRule = NO_RULE

    def matrices(self):
        return {"synapses": (self.n_inputs, self.n_neurons)}

    def mvms_per_inference(self):
        return {"synapses": self.steps}


LAYER_TYPES: dict[str, type[Layer]] = {
    cls.type: cls for cls in (Dense, Conv2d, Recurrent, SpikingPopulation)
}


@dataclasses.dataclass(frozen=True)
class Network:
    """A named sequence of layers."""

    name: str
    layers: tuple[Layer, ...]

    def __post_init__(self):
        names = [layer.name for layer in self.layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"network '{self.name}': duplicate layer names {duplicates}")

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"network '{self.name}' has no layer '{name}'")


def _layer_from_mapping(entry: Any, source: str, key: str) -> Layer:
    if not isinstance(entry, Mapping):
        raise ConfigError(source, key, f"expected a mapping describing a layer, got {brief(entry)}")
    kind = entry.get("type")
    if kind not in LAYER_TYPES:
        raise ConfigError(
            source, f"{key}.type", f"expected one of {', '.join(LAYER_TYPES)}, got {brief(kind)}"
        )
    cls = LAYER_TYPES[kind]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for name, value in entry.items():
        if name == "type":
            continue
        if name not in fields:
            raise ConfigError(
                source,
                f"{key}.{name}",
                f"is not a key of a {kind} layer (known: type, {', '.join(fields)})",
            )
        kwargs[name] = _field_value(cls, fields[name], value, source, f"{key}.{name}")
    for name, field in fields.items():
        if name not in kwargs and field.default is dataclasses.MISSING:
            raise ConfigError(source, f"{key}.{name}", f"is missing (a {kind} layer needs it)")
    return cls(**kwargs)


def _field_value(cls, field: dataclasses.Field, value: Any, source: str, key: str) -> Any:
    name = field.name
    if name == "name":
        if not isinstance(value, str) or not value:
            raise ConfigError(source, key, f"expected a non-empty name, got {brief(value)}")
        return value
    if name == "rule":
        return _rule_from_mapping(value, source, key)
    if name == "neuron":
        if not isinstance(value, Mapping):
            raise ConfigError(
                source, key, f"expected a mapping of LIF parameters, got {brief(value)}"
            )
        return tuple(sorted(value.items()))
    if name in ("kernel_size", "input_size"):
        pair = [value, value] if isinstance(value, int) and not isinstance(value, bool) else value
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in pair)
        ):
            raise ConfigError(source, key, f"expected two positive integers, got {brief(value)}")
        return tuple(pair)
    if name == "lateral_inhibition":
        if not isinstance(value, bool):
            raise ConfigError(source, key, f"expected true or false, got {brief(value)}")
        return value
    minimum = 0 if name == "padding" else 1
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(source, key, f"expected an integer ≥ {minimum}, got {brief(value)}")
    return value


def _rule_from_mapping(value: Any, source: str, key: str) -> PlasticityRule:
    if isinstance(value, str):
        return PlasticityRule.create(value)
    if not isinstance(value, Mapping) or "name" not in value:
        raise ConfigError(
            source, key, f"expected a rule name or {{name, params}}, got {brief(value)}"
        )
    unknown = set(value) - {"name", "params"}
    if unknown:
        raise ConfigError(source, f"{key}.{sorted(unknown)[0]}", "is not a key of a rule")
    params = value.get("params") or {}
    if not isinstance(params, Mapping):
        raise ConfigError(source, f"{key}.params", f"expected a mapping, got {brief(params)}")
    for k, v in params.items():
        if not isinstance(v, int | float | str | bool):
            raise ConfigError(source, f"{key}.params.{k}", f"expected a scalar, got {brief(v)}")
    return PlasticityRule.create(str(value["name"]), params)


def network_from_mapping(mapping: Any, *, source: str, key: str = "network") -> Network:
    """Parse a network section ``{name, layers: [...]}``; errors name the file and key."""
    if not isinstance(mapping, Mapping):
        raise ConfigError(source, key, f"expected a mapping, got {brief(mapping)}")
    unknown = set(mapping) - {"name", "layers"}
    if unknown:
        raise ConfigError(source, f"{key}.{sorted(unknown)[0]}", "is not a key (name, layers)")
    layers = mapping.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ConfigError(source, f"{key}.layers", "expected a non-empty list of layers")
    parsed = tuple(
        _layer_from_mapping(entry, source, f"{key}.layers[{i}]") for i, entry in enumerate(layers)
    )
    try:
        return Network(str(mapping.get("name", "network")), parsed)
    except ValueError as err:
        raise ConfigError(source, f"{key}.layers", str(err)) from None
