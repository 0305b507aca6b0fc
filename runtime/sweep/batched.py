"""Sweep points that differ only in the chip seed, run together as one compiled program.

The points of a group share every static part of their experiment (the network, the chip,
the schedule); they differ in array values only: the chip's device draws, the data split,
the run's key. Their experiments' array leaves are stacked along a leading point axis and
``chunk`` runs under ``jax.vmap`` over it (:mod:`memxbar.runtime.vmapped`): one compilation
and one dispatch per chunk for the whole group, instead of one per point. With several
local devices (GPUs, or CPU devices from ``--xla_force_host_platform_device_count``) the
point axis is sharded over them.

Every point stays the run of its own job: its state is initialised by its own experiment
(as ``memxbar run`` does), its key is its seed, its history is cut from the group's records
by its own experiment and its run file is written by its own ``finish``; ``memxbar run``
runs the same vmapped program as a group of one, so a point's physics equals that run's bit
for bit, whatever the group size or sharding (:mod:`memxbar.runtime.vmapped` says which
float32 sums may differ by rounding).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..checkpoint import load_checkpoint, save_checkpoint
from ..interrupt import RunInterrupted, stop_if_requested, stop_requested
from ..loop import appended_history, checked_rows, run_fingerprint, run_job
from ..outputs import checkpoint_path
from ..progress import Progress
from ..run_file import RunRecord, write_run_file
from ..vmapped import (
    NotBatchable,
    VmappedChunk,
    check_alike,
    chunk_view,
    stack_trees,
    unstack_tree,
)

__all__ = [
    "NotBatchable",
    "placed",
    "point_axis_sharding",
    "run_group",
    "run_points",
    "seed_groups",
]


def seed_groups(points: list[dict], pending: list[int], max_size: int) -> list[list[int]]:
    """The pending point indices grouped by their values on every axis but ``seed``; groups
    of at most ``max_size`` points, in point order."""
    groups: dict[tuple, list[int]] = {}
    for i in pending:
        rest = tuple((k, str(v)) for k, v in points[i].items() if k != "seed")
        groups.setdefault(rest, []).append(i)
    out = []
    for members in groups.values():
        out += [members[j : j + max_size] for j in range(0, len(members), max_size)]
    return sorted(out)


def point_axis_sharding(n_points: int):
    """A sharding of the leading (point) axis over the local devices, or None when there is
    one device or the points do not divide evenly among them."""
    devices = jax.devices()
    if len(devices) < 2 or n_points % len(devices):
        return None
    return NamedSharding(Mesh(np.asarray(devices), ("points",)), PartitionSpec("points"))


def placed(tree, sharding):
    """``tree`` with its arrays put on ``sharding`` (None: left where they are)."""
    if sharding is None:
        return tree
    return jax.tree.map(lambda x: jax.device_put(x, sharding) if eqx.is_array(x) else x, tree)


def _history_key(i: int, name: str) -> str:
    return f"p{i}/{name}"


def _own_history(history: dict[str, np.ndarray], i: int) -> dict[str, np.ndarray]:
    prefix = _history_key(i, "")
    return {k[len(prefix) :]: v for k, v in history.items() if k.startswith(prefix)}


def run_group(
    jobs: list,
    seeds: list[int],
    paths: list[Path],
    checkpoint: Path,
    *,
    options: dict,
    progress: bool = False,
    stop_after_chunks: int | None = None,
) -> list[RunRecord]:
    """Run the points (``jobs`` with ``seeds``) together; write each point's run file.

    Args:
        paths: each point's run file.
        checkpoint: the group's checkpoint (stacked state, every point's history), saved
            atomically after every chunk and resumed from when present.
        progress: draw a progress bar of the group's steps on stderr.
        options: run options of the jobs' kind.
        stop_after_chunks: stop (RunInterrupted) after this many chunks, as an interruption.

    Raises:
        NotBatchable: the points' experiments differ in shapes (nothing has run).
        RunInterrupted: stopped on request; the checkpoint keeps the group.
    """
    experiments = [job.experiment(seed=s, **options) for job, s in zip(jobs, seeds, strict=True)]
    if not all(getattr(e, "batchable", False) for e in experiments):
        raise NotBatchable(f"{jobs[0].kind} jobs do not run vmapped")
    keys = [jax.random.key(s) for s in seeds]
    arrays = [eqx.filter(chunk_view(e), eqx.is_array) for e in experiments]
    check_alike(arrays, "experiments")
    states = [e.init(key=k) for e, k in zip(experiments, keys, strict=True)]
    check_alike(states, "initial states")
    first = experiments[0]
    sharding = point_axis_sharding(len(jobs))
    arrays = placed(stack_trees(arrays), sharding)
    stacked_keys = placed(jnp.stack(keys), sharding)
    state = stack_trees(states)
    prints = map(run_fingerprint, jobs, seeds, experiments)
    fingerprint = hashlib.sha256("\n".join(prints).encode()).hexdigest()
    history: dict[str, np.ndarray] = {}
    if checkpoint.exists():
        state, _, history = load_checkpoint(checkpoint, state, fingerprint=fingerprint)
    state = placed(state, sharding)
    program = VmappedChunk(first)
    step = first.steps_done(unstack_tree(state, 0))
    name = f"{len(jobs)} chips vmapped"
    with Progress(first.total_steps, initial=step, name=name, enabled=progress) as bar:
        chunks = 0
        while step < first.total_steps:
            if stop_requested() or (stop_after_chunks is not None and chunks >= stop_after_chunks):
                raise RunInterrupted(f"stopped at step {step} of {first.total_steps}")
            if chunks == 0:
                bar.note("compiling the group's chunk (XLA)")
            n_steps = first.next_stop(step) - step
            state, records = program(arrays, state, stacked_keys, n_steps)
            for i, experiment in enumerate(experiments):
                rows = checked_rows(
                    experiment.history_rows(unstack_tree(records, i), unstack_tree(state, i))
                )
                named = {_history_key(i, k): v for k, v in rows.items()}
                history = appended_history(history, named)
            save_checkpoint(
                checkpoint, state, step=step + n_steps, fingerprint=fingerprint, history=history
            )
            chunks += 1
            step = first.steps_done(unstack_tree(state, 0))
            bar.advance(n_steps, **first.progress(_own_history(history, 0)))
    records = []
    for i, (experiment, key, path) in enumerate(zip(experiments, keys, paths, strict=True)):
        record = experiment.finish(unstack_tree(state, i), _own_history(history, i), key=key)
        write_run_file(path, record)
        records.append(record)
    checkpoint.unlink(missing_ok=True)
    return records


def run_points(
    jobs: list, paths: list[Path], options: dict, *, checkpoint: Path, progress: bool = False
) -> list[RunRecord]:
    """Run the points ``jobs`` (one group of :func:`seed_groups`) into their run files
    ``paths``: stacked under vmap when there are several and their kind allows it
    (``checkpoint``: the group's), else one ordinary run after another (each resuming from
    its own checkpoint)."""
    if len(jobs) > 1:
        seeds = [job.seed for job in jobs]
        try:
            return run_group(jobs, seeds, paths, checkpoint, options=options, progress=progress)
        except NotBatchable:
            pass
    records = []
    for job, path in zip(jobs, paths, strict=True):
        stop_if_requested("between points: --resume to continue")
        resume = checkpoint_path(path).exists()
        records.append(run_job(job, path, resume=resume, progress=False, **options))
    return records
