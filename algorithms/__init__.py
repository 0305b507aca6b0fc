"""Learning algorithms written against the tile interface, and the registry the runtime uses."""

from .base import AbstractAlgorithm
from .readout import LinearReadout, train_readout
from .softhebb import ShallowSoftHebb, SoftHebbParams
from .softhebb_cnn import ConvSoftHebb

__all__ = [
    "ALGORITHMS",
    "AbstractAlgorithm",
    "ConvSoftHebb",
    "LinearReadout",
    "ShallowSoftHebb",
    "SoftHebbParams",
    "algorithm_for",
    "train_readout",
]

#: Rule name of a network's layers → the algorithm that trains such a network.
ALGORITHMS = {"softhebb": ShallowSoftHebb, "softhebb_conv": ConvSoftHebb}


def algorithm_for(network) -> AbstractAlgorithm:
    """The algorithm that trains ``network``, chosen by its layers' rule names."""
    rules = sorted({layer.rule.name for layer in network.layers})
    for rule in rules:
        if rule in ALGORITHMS:
            return ALGORITHMS[rule].from_network(network)
    raise ValueError(
        f"network '{network.name}': no algorithm for rules {rules} (known: {', '.join(ALGORITHMS)})"
    )
