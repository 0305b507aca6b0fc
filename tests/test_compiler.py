"""Placement, the Program, the mapping report and `memxbar compile`."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from support import REPO, approx, assert_one_line_error, run_cli

from memxbar.cli import main
from memxbar.compiler import (
    Block,
    Conv2d,
    Dense,
    DoesNotFit,
    InvalidPlacement,
    Network,
    PlasticityRule,
    Program,
    Recurrent,
    SpikingPopulation,
    compile,
    compile_network,
    load_program,
    mapping_report,
    mapping_summary,
)
from memxbar.crossbar import ChipSpec, IdealTile, TiledMatrix, block_edges, load_chip
from memxbar.devices import load_preset
from memxbar.hw_configs import build, dump

EXAMPLE = REPO / "examples" / "softhebb_digits_pcm.yaml"
DEVICE = load_preset("pcm_gst_pulse")
CHIP = load_chip("pcm_256")


def make_chip(**changes) -> ChipSpec:
    """pcm_256 with some keys changed: ``tile_rows=4`` sets ``tile.rows``, and so on.

    Narrower tiles than the preset's 32 ADCs get one ADC per column unless ``adc_per_tile``
    says otherwise (a tile cannot have more ADCs than columns).
    """
    mapping = dump(CHIP)
    if "tile_cols" in changes:
        changes = {"adc_per_tile": min(32, changes["tile_cols"]), **changes}
    for key, value in changes.items():
        section, _, name = key.partition("_")
        if section in ("tile", "update"):
            mapping[section][name] = value
        elif section in ("dac", "adc"):
            mapping["periphery"][section][name] = value
            if key == "adc_energy_J":  # a fixed energy per conversion replaces the preset's FoM
                mapping["periphery"]["adc"]["walden_fom_J"] = None
        else:
            mapping["periphery"][key] = value
    return build(ChipSpec, mapping)


def coverage(program: Program, layer: str, matrix: str, shape) -> np.ndarray:
    count = np.zeros(shape, np.int64)
    for b in program.blocks_of(layer, matrix):
        count[b.row_start : b.row_stop, b.col_start : b.col_stop] += 1
    return count


# --- placement -------------------------------------------------------------------------------


def test_dense_784x2000_on_256x256_uses_4x8_tiles():
    net = Network("mlp", (Dense(name="fc1", in_features=784, out_features=2000),))
    program = compile(net, CHIP, device=DEVICE)
    assert compile is compile_network
    assert program.tiles_used == 32
    assert program.tiles() == tuple(range(32))
    # Balanced splits: 784 = 4 x 196 rows, 2000 = 8 x 250 columns, so all 32 blocks are alike.
    row_ranges = [(0, 196), (196, 392), (392, 588), (588, 784)]
    col_ranges = [(c, c + 250) for c in range(0, 2000, 250)]
    assert col_ranges[-1] == (1750, 2000) and len(col_ranges) == 8
    expected = [
        Block("fc1", "weight", 8 * i + j, r0, r1, c0, c1)
        for i, (r0, r1) in enumerate(row_ranges)
        for j, (c0, c1) in enumerate(col_ranges)
    ]
    assert program.blocks == tuple(expected)
    assert (coverage(program, "fc1", "weight", (784, 2000)) == 1).all()
    assert {(b.rows, b.cols) for b in program.blocks} == {(196, 250)}
    assert program.utilisation() == approx(784 * 2000 / (32 * 256 * 256))
    # Four row blocks of every column range are added digitally.
    sums = program.partial_sums()
    assert len(sums) == 8
    assert sums[0].tiles == (0, 8, 16, 24)
    assert [(p.col_start, p.col_stop) for p in sums] == col_ranges
    assert program.update_scheme == "stochastic"
    assert program.device_preset == "pcm_gst_pulse"
    assert program.device == DEVICE


@given(size=st.integers(1, 5000), block=st.integers(1, 600))
def test_block_edges_split_balanced_into_the_fewest_parts(size, block):
    edges = block_edges(size, block)
    parts = np.diff(edges)
    assert edges[0] == 0 and edges[-1] == size
    assert len(parts) == math.ceil(size / block)  # as few tiles as filling them would use
    assert parts.max() <= block and parts.max() - parts.min() <= 1
    assert (np.diff(parts) >= 0).all()  # the larger parts last


def test_compiler_and_runtime_split_a_matrix_alike():
    # The program's blocks are the blocks the runtime's tiled matrix runs.
    net = Network("mlp", (Dense(name="fc1", in_features=785, out_features=300),))
    program = compile(net, CHIP, device=DEVICE)

    def block(n, rows, cols):
        return IdealTile.create(rows.stop - rows.start, cols.stop - cols.start)

    matrix = TiledMatrix.build(785, 300, 256, 256, block)
    pairs = itertools.product(
        itertools.pairwise(matrix.row_edges), itertools.pairwise(matrix.col_edges)
    )
    placed = [(b.row_start, b.row_stop, b.col_start, b.col_stop) for b in program.blocks]
    assert placed == [(r0, r1, c0, c1) for (r0, r1), (c0, c1) in pairs]
    assert [b.rows for b in program.blocks] == [196, 196, 196, 196, 196, 196, 197, 197]
    assert {b.cols for b in program.blocks} == {150}


def test_compile_loads_the_chips_device_preset_by_default():
    net = Network("n", (Dense(name="d", in_features=3, out_features=2),))
    assert compile(net, CHIP).device == DEVICE


def test_conv2d_places_its_im2col_matrix():
    conv = Conv2d(
        name="conv",
        in_channels=3,
        out_channels=300,
        kernel_size=(5, 5),
        input_size=(32, 32),
        rule=PlasticityRule.create("softhebb", {"inv_tau": 10.0}),
    )
    program = compile(Network("cnn", (conv,)), CHIP, device=DEVICE)
    # im2col: (kh * kw * cin, cout) = (75, 300) → one row block, two column blocks of 150.
    assert [(b.row_start, b.row_stop, b.col_start, b.col_stop) for b in program.blocks] == [
        (0, 75, 0, 150),
        (0, 75, 150, 300),
    ]
    assert (coverage(program, "conv", "weight", (75, 300)) == 1).all()
    assert program.partial_sums() == ()
    layer = mapping_summary(program)["layers"]["conv"]
    assert layer["matrices"]["weight"]["mvms_per_inference"] == 28 * 28
    assert layer["synapses"] == 75 * 300


def test_recurrent_layer_compiles_and_reports():
    rnn = Recurrent(name="rnn", in_features=300, hidden_features=200, steps=10)
    program = compile(Network("rnn", (rnn,)), CHIP, device=DEVICE)
    assert [
        (b.matrix, b.row_start, b.row_stop, b.col_start, b.col_stop) for b in program.blocks
    ] == [
        ("input", 0, 150, 0, 200),
        ("input", 150, 300, 0, 200),
        ("recurrent", 0, 200, 0, 200),
    ]
    assert [p.tiles for p in program.partial_sums()] == [(0, 1)]
    layer = mapping_summary(program)["layers"]["rnn"]
    assert layer["tiles"] == 3
    assert layer["matrices"]["recurrent"]["mvms_per_inference"] == 10
    # 10 vectors of 200 columns: 250 ns read + ceil(200/32) = 7 conversions of 10 ns each.
    assert layer["inference"]["latency_s"] == approx(10 * (250e-9 + 7 * 10e-9))
    assert "rnn" in mapping_report(program)


def test_spiking_population_compiles_and_reports():
    pop = SpikingPopulation(
        name="lif",
        n_inputs=64,
        n_neurons=100,
        steps=20,
        lateral_inhibition=True,
        neuron=(("tau_s", 0.02), ("threshold", 1.0)),
        rule=PlasticityRule.create("stdp", {"a_plus": 0.01}),
    )
    program = compile(Network("snn", (pop,)), CHIP, device=DEVICE)
    assert program.blocks == (Block("lif", "synapses", 0, 0, 64, 0, 100),)
    summary = mapping_summary(program)
    assert summary["layers"]["lif"]["matrices"]["synapses"]["mvms_per_inference"] == 20
    assert summary["inference"]["energy_J"] > 0
    text = mapping_report(program)
    assert "lif" in text
    assert "(a spiking population's inference: its steps with every input spiking)" in text


def test_network_that_does_not_fit_says_what_is_needed(tmp_path):
    mapping = dump(CHIP)
    mapping["tile"]["count"] = 2
    chip_file = tmp_path / "tiny.yaml"
    chip_file.write_text(yaml.safe_dump(mapping), encoding="utf-8")
    tiny = load_chip(chip_file)
    net = Network(
        "mlp",
        (
            Dense(name="fc1", in_features=784, out_features=2000),
            Dense(name="fc2", in_features=2000, out_features=10),
        ),
    )
    with pytest.raises(DoesNotFit) as info:
        compile(net, tiny, device=DEVICE)
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.needed, err.total, err.available) == ({"fc1": 32, "fc2": 8}, 40, 2)
    message = str(err)
    for fragment in ("'mlp'", "40 tiles", "256x256", "fc1: 32", "fc2: 8", "the chip has 2"):
        assert fragment in message


def test_exactly_full_chip_fits():
    chip = make_chip(tile_count=32)
    net = Network("mlp", (Dense(name="fc1", in_features=784, out_features=2000),))
    assert compile(net, chip, device=DEVICE).tiles_used == 32


# --- Program invariants and helpers ----------------------------------------------------------


def small_program() -> Program:
    net = Network(
        "two",
        (
            Dense(name="a", in_features=6, out_features=5),
            Dense(name="b", in_features=5, out_features=3),
        ),
    )
    return compile(net, make_chip(tile_rows=4, tile_cols=4, tile_count=8), device=DEVICE)


def test_program_helpers_and_equality():
    program = small_program()
    assert program.tiles_used == 6
    assert program.tiles("a") == (0, 1, 2, 3)
    assert program.tiles("b") == (4, 5)
    assert [b.tile for b in program.blocks_of("a", "weight")] == [0, 1, 2, 3]
    assert program.blocks_of("a", "nope") == ()
    assert program.utilisation("a") == approx(30 / (4 * 16))
    assert program.utilisation("b") == approx(15 / (2 * 16))
    assert program.utilisation() == approx(45 / (6 * 16))
    assert program == small_program()
    assert hash(program) == hash(small_program())
    with pytest.raises(dataclasses.FrozenInstanceError):
        program.blocks = ()


@pytest.mark.parametrize(
    "change, index, fragment",
    [
        (lambda bs: bs[:-1], None, "not covered"),
        (lambda bs: (*bs, dataclasses.replace(bs[0], tile=7)), None, "in 2 blocks"),
        (lambda bs: (dataclasses.replace(bs[0], tile=1), *bs[1:]), 1, "tile 1 already holds"),
        (lambda bs: (dataclasses.replace(bs[0], tile=8), *bs[1:]), 0, "does not exist"),
        (lambda bs: (dataclasses.replace(bs[0], layer="zz"), *bs[1:]), 0, "layer 'zz'"),
        (lambda bs: (dataclasses.replace(bs[0], matrix="zz"), *bs[1:]), 0, "no matrix 'zz'"),
        (lambda bs: (dataclasses.replace(bs[0], row_stop=9), *bs[1:]), 0, "inside a.weight"),
        (lambda bs: (dataclasses.replace(bs[0], col_start=4), *bs[1:]), 0, "non-empty range"),
    ],
)
def test_invalid_placements_are_rejected(change, index, fragment):
    program = small_program()
    with pytest.raises(InvalidPlacement) as info:
        Program(program.network, program.chip, change(program.blocks), program.device)
    assert info.value.index == index
    assert fragment in str(info.value)


def test_block_larger_than_a_tile_is_rejected():
    program = small_program()
    big_tiles = make_chip(tile_rows=8, tile_cols=8, tile_count=8)
    merged = Block("a", "weight", 0, 0, 6, 0, 5)
    blocks = (merged, *program.blocks_of("b"))
    Program(program.network, big_tiles, blocks, program.device)  # fits 8x8 tiles
    with pytest.raises(InvalidPlacement, match="does not fit a 4x4 tile"):
        Program(program.network, program.chip, blocks, program.device)


# --- the report, checked by hand -------------------------------------------------------------


def test_report_numbers_match_a_hand_computation():
    chip = make_chip(
        tile_rows=4,
        tile_cols=4,
        tile_count=8,
        tile_devices_per_side=2,
        dac_energy_J=0.1e-12,
        adc_energy_J=2e-12,
        adc_conversion_s=10e-9,
        adc_per_tile=2,
        read_voltage_V=0.2,
        read_pulse_s=250e-9,
        update_g_weight_max_S=8e-6,
        update_set_pulse_s=100e-9,
    )
    net = Network(
        "hand",
        (
            Dense(name="fc", in_features=6, out_features=5),
            # 3x3 input, 2x2 kernel: 4 output positions → 4 MVMs of a (4, 3) matrix.
            Conv2d(
                name="conv", in_channels=1, out_channels=3, kernel_size=(2, 2), input_size=(3, 3)
            ),
        ),
    )
    program = compile(net, chip, device=DEVICE)
    s = mapping_summary(program)

    read = 0.2**2 * (1 / 3) * 250e-9 * (8e-6 / 4)  # J per device read
    # fc: 6 rows split 3 + 3, 5 columns 2 + 3: blocks 3x2, 3x3, 3x2, 3x3 (rows x cols), one
    # vector each.
    fc_blocks = [(3, 2), (3, 3), (3, 2), (3, 3)]
    fc_dac = sum(r * 0.1e-12 for r, c in fc_blocks)
    fc_adc = sum(c * 2e-12 for r, c in fc_blocks)
    fc_read = sum(2 * 2 * r * c * read for r, c in fc_blocks)
    fc_latency = 250e-9 + 2 * 10e-9  # the 3-column blocks: ceil(3/2) conversions
    # conv: one 4x3 block, 4 vectors.
    conv_dac, conv_adc, conv_read = 4 * 4 * 0.1e-12, 4 * 3 * 2e-12, 4 * 2 * 2 * 12 * read
    conv_latency = 4 * (250e-9 + 2 * 10e-9)

    fc = s["layers"]["fc"]
    assert fc["tiles"] == 4 and fc["synapses"] == 30
    assert fc["utilisation"] == approx(30 / 64)
    assert fc["inference"]["dac_J"] == approx(fc_dac)
    assert fc["inference"]["adc_J"] == approx(fc_adc)
    assert fc["inference"]["read_J"] == approx(fc_read)
    assert fc["inference"]["latency_s"] == approx(fc_latency)
    conv = s["layers"]["conv"]
    assert conv["inference"]["energy_J"] == approx(conv_dac + conv_adc + conv_read)
    assert conv["inference"]["latency_s"] == approx(conv_latency)

    assert (s["tiles_used"], s["tiles_total"]) == (5, 8)
    assert s["utilisation"] == approx((30 + 12) / (5 * 16))
    total = fc_dac + fc_adc + fc_read + conv_dac + conv_adc + conv_read
    assert s["inference"]["energy_J"] == approx(total)
    assert s["inference"]["latency_s"] == approx(fc_latency + conv_latency)
    # Updates: one SET pulse of the preset (2 pJ) per event; full update = every synapse once,
    # tiles row by row (3 rows of fc's blocks, 4 rows of conv), layers in sequence.
    assert s["update_event"] == {"pulses": 1.0, "energy_J": approx(2e-12), "latency_s": 100e-9}
    # The estimated energy figures are the quantities a run measures under the same names.
    assert s["estimates"] == {"E_update": approx(2e-12), "E_inference": approx(total)}
    assert s["full_update"]["energy_J"] == approx(42 * 2e-12)
    assert s["full_update"]["latency_s"] == approx((3 + 4) * 100e-9)
    assert s["partial_sums"] == 2

    text = mapping_report(program)
    assert "tiles used: 5 of 8" in text
    assert "chip: 8 tiles of 4x4 synapses (2 devices per side), 8-bit DAC, 8-bit ADC" in text
    assert "52.5 %" in text  # 42 of 80 cells
    shown = f"{total * 1e12:.4g} pJ"
    assert f"  E_inference  {shown:10s}  inference energy per test sample" in text
    assert "  E_update     2 pJ        programming energy per synaptic update event" in text
    assert "= 1 SET pulse of 2 pJ; latency 100 ns" in text
    assert "spiking population" not in text
    for assumption in ("<x^2> = 1/3", "g_weight_max/4", "in parallel", "one SET pulse"):
        assert assumption in text


def test_pulse_train_full_update_takes_the_train_length():
    chip = make_chip(update_scheme="pulse_train", update_pulse_train_length=31)
    net = Network("n", (Dense(name="d", in_features=300, out_features=20),))
    s = mapping_summary(compile(net, chip, device=DEVICE))
    assert s["update_scheme"] == "pulse_train"
    assert s["full_update"]["latency_s"] == approx(31 * chip.update.set_pulse_s)


# --- CLI -------------------------------------------------------------------------------------


def test_cli_compile_prints_the_report_and_writes_the_program(tmp_path):
    out = tmp_path / "program.yaml"
    result = run_cli("compile", str(EXAMPLE), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "tiles used: 1 of 64" in result.stdout
    assert "\n  E_inference  347.7 pJ    inference energy per test sample\n" in result.stdout
    assert "\n  E_update     2 pJ        programming energy per synaptic update event\n" in (
        result.stdout
    )
    assert f"wrote {out}" in result.stdout
    program = load_program(out)
    assert program.network.layers[0].name == "hebbian"
    assert program.tiles_used == 1
    assert program.chip == CHIP


def test_report_of_ideal_tiles_shows_the_placement_only():
    program = compile(Network("n", (Dense(name="d", in_features=300, out_features=20),)), CHIP)
    s = mapping_summary(program, "ideal")
    assert s["tiles"] == "ideal" and s["tiles_used"] == 2 and s["estimates"] == {}
    for key in ("device_preset", "update_scheme", "inference", "update_event", "full_update"):
        assert key not in s
    assert "inference" not in s["layers"]["d"]
    text = mapping_report(program, "ideal")
    assert "tiles: ideal float tiles (no devices, no energy)" in text
    for absent in ("device preset", "update scheme", "pcm_gst_pulse", "J", "E_update", "assump"):
        assert absent not in text
    assert text.splitlines()[-2].split() == [
        "layer",
        "type",
        "matrices",
        "(rows",
        "x",
        "cols:",
        "blocks)",
        "tiles",
        "util",
    ]
    with pytest.raises(ValueError, match="tiles must be 'pcm' or 'ideal'"):
        mapping_summary(program, "float")


def test_cli_compile_of_an_ideal_job_prints_no_devices_or_energy(capsys):
    assert main(["compile", str(REPO / "examples" / "softhebb_digits_ideal.yaml")]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "ideal float tiles (no devices, no energy)" in out
    assert "tiles used: 1 of 64" in out
    for absent in ("device preset", "update scheme", "stochastic", " pJ", "E_update"):
        assert absent not in out


def test_cli_compile_counts_the_tiles_of_the_overridden_chip(tmp_path, capsys):
    """hardware.chip_overrides of tile.count: the header shows the chip actually used."""
    job = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    job["hardware"]["chip_overrides"] = {"tile.count": 4, "tile.devices_per_side": 2}
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job), encoding="utf-8")
    assert main(["compile", str(path), "-o", str(tmp_path / "p.yaml")]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == (
        "network 'softhebb_digits' on chip '64 tiles of 256x256 PCM differential pairs, "
        "8-bit DAC/ADC [overrides: tile.count=4, tile.devices_per_side=2]'"
    )
    assert (
        lines[1] == "chip: 4 tiles of 256x256 synapses (2 devices per side), 8-bit DAC, 8-bit ADC"
    )
    assert "tiles used: 1 of 4" in lines
    program = load_program(tmp_path / "p.yaml")
    assert program.chip.tile.count == 4
    assert "[overrides: tile.count=4" in program.chip.description


def test_cli_compile_without_output_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["compile", str(EXAMPLE)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "utilisation:" in out
    assert list(tmp_path.iterdir()) == []


def test_cli_compile_missing_job_is_one_line():
    result = run_cli("compile", "no/such/job.yaml")
    assert_one_line_error(result.returncode, result.stderr, "no/such/job.yaml", "does not exist")


def test_cli_compile_errors_are_one_line(tmp_path, capsys):
    malformed = tmp_path / "bad.yaml"
    malformed.write_text("name: [unclosed\n", encoding="utf-8")
    assert main(["compile", str(malformed)]) == 2
    assert_one_line_error(2, capsys.readouterr().err, "bad.yaml", "malformed YAML")

    job = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    job["network"]["layers"][0]["bogus"] = 1
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(yaml.safe_dump(job), encoding="utf-8")
    assert main(["compile", str(unknown)]) == 2
    assert_one_line_error(2, capsys.readouterr().err, "unknown.yaml", "bogus")

    # A job whose network does not fit its chip.
    mapping = dump(CHIP)
    mapping["tile"].update(rows=16, cols=16, count=2)
    mapping["periphery"]["adc"]["per_tile"] = 16
    chip_file = tmp_path / "tiny_chip.yaml"
    chip_file.write_text(yaml.safe_dump(mapping), encoding="utf-8")
    job = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    job["hardware"]["chip"] = str(chip_file)
    too_big = tmp_path / "too_big.yaml"
    too_big.write_text(yaml.safe_dump(job), encoding="utf-8")
    assert main(["compile", str(too_big)]) == 2
    needed = math.ceil(64 / 16) * math.ceil(100 / 16)
    assert_one_line_error(2, capsys.readouterr().err, f"needs {needed} tiles", "has 2")
