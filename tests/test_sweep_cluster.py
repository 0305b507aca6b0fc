"""memxbar sweep on Dask (issue 16): a LocalCluster of 2 workers gives the local sweep's
results; a worker killed mid-sweep has its group rerun elsewhere with the same results; an
interrupted driver resumes with the finished points kept."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
from support import assert_same_run, job_mapping, run_cli, write_yaml

from memxbar.runtime.interrupt import RunInterrupted
from memxbar.runtime.run_file import read_run_file
from memxbar.runtime.sweep import parse_axis, point_folder, read_sweep_file, run_sweep
from memxbar.runtime.sweep.cluster import DaskCluster

distributed = pytest.importorskip("distributed", reason="Dask is the optional 'cluster' extra")

#: 4 learning rates x 2 seeds: 4 groups of 2 points (vmapped on the workers).
AXES = ("readout.learning_rate=0.05,0.04,0.03,0.02", "seed=0:2")


@pytest.fixture(scope="module")
def tiny_job(tmp_path_factory):
    return write_yaml(tmp_path_factory.mktemp("cluster") / "tiny.yaml", job_mapping("ideal"))


@pytest.fixture(scope="module")
def local_sweep(tiny_job, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "sweep.h5"
    run_sweep(tiny_job, [parse_axis(a) for a in AXES], out, progress=False)
    return out


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def assert_same_points(out, reference, n: int) -> None:
    for i in range(n):
        name = f"point_{i:04d}.h5"
        assert_same_run(
            read_run_file(point_folder(out) / name), read_run_file(point_folder(reference) / name)
        )
    a, b = read_sweep_file(out), read_sweep_file(reference)
    assert a.done.all() and b.done.all()
    np.testing.assert_array_equal(a.final["test_accuracy"], b.final["test_accuracy"])


def test_a_local_cluster_gives_the_local_sweep(tiny_job, local_sweep, client, tmp_path):
    out = tmp_path / "dask.h5"
    run_sweep(
        tiny_job, [parse_axis(a) for a in AXES], out, progress=False, cluster=DaskCluster(client)
    )
    assert_same_points(out, local_sweep, 8)
    assert not list(point_folder(out).glob("*.ckpt"))


@pytest.mark.slow  # 15 s; keeps the default suite under 10 min on 2 cores (CI)
def test_a_killed_worker_has_its_group_rerun_elsewhere(tiny_job, local_sweep, client, tmp_path):
    killed = []
    pids = client.run(os.getpid)  # worker address -> its process

    def kill_a_busy_worker():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:
                # SIGKILL, as a crash or a lost machine would end it; its nanny restarts it.
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    out = tmp_path / "killed.h5"
    try:
        run_sweep(
            tiny_job,
            [parse_axis(a) for a in AXES],
            out,
            progress=False,
            cluster=DaskCluster(client),
        )
    finally:
        killer.join()
    assert killed, "no worker was busy to be killed"
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the dead worker
    assert_same_points(out, local_sweep, 8)


def test_an_interrupted_driver_resumes_with_its_finished_points(
    tiny_job, local_sweep, client, tmp_path
):
    out = tmp_path / "resumed.h5"
    axes = [parse_axis(a) for a in AXES]
    cluster = DaskCluster(client)
    with pytest.raises(RunInterrupted, match="--resume"):
        run_sweep(tiny_job, axes, out, progress=False, cluster=cluster, stop_after_points=2)
    partial = read_sweep_file(out)
    assert 2 <= partial.done.sum() < 8
    finished = {p.name: p.stat().st_mtime_ns for p in point_folder(out).glob("point_*.h5")}
    assert len(finished) == partial.done.sum()
    run_sweep(tiny_job, axes, out, progress=False, cluster=cluster, resume=True)
    for name, mtime in finished.items():  # kept, not run again
        assert (point_folder(out) / name).stat().st_mtime_ns == mtime
    assert_same_points(out, local_sweep, 8)


@pytest.mark.slow  # starts its own 2-worker cluster (30 s); the library tests above share one
def test_cli_runs_a_sweep_on_a_local_cluster(tiny_job, local_sweep, tmp_path):
    out = tmp_path / "cli.h5"
    result = run_cli(
        "sweep",
        str(tiny_job),
        *(f"--over={a}" for a in AXES),
        "-o",
        str(out),
        "--workers",
        "2",
        "-q",
        "--no-plots",
    )
    assert result.returncode == 0, result.stderr
    assert_same_points(out, local_sweep, 8)


def test_cli_refuses_a_scheduler_and_workers_together(tiny_job, tmp_path):
    both = run_cli(
        "sweep",
        str(tiny_job),
        "--over=seed=0:2",
        "-o",
        str(tmp_path / "x.h5"),
        "--workers",
        "2",
        "--scheduler",
        "tcp://127.0.0.1:1",
    )
    assert both.returncode == 2
    assert both.stderr.strip() == "memxbar: error: give either --scheduler ADDRESS or --workers N"
    assert not (tmp_path / "x.h5").exists()


def test_cli_checks_every_point_before_it_starts_a_cluster(tiny_job, tmp_path):
    out = tmp_path / "bad.h5"
    bad = run_cli(
        "sweep", str(tiny_job), "--over=hardware.w_max=0.5,-1", "-o", str(out), "--workers", "2"
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("memxbar: error: sweep point 1 (hardware.w_max=-1)")
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "dask" not in bad.stderr.lower()  # refused before a cluster was started
    assert not out.exists() and not point_folder(out).exists()
