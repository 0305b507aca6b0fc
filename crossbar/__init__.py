"""The crossbar floor: tiles, the one interface every algorithm programs against.

:class:`AbstractTile` (mvm, transposed read, update, weight read, refresh; pure, booked in an
:class:`EnergyLedger`) with :class:`IdealTile` (exact float weights, no energy) and
:class:`PCMTile` (differential pairs of PCM devices with DAC/ADC periphery, drift
compensation, IR drop, pulse schemes); :class:`TiledMatrix` spreads a matrix over tiles; the
chip description (:class:`ChipSpec`) and the energy figures' definitions. For recurrent
networks trained off chip: :class:`AwareTile` (float weights read as a PCM tile reads them,
for hardware-aware training) and fast weights (:class:`DigitalFastTile`, and
:class:`VolatileTile` on volatile devices). Builds on devices.
"""

from .aware_tile import AwareTile, with_device_draw
from .chip import ChipSpec, Periphery, TileGeometry, UpdateConfig, load_chip
from .converters import ADC, DAC, quantise
from .energy_figures import ENERGY_FIGURES, EnergyFigure, figure, figures_of_kind, figures_table
from .fast_weights import AbstractFastTile, DigitalFastTile
from .ideal_tile import IdealTile
from .ir_drop import ir_drop_attenuation
from .ledger import (
    CATEGORY_COUNTERS,
    COUNTERS,
    ENERGY_CATEGORIES,
    EnergyLedger,
    with_empty_ledgers,
)
from .pcm_tile import PCMTile
from .tile import AbstractTile
from .tiled import TiledMatrix, block_edges
from .volatile_tile import VolatileTile

__all__ = [
    "ADC",
    "AbstractFastTile",
    "AbstractTile",
    "AwareTile",
    "CATEGORY_COUNTERS",
    "COUNTERS",
    "ChipSpec",
    "DAC",
    "DigitalFastTile",
    "ENERGY_CATEGORIES",
    "ENERGY_FIGURES",
    "EnergyFigure",
    "EnergyLedger",
    "with_empty_ledgers",
    "IdealTile",
    "PCMTile",
    "Periphery",
    "TileGeometry",
    "TiledMatrix",
    "UpdateConfig",
    "VolatileTile",
    "with_device_draw",
    "block_edges",
    "figure",
    "figures_of_kind",
    "figures_table",
    "ir_drop_attenuation",
    "load_chip",
    "quantise",
]
