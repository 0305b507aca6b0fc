"""Job files: what `memxbar run` and `memxbar compile` read.

A job names the data, the network (compiler IR with plasticity rules), the hardware (a chip
preset, ideal or PCM tiles) and the training schedule. Loading is strict: every problem is a
ConfigError naming the file and the key.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import equinox as eqx

from ..algorithms import algorithm_for
from ..compiler.network import Network, network_from_mapping
from ..crossbar.chip import load_chip
from ..devices import load_preset
from ..hw_configs import (
    ConfigError,
    InvalidParameter,
    brief,
    build,
    param,
    preset_path,
    read_yaml,
    section,
    written_key,
)

__all__ = [
    "SEED_MAX",
    "Job",
    "DataConfig",
    "HardwareConfig",
    "TrainingConfig",
    "ReadoutConfig",
    "load_job",
]

#: Largest seed: scikit-learn's splits (the digits data set) take 32-bit seeds, and every job
#: kind keeps the same range so a seed means the same thing everywhere.
SEED_MAX = 2**32 - 1


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


class HardwareConfig(eqx.Module):
    """Where the network runs."""

    chip: str = param("chip preset name or YAML path", static=True)
    tiles: Literal["pcm", "ideal"] = param("PCM tiles or ideal float tiles", static=True)
    w_max: float = param("weight represented by a full device (weight units)", gt=0.0)


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


class OnChip(eqx.Module):
    """What every job kind shares about its hardware: the chip and device with overrides.

    Subclasses have ``hardware`` (a HardwareConfig), ``chip_overrides`` and
    ``device_overrides`` (sorted (dotted key, value) tuples, see :func:`pop_overrides`).
    """

    def chip(self):
        """The job's ChipSpec: its chip preset with ``hardware.chip_overrides`` applied.

        The overrides are appended to the preset's description, so that the description a
        report prints (and the program file records) says which chip was used.
        """
        overrides = dict(self.chip_overrides)
        chip = load_chip(self.hardware.chip, overrides)
        if not overrides or "description" in overrides:
            return chip
        changed = ", ".join(f"{k}={v}" for k, v in sorted(overrides.items()))
        return dataclasses.replace(chip, description=f"{chip.description} [overrides: {changed}]")

    def device(self, chip=None):
        """The chip's device model with ``hardware.device_overrides`` applied."""
        chip = self.chip() if chip is None else chip
        return load_preset(chip.device_preset, dict(self.device_overrides))

    def check_hardware(self, source: str):
        """Build chip and device now, so a bad preset or override names the job file.

        A problem with a value the job overrides is reported at the job's own key
        (``hardware.chip_overrides.<key>``); one in a preset names the preset and its key.
        """
        try:
            chip = self.chip()
        except ConfigError as err:
            raise _hardware_error(err, source, "chip_overrides", self.chip_overrides) from None
        try:
            device = self.device(chip)
        except ConfigError as err:
            raise _hardware_error(err, source, "device_overrides", self.device_overrides) from None
        try:
            chip.check_device(device)
        except InvalidParameter as err:
            path = preset_path("chips", self.hardware.chip)
            key = written_key(read_yaml(path), err.field)
            raise _hardware_error(
                ConfigError(str(path), key, err.message),
                source,
                "chip_overrides",
                self.chip_overrides,
            ) from None
        return self


def _hardware_error(err: ConfigError, source: str, what: str, overrides: tuple) -> ConfigError:
    """``err`` (from a preset) as an error of the job file ``source``."""
    # Overrides must name keys as the preset spells them, so an overridden key is err.key.
    if err.key in dict(overrides):
        return ConfigError(source, f"hardware.{what}.{err.key}", f"{err.message} ({err.source})")
    return ConfigError(source, "hardware", str(err))


def pop_overrides(mapping: dict, source: str) -> tuple[dict, dict]:
    """(mapping without hardware.*_overrides, {name: sorted (dotted key, value) tuple})."""
    hardware = mapping.get("hardware")
    overrides = {"chip_overrides": (), "device_overrides": ()}
    if not isinstance(hardware, dict):
        return mapping, overrides
    hardware = dict(hardware)
    for name in overrides:
        value = hardware.pop(name, None) or {}
        if not isinstance(value, dict):
            raise ConfigError(
                source, f"hardware.{name}", f"expected a mapping of dotted keys, got {brief(value)}"
            )
        overrides[name] = tuple(sorted((str(k), v) for k, v in value.items()))
    return {**mapping, "hardware": hardware}, overrides


class Job(OnChip):
    """A complete job file."""

    name: str = param("job name", static=True)
    seed: int = param("PRNG seed (the --seed option overrides it)", ge=0, le=SEED_MAX)
    data: DataConfig = section("data")
    network: Network = eqx.field(static=True)
    hardware: HardwareConfig = section("hardware")
    training: TrainingConfig = section("training")
    readout: ReadoutConfig = section("readout")
    source: str = eqx.field(static=True, default="")
    text: str = eqx.field(static=True, default="")
    chip_overrides: tuple = eqx.field(static=True, default=())
    device_overrides: tuple = eqx.field(static=True, default=())


def load_job(path: str | Path) -> Job:
    """Read and check a job YAML file.

    Raises:
        ConfigError (a ValueError): missing or malformed file, unknown or missing key, wrong
            type, impossible value; the message names the file and the dotted key.
    """
    path = Path(path)
    mapping = read_yaml(path)
    source = str(path)
    if "network" not in mapping:
        raise ConfigError(source, "network", "is missing (the layers to build)")
    if mapping.get("kind", "rate") != "rate":
        raise ConfigError(
            source,
            "kind",
            f"expected 'rate' (or no kind) in a rate-based job, got {brief(mapping['kind'])}",
        )
    network = network_from_mapping(mapping["network"], source=source)
    _check_rules(network, source)
    rest = {k: v for k, v in mapping.items() if k not in ("network", "kind")}
    rest, overrides = pop_overrides(rest, source)
    sections = build(_JobSections, rest, source=source)
    job = Job(
        name=sections.name,
        seed=sections.seed,
        data=sections.data,
        network=network,
        hardware=sections.hardware,
        training=sections.training,
        readout=sections.readout,
        source=source,
        text=path.read_text(encoding="utf-8"),
        **overrides,
    )
    job.check_hardware(source)
    return job


def _check_rules(network: Network, source: str) -> None:
    """Build the network's learning algorithm now, so a bad rule names the job's key."""
    try:
        algorithm_for(network)
    except InvalidParameter as err:
        raise ConfigError(source, f"network.{err.field}", err.message) from None


class _JobSections(eqx.Module):
    name: str = param("job name", static=True)
    seed: int = param("PRNG seed", ge=0, le=SEED_MAX)
    data: DataConfig = section("data")
    hardware: HardwareConfig = section("hardware")
    training: TrainingConfig = section("training")
    readout: ReadoutConfig = section("readout")
