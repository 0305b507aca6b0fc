"""The one driver: every kind of job runs through :func:`run_job`.

It does all the I/O the experiments (:mod:`.experiment`) never do: it checks and locks the
output paths before any work, builds the experiment (data, compiled program), resumes from a
checkpoint, runs the chunks with a progress bar, saves an atomic checkpoint after every chunk,
honours a stop request (Ctrl-C, SIGTERM) between chunks, and writes the run file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import jax
import numpy as np

from .checkpoint import load_checkpoint, save_checkpoint
from .interrupt import RunInterrupted, stop_if_requested, stop_requested
from .outputs import claim_outputs
from .progress import Progress
from .run_file import RunRecord, write_run_file
from .vmapped import chunk_function

__all__ = ["run_job", "RunInterrupted", "appended_history", "checked_rows", "run_fingerprint"]


def run_job(
    job,
    out_path: str | Path,
    *,
    seed: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    stop_after_chunks: int | None = None,
    **options,
) -> RunRecord:
    """Run ``job`` (any kind) on its chip and write the run file ``out_path``.

    Args:
        seed: overrides the job's seed.
        resume: continue from the checkpoint next to ``out_path`` if there is one.
        overwrite: start again, replacing a checkpoint or a finished run file.
        progress: draw a progress bar on stderr.
        stop_after_chunks: stop (raise RunInterrupted) after this many chunks of this call,
            as an interruption would; the checkpoint stays for a resume.
        options: what the job's kind takes beyond these (``job.run_options``, e.g. a rate
            job's ``epochs``, ``eval_times_s``, ``data_dir``).

    Raises:
        RunInterrupted: stopped on request; the message says how to resume.
    """
    unknown = sorted(set(options) - set(job.run_options))
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not an option of a {job.kind} job ({job.source})")
    seed = job.seed if seed is None else seed
    with claim_outputs(out_path, resume=resume, overwrite=overwrite) as outputs:
        experiment = job.experiment(seed=seed, **options)
        stop_if_requested("before the run started (nothing to resume: run it again)")
        key = jax.random.key(seed)
        state = experiment.init(key=key)
        fingerprint = run_fingerprint(job, seed, experiment)
        history: dict[str, np.ndarray] = {}
        if outputs.resume:
            state, _, history = load_checkpoint(outputs.checkpoint, state, fingerprint=fingerprint)
        done = experiment.steps_done(state)
        total = experiment.total_steps
        with Progress(total, initial=done, name=job.name, enabled=progress) as bar:
            run = _Chunks(experiment, key, outputs, fingerprint, bar, stop_after_chunks)
            state, history = run(state, history)
        record = experiment.finish(state, history, key=key)
        stop_if_requested(_stopped(experiment.total_steps, experiment.total_steps, outputs))
        write_run_file(outputs.run_file, record)
        outputs.checkpoint.unlink(missing_ok=True)
    return record


class _Chunks:
    """The chunk loop of one run: checkpoint after every chunk, stop between them on request."""

    def __init__(self, experiment, key, outputs, fingerprint, bar, stop_after):
        self.experiment, self.key, self.outputs = experiment, key, outputs
        self.fingerprint, self.bar, self.stop_after = fingerprint, bar, stop_after
        self.chunk = chunk_function(experiment)

    def save(self, state, history) -> None:
        step = self.experiment.steps_done(state)
        save_checkpoint(
            self.outputs.checkpoint, state, step=step, fingerprint=self.fingerprint, history=history
        )

    def __call__(self, state, history):
        experiment, stop_after = self.experiment, self.stop_after
        saved, chunks = self.outputs.resume, 0
        while True:
            step = experiment.steps_done(state)
            if stop_requested() or (stop_after is not None and chunks >= stop_after):
                if not saved:
                    self.save(state, history)
                raise RunInterrupted(_stopped(step, experiment.total_steps, self.outputs))
            if step >= experiment.total_steps:
                return state, history
            if chunks == 0:
                self.bar.note("compiling the first chunk (XLA)")
            state, records = self.chunk(state, experiment.next_stop(step) - step, key=self.key)
            history = appended_history(
                history, checked_rows(experiment.history_rows(records, state))
            )
            self.save(state, history)
            saved, chunks = True, chunks + 1
            self.bar.advance(experiment.steps_done(state) - step, **experiment.progress(history))
            if stop_after is not None and experiment.steps_done(state) >= experiment.total_steps:
                stop_after = None  # the last chunk: nothing left to interrupt


def checked_rows(rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``rows`` of a chunk, refused if its energy is NaN: with the compilation cache on, the
    ledger books a negative increment (a bug) as NaN instead of raising inside the compiled
    program (:data:`memxbar.crossbar.ledger.CHECKS`); a run must not go on from there."""
    energy = rows.get("energy")
    if energy is not None and np.isnan(np.asarray(energy, np.float64)).any():
        raise RuntimeError(
            "the energy ledger booked a negative increment (NaN energies): a bug in a tile's "
            "bookkeeping; run with --no-cache to stop where it happens"
        )
    return rows


def appended_history(history: dict[str, np.ndarray], rows: dict[str, np.ndarray]):
    """``history`` with every array of ``rows`` appended along the first axis."""
    out = dict(history)
    for name, values in rows.items():
        out[name] = np.concatenate([out[name], values]) if name in out else np.asarray(values)
    return out


def _stopped(step: int, total: int, outputs) -> str:
    return (
        f"stopped at step {step} of {total}; {outputs.checkpoint} keeps it: run again with --resume"
    )


def run_fingerprint(job, seed: int, experiment) -> str:
    """What a checkpoint must match to be resumed: the job's text, kind, seed and options."""
    text = f"{job.text}\nkind={job.kind}\nseed={seed}\n{experiment.fingerprint}"
    return hashlib.sha256(text.encode()).hexdigest()
