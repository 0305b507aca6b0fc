"""Recurrent jobs (``kind: recurrent``) through the one driver: files, resume, the chip test,
the summary and the comparison table, bad input."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from support import (
    assert_identical_files,
    assert_one_line_error,
    example_job,
    fast_filter_jit,
    run_cli,
)

from memxbar.algorithms.recurrent import init_classifier
from memxbar.crossbar import IdealTile
from memxbar.hw_configs import ConfigError
from memxbar.runtime.interrupt import RunInterrupted
from memxbar.runtime.job import load_job
from memxbar.runtime.loop import run_job
from memxbar.runtime.recurrent_chip import program_fast_tile
from memxbar.runtime.report.comparison import format_comparison
from memxbar.runtime.report.summary import format_summary
from memxbar.runtime.run_file import read_run_file

SMALL = {
    "task.n_train": 512,
    "task.n_validation": 200,
    "task.n_test": 200,
    "training.epochs": 2,
    "training.eval_batch_size": 100,
    # One device per side and reads at t0 keep the fixture quick; the drift-aware read has its
    # own test (test_volatile_and_aware_tiles.py).
    "training.aware_drift_s": 0.0,
    "hardware.chip_overrides": {"tile.devices_per_side": 1},
}


#: The tests on a whole PCM STPN run: training, programming, the chip test and the drift study
#: compile ~10 programs (~65 s on 2 cores), so they run with -m slow.
PCM_RUN = pytest.mark.slow


@pytest.fixture(scope="module")
def pcm_stpn(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stpn")
    job = load_job(example_job(folder / "job.yaml", "stpn_assoc_pcm", SMALL))
    out = folder / "run.h5"
    run_job(job, out, progress=False)
    return job, out


def test_every_assoc_example_loads_with_the_papers_sizes():
    sizes = {}
    for name in ("stpn_assoc_ideal", "stpn_assoc_pcm", "lstm_assoc", "rnn_assoc"):
        job = load_job(f"examples/{name}.yaml")
        assert (job.task.n_train, job.task.n_validation, job.task.n_test) == (
            100_000,
            10_000,
            20_000,
        )
        assert job.training.batch_size == 128 and job.training.learning_rate == 1e-3
        sizes[job.model.cell] = job.model.hidden
    assert sizes == {"stpn": 11, "lstm": 9, "rnn": 20}
    lstm = load_job("examples/lstm_assoc_pcm.yaml").network.layers[0]
    assert lstm.matrices() == {"input": (37, 36), "recurrent": (9, 36)}


@PCM_RUN
def test_pcm_stpn_run_file_holds_the_chip_test_and_drift_study(pcm_stpn):
    job, out = pcm_stpn
    record = read_run_file(out)
    assert record.kind == "recurrent" and record.setup == {"tiles": "pcm", "cell": "stpn"}
    assert list(record.metric_steps) == [1, 2]
    assert set(record.metrics) == {
        "loss",
        "train_accuracy",
        "validation_accuracy",
        "energy_measure",
    }
    assert list(record.eval_times_s) == [3600.0, 86400.0, 2592000.0]
    final = record.final
    assert final["test_time_s"] == 86400.0 and final["test_sequences"] == 200
    # The figures are the chip's test pass: total energy over steps and sequences.
    total = float(record.energy["total"][-1])
    assert total > 0
    assert record.energy_attrs["per_sequence_step_J"] == pytest.approx(total / (200 * 9))
    assert record.energy_attrs["per_sequence_J"] == pytest.approx(total / 200)
    # Every fast-weight write is one SET-category pulse of the volatile element.
    assert final["set_pulses"] == final["update_events"] > 0
    assert float(record.energy["set"][-1]) == pytest.approx(final["set_pulses"] * 1e-12, rel=1e-5)
    assert 0 < final["fast_weight_max"] and 0 <= final["fast_decay_at_limit_fraction"] <= 1
    assert 0 < final["fast_adc_output_range"] < 16.0  # below the chip ADC's range
    # Trained λ stays where the element can follow it (clipped in training).
    decay = record.weights["fast_decay"][-1]
    assert decay.shape == (48, 11)
    assert set(record.conductances) == {"cell_input", "cell_recurrent", "readout"}
    text = format_summary(record, "run")
    assert "test accuracy on chip (1 d)" in text and "E_step" in text and "30 d" in text


def test_the_chip_fast_tile_computes_what_the_trained_fast_weights_compute(tmp_path):
    """On a quiet volatile element, the programmed fast tile's MVM differs from the digital
    fast weights only by conversion (DAC and ADC rounding, a few per cent): its ADC range
    is fitted to the fast weights' small currents (at the chip's own range every output
    rounds to 0 and the chip STPN tests at chance)."""
    quiet = {f"fast_weights.device.{k}": 0.0 for k in ("tau_spread", "decay_noise")}
    quiet |= {f"fast_weights.device.{k}": 0.0 for k in ("write_noise", "read_noise")}
    job = load_job(example_job(tmp_path / "job.yaml", "stpn_assoc_pcm", SMALL | quiet))
    experiment = job.experiment(seed=0, epochs=1)

    def float_tile(name, weights):
        return IdealTile.create(*weights.shape, weights=weights)

    def trained_model(key):
        model = init_classifier("stpn", 37, 11, 37, float_tile, key=key)
        # Trained gains are ~100× the initial ±0.001/√H; with them F matters as on chip.
        return eqx.tree_at(lambda m: m.cell.fast.gain, model, model.cell.fast.gain * 300)

    # Compile-bound: the model's creation and one step are jitted (one program each, reused
    # by every step) instead of run op by op.
    model = fast_filter_jit(trained_model)(jax.random.key(0))
    volatile = program_fast_tile(experiment, model, key=jax.random.key(1)).fresh(100)
    cell, h = model.cell.initial(100)
    x = jax.nn.one_hot(experiment.data.x_validation[:100], 37)

    def one_step(cell, h, volatile, x_step, step):
        z = jnp.concatenate([x_step, h], axis=-1)
        wanted, _ = cell.fast.mvm(z, key=None)
        got, volatile = volatile.mvm(z, key=jax.random.key(step))
        error, size = jnp.mean(jnp.abs(got - wanted)), jnp.mean(jnp.abs(wanted))
        # The step's norm, as the cell takes it (W + F before the step).
        n = jnp.sqrt(jnp.sum((cell.weights() + cell.fast.true_weights()) ** 2, axis=1))
        cell, h, _, _ = cell.step(h, x_step, 0.0, key=jax.random.key(step))
        volatile = volatile.advance(n, z, h, key=jax.random.key(100 + step))
        return cell, h, volatile, error, size

    one_step = fast_filter_jit(one_step)
    errors, sizes = [], []
    for step in range(x.shape[1]):
        cell, h, volatile, error, size = one_step(cell, h, volatile, x[:, step], jnp.int32(step))
        errors.append(float(error))
        sizes.append(float(size))
    assert sizes[-1] > 0
    assert sum(errors) < 0.05 * sum(sizes), (errors, sizes)


@PCM_RUN
def test_recurrent_run_resumes_bit_identically(pcm_stpn, tmp_path):
    job, reference = pcm_stpn
    out = tmp_path / "resumed.h5"
    with pytest.raises(RunInterrupted, match="resume"):
        run_job(job, out, progress=False, stop_after_chunks=1)
    run_job(job, out, progress=False, resume=True)
    assert_identical_files(out, reference)


@PCM_RUN
def test_ideal_runs_cost_nothing_and_compare_in_one_table(pcm_stpn, tmp_path):
    _, pcm_out = pcm_stpn
    job = load_job(example_job(tmp_path / "rnn.yaml", "rnn_assoc", SMALL | {"training.epochs": 1}))
    record = run_job(job, tmp_path / "rnn.h5", progress=False)
    assert record.final["test_accuracy"] == record.final["test_accuracy_trained"]
    assert record.energy_attrs["per_sequence_step_J"] == 0.0
    assert len(record.eval_times_s) == 0
    table = format_comparison([record, read_run_file(pcm_out)], ["rnn", "stpn"])
    lines = table.splitlines()
    assert lines[1].split()[:6] == ["run", "kind", "acc", "(trained)", "acc", "(test)"]
    assert lines[2].startswith("rnn") and "recurrent rnn (ideal)" in lines[2]
    assert lines[3].startswith("stpn") and "recurrent stpn (pcm)" in lines[3]
    assert lines[2].rstrip().endswith("0 J")


@PCM_RUN
def test_report_of_several_runs_prints_the_comparison(pcm_stpn):
    _, out = pcm_stpn
    proc = run_cli("report", str(out), str(out), "--no-plots", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("run run") == 2 and "runs compared:" in proc.stdout


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"task.n_test": 150, "training.eval_batch_size": 100}, "task.n_test"),
        ({"training.batch_size": 1000, "task.n_train": 512}, "training.batch_size"),
        ({"model.cell": "gru"}, "model.cell"),
        ({"fast_weights.device.tau_min_ms": 5000.0}, "fast_weights.device.tau_max_s"),
        ({"model.readout_w_max": 0.0}, "model.readout_w_max"),
    ],
)
def test_bad_recurrent_jobs_name_the_key(tmp_path, changes, key):
    path = example_job(tmp_path / "bad.yaml", "stpn_assoc_pcm", changes)
    with pytest.raises(ConfigError) as err:
        load_job(path)
    assert err.value.key == key and str(path) in str(err.value)


def test_bad_recurrent_job_on_the_cli_is_one_line_and_writes_nothing(tmp_path):
    path = example_job(tmp_path / "bad.yaml", "stpn_assoc_pcm", {"model.hidden": 0})
    proc = run_cli("run", str(path), "-o", str(tmp_path / "out.h5"))
    assert_one_line_error(proc.returncode, proc.stderr, "bad.yaml", "model.hidden")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]
