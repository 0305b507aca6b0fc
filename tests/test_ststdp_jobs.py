"""Short-term STDP jobs (issue 14) end to end at a small size: the run file's curves, the
shuffled control, τ_F = 0 as exactly W alone, F on a volatile tile booking its writes, and bad
job files."""

from __future__ import annotations

import numpy as np
import pytest
from support import assert_one_line_error, example_job, run_cli

from memxbar.hw_configs import ConfigError
from memxbar.runtime.job import load_job
from memxbar.runtime.loop import run_job
from memxbar.runtime.report.summary import format_summary
from memxbar.runtime.run_file import read_run_file
from memxbar.runtime.ststdp_experiment import CURVES

SMALL = {
    "data.train_limit": 300,
    "data.test_limit": 60,
    "network.layers.0.out_features": 20,
    "neurons.count": 20,
    "training.epochs": 6,
    "training.chunk_steps": 9,
    "readout.epochs": 20,
    "sequences.n_sequences": 20,
    "sequences.frames": 6,
    "sequences.speeds": [0.0, 4.0],
    "coding.eval_batch": 20,
    "coding.steps_per_frame": 10,
    "baseline.max_iter": 30,
}


def small_run(tmp_path, name: str, changes: dict | None = None):
    job = load_job(
        example_job(tmp_path / f"{name}.yaml", "ststdp_digits_ideal", SMALL | (changes or {}))
    )
    path = tmp_path / f"{name}.h5"
    record = run_job(job, path, progress=False)
    return record, read_run_file(path)


@pytest.fixture(scope="module")
def volatile_run(tmp_path_factory):
    """F on a volatile tile (the digital F: tests/test_short_term_stdp.py, and below at τ_F = 0)."""
    return small_run(
        tmp_path_factory.mktemp("ststdp"), "volatile", {"fast_weights.where": "volatile"}
    )


def test_run_file_has_the_curves_and_the_summary_shows_them(volatile_run):
    record, read = volatile_run
    assert read.kind == "ststdp"
    np.testing.assert_array_equal(read.curves["speed"], [0.0, 4.0])
    for name in CURVES:
        np.testing.assert_array_equal(read.curves[name], record.curves[name])
        assert read.curves[name].shape == (2,)
        assert np.all((read.curves[name] >= 0) & (read.curves[name] <= 1))
    # The MLP classifies frame by frame: the shuffled frames are the same frames.
    np.testing.assert_array_equal(read.curves["accuracy_mlp"], read.curves["accuracy_mlp_shuffled"])
    final = read.final
    assert 0 < final["labelled_neurons"] <= 20
    # Above chance (0.1) by 4.5 standard errors of a binomial proportion over 60 test images.
    assert final["spiking_static_accuracy"] > 0.1 + 4.5 * np.sqrt(0.1 * 0.9 / 60)
    summary = format_summary(read, "volatile")
    assert "W+F advantage (mean, ordered)" in summary and "shuffled" in summary


def test_no_fast_term_gives_exactly_the_w_only_accuracies(tmp_path, volatile_run):
    _, read = small_run(tmp_path, "tau0", {"short_term.tau_fast_s": 0.0})
    for suffix in ("", "_shuffled"):
        np.testing.assert_array_equal(
            read.curves[f"accuracy_wf{suffix}"], read.curves[f"accuracy_w{suffix}"]
        )
    # The same seed: W alone does not depend on the fast term; with τ_F > 0 W + F differs.
    other = volatile_run[1].curves
    np.testing.assert_array_equal(read.curves["accuracy_w"], other["accuracy_w"])
    assert not np.array_equal(other["accuracy_wf"], other["accuracy_w"])


def test_volatile_fast_term_books_its_writes(volatile_run):
    final = volatile_run[1].final
    assert volatile_run[1].setup["fast_weights"] == "volatile"
    assert final["fast_update_events"] > 0
    # The default element: 1 pJ per write pulse (VolatileDevice.default).
    assert final["energy_per_fast_update_J"] == pytest.approx(1e-12, rel=1e-5)
    assert final["energy_per_frame_J"] > 0


@pytest.mark.parametrize(
    "changes, fragments",
    [
        ({"data.center": True}, ("data.center", "[0, 1]")),
        ({"neurons.count": 7}, ("neurons.count", "out_features")),
        ({"short_term.tau_pre_s": 0.0}, ("short_term.tau_pre_s",)),
        ({"sequences.occlusion": 1.0}, ("sequences.occlusion",)),
        ({"fast_weights.where": "analog"}, ("fast_weights.where",)),
        ({"data.dataset": "cifar10"}, ("data.dataset", "digits or mnist")),
        ({"coding.max_rate_Hz": 2000.0}, ("coding.max_rate_Hz", "one spike per step")),
        ({"sequences.speeds": []}, ("sequences.speeds",)),
    ],
)
def test_bad_job_file_names_the_file_and_key(tmp_path, changes, fragments):
    path = example_job(tmp_path / "bad.yaml", "ststdp_digits_ideal", changes)
    with pytest.raises(ConfigError) as error:
        load_job(path)
    for fragment in (str(path), *fragments):
        assert fragment in str(error.value)


def test_bad_job_file_on_the_command_line_one_line_exit_2(tmp_path):
    path = example_job(tmp_path / "bad.yaml", "ststdp_digits_ideal", {"data.center": True})
    out = tmp_path / "out.h5"
    done = run_cli("run", str(path), "-o", str(out))
    assert_one_line_error(done.returncode, done.stderr, str(path), "data.center")
    assert not out.exists()


def test_frame_counts_books_only_the_sequences_reads():
    """A tile that has already booked energy (its programming) is charged only for the reads
    of the frames: the same joules as the same tile with an empty ledger, in proportion to
    the number of sequences, one read per step."""
    import jax
    import jax.numpy as jnp

    from memxbar.algorithms.snn import LIF, SpikingNetwork
    from memxbar.algorithms.snn.frames import frame_counts
    from memxbar.crossbar import load_chip, with_empty_ledgers
    from memxbar.devices import load_preset
    from memxbar.runtime.chip import tile_factory

    chip = load_chip("pcm_256")
    make = tile_factory(chip, "pcm", 0.5, device=load_preset(chip.device_preset))
    tile = make("layer", "w", 16, 4, key=jax.random.key(0))
    tile = tile.program_weights(jnp.full((16, 4), 0.2), 0.0, key=jax.random.key(1))
    assert float(tile.ledger.total_J) > 0
    empty = with_empty_ledgers(tile)
    net = SpikingNetwork(
        lif=LIF(count=4, tau_m_s=0.02, psp_V=0.003),
        rule=None,
        window_steps=5,
        rest_every_steps=5,
    )
    # Every pixel spikes every step (p = 1): the same reads in every sequence.
    frames = np.ones((6, 3, 16), np.float32)

    def read_energy(t, n):
        _, ledgers = frame_counts(
            net, t, frames[:n], max_rate_Hz=1000.0, key=jax.random.key(2), batch=3
        )
        return float(ledgers["weights"].total_J), float(ledgers["weights"].count("mvm_vectors"))

    booked, vectors = read_energy(tile, 6)
    assert read_energy(empty, 6) == (booked, vectors)
    assert vectors == 6 * 3 * 5
    half, half_vectors = read_energy(tile, 3)
    assert half_vectors == vectors / 2
    assert half == pytest.approx(booked / 2, rel=1e-5)
    assert 0 < booked < float(tile.ledger.total_J)  # 90 reads cost less than programming
