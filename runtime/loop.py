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

__all__ = ["run_job", "RunInterrupted"]


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
        fingerprint = _fingerprint(job, seed, experiment)
        history: dict[str, np.ndarray] = {}
        if outputs.resume:
            state, _, history = load_checkpoint(outputs.checkpoint, state, fingerprint=fingerprint)
        with Progress(
            experiment.total_steps,
            initial=experiment.steps_done(state),
            name=job.name,
            enabled=progress,
        ) as bar:
            state, history = _chunks(
                experiment,
                state,
                history,
                key,
                outputs.checkpoint,
                fingerprint,
                bar,
                stop_after_chunks,
                saved=outputs.resume,
            )
        record = experiment.finish(state, history, key=key)
        stop_if_requested(_stopped(experiment.total_steps, experiment.total_steps, outputs))
        write_run_file(outputs.run_file, record)
        outputs.checkpoint.unlink(missing_ok=True)
    return record


def _chunks(experiment, state, history, key, ckpt, fingerprint, bar, stop_after, *, saved):
    """Run chunks to the end; save a checkpoint after each; stop between them on request."""
    chunks = 0
    while True:
        step = experiment.steps_done(state)
        if stop_requested() or (stop_after is not None and chunks >= stop_after):
            if not saved:
                save_checkpoint(ckpt, state, step=step, fingerprint=fingerprint, history=history)
            raise RunInterrupted(_stopped(step, experiment.total_steps, ckpt))
        if step >= experiment.total_steps:
            return state, history
        if chunks == 0:
            bar.note("compiling the first chunk (XLA)")
        state, records = experiment.chunk(state, experiment.next_stop(step) - step, key=key)
        history = _appended(history, experiment.history_rows(records, state))
        done = experiment.steps_done(state)
        save_checkpoint(ckpt, state, step=done, fingerprint=fingerprint, history=history)
        saved, chunks = True, chunks + 1
        bar.advance(done - step, **experiment.progress(history))
        if stop_after is not None and done >= experiment.total_steps:
            stop_after = None  # the last chunk: nothing left to interrupt


def _appended(history: dict[str, np.ndarray], rows: dict[str, np.ndarray]):
    """``history`` with every array of ``rows`` appended along the first axis."""
    out = dict(history)
    for name, values in rows.items():
        out[name] = np.concatenate([out[name], values]) if name in out else np.asarray(values)
    return out


def _stopped(step: int, total: int, where) -> str:
    ckpt = getattr(where, "checkpoint", where)
    return f"stopped at step {step} of {total}; {ckpt} keeps it: run again with --resume"


def _fingerprint(job, seed: int, experiment) -> str:
    """What a checkpoint must match to be resumed: the job's text, kind, seed and options."""
    text = f"{job.text}\nkind={job.kind}\nseed={seed}\n{experiment.fingerprint}"
    return hashlib.sha256(text.encode()).hexdigest()
