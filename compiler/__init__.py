"""The compiler floor (beside crossbar/, above devices/): the network IR, placement of its weight
matrices onto tiles, the Program and its files, and the mapping report with its estimates."""

from .network import (
    LAYER_TYPES,
    Conv2d,
    Dense,
    Layer,
    Network,
    PlasticityRule,
    Recurrent,
    SpikingPopulation,
    network_from_mapping,
    network_to_mapping,
)
from .placement import DoesNotFit, compile_network, split_blocks, tiles_needed
from .program import Block, InvalidPlacement, PartialSum, Program
from .program_io import (
    load_conductances,
    load_program,
    program_from_yaml,
    program_to_yaml,
    save_program,
)
from .report import mapping_report, mapping_summary

#: ``compile(network, chip) → Program`` (the same function as :func:`compile_network`).
compile = compile_network  # the design's name; shadows the builtin only in this namespace

__all__ = [
    "Block",
    "Conv2d",
    "Dense",
    "DoesNotFit",
    "InvalidPlacement",
    "LAYER_TYPES",
    "Layer",
    "Network",
    "PartialSum",
    "PlasticityRule",
    "Program",
    "Recurrent",
    "SpikingPopulation",
    "compile",
    "compile_network",
    "load_conductances",
    "load_program",
    "mapping_report",
    "mapping_summary",
    "network_from_mapping",
    "network_to_mapping",
    "program_from_yaml",
    "program_to_yaml",
    "save_program",
    "split_blocks",
    "tiles_needed",
]
