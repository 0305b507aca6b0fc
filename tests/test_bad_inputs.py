"""The catalogue of bad inputs: each is refused with exit code 2 and one line on stderr that
names the file, key or option and what was expected, and nothing is written.

Each case runs the real command line (``memxbar.cli.main``, in this interpreter:
``support.run_main``; tests/test_cli.py runs it in fresh interpreters) on small
files made here: tiny IDX/CSV folders, job files derived from the examples by editing keys
(or through ``hardware.chip_overrides`` / ``hardware.device_overrides``). Below the catalogue,
the loaders and classes behind it are tested directly at their boundaries (the largest value
accepted, the smallest refused), which is cheaper than a subprocess.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from support import (
    EXAMPLES,
    REPO,
    approx,
    assert_one_line_error,
    example_job,
    files_under,
    idx_bytes,
    run_cli,
    run_main,
)

from memxbar.algorithms import ConvSoftHebb, SoftHebbParams, algorithm_for
from memxbar.compiler import (
    Dense,
    Network,
    PlasticityRule,
    compile_network,
    load_program,
    save_program,
)
from memxbar.crossbar import load_chip
from memxbar.crossbar.chip import MAX_TILE_COUNT, MAX_TILE_SIDE
from memxbar.crossbar.converters import MAX_BITS
from memxbar.devices import load_preset
from memxbar.hw_configs import (
    MAX_ALIAS_EXPANSION,
    ConfigError,
    InvalidParameter,
    brief,
    build,
    read_yaml,
    written_key,
)
from memxbar.runtime.chip import tile_factory
from memxbar.runtime.data.datasets import check_network_input, load_dataset, load_digits_split
from memxbar.runtime.data.mnist import read_csv_images, read_images, read_labels
from memxbar.runtime.job import SEED_MAX, load_job

PULSE_PRESET = REPO / "hw_configs" / "devices" / "pcm_gst_pulse.yaml"
CHIP_PRESET = REPO / "hw_configs" / "chips" / "pcm_256.yaml"


# --- building bad files -----------------------------------------------------------------------


def job(tmp: Path, example: str = "softhebb_digits_pcm", changes: dict | None = None) -> str:
    """``examples/<example>.yaml`` with dotted keys replaced, written as ``tmp/job.yaml``."""
    return str(example_job(tmp / "job.yaml", example, changes))


#: A tiny MNIST job: 10 neurons, one epoch of a 20-image training set.
SMALL_MNIST = {
    "network.layers.0.out_features": 10,
    "training.epochs": 1,
    "training.batch_size": 4,
    "training.chunk_steps": 5,
    "training.refresh_every_steps": 5,
    "readout.epochs": 5,
}


def mnist_files(tmp: Path, **replace) -> Path:
    """A folder of tiny MNIST IDX files (20 training, 10 test images of 28×28).

    ``replace`` swaps a file's array by its name with '-' as '_' and no '-idx?-ubyte'
    (``t10k_labels=...``); None leaves the file out; ``csv=TEXT`` writes mnist_5k.csv
    in place of the training IDX files.
    """
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (20, 28, 28)),
        "train_labels": np.arange(20) % 10,
        "t10k_images": rng.integers(0, 256, (10, 28, 28)),
        "t10k_labels": np.arange(10) % 10,
    }
    csv = replace.pop("csv", None)
    arrays |= replace
    folder = tmp / "mnist"
    folder.mkdir()
    for name, array in arrays.items():
        split, kind = name.split("_")
        if array is None or (csv is not None and split == "train"):
            continue
        suffix = "idx3-ubyte" if kind == "images" else "idx1-ubyte"
        (folder / f"{split}-{kind}-{suffix}").write_bytes(idx_bytes(np.asarray(array)))
    if csv is not None:
        (folder / "mnist_5k.csv").write_text(csv)
    return folder


def with_label(n: int, index: int, value: int) -> np.ndarray:
    labels = np.arange(n) % 10
    labels[index] = value
    return labels


def csv_rows(n: int, *, short_line: int | None = None, label: tuple[int, int] | None = None):
    """``n`` CSV rows of 784 pixels and a label; one row short, or one label changed."""
    lines = []
    for i in range(n):
        pixels = [str((i * 7 + j) % 256) for j in range(700 if i + 1 == short_line else 784)]
        lines.append(",".join([*pixels, str(label[1] if label and label[0] == i + 1 else i % 10)]))
    return "\n".join(lines) + "\n"


def run_mnist(tmp: Path, folder: Path, changes: dict | None = None) -> list[str]:
    path = job(tmp, "softhebb_mnist_ideal", SMALL_MNIST | (changes or {}))
    return ["run", path, "-o", str(tmp / "out" / "r.h5"), "-q", "--data-dir", str(folder)]


def run(tmp: Path, path: str, *options: str) -> list[str]:
    return ["run", path, "-o", str(tmp / "out" / "r.h5"), "-q", *options]


def compile_(tmp: Path, changes: dict, example: str = "softhebb_digits_pcm") -> list[str]:
    return ["compile", job(tmp, example, changes), "-o", str(tmp / "out" / "program.yaml")]


def preset_with(tmp: Path, old: str, new: str, source: Path = PULSE_PRESET, name="dev.yaml"):
    text = source.read_text(encoding="utf-8")
    assert old in text
    path = tmp / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return str(path)


def chip_with(tmp: Path, old: str, new: str) -> str:
    return preset_with(tmp, old, new, source=CHIP_PRESET, name="chip.yaml")


def alias_bomb(levels: int = 9) -> str:
    """'Billion laughs': each level a list of nine aliases to the level below (9^levels)."""
    lines = ["lol: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\nname: *a{levels - 1}\n"


def bomb_job(tmp: Path) -> str:
    path = tmp / "job.yaml"
    path.write_text(alias_bomb(), encoding="utf-8")
    return str(path)


def recursive_job(tmp: Path) -> str:
    path = tmp / "job.yaml"
    path.write_text("name: &n [softhebb, *n]\n", encoding="utf-8")
    return str(path)


# --- the catalogue: case → (argv from the tmp folder, fragments the one error line holds) ---

LAYER0 = "network.layers.0"
BAD_INPUTS = {
    # bad data never produces a number
    "test label 200": (
        lambda t: run_mnist(t, mnist_files(t, t10k_labels=with_label(10, 3, 200))),
        ["t10k-labels-idx1-ubyte", "label 200 at index 3", "outside 0–9"],
    ),
    "training label 10": (
        lambda t: run_mnist(t, mnist_files(t, train_labels=with_label(20, 7, 10))),
        ["train-labels-idx1-ubyte", "label 10 at index 7", "outside 0–9"],
    ),
    "labels file as test images": (
        lambda t: run_mnist(t, mnist_files(t, t10k_images=np.arange(10) % 10)),
        ["t10k-images-idx3-ubyte", "expected images", "found 1", "a labels file?"],
    ),
    "images file as test labels": (
        lambda t: run_mnist(t, mnist_files(t, t10k_labels=np.zeros((10, 28, 28)))),
        ["t10k-labels-idx1-ubyte", "expected labels", "found 3", "an images file?"],
    ),
    "fewer labels than images": (
        lambda t: run_mnist(t, mnist_files(t, t10k_labels=np.arange(9))),
        ["t10k-labels-idx1-ubyte", "9 labels for the 10 images of t10k-images"],
    ),
    "14x14 test images": (
        lambda t: run_mnist(t, mnist_files(t, t10k_images=np.zeros((10, 14, 14)))),
        ["t10k-images-idx3-ubyte", "expected 28×28 images, found 14×14"],
    ),
    "csv row with missing values": (
        lambda t: run_mnist(t, mnist_files(t, csv=csv_rows(5, short_line=3))),
        ["mnist_5k.csv", "line 3 has 701 values, expected 785"],
    ),
    "csv label 12": (
        lambda t: run_mnist(t, mnist_files(t, csv=csv_rows(5, label=(2, 12)))),
        ["mnist_5k.csv", "line 2", "label 12 is outside 0–9"],
    ),
    "in_features 784 on 8x8 digits": (
        lambda t: run(t, job(t, "softhebb_digits_ideal", {f"{LAYER0}.in_features": 784})),
        ["job.yaml", "'network.layers[0].in_features'", "is 784", "64 features per sample"],
    ),
    "in_features 64 on mnist": (
        lambda t: run_mnist(t, mnist_files(t), {f"{LAYER0}.in_features": 64}),
        ["job.yaml", "'network.layers[0].in_features'", "is 64", "784 features", "mnist"],
    ),
    "28x28 convolution on 8x8 digits": (
        lambda t: run(t, job(t, "softhebb_cnn_mnist", {"data.dataset": "digits"})),
        ["job.yaml", "'network.layers[0].input_size'", "is (28, 28)", "8×8 images"],
    ),
    "--seed -1": (
        lambda t: run(t, job(t), "--seed", "-1"),
        ["--seed", f"expected an integer 0 … {2**32 - 1}", "'-1'"],
    ),
    "--seed 1e20": (lambda t: run(t, job(t), "--seed", "1e20"), ["--seed", "'1e20'"]),
    "--seed 2**32": (lambda t: run(t, job(t), "--seed", str(2**32)), ["--seed", str(2**32)]),
    "--epochs 0": (lambda t: run(t, job(t), "--epochs", "0"), ["--epochs", "≥ 1", "'0'"]),
    "--epochs -2": (lambda t: run(t, job(t), "--epochs", "-2"), ["--epochs", "'-2'"]),
    "job seed -1": (lambda t: run(t, job(t, changes={"seed": -1})), ["job.yaml", "'seed'", "≥ 0"]),
    "job seed 1e20": (
        lambda t: run(t, job(t, changes={"seed": 1e20})),
        ["job.yaml", "'seed'", f"must be ≤ {2**32 - 1}"],
    ),
    "devices plot --devices 0": (
        lambda t: ["devices", "plot", "pcm_gst_pulse", "-o", str(t / "out"), "--devices", "0"],
        ["--devices", "expected an integer ≥ 1", "'0'"],
    ),
    "devices plot --seed -1": (
        lambda t: ["devices", "plot", "pcm_gst_pulse", "-o", str(t / "out"), "--seed", "-1"],
        ["--seed", "'-1'"],
    ),
    # impossible hardware is refused at load time, in presets and overrides alike
    "g_reset above g_max (device override)": (
        lambda t: compile_(t, {"hardware.device_overrides": {"reset_response.g_reset_uS": 30.0}}),
        [
            "job.yaml",
            "'hardware.device_overrides.reset_response.g_reset_uS'",
            "must be below conductance.g_max_S (25 µS), got 30 µS",
        ],
    ),
    "g_reset above g_max (device preset)": (
        lambda t: ["devices", "show", preset_with(t, "g_reset_uS: 0.1 ", "g_reset_uS: 40.0 ")],
        ["dev.yaml", "'reset_response.g_reset_uS'", "must be below", "got 40 µS"],
    ),
    "g_weight_max above g_max (chip override)": (
        lambda t: compile_(t, {"hardware.chip_overrides": {"update.g_weight_max_uS": 30.0}}),
        [
            "job.yaml",
            "'hardware.chip_overrides.update.g_weight_max_uS'",
            "nominal g_max of the device preset 'pcm_gst_pulse'",
            "25 µS",
        ],
    ),
    "g_weight_max above a lowered g_max (device override)": (
        lambda t: compile_(t, {"hardware.device_overrides": {"conductance.g_max_uS": 5.0}}),
        ["job.yaml", "pcm_256.yaml", "'update.g_weight_max_uS'", "5 µS), got 8 µS"],
    ),
    "g_weight_max above g_max (chip preset)": (
        lambda t: compile_(
            t, {"hardware.chip": chip_with(t, "g_weight_max_uS: 8.0", "g_weight_max_uS: 26.0")}
        ),
        ["job.yaml", "chip.yaml", "'update.g_weight_max_uS'", "got 26 µS"],
    ),
    "1e8 x 1e8 tiles": (
        lambda t: compile_(
            t, {"hardware.chip_overrides": {"tile.rows": 10**8, "tile.cols": 10**8}}
        ),
        ["'hardware.chip_overrides.tile.rows'", f"must be ≤ {MAX_TILE_SIDE}", "got 100000000"],
    ),
    "1e9 x 1e9 tiles": (
        lambda t: compile_(t, {"hardware.chip_overrides": {"tile.rows": 1e9, "tile.cols": 1e9}}),
        ["'hardware.chip_overrides.tile.rows'", f"must be ≤ {MAX_TILE_SIDE}"],
    ),
    "1e9 tiles on the chip": (
        lambda t: compile_(t, {"hardware.chip_overrides": {"tile.count": 10**9}}),
        ["'hardware.chip_overrides.tile.count'", f"must be ≤ {MAX_TILE_COUNT}"],
    ),
    "more ADCs than columns": (
        lambda t: compile_(t, {"hardware.chip_overrides": {"periphery.adc.per_tile": 257}}),
        ["'hardware.chip_overrides.periphery.adc.per_tile'", "tile.cols = 256", "got 257"],
    ),
    "refresh_threshold 1.5": (
        lambda t: compile_(t, {"hardware.chip_overrides": {"update.refresh_threshold": 1.5}}),
        ["'hardware.chip_overrides.update.refresh_threshold'", "must be ≤ 1, got 1.5"],
    ),
    "ADC bits 64": (
        lambda t: compile_(t, {"hardware.chip_overrides": {"periphery.adc.bits": 64}}),
        ["'hardware.chip_overrides.periphery.adc.bits'", f"must be ≤ {MAX_BITS}, got 64"],
    ),
    "DAC bits 64 (chip preset)": (
        lambda t: compile_(
            t,
            {
                "hardware.chip": chip_with(
                    t, "bits: 8               # 8-bit in", "bits: 64              # 8-bit in"
                )
            },
        ),
        ["chip.yaml", "'periphery.dac.bits'", f"must be ≤ {MAX_BITS}"],
    ),
    "unit suffix set_pulse_pV": (
        lambda t: ["devices", "show", preset_with(t, "set_pulse_pJ:", "set_pulse_pV:")],
        [
            "dev.yaml",
            "'energy.set_pulse_pV'",
            "not a known key",
            "did you mean 'energy.set_pulse_pJ'",
        ],
    ),
    "eta0 NaN": (
        lambda t: compile_(t, {f"{LAYER0}.rule.params.eta0": math.nan}),
        ["job.yaml", "'network.layers[0].rule.params.eta0'", "got nan"],
    ),
    "eta0 -1": (
        lambda t: compile_(t, {f"{LAYER0}.rule.params.eta0": -1.0}),
        ["job.yaml", "'network.layers[0].rule.params.eta0'", "> 0", "got -1"],
    ),
    "unknown rule": (
        lambda t: compile_(t, {f"{LAYER0}.rule.name": "hebbo"}),
        ["job.yaml", "'network.layers[0].rule.name'", "'hebbo'", "softhebb"],
    ),
    "conv rule eta0 -1 in the second layer": (
        lambda t: compile_(t, {"network.layers.1.rule.params.eta0": -1.0}, "softhebb_cnn_mnist"),
        ["job.yaml", "'network.layers[1].rule.params.eta0'", "layer 'conv2'"],
    ),
    "yaml alias bomb": (
        lambda t: ["compile", bomb_job(t)],
        ["job.yaml", "aliases", f"beyond {MAX_ALIAS_EXPANSION} values"],
    ),
    "recursive yaml alias": (
        lambda t: ["compile", recursive_job(t)],
        ["job.yaml", "alias *n refers to a value that contains it"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_exit_2_one_line_nothing_written(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    (tmp_path / "out").mkdir()
    make_args, fragments = BAD_INPUTS[case]
    args = make_args(tmp_path)
    before = files_under(tmp_path)
    result = run_main(capsys, *[str(a) for a in args])
    assert result.stdout == ""
    assert_one_line_error(result.returncode, result.stderr, *fragments)
    assert len(result.stderr) < 400, result.stderr  # bounded: never a whole value
    assert files_under(tmp_path) == before  # no run file, checkpoint, PNG or program


def test_a_unit_typo_is_not_reported_as_a_missing_key(tmp_path):
    result = run_cli("devices", "show", preset_with(tmp_path, "set_pulse_pJ:", "set_pulse_pV:"))
    assert "missing" not in result.stderr and "set_pulse_J'" not in result.stderr


# --- the tiny data the catalogue uses is valid: only the change it makes is caught -----------


def test_tiny_mnist_folder_loads_and_fits_the_small_job(tmp_path):
    folder = mnist_files(tmp_path)
    loaded = load_job(job(tmp_path, "softhebb_mnist_ideal", SMALL_MNIST))
    data = load_dataset(loaded.data, data_dir=str(folder))
    assert (data.x_train.shape, data.x_test.shape) == ((20, 784), (10, 784))
    assert data.source == str(folder)
    check_network_input(loaded.network, data, source=loaded.source)


def test_tiny_csv_loads(tmp_path):
    images, labels = read_csv_images(_csv(tmp_path, 5))
    assert images.shape == (5, 784) and labels.tolist() == [0, 1, 2, 3, 4]


def _csv(tmp: Path, n: int, **kwargs) -> Path:
    path = tmp / "rows.csv"
    path.write_text(csv_rows(n, **kwargs))
    return path


# --- data loaders ----------------------------------------------------------------------------


def write_idx(tmp: Path, array, name="file") -> Path:
    path = tmp / name
    path.write_bytes(idx_bytes(np.asarray(array)))
    return path


def test_labels_at_the_class_boundaries(tmp_path):
    assert read_labels(write_idx(tmp_path, [0, 9, 5])).tolist() == [0, 9, 5]
    with pytest.raises(ValueError, match=r"file: label 10 at index 2 is outside 0–9 \(2 of 4"):
        read_labels(write_idx(tmp_path, [0, 9, 10, 255]))


def test_idx_dimensions_and_image_size(tmp_path):
    assert read_images(write_idx(tmp_path, np.zeros((2, 28, 28)))).shape == (2, 28, 28)
    with pytest.raises(ValueError, match=r"expected 28×28 images, found 28×27"):
        read_images(write_idx(tmp_path, np.zeros((2, 28, 27))))
    with pytest.raises(ValueError, match=r"found 2 of shape \(2, 784\)$"):
        read_images(write_idx(tmp_path, np.zeros((2, 784))))
    with pytest.raises(ValueError, match=r"expected labels.*found 2 of shape \(3, 1\)$"):
        read_labels(write_idx(tmp_path, np.zeros((3, 1))))


def test_csv_rows_name_their_line(tmp_path):
    with pytest.raises(ValueError, match=r"rows.csv: line 4 has 701 values, expected 785"):
        read_csv_images(_csv(tmp_path, 6, short_line=4))
    # blank lines count: the number is the line an editor shows
    path = tmp_path / "gaps.csv"
    path.write_text("\n" + csv_rows(2) + "\n" + ",".join(["1"] * 784) + ",-1\n")
    with pytest.raises(ValueError, match=r"gaps.csv: line 5: label -1 is outside 0–9"):
        read_csv_images(path)
    path.write_text(",".join(["0"] * 783 + ["256", "3"]) + "\n")
    with pytest.raises(ValueError, match=r"line 1: pixel value 256 is outside 0–255"):
        read_csv_images(path)
    path.write_text("\n\n")
    with pytest.raises(ValueError, match=r"gaps.csv: no rows"):
        read_csv_images(path)


def _layer(**changes) -> Network:
    layer = Dense(
        name="d", in_features=64, out_features=4, rule=PlasticityRule.create("softhebb", {})
    )
    return Network("n", (dataclasses.replace(layer, **changes),))


def test_network_input_is_checked_against_the_data():
    digits = load_digits_split(0.2, seed=0)
    check_network_input(_layer(), digits, source="j.yaml")  # 64 = 8×8×1
    with pytest.raises(ConfigError) as info:
        check_network_input(_layer(in_features=65), digits, source="j.yaml")
    assert info.value.source == "j.yaml"
    assert info.value.key == "network.layers[0].in_features"
    assert "is 65, but the digits data (scikit-learn's load_digits) have 64" in str(info.value)


def test_convolution_input_shape_is_checked_against_the_data():
    cnn = load_job(EXAMPLES / "softhebb_cnn_mnist.yaml").network
    digits = load_digits_split(0.2, seed=0)
    with pytest.raises(ConfigError, match=r"input_size'.*is \(28, 28\).*8×8 images of 1"):
        check_network_input(cnn, digits, source="j.yaml")
    as_mnist = dataclasses.replace(
        digits, x_train=np.zeros((2, 784)), x_test=np.zeros((2, 784)), image_shape=(28, 28, 1)
    )
    check_network_input(cnn, as_mnist, source="j.yaml")
    as_rgb = dataclasses.replace(as_mnist, image_shape=(28, 28, 3))
    with pytest.raises(ConfigError, match=r"in_channels'.*is 1.*of 3 channel"):
        check_network_input(cnn, as_rgb, source="j.yaml")


# --- seeds -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed, ok", [(0, True), (SEED_MAX, True), (SEED_MAX + 1, False)])
def test_job_seed_bounds(tmp_path, seed, ok):
    path = job(tmp_path, "softhebb_digits_ideal", {"seed": seed})
    if ok:
        assert load_job(path).seed == seed
    else:
        with pytest.raises(ConfigError, match=rf"'seed': must be ≤ {SEED_MAX}, got {seed}"):
            load_job(path)


def test_the_largest_seed_is_one_every_consumer_takes():
    # The bound is scikit-learn's (the digits split); jax and numpy take it too.
    import jax

    assert SEED_MAX == 2**32 - 1
    data = load_digits_split(0.2, seed=SEED_MAX)
    assert data.x_train.shape == (1437, 64)
    jax.random.key(SEED_MAX)


# --- hardware presets and the strict loader ---------------------------------------------------


def test_g_reset_just_below_g_max_is_allowed():
    model = load_preset("pcm_gst_pulse", {"reset_response.g_reset_uS": 24.9})
    assert model.reset_response.g_reset_S == approx(24.9e-6)
    with pytest.raises(ConfigError, match=r"'reset_response.g_reset_uS': must be below"):
        load_preset("pcm_gst_pulse", {"reset_response.g_reset_uS": 25.0})


@pytest.mark.parametrize(
    "dotted, largest",
    [
        ("tile.rows", MAX_TILE_SIDE),
        ("tile.cols", MAX_TILE_SIDE),
        ("tile.count", MAX_TILE_COUNT),
        ("periphery.adc.bits", MAX_BITS),
        ("periphery.dac.bits", MAX_BITS),
        ("update.refresh_threshold", 1.0),
    ],
)
def test_chip_upper_bounds(dotted, largest):
    chip = load_chip("pcm_256", {dotted: largest})
    section, _, name = dotted.rpartition(".")
    node = chip
    for part in section.split("."):
        node = getattr(node, part)
    assert getattr(node, name) == largest
    step, shown = (1, str(largest)) if isinstance(largest, int) else (1e-9, f"{largest:g}")
    with pytest.raises(ConfigError, match=rf"'{dotted}': must be ≤ {shown}"):
        load_chip("pcm_256", {dotted: largest + step})


def test_adcs_per_tile_at_most_one_per_column():
    assert load_chip("pcm_256", {"periphery.adc.per_tile": 256}).periphery.adc.per_tile == 256
    with pytest.raises(ConfigError, match=r"'periphery.adc.per_tile': must not exceed"):
        load_chip("pcm_256", {"tile.cols": 16})  # the preset's 32 ADCs on 16 columns


def test_g_weight_max_is_checked_wherever_chip_and_device_meet():
    chip = load_chip("pcm_256", {"update.g_weight_max_uS": 25.0})  # = the nominal g_max
    device = load_preset(chip.device_preset)
    net = Network("n", (Dense(name="d", in_features=4, out_features=4),))
    assert compile_network(net, chip, device=device).tiles_used == 1
    tile_factory(chip, "pcm", 1.0, device=device)
    too_high = load_chip("pcm_256", {"update.g_weight_max_uS": 25.5})
    for make in (
        lambda: compile_network(net, too_high, device=device),
        lambda: compile_network(net, too_high),  # the chip's own device preset
        lambda: tile_factory(too_high, "pcm", 1.0),
    ):
        with pytest.raises(InvalidParameter, match=r"'update.g_weight_max_S': must not exceed"):
            make()
    tile_factory(too_high, "ideal", 1.0)  # ideal tiles use no device


def test_a_program_file_is_checked_like_a_job(tmp_path):
    chip = load_chip("pcm_256")
    net = Network("n", (Dense(name="d", in_features=4, out_features=4),))
    path = save_program(compile_network(net, chip), tmp_path / "p.yaml")
    assert load_program(path).chip == chip
    data = yaml.safe_load(path.read_text())
    data["chip"]["update"]["g_weight_max_S"] = 3e-5
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"p.yaml: key 'chip.update.g_weight_max_S': must not"):
        load_program(path)


def test_unknown_keys_are_reported_before_missing_ones(tmp_path):
    text = PULSE_PRESET.read_text(encoding="utf-8").replace("g_max_uS:", "g_maxx_uS:")
    (tmp_path / "p.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_preset(tmp_path / "p.yaml")
    assert info.value.key == "conductance.g_maxx_uS"
    assert "did you mean 'conductance.g_max_uS'?" in info.value.message
    # Nothing close: no guess, just the known keys.
    text = PULSE_PRESET.read_text(encoding="utf-8").replace("g_max_uS:", "zzz:")
    (tmp_path / "p.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"'conductance.zzz': is not a known key here \(known"):
        load_preset(tmp_path / "p.yaml")


def test_written_key_follows_the_spelling_of_the_mapping():
    mapping = {"update": {"g_weight_max_uS": 8.0}, "tile": {"rows": 4}}
    assert written_key(mapping, "update.g_weight_max_S") == "update.g_weight_max_uS"
    assert written_key(mapping, "tile.rows") == "tile.rows"
    assert written_key(mapping, "groups[1].name") == "groups[1].name"
    assert written_key({}, "update.g_weight_max_S") == "update.g_weight_max_S"


# --- rule parameters -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, 0.0, True, "fast"])
def test_softhebb_parameters_must_be_positive_finite_numbers(value):
    with pytest.raises(ConfigError) as info:
        build(SoftHebbParams, {"eta0": value})
    assert info.value.key == "eta0"
    assert build(SoftHebbParams, {"eta0": 0.01, "power": 1}).power == 1.0


def test_rule_errors_carry_the_key_in_the_network():
    def net(rule, **params):
        layer = Dense(name="d", in_features=4, out_features=2)
        layer = dataclasses.replace(layer, rule=PlasticityRule.create(rule, params))
        return Network("n", (layer,))

    with pytest.raises(InvalidParameter) as info:
        algorithm_for(net("softhebb", eta0=math.nan))
    assert info.value.field == "layers[0].rule.params.eta0"
    with pytest.raises(InvalidParameter) as info:
        algorithm_for(net("softhebb", temperature=1.0))
    assert info.value.field == "layers[0].rule.params.temperature"
    with pytest.raises(InvalidParameter) as info:
        algorithm_for(net("oja"))
    assert info.value.field == "layers[0].rule.name"
    cnn = load_job(EXAMPLES / "softhebb_cnn_mnist.yaml").network
    first = cnn.layers[0]
    params = first.rule.as_dict() | {"pool": "median"}
    bad = dataclasses.replace(first, rule=PlasticityRule.create("softhebb_conv", params))
    with pytest.raises(InvalidParameter) as info:
        ConvSoftHebb.from_network(Network("c", (bad, *cnn.layers[1:])))
    assert info.value.field == "layers[0].rule.params.pool"


# --- YAML aliases and bounded messages --------------------------------------------------------


def test_alias_bomb_fails_fast_with_a_short_message(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(), encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        read_yaml(path)
    assert time.perf_counter() - start < 0.5
    assert len(str(info.value)) < 300
    assert f"beyond {MAX_ALIAS_EXPANSION} values" in str(info.value)


def test_aliases_within_the_limit_still_work(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(
        "base: &b {k: 1, j: 2}\n"
        "merged: {<<: *b, j: 3}\n"
        "copies: [*b, *b, *b]\n"
        "big: &big [" + ", ".join(["1"] * 999) + "]\n"
        "again: *big\n"
    )
    data = read_yaml(path)
    assert data["merged"] == {"k": 1, "j": 3} and data["copies"] == [{"k": 1, "j": 2}] * 3
    assert len(data["again"]) == 999
    # Two aliases of 1000 values each: 2000 expanded nodes, far below the limit; more than
    # the limit's worth is refused.
    n = MAX_ALIAS_EXPANSION // 1000 + 1
    path.write_text(
        "big: &big [" + ", ".join(["1"] * 999) + "]\n" + "x: [" + ", ".join(["*big"] * n) + "]\n"
    )
    with pytest.raises(ConfigError, match="aliases"):
        read_yaml(path)


def test_brief_cuts_huge_values_without_building_their_repr():
    nested = [[list(range(1000))] * 1000] * 1000  # a billion items by reference
    start = time.perf_counter()
    text = brief(nested)
    assert time.perf_counter() - start < 0.1
    assert len(text) <= 80
    assert len(brief("x" * 500)) <= 80
    two_long = brief(["y" * 70, "z" * 70])
    assert len(two_long) == 80 and two_long.endswith("…")
    assert brief(3.5) == "3.5" and brief("eta") == "'eta'"


def test_a_huge_value_of_the_wrong_type_gives_a_short_message(tmp_path):
    path = job(tmp_path, "softhebb_digits_ideal", {"name": list(range(100_000))})
    with pytest.raises(ConfigError) as info:
        load_job(path)
    assert info.value.key == "name" and len(str(info.value)) < 250
