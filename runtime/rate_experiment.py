"""Rate-based jobs made runnable: the experiment of :class:`~.rate_job.RateJob` and the end
of a run (calibrate, read the data, train the readout, the drift study, the run record).

The experiment follows the contract of :mod:`.experiment`: every step's batch, key and chip
time depend only on the step number, so a run gives the same result whatever its chunks and
after a resume.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..algorithms import AbstractAlgorithm, train_readout
from ..compiler import Program, program_to_yaml
from ..crossbar import COUNTERS, ENERGY_CATEGORIES, EnergyLedger, figure
from ..devices import prng
from ..hw_configs import format_joules
from .data.datasets import Dataset
from .experiment import AbstractExperiment
from .rate_job import RateJob
from .run_file import ENERGY_KEYS, RunRecord
from .trainer import Schedule, batched_features, ledger_row, map_tiles, tiles_ledger, train_chunk

__all__ = ["RateState", "RateExperiment", "evaluate"]


class RateState(eqx.Module):
    """The state of a rate run.

    Attributes:
        learner: the algorithm's state (its tiles).
        step: steps done.
        order: (total steps, batch) the training samples of every step, drawn at init.
        initial: the tiles' ledger right after programming (learning energy excludes it).
    """

    learner: object
    step: jax.Array
    order: jax.Array
    initial: EnergyLedger


def _batch_order(schedule: Schedule, key) -> jax.Array:
    """(total steps, batch) sample indices: a fresh permutation per epoch, drawn from ``key``
    and the epoch number; the last partial batch of an epoch is dropped."""
    spe, b = schedule.steps_per_epoch, schedule.batch_size
    epochs = [
        jax.random.permutation(prng.fold_in(key, epoch), schedule.n_train)[: spe * b]
        for epoch in range(schedule.epochs)
    ]
    return jnp.concatenate(epochs).reshape(-1, b).astype(jnp.int32)


def _keys(key):
    """The run's keys: (init, data order, training, evaluation)."""
    return prng.split(key, 4)


class RateExperiment(AbstractExperiment):
    """A rate job made runnable (see :mod:`.experiment` for the contract)."""

    batchable: ClassVar[bool] = True
    host_fields: ClassVar[tuple[str, ...]] = (
        "job",
        "data",
        "program",
        "make_tile",
        "snapshot_steps",
        "eval_times_s",
        "fingerprint",
    )

    job: RateJob
    algorithm: AbstractAlgorithm
    data: Dataset = eqx.field(static=True)
    x_train: jax.Array
    schedule: Schedule = eqx.field(static=True)
    program: Program = eqx.field(static=True)
    make_tile: object = eqx.field(static=True)
    refresh_every_steps: int = eqx.field(static=True)
    total_steps: int = eqx.field(static=True)
    chunk_steps: int = eqx.field(static=True)
    snapshot_steps: tuple[int, ...] = eqx.field(static=True)
    eval_times_s: tuple[float, ...] = eqx.field(static=True)
    fingerprint: str = eqx.field(static=True)

    def init(self, *, key) -> RateState:
        k_init, k_order, _, _ = _keys(key)
        learner = self.algorithm.init(self.make_tile, key=k_init)
        return RateState(
            learner=learner,
            step=jnp.zeros((), jnp.int32),
            order=_batch_order(self.schedule, k_order),
            initial=tiles_ledger(self.algorithm, learner),
        )

    def chunk(self, state: RateState, n_steps: int, *, key):
        _, _, k_train, _ = _keys(key)
        indices = jax.lax.dynamic_slice_in_dim(state.order, state.step, n_steps)
        steps = state.step + jnp.arange(n_steps, dtype=jnp.int32)
        learner, metrics = train_chunk(
            self.algorithm,
            self.schedule,
            self.refresh_every_steps,
            state.learner,
            self.x_train,
            indices,
            steps,
            k_train,
        )
        records = {
            "steps": steps,
            "metrics": metrics,
            "ledger": tiles_ledger(self.algorithm, learner),
            "weights": {n: t.true_weights() for n, t in self.algorithm.tiles(learner).items()},
        }
        return eqx.tree_at(lambda s: (s.learner, s.step), state, (learner, steps[-1] + 1)), records

    def history_rows(self, records, state: RateState) -> dict[str, np.ndarray]:
        step = int(state.step)
        energy = ledger_row(records["ledger"]) - ledger_row(state.initial)
        rows = {"step": np.array([step], np.int64), "energy": energy[None]}
        for name in self.algorithm.metric_names:
            rows[f"metric_{name}"] = np.array([float(jnp.mean(records["metrics"][name]))])
        first = step - len(records["steps"])
        # A snapshot at the end of the chunk that reaches a planned step, labelled with the
        # step it was taken at (the last one is always the final state).
        if any(first < s <= step for s in self.snapshot_steps):
            rows["snapshot_step"] = np.array([step], np.int64)
            for name, weights in records["weights"].items():
                rows[f"snapshot_{name}"] = np.asarray(weights)[None]
        return rows

    def progress(self, history) -> dict[str, str]:
        first = self.algorithm.metric_names[:1]
        values = {n: f"{history[f'metric_{n}'][-1]:.3g}" for n in first}
        return values | {"E": format_joules(history["energy"][-1, -1])}

    def steps_done(self, state: RateState) -> int:
        return int(state.step)

    def next_stop(self, step: int) -> int:
        return min(step + self.chunk_steps, self.total_steps)

    def finish(self, state: RateState, history, *, key):
        _, _, _, k_eval = _keys(key)
        return evaluate(self, state, history, key=k_eval)


def evaluate(experiment, state, history, *, key) -> RunRecord:
    """The run record of a finished rate run.

    The energy figures (:mod:`memxbar.crossbar.energy_figures`) and every ledger counter are
    those of training, the initial programming excluded.
    """
    algorithm, schedule = experiment.algorithm, experiment.schedule
    k_cal, k_train, k_test, k_drift = prng.split(key, 4)
    t_end = schedule.time_of(schedule.total_steps - 1)
    learner = state.learner
    trained = _difference(tiles_ledger(algorithm, learner).values(), state.initial.values())
    learner = map_tiles(algorithm, learner, lambda tile, k: tile.calibrate(t_end, key=k), k_cal)
    learner, test, readout, accuracy = _readout(experiment, learner, t_end + 1.0, k_train, k_test)
    samples = schedule.total_steps * schedule.batch_size
    test_samples = int(experiment.data.x_test.shape[0])
    energy = history["energy"]
    final = accuracy | {
        "training_steps": schedule.total_steps,
        "training_samples": samples,
        **{name: trained[name] for name in COUNTERS},
        "initial_programming_J": sum(state.initial.values()[k] for k in ENERGY_CATEGORIES),
        # The /energy records' last total, so that final and /energy/total agree to the bit.
        "training_energy_J": float(energy[-1, -1]),
        "test_samples": test_samples,
        "chip_time_end_s": float(t_end),
        **{n: float(history[f"metric_{n}"][-1]) for n in algorithm.metric_names},
    }
    per = {"E_update": trained["update_events"], "E_inference": test_samples, "E_sample": samples}
    tiles = algorithm.tiles(learner)
    conductances = {n: tile.programmed_conductances() for n, tile in tiles.items()}
    return RunRecord(
        job_yaml=experiment.job.text,
        program_yaml=program_to_yaml(experiment.program),
        metric_steps=history["step"],
        metrics={n: history[f"metric_{n}"] for n in algorithm.metric_names},
        energy_steps=history["step"],
        energy={k: energy[:, i] for i, k in enumerate(ENERGY_KEYS)},
        energy_attrs={
            figure(n).run_attr: figure(n).value(test if n == "E_inference" else trained, c)
            for n, c in per.items()
        },
        final=final,
        # The snapshots live in the history, so a resumed run has the earlier ones too.
        weights={n: np.asarray(history[f"snapshot_{n}"], np.float32) for n in tiles},
        weight_steps={n: history["snapshot_step"] for n in tiles},
        conductances={n: np.asarray(g) for n, g in conductances.items() if g is not None},
        eval_times_s=np.asarray(experiment.eval_times_s, np.float64),
        accuracy_vs_time=_drift_study(experiment, learner, t_end, readout, key=k_drift),
        setup={"tiles": experiment.job.hardware.tiles},
    )


def _readout(experiment, learner, t, k_train, k_test):
    """Read the training and test sets at chip time t (s) and train the linear readout.

    Returns (learner, what reading the test set cost, the readout, {train/test accuracy}).
    """
    algorithm, data, config = experiment.algorithm, experiment.data, experiment.job.readout
    u_train, learner = batched_features(algorithm, learner, data.x_train, t, key=k_train)
    before = tiles_ledger(algorithm, learner).values()
    u_test, learner = batched_features(algorithm, learner, data.x_test, t, key=k_test)
    test = _difference(tiles_ledger(algorithm, learner).values(), before)
    f_train = algorithm.readout_features(u_train, config)
    f_test = algorithm.readout_features(u_test, config)
    readout = train_readout(
        f_train,
        data.y_train,
        data.n_classes,
        steps=config.epochs,
        learning_rate=config.learning_rate,
    )
    accuracy = {
        "test_accuracy": float(readout.accuracy(f_test, data.y_test)),
        "train_accuracy": float(readout.accuracy(f_train, data.y_train)),
    }
    return learner, test, readout, accuracy


def _difference(end: dict[str, float], start: dict[str, float]) -> dict[str, float]:
    """What was booked between two ledger readings (:meth:`EnergyLedger.values`)."""
    return {k: end[k] - start[k] for k in end}


def _drift_study(experiment, learner, t_end, readout, *, key):
    """Test accuracy at t_end + each eval time, with and without drift compensation.

    The readout stays the one trained at 1 s, as a deployed chip's would; these reads are
    evaluated on copies of the state, so they are not booked in the run's energy.
    """
    algorithm, data, config = experiment.algorithm, experiment.data, experiment.job.readout
    results = {"compensated": [], "uncompensated": []}
    for i, delay in enumerate(experiment.eval_times_s):
        for j, (label, enabled) in enumerate((("compensated", True), ("uncompensated", False))):
            tiles = {
                n: tile.with_drift_compensation(enabled)
                for n, tile in algorithm.tiles(learner).items()
            }
            u, _ = batched_features(
                algorithm,
                algorithm.with_tiles(learner, tiles),
                data.x_test,
                t_end + delay,
                key=prng.fold_in(key, 2 * i + j),
            )
            f = algorithm.readout_features(u, config)
            results[label].append(float(readout.accuracy(f, data.y_test)))
    return {k: np.asarray(v, np.float64) for k, v in results.items()}
