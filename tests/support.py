"""Helpers shared by the tests: running the CLI and notebooks, checking PNG files."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: The shared MNIST subset (DESIGN.md 9): 5k training images (CSV) and the official 10k test set.
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"


def approx(expected, rel=None, abs=None, nan_ok=False):  # noqa: A002 (pytest's names)
    """``pytest.approx`` for SI quantities: relative (1e-6) unless a tolerance is named.

    Energies here are ~1e-12 J and conductances ~1e-6 S, so pytest's default absolute
    tolerance of 1e-12 would accept any two energies as equal. JAX arrays (which pytest's
    approx cannot iterate) are converted to NumPy, 0-d ones to Python floats.
    """
    import pytest

    if abs is None:
        rel, abs = (1e-6 if rel is None else rel), 0.0
    return pytest.approx(_plain(expected), rel=rel, abs=abs, nan_ok=nan_ok)


def _plain(value):
    """``value`` with every array-like turned into NumPy (0-d: a Python scalar)."""
    import numpy as np

    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if hasattr(value, "__array__") and not isinstance(value, np.ndarray):
        value = np.asarray(value)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    return value


def idx_bytes(array) -> bytes:
    """The IDX encoding of a uint8 array: magic 0 0 0x08 ndim, big-endian sizes, data."""
    import numpy as np

    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + np.asarray(array).astype(np.uint8).tobytes()


def assert_counted_energy(record) -> dict[str, float]:
    """Each energy category of a run (its final learning energy) is the operations its counters
    counted times the energy of one operation, from the program stored in the run file: SET and
    RESET pulses at the device preset's energies, conversions at the chip's; device reads at
    V²·G·t each, so between 0 and V²·2·g_max·t. Returns the final energies per category (J)."""
    from memxbar.compiler import program_from_yaml

    program = program_from_yaml(record.program_yaml)
    device, periphery = program.device.energy, program.chip.periphery
    read_max = periphery.read_voltage_V**2 * 2 * program.device.conductance.g_max_S
    read_max *= periphery.read_pulse_s
    f = record.final
    energy = {k: float(v[-1]) for k, v in record.energy.items()}
    assert energy["set"] == approx(f["set_pulses"] * device.set_pulse_J, rel=1e-5)
    assert energy["reset"] == approx(f["reset_pulses"] * device.reset_pulse_J, rel=1e-5)
    assert energy["dac"] == approx(f["dac_conversions"] * periphery.dac.energy_J, rel=1e-5)
    assert energy["adc"] == approx(f["adc_conversions"] * periphery.adc.energy_J, rel=1e-5)
    assert (energy["read"] > 0) == (f["device_reads"] > 0)
    assert energy["read"] <= f["device_reads"] * read_max
    fixed = (
        f["refresh_set_pulses"] * device.set_pulse_J
        + f["refresh_reset_pulses"] * device.reset_pulse_J
        + f["refresh_adc_conversions"] * periphery.adc.energy_J
    )
    refresh_reads = energy["refresh"] - fixed
    assert -1e-5 * energy["refresh"] <= refresh_reads <= f["refresh_device_reads"] * read_max
    assert (refresh_reads > 1e-5 * energy["refresh"]) == (f["refresh_device_reads"] > 0)
    return energy


def needs_mnist():
    """A pytest mark that skips, with the reason, when the shared MNIST folder is absent."""
    import pytest

    return pytest.mark.skipif(
        not (MNIST_DIR / "mnist_5k.csv.gz").is_file(),
        reason=f"needs the MNIST subset in {MNIST_DIR} (not shipped with the repository)",
    )


def traced(model):
    """``model`` with its numeric parameters as jax arrays (traced by jit, not baked in)."""
    import jax
    import jax.numpy as jnp

    return jax.tree_util.tree_map(
        lambda x: jnp.asarray(x) if isinstance(x, float | int) else x, model
    )


def vary(model, where, values):
    """``model`` with the parameters selected by ``where`` replaced (equinox.tree_at)."""
    import equinox as eqx

    return traced(eqx.tree_at(where, model, values))


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m memxbar.cli ARGS`` in a fresh interpreter, CPU-only so jax logs nothing."""
    return subprocess.run(
        [sys.executable, "-m", "memxbar.cli", *args],
        cwd=REPO,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_error(rc: int, err: str, *fragments: str) -> None:
    """The CLI's contract for bad input: exit 2, one 'memxbar: error:' line, no traceback."""
    assert rc == 2
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("memxbar: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def assert_png(path: Path, min_bytes: int = 10_000) -> tuple[int, int]:
    """A real PNG of a real figure: signature, IHDR chunk, a few hundred pixels, content.

    A blank canvas of this size compresses to ~2 kB; axes, text and curves give 25–80 kB.
    """
    data = Path(path).read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert data[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 300 and height >= 200, (path, width, height)
    assert len(data) > min_bytes, (path, len(data))
    return width, height


def run_notebook(path: Path, out_dir: Path, *, fast_compile: bool = True) -> str:
    """Run a py:percent notebook at its small size with warnings as errors; return stdout.

    ``fast_compile`` skips XLA's backend optimisations: the small runs are compile-bound.
    """
    env = dict(
        os.environ,
        MEMXBAR_NOTEBOOK_SMALL="1",
        MEMXBAR_NOTEBOOK_OUT=str(out_dir),
        JAX_PLATFORMS="cpu",
    )
    if fast_compile:
        env["XLA_FLAGS"] = "--xla_backend_optimization_level=0"
    result = subprocess.run(
        [sys.executable, "-W", "error", str(path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout
