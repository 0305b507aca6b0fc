"""Short-term STDP job files (``kind: ststdp``): static digits learned on the chip, transformed
sequences recognised with and without a fast synaptic term.

A rate job (:mod:`.rate_job`: ``data``, ``network`` with one SoftHebb layer, ``training``,
``readout``) learns the long-term weights W on the chip's tiles from static, centred images;
then the same tile drives a spiking winner-take-all layer (``neurons``, ``coding``) that
classifies every frame of continuously transformed and occluded sequences (``sequences``,
:mod:`.data.transformed_digits`), once with W alone and once with the short-term STDP term F
(``short_term``, :mod:`memxbar.algorithms.snn.short_term`) held as digital state or on a
volatile tile (``fast_weights``). Moraitis, Sebastian and Eleftheriou (2020),
arXiv:2009.06808. A backprop MLP (``baseline``) trained on the same static images is tested on
the same frames.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import equinox as eqx

from ..algorithms.snn import LIF, ShortTermSTDP
from ..devices.volatile import VolatileDevice
from ..hw_configs import ConfigError, param, section
from .experiment import register_kind
from .rate_job import RateJob

__all__ = ["CodingConfig", "SequencesConfig", "FastTermConfig", "BaselineConfig", "STSTDPJob"]


class CodingConfig(eqx.Module):
    """How a frame becomes spikes, and how long it is shown."""

    max_rate_Hz: float = param("Poisson rate of a pixel of intensity 1, Hz", gt=0.0)
    steps_per_frame: int = param("time steps per frame (one update window)", ge=1, static=True)
    dt_s: float = param("time step, s", gt=0.0, default=1e-3, static=True)
    eval_batch: int = param("sequences per compiled batch", ge=1, default=100, static=True)
    test_delay_s: float = param(
        "chip time between the end of training and the sequences, s (PCM drift)",
        ge=0.0,
        default=1.0,
    )


class SequencesConfig(eqx.Module):
    """The transformed test sequences (from the test images; seeded by the job's seed)."""

    n_sequences: int = param("sequences per speed", ge=1)
    frames: int = param("frames per sequence", ge=1)
    speeds: tuple[float, ...] = param(
        "transformation speeds (multiples of the rates below; 0: a static digit, only the "
        "occluder moves)",
        ge=0.0,
    )
    occlusion: float = param(
        "width of the sweeping bar as a fraction of the side (0: none)", ge=0.0, lt=1.0
    )
    max_shift_fraction: float = param(
        "bound of the translation, as a fraction of the side", ge=0.0, default=1 / 16
    )
    max_rotation_rad: float = param("bound of the rotation, rad", ge=0.0, default=math.pi / 12)
    scale_min: float = param("smallest scale factor", gt=0.0, default=0.9)
    scale_max: float = param("largest scale factor", gt=0.0, default=1.1)
    shift_rate_fraction: float = param(
        "translation per frame at speed 1, as a fraction of the side", ge=0.0, default=1 / 32
    )
    rotation_rate_rad: float = param(
        "rotation per frame at speed 1, rad", ge=0.0, default=math.pi / 60
    )
    scale_rate: float = param("change of log(scale) per frame at speed 1", ge=0.0, default=0.01)

    def generate(self, images, labels, *, speed: float, seed: int, shuffled: bool = False):
        """The sequences at ``speed`` from square ``images`` (n, side²) and their ``labels``
        (:func:`~.data.transformed_digits.transformed_sequences` with these settings)."""
        from .data.transformed_digits import transformed_sequences

        side = int(round(math.sqrt(images.shape[1])))
        return transformed_sequences(
            images,
            labels,
            n_sequences=self.n_sequences,
            frames=self.frames,
            speed=speed,
            occlusion=self.occlusion,
            seed=seed,
            shuffle_frames=shuffled,
            max_shift=self.max_shift_fraction * side,
            max_rotation=self.max_rotation_rad,
            scale_range=(self.scale_min, self.scale_max),
            shift_rate=self.shift_rate_fraction * side,
            rotation_rate=self.rotation_rate_rad,
            scale_rate=self.scale_rate,
        )


class FastTermConfig(eqx.Module):
    """Where F lives: exact digital state, or volatile devices that relax by themselves."""

    where: Literal["digital", "volatile"] = param(
        "'digital' (exact state, nothing booked) or 'volatile' (a volatile tile: writes and "
        "reads booked, device spread and noise)",
        default="digital",
        static=True,
    )
    adc_output_range: float = param(
        "volatile: ADC full scale of F's MVM in units of (input_range · f_max), f_max being "
        "the rule's bound on F",
        gt=0.0,
        default=0.5,
    )
    device: VolatileDevice = section(
        "the volatile element (defaults: VolatileDevice.default, illustrative)",
        default=VolatileDevice.default(),
    )


class BaselineConfig(eqx.Module):
    """A multilayer perceptron trained by backprop (scikit-learn, Adam) on the static images."""

    hidden: int = param("hidden units (one ReLU layer)", ge=1, default=100)
    max_iter: int = param("training epochs at most", ge=1, default=300)


@register_kind
class STSTDPJob(RateJob):
    """A short-term STDP job file (see the module docstring)."""

    kind: ClassVar[str] = "ststdp"
    run_options: ClassVar[tuple[str, ...]] = ("epochs", "data_dir")
    neurons: LIF = section("the winner-take-all LIF layer (count: the SoftHebb layer's width)")
    coding: CodingConfig = section("rate coding of the frames")
    short_term: ShortTermSTDP = section("the short-term STDP term F")
    sequences: SequencesConfig = section("the transformed test sequences")
    fast_weights: FastTermConfig = section("where F lives", default=FastTermConfig())
    baseline: BaselineConfig = section("the backprop MLP baseline", default=BaselineConfig())

    def check_sections(self, source: str) -> None:
        super().check_sections(source)
        if self.data.center:
            raise ConfigError(
                source, "data.center", "must be false: spike rates need pixels in [0, 1]"
            )
        layers = self.network.layers
        if len(layers) != 1:
            raise ConfigError(source, "network.layers", "expected one SoftHebb layer")
        if self.neurons.count != layers[0].out_features:
            raise ConfigError(
                source,
                "neurons.count",
                f"{self.neurons.count} differs from the layer's out_features "
                f"({layers[0].out_features})",
            )
        if self.sequences.scale_min > self.sequences.scale_max:
            raise ConfigError(source, "sequences.scale_min", "must not exceed scale_max")
        if self.data.dataset not in ("digits", "mnist"):
            raise ConfigError(
                source,
                "data.dataset",
                f"expected digits or mnist (square grey images), got {self.data.dataset!r}",
            )
        coding = self.coding
        if coding.max_rate_Hz * coding.dt_s > 1.0:
            raise ConfigError(
                source,
                "coding.max_rate_Hz",
                f"{coding.max_rate_Hz:g} Hz is more than one spike per step of "
                f"{coding.dt_s:g} s (at most {1 / coding.dt_s:g} Hz)",
            )

    def experiment(self, *, seed, epochs=None, data_dir=None):
        """The runnable experiment: the rate experiment that learns W, plus the sequences."""
        rate = super().experiment(seed=seed, epochs=epochs, data_dir=data_dir)
        from .ststdp_experiment import STSTDPExperiment

        return STSTDPExperiment.create(self, rate, seed=seed)
