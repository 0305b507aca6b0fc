"""Running a spiking job: build inputs, neurons and tiles, simulate in chunks, write the run file.

:func:`run_spiking_job` is the spiking counterpart of :func:`memxbar.runtime.run.run_job`:
the engine (:mod:`memxbar.algorithms.snn`) runs in jitted chunks of ``simulation.chunk_s``
with a progress bar; after every chunk the state (tiles, neurons, traces, accumulators) and
the history are checkpointed atomically, and ``resume=True`` continues an interrupted run to a
bit-identical run file. Inside a chunk, every ``simulation.record_every_s`` the true weights,
the energy ledger, the spike counts and the fatigue efficacies are recorded (nothing booked).

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

import hashlib
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..algorithms.snn import AbstractSpikeSource, PoissonSpikes, init_state, run_windows
from ..compiler import compile_network, program_to_yaml
from ..crossbar import COUNTERS, ENERGY_CATEGORIES, AbstractTile, figure
from ..crossbar.ledger import format_joules
from .checkpoint import load_checkpoint, save_checkpoint
from .chip import tile_factory
from .fstdp_benchmark import auc, rate_flatness
from .interrupt import RunInterrupted, stop_if_requested, stop_requested
from .outputs import claim_outputs
from .progress import Progress
from .run_file import RunRecord, write_run_file
from .spiking_job import LAYER, InputLayout, SpikingJob
from .weather import WeatherSpikes, input_nmi, preferred_groups, selectivity

__all__ = [
    "build_sources",
    "build_tile",
    "initial_weights",
    "run_records",
    "scores",
    "run_spiking_job",
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
    k_tile, k_weights, k_program = jax.random.split(key, 3)
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


def scores(weights, layout: InputLayout, active=None) -> dict[str, float]:
    """What the learned ``weights`` (n_inputs, n_neurons) show, as far as the job allows.

    - ``auc``: P(a target input's weight > another input's), per neuron then averaged (a job
      with a target group);
    - ``flatness``: max/min over rates of the mean non-target weight (a target group and at
      least two rates among the others);
    - ``nmi``: NMI between the inputs' groups and the neuron that weights each input most (a
      clustering score, several neurons and groups);
    - ``groups_learned``: distinct preferred groups (:func:`~.weather.preferred_groups`)
      among the ``active`` neurons (those that fired; default all).
    """
    W = np.asarray(weights, np.float64)
    out = {}
    group = layout.group
    if layout.target is not None:
        target = group == layout.target
        out["auc"] = float(np.mean([auc(w[target], w[~target]) for w in W.T]))
        others = layout.input_rates_Hz[~target]
        if np.unique(others).size > 1:
            out["flatness"] = rate_flatness(W.mean(1), layout.input_rates_Hz, ~target)[0]
    if W.shape[1] > 1 and layout.n_groups > 1:
        out["nmi"] = input_nmi(W, group)
        active = np.ones(W.shape[1], bool) if active is None else np.asarray(active, bool)
        preferred = preferred_groups(W, group, layout.n_groups)[active]
        out["groups_learned"] = float(np.unique(preferred).size)
    return out


def _fingerprint(job: SpikingJob, seed: int) -> str:
    return hashlib.sha256(f"{job.text}\nseed={seed}\nkind=spiking".encode()).hexdigest()


def _empty_history(job: SpikingJob) -> dict[str, np.ndarray]:
    n_in, n_out, n_groups = job.inputs.n_inputs, job.neurons.count, len(job.inputs.groups)
    return {
        "record_step": np.zeros(0, np.int64),
        "energy": np.zeros((0, len(ENERGY_CATEGORIES) + 1)),
        "post_counts": np.zeros((0, n_out)),
        "input_counts": np.zeros((0, n_groups)),
        "efficacy": np.zeros((0, n_groups)),
        "weights": np.zeros((0, n_in, n_out), np.float32),
        "raster_step": np.zeros(0, np.int64),
        "raster_neuron": np.zeros(0, np.int32),
    }


def _group_sums(values: np.ndarray, layout: InputLayout) -> np.ndarray:
    """(..., n_inputs) → (..., n_groups) sums over each group's inputs."""
    onehot = np.eye(layout.n_groups)[layout.group]
    return np.asarray(values, np.float64) @ onehot


def _ledger_row(ledger) -> np.ndarray:
    values = [float(ledger.energy_J(k)) for k in ENERGY_CATEGORIES]
    return np.array([*values, sum(values)], np.float64)


def run_spiking_job(
    job: SpikingJob,
    out_path: str | Path,
    *,
    seed: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    stop_after_chunks: int | None = None,
) -> RunRecord:
    """Simulate ``job`` on its chip and write the run file ``out_path``.

    Outputs are checked and locked before any work, and a stop request is honoured between
    chunks, as in :func:`memxbar.runtime.run.run_job`.

    Args:
        seed: overrides the job's seed.
        resume: continue from the checkpoint next to ``out_path`` if there is one.
        overwrite: start again, replacing a checkpoint or a finished run file.
        stop_after_chunks: stop (raise RunInterrupted) after this many chunks of this call,
            as an interruption would; the checkpoint stays for a resume.
    """
    seed = job.seed if seed is None else seed
    if not (isinstance(seed, int) and seed >= 0):
        raise ValueError(f"seed must be an integer ≥ 0, got {seed!r}")
    with claim_outputs(out_path, resume=resume, overwrite=overwrite) as outputs:
        record = _simulate(job, outputs, seed, progress, stop_after_chunks)
        write_run_file(outputs.run_file, record)
        outputs.checkpoint.unlink(missing_ok=True)
    return record


def _simulate(job, outputs, seed, progress, stop_after_chunks) -> RunRecord:
    sim = job.simulation
    chip = job.chip()
    program = compile_network(job.network, chip, device=job.device(chip))
    layout = job.layout

    k_source, k_tile, k_run = jax.random.split(jax.random.key(seed), 3)
    sources = build_sources(job, key=k_source)
    net = job.engine
    tile = build_tile(job, key=k_tile)
    stop_if_requested("before the simulation started (nothing to resume: run it again)")
    initial_programming = _ledger_row(tile.ledger)
    initial_ledger = tile.ledger
    state = init_state(net, tile.rows)

    K = sim.window_steps
    total_windows = sim.windows(sim.duration_s)
    per_record = sim.windows(sim.record_every_s)
    records_per_chunk = sim.windows(sim.chunk_s) // per_record
    fingerprint = _fingerprint(job, seed)
    ckpt = outputs.checkpoint
    history = _empty_history(job)
    windows_done = 0
    if outputs.resume:
        (tile, state), steps_done, history = load_checkpoint(
            ckpt, (tile, state), fingerprint=fingerprint
        )
        windows_done = steps_done // K
    saved = windows_done if outputs.resume else None

    def save():
        save_checkpoint(
            ckpt, (tile, state), step=windows_done * K, fingerprint=fingerprint, history=history
        )

    chunks_done = 0
    total_steps = total_windows * K
    with Progress(total_steps, initial=windows_done * K, name=job.name, enabled=progress) as bar:
        while True:
            if stop_requested() or (
                stop_after_chunks is not None and chunks_done >= stop_after_chunks
            ):
                if saved != windows_done:
                    save()
                raise RunInterrupted(
                    f"stopped at step {windows_done * K} of {total_steps}; {ckpt} keeps it: "
                    "run again with --resume"
                )
            if windows_done >= total_windows:
                break
            if chunks_done == 0:
                bar.note("compiling the first chunk (XLA)")
            n_records = min(records_per_chunk, (total_windows - windows_done) // per_record)
            tile, state, out = run_records(
                net, tile, sources, state, n_records, per_record, key=k_run
            )
            out = jax.tree.map(np.asarray, out)
            first_step = windows_done * K
            windows_done += n_records * per_record
            steps = first_step + per_record * K * np.arange(1, n_records + 1)
            energy = out["energy"].astype(np.float64)
            energy = np.concatenate([energy, energy.sum(1, keepdims=True)], axis=1)
            new = {
                "record_step": steps.astype(np.int64),
                "energy": energy - initial_programming,
                "post_counts": out["post_counts"].astype(np.float64),
                "input_counts": _group_sums(out["pre_counts"], layout),
                "efficacy": _group_sums(out["efficacy"], layout)
                / np.bincount(layout.group, minlength=layout.n_groups),
                "weights": out["weights"].astype(np.float32),
            }
            if sim.record_raster:
                raster = out["raster"].reshape(-1, tile.cols)
                when, who = np.nonzero(raster)
                new["raster_step"] = (first_step + when).astype(np.int64)
                new["raster_neuron"] = who.astype(np.int32)
            for name, values in new.items():
                history[name] = np.concatenate([history[name], values])
            save()
            saved = windows_done
            chunks_done += 1
            seconds = n_records * sim.record_every_s
            rate = float(new["post_counts"].sum()) / (seconds * tile.cols)
            bar.advance(
                n_records * per_record * K,
                rate=f"{rate:.3g} Hz",
                E=format_joules(energy[-1, -1] - initial_programming[-1]),
            )
            if stop_after_chunks is not None and windows_done >= total_windows:
                stop_after_chunks = None  # the last chunk: nothing left to interrupt

    record = _record(job, tile, history, layout, program, initial_ledger, initial_programming)
    stop_if_requested(
        f"stopped at step {total_steps} of {total_steps}; {ckpt} keeps it: run again with --resume"
    )
    return record


def _record(job, tile, history, layout, program, initial_ledger, initial_programming) -> RunRecord:
    sim = job.simulation
    steps = history["record_step"]
    weights = history["weights"]
    time_s = steps * sim.dt_s
    counts = history["post_counts"]
    metrics: dict[str, np.ndarray] = {
        "time_s": time_s,
        "spike_counts": counts,
        "input_spikes": history["input_counts"].sum(1),
    }
    # (records, neurons, groups) mean weight of every neuron on every group.
    means = np.stack([selectivity(W, layout.group, layout.n_groups) for W in weights])
    for g, name in enumerate(layout.names):
        metrics[f"mean_weight_{name}"] = means[:, :, g]
    if job.rule.fatigue is not None:
        for g, name in enumerate(layout.names):
            metrics[f"efficacy_{name}"] = history["efficacy"][:, g]
    fired = np.cumsum(counts, axis=0) > 0
    over_time = [scores(W, layout, active) for W, active in zip(weights, fired, strict=True)]
    for name in over_time[0] if over_time else ():
        metrics[name] = np.array([s[name] for s in over_time])

    duration = float(steps[-1] * sim.dt_s)
    end, start = tile.ledger.values(), initial_ledger.values()
    learned = {k: end[k] - start[k] for k in end}
    energy = history["energy"]
    total = float(energy[-1, -1])
    input_spikes = float(history["input_counts"].sum())
    output_spikes = float(counts.sum())
    synaptic_events = input_spikes * tile.cols
    final = {
        "duration_s": duration,
        "time_steps": int(steps[-1]),
        "n_inputs": int(tile.rows),
        "n_neurons": int(tile.cols),
        "input_spikes": input_spikes,
        "output_spikes": output_spikes,
        "post_rate_Hz": output_spikes / (duration * tile.cols),
        "input_rate_Hz": input_spikes / (duration * tile.rows),
        "synaptic_events": synaptic_events,
        **{name: learned[name] for name in COUNTERS},
        "initial_programming_J": float(initial_programming[-1]),
        "training_energy_J": total,
        "chip_time_end_s": duration,
        **{k: float(v[-1]) for k, v in metrics.items() if k in _SCORES},
    }
    per = {
        "E_update": learned["update_events"],
        "E_second": duration,
        "E_syn_event": synaptic_events,
    }
    energy_attrs = {
        figure(name).run_attr: figure(name).value(learned, n) for name, n in per.items()
    }
    conductances = {}
    g = tile.programmed_conductances()
    if g is not None:
        conductances[LAYER] = np.asarray(g)
    keys = (*ENERGY_CATEGORIES, "total")
    return RunRecord(
        job_yaml=job.text,
        program_yaml=program_to_yaml(program),
        metric_steps=steps,
        metrics=metrics,
        energy_steps=steps,
        energy={k: energy[:, i] for i, k in enumerate(keys)},
        energy_attrs=energy_attrs,
        final=final,
        weights={LAYER: weights},
        weight_steps={LAYER: steps},
        conductances=conductances,
        kind="spiking",
        raster={
            "time_s": history["raster_step"] * sim.dt_s,
            "neuron": history["raster_neuron"],
        },
    )


_SCORES = ("auc", "flatness", "nmi", "groups_learned")
