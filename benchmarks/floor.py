"""The least work an exact PCM learning step needs, timed kernel by kernel, against the ideal tile.

Run: ``python benchmarks/floor.py [--repeats 15] [--skip-mnist] [--skip-snn]``.

Issue 17 asks for SoftHebb on PCM at >= 0.2x the ideal tile's throughput (a PCM step <= 5x an
ideal step) and spiking net B on PCM within 2x of ideal (K = 10, M = 1). This script asks
whether any implementation of the exact device model could get there on this machine. A step
that writes the tile and then reads it at a new chip time cannot skip these kernels, each
timed alone at the workload's size:

- the view: drift and 1/f-noise statistics of every device at the read time (the model's
  ``read_statistics``: one ``log``, one ``exp``, one ``sqrt`` per device), because every
  device's conductance moved with time since the last read;
- the forward read: the mean matmul (the ideal tile's own work) and, for the exact read noise,
  the variance matmul and one Gaussian per output;
- the weight read, where the rule reads the weights: one Gaussian per synapse;
- stochastic rounding: one uniform per synapse;
- the pulses: one Gaussian per pulse fired, and for every written device its drift up to the
  write (``log1p``, ``exp``) and its new drift exponent and noise coefficient (two ``log``,
  one ``exp``). Counted only for the devices that get pulses, as a perfectly sparse
  implementation would.

Left out, so the sum is a lower bound: reading and writing the device state (11 arrays of
the tile's size), the ADC and DAC, the ledger, the refreshes, and the pulse loop running to
the largest count over the tile. Each kernel's time has the cost of an empty jitted call
subtracted (dispatch, not work). Kernels run alone on warm caches, faster than inside a step.

The ideal step is timed the way benchmarks/softhebb.py and snn.py time it (the runtime's
chunk over ideal tiles, per step or window), in the same process, rows round-robin.
"""

from __future__ import annotations

import argparse
import math

import jax
import jax.numpy as jnp
import numpy as np

# The sibling benchmark scripts (this folder is on sys.path when a script here runs).
from snn import workload_b
from softhebb import median_times_s

from memxbar.algorithms.softhebb import ShallowSoftHebb, SoftHebbParams
from memxbar.crossbar import PCMTile, load_chip
from memxbar.devices import load_preset
from memxbar.devices.random import normal_elementwise, uniform_elementwise
from memxbar.runtime.chip import tile_factory
from memxbar.runtime.trainer import Schedule, train_chunk

READ_AT_S = 1.0  # chip time of the reads (s): drift is young during on-chip learning


def kernels(rows: int, cols: int, batch: int, pulses: int, written: int, weight_read: bool):
    """{label: zero-argument call} of the unavoidable kernels of one step on a (rows, cols)
    tile of pcm_256 devices (one per side): ``batch`` input vectors, ``pulses`` SET pulses
    fired at ``written`` devices."""
    chip = load_chip("pcm_256")
    device = load_preset(chip.device_preset)
    tile = PCMTile.create(chip, key=jax.random.key(0), rows=rows, cols=cols)
    key = jax.random.key(1)
    x = jax.random.uniform(key, (batch, rows))
    W = jax.random.uniform(key, (rows, cols))
    t = jnp.float32(READ_AT_S)
    g = jnp.full((max(written, 1),), 4e-6, jnp.float32)
    nu = jnp.full_like(g, 0.05)
    ages_s = jnp.full_like(g, 0.5)

    view = jax.jit(lambda s, t: device.read_statistics(s, t))
    matmul = jax.jit(lambda x, W: x @ W)
    normal = jax.jit(normal_elementwise, static_argnums=1)
    uniform = jax.jit(uniform_elementwise, static_argnums=1)

    @jax.jit
    def rewrite(g, nu, ages_s, z):
        # A written device's drift up to the write, then its new exponent and Q_s.
        g = g * device.drift.factor(ages_s, nu)
        return device.drift.nu(g, z), device.read_noise.q_s(g)

    return {
        "view (log, exp, sqrt per device)": lambda: view(tile.devices, t),
        "mean matmul": lambda: matmul(x, W),
        "variance matmul (exact noise)": lambda: matmul(x * x, W),
        "a Gaussian per output": lambda: normal(key, (batch, cols)),
        "rounding (a uniform per synapse)": lambda: uniform(key, (rows, cols)),
        **(
            {"weight read (a Gaussian per synapse)": lambda: normal(key, (rows, cols))}
            if weight_read
            else {}
        ),
        f"a Gaussian per pulse ({pulses})": lambda: normal(key, (max(pulses, 1),)),
        f"written devices ({written}): drift, nu, Q_s": lambda: rewrite(g, nu, ages_s, nu),
    }


def dispatch_s(repeats: int) -> float:
    """Wall time of an empty jitted call: what every separately timed kernel pays beside work."""
    empty = jax.jit(lambda a: a)
    one = jnp.float32(0.0)
    return median_times_s([lambda: empty(one)], repeats)[0]


def mnist_step() -> tuple[int, int, object, int]:
    """(pulses fired and synapses written in the first step on PCM tiles, a zero-argument
    call of the ideal tiles' chunk, its steps) of the MNIST-shaped SoftHebb step of
    benchmarks/softhebb.py (784 -> 2000, batch 32, random inputs, the rule of
    examples/softhebb_mnist_pcm.yaml)."""
    params = SoftHebbParams(inv_tau=12.0, eta0=0.045, power=0.2, init_radius=2.0)
    algorithm = ShallowSoftHebb(layer_name="h", n_inputs=784, n_neurons=2000, params=params)
    x = jnp.asarray(np.random.default_rng(0).random((2048, 784), dtype=np.float32))
    chip = load_chip("pcm_256")
    steps, batch = 8, 32
    schedule = Schedule(x.shape[0], batch, epochs=1, step_time_s=1e-3)
    indices = jnp.arange(steps * batch).reshape(steps, batch)
    step_numbers = jnp.arange(steps)
    key = jax.random.key(0)

    pcm = algorithm.init(tile_factory(chip, "pcm", 0.15), key=key)
    after, _ = train_chunk(algorithm, schedule, 45, pcm, x, indices[:1], step_numbers[:1], key)
    # The step's pulses and written synapses, not the initial programming's.
    pulses, written = (
        int(after["h"].ledger.count(name) - pcm["h"].ledger.count(name))
        for name in ("set_pulses", "update_events")
    )

    ideal = algorithm.init(tile_factory(chip, "ideal", 0.15), key=key)

    def run():
        return train_chunk(algorithm, schedule, 45, ideal, x, indices, step_numbers, key)

    return pulses, written, run, steps


def report(title, calls: dict, ideal_call, per: int, goal: float, repeats: int) -> None:
    overhead = dispatch_s(repeats)
    times = median_times_s([*calls.values(), ideal_call], repeats)
    ideal_s = times[-1] / per
    print(f"\n{title}: median of {repeats}, empty jitted call {overhead * 1e6:.0f} us subtracted")
    print(f"  {'kernel':42s} {'ms':>8s} {'x ideal step':>13s}")
    floor = 0.0
    for label, seconds in zip(calls, times[:-1], strict=True):
        work = max(seconds - overhead, 0.0)
        floor += work
        print(f"  {label:42s} {work * 1e3:8.3f} {work / ideal_s:13.2f}")
    print(
        f"  {'sum: the floor of an exact PCM step':42s} {floor * 1e3:8.3f} {floor / ideal_s:13.2f}"
    )
    print(f"  {'ideal tile, one step (runtime)':42s} {ideal_s * 1e3:8.3f} {1.0:13.2f}")
    ratio = floor / ideal_s
    if ratio > goal:
        verdict = "out of reach of any implementation of this model here"
    else:
        verdict = f"leaves {goal - ratio:.1f} x ideal for all the floor leaves out"
    print(f"  goal PCM <= {goal:g} x ideal; the floor alone is {ratio:.1f} x: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument("--skip-mnist", action="store_true", help="no SoftHebb MNIST-shaped row")
    parser.add_argument("--skip-snn", action="store_true", help="no spiking net B row")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}")

    if not args.skip_mnist:
        pulses, written, ideal_run, steps = mnist_step()
        report(
            "SoftHebb MNIST-shaped step (784 -> 2000, batch 32; pulses of step 1)",
            kernels(784, 2000, 32, pulses, written, weight_read=True),
            ideal_run,
            steps,
            5.0,
            args.repeats,
        )

    if not args.skip_snn:
        windows = 1000  # 10 s of K = 10 steps of 1 ms
        pcm_run, _, _ = workload_b("pcm", 10, 1, 0)
        ideal_run, _, _ = workload_b("ideal", 10, 1, 0)
        _, _, pulses, written = pcm_run()
        pulses, written = (math.ceil(float(n) / windows) for n in (pulses, written))
        report(
            "Spiking net B window (1000 -> 100, K = 10 spike vectors; pulses of the mean window)",
            kernels(1000, 100, 10, pulses, written, weight_read=True),
            ideal_run,
            windows,
            2.0,
            args.repeats,
        )


if __name__ == "__main__":
    main()
