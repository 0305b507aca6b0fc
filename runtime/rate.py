"""Rate-based jobs (``kind: rate``, the default): learning on image data in batches.

A rate job names its data, a network whose layers carry a local plasticity rule (SoftHebb,
convolutional SoftHebb), the hardware and the training schedule; after training, a digital
linear readout is trained on the learned features and tested. The experiment follows the
contract of :mod:`.experiment`: every step's batch, key and chip time depend only on the step
number, so a run gives the same result whatever its chunks and after a resume.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..algorithms import AbstractAlgorithm, algorithm_for
from ..compiler import Program, compile_network
from ..compiler.network import Network, network_from_mapping
from ..crossbar import EnergyLedger
from ..hw_configs import ConfigError, InvalidParameter, build, param, section
from .chip import tile_factory
from .datasets import Dataset, check_network_input, load_dataset
from .evaluation import evaluate
from .experiment import AbstractExperiment, register_kind
from .job import SEED_MAX, AbstractJob, HardwareConfig
from .trainer import Schedule, ledger_row, tiles_ledger, train_chunk

__all__ = [
    "DataConfig",
    "TrainingConfig",
    "ReadoutConfig",
    "RateJob",
    "RateState",
    "RateExperiment",
]


class DataConfig(eqx.Module):
    """Which data set and how it is split."""

    dataset: Literal["digits", "mnist", "cifar10", "stl10"] = param("data set name", static=True)
    test_fraction: float = param("share held out for testing (digits)", gt=0.0, lt=1.0)
    center: bool = param("subtract the training set's mean image from every sample", static=True)
    train_limit: int = param("use at most this many training samples (0: all)", ge=0)
    test_limit: int = param("use at most this many test samples (0: all)", ge=0)
    data_dir: str = param(
        "data folder for mnist, cifar10 (cifar-10-batches-py/), stl10 (stl10_binary/) "
        "('' → --data-dir or $MEMXBAR_DATA; nothing is downloaded)",
        static=True,
        default="",
    )


class TrainingConfig(eqx.Module):
    """The on-chip learning schedule."""

    epochs: int = param("passes over the training set", ge=1)
    batch_size: int = param("samples per learning step", ge=1)
    chunk_steps: int = param("steps per jitted chunk (progress and checkpoint granularity)", ge=1)
    refresh_every_steps: int = param("refresh the tiles every this many steps (0: never)", ge=0)
    step_time_s: float = param("chip time that passes per learning step, s", gt=0.0)
    snapshots: int = param("conductance/weight snapshots written over training", ge=1)


class ReadoutConfig(eqx.Module):
    """The digital linear classifier trained on the learned features."""

    epochs: int = param("full-batch optimisation steps", ge=1)
    learning_rate: float = param("Adam learning rate", gt=0.0)
    feature_inv_tau: float = param("features are softmax(feature_inv_tau * u)", gt=0.0)
    activation: Literal["softmax", "triangle"] = param(
        "feature map of the outputs u: 'softmax' (softmax(feature_inv_tau * u), the shallow "
        "SoftHebb paper) or 'triangle' (relu(u - mean over neurons of u), Journé et al. 2023)",
        static=True,
        default="softmax",
    )


class _Sections(eqx.Module):
    name: str = param("job name", static=True)
    seed: int = param("PRNG seed", ge=0, le=SEED_MAX)
    data: DataConfig = section("data")
    hardware: HardwareConfig = section("hardware")
    training: TrainingConfig = section("training")
    readout: ReadoutConfig = section("readout")


@register_kind
class RateJob(AbstractJob):
    """A rate-based job file."""

    kind: ClassVar[str] = "rate"
    run_options: ClassVar[tuple[str, ...]] = ("epochs", "eval_times_s", "data_dir")
    name: str = param("job name", static=True)
    seed: int = param("PRNG seed (the --seed option overrides it)", ge=0, le=SEED_MAX)
    data: DataConfig = section("data")
    network: Network = eqx.field(static=True)
    hardware: HardwareConfig = section("hardware")
    training: TrainingConfig = section("training")
    readout: ReadoutConfig = section("readout")
    source: str = eqx.field(static=True)
    text: str = eqx.field(static=True)
    chip_overrides: tuple = eqx.field(static=True)
    device_overrides: tuple = eqx.field(static=True)

    @classmethod
    def from_mapping(cls, mapping: dict, *, source: str, text: str, overrides: dict) -> RateJob:
        if "network" not in mapping:
            raise ConfigError(source, "network", "is missing (the layers to build)")
        network = network_from_mapping(mapping["network"], source=source)
        try:
            algorithm_for(network)  # a bad rule names the job's key now, not at run time
        except InvalidParameter as err:
            raise ConfigError(source, f"network.{err.field}", err.message) from None
        rest = {k: v for k, v in mapping.items() if k != "network"}
        sections = build(_Sections, rest, source=source)
        fields = {name: getattr(sections, name) for name in sections.__dataclass_fields__}
        return cls(network=network, source=source, text=text, **fields, **overrides)

    def experiment(self, *, seed, epochs=None, eval_times_s=(), data_dir=None):
        """The runnable experiment: data loaded and checked, program compiled.

        Args:
            epochs: overrides training.epochs.
            eval_times_s: drift study: test accuracy at these times (s) after the last
                update, with and without global drift compensation.
            data_dir: data folder (MNIST, CIFAR-10, STL-10) overriding data.data_dir.
        """
        if any(not (t > 0) for t in eval_times_s):
            raise ValueError(f"eval times must be positive seconds, got {list(eval_times_s)}")
        if epochs is not None and epochs < 1:
            raise ValueError(f"epochs must be ≥ 1, got {epochs}")
        training = self.training
        if epochs is not None:
            training = eqx.tree_at(lambda t: t.epochs, training, epochs)
        chip = self.chip()
        device = self.device(chip)
        program = compile_network(self.network, chip, device=device)
        data = load_dataset(self.data, seed=seed, data_dir=data_dir)
        check_network_input(self.network, data, source=self.source)
        schedule = Schedule(
            data.x_train.shape[0], training.batch_size, training.epochs, training.step_time_s
        )
        total = schedule.total_steps
        planned = np.linspace(0, total, training.snapshots + 1).round().astype(int)[1:]
        return RateExperiment(
            job=self,
            algorithm=algorithm_for(self.network),
            data=data,
            x_train=jnp.asarray(data.x_train),
            schedule=schedule,
            program=program,
            make_tile=tile_factory(chip, self.hardware.tiles, self.hardware.w_max, device=device),
            refresh_every_steps=training.refresh_every_steps,
            total_steps=total,
            chunk_steps=training.chunk_steps,
            snapshot_steps=tuple(int(s) for s in np.unique(planned)),
            eval_times_s=tuple(float(t) for t in eval_times_s),
            fingerprint=f"epochs={training.epochs}",
        )


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
        jax.random.permutation(jax.random.fold_in(key, epoch), schedule.n_train)[: spe * b]
        for epoch in range(schedule.epochs)
    ]
    return jnp.concatenate(epochs).reshape(-1, b).astype(jnp.int32)


def _keys(key):
    """The run's keys: (init, data order, training, evaluation)."""
    return jax.random.split(key, 4)


class RateExperiment(AbstractExperiment):
    """A rate job made runnable (see :mod:`.experiment` for the contract)."""

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
        from ..hw_configs import format_joules

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
