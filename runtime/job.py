"""Job files: what `memxbar run` and `memxbar compile` read, whatever their kind.

A job names its hardware (a chip preset, ideal or PCM tiles, overrides for ablations) and
what runs on it; the ``kind`` key (default ``rate``) picks the job class that reads the rest
(:mod:`.experiment` keeps the registry). :func:`load_job` reads a file once, strictly: every
problem is a ConfigError naming the file and the key.
"""

import abc
import dataclasses
from pathlib import Path
from typing import Literal

import equinox as eqx
from equinox import AbstractClassVar, AbstractVar

from ..compiler.network import Network
from ..crossbar.chip import load_chip
from ..devices import load_preset
from ..hw_configs import (
    ConfigError,
    InvalidParameter,
    Pairs,
    Scalar,
    attached,
    build,
    param,
    parse_yaml,
    preset_path,
    read_text,
    read_yaml,
    section,
    written_key,
)
from .experiment import job_class

__all__ = [
    "SEED_MAX",
    "AbstractJob",
    "HardwareConfig",
    "load_job",
    "job_from_text",
]

#: Largest seed: scikit-learn's splits (the digits data set) take 32-bit seeds, and every job
#: kind keeps the same range so a seed means the same thing everywhere.
SEED_MAX = 2**32 - 1


class HardwareConfig(eqx.Module):
    """Where the network runs."""

    chip: str = param("chip preset name or YAML path", static=True)
    tiles: Literal["pcm", "ideal"] = param("PCM tiles or ideal float tiles", static=True)
    w_max: float = param("weight represented by a full device (weight units)", gt=0.0)
    chip_overrides: Pairs[Scalar] = param(
        "chip preset values replaced for this job, by dotted key (ablations), e.g. "
        "{periphery.adc.bits: 6}",
        default=(),
        static=True,
    )
    device_overrides: Pairs[Scalar] = param(
        "device preset values replaced for this job, by dotted key, e.g. "
        "{variability.step_relative: 0.0}",
        default=(),
        static=True,
    )


class AbstractJob(eqx.Module):
    """A job file of some kind: what every kind shares, and what each must provide.

    Every job has a name, a seed and its hardware (chip preset, tile kind, w_max, overrides),
    and remembers the file it came from (``source``) and its text. A kind (a subclass
    registered with :func:`~.experiment.register_kind`) declares its own sections as fields,
    says which network it places on the chip, checks what spans its sections
    (:meth:`check_sections`) and builds its experiment.
    """

    kind: AbstractClassVar[str]
    #: Options of ``memxbar run`` beyond seed/resume/overwrite that this kind takes.
    run_options: AbstractClassVar[tuple[str, ...]]
    name: str = param("job name", static=True)
    seed: int = param("PRNG seed (the --seed option overrides it)", ge=0, le=SEED_MAX)
    hardware: HardwareConfig = section("chip preset, tile kind, w_max and overrides")
    source: str = attached("the file the job was read from", default="")
    text: str = attached("the job file's text (stored in the run file)", default="")
    #: The compiler's view of the job: the layers it places on the chip.
    network: AbstractVar[Network]

    @abc.abstractmethod
    def check_sections(self, source: str) -> None:
        """Raise ConfigError (naming ``source`` and the key) for what no single section can
        check on its own, e.g. a network whose rules the algorithms refuse."""

    @abc.abstractmethod
    def experiment(self, *, seed: int, **options):
        """The runnable :class:`~.experiment.AbstractExperiment` of this job and seed."""

    def chip(self):
        """The job's ChipSpec: its chip preset with ``hardware.chip_overrides`` applied.

        The overrides are appended to the preset's description, so that the description a
        report prints (and the program file records) says which chip was used.
        """
        overrides = dict(self.hardware.chip_overrides)
        chip = load_chip(self.hardware.chip, overrides)
        if not overrides or "description" in overrides:
            return chip
        changed = ", ".join(f"{k}={v}" for k, v in sorted(overrides.items()))
        return dataclasses.replace(chip, description=f"{chip.description} [overrides: {changed}]")

    def device(self, chip=None):
        """The chip's device model with ``hardware.device_overrides`` applied."""
        chip = self.chip() if chip is None else chip
        return load_preset(chip.device_preset, dict(self.hardware.device_overrides))

    def check_hardware(self, source: str):
        """Build chip and device now, so a bad preset or override names the job file.

        A problem with a value the job overrides is reported at the job's own key
        (``hardware.chip_overrides.<key>``); one in a preset names the preset and its key.
        """
        overrides = self.hardware
        try:
            chip = self.chip()
        except ConfigError as err:
            raise _hardware_error(err, source, "chip_overrides", overrides.chip_overrides) from None
        try:
            device = self.device(chip)
        except ConfigError as err:
            raise _hardware_error(
                err, source, "device_overrides", overrides.device_overrides
            ) from None
        try:
            chip.check_device(device)
        except InvalidParameter as err:
            path = preset_path("chips", self.hardware.chip)
            key = written_key(read_yaml(path), err.field)
            raise _hardware_error(
                ConfigError(str(path), key, err.message),
                source,
                "chip_overrides",
                overrides.chip_overrides,
            ) from None
        return self


def _hardware_error(err: ConfigError, source: str, what: str, overrides: tuple) -> ConfigError:
    """``err`` (from a preset) as an error of the job file ``source``."""
    # Overrides must name keys as the preset spells them, so an overridden key is err.key.
    if err.key in dict(overrides):
        return ConfigError(source, f"hardware.{what}.{err.key}", f"{err.message} ({err.source})")
    return ConfigError(source, "hardware", str(err))


def load_job(path: str | Path) -> AbstractJob:
    """Read and check a job YAML file of any kind (the file is read once).

    Raises:
        ConfigError (a ValueError): missing or malformed file, unknown kind, unknown or
            missing key, wrong type, impossible value; the message names the file and the key.
    """
    text = read_text(path)
    return job_from_text(text, str(path))


def job_from_text(text: str, source: str) -> AbstractJob:
    """A job from its YAML text (``source`` names it in errors)."""
    mapping = parse_yaml(text, source)
    kind = mapping.pop("kind", "rate")
    # A sweep section says how `memxbar sweep` varies the job; a run is one point of it
    # (memxbar.runtime.sweep.axes.sweep_section reads and checks it).
    mapping.pop("sweep", None)
    try:
        cls = job_class(kind)
    except ValueError as err:
        raise ConfigError(source, "kind", f"{err} (no kind: a rate-based job)") from None
    job = dataclasses.replace(build(cls, mapping, source=source), source=source, text=text)
    job.check_sections(source)
    return job.check_hardware(source)
