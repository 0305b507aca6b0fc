"""Short-term STDP jobs made runnable: W learned by the rate experiment, then the sequences.

Training is the rate experiment's (:mod:`.rate_experiment`: SoftHebb on the chip's tiles, its
steps, chunks, checkpoints and energy); this experiment delegates every step to it. At the end
(:meth:`STSTDPExperiment.finish`) the trained tile drives a spiking winner-take-all layer
(:mod:`memxbar.algorithms.snn.frames`):

1. its neurons are labelled by the static training images (W alone, one frame each);
2. the static test images are classified (W alone);
3. at every speed, sequences of transformed test digits and their shuffled control (the same
   frames, pooled and shuffled across sequences) are classified per frame with W alone and
   with W + F; a backprop MLP trained on the static training images classifies the same frames.

Energy per frame: the W reads plus, for a volatile F, F's reads and writes, over every W + F
frame; per F update: F's write energy per written synapse (volatile F only).
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import numpy as np

from ..algorithms.snn import SpikingNetwork
from ..algorithms.snn.frames import assign_labels, frame_counts, frame_predictions
from ..crossbar import ENERGY_CATEGORIES, DigitalFastTile, VolatileTile
from ..devices import prng
from .experiment import AbstractExperiment
from .progress import Progress
from .rate_experiment import RateExperiment, evaluate

__all__ = ["STSTDPExperiment", "CURVES"]

#: Per-speed accuracies in the run file's /curves (besides ``speed``).
CURVES = (
    "accuracy_w",
    "accuracy_wf",
    "accuracy_mlp",
    "accuracy_w_shuffled",
    "accuracy_wf_shuffled",
    "accuracy_mlp_shuffled",
)


class STSTDPExperiment(AbstractExperiment):
    """A short-term STDP job made runnable (see the module docstring)."""

    job: object = eqx.field(static=True)
    rate: RateExperiment
    seed: int = eqx.field(static=True)

    @classmethod
    def create(cls, job, rate: RateExperiment, *, seed: int) -> STSTDPExperiment:
        return cls(job=job, rate=rate, seed=seed)

    # Training: the rate experiment's.
    @property
    def total_steps(self) -> int:
        return self.rate.total_steps

    @property
    def chunk_steps(self) -> int:
        return self.rate.chunk_steps

    @property
    def fingerprint(self) -> str:
        return self.rate.fingerprint

    def init(self, *, key):
        return self.rate.init(key=key)

    def chunk(self, state, n_steps: int, *, key):
        return self.rate.chunk(state, n_steps, key=key)

    def history_rows(self, records, state):
        return self.rate.history_rows(records, state)

    def progress(self, history):
        return self.rate.progress(history)

    def steps_done(self, state) -> int:
        return self.rate.steps_done(state)

    def next_stop(self, step: int) -> int:
        return self.rate.next_stop(step)

    def network(self, *, fast: bool) -> SpikingNetwork:
        """The spiking layer, with or without the fast term."""
        coding = self.job.coding
        return SpikingNetwork(
            lif=self.job.neurons,
            rule=None,
            short_term=self.job.short_term if fast else None,
            rest_every_steps=coding.steps_per_frame,
            dt_s=coding.dt_s,
            window_steps=coding.steps_per_frame,
        )

    def fast_tile(self, *, key):
        """F's tile: exact digital state or a volatile tile (λ_F, γ programmed)."""
        job = self.job
        rows, cols = self.rate.data.n_features, job.neurons.count
        dt = job.coding.dt_s
        decay, gain = job.short_term.tile_parameters(rows, cols, dt)
        config = job.fast_weights
        if config.where == "digital":
            return DigitalFastTile.create(decay, gain)
        f_max = job.short_term.bound_weight(dt)
        periphery = job.chip().periphery
        periphery = eqx.tree_at(lambda p: p.adc.output_range, periphery, config.adc_output_range)
        return VolatileTile.create(
            config.device, periphery, decay=decay, gain=gain, f_max=f_max, step_s=dt, key=key
        )

    def finish(self, state, history, *, key):
        k_rate, k_cal, k_fast, k_eval = prng.split(key, 4)
        record = evaluate(self.rate, state, history, key=k_rate)
        return sequences_record(self, state, record, k_cal, k_fast, k_eval)


def _accuracy(predictions, labels) -> float:
    return float(np.mean(np.asarray(predictions) == np.asarray(labels)))


def _energy(ledger) -> float:
    return sum(float(ledger.energy_J(c)) for c in ENERGY_CATEGORIES)


def sequences_record(experiment: STSTDPExperiment, state, record, k_cal, k_fast, k_eval):
    """``record`` (the rate run's) with the spiking sequence study added."""
    job, rate = experiment.job, experiment.rate
    data, coding, config = rate.data, job.coding, job.sequences
    algorithm = rate.algorithm
    t_end = rate.schedule.time_of(rate.schedule.total_steps - 1)
    ((name, tile),) = algorithm.tiles(state.learner).items()
    tile = tile.calibrate(t_end, key=k_cal)
    t0 = float(t_end) + coding.test_delay_s
    n_classes = data.n_classes
    w_only, with_fast = experiment.network(fast=False), experiment.network(fast=True)
    fast = experiment.fast_tile(key=k_fast)
    keys = iter(prng.split(k_eval, 2 + 2 * len(config.speeds)))

    def counts(net, frames, key, fast_tile=None):
        return frame_counts(
            net,
            tile,
            frames,
            max_rate_Hz=coding.max_rate_Hz,
            key=key,
            fast=fast_tile,
            t0_s=t0,
            batch=coding.eval_batch,
        )

    tests = 2 + 2 * len(config.speeds)
    bar = Progress(tests, name=f"{job.name} test", unit="set")
    bar.note("labelling the neurons (training images)")
    train_counts, _ = counts(w_only, data.x_train[:, None, :], next(keys))
    bar.advance(1)
    labels = assign_labels(train_counts[:, 0], data.y_train, n_classes)
    test_counts, static_ledgers = counts(w_only, data.x_test[:, None, :], next(keys))
    static = _accuracy(frame_predictions(test_counts[:, 0], labels, n_classes), data.y_test)
    bar.advance(1, static=f"{static:.3f}")
    mlp = _mlp(job, data, experiment.seed)

    nets = (w_only, with_fast, fast)
    curves, ledgers, frames_run = _sequence_study(experiment, nets, counts, labels, mlp, keys, bar)
    final = record.final | {
        "spiking_static_accuracy": static,
        "mlp_static_accuracy": _accuracy(mlp.predict(data.x_test), data.y_test),
        "labelled_neurons": int(np.sum(labels >= 0)),
        **_study_summary(curves, ledgers, frames_run),
        "energy_per_static_image_J": _energy(static_ledgers["weights"]) / len(data.y_test),
        "fast_bound_weight": job.short_term.bound_weight(coding.dt_s),
    }
    return dataclasses.replace(
        record,
        kind="ststdp",
        final=final,
        curves={"speed": np.asarray(config.speeds, np.float64), **curves},
        setup=record.setup | {"fast_weights": job.fast_weights.where},
    )


def _sequence_study(experiment: STSTDPExperiment, nets, counts, labels, mlp, keys, bar):
    """Every speed, ordered and shuffled: accuracies of W alone, W + F (``nets``: both, and
    the fast tile) and the MLP per frame; (curves, the ledgers spent per part, frames run)."""
    config, data = experiment.job.sequences, experiment.rate.data
    w_only, with_fast, fast = nets
    curves = {n: [] for n in CURVES}
    ledgers = {"weights": [], "fast": []}
    frames_run = 0
    for speed in config.speeds:
        for shuffled in (False, True):
            seqs = config.generate(
                data.x_test, data.y_test, speed=speed, seed=experiment.seed, shuffled=shuffled
            )
            frames = seqs.frames.reshape(config.n_sequences, config.frames, -1)
            suffix = "_shuffled" if shuffled else ""
            # The same key: the same input spikes and read noise, so W + F differs from W
            # alone by F only.
            key = next(keys)
            w_counts, _ = counts(w_only, frames, key)
            wf_counts, spent = counts(with_fast, frames, key, fast)
            for key, c in (("w", w_counts), ("wf", wf_counts)):
                predicted = frame_predictions(c, labels, data.n_classes)
                curves[f"accuracy_{key}{suffix}"].append(_accuracy(predicted, seqs.labels))
            mlp_predicted = mlp.predict(frames.reshape(-1, frames.shape[-1]))
            curves[f"accuracy_mlp{suffix}"].append(
                _accuracy(mlp_predicted, seqs.labels.reshape(-1))
            )
            for part in ledgers:
                ledgers[part].append(spent[part])
            frames_run += config.n_sequences * config.frames
            bar.advance(1, speed=f"{speed:g}{' shuffled' if shuffled else ''}")
    bar.close()
    curves = {n: np.asarray(v, np.float64) for n, v in curves.items()}
    return curves, ledgers, frames_run


def _study_summary(curves, ledgers, frames_run) -> dict:
    """The sequence study's means, advantages of W + F and energies per frame and update."""
    total = {part: jax.tree.map(lambda *a: sum(a), *parts) for part, parts in ledgers.items()}
    fast_updates = float(total["fast"].count("update_events"))
    ordered = np.mean(curves["accuracy_wf"] - curves["accuracy_w"])
    control = np.mean(curves["accuracy_wf_shuffled"] - curves["accuracy_w_shuffled"])
    return {
        "mean_accuracy_w": float(np.mean(curves["accuracy_w"])),
        "mean_accuracy_wf": float(np.mean(curves["accuracy_wf"])),
        "mean_accuracy_mlp": float(np.mean(curves["accuracy_mlp"])),
        "mean_advantage_wf": float(ordered),
        "mean_advantage_wf_shuffled": float(control),
        "energy_per_frame_J": (_energy(total["weights"]) + _energy(total["fast"])) / frames_run,
        "fast_update_events": fast_updates,
        "energy_per_fast_update_J": (
            float(total["fast"].energy_J("set")) / fast_updates if fast_updates else 0.0
        ),
    }


def _mlp(job, data, seed: int):
    """The backprop baseline: scikit-learn's MLP (Adam) on the static training images."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    config = job.baseline
    mlp = MLPClassifier(
        hidden_layer_sizes=(config.hidden,), max_iter=config.max_iter, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return mlp.fit(data.x_train, data.y_train)
