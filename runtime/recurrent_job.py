"""Recurrent job files (``kind: recurrent``): a recurrent classifier trained by BPTT through the
tiles on the associative retrieval task, then run on the chip.

``hardware.tiles: ideal`` trains and tests on float tiles. ``pcm`` trains hardware-aware
(:class:`~memxbar.crossbar.AwareTile`: the PCM read path in the forward pass), then programs
the long-term weights onto PCM tiles and, for the STPN, the fast weights onto a volatile tile
(``fast_weights``), and tests the chip after each drift time, with and without global drift
compensation (:mod:`.recurrent_experiment`).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import equinox as eqx

from ..compiler.network import Dense, Network, Recurrent
from ..devices.volatile import VolatileDevice
from ..hw_configs import ConfigError, param, section
from .data.assoc_retrieval import N_SYMBOLS, SEQUENCE_LENGTH
from .experiment import register_kind
from .job import AbstractJob

__all__ = ["TaskConfig", "ModelConfig", "BPTTConfig", "FastWeightsConfig", "RecurrentJob"]

#: A month of 30 days, s.
_MONTH_S = 30 * 86400.0


class TaskConfig(eqx.Module):
    """The associative retrieval task (generated from the job's seed; no files)."""

    n_train: int = param("training sequences", ge=1, default=100_000)
    n_validation: int = param("validation sequences (the best epoch is kept)", ge=1, default=10_000)
    n_test: int = param("test sequences", ge=1, default=20_000)


class ModelConfig(eqx.Module):
    """The recurrent cell and its size (the readout has one output per symbol)."""

    cell: Literal["stpn", "lstm", "rnn"] = param("recurrent cell", static=True)
    hidden: int = param("hidden units", ge=1, static=True)
    readout_w_max: float = param(
        "w_max of the readout's tile on PCM jobs (weight units): a readout sharpens its "
        "softmax with weights above the cell's (the float STPN's: median 1.7, 90 % below 4.4)",
        gt=0.0,
        default=4.0,
    )


class BPTTConfig(eqx.Module):
    """Training by backpropagation through time (Adam, cross-entropy at the last step)."""

    epochs: int = param("passes over the training set", ge=1)
    batch_size: int = param("sequences per Adam step", ge=1, static=True, default=128)
    learning_rate: float = param("Adam learning rate", gt=0.0, default=1e-3)
    epochs_per_chunk: int = param(
        "epochs per jitted chunk (progress and checkpoint granularity)", ge=1, default=1
    )
    eval_batch_size: int = param("sequences per evaluation batch", ge=1, static=True, default=1000)
    aware_drift_s: float = param(
        "PCM jobs: chip time after programming (s) the hardware-aware forward pass reads at "
        "(each device's drift spread left after global compensation, and the 1/f noise "
        "then); 0: right after programming",
        ge=0.0,
        default=0.0,
    )
    chip_per_batch: bool = param(
        "PCM jobs: the hardware-aware forward pass reads one chip per batch (programming "
        "errors and drift exponents drawn once per batch, as a programmed chip holds them for "
        "every step of every sequence) instead of a fresh draw at every read",
        default=False,
        static=True,
    )


class FastWeightsConfig(eqx.Module):
    """Where the STPN's fast weights F live on the chip (PCM jobs): a volatile tile."""

    step_s: float = param("chip time between two sequence steps, s", gt=0.0, default=1e-3)
    f_max: float = param(
        "fast weight of a device at g_max (weight units); 0: the largest |F̃| the trained "
        "model reaches on validation sequences, plus 10 %",
        ge=0.0,
        default=0.0,
    )
    adc_output_range: float = param(
        "ADC full scale of the fast tile's MVM, in units of (input_range · f_max): the fast "
        "weights' currents are far below the long-term tiles' (the chip's ADC range would "
        "round them to 0); 0: the largest |z·F̃| / f_max the trained model reaches on "
        "validation sequences, plus 10 %",
        ge=0.0,
        default=0.0,
    )
    device: VolatileDevice = section(
        "the volatile element (defaults: VolatileDevice.default, illustrative)",
        default=VolatileDevice.default(),
    )


class EvaluationConfig(eqx.Module):
    """The drift study of PCM jobs."""

    drift_times_s: tuple[float, ...] = param(
        "test the chip at these times after programming, s (1 h, 1 day, 1 month)",
        gt=0.0,
        default=(3600.0, 86400.0, _MONTH_S),
    )


@register_kind
class RecurrentJob(AbstractJob):
    """A recurrent job file."""

    kind: ClassVar[str] = "recurrent"
    run_options: ClassVar[tuple[str, ...]] = ("epochs",)
    model: ModelConfig = section("the recurrent cell")
    training: BPTTConfig = section("BPTT training")
    task: TaskConfig = section("the associative retrieval task", default=TaskConfig())
    fast_weights: FastWeightsConfig = section(
        "the STPN's fast weights on a volatile tile (PCM jobs)", default=FastWeightsConfig()
    )
    evaluation: EvaluationConfig = section("the drift study", default=EvaluationConfig())

    @property
    def gates(self) -> int:
        return 4 if self.model.cell == "lstm" else 1

    @property
    def network(self) -> Network:
        """The matrices placed on the chip: the cell's input and recurrent matrices, the
        readout. (The STPN's fast weights live on a volatile tile the compiler does not place.)"""
        hidden = self.model.hidden
        return Network(
            name=f"{self.model.cell}_{hidden}",
            layers=(
                Recurrent(
                    name="cell",
                    in_features=N_SYMBOLS,
                    hidden_features=hidden,
                    steps=SEQUENCE_LENGTH,
                    gates=self.gates,
                ),
                Dense(name="readout", in_features=hidden, out_features=N_SYMBOLS),
            ),
        )

    def check_sections(self, source: str) -> None:
        """Batches must fit the sets they are drawn from."""
        task, training = self.task, self.training
        if training.batch_size > task.n_train:
            raise ConfigError(
                source,
                "training.batch_size",
                f"{training.batch_size} is more than task.n_train ({task.n_train})",
            )
        for name in ("n_validation", "n_test"):
            n = getattr(task, name)
            if n % training.eval_batch_size:
                raise ConfigError(
                    source,
                    f"task.{name}",
                    f"{n} is not a multiple of training.eval_batch_size "
                    f"({training.eval_batch_size}): every sequence must be tested",
                )

    def w_max(self, matrix: str) -> float:
        """The w_max of a matrix ('input', 'recurrent', 'readout') on PCM tiles."""
        return self.model.readout_w_max if matrix == "readout" else self.hardware.w_max

    def decay_range(self) -> tuple[float, float] | None:
        """The STPN decays a PCM job's volatile element realises (None for ideal jobs)."""
        if self.hardware.tiles != "pcm":
            return None
        config = self.fast_weights
        return config.device.decay_range(config.step_s)

    def experiment(self, *, seed, epochs=None):
        """The runnable experiment (data generated, tiles built).

        Args:
            epochs: overrides training.epochs.
        """
        if epochs is not None and epochs < 1:
            raise ValueError(f"epochs must be ≥ 1, got {epochs}")
        from .recurrent_experiment import build_experiment

        return build_experiment(self, seed=seed, epochs=epochs)
