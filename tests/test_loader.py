"""The strict preset loader: bad input gets a clear error naming the file and the key.

Every bad file is the shipped preset with one thing changed, so the test shows that exactly
that change is caught.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import pytest
import yaml
from support import approx

import memxbar.devices as mdev
from memxbar.hw_configs import (
    ConfigError,
    OneOf,
    Pairs,
    Scalar,
    build,
    dump,
    format_joules,
    format_si,
    param,
    preset_names,
    section,
)

STAT = "pcm_nandakumar2019"
PULSE = "pcm_gst_pulse"


def preset_text(name: str) -> str:
    return (resources.files("memxbar.hw_configs") / "devices" / f"{name}.yaml").read_text(
        encoding="utf-8"
    )


def preset_mapping(name: str) -> dict:
    return yaml.safe_load(preset_text(name))


def write(tmp_path: Path, data, name="bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def modified(name: str, dotted: str, value=None, *, delete=False) -> dict:
    data = copy.deepcopy(preset_mapping(name))
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node[part]
    if delete:
        del node[last]
    else:
        node[last] = value
    return data


def assert_config_error(path: Path, key: str, *fragments: str) -> ConfigError:
    with pytest.raises(ValueError) as info:
        mdev.load_preset(path)
    err = info.value
    assert isinstance(err, ConfigError)
    message = str(err)
    assert str(path) in message, message
    assert f"'{key}'" in message, message
    for fragment in fragments:
        assert fragment in message, message
    return err


# --- the shipped presets ------------------------------------------------------------------


def test_presets_are_found_as_package_resources():
    names = preset_names("devices")
    assert STAT in names and PULSE in names
    for name in names:
        assert (resources.files("memxbar.hw_configs") / "devices" / f"{name}.yaml").is_file()


@pytest.mark.parametrize("name", [STAT, PULSE])
def test_shipped_presets_load(name):
    model = mdev.load_preset(name)
    assert model.g_max_S == approx(25e-6, rel=1e-12)
    assert model.drift.t0_s == 20.0
    assert model.read_noise.t_read_s == approx(250e-9, rel=1e-12)
    assert model.programming_noise.coefficients_S == approx(
        (0.26348e-6, 1.9650e-6, -1.1731e-6), rel=1e-12
    )
    expected = mdev.PulsePCM if name == PULSE else mdev.StatisticalPCM
    assert type(model) is expected
    # by name and by path: the same model
    path = Path(str(resources.files("memxbar.hw_configs") / "devices" / f"{name}.yaml"))
    assert mdev.load_preset(path) == model


def test_prefixed_units_convert_to_si(tmp_path):
    model = mdev.load_preset(STAT)
    assert model.conductance.g_max_S == approx(25e-6, rel=1e-12)  # g_max_uS: 25
    assert model.energy.set_pulse_J == approx(2e-12, rel=1e-12)  # set_pulse_pJ: 2
    assert model.energy.reset_pulse_J == approx(20e-12, rel=1e-12)
    # another prefix for the same field: nS and plain S
    data = modified(STAT, "conductance.g_max_uS", delete=True)
    data["conductance"]["g_max_nS"] = 25000
    assert mdev.load_preset(write(tmp_path, data)).g_max_S == approx(25e-6, rel=1e-12)
    data = modified(STAT, "energy.set_pulse_pJ", delete=True)
    data["energy"]["set_pulse_J"] = 3e-12
    assert mdev.load_preset(write(tmp_path, data)).energy.set_pulse_J == approx(3e-12)


def test_yaml11_exponent_strings_are_numbers(tmp_path):
    # YAML 1.1 reads 1e-7 (no dot) as the string '1e-7'; the loader takes it as a number.
    text = preset_text(STAT)
    assert "g_rel_floor: 1.0e-7" in text
    text = text.replace("g_rel_floor: 1.0e-7", "g_rel_floor: 1e-7")
    assert yaml.safe_load(text)["drift"]["g_rel_floor"] == "1e-7"
    text = text.replace("t_read_s: 250.0e-9", "t_read_s: 25e-8")
    model = mdev.load_preset(write(tmp_path, text))
    assert model.drift.g_rel_floor == 1e-7
    assert model.read_noise.t_read_s == approx(250e-9, rel=1e-12)


# --- bad keys -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [STAT, PULSE])
def test_unknown_key(tmp_path, name):
    data = modified(name, "drift.t0_seconds", 20.0)
    err = assert_config_error(write(tmp_path, data), "drift.t0_seconds", "not a known key")
    # lists the known keys by their SI names (not a prefixed variant such as t0_Gs)
    known = err.message.split("known: ", 1)[1].rstrip(")").split(", ")
    assert "t0_s" in known and "g_ref_S" in known, known


def test_unknown_top_level_key(tmp_path):
    data = modified(STAT, "readnoise", {"scale": 1.0})
    assert_config_error(write(tmp_path, data), "readnoise", "not a known key")


@pytest.mark.parametrize(
    "dotted, named",
    [
        ("read_noise.t_read_s", "read_noise.t_read_s"),
        ("faults.p_stuck_set", "faults.p_stuck_set"),
        ("drift", "drift"),
        # a missing field with a unit is named by its SI key (any prefix would be accepted)
        ("conductance.g_max_uS", "conductance.g_max_S"),
        ("energy.set_pulse_pJ", "energy.set_pulse_J"),
    ],
)
def test_missing_key(tmp_path, dotted, named):
    data = modified(STAT, dotted, delete=True)
    assert_config_error(write(tmp_path, data), named, "missing")


def test_missing_section_of_pulse_model(tmp_path):
    data = modified(PULSE, "set_response", delete=True)
    assert_config_error(write(tmp_path, data), "set_response", "missing")


def test_same_value_given_twice(tmp_path):
    data = modified(STAT, "conductance.g_max_S", 25e-6)
    assert_config_error(write(tmp_path, data), "conductance.g_max_S", "same value")


# --- wrong types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dotted, value, fragment",
    [
        ("drift.t0_s", "twenty", "expected a number"),
        ("conductance.g_max_uS", "lots", "expected a number"),
        ("drift.scale", True, "expected a number"),
        ("drift.t0_s", [20.0], "expected a number"),
        ("drift.t0_s", {"value": 20.0}, "expected a number"),
        ("drift.t0_s", None, "expected a number"),
        ("energy.program_iterations", 2.5, "expected an integer"),
        ("conductance", [25.0, 0.0], "expected a mapping"),
        ("read_noise", "default", "expected a mapping"),
        ("programming_noise.coefficients_uS", 0.26, "expected a non-empty list"),
        ("programming_noise.coefficients_uS", [], "expected a non-empty list"),
        ("programming_noise.coefficients_uS[1]", "x", "expected a number"),
        ("description", 3, "expected text"),
        ("faults.worn_out_state", "melted", "expected one of"),
    ],
)
def test_wrong_type(tmp_path, dotted, value, fragment):
    if dotted.endswith("[1]"):
        data = modified(STAT, "programming_noise.coefficients_uS", [0.26348, value, -1.1731])
    else:
        data = modified(STAT, dotted, value)
    assert_config_error(write(tmp_path, data), dotted, fragment)


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN", "'nan'", "'inf'"])
def test_non_finite_values(tmp_path, value):
    text = preset_text(STAT).replace("t0_s: 20.0", f"t0_s: {value}")
    assert f"t0_s: {value}" in text
    assert_config_error(write(tmp_path, text), "drift.t0_s", "finite")


def test_integer_too_large_for_a_float(tmp_path):
    # int('1' + 400 zeros) overflows float(): must be a ConfigError, not an OverflowError
    text = preset_text(STAT).replace("endurance_cycles: 1.0e+8", "endurance_cycles: 1" + "0" * 400)
    assert_config_error(write(tmp_path, text), "faults.endurance_cycles", "finite")


def test_duplicate_key(tmp_path):
    # PyYAML silently keeps the last of two equal keys; a strict loader must refuse the file
    text = preset_text(STAT).replace("  t0_s: 20.0", "  t0_s: 20.0\n  t0_s: 2.0")
    assert_config_error(write(tmp_path, text), "<file>", "duplicate", "t0_s", "line")


# --- impossible physics ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, dotted, value, fragment",
    [
        (STAT, "conductance.g_max_uS", -25.0, "> 0"),
        (STAT, "conductance.g_max_uS", 0.0, "> 0"),
        (STAT, "conductance.g_min_uS", -0.1, "≥ 0"),
        (PULSE, "reset_response.g_reset_uS", -0.1, "≥ 0"),
        (STAT, "read_noise.t_read_s", 0.0, "> 0"),
        (STAT, "read_noise.t_read_s", -250e-9, "> 0"),
        (STAT, "drift.t0_s", 0.0, "> 0"),
        (STAT, "faults.p_stuck_set", 1.5, "≤ 1"),
        (STAT, "faults.p_stuck_set", -0.1, "≥ 0"),
        (PULSE, "faults.p_stuck_reset", 2.0, "≤ 1"),
        (STAT, "faults.endurance_cycles", 0, "≥ 1"),
        (PULSE, "variability.g_max_relative", 1.0, "< 1"),
        (PULSE, "set_response.memory_pulses", 0.0, "> 0"),
        (STAT, "energy.set_pulse_pJ", -2.0, "≥ 0"),
        (STAT, "programming_noise.scale", -1.0, "≥ 0"),
    ],
)
def test_out_of_bounds(tmp_path, name, dotted, value, fragment):
    data = modified(name, dotted, value)
    assert_config_error(write(tmp_path, data), dotted, fragment)


def test_stuck_probabilities_must_not_sum_above_one(tmp_path):
    data = modified(STAT, "faults.p_stuck_set", 0.6)
    data["faults"]["p_stuck_reset"] = 0.5
    assert_config_error(write(tmp_path, data), "faults.p_stuck_reset", "must not exceed 1")
    data["faults"]["p_stuck_reset"] = 0.4  # sums to exactly 1: allowed
    assert mdev.load_preset(write(tmp_path, data)).faults.p_stuck_reset == 0.4


def test_g_min_must_be_below_g_max(tmp_path):
    data = modified(STAT, "conductance.g_min_uS", 25.0)
    with pytest.raises(ConfigError) as info:
        mdev.load_preset(write(tmp_path, data))
    assert str(tmp_path / "bad.yaml") in str(info.value)
    assert "conductance.g_min" in str(info.value)
    assert "must be below g_max" in str(info.value)


def test_g_min_error_names_the_key_as_written(tmp_path):
    # The file says g_min_uS; the message must name that key, not the SI field g_min_S that
    # the user never wrote (cross-field checks raise InvalidParameter with the field name).
    data = modified(STAT, "conductance.g_min_uS", 30.0)
    assert_config_error(write(tmp_path, data), "conductance.g_min_uS", "must be below")


def test_drift_clip_bounds_ordered(tmp_path):
    data = modified(STAT, "drift.mu_min", 0.2)
    assert_config_error(write(tmp_path, data), "drift.mu_min", "must not exceed mu_max")


# --- the model key, malformed files, missing files -------------------------------------------


@pytest.mark.parametrize("value", ["pcm_magic", 3, None])
def test_bad_model_value(tmp_path, value):
    data = modified(STAT, "model", value)
    assert_config_error(write(tmp_path, data), "model", "expected one of")


def test_missing_model_key(tmp_path):
    data = modified(STAT, "model", delete=True)
    assert_config_error(write(tmp_path, data), "model", "missing")


def test_pulse_only_section_in_statistical_preset(tmp_path):
    data = copy.deepcopy(preset_mapping(STAT))
    data["set_response"] = preset_mapping(PULSE)["set_response"]
    assert_config_error(write(tmp_path, data), "set_response", "not a known key")


def test_malformed_yaml(tmp_path):
    text = preset_text(STAT).replace("t0_s: 20.0", "t0_s: [20.0")
    assert_config_error(write(tmp_path, text), "<file>", "malformed YAML", "line")


def test_tab_indented_yaml(tmp_path):
    text = preset_text(STAT).replace("  t0_s: 20.0", "\tt0_s: 20.0")
    assert_config_error(write(tmp_path, text), "<file>", "malformed YAML")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a\n- list\n", "just text\n"])
def test_empty_or_not_a_mapping(tmp_path, text):
    assert_config_error(write(tmp_path, text), "<file>", "expected a mapping")


def test_nonexistent_path(tmp_path):
    path = tmp_path / "nowhere.yaml"
    assert_config_error(path, "<file>", "does not exist")


def test_not_utf8(tmp_path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert_config_error(path, "<file>", "cannot be read")


def test_unknown_preset_name():
    with pytest.raises(ConfigError) as info:
        mdev.load_preset("pcm_unobtainium")
    message = str(info.value)
    assert "pcm_unobtainium" in message
    assert STAT in message and PULSE in message  # lists the known presets


def test_errors_are_value_errors_with_fields(tmp_path):
    data = modified(STAT, "read_noise.t_read_s", -1.0)
    path = write(tmp_path, data)
    with pytest.raises(ValueError) as info:
        mdev.load_preset(path)
    assert info.value.source == str(path)
    assert info.value.key == "read_noise.t_read_s"


# --- packaging --------------------------------------------------------------------------------


def test_only_the_memxbar_namespace_is_importable(tmp_path):
    code = (
        "import importlib.util, sys\n"
        "assert importlib.util.find_spec('devices') is None, 'top-level devices importable'\n"
        "assert importlib.util.find_spec('hw_configs') is None, 'top-level hw_configs'\n"
        "import memxbar.devices as d\n"
        "m = d.load_preset('pcm_gst_pulse')\n"
        "print(type(m).__name__, d.__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["PulsePCM", "memxbar.devices"]
    failed = subprocess.run(
        [sys.executable, "-c", "import devices"], cwd=tmp_path, capture_output=True, text=True
    )
    assert failed.returncode != 0
    assert "ModuleNotFoundError" in failed.stderr


# --- the field types of parameter classes --------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Leaf:
    name: str = param("a name", nonempty=True)
    size: int = param("a size", ge=1, default=1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Big(_Leaf):
    extra: float = param("a number", gt=0.0)


_KINDS = {"leaf": _Leaf, "big": _Big}


@dataclasses.dataclass(frozen=True)
class _Holder:
    version: Literal[1] = param("version")
    pair: tuple[int, int] = param("two sizes", ge=1, repeat=True)
    sizes: tuple[int, ...] = param("sizes, maybe none", ge=0, nonempty=False)
    item: Annotated[_Leaf, OneOf("type", _KINDS)] = param("a tagged leaf")
    options: Pairs[Scalar] = param("free-form options", default=())
    leaf: _Leaf = section("a leaf or its name", default=_Leaf("none"), shorthand="name")


GOOD = {
    "version": 1,
    "pair": [2, 3],
    "sizes": [],
    "options": {"b": "x", "a": 1.5, "c": True, "d": 2},
    "item": {"type": "big", "name": "n", "extra": 2.0},
    "leaf": "named",
}


def test_field_types_build_and_dump_back():
    holder = build(_Holder, GOOD)
    assert holder.pair == (2, 3) and holder.sizes == ()
    assert holder.options == (("a", 1.5), ("b", "x"), ("c", True), ("d", 2))
    assert holder.item == _Big(name="n", extra=2.0) and holder.leaf == _Leaf("named")
    assert build(_Holder, GOOD | {"pair": 4}).pair == (4, 4)  # one value for both
    mapping = dump(holder)
    assert mapping["item"] == {"type": "big", "name": "n", "size": 1, "extra": 2.0}
    assert mapping["options"] == {"a": 1.5, "b": "x", "c": True, "d": 2}
    assert mapping["pair"] == [2, 3] and mapping["leaf"] == {"name": "named", "size": 1}
    assert build(_Holder, yaml.safe_load(yaml.safe_dump(mapping))) == holder
    assert build(_Holder, {k: v for k, v in GOOD.items() if k != "leaf"}).leaf == _Leaf("none")


@pytest.mark.parametrize(
    "change, key, fragment",
    [
        ({"version": True}, "version", "expected 1, got bool True"),
        ({"version": 2}, "version", "expected 1, got int 2"),
        ({"pair": [1, 2, 3]}, "pair", "expected a list of 2 values"),
        ({"pair": [1, 0]}, "pair[1]", "must be ≥ 1, got 0"),
        ({"sizes": 3}, "sizes", "expected a list, got int 3"),
        ({"options": [1]}, "options", "expected a mapping"),
        ({"options": {"a": [1]}}, "options.a", "expected an integer, a number, text or"),
        ({"options": {"a": float("nan")}}, "options.a", "expected a finite number"),
        ({"options": {3: 1}}, "options.3", "expected a text key"),
        ({"item": {"name": "n"}}, "item.type", "is missing (one of: leaf, big)"),
        ({"item": {"type": "tree"}}, "item.type", "expected one of leaf, big, got str 'tree'"),
        ({"item": {"type": "leaf", "name": "n", "extra": 1.0}}, "item.extra", "not a known key"),
        ({"item": {"type": "big", "name": ""}}, "item.name", "expected non-empty text"),
        ({"item": ["big"]}, "item", "expected a mapping, got list"),
        ({"leaf": 3}, "leaf.name", "expected non-empty text, got int 3"),
        ({"leaf": {"size": 2}}, "leaf.name", "is missing"),
    ],
)
def test_field_type_errors_name_the_key(change, key, fragment):
    with pytest.raises(ConfigError) as info:
        build(_Holder, GOOD | change, source="f.yaml")
    assert (info.value.source, info.value.key) == ("f.yaml", key), str(info.value)
    assert fragment in info.value.message


def test_a_tagged_union_builds_at_the_top_level_too():
    tagged = Annotated[_Leaf, OneOf("type", _KINDS)]
    assert build(tagged, {"type": "leaf", "name": "x"}) == _Leaf("x")
    with pytest.raises(ConfigError, match=r"key 'type': is missing \(one of: leaf, big\)"):
        build(tagged, {"name": "x"})


# --- the one engineering-prefix formatter --------------------------------------------------------


@pytest.mark.parametrize(
    "value, unit, text",
    [
        (2.56e-12, "J", "2.56 pJ"),
        (2e-12, "J", "2 pJ"),
        (2.5e-5, "S", "25 µS"),
        (250e-9, "s", "250 ns"),
        (1500.0, "J", "1.5 kJ"),
        (3e-16, "J", "0.3 fJ"),
        (-4.2e-3, "J", "-4.2 mJ"),
        (0.0, "J", "0 J"),
        (math.inf, "J", "inf J"),
        (12.345678, "V", "12.35 V"),
    ],
)
def test_format_si(value, unit, text):
    assert format_si(value, unit) == text
    if unit == "J":
        assert format_joules(value) == text


def test_adc_energy_follows_its_resolution_by_the_walden_figure_of_merit(tmp_path):
    """pcm_256 states its ADC by a Walden FoM (10 fJ per conversion step): a conversion costs
    FoM · 2^bits, so overriding the bits rescales the energy; a fixed energy_pJ does not."""
    from memxbar.crossbar import load_chip

    fom = load_chip("pcm_256").periphery.adc.walden_fom_J
    assert fom == approx(10e-15, rel=1e-12)
    for bits in (4, 6, 8):
        adc = load_chip("pcm_256", {"periphery.adc.bits": bits}).periphery.adc
        assert adc.conversion_energy_J == approx(fom * 2**bits, rel=1e-12)
    assert load_chip("pcm_256").periphery.adc.conversion_energy_J == approx(2.56e-12, rel=1e-12)
    text = (resources.files("memxbar.hw_configs") / "chips" / "pcm_256.yaml").read_text()
    fixed = text.replace("walden_fom_fJ: 10.0", "energy_pJ: 3.0")
    (tmp_path / "fixed.yaml").write_text(fixed)
    for bits in (4, 8):
        adc = load_chip(tmp_path / "fixed.yaml", {"periphery.adc.bits": bits}).periphery.adc
        assert adc.conversion_energy_J == approx(3e-12, rel=1e-12)
    both = text.replace("walden_fom_fJ: 10.0", "walden_fom_fJ: 10.0\n    energy_pJ: 3.0")
    (tmp_path / "both.yaml").write_text(both)
    with pytest.raises(ConfigError, match=r"both.yaml.*periphery\.adc\.energy_pJ.*not both"):
        load_chip(tmp_path / "both.yaml")
    neither = text.replace("walden_fom_fJ: 10.0", "")
    (tmp_path / "neither.yaml").write_text(neither)
    with pytest.raises(ConfigError, match=r"periphery\.adc\.energy_J.*not neither"):
        load_chip(tmp_path / "neither.yaml")
