"""Spiking jobs made runnable: inputs, neurons and tiles, the simulation in chunks, scores.

:class:`SpikingExperiment` follows the contract of :mod:`.experiment`; the driver
(:func:`memxbar.runtime.loop.run_job`) runs it. The engine (:mod:`memxbar.algorithms.snn`)
runs in jitted chunks of ``simulation.chunk_s``; every ``simulation.record_every_s`` inside a
chunk the true weights, the energy ledger, the spike counts and the fatigue efficacies are
recorded (nothing booked). Keys come from the window index, so a run is the same however it
is chunked.

The run file has the layout of :mod:`.run_file` (kind ``spiking``):
    /metrics/time_s, spike_counts (records, neurons), input_spikes,
      mean_weight_<group> (records, neurons), efficacy_<group> (FSTDP), and the scores over
      time: auc and flatness (a job with a target group), nmi (several neurons and groups);
    /metrics/raster_time_s, /metrics/raster_neuron: every output spike;
    /energy/<category>: learning energy (initial programming excluded) at every record, with
      per_synaptic_update_J, per_simulated_second_J and per_synaptic_event_J;
    /final: the scores and counts at the end; /weights/population: the snapshots;
    /conductances/population: the final programmed conductances (PCM).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..algorithms.snn import (
    AbstractSpikeSource,
    PoissonSpikes,
    SpikingNetwork,
    init_state,
    run_windows,
)
from ..compiler import Program, compile_network, program_to_yaml
from ..crossbar import COUNTERS, ENERGY_CATEGORIES, AbstractTile, EnergyLedger, figure
from ..devices import prng
from ..hw_configs import format_joules
from .chip import tile_factory
from .data.weather import WeatherSpikes
from .experiment import AbstractExperiment
from .run_file import ENERGY_KEYS, RunRecord
from .scores import selectivity, spiking_scores
from .spiking_job import LAYER, InputLayout, SpikingJob
from .trainer import ledger_row

__all__ = [
    "build_sources",
    "build_tile",
    "initial_weights",
    "run_records",
    "SpikingState",
    "SpikingExperiment",
]


def build_sources(job: SpikingJob, *, key) -> AbstractSpikeSource:
    """The job's input spike trains: Poisson groups (copy_prob) or latent-event groups."""
    groups = job.inputs.groups
    layout = job.layout
    rates = layout.input_rates_Hz
    if any(g.events is not None for g in groups):
        # A group without events is a group whose events never start.
        events = [g.events for g in groups]
        return WeatherSpikes.create(
            rates,
            layout.group,
            event_rate_Hz=[0.0 if e is None else e.rate_Hz for e in events],
            event_duration_s=[1.0 if e is None else e.duration_s for e in events],
            event_input_rate_Hz=[
                g.rate_Hz if e is None else e.input_rate_Hz
                for g, e in zip(groups, events, strict=True)
            ],
            key=key,
        )
    del key  # a Poisson source draws everything from the engine's window keys
    correlated = [i for i, g in enumerate(groups) if g.copy_prob > 0]
    mother = np.full(len(groups), -1)
    mother[correlated] = np.arange(len(correlated))
    return PoissonSpikes.create(
        rates,
        groups=mother[layout.group],
        copy_prob=np.array([g.copy_prob for g in groups])[layout.group],
    )


def initial_weights(job: SpikingJob, *, key):
    """(n_inputs, n_neurons) initial weights: uniform in w_init ± spread, within the rule's
    bounds."""
    p, r = job.plasticity, job.rule
    shape = (job.inputs.n_inputs, job.neurons.count)
    W = p.w_init + p.w_init_spread * jax.random.uniform(key, shape, minval=-1.0, maxval=1.0)
    return jnp.clip(W, r.w_min, r.w_max).astype(jnp.float32)


def build_tile(job: SpikingJob, *, key) -> AbstractTile:
    """The synapses on the job's chip (tiles split as the compiler places them), programmed."""
    chip = job.chip()
    device = job.device(chip) if job.hardware.tiles == "pcm" else None
    make_tile = tile_factory(chip, job.hardware.tiles, job.hardware.w_max, device=device)
    k_tile, k_weights, k_program = prng.split(key, 3)
    rows, cols = job.inputs.n_inputs, job.neurons.count
    tile = make_tile(LAYER, "synapses", rows, cols, key=k_tile)
    return tile.program_weights(initial_weights(job, key=k_weights), 0.0, key=k_program)


def _energy_J(ledger) -> jax.Array:
    return jnp.stack([ledger.energy_J(k) for k in ENERGY_CATEGORIES])


@eqx.filter_jit
def _records(net, tile, sources, state, n_records, windows_per_record, key, t0_s):
    def block(carry, _):
        tile, state = carry
        tile, state, traces = run_windows(
            net, tile, sources, state, windows_per_record, key=key, t0_s=t0_s
        )
        out = {
            "post_counts": jnp.sum(traces["post_counts"], axis=0),
            "pre_counts": jnp.sum(traces["pre_counts"], axis=0),
            "efficacy": jnp.mean(traces["efficacy"], axis=0),
            "weights": tile.true_weights(),
            "energy": _energy_J(tile.ledger),
        }
        if net.record_raster:
            out["raster"] = traces["raster"]
        return (tile, state), out

    (tile, state), out = jax.lax.scan(block, (tile, state), None, length=n_records)
    return tile, state, out


def run_records(net, tile, sources, state, n_records: int, windows_per_record: int, *, key):
    """Run ``n_records`` × ``windows_per_record`` windows (jitted), recording after each block.

    Returns (tile, state, records) with records stacked per block: ``post_counts``
    (n_neurons,) and ``pre_counts`` (n_inputs,) spikes of the block, ``efficacy`` (n_inputs,)
    mean fatigue efficacy over its windows, ``weights`` the true weights and ``energy`` the
    ledger's joules per category at its end, and ``raster`` (steps, n_neurons) when recorded.
    The run's chip time starts at 0 s.
    """
    return _records(
        net, tile, sources, state, n_records, windows_per_record, key, jnp.zeros((), jnp.float32)
    )


def _group_sums(values: np.ndarray, layout: InputLayout) -> np.ndarray:
    """(..., n_inputs) → (..., n_groups) sums over each group's inputs."""
    onehot = np.eye(layout.n_groups)[layout.group]
    return np.asarray(values, np.float64) @ onehot


class SpikingState(eqx.Module):
    """The state of a spiking run: the synapses, the engine, the inputs, the initial ledger."""

    tile: AbstractTile
    engine: object
    sources: AbstractSpikeSource
    initial: EnergyLedger


def _keys(key):
    """The run's keys: (spike sources, tile programming, simulation)."""
    return prng.split(key, 3)


class SpikingExperiment(AbstractExperiment):
    """A spiking job made runnable (see :mod:`.experiment` for the contract)."""

    job: SpikingJob
    net: SpikingNetwork
    program: Program = eqx.field(static=True)
    layout: InputLayout = eqx.field(static=True)
    steps_per_record: int = eqx.field(static=True)
    total_steps: int = eqx.field(static=True)
    chunk_steps: int = eqx.field(static=True)
    fingerprint: str = eqx.field(static=True, default="")

    @classmethod
    def create(cls, job: SpikingJob, *, seed: int) -> SpikingExperiment:
        """The experiment of ``job`` (its program compiled); ``seed`` is the run's seed."""
        del seed  # everything random is drawn from the run's key in init and chunk
        sim = job.simulation
        chip = job.chip()
        K = sim.window_steps
        return cls(
            job=job,
            net=job.engine,
            program=compile_network(job.network, chip, device=job.device(chip)),
            layout=job.layout,
            steps_per_record=sim.windows(sim.record_every_s) * K,
            total_steps=sim.windows(sim.duration_s) * K,
            chunk_steps=sim.windows(sim.chunk_s) * K,
        )

    def init(self, *, key) -> SpikingState:
        k_source, k_tile, _ = _keys(key)
        tile = build_tile(self.job, key=k_tile)
        return SpikingState(
            tile=tile,
            engine=init_state(self.net, tile.rows),
            sources=build_sources(self.job, key=k_source),
            initial=tile.ledger,
        )

    def chunk(self, state: SpikingState, n_steps: int, *, key):
        _, _, k_run = _keys(key)
        per_record = self.steps_per_record // self.net.window_steps
        tile, engine, records = run_records(
            self.net,
            state.tile,
            state.sources,
            state.engine,
            n_steps // self.steps_per_record,
            per_record,
            key=k_run,
        )
        return eqx.tree_at(lambda s: (s.tile, s.engine), state, (tile, engine)), records

    def history_rows(self, records, state: SpikingState) -> dict[str, np.ndarray]:
        out = jax.tree.map(np.asarray, records)
        layout, n_records = self.layout, out["post_counts"].shape[0]
        first_step = self.steps_done(state) - n_records * self.steps_per_record
        energy = out["energy"].astype(np.float64)
        energy = np.concatenate([energy, energy.sum(1, keepdims=True)], axis=1)
        rows = {
            "record_step": first_step + self.steps_per_record * np.arange(1, n_records + 1),
            "energy": energy - ledger_row(state.initial),
            "post_counts": out["post_counts"].astype(np.float64),
            "input_counts": _group_sums(out["pre_counts"], layout),
            "efficacy": _group_sums(out["efficacy"], layout)
            / np.bincount(layout.group, minlength=layout.n_groups),
            "weights": out["weights"].astype(np.float32),
        }
        if self.net.record_raster:
            when, who = np.nonzero(out["raster"].reshape(-1, state.tile.cols))
            rows["raster_step"] = (first_step + when).astype(np.int64)
            rows["raster_neuron"] = who.astype(np.int32)
        return rows

    def progress(self, history) -> dict[str, str]:
        seconds = self.steps_per_record * self.net.dt_s
        rate = float(history["post_counts"][-1].sum()) / (seconds * self.job.neurons.count)
        return {"rate": f"{rate:.3g} Hz", "E": format_joules(history["energy"][-1, -1])}

    def steps_done(self, state: SpikingState) -> int:
        return int(state.engine.window) * self.net.window_steps

    def next_stop(self, step: int) -> int:
        return min(step + self.chunk_steps, self.total_steps)

    def finish(self, state: SpikingState, history, *, key):
        del key  # nothing random is left: the scores are read from the learned weights
        return _record(self, state, history)


def _record(experiment: SpikingExperiment, state: SpikingState, history) -> RunRecord:
    job, tile = experiment.job, state.tile
    dt = job.simulation.dt_s
    no_spikes = {"raster_step": np.zeros(0, np.int64), "raster_neuron": np.zeros(0, np.int32)}
    history = no_spikes | history
    metrics = _metrics(experiment, history)
    end, start = tile.ledger.values(), state.initial.values()
    learned = {k: end[k] - start[k] for k in end}
    final = _final(experiment, state, history, learned)
    final |= {k: float(v[-1]) for k, v in metrics.items() if k in _SCORES}
    per = {
        "E_update": learned["update_events"],
        "E_second": final["duration_s"],
        "E_syn_event": final["synaptic_events"],
    }
    return layer_record(
        experiment,
        tile,
        history,
        layer=LAYER,
        metrics=metrics,
        energy_attrs={figure(n).run_attr: figure(n).value(learned, c) for n, c in per.items()},
        final=final,
        kind="spiking",
        raster={"time_s": history["raster_step"] * dt, "neuron": history["raster_neuron"]},
        setup=_setup(job, experiment.layout),
    )


def layer_record(experiment, tile: AbstractTile, history, *, layer: str, **fields) -> RunRecord:
    """The run record of a one-layer spiking experiment: what every such kind stores (job,
    program, metrics and energy at the recorded steps, the layer's weights and conductances)
    and the kind's own ``fields``; ``layer`` names the layer in the run file."""
    steps = history["record_step"]
    energy = history["energy"]
    g = tile.programmed_conductances()
    return RunRecord(
        job_yaml=experiment.job.text,
        program_yaml=program_to_yaml(experiment.program),
        metric_steps=steps,
        energy_steps=steps,
        energy={k: energy[:, i] for i, k in enumerate(ENERGY_KEYS)},
        weights={layer: history["weights"]},
        weight_steps={layer: steps},
        conductances={} if g is None else {layer: np.asarray(g)},
        **fields,
    )


def _metrics(experiment: SpikingExperiment, history) -> dict[str, np.ndarray]:
    """Activity, mean weight per group, fatigue efficacies and the scores at every record."""
    layout, weights, counts = experiment.layout, history["weights"], history["post_counts"]
    metrics: dict[str, np.ndarray] = {
        "time_s": history["record_step"] * experiment.job.simulation.dt_s,
        "spike_counts": counts,
        "input_spikes": history["input_counts"].sum(1),
    }
    # (records, neurons, groups) mean weight of every neuron on every group.
    means = np.stack([selectivity(W, layout.group, layout.n_groups) for W in weights])
    for g, name in enumerate(layout.names):
        metrics[f"mean_weight_{name}"] = means[:, :, g]
    if experiment.job.rule.fatigue is not None:
        for g, name in enumerate(layout.names):
            metrics[f"efficacy_{name}"] = history["efficacy"][:, g]
    fired = np.cumsum(counts, axis=0) > 0
    over_time = [
        spiking_scores(W, layout, active) for W, active in zip(weights, fired, strict=True)
    ]
    for name in over_time[0] if over_time else ():
        metrics[name] = np.array([s[name] for s in over_time])
    return metrics


def _final(experiment: SpikingExperiment, state: SpikingState, history, learned) -> dict:
    """Totals at the end: time, spikes, rates, every ledger counter of learning, energy."""
    tile, steps = state.tile, history["record_step"]
    duration = float(steps[-1] * experiment.job.simulation.dt_s)
    input_spikes = float(history["input_counts"].sum())
    output_spikes = float(history["post_counts"].sum())
    return {
        "duration_s": duration,
        "time_steps": int(steps[-1]),
        "n_inputs": int(tile.rows),
        "n_neurons": int(tile.cols),
        "input_spikes": input_spikes,
        "output_spikes": output_spikes,
        "post_rate_Hz": output_spikes / (duration * tile.cols),
        "input_rate_Hz": input_spikes / (duration * tile.rows),
        "synaptic_events": input_spikes * tile.cols,
        **{name: learned[name] for name in COUNTERS},
        "initial_programming_J": float(ledger_row(state.initial)[-1]),
        "training_energy_J": float(history["energy"][-1, -1]),
        "chip_time_end_s": duration,
    }


_SCORES = ("auc", "flatness", "nmi", "groups_learned")


def _setup(job: SpikingJob, layout: InputLayout) -> dict:
    """What a report needs to know about the job (stored in the run file's /setup)."""
    return {
        "tiles": job.hardware.tiles,
        "input_group": layout.group.astype(np.int32),
        "group_names": list(layout.names),
        "group_rates_Hz": layout.rates_Hz,
        "target_group": -1 if layout.target is None else layout.target,
    }
