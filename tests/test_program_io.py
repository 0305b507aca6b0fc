"""Program files: YAML round trip, HDF5 conductances, strict loading, atomic writes, dump."""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from memxbar.compiler import (
    Conv2d,
    Dense,
    Network,
    PlasticityRule,
    Recurrent,
    SpikingPopulation,
    compile,
    load_conductances,
    load_program,
    network_from_mapping,
    network_to_mapping,
    save_program,
)
from memxbar.crossbar import ChipSpec, load_chip
from memxbar.devices import load_preset
from memxbar.hw_configs import ConfigError, build, dump, round_si

CHIP = load_chip("pcm_256")
DEVICE = load_preset("pcm_gst_pulse")


def chip_with(rows: int, cols: int, count: int = 1000) -> ChipSpec:
    mapping = dump(CHIP)
    mapping["tile"].update(rows=rows, cols=cols, count=count)
    mapping["periphery"]["adc"]["per_tile"] = min(32, cols)  # at most one ADC per column
    return build(ChipSpec, mapping)


def mixed_network() -> Network:
    return Network(
        "mixed",
        (
            Conv2d(
                name="conv",
                in_channels=3,
                out_channels=40,
                kernel_size=(3, 5),
                stride=2,
                padding=1,
                input_size=(12, 10),
                rule=PlasticityRule.create("softhebb", {"inv_tau": 12.0, "power": 0.2}),
            ),
            Dense(
                name="fc",
                in_features=300,
                out_features=70,
                rule=PlasticityRule.create("hebb", {"eta": 1e-3, "signed": True, "mode": "oja"}),
            ),
            Recurrent(name="rnn", in_features=70, hidden_features=50, steps=7),
            SpikingPopulation(
                name="lif",
                n_inputs=50,
                n_neurons=20,
                steps=30,
                lateral_inhibition=True,
                neuron=(("tau_s", 0.02), ("threshold", 1.0), ("v_reset", 0)),
                rule=PlasticityRule.create("stdp", {"a_plus": 0.01, "a_minus": 0.012}),
            ),
        ),
    )


@pytest.fixture
def program():
    return compile(mixed_network(), chip_with(64, 32), device=DEVICE)


# --- round trips -------------------------------------------------------------------------------


def test_yaml_round_trip(tmp_path, program):
    path = save_program(program, tmp_path / "program.yaml")
    assert path == tmp_path / "program.yaml"
    loaded = load_program(path)
    assert loaded == program
    assert loaded.partial_sums() == program.partial_sums()
    assert load_conductances(path) == {}
    assert not (tmp_path / "program.h5").exists()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# memxbar program")
    assert "- {tile: 0, layer: conv, matrix: weight, rows: [0, 45], cols: [0, 20]}" in text


def test_network_mapping_round_trip():
    net = mixed_network()
    mapping = yaml.safe_load(yaml.safe_dump(network_to_mapping(net)))
    assert network_from_mapping(mapping, source="test") == net


DENSE = {"type": "dense", "name": "d", "in_features": 4, "out_features": 2}
CONV = {"type": "conv2d", "name": "c", "in_channels": 1, "out_channels": 2, "kernel_size": 3}


def test_network_mapping_shorthands():
    mapping = {"name": "n", "layers": [DENSE | {"rule": "hebb"}, CONV | {"input_size": 8}]}
    dense, conv = network_from_mapping(mapping, source="test").layers
    assert dense.rule == PlasticityRule("hebb")
    assert (conv.kernel_size, conv.input_size, conv.stride, conv.padding) == ((3, 3), (8, 8), 1, 0)


@pytest.mark.parametrize(
    "layer, key, fragment",
    [
        ({"name": "d", "in_features": 4}, "layers[0].type", "is missing (one of: dense, conv2d"),
        (DENSE | {"type": "mlp"}, "layers[0].type", "expected one of dense, conv2d"),
        (DENSE | {"bogus": 1}, "layers[0].bogus", "not a known key"),
        (DENSE | {"name": ""}, "layers[0].name", "expected non-empty text"),
        (DENSE | {"in_features": 0}, "layers[0].in_features", "must be ≥ 1, got 0"),
        (DENSE | {"out_features": 2.5}, "layers[0].out_features", "expected an integer"),
        (CONV | {"input_size": [8, 0]}, "layers[0].input_size[1]", "must be ≥ 1, got 0"),
        (CONV | {"input_size": [8, 8, 8]}, "layers[0].input_size", "a list of 2 values"),
        (CONV | {"input_size": 8, "padding": -1}, "layers[0].padding", "must be ≥ 0"),
        (DENSE | {"rule": [1]}, "layers[0].rule", "expected a mapping"),
        (DENSE | {"rule": {"name": "h", "x": 1}}, "layers[0].rule.x", "not a known key"),
        (DENSE | {"rule": {"params": {}}}, "layers[0].rule.name", "is missing"),
        (DENSE | {"rule": {"name": "h", "params": {"eta": [1]}}}, "layers[0].rule.params.eta", ""),
    ],
)
def test_network_errors_name_the_key(layer, key, fragment):
    with pytest.raises(ConfigError) as info:
        network_from_mapping({"name": "n", "layers": [layer]}, source="job.yaml")
    assert (info.value.source, info.value.key) == ("job.yaml", f"network.{key}"), str(info.value)
    assert fragment in info.value.message


def test_network_errors_of_the_whole_network():
    with pytest.raises(ConfigError, match=r"'network.layers': network 'n': duplicate layer"):
        network_from_mapping({"name": "n", "layers": [DENSE, DENSE]}, source="j")
    with pytest.raises(ConfigError, match=r"'network.layers': expected a non-empty list"):
        network_from_mapping({"name": "n", "layers": []}, source="j")
    with pytest.raises(ConfigError, match=r"'network.name': is missing"):
        network_from_mapping({"layers": [DENSE]}, source="j")
    with pytest.raises(ConfigError, match=r"'network': expected a mapping, got list"):
        network_from_mapping([DENSE], source="j")


def test_save_creates_folders_and_overwrites(tmp_path, program):
    path = tmp_path / "a" / "b" / "program.yaml"
    save_program(program, path)
    other = compile(mixed_network(), chip_with(256, 256), device=DEVICE)
    save_program(other, path)
    assert load_program(path) == other
    assert sorted(p.name for p in path.parent.iterdir()) == ["program.yaml"]  # no temp files


dense_layers = st.builds(lambda i, o: ("dense", i, o), st.integers(1, 300), st.integers(1, 300))
conv_layers = st.builds(
    lambda cin, cout, k, size: ("conv", cin, cout, k, size),
    st.integers(1, 8),
    st.integers(1, 64),
    st.tuples(st.integers(1, 3), st.integers(1, 3)),
    st.integers(3, 8),
)


def build_network(specs) -> Network:
    layers = []
    for i, spec in enumerate(specs):
        if spec[0] == "dense":
            layers.append(Dense(name=f"l{i}", in_features=spec[1], out_features=spec[2]))
        else:
            _, cin, cout, k, size = spec
            layers.append(
                Conv2d(
                    name=f"l{i}",
                    in_channels=cin,
                    out_channels=cout,
                    kernel_size=k,
                    input_size=(size, size),
                )
            )
    return Network("random", tuple(layers))


@settings(max_examples=25, deadline=None)
@given(
    specs=st.lists(st.one_of(dense_layers, conv_layers), min_size=1, max_size=3),
    rows=st.integers(8, 300),
    cols=st.integers(8, 300),
)
def test_round_trip_property(specs, rows, cols):
    net = build_network(specs)
    program = compile(net, chip_with(rows, cols, count=10_000), device=DEVICE)
    # Every matrix is covered exactly once by tile-sized blocks, one per tile.
    for layer in net.layers:
        for matrix, shape in layer.matrices().items():
            count = np.zeros(shape, np.int64)
            for b in program.blocks_of(layer.name, matrix):
                assert b.rows <= rows and b.cols <= cols
                count[b.row_start : b.row_stop, b.col_start : b.col_stop] += 1
            assert (count == 1).all()
    assert len(set(program.tiles())) == program.tiles_used
    with tempfile.TemporaryDirectory() as folder:
        path = save_program(program, Path(folder) / "p.yaml")
        assert load_program(path) == program


def test_conductances_round_trip(tmp_path, program):
    rng = np.random.default_rng(0)
    arrays = {
        "tile_0": rng.uniform(0, 25e-6, (64, 32, 2)).astype(np.float32),
        "tile_1": rng.uniform(0, 25e-6, (64, 32, 2)),
        "pulse_counts": rng.integers(0, 100, (5, 3)).astype(np.int16),
        "stuck": rng.random((4, 4)) < 0.5,
        "scalar": np.float64(3.5),
        "empty": np.zeros((0, 3), np.float32),
    }
    path = save_program(program, tmp_path / "program.yaml", conductances=arrays)
    assert (tmp_path / "program.h5").is_file()
    assert load_program(path) == program
    loaded = load_conductances(path)
    assert set(loaded) == set(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == np.asarray(array).dtype, name
        np.testing.assert_array_equal(loaded[name], array)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["program.h5", "program.yaml"]


def test_conductances_accept_jax_arrays(tmp_path, program):
    import jax.numpy as jnp

    path = save_program(program, tmp_path / "p.yaml", {"g": jnp.arange(6.0).reshape(2, 3)})
    np.testing.assert_array_equal(load_conductances(path)["g"], np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("name", ["", "a/b", ".hidden", 3])
def test_bad_conductance_names_are_rejected(tmp_path, program, name):
    with pytest.raises(ValueError, match="name"):
        save_program(program, tmp_path / "p.yaml", {name: np.zeros(2)})
    assert not (tmp_path / "p.yaml").exists()


def test_non_numeric_conductances_are_rejected(tmp_path, program):
    with pytest.raises(ValueError, match="expected numbers"):
        save_program(program, tmp_path / "p.yaml", {"g": np.array(["a", "b"])})


def test_program_path_must_not_be_h5(tmp_path, program):
    with pytest.raises(ValueError, match="YAML name"):
        save_program(program, tmp_path / "p.h5")


def test_failed_write_keeps_the_old_file(tmp_path, program, monkeypatch):
    path = save_program(program, tmp_path / "p.yaml")
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    other = compile(mixed_network(), chip_with(256, 256), device=DEVICE)
    with pytest.raises(OSError, match="disk full"):
        save_program(other, path, {"g": np.zeros(3)})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml"]


# --- corrupt HDF5 ------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path, program):
    arrays = {"tile_0": np.full((64, 32), 0.123456789, np.float64)}
    return save_program(program, tmp_path / "program.yaml", conductances=arrays)


def test_truncated_h5_is_a_clear_error(saved):
    h5 = saved.with_suffix(".h5")
    data = h5.read_bytes()
    h5.write_bytes(data[: len(data) // 2])
    for load in (load_program, load_conductances):
        with pytest.raises(ValueError, match="program.h5") as info:
            load(saved)
        assert "truncated or corrupt" in str(info.value) or "missing" in str(info.value)


def test_garbage_h5_is_a_clear_error(saved):
    saved.with_suffix(".h5").write_bytes(b"this is not hdf5" * 100)
    with pytest.raises(ValueError, match=r"program\.h5.*not a readable HDF5 file"):
        load_program(saved)


def test_flipped_data_bytes_fail_the_checksum(saved):
    h5 = saved.with_suffix(".h5")
    data = bytearray(h5.read_bytes())
    pattern = np.float64(0.123456789).tobytes()
    at = data.find(pattern)
    assert at >= 0
    data[at] ^= 0xFF
    h5.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"program\.h5.*tile_0.*SHA-256"):
        load_conductances(saved)


def test_missing_h5_is_a_clear_error(saved):
    saved.with_suffix(".h5").unlink()
    with pytest.raises(ValueError, match=r"program\.h5.*does not exist"):
        load_program(saved)


def test_h5_shape_mismatch_is_reported(saved):
    data = yaml.safe_load(saved.read_text(encoding="utf-8"))
    data["conductances"]["arrays"]["tile_0"]["shape"] = [32, 64]
    saved.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"program\.h5: key 'tile_0'.*float64\[64, 32\]"):
        load_program(saved)


def test_h5_extra_or_missing_array_is_reported(saved):
    data = yaml.safe_load(saved.read_text(encoding="utf-8"))
    data["conductances"]["arrays"]["tile_9"] = dict(data["conductances"]["arrays"]["tile_0"])
    saved.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"key 'tile_9': is missing"):
        load_program(saved)
    del data["conductances"]["arrays"]["tile_9"]
    del data["conductances"]["arrays"]["tile_0"]
    saved.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"key 'tile_0': is not listed"):
        load_program(saved)


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("dtype", "float77", "unknown dtype 'float77'"),
        ("shape", [64, -32], "must be ≥ 0, got -32"),
        ("sha256", None, "expected text"),
        ("bogus", 1, "not a known key"),
    ],
)
def test_h5_index_entries_are_checked(saved, key, value, fragment):
    data = yaml.safe_load(saved.read_text(encoding="utf-8"))
    data["conductances"]["arrays"]["tile_0"][key] = value
    saved.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_program(saved)
    assert info.value.key.startswith(f"conductances.arrays.tile_0.{key}"), str(info.value)
    assert fragment in info.value.message


def test_h5_file_must_sit_beside_the_yaml(saved):
    data = yaml.safe_load(saved.read_text(encoding="utf-8"))
    data["conductances"]["file"] = "../elsewhere/program.h5"
    saved.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'conductances.file': expected a file name"):
        load_program(saved)


# --- malformed program YAML --------------------------------------------------------------------


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def set_key(*keys, value):
    def change(data):
        for k in keys[:-1]:
            data = data[k]
        data[keys[-1]] = value

    return change


def delete_key(*keys):
    def change(data):
        for k in keys[:-1]:
            data = data[k]
        del data[keys[-1]]

    return change


@pytest.mark.parametrize(
    "change, key, fragment",
    [
        (set_key("bogus", value=1), "bogus", "not a known key"),
        (delete_key("tiles"), "tiles", "is missing"),
        (set_key("format", value="other"), "format", "memxbar-program"),
        (set_key("version", value=2), "version", "expected 1"),
        (set_key("chip", "tile", "bogus", value=1), "chip.tile.bogus", "not a known key"),
        (set_key("chip", "tile", "rows", value=-4), "chip.tile.rows", "must be ≥ 1"),
        (delete_key("chip", "tile", "count"), "chip.tile.count", "is missing"),
        (set_key("device", "model", value="memristor"), "device.model", "expected one of"),
        (set_key("device", "energy", "set_pulse_J", value="x"), "device.energy.set_pulse_J", ""),
        (set_key("network", "layers", 0, "bogus", value=1), "network.layers[0].bogus", ""),
        (set_key("tiles", 0, "bogus", value=1), "tiles[0].bogus", "not a known key"),
        (delete_key("tiles", 1, "cols"), "tiles[1].cols", "is missing"),
        (set_key("tiles", 0, "rows", value=[5, 2]), "tiles[0].rows", "start < stop"),
        (set_key("tiles", 0, "tile", value=-1), "tiles[0].tile", "must be ≥ 0, got -1"),
        (set_key("tiles", 0, "tile", value=1.5), "tiles[0].tile", "expected an integer"),
        (set_key("tiles", 0, "tile", value=1), "tiles[1]", "tile 1 already holds block 0"),
        (set_key("tiles", 0, "tile", value=5000), "tiles[0]", "does not exist"),
        (set_key("tiles", 0, "layer", value="nope"), "tiles[0]", "layer 'nope'"),
        (set_key("tiles", 0, "rows", value=[0, 20]), "tiles", "not covered"),
        (set_key("tiles", value=[]), "tiles", "non-empty list"),
        (set_key("partial_sums", value=[]), "partial_sums[0]", "does not match the tiles"),
        (set_key("partial_sums", 0, "tiles", value=[0]), "partial_sums[0]", "does not match"),
        (set_key("conductances", value={"file": "x.h5"}), "conductances.arrays", "mapping"),
    ],
)
def test_malformed_program_names_file_and_key(tmp_path, program, change, key, fragment):
    path = save_program(program, tmp_path / "program.yaml")
    edit(path, change)
    with pytest.raises(ConfigError) as info:
        load_program(path)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.source == str(path)
    assert err.key == key, str(err)
    assert fragment in str(err)
    assert str(path) in str(err)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("format: [unclosed\n", "malformed YAML"),
        ("- a list\n", "expected a mapping"),
        ("", "expected a mapping"),
    ],
)
def test_unreadable_program_yaml(tmp_path, text, fragment):
    path = tmp_path / "program.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=fragment):
        load_program(path)


def test_missing_program_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_program(tmp_path / "nope.yaml")


# --- dump, the inverse of the strict loader ----------------------------------------------------


@pytest.mark.parametrize(
    "obj", [CHIP, DEVICE, load_preset("pcm_nandakumar2019"), CHIP.periphery.adc]
)
def test_dump_is_the_inverse_of_build(obj):
    mapping = dump(obj)
    assert build(type(obj), mapping) == obj
    # Through YAML text too, with tuples as lists and sections as mappings.
    assert build(type(obj), yaml.safe_load(yaml.safe_dump(mapping))) == obj


def test_dump_writes_si_keys_lists_and_sections():
    mapping = dump(DEVICE)
    # The preset's g_max_uS: 25 and coefficients_uS, in SI under SI keys; tuples as lists.
    assert mapping["conductance"]["g_max_S"] == 2.5e-05 and "g_max_uS" not in mapping
    assert mapping["programming_noise"]["coefficients_S"] == [2.6348e-07, 1.965e-06, -1.1731e-06]
    assert dump(CHIP)["periphery"]["adc"]["conversion_s"] == 1e-08  # conversion_ns: 10
    with pytest.raises(TypeError, match="parameter class instance, got float"):
        dump(3.0)


# --- round numbers -------------------------------------------------------------------------------


def test_program_yaml_writes_the_numbers_the_presets_state(tmp_path, program):
    """250 ns is written 2.5e-07 (not 2.5000000000000004e-07, the float product of the unit
    conversion), and the file still reads back to the same program."""
    path = save_program(program, tmp_path / "program.yaml")
    text = path.read_text(encoding="utf-8")
    for line in (
        "read_pulse_s: 2.5e-07",
        "set_pulse_s: 1.0e-07",
        "conversion_s: 1.0e-08",
        "g_weight_max_S: 8.0e-06",
        "pulse_step_S: 6.0e-07",
        "walden_fom_J: 1.0e-14",
        "g_max_S: 2.5e-05",
        "clock_Hz: 1.0e+09",
        "endurance_cycles: 1.0e+08",
        "coefficients_S: [2.6348e-07, 1.965e-06, -1.1731e-06]",
    ):
        assert f" {line}\n" in text, line
    numbers = re.findall(r"[-+]?\d[\d.]*(?:e[-+]?\d+)?", text)
    assert all(len(n.split("e")[0].replace(".", "").lstrip("-0")) <= 12 for n in numbers)
    assert load_program(path) == program


def test_a_program_built_without_the_loader_still_round_trips(tmp_path):
    """Floats not rounded by the loader are written with their exact shortest repr, and an SI
    value is read as written."""
    odd = dataclasses.replace(
        CHIP,
        periphery=dataclasses.replace(CHIP.periphery, read_pulse_s=250.0 * 1e-9),
        clock_Hz=1.2345678901234567e9,
    )
    program = compile(mixed_network(), odd, device=DEVICE)
    path = save_program(program, tmp_path / "odd.yaml")
    text = path.read_text(encoding="utf-8")
    assert "read_pulse_s: 2.5000000000000004e-07" in text
    assert "clock_Hz: 1234567890.1234567" in text
    assert load_program(path) == program


def test_the_loader_rounds_converted_values_to_12_significant_digits():
    chip = load_chip("pcm_256")
    assert chip.periphery.read_pulse_s == 2.5e-07 == round_si(250.0 * 1e-9) != 250.0 * 1e-9
    assert chip.update.set_pulse_s == 1e-07
    assert DEVICE.programming_noise.coefficients_S == (2.6348e-07, 1.965e-06, -1.1731e-06)


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_round_si_is_idempotent_and_close(x):
    y = round_si(x)
    assert round_si(y) == y
    assert float(repr(y)) == y and len(repr(y).split("e")[0].strip("-0.").replace(".", "")) <= 12
    assert abs(y - x) <= 5e-12 * abs(x)
