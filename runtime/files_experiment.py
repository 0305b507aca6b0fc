"""File classifier jobs made runnable: the scan encoded, training in chunks, test, baselines,
the ingest stream.

:class:`FilesExperiment` follows the contract of :mod:`.experiment`. Every file is one update
window of the engine (:mod:`memxbar.algorithms.snn.engine`, ``code.steps`` steps, neurons
rested at its start): the file's spike pattern is read through the tile, the neurons integrate
it, and the rule's change of the window (the comparison with the target pattern, or STDP) goes
to the tile after it. A window's response is therefore the classification of the file by the
weights before it learnt from it (test-then-train): the training accuracy of a chunk is an
online accuracy.

After training (:meth:`FilesExperiment.finish`): the test files are classified with the
weights held (energy per classified file: the reads), logistic regression and a linear SVM are
fitted on the same split's one-hot key–values, and, with a ``stream``, the ingest stream runs
twice from the trained chip: frozen, and learning from each file after classifying it.

The run file (kind ``files``, :mod:`.run_file`):
    /metrics/step, train_accuracy (online, supervised), spikes_per_file, silent_fraction
      per chunk; /energy/<category> learning energy at every chunk end, with the attributes
      per_classified_file_J, per_training_file_J, per_synaptic_update_J;
    /final: test_accuracy, logreg_accuracy, svm_accuracy, majority_accuracy, the stream's
      accuracies, energies and counts;
    /curves/confusion (classes × classes, rows: true), per_class_accuracy, and the stream:
      stream_new_subtree, stream_correct_frozen, stream_correct_learning (per streamed file);
    /setup: tiles, mode, classes, keys, label, csv, stream_subtree.
"""

from __future__ import annotations

import dataclasses
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..algorithms.snn import SpikingNetwork, TimedPatterns, init_state, run_windows
from ..algorithms.snn.frames import assign_labels, frame_predictions, group_predictions
from ..compiler import Program, compile_network
from ..crossbar import COUNTERS, ENERGY_CATEGORIES, AbstractTile, EnergyLedger
from ..devices import prng
from ..hw_configs import format_joules
from .chip import tile_factory
from .experiment import AbstractExperiment
from .files_data import FilesData, baselines, load_files
from .files_job import LAYER, FilesJob
from .progress import Progress
from .run_file import RunRecord
from .spiking_experiment import layer_record
from .trainer import ledger_row

__all__ = ["FilesState", "FilesExperiment"]


class FilesState(eqx.Module):
    """The state of a run: the synapses, the engine, the ledger after initial programming."""

    tile: AbstractTile
    engine: object
    initial: EnergyLedger


@eqx.filter_jit
def _run(net, tile, sources, teacher, state, n_windows, key, t0_s):
    tile, state, traces = run_windows(
        net, tile, sources, state, n_windows, key=key, t0_s=t0_s, teacher=teacher
    )
    return tile, state, {k: traces[k] for k in ("post_counts", "peak_V")}


class FilesExperiment(AbstractExperiment):
    """A file classifier job made runnable (see the module docstring)."""

    job: FilesJob = eqx.field(static=True)
    data: FilesData = eqx.field(static=True)
    net: SpikingNetwork
    patterns: TimedPatterns
    targets: TimedPatterns | None
    order: jax.Array
    program: Program = eqx.field(static=True)
    seed: int = eqx.field(static=True)
    total_steps: int = eqx.field(static=True)
    chunk_steps: int = eqx.field(static=True)
    fingerprint: str = eqx.field(static=True, default="")

    @classmethod
    def create(
        cls, job: FilesJob, *, seed: int, epochs: int | None = None, data_dir: str | None = None
    ) -> FilesExperiment:
        data = load_files(job, seed=seed, data_dir=data_dir)
        epochs = job.training.epochs if epochs is None else epochs
        code = data.code
        rng = np.random.default_rng([seed, 1])
        order = np.concatenate([rng.permutation(data.train) for _ in range(epochs)])
        M = job.plasticity.write_every_windows
        order = order[: len(order) // M * M]  # whole write periods (< M files dropped)
        if len(order) == 0:
            raise ValueError(
                f"{job.source}: plasticity.write_every_windows ({M}) exceeds the training "
                f"presentations ({len(data.train)} files × {epochs} epochs)"
            )
        patterns = TimedPatterns.create(
            data.patterns, n_inputs=code.n_inputs, steps_per_pattern=code.steps
        )
        targets = None
        if job.supervised is not None:
            per = job.neurons.count
            targets = TimedPatterns.create(
                [
                    [(c * per + k, t) for k in range(per) for t in job.target_steps]
                    for c in range(data.n_classes)
                ],
                n_inputs=data.n_neurons,
                steps_per_pattern=code.steps,
                order=data.files.labels[order],
            )
        chip = job.chip()
        device = job.device(chip) if job.hardware.tiles == "pcm" else None
        network = job.network_of(code.n_inputs, data.n_neurons)
        files_per_chunk = job.training.files_per_chunk // M * M or M
        return cls(
            job=job,
            data=data,
            net=job.engine(n_neurons=data.n_neurons),
            patterns=patterns,
            targets=targets,
            order=jnp.asarray(order, jnp.int32),
            program=compile_network(network, chip, device=device),
            seed=seed,
            total_steps=len(order) * code.steps,
            chunk_steps=files_per_chunk * code.steps,
            fingerprint=f"epochs={epochs}\ndata={job.data.path(job.source, data_dir).resolve()}",
        )

    @property
    def steps_per_file(self) -> int:
        return self.data.code.steps

    def _initial_weights(self, key):
        p, rule = self.job.plasticity, self.job.rule
        shape = (self.data.code.n_inputs, self.data.n_neurons)
        W = p.w_init + p.w_init_spread * jax.random.uniform(key, shape, minval=-1.0, maxval=1.0)
        return jnp.clip(W, rule.w_min, rule.w_max).astype(jnp.float32)

    def init(self, *, key) -> FilesState:
        k_tile, k_weights, k_program, _ = prng.split(key, 4)
        job = self.job
        chip = job.chip()
        device = job.device(chip) if job.hardware.tiles == "pcm" else None
        make_tile = tile_factory(chip, job.hardware.tiles, job.hardware.w_max, device=device)
        tile = make_tile(
            LAYER, "synapses", self.data.code.n_inputs, self.data.n_neurons, key=k_tile
        )
        tile = tile.program_weights(self._initial_weights(k_weights), 0.0, key=k_program)
        return FilesState(tile=tile, engine=init_state(self.net, tile.rows), initial=tile.ledger)

    def _sources(self, order):
        return dataclasses.replace(self.patterns, order=jnp.asarray(order, jnp.int32))

    def chunk(self, state: FilesState, n_steps: int, *, key):
        k_run = prng.split(key, 4)[3]
        tile, engine, records = _run(
            self.net,
            state.tile,
            self._sources(self.order),
            self.targets,
            state.engine,
            n_steps // self.steps_per_file,
            k_run,
            jnp.zeros((), jnp.float32),
        )
        return eqx.tree_at(lambda s: (s.tile, s.engine), state, (tile, engine)), records

    def _predict(self, counts, peak_V, neuron_labels=None) -> np.ndarray:
        if self.job.supervised is not None:
            return group_predictions(counts, peak_V, self.job.neurons.count)
        return frame_predictions(counts, neuron_labels, self.data.n_classes, peak_V)

    def history_rows(self, records, state: FilesState) -> dict[str, np.ndarray]:
        counts = np.asarray(records["post_counts"], np.float64)
        n = counts.shape[0]
        end = int(state.engine.window)
        labels = self.data.files.labels[np.asarray(self.order[end - n : end])]
        rows = {
            "record_step": np.array([end * self.steps_per_file]),
            "spikes_per_file": np.array([counts.sum() / n]),
            "silent_fraction": np.array([np.mean(counts.sum(1) == 0)]),
            "energy": (ledger_row(state.tile.ledger) - ledger_row(state.initial))[None],
            "weights": np.asarray(state.tile.true_weights(), np.float32)[None],
        }
        if self.job.supervised is not None:
            predicted = self._predict(counts, records["peak_V"])
            rows["train_accuracy"] = np.array([np.mean(predicted == labels)])
        return rows

    def progress(self, history) -> dict[str, str]:
        out = {"E": format_joules(history["energy"][-1, -1])}
        if "train_accuracy" in history:
            out = {"online acc": f"{history['train_accuracy'][-1]:.3f}"} | out
        else:
            out = {"spikes/file": f"{history['spikes_per_file'][-1]:.2f}"} | out
        return out

    def steps_done(self, state: FilesState) -> int:
        return int(state.engine.window) * self.steps_per_file

    def next_stop(self, step: int) -> int:
        return min(step + self.chunk_steps, self.total_steps)

    def classify(self, tile, indices, t0_s: float, *, key, learn: bool = False):
        """Present the files ``indices`` one by one from chip time ``t0_s``: (tile, counts,
        peak_V, ledger spent). ``learn``: the supervised rule learns from each file after
        classifying it."""
        net = self.net if learn else self.job.engine(n_neurons=self.data.n_neurons, learning=False)
        teacher = None
        if learn:
            labels = self.data.files.labels[indices]
            teacher = dataclasses.replace(self.targets, order=jnp.asarray(labels, jnp.int32))
        M = net.write_every_windows
        n = len(indices) // M * M
        before = tile.ledger
        tile, _, traces = _run(
            net,
            tile,
            self._sources(indices[:n]),
            teacher,
            init_state(net, tile.rows),
            n,
            key,
            jnp.asarray(t0_s, jnp.float32),
        )
        spent = jax.tree.map(lambda a, b: a - b, tile.ledger, before)
        return tile, np.asarray(traces["post_counts"]), np.asarray(traces["peak_V"]), spent

    def finish(self, state: FilesState, history, *, key):
        return _finish(self, state, history, key)


def _energy(ledger) -> float:
    return sum(float(ledger.energy_J(c)) for c in ENERGY_CATEGORIES)


def _test(experiment: FilesExperiment, tile, t_test: float, k_label, k_test, bar):
    """Classify the test files with the weights held (unsupervised: label the neurons on the
    training files first): (accuracy, confusion curves, final entries, energy spent)."""
    data = experiment.data
    labels, n_classes = data.files.labels, data.n_classes
    neuron_labels, extra = None, {}
    if experiment.job.supervised is None:
        bar.note("labelling the neurons (training files)")
        _, counts, _, _ = experiment.classify(tile, data.train, t_test, key=k_label)
        neuron_labels = assign_labels(counts, labels[data.train], n_classes)
        extra["labelled_neurons"] = int(np.sum(neuron_labels >= 0))
        bar.advance(1)
    started = time.perf_counter()
    _, counts, peak, spent = experiment.classify(tile, data.test, t_test, key=k_test)
    extra["test_wall_s_per_file"] = (time.perf_counter() - started) / len(data.test)
    extra["silent_test_fraction"] = float(np.mean(counts.sum(1) == 0))
    predicted = experiment._predict(counts, peak, neuron_labels)
    truth = labels[data.test]
    confusion = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(confusion, (truth, np.where(predicted < 0, 0, predicted)), predicted >= 0)
    per_class = confusion.diagonal() / np.maximum(np.bincount(truth, minlength=n_classes), 1)
    curves = {"confusion": confusion, "per_class_accuracy": per_class.astype(np.float64)}
    return float(np.mean(predicted == truth)), curves, extra, spent


def _finish(experiment: FilesExperiment, state: FilesState, history, key) -> RunRecord:
    job, data = experiment.job, experiment.data
    k_label, k_test, k_frozen, k_learn, k_cal = prng.split(key, 5)
    t_end = experiment.total_steps * job.code.dt_s
    t_test = t_end + job.training.test_delay_s
    parts = 2 + (job.supervised is None) + (2 if job.stream is not None else 0)
    bar = Progress(parts, name=f"{job.name} test", unit="pass")
    # The reference read of global drift compensation (a PCM chip whose periphery has it),
    # right after the last write, as after programming (Joshi et al. 2020): later outputs are
    # rescaled by how far the tile's total conductance has drifted since. Learning voids it (a
    # write changes the total); inference keeps it.
    tile = state.tile.calibrate(t_end, key=k_cal)
    test_accuracy, curves, tested, spent = _test(experiment, tile, t_test, k_label, k_test, bar)
    bar.advance(1, test=f"{test_accuracy:.3f}")
    bar.note("logistic regression and linear SVM (same split)")
    scores = baselines(data, seed=experiment.seed)
    bar.advance(1, logreg=f"{scores['logreg_accuracy']:.3f}")

    trained = experiment.total_steps // experiment.steps_per_file
    learned = jax.tree.map(lambda a, b: a - b, state.tile.ledger, state.initial)
    counters = {name: float(learned.count(name)) for name in COUNTERS}
    training_J, updates = _energy(learned), counters["update_events"]
    per_file = {
        "per_classified_file_J": _energy(spent) / len(data.test),
        "per_training_file_J": training_J / trained,
        "per_synaptic_update_J": training_J / updates if updates else 0.0,
    }
    final = {
        "test_accuracy": test_accuracy,
        **scores,
        "n_classes": data.n_classes,
        "train_files": len(data.train),
        "test_files": len(data.test),
        "training_presentations": trained,
        "n_inputs": data.code.n_inputs,
        "n_neurons": data.n_neurons,
        "energy_per_classified_file_J": per_file["per_classified_file_J"],
        "energy_per_training_file_J": per_file["per_training_file_J"],
        "training_energy_J": training_J,
        "initial_programming_J": float(ledger_row(state.initial)[-1]),
        **tested,
        **counters,
    }
    if job.stream is not None:
        final |= _stream(experiment, tile, t_test, k_frozen, k_learn, curves, bar)
    bar.close()
    return layer_record(
        experiment,
        tile,
        history,
        layer=LAYER,
        metrics=_metrics(history, job.code.dt_s),
        energy_attrs=per_file,
        final=final,
        kind="files",
        curves=curves,
        setup=_setup(experiment),
    )


def _metrics(history, dt_s: float) -> dict:
    metrics = {"time_s": history["record_step"] * dt_s}
    for name in ("spikes_per_file", "silent_fraction", "train_accuracy"):
        if name in history:
            metrics[name] = history[name]
    return metrics


def _setup(experiment: FilesExperiment) -> dict:
    job, data = experiment.job, experiment.data
    return {
        "tiles": job.hardware.tiles,
        "mode": "supervised" if job.supervised is not None else "unsupervised",
        "classes": list(data.files.classes),
        "keys": list(data.code.keys),
        "label": job.data.label,
        "csv": str(job.data.csv),
        "neurons_per_class": job.neurons.count if job.supervised is not None else 0,
        "stream_subtree": "" if job.stream is None else job.stream.new_subtree,
    }


def _stream(experiment: FilesExperiment, tile, t0_s: float, k_frozen, k_learn, curves, bar):
    """The ingest stream from the trained chip: frozen, and (``learn``) learning."""
    job, data = experiment.job, experiment.data
    indices, new = data.stream, data.stream_new
    truth = data.files.labels[indices]
    out = {"stream_files": len(indices), "stream_new_files": int(new.sum())}
    runs = [("frozen", k_frozen, False)] + (
        [("learning", k_learn, True)] if job.stream.learn else []
    )
    neuron_labels = None
    if job.supervised is None:
        _, counts, _, _ = experiment.classify(tile, data.train, t0_s, key=k_frozen)
        neuron_labels = assign_labels(counts, data.files.labels[data.train], data.n_classes)
    for name, key, learn in runs:
        _, counts, peak, spent = experiment.classify(tile, indices, t0_s, key=key, learn=learn)
        n = len(counts)
        correct = (experiment._predict(counts, peak, neuron_labels) == truth[:n]).astype(np.int8)
        curves[f"stream_correct_{name}"] = correct
        out[f"stream_{name}_known_accuracy"] = float(correct[~new[:n]].mean())
        out[f"stream_{name}_new_accuracy"] = float(correct[new[:n]].mean())
        out[f"stream_{name}_energy_per_file_J"] = _energy(spent) / n
        bar.advance(1, **{name: f"{out[f'stream_{name}_new_accuracy']:.3f}"})
    curves["stream_new_subtree"] = new.astype(np.int8)
    return out
