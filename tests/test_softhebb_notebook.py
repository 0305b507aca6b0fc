"""The SoftHebb-on-chip notebook, and the receptive-field figure it draws."""

from __future__ import annotations

import re

import numpy as np
import pytest
from support import REPO, approx, assert_png, run_notebook

from memxbar.runtime.report.plots import receptive_fields_figure
from memxbar.runtime.run_file import read_run_file

NOTEBOOK = REPO / "notebooks" / "03_softhebb_on_chip.py"
FIGURES = (
    "softhebb_pcm_metrics.png",
    "softhebb_pcm_energy.png",
    "softhebb_pcm_energy_breakdown.png",
    "softhebb_pcm_conductance_hebbian.png",
    "softhebb_pcm_receptive_fields.png",
)


@pytest.mark.slow  # a whole notebook run (20–35 s on 2 cores): -m slow
def test_notebook_runs_the_pcm_job_and_writes_figures(tmp_path):
    out = run_notebook(NOTEBOOK, tmp_path)
    # The mapping report of the compiled job: one tile of the 64-tile chip.
    assert "tiles used: 1 of 64" in out
    assert re.search(r"^hebbian +dense +weight 64x100", out, re.M)
    # The run's summary, with the energy per synaptic update in joules.
    assert re.search(r"^test_accuracy +0\.\d{4}$", out, re.M)
    assert re.search(r"^  E_update +[\d.]+ [mµnpf]?J +2 pJ  programming energy", out, re.M)

    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([*FIGURES, "softhebb_digits_pcm.h5", "softhebb_digits_pcm_small.yaml"])
    for name in FIGURES:
        assert_png(tmp_path / name)
    # 100 neurons in a 10 x 10 grid of 8 x 8 images: a large, detailed figure.
    width, height = assert_png(tmp_path / "softhebb_pcm_receptive_fields.png", 30_000)
    assert width >= 900 and height >= 900

    record = read_run_file(tmp_path / "softhebb_digits_pcm.h5")
    assert record.final["training_steps"] == 256 // 32  # 1 epoch of the small subset
    assert record.final["test_samples"] == 100
    assert "train_limit: 256" in record.job_yaml  # the run file records what actually ran
    assert record.energy_attrs["per_synaptic_update_J"] > 0


def test_receptive_fields_figure_draws_one_image_per_neuron():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(64, 10)).astype(np.float32)
    fig = receptive_fields_figure(W, (8, 8))
    assert len(fig.axes) == 10  # a 4 x 4 grid, 10 of it used
    for k, ax in enumerate(fig.axes):
        (image,) = ax.get_images()
        np.testing.assert_array_equal(image.get_array(), W[:, k].reshape(8, 8))
        # Symmetric colour scale per neuron: zero is the middle of the map.
        low, high = image.get_clim()
        assert high == approx(np.abs(W[:, k]).max()) and low == -high
    assert len(receptive_fields_figure(W, (8, 8), max_neurons=3).axes) == 3
    assert len(receptive_fields_figure(W, (4, 16), columns=5).axes) == 10


def test_receptive_fields_figure_checks_shapes():
    with pytest.raises(ValueError, match="64 inputs, but images of 7x7 have 49 pixels"):
        receptive_fields_figure(np.zeros((64, 3)), (7, 7))
    with pytest.raises(ValueError, match=r"must be \(inputs, neurons\)"):
        receptive_fields_figure(np.zeros(64), (8, 8))
    with pytest.raises(ValueError, match="no neurons"):
        receptive_fields_figure(np.zeros((64, 0)), (8, 8))
