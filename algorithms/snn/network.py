"""The settings of one plastic spiking layer: neurons, rule, windows, writes and records.

A parameter class: :func:`memxbar.hw_configs.build` can read it from a mapping, and its
invariants are checked once, at construction. The engine (:mod:`.engine`) runs it.
"""

from __future__ import annotations

import equinox as eqx

from ...hw_configs import InvalidParameter, param, section
from .bounds import check_bounds
from .neurons import LIF
from .rules import AbstractSpikingRule
from .short_term import ShortTermSTDP
from .writes import DEPRESSIONS, Depression, PulseSchedule

__all__ = ["SpikingNetwork"]


class SpikingNetwork(eqx.Module):
    """The settings of one plastic spiking layer (inputs → tile → LIF population)."""

    lif: LIF = section("the neurons")
    rule: AbstractSpikingRule | None = param(
        "the plasticity rule (STDP, FSTDP with fatigue), or None: static weights, no fatigue"
    )
    short_term: ShortTermSTDP | None = param(
        "short-term STDP: a fast term F on a fast-weight tile added to the weights (G = W + F), "
        "or None",
        default=None,
    )
    rest_every_steps: int = param(
        "the neurons return to rest every this many steps, e.g. when a new image is shown "
        "after a blank longer than the membrane time constant (0: never)",
        ge=0,
        default=0,
        static=True,
    )
    dt_s: float = param("time step, s", gt=0.0, default=1e-3, static=True)
    window_steps: int = param(
        "steps per update window K (weights held within a window, updated after it; 1: every "
        "step); a run's length must be a multiple of it",
        ge=1,
        default=10,
        static=True,
    )
    depression: Depression = param(
        "how a PCM tile depresses: 'pair' (SET pulses on G-) or 'reset' (RESET both devices "
        "and re-program the lowered weight), see apply_delta",
        default="pair",
        static=True,
    )
    schedule: PulseSchedule = param(
        "when accumulated changes are written to a tile", default=PulseSchedule()
    )
    read_every_windows: int = param(
        "read the weights (tile.read_weights: the rule's weight dependence, the base of "
        "RESET-and-reprogram) every this many windows; in between the controller uses the last "
        "read plus the changes it has written since (a full read digitises every synapse)",
        ge=1,
        default=1,
        static=True,
    )
    refresh_every_windows: int = param(
        "call tile.refresh after every this many windows (0: never; with 'pair' depression "
        "both devices of a pair climb and need it)",
        ge=0,
        default=0,
        static=True,
    )
    write_every_windows: int = param(
        "send the accumulated changes to the tile only after every this many windows (M, a "
        "write period, whose reads all happen at its start: see the module docstring); "
        "read_every_windows, refresh_every_windows and weights_every_windows are multiples of M",
        ge=1,
        default=1,
        static=True,
    )
    record_raster: bool = param("return the neurons' spikes per step", default=False, static=True)
    record_inputs: bool = param(
        "return input spike counts and efficacies per window", default=False, static=True
    )
    record_potential: bool = param(
        "return each neuron's peak membrane potential per window (peak_V)",
        default=False,
        static=True,
    )
    record_fast: bool = param(
        "return the fast term F (n_inputs, n_neurons) at the end of every window",
        default=False,
        static=True,
    )
    weights_every_windows: int = param(
        "return the true weights every this many windows (0: never)",
        ge=0,
        default=0,
        static=True,
    )

    def __check_init__(self):
        check_bounds(self)
        if self.depression not in DEPRESSIONS:
            raise InvalidParameter(
                "depression", f"expected 'pair' or 'reset', got {self.depression!r}"
            )
        if self.record_fast and self.short_term is None:
            raise InvalidParameter("record_fast", "needs short_term (there is no fast term)")
        # Reads open, refreshes and snapshots close a write period.
        M = self.write_every_windows
        for name in ("read_every_windows", "refresh_every_windows", "weights_every_windows"):
            if getattr(self, name) % M:
                raise InvalidParameter(
                    name,
                    f"must be a multiple of write_every_windows ({M}), got {getattr(self, name)}",
                )

    @property
    def window_s(self) -> float:
        """Duration of one update window, s."""
        return self.window_steps * self.dt_s
