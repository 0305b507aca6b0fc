"""The one experiment contract every kind of job implements, and the registry of kinds.

An experiment is a job made runnable: its data loaded, its program compiled, its settings
checked. The driver (:func:`memxbar.runtime.loop.run`) owns all I/O — output checks,
checkpoints, resume, progress, interruption, the run file — and calls only these methods:

- ``init(key) -> state``: program the chip; the state is a pytree of arrays;
- ``chunk(state, n_steps, key) -> (state, records)``: the next ``n_steps`` steps, pure
  (jitted by the kind); ``key`` is the run's key, every step folds in its own index, so the
  result does not depend on how the run is cut into chunks;
- ``history_rows(records, state) -> rows``: what a chunk adds to the run's history (NumPy,
  appended along the first axis; the history is checkpointed with the state);
- ``finish(state, history, key) -> RunRecord``: evaluation and the run record, no I/O;
- ``progress(history) -> {name: text}``: short live values for the progress bar.

Kinds register the job class that reads their files (:func:`register_kind`); the job class
builds the experiment. Nothing here knows a particular kind.
"""

import abc
from typing import ClassVar

import equinox as eqx
import numpy as np
from equinox import AbstractVar

__all__ = ["AbstractExperiment", "KINDS", "register_kind", "job_class"]


class AbstractExperiment(eqx.Module):
    """A runnable job: see the module docstring for the contract.

    Attributes:
        total_steps: steps of the whole run.
        chunk_steps: steps per chunk (progress and checkpoint granularity).
        fingerprint: the options that shape the run beyond the job text and seed (e.g. an
            epochs override); a checkpoint resumes only under the same ones.
    """

    #: True when ``init`` and ``chunk`` read the experiment's static parts and array leaves
    #: only, so that points differing only in array values (the seed) run stacked under
    #: ``jax.vmap`` (:mod:`memxbar.runtime.sweep.batched`).
    batchable: ClassVar[bool] = False
    #: Fields ``chunk`` never reads (data sets, job text, factories used by ``init``): left
    #: out of the vmapped program, so that runs of equal jobs share its compilation.
    host_fields: ClassVar[tuple[str, ...]] = ()

    total_steps: AbstractVar[int]
    chunk_steps: AbstractVar[int]
    fingerprint: AbstractVar[str]

    @abc.abstractmethod
    def init(self, *, key):
        """The state at the start of the run."""

    @abc.abstractmethod
    def chunk(self, state, n_steps: int, *, key):
        """(state, records) after ``n_steps`` more steps."""

    @abc.abstractmethod
    def history_rows(self, records, state) -> dict[str, np.ndarray]:
        """The rows a chunk's ``records`` add to the history (state: after the chunk)."""

    @abc.abstractmethod
    def finish(self, state, history: dict[str, np.ndarray], *, key):
        """The :class:`~memxbar.runtime.run_file.RunRecord` of the finished run."""

    @abc.abstractmethod
    def progress(self, history: dict[str, np.ndarray]) -> dict[str, str]:
        """Short live values for the progress bar."""

    @abc.abstractmethod
    def steps_done(self, state) -> int:
        """Steps the state has run."""

    @abc.abstractmethod
    def next_stop(self, step: int) -> int:
        """Where the chunk that starts at ``step`` ends (> step): a chunk later, or the end."""


#: Job kind (the ``kind`` key of a job file; none means "rate") → the job class that reads it.
KINDS: dict[str, type] = {}


def register_kind(cls: type) -> type:
    """Class decorator: register a job class under its ``kind`` class attribute."""
    kind = cls.kind
    if kind in KINDS and KINDS[kind] is not cls:
        raise ValueError(f"job kind {kind!r} is registered twice")
    KINDS[kind] = cls
    return cls


def job_class(kind: str) -> type:
    """The job class of ``kind``; ValueError naming the known kinds otherwise."""
    _load_builtin_kinds()
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r} (known: {', '.join(sorted(KINDS))})")
    return KINDS[kind]


def _load_builtin_kinds() -> None:
    # The kinds shipped with memxbar register themselves when their modules are imported.
    from . import files_job, rate_job, recurrent_job, spiking_job, ststdp_job  # noqa: F401
