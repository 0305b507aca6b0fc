"""Spiking-engine throughput: wall time and synaptic events per second, ideal and PCM tiles.

Run: ``python benchmarks/snn.py [--repeats 3] [--seeds 64] [--skip-a] [--skip-b]``.

(A) The synthetic FSTDP benchmark (``examples/fstdp_ideal.yaml`` / ``fstdp_pcm.yaml``): 100
    Poisson inputs (20 correlated at 10 Hz with c = 0.25, 80 independent at 10/20/35/50 Hz) onto
    one LIF neuron with FSTDP, 50 s simulated at dt = 1 ms, windows of 10 steps, as the jobs
    run it. One seed, and ``--seeds`` seeds at once (``jax.vmap`` over the run key and the
    tile: every seed has its own spikes and, on PCM, its own devices).
(B) 1000 Poisson inputs at 20 Hz all-to-all onto 100 LIF neurons with plastic synapses (STDP
    with fatigue, multiplicative, no heterosynaptic term; ~29 Hz of output on ideal tiles, ~17 Hz
    on PCM), 10 s at
    dt = 1 ms, on one 1000 x 100 tile (PCM: pcm_256 devices, refreshes every second). Rows:
    windows of K steps; weights read and written every M windows
    (``SpikingNetwork.write_every_windows``; M = 1 is the strict per-window update); at most
    ``cap`` pulses per synapse and write (``PulseSchedule.max_pulses_per_write``; 0: the chip's 16).

The peer: when Brian2 is importable (``pip install memxbar[peers]``; Brian2 >= 2.11 needs
Python >= 3.13), the same networks run in Brian2's C++ standalone mode in this process
(benchmarks/brian2_peer.py ``run_peer``: built from the same SpikingNetwork, source and
initial weights memxbar runs; inputs drawn online, memxbar's step order, LIF with a refractory
counter, weights updated per window) and every row is compared with its time; otherwise the
script says so and prints memxbar's times alone. Both simulators' output rates are printed,
so that a reader sees they did the same spiking (the peer runs B at K = 10, M = 1, so the rows
with K = 50 or M > 1 learn a little differently and their rates drift from the peer's).
Goals (issues 6, 17): (B) on ideal tiles no slower than Brian2, PCM within 2x of ideal; (A) 64
seeds in less wall time than 64 sequential Brian2 runs.

Times are medians over ``--repeats`` calls of the jitted run (rounds timed round-robin, after
compilation and a warm-up call, docs/architecture.md); the first call's time (compilation included)
is reported separately. Synaptic events are presynaptic spikes times the neurons they reach,
from the inputs' rates (their expectation: the sampled counts differ by ~0.3 %).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

# The sibling benchmark script (this folder is on sys.path when a script here runs).
from softhebb import median_times_s

from memxbar.algorithms.snn import (
    LIF,
    STDP,
    Fatigue,
    PoissonSpikes,
    PulseSchedule,
    SpikingNetwork,
    init_state,
    run_windows,
)
from memxbar.crossbar import IdealTile, PCMTile, load_chip
from memxbar.runtime.job import load_job
from memxbar.runtime.spiking_experiment import build_sources, build_tile, initial_weights

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def first_call_s(fn) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


def _events_per_run(rates_Hz, duration_s: float, n_neurons: int) -> float:
    return float(np.sum(rates_Hz)) * duration_s * n_neurons


def workload_a(kind: str, seeds: int, write_every: int = 1):
    """(zero-argument run, synaptic events, output spikes per Hz of rate) of benchmark A for
    ``seeds`` seeds.

    ``write_every`` > 1 writes the tiles every that many windows instead of every window.
    """
    job = load_job(EXAMPLES / f"fstdp_{kind}.yaml")
    sim = job.simulation
    net = dataclasses.replace(
        job.engine,
        record_raster=False,
        record_inputs=False,
        write_every_windows=write_every,
    )
    n_windows = sim.windows(sim.duration_s)
    keys = jax.random.split(jax.random.key(0), seeds)
    # Each seed's sources (the Poisson inputs need no key of their own) and tile.
    sources = build_sources(job, key=keys[0])
    tiles = jax.vmap(lambda k: build_tile(job, key=k))(keys)
    state = init_state(net, job.inputs.n_inputs)

    @eqx.filter_jit
    def run(tiles, keys):
        def one(tile, key):
            tile, _, traces = run_windows(net, tile, sources, state, n_windows, key=key)
            return tile.true_weights(), jnp.sum(traces["post_counts"])

        return jax.vmap(one)(tiles, keys)

    events = _events_per_run(job.layout.input_rates_Hz, sim.duration_s, job.neurons.count)
    spikes_per_Hz = seeds * job.neurons.count * sim.duration_s
    return (lambda: run(tiles, keys)), events * seeds, spikes_per_Hz


def network_b(window_steps: int, write_every: int, max_pulses: int = 0) -> SpikingNetwork:
    """Benchmark B's layer: STDP with fatigue, ~29 Hz of output per neuron on ideal tiles.

    Weights are read and written every ``write_every`` windows, saturated pairs refreshed
    every second (as the PCM jobs do: 'pair' depression makes both devices climb).
    """
    rule = STDP(
        a_plus=0.05,
        a_minus=0.06,
        tau_plus_s=0.020,
        tau_minus_s=0.020,
        mu=1.0,
        fatigue=Fatigue(0.5, 2.0),
    )
    psp_V, tau_m_s, dt_s = 6e-3, 0.005, 1e-3
    lif = LIF(count=100, tau_m_s=tau_m_s, psp_V=psp_V, refractory_s=0.002)
    return SpikingNetwork(
        lif=lif,
        rule=rule,
        dt_s=dt_s,
        window_steps=window_steps,
        read_every_windows=write_every,
        write_every_windows=write_every,
        refresh_every_windows=round(1.0 / (window_steps * dt_s)),
        schedule=PulseSchedule(1.0, max_pulses_per_write=max_pulses),
    )


def initial_weights_b(key, n_in: int, n_out: int):
    """Benchmark B's initial weights: uniform in 0.5 ± 0.1."""
    return 0.5 + 0.1 * jax.random.uniform(key, (n_in, n_out), minval=-1.0, maxval=1.0)


#: Benchmark B's settings: (window steps K, write every M windows, pulses per write cap).
B_SETTINGS = ((10, 1, 0), (50, 1, 0), (50, 10, 2), (50, 20, 2), (100, 10, 2))


def workload_b(kind: str, window_steps: int, write_every: int, max_pulses: int):
    """(zero-argument run, synaptic events, output spikes per Hz of rate) of benchmark B; the run
    returns (true weights, output spikes, update pulses fired, synapses they wrote)."""
    n_in, n_out, duration_s = 1000, 100, 10.0
    rates = np.full(n_in, 20.0)
    sources = PoissonSpikes.create(rates)
    net = network_b(window_steps, write_every, max_pulses)
    k_w, k_tile, k_run = jax.random.split(jax.random.key(1), 3)
    W0 = initial_weights_b(k_w, n_in, n_out)
    if kind == "ideal":
        tile = IdealTile.create(n_in, n_out, weights=W0)
    else:
        # pcm_256 with the ADC's full scale matched to the summed fatigued spikes of a step.
        chip = load_chip("pcm_256", {"periphery.adc.output_range": 8.0})
        tile = PCMTile.create(chip, key=k_tile, rows=n_in, cols=n_out, weights=W0)
    state = init_state(net, n_in)
    n_windows = round(duration_s / net.window_s)

    @eqx.filter_jit
    def run(tile, key):
        counters = ("set_pulses", "update_events")
        before = [tile.ledger.count(name) for name in counters]  # the programming's
        tile, _, traces = run_windows(net, tile, sources, state, n_windows, key=key)
        # The update pulses fired and synapses written (0 on ideal tiles): benchmarks/floor.py.
        pulses, written = (tile.ledger.count(n) - b for n, b in zip(counters, before, strict=True))
        return tile.true_weights(), jnp.sum(traces["post_counts"]), pulses, written

    return (lambda: run(tile, k_run)), _events_per_run(rates, duration_s, n_out), n_out * duration_s


def report(title: str, rows: dict, repeats: int, peer, per: int = 1):
    """Time ``rows`` {label: (run, events, output spikes per Hz)} and print wall time,
    events/s, output rate and the ratio to ``peer`` ((Brian2 s per run, its rate Hz) or None).
    """
    first_s = {label: first_call_s(run) for label, (run, _, _) in rows.items()}
    times = median_times_s([run for run, _, _ in rows.values()], repeats, warmup=1)
    print(f"\n{title} (median of {repeats}; compile s = first call − a timed call)")
    head = f"  {'':34s} {'wall s':>8s} {'per run s':>10s} {'events/s':>10s} {'compile s':>10s}"
    print(head + f" {'out Hz':>7s} {'vs Brian2':>10s}")
    if peer is not None:
        print(f"  {'Brian2 C++ standalone, 1 run':34s} {peer[0]:8.3f} {'':32s} {peer[1]:7.2f}")
    results = {}
    for (label, (run, events, spikes_per_Hz)), t in zip(rows.items(), times, strict=True):
        runs = per if "seeds" in label else 1
        results[label] = t
        rate = float(np.sum(run()[1])) / spikes_per_Hz
        versus = f"{t / (peer[0] * runs):9.2f}x" if peer is not None else f"{'n/a':>10s}"
        print(
            f"  {label:34s} {t:8.3f} {t / runs:10.4f} {events / t:10.3g} "
            f"{max(first_s[label] - t, 0.0):10.1f} {rate:7.2f} {versus}"
        )
    return results


def brian2_peer(network: str):
    """(run time s, output rate Hz) of Brian2 on network 'a' or 'b' (the same network, source
    and initial weights memxbar runs), or None (printed why)."""
    import brian2_peer as peer

    missing = peer.brian2_missing()
    if missing is not None:
        print(f"  no peer run: {missing}")
        return None
    if network == "a":
        job = load_job(EXAMPLES / "fstdp_ideal.yaml")
        key = jax.random.split(jax.random.split(jax.random.key(0), 1)[0], 3)[1]
        net = dataclasses.replace(job.engine, write_every_windows=1)
        source, weights = build_sources(job, key=key), initial_weights(job, key=key)
        return peer.run_peer(net, source, weights, job.simulation.duration_s)
    n_in, n_out = 1000, 100
    weights = initial_weights_b(jax.random.split(jax.random.key(1), 3)[0], n_in, n_out)
    source = PoissonSpikes.create(np.full(n_in, 20.0))
    return peer.run_peer(network_b(10, 1), source, weights, 10.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (default 3)")
    parser.add_argument("--seeds", type=int, default=64, help="seeds at once in A (default 64)")
    parser.add_argument("--skip-a", action="store_true", help="skip benchmark A")
    parser.add_argument("--skip-b", action="store_true", help="skip benchmark B")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}")
    print("'vs Brian2': wall time over Brian2 C++ standalone's on the same network, same process")

    if not args.skip_a:
        rows = {}
        for kind in ("ideal", "pcm"):
            rows[f"A {kind}, 1 seed"] = workload_a(kind, 1)
            rows[f"A {kind}, {args.seeds} seeds (vmap)"] = workload_a(kind, args.seeds)
        # PCM with writes every 10 windows (100 ms; the job reads every 10 windows anyway).
        rows[f"A pcm M=10, {args.seeds} seeds (vmap)"] = workload_a("pcm", args.seeds, 10)
        peer = brian2_peer("a")
        a = report("(A) 100 inputs -> 1 neuron, FSTDP, 50 s", rows, args.repeats, peer, args.seeds)
        many = f"A ideal, {args.seeds} seeds (vmap)"
        for label in (many, many.replace("ideal", "pcm"), f"A pcm M=10, {args.seeds} seeds (vmap)"):
            if peer is None:
                continue
            goal = args.seeds * peer[0]
            verdict = "met" if a[label] < goal else "NOT met"
            print(f"  goal {goal:.2f} s ({args.seeds} sequential Brian2 runs): {label} {verdict}")

    if not args.skip_b:
        rows = {}
        for K, M, cap in B_SETTINGS:
            for kind in ("ideal", "pcm"):
                rows[f"B {kind}, K={K} M={M} cap={cap}"] = workload_b(kind, K, M, cap)
        peer = brian2_peer("b")
        b = report("(B) 1000 inputs -> 100 LIF, STDP + fatigue, 10 s", rows, args.repeats, peer)
        print("  K: window steps, M: write (and read) every M windows, cap: pulses per write")
        for K, M, cap in B_SETTINGS:
            ideal = b[f"B ideal, K={K} M={M} cap={cap}"]
            pcm = b[f"B pcm, K={K} M={M} cap={cap}"]
            versus = (
                f"ideal {'met' if ideal <= peer[0] else 'NOT met'} (<= Brian2's {peer[0]:.2f} s), "
                if peer is not None
                else ""
            )
            print(
                f"  K={K} M={M} cap={cap}: {versus}PCM/ideal {pcm / ideal:.2f} "
                f"({'met' if pcm <= 2 * ideal else 'NOT met'}: <= 2)"
            )


if __name__ == "__main__":
    main()
