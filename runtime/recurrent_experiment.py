"""Recurrent jobs made runnable: BPTT epochs as steps, then the chip test and the drift study.

One step of the experiment (:mod:`.experiment`) is one epoch of BPTT; after every epoch the
model is tested on the validation set and the best one so far is kept (the STPN authors train
to convergence of validation accuracy). Every epoch's shuffle and noise derive from the run's
key and the epoch number, so chunks and resumes do not change the result.

At the end (:mod:`.recurrent_chip`), the best model is tested as trained and, for PCM jobs,
on the chip after each drift time.
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..algorithms.recurrent import (
    SequenceClassifier,
    evaluate,
    init_classifier,
    train_epoch,
    trainable_spec,
)
from ..compiler import Program, compile_network
from ..crossbar import AwareTile, IdealTile
from ..devices import prng
from .data.assoc_retrieval import N_SYMBOLS, AssocSplits, assoc_splits
from .experiment import AbstractExperiment

__all__ = ["RecurrentState", "RecurrentExperiment", "build_experiment"]

#: Per-epoch history columns (besides ``step``).
METRICS = ("loss", "train_accuracy", "validation_accuracy", "energy_measure")


class RecurrentState(eqx.Module):
    """The state of a recurrent run: the model, Adam's state, the best model so far."""

    model: SequenceClassifier
    opt_state: object
    best: SequenceClassifier
    best_validation: jax.Array
    best_epoch: jax.Array
    epoch: jax.Array


def _keys(key):
    """The run's keys: (init, training, validation, finish)."""
    return prng.split(key, 4)


class RecurrentExperiment(AbstractExperiment):
    """A recurrent job made runnable (see :mod:`.experiment` for the contract)."""

    job: object = eqx.field(static=True)
    data: AssocSplits = eqx.field(static=True)
    program: Program = eqx.field(static=True)
    chip: object = eqx.field(static=True)
    device: object = eqx.field(static=True)
    optimizer: optax.GradientTransformation = eqx.field(static=True)
    total_steps: int = eqx.field(static=True)
    chunk_steps: int = eqx.field(static=True)
    fingerprint: str = eqx.field(static=True)

    def make_training_tile(self, matrix: str, weights) -> IdealTile | AwareTile:
        """Ideal jobs train on float tiles, PCM jobs through the PCM read path."""
        if self.job.hardware.tiles == "ideal":
            return IdealTile.create(*weights.shape, weights=weights)
        w_max = self.job.w_max(matrix)
        drift_s = self.job.training.aware_drift_s
        return AwareTile.create(
            self.chip, self.device, weights=weights, w_max=w_max, drift_s=drift_s
        )

    def init(self, *, key) -> RecurrentState:
        k_init, _, _, _ = _keys(key)
        model_config = self.job.model
        model = init_classifier(
            model_config.cell,
            N_SYMBOLS,
            model_config.hidden,
            N_SYMBOLS,
            self.make_training_tile,
            key=k_init,
            decay_range=self.job.decay_range(),
        )
        return RecurrentState(
            model=model,
            opt_state=self.optimizer.init(eqx.filter(model, trainable_spec(model))),
            best=model,
            best_validation=jnp.asarray(-1.0, jnp.float32),
            best_epoch=jnp.asarray(-1, jnp.int32),
            epoch=jnp.zeros((), jnp.int32),
        )

    def validate(self, model, key):
        """(accuracy, energy measure per step) of ``model`` on the validation set."""
        data, batch = self.data, self.job.training.eval_batch_size
        _, accuracy, measure = evaluate(
            model, data.x_validation, data.y_validation, 0.0, batch, N_SYMBOLS, key=key
        )
        return accuracy, measure

    def chunk(self, state: RecurrentState, n_steps: int, *, key):
        _, k_train, k_val, _ = _keys(key)
        data, training = self.data, self.job.training
        rows = {name: [] for name in METRICS}
        for _ in range(n_steps):
            epoch = int(state.epoch)
            model, opt_state, loss, accuracy = train_epoch(
                state.model,
                state.opt_state,
                self.optimizer,
                data.x_train,
                data.y_train,
                training.batch_size,
                N_SYMBOLS,
                key=prng.fold_in(k_train, epoch),
                chip_per_batch=training.chip_per_batch,
            )
            validation, measure = self.validate(model, prng.fold_in(k_val, epoch))
            better = validation > state.best_validation
            best = jax.tree.map(
                functools.partial(jnp.where, better),
                eqx.filter(model, eqx.is_array),
                eqx.filter(state.best, eqx.is_array),
            )
            state = RecurrentState(
                model=model,
                opt_state=opt_state,
                best=eqx.combine(best, state.best),
                best_validation=jnp.where(better, validation, state.best_validation),
                best_epoch=jnp.where(better, epoch + 1, state.best_epoch),
                epoch=state.epoch + 1,
            )
            for name, value in zip(METRICS, (loss, accuracy, validation, measure), strict=True):
                rows[name].append(float(value))
        return state, rows

    def history_rows(self, records, state: RecurrentState) -> dict[str, np.ndarray]:
        n = len(records["loss"])
        first = int(state.epoch) - n
        rows = {"step": np.arange(first + 1, first + n + 1, dtype=np.int64)}
        return rows | {name: np.asarray(records[name], np.float64) for name in METRICS}

    def progress(self, history) -> dict[str, str]:
        return {
            "loss": f"{history['loss'][-1]:.3g}",
            "val": f"{history['validation_accuracy'][-1]:.3f}",
        }

    def steps_done(self, state: RecurrentState) -> int:
        return int(state.epoch)

    def next_stop(self, step: int) -> int:
        return min(step + self.chunk_steps, self.total_steps)

    def finish(self, state: RecurrentState, history, *, key):
        from .recurrent_chip import run_record

        _, _, _, k_finish = _keys(key)
        return run_record(self, state, history, key=k_finish)


def build_experiment(job, *, seed: int, epochs: int | None) -> RecurrentExperiment:
    """The experiment of a :class:`~.recurrent_job.RecurrentJob` and seed."""
    training = job.training
    epochs = training.epochs if epochs is None else epochs
    chip = job.chip()
    device = job.device(chip)
    task = job.task
    data = assoc_splits(
        seed, n_train=task.n_train, n_validation=task.n_validation, n_test=task.n_test
    )
    return RecurrentExperiment(
        job=job,
        data=data,
        program=compile_network(job.network, chip, device=device),
        chip=chip,
        device=device,
        optimizer=optax.adam(training.learning_rate),
        total_steps=epochs,
        chunk_steps=training.epochs_per_chunk,
        fingerprint=f"epochs={epochs}",
    )
