"""File classifier job files (``kind: files``): a scan's metadata in, file classes out.

The spiking file classifier of Stanojevic, Cherubini, Moraitis et al. (2020): every file of a
scan (``memxbar files scan DIR -o files.csv``, :mod:`.data.file_scan`) becomes key–values
(:mod:`.data.file_features`), then a spike pattern of the correlative time code
(:mod:`.data.file_code`, one presentation of ``code.steps`` steps per file); one plastic layer
of LIF neurons on the chip's tiles learns the classes,

- ``supervised`` (:class:`~memxbar.algorithms.snn.TargetPatternRule`): one group of
  ``neurons.count`` neurons per class; the target pattern of a file is its class's group
  firing at ``training.target_steps``, every other neuron silent; a file's class is the group
  that fires most (ties: the highest membrane potential);
- or ``unsupervised`` (:class:`~memxbar.algorithms.snn.STDP` with a winner-take-all
  population of ``neurons.count``): neurons are labelled by the majority class of the
  training files they fire for, and a file's class is its spikes' vote.

Logistic regression and a linear SVM learn from the same key–values (one-hot) on the same
split; both are in the run file. An optional ``stream`` shows asynchronous ingest: files
arrive one by one after training and are classified on arrival (and, with ``learn``, learnt
from once their label is known), and halfway a subtree never seen in training appears.
Example::

    kind: files
    name: files_snn_ideal
    seed: 0
    data: {csv: files.csv, label: content_type, with_extension: false}
    code: {neurons_per_key: 32, events_per_value: 4, steps: 20}
    neurons: {count: 1, tau_m_s: 0.05, psp_V: 0.001}
    supervised: {learning_rate: 0.002, tau_pre_s: 0.05}
    training: {epochs: 6, files_per_chunk: 5000, target_steps: [19]}
    plasticity: {w_init: 0.0}
    stream: {new_subtree: usr/share/perl5, files: 4000, learn: true}
    hardware: {chip: pcm_256, tiles: ideal, w_max: 1.0}

A relative ``data.csv`` is read from ``memxbar run --data-dir`` if given, else from the job
file's folder.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

import equinox as eqx

from ..algorithms.snn import LIF, STDP, PulseSchedule, SpikingNetwork, TargetPatternRule
from ..compiler.network import Network, PlasticityRule, SpikingPopulation
from ..hw_configs import (
    ConfigError,
    InvalidParameter,
    brief,
    param,
    parse_yaml,
    section,
    written_key,
)
from .data.file_features import FEATURE_KEYS, LABEL_COLUMNS
from .experiment import register_kind
from .job import AbstractJob
from .spiking_job import PlasticityConfig

__all__ = [
    "FilesDataConfig",
    "FileCodeConfig",
    "FilesTrainingConfig",
    "StreamConfig",
    "FilesJob",
    "LAYER",
]

#: Name of the plastic layer in the compiled program and the run file.
LAYER = "classifier"


class FilesDataConfig(eqx.Module):
    """The scan, the label, the features and the split."""

    csv: str = param(
        "the scan (`memxbar files scan` output, .csv or .csv.gz); relative: from the job "
        "file's folder",
        static=True,
    )
    label: str = param(
        "the scan column that is the class: content_type, or uid, gid, mode_octal, nlink "
        "(whose feature is then dropped)",
        default="content_type",
        static=True,
    )
    with_extension: bool = param(
        "the file name's extension is a feature (the name itself never is)",
        default=False,
        static=True,
    )
    exclude: tuple[str, ...] = param(
        f"feature keys left out ({', '.join(FEATURE_KEYS)}; dirs: every directory level)",
        default=(),
        static=True,
    )
    max_depth: int = param("directory levels that are keys (dir1 …)", ge=1, default=4, static=True)
    test_fraction: float = param(
        "share of each class held out for testing (split seeded by the job's seed)",
        gt=0.0,
        lt=1.0,
        default=0.2,
    )
    max_files: int = param(
        "use a seeded random subset of this many files (0: all; quick runs)", ge=0, default=0
    )

    def __check_init__(self):
        if self.label not in LABEL_COLUMNS:
            raise InvalidParameter(
                "label", f"expected one of {', '.join(LABEL_COLUMNS)}, got {brief(self.label)}"
            )
        for i, key in enumerate(self.exclude):
            if key not in FEATURE_KEYS:
                raise InvalidParameter(
                    f"exclude[{i}]",
                    f"expected one of {', '.join(FEATURE_KEYS)}, got {brief(key)}",
                )

    def path(self, job_source: str, data_dir: str | None = None) -> Path:
        """The scan's path: a relative one is taken from ``data_dir`` (``memxbar run
        --data-dir``) if given, else from the job file's folder."""
        path = Path(self.csv).expanduser()
        if path.is_absolute():
            return path
        if data_dir is not None:
            return Path(data_dir).expanduser() / path
        return Path(job_source).resolve().parent / path if job_source else path


class FileCodeConfig(eqx.Module):
    """The correlative time code (:class:`~.data.file_code.CorrelativeTimeCode`)."""

    neurons_per_key: int = param("input neurons of each key", ge=1, default=32, static=True)
    events_per_value: int = param(
        "spikes of one nominal value (collisions: see the code's docs)", ge=1, default=4
    )
    steps: int = param("time steps of one file's presentation", ge=2, default=20, static=True)
    width: float = param(
        "an ordinal neuron's reach, in spacings of the preferred values", gt=0.0, default=8.0
    )
    levels: int = param("latency levels of an ordinal spike", ge=1, default=3)
    seed: int = param("the hash seed (the same value → the same spikes)", ge=0, default=0)
    dt_s: float = param("time step, s", gt=0.0, default=1e-3, static=True)

    def __check_init__(self):
        if self.events_per_value > self.neurons_per_key:
            raise InvalidParameter(
                "events_per_value",
                f"must not exceed neurons_per_key ({self.neurons_per_key}), got "
                f"{self.events_per_value}",
            )
        if 2 * self.levels > self.steps:
            raise InvalidParameter(
                "levels", f"2 × levels must not exceed steps ({self.steps}), got {self.levels}"
            )


class FilesTrainingConfig(eqx.Module):
    """Passes over the training files, chunks, and the supervised target pattern."""

    epochs: int = param("passes over the training files (each in a new seeded order)", ge=1)
    files_per_chunk: int = param(
        "files per jitted chunk (progress and checkpoint granularity)", ge=1, default=5000
    )
    target_steps: tuple[int, ...] = param(
        "supervised: the steps of a presentation at which the class's neurons should fire "
        "(negative: from the end; -1: the last step)",
        default=(-1,),
        static=True,
    )
    test_delay_s: float = param(
        "chip time between the end of training and the test (PCM drift), s", ge=0.0, default=1.0
    )


class StreamConfig(eqx.Module):
    """Asynchronous ingest after training: files classified one by one as they arrive."""

    new_subtree: str = param(
        "a directory (path prefix of the scan) kept out of training and testing; its files "
        "arrive in the second half of the stream",
        static=True,
    )
    files: int = param(
        "files in the stream: the first half from the test files, the second from the new subtree",
        ge=2,
    )
    learn: bool = param(
        "also run the stream learning from each file once classified (supervised)",
        default=True,
        static=True,
    )

    def __check_init__(self):
        if not self.new_subtree.strip("/"):
            raise InvalidParameter("new_subtree", "expected a directory of the scan, got ''")


@register_kind
class FilesJob(AbstractJob):
    """A file classifier job file (see the module docstring)."""

    kind: ClassVar[str] = "files"
    run_options: ClassVar[tuple[str, ...]] = ("epochs", "data_dir")
    data: FilesDataConfig = section("the scan, label, features and split")
    neurons: LIF = section(
        "the LIF neurons (count: per class when supervised, the WTA population otherwise)"
    )
    training: FilesTrainingConfig = section("epochs, chunks, target pattern")
    plasticity: PlasticityConfig = section("how learning writes the tiles")
    code: FileCodeConfig = section("the correlative time code", default=FileCodeConfig())
    supervised: TargetPatternRule | None = section(
        "the supervised rule (target spike pattern per class); null: unsupervised", default=None
    )
    unsupervised: STDP | None = section(
        "STDP for unsupervised learning with a winner-take-all population; null: supervised",
        default=None,
    )
    stream: StreamConfig | None = section("asynchronous ingest after training", default=None)

    @property
    def rule(self):
        return self.supervised if self.supervised is not None else self.unsupervised

    @property
    def target_steps(self) -> tuple[int, ...]:
        """The target steps, negative ones counted from the presentation's end."""
        steps = self.code.steps
        return tuple(sorted({s % steps for s in self.training.target_steps}))

    def check_sections(self, source: str) -> None:
        mapping = parse_yaml(self.text, source) if self.text else {}

        def error(key: str, message: str) -> ConfigError:
            return ConfigError(source, written_key(mapping, key) if mapping else key, message)

        if (self.supervised is None) == (self.unsupervised is None):
            raise error("supervised", "give exactly one of supervised and unsupervised")
        for i, step in enumerate(self.training.target_steps):
            if not -self.code.steps <= step < self.code.steps:
                raise error(
                    f"training.target_steps[{i}]",
                    f"must be a step of the presentation (−{self.code.steps} … "
                    f"{self.code.steps - 1}), got {step}",
                )
        if self.unsupervised is not None and not self.neurons.winner_take_all:
            raise error("neurons.winner_take_all", "unsupervised learning needs true (WTA)")
        if self.stream is not None and self.stream.learn and self.supervised is None:
            raise error("stream.learn", "learning on the stream needs supervised learning")
        try:
            self.engine(n_neurons=self.neurons.count)
        except InvalidParameter as err:
            raise error(f"plasticity.{err.field}", err.message) from None

    def engine(self, *, n_neurons: int, learning: bool = True) -> SpikingNetwork:
        """The spiking layer: one window per file, neurons rested at each file; ``learning``
        False: static weights (inference)."""
        p, steps = self.plasticity, self.code.steps
        lif = dataclasses.replace(self.neurons, count=n_neurons)
        return SpikingNetwork(
            lif=lif,
            rule=self.rule if learning else None,
            rest_every_steps=steps,
            dt_s=self.code.dt_s,
            window_steps=steps,
            depression=p.depression,
            schedule=PulseSchedule(p.threshold_pulses, p.max_pulses_per_write),
            read_every_windows=p.read_every_windows,
            # Inference writes nothing: no refresh either.
            refresh_every_windows=p.refresh_every_windows if learning else 0,
            write_every_windows=p.write_every_windows if learning else 1,
            record_inputs=False,
            record_potential=True,
        )

    def network_of(self, n_inputs: int, n_neurons: int) -> Network:
        """The compiler's view: one spiking population of the given size."""
        rule = self.rule
        params = {
            f.name: getattr(rule, f.name)
            for f in dataclasses.fields(rule)
            if isinstance(getattr(rule, f.name), int | float)
        }
        neuron = {
            k: getattr(self.neurons, k)
            for k in ("tau_m_s", "psp_V", "refractory_s", "v_threshold_V", "lateral_inhibition_V")
        }
        layer = SpikingPopulation(
            name=LAYER,
            n_inputs=n_inputs,
            n_neurons=n_neurons,
            steps=self.code.steps,
            lateral_inhibition=self.neurons.winner_take_all,
            neuron=tuple(sorted(neuron.items())),
            rule=PlasticityRule.create(rule.name, params),
        )
        return Network(self.name, (layer,))

    @property
    def network(self) -> Network:
        """The compiler's view of the job (reads the scan for the keys and classes)."""
        from .files_data import load_files

        data = load_files(self)
        return self.network_of(data.code.n_inputs, data.n_neurons)

    def experiment(self, *, seed: int, epochs: int | None = None, data_dir: str | None = None):
        """The runnable experiment (:class:`~.files_experiment.FilesExperiment`);
        ``data_dir``: where a relative ``data.csv`` is (default: the job file's folder)."""
        from .files_experiment import FilesExperiment

        return FilesExperiment.create(self, seed=seed, epochs=epochs, data_dir=data_dir)
