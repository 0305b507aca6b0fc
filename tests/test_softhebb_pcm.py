"""SoftHebb on the digits, learned on an emulated PCM chip: accuracy and energy.

The slow tests run the example jobs at their real settings (40 epochs; `-m slow`); the
default test runs the PCM job for 3 epochs. Measured (80/20 split, 360 test images) with the
PCM job's initial radius of 10 (before it was lowered to 2): PCM 40 epochs 0.91–0.93 (seeds
0–2), 3 epochs 0.90–0.96 (seeds 0–4), 1 epoch 0.81–0.86; with radius 2, 40 epochs 0.947–0.961
(seeds 0–2); ideal 40 epochs 0.97–0.98. For scale: the same readout on random unit-norm
features gives 0.91–0.93 (tests/test_softhebb.py asks the float rule to beat that by 5 points,
the slow PCM test asks the chip to beat it by 2).
"""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest
import yaml
from support import EXAMPLES, approx, joules

from memxbar.algorithms import train_readout
from memxbar.algorithms.softhebb import encode_inputs, init_weights
from memxbar.cli import main
from memxbar.runtime.data.datasets import load_dataset
from memxbar.runtime.job import load_job
from memxbar.runtime.loop import run_job
from memxbar.runtime.run_file import read_run_file

PCM_JOB = EXAMPLES / "softhebb_digits_pcm.yaml"
IDEAL_JOB = EXAMPLES / "softhebb_digits_ideal.yaml"
CATEGORIES = ("read", "set", "reset", "dac", "adc", "refresh")
SET_PULSE_J = 2e-12  # one partial-SET pulse of pcm_gst_pulse (the mapping report's 2 pJ)


def printed_energy(summary: str) -> tuple[float, dict[str, float]]:
    """(energy per synaptic update, {category: training energy}) from the printed summary."""
    per_update = joules(re.search(r"^  E_update +([\d.]+ [mµnpf]?J) ", summary, re.M).group(1))
    table = dict(re.findall(r"^  (\w+) +([\d.]+ [mµnpf]?J) +[\d.]+%(?: |$)", summary, re.M))
    return per_update, {k: joules(v) for k, v in table.items()}


def assert_energy_adds_up(record) -> None:
    parts = np.stack([record.energy[k] for k in CATEGORIES])
    np.testing.assert_allclose(parts.sum(axis=0), record.energy["total"], rtol=1e-12)
    assert np.all(np.diff(record.energy["total"]) >= 0)
    programming = sum(record.energy[k][-1] for k in ("set", "reset", "refresh"))
    per_update = record.energy_attrs["per_synaptic_update_J"]
    assert per_update == approx(programming / record.final["update_events"], rel=1e-12)
    # An update fires at least one SET pulse; refreshes add reads and re-programming.
    assert SET_PULSE_J * 0.99 <= per_update < 100 * SET_PULSE_J


def test_pcm_job_learns_in_three_epochs(tmp_path):
    """The PCM job for 3 epochs (seeds 0–2): every seed ≥ 0.85, mean ≥ 0.88.

    Measured 0.90–0.96 over seeds 0–4 (mean 0.93); 1 epoch gives 0.81–0.86, so the bar needs
    more than the first pass. Chunks of 44 steps (one epoch) compile one scan length; the result
    does not depend on the chunk size (tests/test_runtime.py).
    """
    mapping = yaml.safe_load(PCM_JOB.read_text())
    mapping["training"].update(epochs=3, chunk_steps=44)
    path = tmp_path / "pcm3.yaml"
    path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    job = load_job(path)
    accuracies = []
    for seed in range(3):
        record = run_job(job, tmp_path / f"seed{seed}.h5", seed=seed, progress=False)
        assert record.final["training_steps"] == 3 * (1437 // 32)
        assert_energy_adds_up(record)
        assert record.energy["refresh"][-1] > 0  # refreshes every 45 steps
        accuracies.append(record.final["test_accuracy"])
    assert min(accuracies) >= 0.85, accuracies
    assert np.mean(accuracies) >= 0.88, accuracies


@pytest.mark.slow
def test_pcm_job_at_full_settings_reaches_085_and_reports_energy(tmp_path, capsys):
    out = tmp_path / "softhebb_digits_pcm.h5"
    assert main(["run", str(PCM_JOB), "-o", str(out), "-q"]) == 0
    printed, _ = capsys.readouterr()
    record = read_run_file(out)
    assert record.final["training_steps"] == 40 * (1437 // 32)
    assert record.final["test_accuracy"] >= 0.85, record.final
    assert re.search(rf"^test_accuracy +{record.final['test_accuracy']:.4f}$", printed, re.M)
    assert_energy_adds_up(record)

    per_update, table = printed_energy(printed)
    assert per_update == approx(record.energy_attrs["per_synaptic_update_J"], rel=1e-3)
    assert set(table) == {*CATEGORIES, "total"}
    assert table["total"] == approx(sum(table[k] for k in CATEGORIES), rel=1e-3)
    for key in ("read", "set", "dac", "adc", "refresh"):
        assert table[key] > 0, key
    # What the chip learned beats random unit-norm features under the same readout.
    job = load_job(PCM_JOB)
    data = load_dataset(job.data, seed=job.seed)
    W = init_weights(data.n_features, 100, 1.0, key=jax.random.key(99))

    def features(x):
        return jax.nn.softmax(job.readout.feature_inv_tau * (encode_inputs(x) @ W), axis=-1)

    readout = train_readout(
        features(data.x_train),
        data.y_train,
        10,
        steps=job.readout.epochs,
        learning_rate=job.readout.learning_rate,
    )
    random_accuracy = float(readout.accuracy(features(data.x_test), data.y_test))
    assert record.final["test_accuracy"] >= random_accuracy + 0.02, random_accuracy
    print(
        f"PCM 40 epochs: test accuracy {record.final['test_accuracy']:.4f}, "
        f"{per_update * 1e12:.3g} pJ per synaptic update; random features {random_accuracy:.4f}"
    )


@pytest.mark.slow
def test_ideal_job_at_full_settings_reaches_093(tmp_path):
    record = run_job(load_job(IDEAL_JOB), tmp_path / "ideal.h5", progress=False)
    assert record.final["training_steps"] == 40 * (1437 // 32)
    assert record.final["test_accuracy"] >= 0.93, record.final
    # Ideal tiles settle every neuron on the unit sphere, as the float reference does.
    assert record.final["norm_deviation"] < 0.01
    assert record.energy["total"][-1] == 0.0
    print(f"ideal 40 epochs: test accuracy {record.final['test_accuracy']:.4f}")
