"""Ablations as job options: chip and device values overridden by dotted key."""

from pathlib import Path

import pytest
from support import example_job

from memxbar.runtime.job import load_job
from memxbar.runtime.loop import run_job

SMALL = {
    "data.train_limit": 128,
    "data.test_limit": 64,
    "training.epochs": 1,
    "training.chunk_steps": 4,
    "training.refresh_every_steps": 2,
    "training.snapshots": 1,
    "readout.epochs": 20,
}


def job_file(tmp_path, **hardware) -> Path:
    changes = SMALL | {f"hardware.{key}": value for key, value in hardware.items()}
    return example_job(tmp_path / "job.yaml", "softhebb_digits_pcm", changes)


@pytest.mark.slow  # a PCM training run per override (20 s on 2 cores): -m slow
def test_overrides_reach_the_chip_and_the_device(tmp_path):
    path = job_file(
        tmp_path,
        chip_overrides={
            "periphery.adc.bits": 6,
            "update.scheme": "deterministic",
            "tile.devices_per_side": 2,
        },
        device_overrides={"variability.step_relative": 0.0, "variability.g_max_relative": 0.0},
    )
    job = load_job(path)
    chip = job.chip()
    assert chip.periphery.adc.bits == 6
    assert chip.update.scheme == "deterministic"
    assert chip.tile.devices_per_side == 2
    device = job.device(chip)
    assert device.variability.step_relative == 0.0
    record = run_job(job, tmp_path / "run.h5", progress=False)
    g = record.conductances["hebbian"]
    assert g.shape == (2, 2, 64, 100)  # two devices per side, both written by the arbiter
    assert (g[0, 1] != g[0, 0]).any()
    assert "periphery.adc.bits" in job.text


def test_an_override_of_an_unknown_key_names_the_job_and_the_key(tmp_path):
    path = job_file(tmp_path, chip_overrides={"periphery.adc.bitz": 6})
    with pytest.raises(ValueError, match=r"job\.yaml.*chip_overrides\.periphery\.adc\.bitz"):
        load_job(path)


def test_an_impossible_override_is_rejected_like_a_preset_value(tmp_path):
    path = job_file(tmp_path, device_overrides={"faults.p_stuck_set": 1.5})
    with pytest.raises(ValueError, match=r"job\.yaml.*faults\.p_stuck_set.*≤ 1"):
        load_job(path)
    path = job_file(tmp_path, chip_overrides="adc: 4")
    with pytest.raises(ValueError, match=r"hardware\.chip_overrides.*mapping"):
        load_job(path)
