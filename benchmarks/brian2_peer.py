"""Brian2 (C++ standalone) versions of benchmarks/snn.py's networks A and B: the peer run.

Each network is built to do what memxbar's engine does, step for step (in distribution):

- Inputs are drawn online, every step, as ``PoissonSpikes`` draws them (A: 20 inputs copying
  a 10 Hz mother train with c = 0.25 and 80 independent at 10/20/35/50 Hz, one uniform per
  input and step choosing copy or own train; B: 1000 independent 20 Hz inputs).
- A step runs in memxbar's order: the inputs of step n reach the neurons in step n (the
  sources and the presynaptic pathway are scheduled at the start of the step), the membrane
  is integrated exactly with a one-step synaptic current,
  v ← v_rest + (v − v_rest) α + w · psp · (τ_m/dt)(1 − α) per spike, α = exp(−dt/τ_m),
  the threshold is checked in the same step, and a neuron that fired is held at v_reset,
  inputs ignored, for the refractory steps (a counter, as memxbar's LIF).
- Pair STDP with traces and soft bounds (μ = 1), depression scaled by the efficacy sent,
  heterosynaptic depression a_post per output spike, and synaptic fatigue of every input
  (e ← e (1 − U) per spike, recovery to 1 with τ_f; the pre trace adds the efficacy sent).
  Weights are held for a window of K steps and updated after it from the window's summed
  potentiation and depression, as memxbar's delayed update (a ``run_regularly`` operation).

Differences of work that remain: Brian2 integrates fatigue and traces per synapse and event
(memxbar per input and step, dense), and draws its random numbers with its own generator.
The benchmark prints both simulators' output rates, so a reader sees they did the same
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

__all__ = ["brian2_missing", "run_peer"]


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


def _check_supported(net, source) -> None:
    """Raise ValueError naming the first setting the peer does not model."""
    from memxbar.algorithms.snn import STDP, PoissonSpikes

    rule, lif = net.rule, net.lif
    unsupported = [
        ("source", not isinstance(source, PoissonSpikes), "a PoissonSpikes source"),
        ("rule", not isinstance(rule, STDP), "an STDP rule"),
    ]
    for field, bad, needed in unsupported:
        if bad:
            raise ValueError(f"brian2_peer: {field}: the peer models only {needed}")
    unsupported = [
        ("source.mother_rates_Hz", np.size(source.mother_rates_Hz) > 1, "one mother train"),
        ("rule.mu", rule.mu != 1.0, "mu = 1 (soft bounds)"),
        ("rule.fatigue", rule.fatigue is None, "synaptic fatigue"),
        ("rule.w_min/w_max", (rule.w_min, rule.w_max) != (0.0, 1.0), "bounds 0 and 1"),
        ("lif.tau_syn_s", lif.tau_syn_s != 0.0, "a one-step synaptic current (0)"),
        ("lif.lateral_inhibition_V", lif.lateral_inhibition_V != 0.0, "no lateral inhibition"),
        ("lif.winner_take_all", lif.winner_take_all, "no winner-take-all"),
        ("short_term", net.short_term is not None, "no short-term plasticity"),
        ("write_every_windows", net.write_every_windows != 1, "writes after every window (1)"),
    ]
    for field, bad, needed in unsupported:
        if bad:
            raise ValueError(f"brian2_peer: {field}: the peer models only {needed}")


def _inputs(b2, source, dt_s):
    """``source`` (PoissonSpikes) drawn per step as memxbar draws it, at the start of each step.

    Independent inputs are a PoissonGroup. Correlated ones: input i copies the mother's step
    when its uniform u < c_i, else fires when u < c_i + (1 − c_i) p_own,
    p_own = (p − c p_m) / (1 − c): its rate stays exactly p/dt. Returns the objects to run,
    the inputs (the synapses' source) last.
    """
    rates, c = np.asarray(source.rates_Hz, float), np.asarray(source.copy_prob, float)
    if not np.any(c > 0):
        inputs = b2.PoissonGroup(rates.size, rates * b2.Hz)
        inputs.thresholder["spike"].when = "start"
        inputs.thresholder["spike"].order = 1
        return [inputs]
    p, p_m = rates * dt_s, float(np.ravel(source.mother_rates_Hz)[0]) * dt_s
    p_own = np.where(c < 1.0, (p - c * p_m) / np.maximum(1.0 - c, 1e-12), 0.0)
    mother = b2.NeuronGroup(1, "fired : 1", namespace={"p_m": p_m})
    mother.run_regularly("fired = int(rand() < p_m)", when="start", order=-1)
    inputs = b2.NeuronGroup(
        rates.size,
        """u : 1
        c : 1 (constant)
        p_own : 1 (constant)
        mother_fired : 1 (linked)""",
        threshold="(u < c and mother_fired > 0.5) or (u >= c and u < c + (1 - c) * p_own)",
        reset="",
    )
    inputs.mother_fired = b2.linked_var(mother, "fired", index=np.zeros(rates.size, int))
    inputs.c = c
    inputs.p_own = p_own
    inputs.run_regularly("u = rand()", when="start", order=0)
    inputs.thresholder["spike"].when = "start"
    inputs.thresholder["spike"].order = 1
    return [mother, inputs]


def run_peer(net, source, weights, duration_s: float, seed: int = 0):
    """Run memxbar's spiking layer ``net`` (a SpikingNetwork) fed by ``source`` in Brian2's
    C++ standalone mode, from the initial ``weights`` (n_inputs, n_neurons); returns
    (run time s, output rate Hz).

    Every parameter is read from ``net`` and ``source``, the objects memxbar runs.

    Raises:
        ValueError: naming the first setting of ``net`` or ``source`` the peer does not model.
    """
    import brian2 as b2

    _check_supported(net, source)
    lif, rule, dt_s = net.lif, net.rule, net.dt_s
    weights = np.asarray(weights, np.float64)
    n_out = weights.shape[1]

    directory = tempfile.mkdtemp(prefix="memxbar_brian2_")
    b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
    b2.device.reinit()
    b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
    b2.defaultclock.dt = dt_s * b2.second
    b2.seed(seed)
    sources = _inputs(b2, source, dt_s)
    held_steps = round(lif.refractory_s / dt_s)
    neurons = b2.NeuronGroup(
        n_out,
        """v : 1
        i_in : 1
        held : integer""",
        threshold="v >= v_th and held == 0",
        reset="v = v_reset\nheld = held_steps + 1",
        namespace={
            "v_th": lif.v_threshold_V,
            "v_rest": lif.v_rest_V,
            "v_reset": lif.v_reset_V,
            "held_steps": held_steps,
            "alpha": math.exp(-dt_s / lif.tau_m_s),
        },
    )
    # memxbar's LIF step: exact decay, the step's input, held at reset while refractory.
    neurons.run_regularly(
        """v = v_rest + (v - v_rest) * alpha + i_in
        i_in = 0
        v = v_reset * int(held > 0) + v * int(held == 0)""",
        when="groups",
    )
    neurons.run_regularly("held = held - int(held > 0)", when="end")
    neurons.v = lif.v_rest_V
    synapses = b2.Synapses(
        sources[-1],
        neurons,
        """w : 1
        potentiation : 1
        depression : 1
        deff/dt = (1 - eff) / tau_f : 1 (event-driven)
        dapre/dt = -apre / tau_plus : 1 (event-driven)
        dapost/dt = -apost / tau_minus : 1 (event-driven)""",
        on_pre="""i_in_post += jump * w * eff
        apre += eff
        depression += a_minus * eff * apost
        eff = eff * (1 - U)""",
        on_post="""potentiation += apre
        depression += a_post
        apost += 1""",
        namespace={
            "jump": lif.psp_V * _jump_factor(lif.tau_m_s, dt_s),
            "tau_f": rule.fatigue.tau_s * b2.second,
            "U": rule.fatigue.use,
            "tau_plus": rule.tau_plus_s * b2.second,
            "tau_minus": rule.tau_minus_s * b2.second,
            "a_minus": rule.a_minus,
            "a_plus": rule.a_plus,
            "a_post": rule.a_post,
        },
    )
    synapses.pre.when = "start"
    synapses.pre.order = 2
    # The window's delayed update with the weights held during it (soft bounds, μ = 1).
    synapses.run_regularly(
        """w = clip(w + a_plus * (1 - w) * potentiation - w * depression, 0, 1)
        potentiation = 0
        depression = 0""",
        dt=net.window_steps * dt_s * b2.second,
        when="start",
        order=-2,
    )
    synapses.connect()
    # Brian2 orders all-to-all synapses by presynaptic index, then postsynaptic: row-major.
    synapses.w = weights.ravel()
    synapses.eff = 1.0
    spikes = b2.SpikeMonitor(neurons, record=False)
    network = b2.Network(*sources, neurons, synapses, spikes)
    network.run(duration_s * b2.second)
    b2.device.build(directory=directory, compile=True, run=True, debug=False)
    rate = float(np.sum(spikes.count[:])) / (n_out * duration_s)
    return float(b2.device._last_run_time), rate
