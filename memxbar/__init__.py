"""memxbar: emulate, compile for and learn on phase-change-memory crossbar chips.

The floors install as subpackages (``memxbar.devices``, ``memxbar.crossbar``, ...). Public
names are re-exported here lazily, so ``import memxbar.devices`` does not pay for the runtime.
"""

from __future__ import annotations

import importlib
import importlib.metadata

try:
    __version__ = importlib.metadata.version("memxbar")  # pyproject.toml's, the one place
except importlib.metadata.PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"

_EXPORTS = {
    # devices
    "load_preset": "memxbar.devices",
    "AbstractDevice": "memxbar.devices",
    "DeviceState": "memxbar.devices",
    "StatisticalPCM": "memxbar.devices",
    "PulsePCM": "memxbar.devices",
    # crossbar
    "AbstractTile": "memxbar.crossbar",
    "IdealTile": "memxbar.crossbar",
    "PCMTile": "memxbar.crossbar",
    "TiledMatrix": "memxbar.crossbar",
    "EnergyLedger": "memxbar.crossbar",
    "ChipSpec": "memxbar.crossbar",
    "load_chip": "memxbar.crossbar",
    # compiler
    "Network": "memxbar.compiler",
    "Program": "memxbar.compiler",
    "compile_network": "memxbar.compiler",
    "save_program": "memxbar.compiler",
    "load_program": "memxbar.compiler",
    "mapping_report": "memxbar.compiler",
    "DoesNotFit": "memxbar.compiler",
    # runtime
    "load_job": "memxbar.runtime.job",
    "run_job": "memxbar.runtime.loop",
    "read_run_file": "memxbar.runtime.run_file",
    "ConfigError": "memxbar.hw_configs",
}

__all__ = ["__version__", *_EXPORTS]


def __dir__():
    return sorted([*globals(), *_EXPORTS])


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'memxbar' has no attribute {name!r}")
