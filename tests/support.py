"""Helpers shared by the tests: tolerances, files, run files, the CLI and notebooks, device
calls, and the published PCM equations written out independently of the package.

JAX, NumPy and the package are imported inside the helpers, so importing this module is cheap.
"""

from __future__ import annotations

import functools
import os
import struct
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[1]
EXAMPLES = REPO / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: The shared MNIST subset (DESIGN.md 9): 5k training images (CSV) and the official 10k test set.
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"
#: SI prefixes of the energies the summaries print.
PREFIXES = {"": 1.0, "m": 1e-3, "µ": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}


# --- tolerances ------------------------------------------------------------------------------


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


def joules(text: str) -> float:
    """An energy as the summaries print it ('2.56 pJ', '0 J') in joules."""
    import re

    value, prefix = re.fullmatch(r"([\d.e+-]+) ([mµnpf]?)J", text.strip()).groups()
    return float(value) * PREFIXES[prefix]


# --- files -----------------------------------------------------------------------------------


def write_yaml(path: Path, mapping) -> Path:
    """``mapping`` written to ``path`` as YAML, keys in their order; returns the path."""
    import yaml

    path.write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    return path


def example(name: str) -> dict:
    """The mapping of ``examples/<name>`` (the '.yaml' suffix may be left out)."""
    import yaml

    name = name if name.endswith(".yaml") else f"{name}.yaml"
    return yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))


#: The digits SoftHebb job cut to a tiny run: 192 training samples, batch 32, 2 epochs = 12
#: steps in chunks of 4, a refresh every 4 steps, 100 test samples.
TINY = {
    "data": {"train_limit": 192, "test_limit": 100},
    "training": {"epochs": 2, "chunk_steps": 4, "refresh_every_steps": 4, "snapshots": 2},
    "readout": {"epochs": 100},
}


def job_mapping(tiles: str, **training) -> dict:
    """The example job for ``tiles`` with the tiny settings (and ``training`` overrides)."""
    job = example(f"softhebb_digits_{tiles}")
    for section, values in TINY.items():
        job[section].update(values)
    job["training"].update(training)
    return job


def example_job(path: Path, name: str, changes: dict | None = None) -> Path:
    """``examples/<name>`` with the dotted keys of ``changes`` set (see :func:`set_dotted`),
    written to ``path``; returns the path."""
    mapping = example(name)
    for dotted, value in (changes or {}).items():
        set_dotted(mapping, dotted, value)
    return write_yaml(path, mapping)


def _parent(mapping, dotted: str):
    """(the container holding the last part of ``a.b.0.c``, that part as key or index)."""
    *parents, last = dotted.split(".")
    node = mapping
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    return node, int(last) if isinstance(node, list) else last


def set_dotted(mapping, dotted: str, value) -> None:
    """Set ``a.b.0.c`` in nested mappings and lists (a number indexes a list); missing
    mappings on the way are created."""
    node, last = _parent(mapping, dotted)
    node[last] = value


def drop_dotted(mapping, dotted: str) -> None:
    """Delete ``a.b.0.c`` from nested mappings and lists."""
    node, last = _parent(mapping, dotted)
    del node[last]


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (none if it does not exist): relative path → contents."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def idx_bytes(array) -> bytes:
    """The IDX encoding of a uint8 array: magic 0 0 0x08 ndim, big-endian sizes, data."""
    import numpy as np

    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + np.asarray(array).astype(np.uint8).tobytes()


def needs_mnist():
    """A pytest mark that skips, with the reason, when the shared MNIST folder is absent."""
    import pytest

    return pytest.mark.skipif(
        not (MNIST_DIR / "mnist_5k.csv.gz").is_file(),
        reason=f"needs the MNIST subset in {MNIST_DIR} (not shipped with the repository)",
    )


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


# --- run files -------------------------------------------------------------------------------


def h5_contents(path: Path) -> dict[str, tuple[object, dict]]:
    """Every group and dataset of an HDF5 file: name → (value or None, attributes)."""
    import h5py

    items = {}
    with h5py.File(path, "r") as f:
        items["/"] = (None, dict(f.attrs))

        def visit(name, obj):
            value = obj[()] if isinstance(obj, h5py.Dataset) else None
            items[name] = (value, dict(obj.attrs))

        f.visititems(visit)
    return items


def _same(a, b) -> bool:
    """Bit identity of numbers (NaN and -0 included), equality of text."""
    import numpy as np

    if isinstance(a, bytes | str) or isinstance(b, bytes | str):
        return a == b
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "O" or b.dtype.kind == "O":  # arrays of text
        return a.shape == b.shape and a.tolist() == b.tolist()
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_identical_files(a: Path, b: Path) -> None:
    """Every group, dataset and attribute of two HDF5 files is bit-identical."""
    ca, cb = h5_contents(a), h5_contents(b)
    assert ca.keys() == cb.keys()
    for name in ca:
        (va, attrs_a), (vb, attrs_b) = ca[name], cb[name]
        assert (va is None) == (vb is None), name
        assert va is None or _same(va, vb), name
        assert attrs_a.keys() == attrs_b.keys(), name
        for attr in attrs_a:
            assert _same(attrs_a[attr], attrs_b[attr]), (name, attr)


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
    assert energy["adc"] == approx(
        f["adc_conversions"] * periphery.adc.conversion_energy_J, rel=1e-5
    )
    assert (energy["read"] > 0) == (f["device_reads"] > 0)
    assert energy["read"] <= f["device_reads"] * read_max
    fixed = (
        f["refresh_set_pulses"] * device.set_pulse_J
        + f["refresh_reset_pulses"] * device.reset_pulse_J
        + f["refresh_adc_conversions"] * periphery.adc.conversion_energy_J
    )
    refresh_reads = energy["refresh"] - fixed
    assert -1e-5 * energy["refresh"] <= refresh_reads <= f["refresh_device_reads"] * read_max
    assert (refresh_reads > 1e-5 * energy["refresh"]) == (f["refresh_device_reads"] > 0)
    return energy


# --- the command line and the notebooks ------------------------------------------------------


def run_cli(
    *args: str,
    module: str = "memxbar.cli",
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """``python -m MODULE ARGS`` in a fresh interpreter, CPU-only so jax logs nothing;
    ``env`` adds to the environment."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=dict(os.environ, JAX_PLATFORMS="cpu", **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def benchmark_output(script: str, *args: str, timeout: float = 600) -> str:
    """What ``python benchmarks/SCRIPT ARGS`` prints, run from the repository in a fresh
    interpreter (CPU-only); a failing run raises ``CalledProcessError``."""
    return subprocess.run(
        [sys.executable, f"benchmarks/{script}", *args],
        cwd=REPO,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    ).stdout


def run_main(capsys, *args: str) -> subprocess.CompletedProcess:
    """``memxbar ARGS`` in this interpreter (``memxbar.cli.main``), its output captured: the
    same contract as :func:`run_cli` without starting Python and importing JAX again (~1 s);
    tests/test_cli.py checks the fresh-interpreter path itself."""
    from memxbar.cli import main

    capsys.readouterr()  # drop what the test printed before
    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["memxbar", *args], code, out, err)


def assert_one_line_error(rc: int, err: str, *fragments: str) -> None:
    """The CLI's contract for bad input: exit 2, one 'memxbar: error:' line, no traceback."""
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("memxbar: error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


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


# --- jit, device models and their jitted calls ------------------------------------------------

#: XLA without its backend optimisations: small test problems are compile-bound, and compile
#: ~3x faster this way with the same results to float rounding.
FAST_COMPILE = {"xla_backend_optimization_level": 0}


def fast_jit(fn, **kwargs):
    """``jax.jit(fn, **kwargs)`` compiled with :data:`FAST_COMPILE`."""
    import jax

    return jax.jit(fn, compiler_options=FAST_COMPILE, **kwargs)


def fast_filter_jit(fn):
    """``fn`` jitted without XLA's backend optimisations (for compile-bound tests).

    Array leaves of the arguments are traced; the other leaves of the arguments and of the
    result are those of the first call (later calls must share them).
    """
    import equinox as eqx
    import jax

    parts = {}

    def traced(arrays):
        out = fn(*eqx.combine(arrays, parts["static"]))
        out_arrays, parts["out"] = eqx.partition(out, eqx.is_array)
        return out_arrays

    compiled = jax.jit(traced, compiler_options=FAST_COMPILE)

    def call(*args):
        arrays, static = eqx.partition(args, eqx.is_array)
        parts.setdefault("static", static)
        return eqx.combine(compiled(arrays), parts["out"])

    return call


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


def quiet(model, *, programming: float = 0.0):
    """``model`` without read noise, drift, device-to-device variation and stuck devices;
    ``programming`` scales its programming noise (0: ideal program-and-verify)."""
    import equinox as eqx

    return eqx.tree_at(
        lambda m: (
            m.programming_noise.scale,
            m.read_noise.scale,
            m.drift.scale,
            m.variability.step_relative,
            m.variability.g_max_relative,
            m.faults.p_stuck_set,
            m.faults.p_stuck_reset,
        ),
        model,
        (programming, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    )


def _filter_jit(fn):
    """``equinox.filter_jit(fn)``, made at the first call (this module imports no JAX)."""

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if call.compiled is None:
            import equinox as eqx

            call.compiled = eqx.filter_jit(fn)
        return call.compiled(*args, **kwargs)

    call.compiled = None
    return call


# One compiled function per device operation, shared by the device tests: arrays are traced,
# everything else (Python numbers included) is static.
@_filter_jit
def device_init(model, shape, key):
    return model.init(shape, key=key)


@_filter_jit
def device_program(model, state, g_S, t_s, key, mask=None):
    return model.program(state, g_S, t_s, key=key, mask=mask)


@_filter_jit
def device_pulses(model, state, n, t_s, key):
    return model.set_pulses(state, n, t_s, key=key)


@_filter_jit
def device_reset(model, state, mask, t_s, key):
    return model.reset(state, mask, t_s, key=key)


@_filter_jit
def device_read(model, state, t_s, key):
    return model.read(state, t_s, key=key)


@_filter_jit
def device_drifted(model, state, t_s):
    return model.drifted(state, t_s)


# --- DESIGN.md 4.1 (Nandakumar et al., ICECS 2019), written out independently of devices/ ----

G_FIT_S = 25e-6  # the g_max of the fit: g = g_T / 25 µS
T0_S = 20.0  # drift reference time
T_READ_S = 250e-9  # 1/f noise read time


def sigma_prog_S(g_target_S):
    """Programming-noise std (S) at targets (S): (0.26348 + 1.9650 g − 1.1731 g²) µS."""
    import numpy as np

    g = np.asarray(g_target_S, np.float64) / G_FIT_S
    return (0.26348 + 1.9650 * g - 1.1731 * g * g) * 1e-6


def drift_mu_sigma(g_S):
    """(μ_ν, σ_ν) of the drift exponent ν = |μ_ν + σ_ν ξ| of devices at ``g_S`` (S)."""
    import numpy as np

    g = np.maximum(np.asarray(g_S, np.float64) / G_FIT_S, 1e-7)
    mu = np.clip(-0.0155 * np.log(g) + 0.0244, 0.049, 0.1)
    sigma = np.clip(-0.0125 * np.log(g) - 0.0059, 0.008, 0.045)
    return mu, sigma


def mean_drift_factor(g_S, t_s):
    """E[((t + t0)/t0)^(−ν)] of devices at ``g_S`` (S), ``t_s`` (s) after the write.

    With L = ln((t + t0)/t0) and ν = |X|, X ~ N(μ, σ²): E[e^(−L|X|)] = e^(−Lμ + L²σ²/2)
    Φ(μ/σ − Lσ) + e^(Lμ + L²σ²/2) Φ(−μ/σ − Lσ) (complete the square on x > 0 and x < 0).
    """
    import numpy as np
    from scipy.stats import norm

    mu, sigma = drift_mu_sigma(g_S)
    L = np.log((np.asarray(t_s, np.float64) + T0_S) / T0_S)
    a, half = mu / sigma, 0.5 * (L * sigma) ** 2
    return np.exp(-L * mu + half) * norm.cdf(a - L * sigma) + np.exp(L * mu + half) * norm.cdf(
        -a - L * sigma
    )


def read_relative_sigma(g_prog_S, t_since_write_s):
    """Std of a read relative to |g_drift|: Q_s(g_prog) · sqrt(ln((t + t0 + t_read)/(2 t_read)))
    with Q_s = min(0.0088 / max(g^0.65, 1e-3), 0.2) (t counted from the write, plus t0)."""
    import numpy as np

    g = np.abs(np.asarray(g_prog_S, np.float64)) / G_FIT_S
    q = np.minimum(0.0088 / np.maximum(g**0.65, 1e-3), 0.2)
    t = np.asarray(t_since_write_s, np.float64)
    return q * np.sqrt(np.log((t + T0_S + T_READ_S) / (2 * T_READ_S)))


def clipped_normal_moments(mu, sigma):
    """(mean, variance) of max(X, 0), X ~ N(mu, sigma²), elementwise (sigma > 0): what a
    write clipped at 0 S gives."""
    import numpy as np
    from scipy.stats import norm

    mu, sigma = np.asarray(mu, np.float64), np.asarray(sigma, np.float64)
    a = mu / sigma
    mean = mu * norm.cdf(a) + sigma * norm.pdf(a)
    second = (mu * mu + sigma * sigma) * norm.cdf(a) + mu * sigma * norm.pdf(a)
    return mean, second - mean * mean


#: XLA compiles a program vmapped over B points with shape-dependent fusions: a float32 sum
#: (the energy ledger's read energy, the per-step metric means over a batch) may then be
#: reduced in another order than for one point, moving it by an ulp (2**-24 relative) now and
#: then; a run's ledger accumulates a few hundred such sums, so 1e-6 (~17 ulp) bounds their
#: drift with room. Everything the physics decides (pulses, conductances, weights, counters,
#: accuracies) is compared bit for bit.
ROUNDING_RTOL = 1e-6


def assert_same_run(a, b) -> None:
    """Two run records are the same run: weights, conductances, counters and accuracies equal;
    energies and training metrics equal to float32 summation order (ROUNDING_RTOL)."""
    import numpy as np

    assert a.job_yaml == b.job_yaml
    for name in a.weights:
        np.testing.assert_array_equal(a.weights[name], b.weights[name])
    for name in a.conductances:
        np.testing.assert_array_equal(a.conductances[name], b.conductances[name])
    sums = set(a.metrics) | {k for k in a.final if k.endswith("_J")}
    assert {k: v for k, v in a.final.items() if k not in sums} == {
        k: v for k, v in b.final.items() if k not in sums
    }
    assert set(a.final) == set(b.final)
    for name in sums:
        assert a.final[name] == approx(b.final[name], rel=ROUNDING_RTOL, abs=0)
    for name, value in a.energy_attrs.items():
        assert value == approx(b.energy_attrs[name], rel=ROUNDING_RTOL, abs=0)
    for name in a.energy:
        np.testing.assert_allclose(a.energy[name], b.energy[name], rtol=ROUNDING_RTOL, atol=0)
    for name in a.metrics:
        np.testing.assert_allclose(a.metrics[name], b.metrics[name], rtol=ROUNDING_RTOL, atol=0)
