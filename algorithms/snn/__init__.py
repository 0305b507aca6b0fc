"""Spiking networks on tiles: LIF neurons, spiking plasticity rules, how their weight changes
reach a tile, the windowed engine and generic spike sources.

Algorithm logic written against the tile interface (:class:`memxbar.crossbar.AbstractTile`):
the engine decides when to read, write and refresh a tile; tiles never know neurons. The
engine's settings (:class:`SpikingNetwork`, :class:`LIF`, :class:`STDP`, :class:`Fatigue`,
:class:`PulseSchedule`) are parameter classes that :func:`memxbar.hw_configs.build` reads
from a job file, checked once at construction.
"""

from .engine import SpikingState, init_state, run_chunk, run_windows, simulate
from .network import SpikingNetwork
from .neurons import LIF, LIFState
from .rules import STDP, AbstractSpikingRule, Fatigue, PreState
from .short_term import ShortTermState, ShortTermSTDP
from .sources import AbstractSpikeSource, PoissonSpikes, RateCodedImages, TimedPatterns
from .supervised import TargetPatternRule
from .writes import DEPRESSIONS, Depression, PulseSchedule, apply_delta

__all__ = [
    "AbstractSpikeSource",
    "AbstractSpikingRule",
    "DEPRESSIONS",
    "Depression",
    "Fatigue",
    "LIF",
    "LIFState",
    "PoissonSpikes",
    "PreState",
    "PulseSchedule",
    "RateCodedImages",
    "STDP",
    "ShortTermSTDP",
    "ShortTermState",
    "SpikingNetwork",
    "SpikingState",
    "TargetPatternRule",
    "TimedPatterns",
    "apply_delta",
    "init_state",
    "run_chunk",
    "run_windows",
    "simulate",
]
