"""The chip library: every shipped chip preset loads strictly, fits its device preset, states
a source or an assumption for every number, and is listed by ``memxbar chips list``."""

from __future__ import annotations

import re

import pytest
from support import REPO, run_main

from memxbar.compiler import compile_network
from memxbar.crossbar import load_chip
from memxbar.devices import load_preset
from memxbar.hw_configs import preset_names
from memxbar.runtime.job import load_job

CHIPS = REPO / "hw_configs" / "chips"
#: The HERMES-style presets: (rows = cols, ADCs per tile).
HERMES = {"pcm_hermes_256": 256, "pcm_hermes_128": 128}


def test_the_library_holds_the_hermes_presets():
    assert {"pcm_256", *HERMES} <= set(preset_names("chips"))


@pytest.mark.parametrize("name", preset_names("chips"))
def test_every_chip_preset_loads_and_fits_its_device(name):
    chip = load_chip(name)
    chip.check_device(load_preset(chip.device_preset))
    assert chip.periphery.adc.per_tile <= chip.tile.cols


@pytest.mark.parametrize("name", sorted(HERMES))
def test_hermes_geometry_and_converters(name):
    chip = load_chip(name)
    side = HERMES[name]
    assert (chip.tile.rows, chip.tile.cols, chip.tile.count) == (side, side, 64)
    # Four PCM devices per unit cell: two on each side of the differential weight.
    assert chip.tile.devices_per_side == 2
    assert chip.periphery.dac.bits == chip.periphery.adc.bits == 8
    assert chip.periphery.adc.per_tile == side


@pytest.mark.parametrize("name", sorted(HERMES))
def test_every_number_states_a_source_or_an_assumption(name):
    lines = (CHIPS / f"{name}.yaml").read_text(encoding="utf-8").splitlines()
    entries = [line for line in lines if re.match(r"^\s*\w+: \S", line)]
    assert len(entries) > 20
    for line in entries:
        if line.startswith("description:"):
            continue
        assert "#" in line, line
        comment = line.split("#", 1)[1]
        cited = re.search(r"(JSSC|Nat\. Electron\.|JAP|Nandakumar|Joshi|aihwkit|Boybat)", comment)
        known = ("assumption", "convention", "(idem)", "as pcm_")
        assert cited or any(word in comment for word in known), line
    text = "\n".join(lines)
    assert "IEEE JSSC 57(4)" in text and "Nat. Electron. 6" in text


def test_chips_list_and_show_include_the_library(capsys):
    listed = run_main(capsys, "chips", "list")
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert names == preset_names("chips")
    for name in HERMES:
        line = next(line for line in listed.stdout.splitlines() if line.startswith(name + " "))
        assert load_chip(name).description in line
    shown = run_main(capsys, "chips", "show", "pcm_hermes_128")
    table = {line.split()[0]: line.split()[1:3] for line in shown.stdout.splitlines()[2:]}
    assert table["tile.rows"][0] == "128"
    assert table["tile.devices_per_side"][0] == "2"


def test_the_digits_network_compiles_onto_the_hermes_chips():
    job = load_job(REPO / "examples" / "softhebb_digits_pcm.yaml")
    for name in HERMES:
        program = compile_network(job.network, load_chip(name))
        # 64 inputs × 100 neurons fit one tile of either size.
        assert program.tiles_used == 1, name
        assert program.utilisation() == pytest.approx(64 * 100 / HERMES[name] ** 2)
