"""Crossbar tiles built from device models, with periphery and an energy ledger."""

from .chip import ChipSpec, Periphery, TileGeometry, UpdateConfig, load_chip
from .converters import ADC, DAC, quantise
from .ideal_tile import IdealTile
from .ir_drop import ir_drop_attenuation
from .ledger import COUNTERS, ENERGY_CATEGORIES, EnergyLedger
from .pcm_tile import PCMTile
from .tile import AbstractTile
from .tiled import TiledMatrix, block_edges

__all__ = [
    "ADC",
    "AbstractTile",
    "COUNTERS",
    "ChipSpec",
    "DAC",
    "ENERGY_CATEGORIES",
    "EnergyLedger",
    "IdealTile",
    "PCMTile",
    "Periphery",
    "TileGeometry",
    "TiledMatrix",
    "UpdateConfig",
    "block_edges",
    "ir_drop_attenuation",
    "load_chip",
    "quantise",
]
