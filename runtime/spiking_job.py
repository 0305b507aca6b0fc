"""Spiking job files (``kind: spiking``): what `memxbar run` reads for an STDP/FSTDP run.

A spiking job describes one plastic layer of the spiking engine
(:mod:`memxbar.algorithms.snn`): groups of
input spike trains, a LIF population, the plasticity rule (STDP, or FSTDP with fatigue), the
hardware (a chip preset with overrides, ideal or PCM tiles), how learning writes the tiles
(initial weights, depression mode, pulse schedule, reads and refreshes) and the simulation
(duration, time step, update window, chunks, recording). Example::

    kind: spiking
    name: fstdp_pcm
    seed: 0
    inputs:
      groups:
        - {name: correlated, count: 20, rate_Hz: 10.0, copy_prob: 0.25, target: true}
        - {name: r10, count: 20, rate_Hz: 10.0}
        - name: rain_a              # a group under latent events (the weather workload)
          count: 20
          rate_Hz: 5.0
          events: {rate_Hz: 3.0, duration_s: 0.02, input_rate_Hz: 40.0}
    neurons: {count: 1, tau_m_s: 0.005, psp_mV: 50.0}
    rule: {a_plus: 0.05, a_minus: 0.01, tau_plus_s: 0.01, tau_minus_s: 0.02,
           fatigue: {use: 0.5, tau_s: 2.0}}
    hardware: {chip: pcm_256, tiles: pcm, w_max: 1.0,
               chip_overrides: {tile.devices_per_side: 2}}
    plasticity: {w_init: 0.5, depression: pair, threshold_pulses: 1.0}
    simulation: {duration_s: 50.0, dt_s: 0.001, window_steps: 10, chunk_s: 10.0,
                 record_every_s: 1.0}

:func:`memxbar.runtime.job.load_job` reads it (strictly: every problem is a ConfigError
naming the file and the dotted key); :meth:`SpikingJob.experiment` makes it runnable
(:mod:`.spiking_run`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, Literal

import equinox as eqx
import numpy as np

from ..algorithms.snn import LIF, STDP, PulseSchedule, SpikingNetwork
from ..compiler.network import Network, PlasticityRule, SpikingPopulation
from ..hw_configs import (
    ConfigError,
    InvalidParameter,
    brief,
    param,
    parse_yaml,
    section,
    written_key,
)
from .experiment import register_kind
from .job import AbstractJob

__all__ = [
    "EventsConfig",
    "InputGroupConfig",
    "InputsConfig",
    "PlasticityConfig",
    "SimulationConfig",
    "SpikingJob",
    "InputLayout",
    "LAYER",
]

#: Name of the plastic layer in the compiled program and the run file (/weights/population).
LAYER = "population"


class EventsConfig(eqx.Module):
    """Latent events that drive a whole group (the "rain" of the weather workload)."""

    rate_Hz: float = param("onsets per second of the group's events (a Poisson process)", ge=0.0)
    duration_s: float = param("how long one event lasts, s", gt=0.0)
    input_rate_Hz: float = param("rate of each input of the group during an event, Hz", ge=0.0)


class InputGroupConfig(eqx.Module):
    """A group of input spike trains of one rate."""

    name: str = param("group name (metrics mean_weight_<name>)", static=True)
    count: int = param("inputs in the group", ge=1)
    rate_Hz: float = param("rate of each input (outside events), Hz", ge=0.0)
    copy_prob: float = param(
        "probability that an input copies the group's common 'mother' train in a step "
        "(timing correlation at an unchanged rate; 0: independent inputs)",
        ge=0.0,
        lt=1.0,
        default=0.0,
    )
    events: EventsConfig | None = param(
        "latent events driving the group (weather workload); null: none", default=None
    )
    target: bool = param(
        "the group a learner should single out: the run reports the AUC of its weights over "
        "the other inputs' and the flatness of the others across rates",
        default=False,
        static=True,
    )

    def __check_init__(self):
        if not self.name or not self.name.replace("_", "").isalnum():
            raise InvalidParameter(
                "name", f"expected letters, digits and '_' (a metric name), got {brief(self.name)}"
            )
        if self.copy_prob > 0 and self.events is not None:
            raise InvalidParameter(
                "events", "a group is correlated either by copy_prob or by events, not both"
            )


class InputsConfig(eqx.Module):
    """The presynaptic spike trains: groups of inputs, in input order."""

    groups: tuple[InputGroupConfig, ...] = param("input groups, in input order")

    def __check_init__(self):
        names = [g.name for g in self.groups]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise InvalidParameter(
                    f"groups[{i}].name", f"group name {brief(name)} is used twice"
                )
        with_events = [g.events is not None for g in self.groups]
        if any(with_events) and any(g.copy_prob > 0 for g in self.groups):
            i = next(i for i, g in enumerate(self.groups) if g.copy_prob > 0)
            raise InvalidParameter(
                f"groups[{i}].copy_prob",
                "groups with events and groups with copy_prob cannot be mixed in one job",
            )
        if sum(g.target for g in self.groups) > 1:
            raise InvalidParameter("groups", "at most one group can be the target")

    @property
    def n_inputs(self) -> int:
        return sum(g.count for g in self.groups)


class PlasticityConfig(eqx.Module):
    """How learning writes the tiles."""

    w_init: float = param("initial weight of every synapse")
    w_init_spread: float = param(
        "initial weights uniform in w_init ± this (breaks a population's symmetry)",
        ge=0.0,
        default=0.0,
    )
    depression: Literal["pair", "reset"] = param(
        "PCM depression: 'pair' (SET pulses on G-) or 'reset' (RESET both devices and "
        "re-program the lowered weight)",
        default="pair",
        static=True,
    )
    threshold_pulses: float = param(
        "pulse schedule: a synapse is written once its accumulated change reaches this many "
        "nominal pulses (0: every window's change as it is)",
        ge=0.0,
        default=1.0,
    )
    max_pulses_per_write: int = param(
        "pulse schedule: at most this many pulses per synapse and write, the rest waits "
        "(0: only the chip's cap)",
        ge=0,
        default=0,
    )
    read_every_windows: int = param("read the weights every this many windows", ge=1, default=1)
    refresh_every_windows: int = param(
        "refresh saturated pairs every this many windows (0: never)", ge=0, default=0
    )
    write_every_windows: int = param(
        "send the accumulated changes to the tiles every this many windows (a write period; "
        "reads happen at the period's start)",
        ge=1,
        default=1,
    )


class SimulationConfig(eqx.Module):
    """Simulated time and how it is cut into windows, chunks and records."""

    duration_s: float = param("simulated time, s", gt=0.0)
    chunk_s: float = param(
        "simulated seconds per jitted chunk (progress and checkpoint granularity)", gt=0.0
    )
    record_every_s: float = param(
        "metrics, weight snapshots and energy every this many simulated seconds", gt=0.0
    )
    dt_s: float = param("time step, s", gt=0.0, default=1e-3)
    window_steps: int = param("steps per update window (weights held within it)", ge=1, default=10)
    record_raster: bool = param("write every output spike (the raster)", default=True, static=True)

    def __check_init__(self):
        window = self.window_steps * self.dt_s
        for name, multiple_of, what in (
            ("record_every_s", window, "the update window (window_steps × dt_s)"),
            ("chunk_s", self.record_every_s, "record_every_s"),
            ("duration_s", self.record_every_s, "record_every_s"),
        ):
            value = getattr(self, name)
            ratio = value / multiple_of
            if round(ratio) < 1 or not math.isclose(ratio, round(ratio), rel_tol=1e-9):
                raise InvalidParameter(
                    name,
                    f"must be a positive multiple of {what} = {multiple_of:g} s, got {value:g} s",
                )

    @property
    def window_s(self) -> float:
        return self.window_steps * self.dt_s

    def windows(self, seconds: float) -> int:
        """Whole update windows in ``seconds``."""
        return round(seconds / self.window_s)


@dataclasses.dataclass(frozen=True)
class InputLayout:
    """Which input belongs to which group (inputs are numbered group after group).

    Attributes:
        group: (n_inputs,) group index of each input.
        names: group names.
        rates_Hz: (n_groups,) rate of each group (outside events), Hz.
        target: index of the target group, or None.
    """

    group: np.ndarray
    names: tuple[str, ...]
    rates_Hz: np.ndarray
    target: int | None

    @classmethod
    def from_setup(cls, setup: dict) -> InputLayout:
        """The layout a run file stores in /setup (see :mod:`.run_file`)."""
        target = int(setup["target_group"])
        return cls(
            group=np.asarray(setup["input_group"]),
            names=tuple(setup["group_names"]),
            rates_Hz=np.asarray(setup["group_rates_Hz"], np.float64),
            target=None if target < 0 else target,
        )

    @property
    def n_groups(self) -> int:
        return len(self.names)

    @property
    def input_rates_Hz(self) -> np.ndarray:
        """(n_inputs,) rate of each input, Hz."""
        return self.rates_Hz[self.group]


@register_kind
class SpikingJob(AbstractJob):
    """A complete spiking job file."""

    kind: ClassVar[str] = "spiking"
    run_options: ClassVar[tuple[str, ...]] = ()
    inputs: InputsConfig = section("input spike trains")
    neurons: LIF = section("the LIF population")
    rule: STDP = section("the plasticity rule")
    plasticity: PlasticityConfig = section("how learning writes the tiles")
    simulation: SimulationConfig = section("simulated time, windows, chunks, records")

    @property
    def layout(self) -> InputLayout:
        groups = self.inputs.groups
        target = [i for i, g in enumerate(groups) if g.target]
        return InputLayout(
            group=np.repeat(np.arange(len(groups)), [g.count for g in groups]),
            names=tuple(g.name for g in groups),
            rates_Hz=np.array([g.rate_Hz for g in groups], np.float64),
            target=target[0] if target else None,
        )

    @property
    def network(self) -> Network:
        """The compiler's view of the job: one spiking population on a synapse matrix."""
        rule = self.rule
        params = {
            k: getattr(rule, k)
            for k in ("a_plus", "a_minus", "tau_plus_s", "tau_minus_s", "a_post", "mu")
        }
        if rule.fatigue is not None:
            params |= {"fatigue_use": rule.fatigue.use, "fatigue_tau_s": rule.fatigue.tau_s}
        neuron = {
            k: getattr(self.neurons, k)
            for k in ("tau_m_s", "psp_V", "refractory_s", "v_threshold_V", "lateral_inhibition_V")
        }
        layer = SpikingPopulation(
            name=LAYER,
            n_inputs=self.inputs.n_inputs,
            n_neurons=self.neurons.count,
            steps=1,
            lateral_inhibition=self.neurons.winner_take_all
            or self.neurons.lateral_inhibition_V > 0,
            neuron=tuple(sorted(neuron.items())),
            rule=PlasticityRule.create(rule.name, params),
        )
        return Network(self.name, (layer,))

    @property
    def engine(self) -> SpikingNetwork:
        """The engine settings of the job (neurons, rule, windows, writes, recording)."""
        return _engine(self.neurons, self.rule, self.plasticity, self.simulation)

    def check_sections(self, source: str) -> None:
        """The engine accepts the neurons, rule, plasticity and simulation together, and a
        write period divides a record."""
        try:
            _engine(self.neurons, self.rule, self.plasticity, self.simulation)
        except InvalidParameter as err:
            # The engine's settings come from these two sections, under the same names.
            simulation = {f.name for f in dataclasses.fields(SimulationConfig)}
            where = "simulation" if err.field in simulation else "plasticity"
            key = written_key(parse_yaml(self.text, source), f"{where}.{err.field}")
            raise ConfigError(source, key, err.message) from None
        record = self.simulation.windows(self.simulation.record_every_s)
        write = self.plasticity.write_every_windows
        if record % write:
            raise ConfigError(
                source,
                "plasticity.write_every_windows",
                f"must divide the windows per record (simulation.record_every_s = {record} "
                f"windows), got {write}",
            )

    def experiment(self, *, seed: int):
        """The runnable experiment (:class:`~.spiking_experiment.SpikingExperiment`)."""
        from .spiking_experiment import SpikingExperiment

        return SpikingExperiment.create(self, seed=seed)


def _engine(
    lif: LIF, rule: STDP, plasticity: PlasticityConfig, simulation: SimulationConfig
) -> SpikingNetwork:
    p, s = plasticity, simulation
    return SpikingNetwork(
        lif=lif,
        rule=rule,
        dt_s=s.dt_s,
        window_steps=s.window_steps,
        depression=p.depression,
        schedule=PulseSchedule(p.threshold_pulses, p.max_pulses_per_write),
        read_every_windows=p.read_every_windows,
        refresh_every_windows=p.refresh_every_windows,
        write_every_windows=p.write_every_windows,
        record_raster=s.record_raster,
        record_inputs=True,
    )
