"""The spiking file classifier (issue 15): the supervised rule, the engine's teacher, the
split, the job file, and scan → run on a tree the code has never seen (no code edited)."""

from __future__ import annotations

import gzip
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import assert_one_line_error, run_cli

from memxbar.algorithms.snn import (
    LIF,
    STDP,
    SpikingNetwork,
    TargetPatternRule,
    TimedPatterns,
    init_state,
    run_windows,
)
from memxbar.algorithms.snn.frames import frame_predictions, group_predictions
from memxbar.crossbar import IdealTile
from memxbar.hw_configs import ConfigError
from memxbar.runtime.data.file_features import file_records, split
from memxbar.runtime.files_data import load_files
from memxbar.runtime.job import job_from_text, load_job
from memxbar.runtime.loop import run_job
from memxbar.runtime.report.summary import format_summary
from memxbar.runtime.run_file import read_run_file

SNAPSHOT = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "files" / "debian_usr_files.csv.gz"
)

# --- the rule ---------------------------------------------------------------------------


def test_target_pattern_rule_follows_the_error():
    rule = TargetPatternRule(learning_rate=0.1, tau_pre_s=0.01)
    n_in = 2
    pre = jnp.array([[1.0, 0.5], [0.0, 2.0], [1.0, 1.0]])  # (K, n_in) traces
    post = jnp.array([[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]])  # neuron 0 fires at 2, neuron 1 at 0
    target = jnp.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])  # neuron 0 should also fire at 1
    W = jnp.zeros((n_in, 2))
    dW = rule.delta(W, pre, pre, post, None, target=target)
    # Neuron 1 fired exactly at its target: no change. Neuron 0 missed step 1: its inputs
    # grow by η times their traces at that step.
    np.testing.assert_allclose(np.asarray(dW[:, 1]), 0.0)
    np.testing.assert_allclose(np.asarray(dW[:, 0]), 0.1 * np.array([0.0, 2.0]), rtol=1e-6)
    # A spike where none is wanted depresses by the same measure.
    dW = rule.delta(W, pre, pre, target, None, target=post)
    np.testing.assert_allclose(np.asarray(dW[:, 0]), -0.1 * np.array([0.0, 2.0]), rtol=1e-6)
    with pytest.raises(ValueError, match="needs target spikes"):
        rule.delta(W, pre, pre, post, None)


@settings(max_examples=30, deadline=None)
@given(
    st.floats(-1.0, 1.0),
    st.floats(0.01, 10.0),
    st.lists(st.integers(0, 1), min_size=4, max_size=4),
)
def test_target_pattern_rule_keeps_the_bounds(w, eta, bits):
    rule = TargetPatternRule(learning_rate=eta, w_min=-1.0, w_max=1.0)
    spikes = jnp.asarray(np.array(bits, np.float32).reshape(2, 2))
    W = jnp.full((2, 2), w)
    dW = rule.delta(W, spikes, spikes * 3.0, spikes, None, target=1.0 - spikes)
    after = np.asarray(W + dW)
    assert np.all(after >= -1.0 - 1e-6) and np.all(after <= 1.0 + 1e-6)


def _two_class_task():
    """Two classes of fixed patterns on 8 inputs, one neuron each, taught to fire with the
    last input spike of their class; 20 presentations."""
    steps = 10
    patterns = [[(0, 1), (1, 3), (2, 5)], [(5, 1), (6, 3), (7, 5)]]
    labels = np.array([0, 1] * 10)
    source = TimedPatterns.create(patterns, n_inputs=8, steps_per_pattern=steps, order=labels)
    teacher = TimedPatterns.create(
        [[(0, 5)], [(1, 5)]], n_inputs=2, steps_per_pattern=steps, order=labels
    )
    lif = LIF(count=2, tau_m_s=0.05, psp_V=0.01, refractory_s=0.002)
    rule = TargetPatternRule(learning_rate=0.5, tau_pre_s=0.05)
    net = SpikingNetwork(lif=lif, rule=rule, window_steps=steps, rest_every_steps=steps)
    return net, source, teacher, labels


def test_a_teacher_makes_each_class_fire_its_own_neuron():
    net, source, teacher, labels = _two_class_task()
    tile = IdealTile.create(8, 2)
    state = init_state(net, 8)
    tile, _, traces = run_windows(
        net, tile, source, state, len(labels), key=jax.random.key(0), teacher=teacher
    )
    counts = np.asarray(traces["post_counts"])
    # After a few presentations each file fires only its class's neuron.
    late = slice(10, None)
    assert np.all(counts[late][np.arange(10), labels[late]] >= 1)
    assert np.all(counts[late][np.arange(10), 1 - labels[late]] == 0)
    W = np.asarray(tile.true_weights())
    assert W[:3, 0].min() > 0 and W[5:, 1].min() > 0 and W[3:5].max() == 0


def test_teachers_are_refused_where_they_do_not_belong():
    net, source, teacher, labels = _two_class_task()
    tile, state = IdealTile.create(8, 2), init_state(net, 8)
    with pytest.raises(ValueError, match="needs a teacher"):
        run_windows(net, tile, source, state, 2, key=jax.random.key(0))
    stdp = SpikingNetwork(
        lif=net.lif,
        rule=STDP(a_plus=0.1, a_minus=0.1, tau_plus_s=0.01, tau_minus_s=0.01),
        window_steps=10,
    )
    with pytest.raises(ValueError, match="not supervised"):
        run_windows(stdp, tile, source, state, 2, key=jax.random.key(0), teacher=teacher)
    wide = TimedPatterns.create([[(0, 9)]], n_inputs=3, steps_per_pattern=10)
    with pytest.raises(ValueError, match=r"teacher.s trains \(3\) must match"):
        run_windows(net, tile, source, state, 2, key=jax.random.key(0), teacher=wide)


def test_timed_patterns_show_the_order_given():
    source = TimedPatterns.create(
        [[(0, 0)], [(1, 1)], [(2, 0)]], n_inputs=3, steps_per_pattern=2, order=[2, 0, 2]
    )
    spikes = np.asarray(source.sample(0, 8, 1e-3, key=None))
    # Presentations 2, 0, 2, then the order repeats (2 again).
    expected = np.zeros((8, 3))
    expected[[0, 2, 4, 6], [2, 0, 2, 2]] = 1
    np.testing.assert_array_equal(spikes, expected)
    with pytest.raises(ValueError, match="outside 0 … 2"):
        TimedPatterns.create([[(0, 0)]] * 3, n_inputs=3, steps_per_pattern=2, order=[3])


def test_group_predictions_count_spikes_then_potentials():
    counts = np.array([[0, 0, 2, 0], [0, 0, 0, 0], [1, 0, 1, 0]])
    peak = np.array([[-0.06, -0.05, -0.07, -0.07], [-0.06, -0.05, -0.07, -0.055], [0, 0, 0, 0.1]])
    # Two groups of two neurons: most spikes win; among ties the highest peak potential.
    np.testing.assert_array_equal(group_predictions(counts, peak, 2), [1, 0, 1])


def test_frame_predictions_fall_back_to_the_labelled_neuron_closest_to_firing():
    labels = np.array([2, 0, -1, 1])  # neuron 2 never fired in labelling
    counts = np.array([[0, 3, 0, 1], [0, 0, 5, 0], [0, 0, 0, 0]])
    peak = np.array([[0, 0, 0, 0], [-0.06, -0.05, 0.0, -0.07], [-0.05, -0.06, -0.04, -0.055]])
    # Votes first (neuron 1 → class 0); a frame where only unlabelled neurons fired, or none,
    # takes the label of the labelled neuron with the highest peak (never the unlabelled one).
    np.testing.assert_array_equal(frame_predictions(counts, labels, 3, peak), [0, 0, 2])
    np.testing.assert_array_equal(frame_predictions(counts, labels, 3), [0, -1, -1])


# --- records and split ------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(0, 4), min_size=2, max_size=200),
    st.floats(0.05, 0.9),
    st.integers(0, 2**32 - 1),
)
def test_split_is_stratified_disjoint_and_seeded(labels, fraction, seed):
    labels = np.array(labels)
    train, test = split(labels, fraction, seed=seed)
    assert len(np.intersect1d(train, test)) == 0
    assert len(train) + len(test) == len(labels)
    for c in np.unique(labels):
        n = np.sum(labels == c)
        assert np.sum(labels[test] == c) == min(round(fraction * n), n - 1)
    again = split(labels, fraction, seed=seed)
    np.testing.assert_array_equal(again[0], train)
    np.testing.assert_array_equal(again[1], test)


def _row(path, ctype, uid="0", mode="100644"):
    return {
        "path": path,
        "size_bytes": "10",
        "mode_octal": mode,
        "uid": uid,
        "gid": "0",
        "nlink": "1",
        "mtime_s": "1700000000",
        "content_type": ctype,
    }


def test_a_label_column_drops_its_feature_and_exclude_drops_keys():
    rows = [_row("a/x", "text", uid="1"), _row("b/y", "elf", uid="2")]
    files = file_records(rows, with_extension=False, label="uid")
    assert files.classes == ["1", "2"] and "uid" not in files.nominal
    files = file_records(rows, with_extension=True, exclude=("dirs", "log_age"))
    assert files.nominal == ("ext", "uid", "gid", "mode", "nlink")
    assert [k.name for k in files.ordinal] == ["log_size", "depth"]
    with pytest.raises(ValueError, match="label must be one of"):
        file_records(rows, with_extension=False, label="path")
    with pytest.raises(ValueError, match="unknown keys"):
        file_records(rows, with_extension=False, exclude=("name",))


# --- a tree never seen: scan, then run ----------------------------------------------------

_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
_ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 200


def make_tree(root: Path, seed: int = 0) -> Path:
    """~330 files of five content types whose owners, folders and sizes tell them apart
    roughly as in a real system (binaries in bin/, icons, docs, Python packages)."""
    rng = np.random.default_rng(seed)
    root.mkdir()

    def put(path: str, data: bytes, mode: int = 0o644):
        p = root / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        p.chmod(mode)

    for i in range(60):
        put(f"bin/tool{i}", _ELF + bytes(int(rng.integers(0, 3000))), 0o755)
    for i in range(30):
        put(f"bin/script{i}", b"#!/bin/sh\necho %d\n" % i, 0o755)
    for i in range(70):
        put(f"share/icons/{i % 4}/icon{i}.png", _PNG + bytes(int(rng.integers(0, 500))))
    for i in range(70):
        pkg = f"pkg{i % 7}"
        put(f"share/doc/{pkg}/changelog{i}.gz", gzip.compress(bytes(rng.integers(0, 255, 400))))
        put(f"share/doc/{pkg}/README{i}", b"read me\n" * int(rng.integers(1, 50)))
    for i in range(30):
        put(f"lib/newpkg/mod{i}.py", b"x = 1\n" * int(rng.integers(1, 40)))
    return root


JOB = textwrap.dedent(
    """\
    kind: files
    name: tree
    seed: 0
    data: {csv: tree.csv, test_fraction: 0.25}
    code: {neurons_per_key: 16, events_per_value: 3, steps: 12}
    neurons: {count: 1, tau_m_s: 0.05, psp_V: 0.002, refractory_s: 0.002}
    supervised: {learning_rate: 0.01, tau_pre_s: 0.05}
    training: {epochs: 5, files_per_chunk: 250}
    plasticity: {w_init: 0.0}
    stream: {new_subtree: lib/newpkg, files: 40, learn: true}
    hardware: {chip: pcm_256, tiles: ideal, w_max: 1.0}
    """
)


@pytest.fixture(scope="module")
def tree_run(tmp_path_factory):
    """`memxbar files scan` of a fresh tree, then `memxbar run` of a job beside the CSV."""
    base = tmp_path_factory.mktemp("files")
    tree = make_tree(base / "tree")
    scan = run_cli("files", "scan", str(tree), "-o", str(base / "tree.csv"))
    assert scan.returncode == 0, scan.stderr
    (base / "tree.yaml").write_text(JOB)
    run = run_cli("run", str(base / "tree.yaml"), "-o", str(base / "tree.h5"), "-q")
    assert run.returncode == 0, run.stderr
    return base, run.stdout, read_run_file(base / "tree.h5")


def test_scan_then_run_on_a_new_tree_classifies_it(tree_run):
    base, stdout, record = tree_run
    final = record.final
    assert record.kind == "files" and record.setup["mode"] == "supervised"
    assert record.setup["classes"] == ["elf", "gzip", "png", "script", "text"]
    n_test = int(final["test_files"])
    majority = final["majority_accuracy"]
    # Well above the majority class: 4 binomial standard errors over the test files.
    assert final["test_accuracy"] > majority + 4 * np.sqrt(majority * (1 - majority) / n_test)
    # Counted: the confusion matrix holds every test file, its diagonal the accuracy.
    confusion = record.curves["confusion"]
    assert confusion.sum() == n_test
    assert confusion.trace() / n_test == pytest.approx(final["test_accuracy"])
    assert "SNN test accuracy (ideal)" in stdout and "logistic regression" in stdout
    for png in ("tree_confusion.png", "tree_stream.png", "tree_metrics.png"):
        assert (base / png).stat().st_size > 5000


def test_baselines_use_the_same_split(tree_run):
    from sklearn.linear_model import LogisticRegression

    from memxbar.runtime.data.file_features import one_hot

    base, _, record = tree_run
    job = load_job(base / "tree.yaml")
    data = load_files(job)
    assert len(data.train) == record.final["train_files"]
    assert len(data.test) == record.final["test_files"]
    X, y = one_hot(data.files), data.files.labels
    lr = LogisticRegression(max_iter=2000).fit(X[data.train], y[data.train])
    assert lr.score(X[data.test], y[data.test]) == record.final["logreg_accuracy"]


def test_the_new_subtree_is_kept_for_the_stream(tree_run):
    base, _, record = tree_run
    data = load_files(load_job(base / "tree.yaml"))
    paths = np.array(data.paths)
    held = np.char.startswith(paths.astype(str), "lib/newpkg/")
    assert not held[data.train].any() and not held[data.test].any()
    np.testing.assert_array_equal(held[data.stream], [False] * 20 + [True] * 20)
    assert np.isin(data.stream[:20], data.test).all()
    correct = record.curves["stream_correct_frozen"]
    assert correct.shape == (40,) and set(np.unique(correct)) <= {0, 1}
    # Learning from each file after classifying it: the new subtree (.py text in a folder
    # never seen) is learnt within the 20 files.
    final = record.final
    assert final["stream_learning_new_accuracy"] > final["stream_frozen_new_accuracy"]


def test_the_run_is_the_same_however_it_is_chunked(tree_run, tmp_path):
    base, _, record = tree_run
    job = load_job(base / "tree.yaml")
    text = job.text.replace("files_per_chunk: 250", "files_per_chunk: 100")
    (base / "tree_chunks.yaml").write_text(text)
    other = run_job(load_job(base / "tree_chunks.yaml"), tmp_path / "chunks.h5", progress=False)
    np.testing.assert_array_equal(other.weights["classifier"][-1], record.weights["classifier"][-1])
    assert other.final["test_accuracy"] == record.final["test_accuracy"]


def test_the_summary_names_the_baselines_and_the_stream(tree_run):
    _, _, record = tree_run
    text = format_summary(record, "tree")
    for fragment in ("linear SVM", "majority class", "ingest stream", "lib/newpkg", "frozen"):
        assert fragment in text


# --- bad job files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, key, fragment",
    [
        (
            "unsupervised: {a_plus: 0.01, a_minus: 0.01, tau_plus_s: 0.01, tau_minus_s: 0.01}",
            "supervised",
            "exactly one of supervised and unsupervised",
        ),
        (
            "training: {epochs: 1, target_steps: [12]}",
            "training.target_steps[0]",
            "a step of the presentation",
        ),
        ("data: {csv: tree.csv, label: path}", "data.label", "expected one of"),
        ("data: {csv: tree.csv, exclude: [name]}", "data.exclude[0]", "expected one of"),
        (
            "code: {events_per_value: 40, neurons_per_key: 16}",
            "code.events_per_value",
            "must not exceed neurons_per_key",
        ),
    ],
)
def test_bad_job_files_name_the_key(change, key, fragment):
    section = change.split(":")[0]
    lines = [line for line in JOB.splitlines() if not line.startswith(section + ":")]
    text = "\n".join([*lines, change]) + "\n"
    with pytest.raises(ConfigError) as err:
        job_from_text(text, "job.yaml")
    assert err.value.key == key and fragment in str(err.value)


def test_unsupervised_needs_a_winner_take_all_and_no_stream_learning():
    text = JOB.replace(
        "supervised: {learning_rate: 0.01, tau_pre_s: 0.05}",
        "unsupervised: {a_plus: 0.01, a_minus: 0.015, tau_plus_s: 0.01, tau_minus_s: 0.01}",
    )
    with pytest.raises(ConfigError, match="needs true"):
        job_from_text(text, "job.yaml")
    text = text.replace("refractory_s: 0.002}", "refractory_s: 0.002, winner_take_all: true}")
    with pytest.raises(ConfigError, match="needs supervised"):
        job_from_text(text, "job.yaml")


def test_a_missing_scan_is_one_line(tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text(JOB)
    result = run_cli("run", str(job), "-o", str(tmp_path / "out.h5"))
    assert_one_line_error(result.returncode, result.stderr, "data.csv", "memxbar files scan")
    assert not (tmp_path / "out.h5").exists()


# --- the Debian snapshot ------------------------------------------------------------------


@pytest.mark.slow  # the whole snapshot, six epochs (~1.5 min)
@pytest.mark.skipif(not SNAPSHOT.exists(), reason="needs ../shared/data/files (developers' data)")
def test_the_debian_snapshot_is_within_three_points_of_logistic_regression(tmp_path):
    example = Path(__file__).resolve().parents[1] / "examples" / "files_snn_ideal.yaml"
    text = example.read_text().replace("csv: files.csv.gz", f"csv: {SNAPSHOT}")
    job = job_from_text(text, str(tmp_path / "job.yaml"))
    record = run_job(job, tmp_path / "run.h5", progress=False)
    final = record.final
    assert final["test_accuracy"] > final["logreg_accuracy"] - 0.03
    assert final["test_accuracy"] > final["majority_accuracy"] + 0.5
    assert final["stream_learning_new_accuracy"] > final["stream_frozen_new_accuracy"] + 0.1
