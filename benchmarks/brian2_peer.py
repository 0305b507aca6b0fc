"""Brian2 (C++ standalone) versions of benchmarks/snn.py's networks A and B: the peer run.

Each network is built as the memxbar jobs define it: Poisson inputs (A: 20 inputs copying a
10 Hz mother train with c = 0.25 and 80 independent at 10/20/35/50 Hz, drawn per step as
``PoissonSpikes`` draws them; B: 1000 independent 20 Hz inputs), current-based LIF neurons
with a one-step synaptic current (a spike through weight w raises v by
w · psp · (τ_m/dt)(1 − e^(−dt/τ_m)), memxbar's jump), pair STDP with traces, soft bounds
(μ = 1), heterosynaptic depression a_post per output spike, and synaptic fatigue of every input
(e ← e (1 − U) per spike, recovery to 1 with τ_f; the pre trace adds the efficacy sent).
Differences of work that remain: Brian2 updates weights at every spike (memxbar once per window
of K steps, a delayed update) and integrates fatigue per synapse (memxbar per input). The
benchmark prints both simulators' output rates so a reader sees they did the same amount of
spiking.

Brian2 ≥ 2.11 needs Python ≥ 3.13 (``pip install memxbar[peers]`` installs it there); with
an older Brian2 the same code runs. Times are the standalone binary's run time (Brian2's
``device._last_run_time``), without code generation and C++ compilation, as memxbar's times
are without XLA compilation.
"""

from __future__ import annotations

import math
import tempfile

import numpy as np

__all__ = ["brian2_missing", "run_network_a", "run_network_b"]


def brian2_missing() -> str | None:
    """None when Brian2 can be imported, else why it cannot (a line to print)."""
    try:
        import brian2  # noqa: F401
    except ImportError as err:
        return (
            f"Brian2 is not importable ({err}); `pip install memxbar[peers]` installs it "
            "(Brian2 >= 2.11 needs Python >= 3.13)"
        )
    return None


def _jump_factor(tau_m_s: float, dt_s: float) -> float:
    """memxbar's membrane jump per unit of weight and psp with a one-step synaptic current."""
    return tau_m_s / dt_s * -math.expm1(-dt_s / tau_m_s)


def _lif(psp_V: float) -> dict:
    """The LIF of both jobs: memxbar's defaults (rest and reset −70 mV, threshold −54 mV),
    τ_m = 5 ms, 2 ms refractory, a jump of ``psp_V`` per unit weight."""
    return dict(
        tau_m_s=0.005,
        psp_V=psp_V,
        refractory_s=0.002,
        v_rest_V=-0.070,
        v_reset_V=-0.070,
        v_threshold_V=-0.054,
    )


def _stdp(**rule) -> dict:
    """STDP settings with the fatigue of both jobs (U = 0.5, τ_f = 2 s)."""
    return dict(rule, use=0.5, tau_f_s=2.0)


def _correlated_trains(rates_Hz, copy_prob, mother_Hz, duration_s, dt_s, seed):
    """(indices, times_s) of inputs drawn per step as ``PoissonSpikes``: input i copies the
    mother's step with probability c_i, else fires on its own at the thinned probability."""
    rng = np.random.default_rng(seed)
    steps = round(duration_s / dt_s)
    rates, c = np.asarray(rates_Hz), np.asarray(copy_prob)
    p, p_m = rates * dt_s, mother_Hz * dt_s
    p_own = (p - c * p_m) / (1.0 - c)
    mother = rng.random(steps) < p_m
    copies = rng.random((steps, rates.size)) < c
    own = rng.random((steps, rates.size)) < p_own
    fired = np.where(copies, mother[:, None], own)
    step, index = np.nonzero(fired)
    return index, step * dt_s


def _run(inputs, n_out, lif, rule, duration_s, dt_s, w_init, seed):
    """Build and run one network in C++ standalone; (run time s, output rate Hz)."""
    import brian2 as b2

    directory = tempfile.mkdtemp(prefix="memxbar_brian2_")
    b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
    b2.device.reinit()
    b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
    b2.defaultclock.dt = dt_s * b2.second
    b2.seed(seed)
    source = inputs(b2)
    neurons = b2.NeuronGroup(
        n_out,
        "dv/dt = (v_rest - v) / tau_m : 1 (unless refractory)",
        threshold="v >= v_th",
        reset="v = v_reset",
        refractory=lif["refractory_s"] * b2.second,
        method="exact",
        namespace={
            "v_rest": lif["v_rest_V"],
            "v_th": lif["v_threshold_V"],
            "v_reset": lif["v_reset_V"],
            "tau_m": lif["tau_m_s"] * b2.second,
        },
    )
    neurons.v = lif["v_rest_V"]
    synapses = b2.Synapses(
        source,
        neurons,
        """w : 1
        deff/dt = (1 - eff) / tau_f : 1 (event-driven)
        dapre/dt = -apre / tau_plus : 1 (event-driven)
        dapost/dt = -apost / tau_minus : 1 (event-driven)""",
        on_pre="""v_post += jump * w * eff
        apre += eff
        w = clip(w - a_minus * apost * w, 0, 1)
        eff = eff * (1 - U)""",
        on_post="""apost += 1
        w = clip(w + a_plus * apre * (1 - w) - a_post * w, 0, 1)""",
        namespace={
            "jump": lif["psp_V"] * _jump_factor(lif["tau_m_s"], dt_s),
            "tau_f": rule["tau_f_s"] * b2.second,
            "U": rule["use"],
            "tau_plus": rule["tau_plus_s"] * b2.second,
            "tau_minus": rule["tau_minus_s"] * b2.second,
            "a_plus": rule["a_plus"],
            "a_minus": rule["a_minus"],
            "a_post": rule["a_post"],
        },
    )
    synapses.connect()
    synapses.w = w_init
    synapses.eff = 1.0
    spikes = b2.SpikeMonitor(neurons, record=False)
    network = b2.Network(source, neurons, synapses, spikes)
    network.run(duration_s * b2.second)
    b2.device.build(directory=directory, compile=True, run=True, debug=False)
    rate = float(np.sum(spikes.count[:])) / (n_out * duration_s)
    return float(b2.device._last_run_time), rate


def run_network_a(duration_s: float = 50.0, seed: int = 0):
    """Network A (examples/fstdp_*.yaml): (run time s, output rate Hz)."""
    rates = np.repeat([10.0, 10.0, 20.0, 35.0, 50.0], 20)
    copy = np.where(np.arange(100) < 20, 0.25, 0.0)
    index, times = _correlated_trains(rates, copy, 10.0, duration_s, 1e-3, seed)

    def inputs(b2):
        return b2.SpikeGeneratorGroup(100, index, times * b2.second)

    rule = _stdp(a_plus=0.05, a_minus=0.01, tau_plus_s=0.010, tau_minus_s=0.020, a_post=0.0025)
    return _run(inputs, 1, _lif(0.050), rule, duration_s, 1e-3, 0.5, seed)


def run_network_b(duration_s: float = 10.0, seed: int = 0):
    """Network B (benchmarks/snn.py ``network_b``): (run time s, output rate Hz)."""

    def inputs(b2):
        return b2.PoissonGroup(1000, 20.0 * b2.Hz)

    rule = _stdp(a_plus=0.05, a_minus=0.06, tau_plus_s=0.020, tau_minus_s=0.020, a_post=0.0)
    w_init = "0.5 + 0.1 * (2 * rand() - 1)"
    return _run(inputs, 100, _lif(6e-3), rule, duration_s, 1e-3, w_init, seed)
