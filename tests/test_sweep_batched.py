"""Sweep points that differ only in the seed run stacked under jax.vmap (issue 16): each point
is still the run of its own job (its physics bit for bit, its float32 sums to rounding),
whatever the group size, the sharding over local devices or an interruption."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from support import assert_same_run, job_mapping, write_yaml

from memxbar.runtime.interrupt import RunInterrupted
from memxbar.runtime.job import job_from_text
from memxbar.runtime.loop import run_job
from memxbar.runtime.run_file import read_run_file
from memxbar.runtime.sweep import parse_axis, point_folder, point_job_text, run_sweep
from memxbar.runtime.sweep.batched import run_group, seed_groups

SEEDS = "seed=0:4"


@pytest.fixture(scope="module")
def pcm_job(tmp_path_factory):
    return write_yaml(tmp_path_factory.mktemp("batched") / "tiny_pcm.yaml", job_mapping("pcm"))


@pytest.fixture(scope="module")
def vmapped_sweep(pcm_job, tmp_path_factory):
    """The tiny PCM job over 4 seeds: one group of 4 points under vmap."""
    out = tmp_path_factory.mktemp("vmapped") / "sweep.h5"
    record = run_sweep(pcm_job, [parse_axis(SEEDS)], out, progress=False)
    return out, record


def point_run(out: Path, i: int):
    return read_run_file(point_folder(out) / f"point_{i:04d}.h5")


def test_points_differing_only_in_the_seed_form_groups():
    points = [{"seed": s, "a": a} for a in (1, 2) for s in range(5)]
    assert seed_groups(points, list(range(10)), 64) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert seed_groups(points, [0, 2, 3, 4, 7], 2) == [[0, 2], [3, 4], [7]]
    assert seed_groups(points, list(range(10)), 1) == [[i] for i in range(10)]


def test_a_vmapped_point_is_the_run_of_its_job_alone(pcm_job, vmapped_sweep, tmp_path):
    out, record = vmapped_sweep
    i = 2
    text = point_job_text(pcm_job.read_text(), record.points[i], str(pcm_job))
    alone = run_job(job_from_text(text, str(pcm_job)), tmp_path / "alone.h5", progress=False)
    assert_same_run(point_run(out, i), alone)
    # The seeds are different chips: their programmed conductances differ.
    g = [point_run(out, j).conductances["hebbian"] for j in range(4)]
    assert all(not np.array_equal(g[0], g[j]) for j in (1, 2, 3))


@pytest.mark.slow  # 20 s; the default suite keeps test_a_vmapped_point_is_the_run_of_its_job_alone
def test_the_group_size_does_not_change_a_point(pcm_job, vmapped_sweep, tmp_path):
    out, _ = vmapped_sweep
    pairs = tmp_path / "pairs.h5"
    run_sweep(pcm_job, [parse_axis(SEEDS)], pairs, progress=False, group_size=3)
    for i in range(4):  # points 0-2 ran as a group of 3, point 3 alone
        assert_same_run(point_run(pairs, i), point_run(out, i))


def test_an_interrupted_group_resumes_from_its_checkpoint(pcm_job, vmapped_sweep, tmp_path):
    out, record = vmapped_sweep
    text = pcm_job.read_text()
    jobs = [
        job_from_text(point_job_text(text, p, str(pcm_job)), str(pcm_job)) for p in record.points
    ]
    seeds = [j.seed for j in jobs]
    paths = [tmp_path / f"p{i}.h5" for i in range(4)]
    checkpoint = tmp_path / "group.ckpt"
    with pytest.raises(RunInterrupted):
        run_group(jobs, seeds, paths, checkpoint, options={}, stop_after_chunks=1)
    assert checkpoint.exists() and not any(p.exists() for p in paths)
    run_group(jobs, seeds, paths, checkpoint, options={})
    assert not checkpoint.exists()
    for i, path in enumerate(paths):
        assert_same_run(read_run_file(path), point_run(out, i))


@pytest.mark.slow  # 40 s: the program compiled again for a 4-device mesh
def test_sharded_over_four_devices_equals_unsharded(pcm_job, vmapped_sweep, tmp_path):
    """The same sweep in a process with 4 virtual CPU devices: the point axis is sharded over
    them (checked there), and every point file equals the unsharded one."""
    out, _ = vmapped_sweep
    sharded = tmp_path / "sharded.h5"
    script = textwrap.dedent(
        f"""
        import jax
        assert len(jax.devices()) == 4, jax.devices()
        from memxbar.runtime.sweep import parse_axis, run_sweep
        from memxbar.runtime.sweep import batched
        assert batched.point_axis_sharding(4) is not None
        run_sweep({str(pcm_job)!r}, [parse_axis({SEEDS!r})], {str(sharded)!r}, progress=False)
        """
    )
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for i in range(4):
        assert_same_run(point_run(sharded, i), point_run(out, i))
