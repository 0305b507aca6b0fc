"""The algorithms floor: learning written against the tile interface (never conductances).

Rate-based learners live here (SoftHebb, its convolutional form, the readout); spiking
networks (neurons, spiking rules, the windowed engine, spike sources) in :mod:`.snn`.
"""

from ..hw_configs import InvalidParameter, brief
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
    """The algorithm that trains ``network``, chosen by its layers' rule names.

    Raises:
        InvalidParameter (a ValueError) whose ``field`` is the key in the network section:
            ``layers[i].rule.name`` for a rule no algorithm knows, else the algorithm's own.
    """
    for i, layer in enumerate(network.layers):
        if layer.rule.name not in ALGORITHMS:
            raise InvalidParameter(
                f"layers[{i}].rule.name",
                f"no algorithm for rule {brief(layer.rule.name)} (known: {', '.join(ALGORITHMS)})",
            )
    rules = sorted({layer.rule.name for layer in network.layers})
    return ALGORITHMS[rules[0]].from_network(network)
