"""Shallow SoftHebb on MNIST (5k train / 10k test): the jobs, the readout's feature map, and
the accuracy, drift and energy the issue asks for (full runs are ``slow``)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import yaml
from support import MNIST_DIR, REPO, needs_mnist

from memxbar.algorithms import ShallowSoftHebb, SoftHebbParams
from memxbar.hw_configs import ConfigError
from memxbar.runtime.job import load_job
from memxbar.runtime.loop import run_job

EXAMPLES = REPO / "examples"
EVAL_TIMES_S = (1.0, 3600.0, 86400.0, 2.6e6, 3.15e7)


def shallow(n_inputs=6, n_neurons=5):
    return ShallowSoftHebb(
        layer_name="h", n_inputs=n_inputs, n_neurons=n_neurons, params=SoftHebbParams()
    )


def readout_config(activation, inv_tau=5.0):
    job = load_job(EXAMPLES / "softhebb_mnist_ideal.yaml")
    return type(job.readout)(
        epochs=1, learning_rate=0.1, feature_inv_tau=inv_tau, activation=activation
    )


def test_readout_feature_maps():
    u = jax.random.normal(jax.random.key(0), (7, 5))
    algorithm = shallow()
    soft = algorithm.readout_features(u, readout_config("softmax", 5.0))
    np.testing.assert_allclose(soft, jax.nn.softmax(5.0 * u, axis=-1), rtol=1e-6)
    tri = np.asarray(algorithm.readout_features(u, readout_config("triangle")))
    # Triangle: the part of u above the mean over neurons; at least one neuron per sample is
    # above (unless all are equal) and the rest are exactly zero.
    expected = np.maximum(np.asarray(u) - np.asarray(u).mean(axis=-1, keepdims=True), 0.0)
    np.testing.assert_allclose(tri, expected, rtol=1e-6, atol=1e-7)
    assert (tri == 0).any(axis=1).all() and (tri > 0).any(axis=1).all()
    # Shifting every u of a sample by the same amount changes nothing.
    shifted = algorithm.readout_features(u + 3.0, readout_config("triangle"))
    np.testing.assert_allclose(shifted, tri, atol=1e-5)


def test_mnist_jobs_are_the_paper_layer_on_ideal_and_pcm_tiles():
    ideal = load_job(EXAMPLES / "softhebb_mnist_ideal.yaml")
    pcm = load_job(EXAMPLES / "softhebb_mnist_pcm.yaml")
    for job in (ideal, pcm):
        (layer,) = job.network.layers
        assert (layer.in_features, layer.out_features) == (784, 2000)
        rule = layer.rule.as_dict()
        assert (rule["inv_tau"], rule["eta0"], rule["power"]) == (12.0, 0.045, 0.2)
        assert job.training.batch_size == 32 and job.data.dataset == "mnist"
    assert (ideal.hardware.tiles, pcm.hardware.tiles) == ("ideal", "pcm")
    # The two jobs differ only in name and tiles: the PCM run is compared with its reference.
    a = yaml.safe_load((EXAMPLES / "softhebb_mnist_ideal.yaml").read_text())
    b = yaml.safe_load((EXAMPLES / "softhebb_mnist_pcm.yaml").read_text())
    for mapping in (a, b):
        del mapping["name"], mapping["hardware"]["tiles"]
    assert a == b


def test_unknown_readout_activation_names_the_key(tmp_path):
    mapping = yaml.safe_load((EXAMPLES / "softhebb_mnist_ideal.yaml").read_text())
    mapping["readout"]["activation"] = "sigmoid"
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(mapping))
    with pytest.raises(ConfigError, match=r"readout\.activation"):
        load_job(path)


@pytest.fixture(scope="module")
def ideal_record(tmp_path_factory):
    out = tmp_path_factory.mktemp("mnist") / "ideal.h5"
    job = load_job(EXAMPLES / "softhebb_mnist_ideal.yaml")
    return run_job(job, out, progress=False, data_dir=str(MNIST_DIR))


@needs_mnist()
@pytest.mark.slow
def test_ideal_mnist_reaches_93_percent(ideal_record):
    # The bar: >= 0.93 on the 10k test set with the readout trained on the 5k
    # (a linear readout on raw pixels gets about 0.90 here).
    assert ideal_record.final["test_accuracy"] >= 0.93
    assert ideal_record.final["norm_deviation"] < 0.05


@needs_mnist()
@pytest.mark.slow
def test_pcm_mnist_within_3_points_and_drift_compensated(ideal_record, tmp_path):
    job = load_job(EXAMPLES / "softhebb_mnist_pcm.yaml")
    record = run_job(
        job,
        tmp_path / "pcm.h5",
        progress=False,
        data_dir=str(MNIST_DIR),
        eval_times_s=EVAL_TIMES_S,
    )
    ideal = ideal_record.final["test_accuracy"]
    assert record.final["test_accuracy"] >= ideal - 0.03
    assert record.energy_attrs["per_synaptic_update_J"] > 0
    compensated = record.accuracy_vs_time["compensated"]
    uncompensated = record.accuracy_vs_time["uncompensated"]
    assert compensated[2] >= compensated[0] - 0.02  # 1 day vs 1 s
    assert uncompensated[-1] < compensated[-1]  # without compensation the loss shows
