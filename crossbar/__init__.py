"""Crossbar tiles built from device models, with periphery and an energy ledger."""

from .chip import ChipSpec, Periphery, TileGeometry, UpdateConfig, load_chip
from .converters import ADC, DAC, quantise
from .energy_figures import ENERGY_FIGURES, EnergyFigure, figure, figures_of_kind, figures_table
from .ideal_tile import IdealTile
from .ir_drop import ir_drop_attenuation
from .ledger import CATEGORY_COUNTERS, COUNTERS, ENERGY_CATEGORIES, EnergyLedger
from .pcm_tile import PCMTile
from .tile import AbstractTile
from .tiled import TiledMatrix, block_edges

__all__ = [
    "ADC",
    "AbstractTile",
    "CATEGORY_COUNTERS",
    "COUNTERS",
    "ChipSpec",
    "DAC",
    "ENERGY_CATEGORIES",
    "ENERGY_FIGURES",
    "EnergyFigure",
    "EnergyLedger",
    "IdealTile",
    "PCMTile",
    "Periphery",
    "TileGeometry",
    "TiledMatrix",
    "UpdateConfig",
    "block_edges",
    "figure",
    "figures_of_kind",
    "figures_table",
    "ir_drop_attenuation",
    "load_chip",
    "quantise",
]
