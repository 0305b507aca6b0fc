"""A sweep run point after point in this process, each point an ordinary run.

Every point's job is built and checked before any work (a bad value names the point). Point
``i`` runs as ``memxbar run`` would run its job file, to ``OUT_points/point_<i>.h5`` beside
the sweep file, so that a point's result is that run's, bit for bit (its seed is the job's
``seed``, or the point's value of a ``seed`` axis). After every point the sweep file is
rewritten atomically; an interrupted sweep keeps its finished points and ``resume`` runs
the others (the interrupted point from its checkpoint).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ...hw_configs import ConfigError
from ...hw_configs.files import check_output_file
from ...hw_configs.yaml_reader import read_text
from ..interrupt import RunInterrupted, stop_if_requested
from ..job import job_from_text
from ..progress import Progress
from ..run_file import read_run_file, write_run_file
from .axes import Axis, merge_axes, point_job_text, sweep_points, sweep_section
from .batched import run_points, seed_groups
from .sweep_file import SweepRecord, read_sweep_file, stored_points, write_sweep_file

__all__ = ["point_folder", "plan_sweep", "run_sweep", "describe_point"]


def point_folder(out: str | Path) -> Path:
    """The folder of a sweep's per-point run files: ``OUT_points`` beside ``OUT``."""
    out = Path(out)
    return out.with_name(f"{out.stem}_points")


def describe_point(point: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items())


def _point_jobs(job_path: Path, text: str, points: list[dict]):
    jobs = []
    for i, point in enumerate(points):
        point_text = point_job_text(text, point, str(job_path))
        try:
            jobs.append(job_from_text(point_text, str(job_path)))
        except ConfigError as err:
            raise ValueError(f"sweep point {i} ({describe_point(point)}): {err}") from None
    return jobs


def _claim(out: Path, record: SweepRecord, *, resume: bool, overwrite: bool) -> None:
    """Refuse to mix sweeps: an existing sweep is continued (resume, same job and axes) or
    replaced (overwrite), never silently."""
    if resume and overwrite:
        raise ValueError("--resume and --overwrite exclude each other (continue, or start again)")
    folder = point_folder(out)
    present = out.exists() or (folder.is_dir() and any(folder.iterdir()))
    if overwrite:
        out.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
    elif resume and out.exists():
        before = read_sweep_file(out)
        if (before.job_yaml, before.keys, before.points) != (
            record.job_yaml,
            record.keys,
            stored_points(record.keys, record.points),
        ):
            raise ValueError(f"--resume: {out} is a sweep of another job or other points")
    elif present and not resume:
        raise ValueError(f"-o {out}: a sweep is there; --resume to continue, --overwrite to redo")
    folder.mkdir(exist_ok=True)


def plan_sweep(job_path: str | Path, axes: list[Axis], zipped=(), options: dict | None = None):
    """(job text, axes, zip groups, points, every point's checked job) of a sweep: the job
    file's ``sweep:`` section merged with ``axes``; ValueError naming the point and key for
    anything wrong, before any work (the CLI checks this before it starts a cluster)."""
    job_path = Path(job_path)
    text = read_text(job_path)
    file_axes, file_zipped = sweep_section(text, str(job_path))
    axes = merge_axes(file_axes, list(axes))
    zipped = file_zipped + list(zipped)
    if not axes:
        raise ValueError(
            f"{job_path}: nothing to sweep: give --over KEY=VALUES or a sweep: section"
        )
    points = sweep_points(axes, zipped)
    jobs = _point_jobs(job_path, text, points)
    unknown = sorted(set(options or {}) - set(jobs[0].run_options))
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not an option of a {jobs[0].kind} job")
    return text, axes, zipped, points, jobs


def run_sweep(
    job_path: str | Path,
    axes: list[Axis],
    out: str | Path,
    *,
    zipped: list[tuple[str, ...]] = (),
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    stop_after_points: int | None = None,
    group_size: int = 64,
    cluster=None,
    **options,
) -> SweepRecord:
    """Run every point of ``axes`` over the job ``job_path``; write the sweep file ``out``.

    Args:
        zipped: groups of axis keys that advance together (:func:`.axes.sweep_points`).
        resume / overwrite: continue an interrupted sweep / start again.
        stop_after_points: stop (RunInterrupted) once this many points of this call have
            finished (whole groups), as an interruption between points would.
        group_size: at most this many points (differing only in ``seed``) run together under
            ``jax.vmap`` (:mod:`.batched`); 1 runs every point on its own.
        cluster: a :class:`.cluster.DaskCluster` to run the groups on (None: here).
        options: run options of the job's kind (``data_dir``, ``epochs``, ...).
    """
    job_path = Path(job_path)
    out = check_output_file(out)
    text, axes, zipped, points, jobs = plan_sweep(job_path, axes, zipped, options)
    record = SweepRecord(
        job_yaml=text,
        keys=tuple(a.key for a in axes),
        zipped=tuple(tuple(g) for g in zipped),
        points=points,
        done=np.zeros(len(points), bool),
        final={},
        energy={},
        history={},
    )
    _claim(out, record, resume=resume, overwrite=overwrite)
    folder = point_folder(out)
    paths = [folder / f"point_{i:04d}.h5" for i in range(len(points))]
    runs = _finished_runs(jobs, paths)
    groups = seed_groups(points, [i for i in range(len(points)) if i not in runs], group_size)
    execute = run_groups_here if cluster is None else cluster.run_groups
    name = f"sweep {job_path.stem}"
    with Progress(len(points), name=name, unit="point", initial=len(runs), enabled=progress) as bar:
        ran = 0
        for group, records in execute(jobs, groups, paths, options, progress=progress, bar=bar):
            for i, run in zip(group, records, strict=True):
                runs[i] = run
                if not paths[i].exists():  # a cluster worker's run: written here
                    write_run_file(paths[i], run)
            write_sweep_file(out, _collect(record, runs))
            bar.advance(len(group))
            ran += len(group)
            left = len(points) - len(runs)
            if left and stop_after_points is not None and ran >= stop_after_points:
                raise RunInterrupted(f"after {ran} points of this call: --resume to continue")
    record = _collect(record, runs)
    write_sweep_file(out, record)
    return record


def _finished_runs(jobs, paths) -> dict:
    """{point: run record} of the points whose run files exist (an earlier call's)."""
    runs = {}
    for i, path in enumerate(paths):
        if path.exists():
            runs[i] = read_run_file(path)
            if runs[i].job_yaml != jobs[i].text:
                raise ValueError(f"--resume: {path} is not sweep point {i}'s run")
    return runs


def run_groups_here(jobs, groups, paths, options, *, progress, bar):
    """Run the groups in this process, one after another; yield (group, run records)."""
    for group in groups:
        stop_if_requested("between points: --resume to continue")
        bar.note(describe_group([jobs[i] for i in group], group))
        checkpoint = paths[group[0]].with_name(f"group_{group[0]:04d}.ckpt")
        members = [jobs[i] for i in group]
        records = run_points(
            members, [paths[i] for i in group], options, checkpoint=checkpoint, progress=progress
        )
        yield group, records


def describe_group(jobs: list, group: list[int]) -> str:
    """E.g. ``4 points vmapped (seeds 0,1,2,3)`` or ``point 5 (seed 1)``."""
    seeds = ",".join(str(job.seed) for job in jobs)
    if len(group) == 1:
        return f"point {group[0]} (seed {seeds})"
    return f"{len(group)} points vmapped (seeds {seeds})"


def _collect(record: SweepRecord, runs: dict) -> SweepRecord:
    """``record`` with the finished runs' finals, energies and histories filled in."""
    n = len(record.points)

    def scalars(of):
        names = sorted({k for r in runs.values() for k, v in of(r).items() if np.ndim(v) == 0})
        columns = {name: np.full(n, np.nan) for name in names}
        for i, r in runs.items():
            for name in names:
                if name in of(r):
                    columns[name][i] = float(of(r)[name])
        return columns

    done = np.zeros(n, bool)
    done[list(runs)] = True
    history = {i: {"step": r.metric_steps, **r.metrics} for i, r in runs.items()}
    return SweepRecord(
        job_yaml=record.job_yaml,
        keys=record.keys,
        zipped=record.zipped,
        points=record.points,
        done=done,
        final=scalars(lambda r: r.final),
        energy=scalars(lambda r: r.energy_attrs),
        history=history,
    )
