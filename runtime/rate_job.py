"""Rate-based job files (``kind: rate``, the default): learning on image data in batches.

A rate job names its data, a network whose layers carry a local plasticity rule (SoftHebb,
convolutional SoftHebb), the hardware and the training schedule; after training, a digital
linear readout is trained on the learned features and tested
(:mod:`.rate_experiment`).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ..algorithms import algorithm_for
from ..compiler import compile_network
from ..compiler.network import Network
from ..hw_configs import ConfigError, InvalidParameter, param, section
from .chip import tile_factory
from .data.datasets import check_network_input, load_dataset
from .experiment import register_kind
from .job import AbstractJob
from .trainer import Schedule

__all__ = [
    "DataConfig",
    "TrainingConfig",
    "ReadoutConfig",
    "RateJob",
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


@register_kind
class RateJob(AbstractJob):
    """A rate-based job file."""

    kind: ClassVar[str] = "rate"
    run_options: ClassVar[tuple[str, ...]] = ("epochs", "eval_times_s", "data_dir")
    data: DataConfig = section("data")
    network: Network = section("the layers to build")
    training: TrainingConfig = section("training")
    readout: ReadoutConfig = section("readout")

    def check_sections(self, source: str) -> None:
        """A bad rule names the job's key now, not at run time."""
        try:
            algorithm_for(self.network)
        except InvalidParameter as err:
            raise ConfigError(source, f"network.{err.field}", err.message) from None

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
        from .rate_experiment import RateExperiment

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
