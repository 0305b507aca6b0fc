"""Sweep axes (issue 16, first part): parsing, the points of a product and of zipped axes,
and each point's job text, loaded by the strict loader like any job file."""

from __future__ import annotations

import itertools

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from support import REPO, job_mapping

from memxbar.hw_configs import ConfigError
from memxbar.runtime.job import job_from_text
from memxbar.runtime.sweep import (
    Axis,
    apply_override,
    merge_axes,
    parse_axis,
    point_job_text,
    sweep_points,
    sweep_section,
)


@pytest.mark.parametrize(
    "text, key, values",
    [
        ("seed=0:4", "seed", (0, 1, 2, 3)),
        ("seed=2:11:3", "seed", (2, 5, 8)),
        ("training.epochs=1,2", "training.epochs", (1, 2)),
        ("hardware.w_max=0.5, 1.0", "hardware.w_max", (0.5, 1.0)),
        ("hardware.tiles=ideal,pcm", "hardware.tiles", ("ideal", "pcm")),
        ("x.flag=true,false", "x.flag", (True, False)),
    ],
)
def test_axes_parse_lists_and_ranges(text, key, values):
    axis = parse_axis(text)
    assert axis == Axis(key, values)
    assert [type(v) for v in axis.values] == [type(v) for v in values]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("seed", "expected KEY=V1,V2"),
        ("seed=", "expected KEY=V1,V2"),
        ("seed=4:4", "is empty"),
        ("seed=0:4:0", "is empty"),
        ("seed=1,1", "repeated"),
        ("a..b=1", "not a dotted job key"),
        ("a=1,,2", "not a number, boolean or word"),
        ("a=[1]", "not a number, boolean or word"),
    ],
)
def test_bad_axes_are_refused_with_the_axis_named(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_axis(text)


@given(st.lists(st.integers(1, 4), min_size=1, max_size=4))
def test_the_product_holds_every_combination_once_first_axis_slowest(sizes):
    axes = [Axis(f"k{i}", tuple(range(n))) for i, n in enumerate(sizes)]
    points = sweep_points(axes)
    combos = [tuple(p[a.key] for a in axes) for p in points]
    assert combos == list(itertools.product(*(a.values for a in axes)))


@given(st.integers(1, 5), st.integers(1, 4))
def test_zipped_axes_advance_together(n, m):
    axes = [Axis("a", tuple(range(n))), Axis("b", tuple(range(m))), Axis("c", tuple(range(n)))]
    points = sweep_points(axes, [("a", "c")])
    assert len(points) == n * m
    assert all(p["a"] == p["c"] for p in points)
    assert [list(p) for p in points] == [["a", "b", "c"]] * len(points)  # axis order kept


@pytest.mark.parametrize(
    "zipped, fragment",
    [
        ([("a",)], "at least two axes"),
        ([("a", "z")], "z is not an axis"),
        ([("a", "c"), ("c", "b")], "c is in two groups"),
        ([("a", "b")], "as many values, got a 2, b 3"),
    ],
)
def test_bad_zip_groups_are_refused(zipped, fragment):
    axes = [Axis("a", (1, 2)), Axis("b", (1, 2, 3)), Axis("c", (4, 5))]
    with pytest.raises(ValueError, match=fragment):
        sweep_points(axes, zipped)


def test_overrides_keys_below_an_overrides_mapping_are_one_dotted_key():
    job = {"hardware": {"chip": "pcm_256", "chip_overrides": {"tile.rows": 128}}}
    out = apply_override(job, "hardware.chip_overrides.periphery.adc.bits", 6)
    assert out["hardware"]["chip_overrides"] == {"tile.rows": 128, "periphery.adc.bits": 6}
    assert job["hardware"]["chip_overrides"] == {"tile.rows": 128}  # the input is not changed
    assert apply_override({}, "training.epochs", 3) == {"training": {"epochs": 3}}
    with pytest.raises(ValueError, match="hardware.chip is a value, not a section"):
        apply_override(job, "hardware.chip.rows", 1)


def test_a_points_job_loads_with_the_strict_loader_and_carries_the_values():
    source = REPO / "examples" / "softhebb_digits_pcm.yaml"
    text = source.read_text()
    point = {"seed": 7, "hardware.chip_overrides.periphery.adc.bits": 6, "training.epochs": 2}
    job = job_from_text(point_job_text(text, point, str(source)), "point 0")
    assert job.seed == 7 and job.training.epochs == 2
    assert job.chip().periphery.adc.bits == 6
    assert yaml.safe_load(point_job_text(text, {}, str(source))) == yaml.safe_load(text)


def test_a_point_with_an_unknown_key_is_refused_naming_it():
    source = REPO / "examples" / "softhebb_digits_pcm.yaml"
    text = point_job_text(source.read_text(), {"training.epochz": 2}, str(source))
    with pytest.raises(ConfigError, match="epochz"):
        job_from_text(text, "point 3")


def test_sweep_file_round_trip_and_the_points_a_resume_compares(tmp_path):
    import numpy as np

    from memxbar.runtime.sweep import SweepRecord, read_sweep_file, write_sweep_file
    from memxbar.runtime.sweep.sweep_file import stored_points

    points = [{"a": 4, "b": 1, "c": True}, {"a": "auto", "b": 0.5, "c": False}]
    record = SweepRecord(
        job_yaml="name: x\n",
        keys=("a", "b", "c"),
        zipped=(("a", "b"),),
        points=points,
        done=np.array([True, False]),
        final={"test_accuracy": np.array([0.5, np.nan])},
        energy={"per_sample_J": np.array([1e-9, np.nan])},
        history={0: {"step": np.arange(3)}},
    )
    write_sweep_file(tmp_path / "s.h5", record)
    back = read_sweep_file(tmp_path / "s.h5")
    assert back.points == stored_points(record.keys, points)
    assert back.points[0] == {"a": "4", "b": 1.0, "c": True}  # words win a mixed axis
    assert (back.job_yaml, back.keys, back.zipped) == ("name: x\n", ("a", "b", "c"), (("a", "b"),))
    assert back.done.tolist() == [True, False]
    np.testing.assert_array_equal(back.final["test_accuracy"], [0.5, np.nan])
    np.testing.assert_array_equal(back.history[0]["step"], np.arange(3))


SECTION = """\
name: j
seed: 3
sweep:
  over:
    seed: 0:6:2
    hardware.chip_overrides.periphery.adc.bits: [4, 8]
    readout.learning_rate: 0.05,0.02
  zip: [[hardware.chip_overrides.periphery.adc.bits, readout.learning_rate]]
"""


def test_a_sweep_section_gives_axes_and_zip_groups():
    axes, zipped = sweep_section(SECTION, "job.yaml")
    assert axes == [
        Axis("seed", (0, 2, 4)),
        Axis("hardware.chip_overrides.periphery.adc.bits", (4, 8)),
        Axis("readout.learning_rate", (0.05, 0.02)),
    ]
    assert zipped == [("hardware.chip_overrides.periphery.adc.bits", "readout.learning_rate")]
    assert len(sweep_points(axes, zipped)) == 3 * 2
    assert sweep_section("name: j\n", "job.yaml") == ([], [])
    # The command line's axes replace the file's of the same key and add the others.
    merged = merge_axes(axes, [parse_axis("seed=7,8"), parse_axis("training.epochs=1,2")])
    assert [a.key for a in merged] == [axes[0].key, axes[1].key, axes[2].key, "training.epochs"]
    assert merged[0].values == (7, 8)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("sweep: [seed]", r"job.yaml: sweep: expected a mapping"),
        ("sweep:\n  over: {seed: 0:0}", r"job.yaml: sweep.over.seed: .*empty"),
        ("sweep:\n  over: {seed: [1, [2]]}", r"job.yaml: sweep.over.seed: values must be"),
        ("sweep:\n  over: {seed: {a: 1}}", r"job.yaml: sweep.over.seed: expected a list"),
        ("sweep:\n  over: {seed: [1]}\n  zip: seed", r"job.yaml: sweep.zip: expected a list"),
        ("sweep:\n  every: {seed: [1]}", r"job.yaml: sweep: expected a mapping with 'over'"),
    ],
)
def test_a_bad_sweep_section_is_refused_naming_the_key(section, message):
    with pytest.raises(ValueError, match=message):
        sweep_section(f"name: j\n{section}\n", "job.yaml")


def test_a_run_of_a_job_with_a_sweep_section_is_one_point():
    mapping = job_mapping("ideal") | {"sweep": {"over": {"seed": "0:4"}}}
    job = job_from_text(yaml.safe_dump(mapping), "job.yaml")
    assert job.seed == mapping["seed"]
