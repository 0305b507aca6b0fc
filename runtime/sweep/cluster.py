"""Sweep groups as tasks on a Dask.distributed cluster (``memxbar sweep --scheduler`` or
``--workers``).

Each group of points (:func:`.batched.seed_groups`) is one task: a worker builds the points'
jobs from their texts, runs them as this process would (vmapped when they differ only in the
seed) in a temporary folder of its own, and sends the run records back. The driver writes
each point's run file and the sweep file as results arrive, so an interrupted sweep resumes
with every finished point kept (``--resume``). A task that fails is retried (``retries``);
a task on a worker that dies is rerun elsewhere by the scheduler. A point's result does not
depend on which worker ran it: its key is its seed, its program the one ``memxbar run``
compiles.

Dask is an optional extra: ``pip install 'memxbar[cluster]'``. Workers must have memxbar,
its dependencies and the job's data (``--data-dir`` names a folder valid on the workers).
One Dask thread per worker: XLA uses the worker machine's cores itself.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from ..interrupt import stop_if_requested
from ..job import job_from_text
from .batched import run_points

__all__ = ["DaskCluster", "dask_cluster"]

#: Failed tasks are retried this many times (a worker dying does not count: the scheduler
#: reschedules its tasks by itself).
RETRIES = 2


def _require_distributed():
    try:
        import distributed
    except ImportError:
        raise ValueError(
            "--scheduler / --workers need Dask: pip install 'memxbar[cluster]'"
        ) from None
    return distributed


def run_group_task(source: str, texts: list[str], options: dict) -> list:
    """On a worker: the run records of one group's points (jobs given by their texts)."""
    jobs = [job_from_text(text, source) for text in texts]
    with tempfile.TemporaryDirectory(prefix="memxbar-sweep-") as folder:
        paths = [Path(folder) / f"point_{i}.h5" for i in range(len(jobs))]
        return run_points(jobs, paths, options, checkpoint=Path(folder) / "group.ckpt")


class DaskCluster:
    """A Dask client the sweep sends its groups to."""

    def __init__(self, client):
        self.client = client

    def run_groups(self, jobs, groups, paths, options, *, progress, bar):
        """Submit every group; yield (group, run records) as they finish, in any order.
        Closing the generator (an interruption) cancels what has not finished."""
        distributed = _require_distributed()
        del paths, progress
        source = jobs[0].source
        futures = {}
        for group in groups:
            texts = [jobs[i].text for i in group]
            future = self.client.submit(
                run_group_task, source, texts, options, retries=RETRIES, pure=False
            )
            futures[future] = group
        bar.note(f"{len(groups)} groups sent to {self.describe()}")
        try:
            for future in distributed.as_completed(list(futures)):
                stop_if_requested("between points: --resume to continue")
                yield futures[future], future.result()
        finally:
            self.client.cancel(list(futures))

    def describe(self) -> str:
        workers = self.client.scheduler_info().get("workers", {})
        return f"Dask at {self.client.scheduler.address} ({len(workers)} workers)"


@contextlib.contextmanager
def dask_cluster(scheduler: str | None = None, workers: int | None = None):
    """A :class:`DaskCluster`: connected to the scheduler at ``scheduler``
    (``tcp://HOST:8786``), or a LocalCluster of ``workers`` processes started for the
    sweep (one thread each) and stopped after it."""
    if (scheduler is None) == (workers is None):
        raise ValueError("give either --scheduler ADDRESS or --workers N")
    distributed = _require_distributed()
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout="20s")
        except OSError as err:
            raise ValueError(f"--scheduler {scheduler}: cannot connect ({err})") from None
        with client:
            yield DaskCluster(client)
        return
    with (
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield DaskCluster(client)
