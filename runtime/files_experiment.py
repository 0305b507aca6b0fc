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
from ..compiler import Program, compile_network, program_to_yaml
from ..crossbar import COUNTERS, ENERGY_CATEGORIES, AbstractTile, EnergyLedger
from ..hw_configs import format_joules
from .chip import tile_factory
from .data.file_code import CorrelativeTimeCode
from .data.file_features import FileRecords, file_records, one_hot, split
from .data.file_scan import read_scan_csv
from .experiment import AbstractExperiment
from .files_job import LAYER, FilesJob
from .progress import Progress
from .run_file import ENERGY_KEYS, RunRecord
from .trainer import ledger_row

__all__ = ["FilesData", "load_files", "FilesState", "FilesExperiment", "baselines"]


@dataclasses.dataclass(frozen=True)
class FilesData:
    """A job's files, encoded and split.

    Attributes:
        files: the records, labels and keys (every file used).
        paths: each file's relative path.
        code: the correlative time code of the keys.
        patterns: (n_files) spike patterns, as (input, step) events.
        train, test: indices of the training and test files (stratified split).
        stream: indices of the streamed files in arrival order (empty without a stream);
        stream_new: whether each streamed file is from the new subtree.
        n_neurons: neurons of the layer.
    """

    files: FileRecords
    paths: tuple[str, ...]
    code: CorrelativeTimeCode
    patterns: tuple
    train: np.ndarray
    test: np.ndarray
    stream: np.ndarray
    stream_new: np.ndarray
    n_neurons: int

    @property
    def n_classes(self) -> int:
        return len(self.files.classes)


def _in_subtree(path: str, subtree: str) -> bool:
    prefix = subtree.strip("/") + "/"
    return path.startswith(prefix)


def load_files(job: FilesJob, *, seed: int | None = None, data_dir: str | None = None) -> FilesData:
    """Read the job's scan, make its records and code, split it and compose the stream.

    Raises:
        ValueError: naming the scan for a missing or malformed file, too few files, or a
            stream subtree with too few files.
    """
    seed = job.seed if seed is None else seed
    config = job.data
    path = config.path(job.source, data_dir)
    if not path.is_file():
        raise ValueError(
            f"{job.source or 'job'}: data.csv: no scan at {path} (make one with "
            "`memxbar files scan DIR -o FILE.csv`; a relative path is read from --data-dir, "
            "else from the job file's folder)"
        )
    rows = read_scan_csv(path)
    rng = np.random.default_rng(seed)
    if config.max_files and config.max_files < len(rows):
        keep = np.sort(rng.choice(len(rows), config.max_files, replace=False))
        rows = [rows[i] for i in keep]
    files = file_records(
        rows,
        with_extension=config.with_extension,
        max_depth=config.max_depth,
        label=config.label,
        exclude=config.exclude,
        source=str(path),
    )
    paths = tuple(r["path"] for r in rows)
    code = CorrelativeTimeCode(
        files.nominal,
        files.ordinal,
        neurons_per_key=job.code.neurons_per_key,
        events_per_value=job.code.events_per_value,
        steps=job.code.steps,
        width=job.code.width,
        levels=job.code.levels,
        seed=job.code.seed,
    )
    stream_cfg = job.stream
    new = np.zeros(len(rows), bool)
    if stream_cfg is not None:
        new = np.array([_in_subtree(p, stream_cfg.new_subtree) for p in paths])
    known = np.flatnonzero(~new)
    if len(known) < 2:
        raise ValueError(f"{path}: {len(known)} file(s) to train and test on; need at least 2")
    train, test = split(files.labels[known], config.test_fraction, seed=seed)
    train, test = known[train], known[test]
    if len(test) == 0:
        raise ValueError(f"{path}: no test files (too few files per class for the split)")
    stream = np.zeros(0, np.int64)
    stream_new = np.zeros(0, bool)
    if stream_cfg is not None:
        half = stream_cfg.files // 2
        fresh = np.flatnonzero(new)
        if len(fresh) < stream_cfg.files - half or len(test) < half:
            raise ValueError(
                f"{job.source}: stream: {stream_cfg.files} files need {stream_cfg.files - half} "
                f"under {stream_cfg.new_subtree!r} (the scan has {len(fresh)}) and {half} test "
                f"files (there are {len(test)})"
            )
        first = rng.choice(test, half, replace=False)
        second = rng.choice(fresh, stream_cfg.files - half, replace=False)
        stream = np.concatenate([first, second])
        stream_new = np.concatenate([np.zeros(half, bool), np.ones(len(second), bool)])
    patterns = tuple(code.events(r) for r in files.records)
    per_class = job.neurons.count
    n_neurons = per_class * len(files.classes) if job.supervised is not None else per_class
    return FilesData(files, paths, code, patterns, train, test, stream, stream_new, n_neurons)


def baselines(data: FilesData, *, seed: int) -> dict[str, float]:
    """Logistic regression, a linear SVM and the majority class, on the one-hot key–values of
    the same split (scikit-learn)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    X, y = one_hot(data.files), data.files.labels
    tr, te = data.train, data.test
    out = {"majority_accuracy": float(np.mean(y[te] == np.bincount(y[tr]).argmax()))}
    if len(np.unique(y[tr])) < 2:
        return out | {"logreg_accuracy": out["majority_accuracy"], "svm_accuracy": np.nan}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lr = LogisticRegression(max_iter=2000).fit(X[tr], y[tr])
        svm = LinearSVC(random_state=seed).fit(X[tr], y[tr])
    out["logreg_accuracy"] = float(lr.score(X[te], y[te]))
    out["svm_accuracy"] = float(svm.score(X[te], y[te]))
    return out


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
        k_tile, k_weights, k_program, _ = jax.random.split(key, 4)
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
        k_run = jax.random.split(key, 4)[3]
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
        return frame_predictions(counts, neuron_labels, self.data.n_classes)

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


def _finish(experiment: FilesExperiment, state: FilesState, history, key) -> RunRecord:
    job, data = experiment.job, experiment.data
    labels, n_classes = data.files.labels, data.n_classes
    k_label, k_test, k_frozen, k_learn, k_cal = jax.random.split(key, 5)
    t_end = experiment.total_steps * job.code.dt_s
    t_test = t_end + job.training.test_delay_s
    parts = 2 + (job.supervised is None) + (2 if job.stream is not None else 0)
    bar = Progress(parts, name=f"{job.name} test", unit="pass")
    # The reference read of global drift compensation (a PCM chip whose periphery has it):
    # from now on outputs are rescaled by how far the tile's total conductance has drifted.
    # Learning voids it (a write changes the total); inference keeps it.
    tile = state.tile.calibrate(t_test, key=k_cal)

    neuron_labels = None
    if job.supervised is None:
        bar.note("labelling the neurons (training files)")
        _, counts, _, _ = experiment.classify(tile, data.train, t_test, key=k_label)
        neuron_labels = assign_labels(counts, labels[data.train], n_classes)
        bar.advance(1)
    started = time.perf_counter()
    _, counts, peak, spent = experiment.classify(tile, data.test, t_test, key=k_test)
    wall = time.perf_counter() - started
    predicted = experiment._predict(counts, peak, neuron_labels)
    truth = labels[data.test]
    test_accuracy = float(np.mean(predicted == truth))
    bar.advance(1, test=f"{test_accuracy:.3f}")
    bar.note("logistic regression and linear SVM (same split)")
    scores = baselines(data, seed=experiment.seed)
    bar.advance(1, logreg=f"{scores['logreg_accuracy']:.3f}")

    confusion = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(confusion, (truth, np.where(predicted < 0, 0, predicted)), predicted >= 0)
    per_class = confusion.diagonal() / np.maximum(np.bincount(truth, minlength=n_classes), 1)
    curves = {"confusion": confusion, "per_class_accuracy": per_class.astype(np.float64)}

    trained = experiment.total_steps // experiment.steps_per_file
    learned = jax.tree.map(lambda a, b: a - b, state.tile.ledger, state.initial)
    counters = {name: float(learned.count(name)) for name in COUNTERS}
    training_J = _energy(learned)
    classified_J = _energy(spent) / len(data.test)
    final = {
        "test_accuracy": test_accuracy,
        **scores,
        "n_classes": n_classes,
        "train_files": len(data.train),
        "test_files": len(data.test),
        "training_presentations": trained,
        "n_inputs": data.code.n_inputs,
        "n_neurons": data.n_neurons,
        "silent_test_fraction": float(np.mean(counts.sum(1) == 0)),
        "energy_per_classified_file_J": classified_J,
        "energy_per_training_file_J": training_J / trained,
        "training_energy_J": training_J,
        "initial_programming_J": float(ledger_row(state.initial)[-1]),
        "test_wall_s_per_file": wall / len(data.test),
        **counters,
    }
    if neuron_labels is not None:
        final["labelled_neurons"] = int(np.sum(neuron_labels >= 0))
    if job.stream is not None:
        final |= _stream(experiment, tile, t_test, k_frozen, k_learn, curves, bar)
    bar.close()

    steps = history["record_step"]
    metrics = {"time_s": steps * job.code.dt_s, "spikes_per_file": history["spikes_per_file"]}
    metrics["silent_fraction"] = history["silent_fraction"]
    if "train_accuracy" in history:
        metrics["train_accuracy"] = history["train_accuracy"]
    updates = counters["update_events"]
    g = tile.programmed_conductances()
    energy = history["energy"]
    return RunRecord(
        job_yaml=job.text,
        program_yaml=program_to_yaml(experiment.program),
        metric_steps=steps,
        metrics=metrics,
        energy_steps=steps,
        energy={k: energy[:, i] for i, k in enumerate(ENERGY_KEYS)},
        energy_attrs={
            "per_classified_file_J": classified_J,
            "per_training_file_J": training_J / trained,
            "per_synaptic_update_J": training_J / updates if updates else 0.0,
        },
        final=final,
        weights={LAYER: history["weights"]},
        weight_steps={LAYER: steps},
        conductances={} if g is None else {LAYER: np.asarray(g)},
        kind="files",
        curves=curves,
        setup={
            "tiles": job.hardware.tiles,
            "mode": "supervised" if job.supervised is not None else "unsupervised",
            "classes": list(data.files.classes),
            "keys": list(data.code.keys),
            "label": job.data.label,
            "csv": str(job.data.csv),
            "neurons_per_class": job.neurons.count if job.supervised is not None else 0,
            "stream_subtree": "" if job.stream is None else job.stream.new_subtree,
        },
    )


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
