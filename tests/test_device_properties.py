"""Property tests (hypothesis) of the device models: invariants that hold for every input.

DESIGN.md 11: conductances within [0, g_max (1 + tolerance)], drift never increases a
conductance, energies never negative and additive, pulse and cycle counts non-negative
integers that never decrease, same key → same result.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import (
    device_drifted,
    device_init,
    device_program,
    device_pulses,
    device_read,
    device_reset,
    read_relative_sigma,
    sigma_prog_S,
    vary,
)

import memxbar.devices as mdev

# When a property fails, hypothesis's pytest plugin writes a patch with libcst, whose import of
# mypy_extensions.TypedDict warns; under filterwarnings=error that warning would replace the
# failure report by an INTERNALERROR. Ignore exactly that warning here.
pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)
SHAPE = (4, 6)
UMHO = 1e-6


def _faulty(preset):
    """A preset with stuck devices and a short endurance, so every code path is exercised.

    The numeric parameters are made jax arrays, so jit traces them instead of baking them in.
    """
    return vary(
        mdev.load_preset(preset),
        lambda m: (m.faults.p_stuck_set, m.faults.p_stuck_reset, m.faults.endurance_cycles),
        (0.1, 0.1, 4.0),
    )


MODELS = {name: _faulty(name) for name in ("pcm_gst_pulse", "pcm_nandakumar2019")}


# --- independent bounds (DESIGN.md 4.1, written out in support.py) -------------------------


def write_cap_S(g_max_device_S):
    """Largest g_prog a write can produce: g_max + 6 sigma_p(g_max).

    A target is clipped to g_max; T + 6 sigma_p(T) increases with T up to 65 uS, so the
    largest value comes from the largest target. SET pulses clip at g_max itself.
    """
    return np.asarray(g_max_device_S, np.float64) + 6 * sigma_prog_S(g_max_device_S)


# --- operation sequences ------------------------------------------------------------------

ops = st.lists(
    st.one_of(
        st.tuples(st.just("program"), st.floats(0.0, 1.2), st.floats(0.0, 1e5)),
        st.tuples(st.just("pulses"), st.integers(0, 25), st.floats(0.0, 1e5)),
        st.tuples(st.just("reset"), st.floats(0.0, 1.0), st.floats(0.0, 1e5)),
        st.tuples(st.just("read"), st.just(0), st.floats(0.0, 1e7)),
    ),
    min_size=1,
    max_size=8,
)


def run_ops(model, sequence, seed, shape=SHAPE):
    """Apply ``sequence`` to a fresh array; yield (op, state, read or None, t) after each."""
    key = jax.random.key(seed)
    key, k = jax.random.split(key)
    state = device_init(model, shape, k)
    t = 0.0
    rng = np.random.default_rng(seed)
    yield "init", state, None, t
    for op, arg, dt in sequence:
        t += dt
        key, k = jax.random.split(key)
        tj = jnp.float32(t)
        if op == "program":
            g = jnp.asarray(rng.uniform(0.0, arg, shape) * model.g_max_S, jnp.float32)
            state = device_program(model, state, g, tj, k)
        elif op == "pulses":
            if not isinstance(model, mdev.PulsePCM):
                continue
            n = jnp.asarray(rng.integers(0, arg + 1, shape), jnp.int32)
            state = device_pulses(model, state, n, tj, k)
        elif op == "reset":
            mask = jnp.asarray(rng.uniform(size=shape) < arg)
            state = device_reset(model, state, mask, tj, k)
        else:
            yield op, state, device_read(model, state, tj, k), t
            continue
        yield op, state, None, t


@pytest.mark.parametrize("name", list(MODELS))
@SETTINGS
@given(sequence=ops, seed=st.integers(0, 2**31 - 1))
def test_conductance_stays_in_bounds(name, sequence, seed):
    model = MODELS[name]
    previous = None
    for op, state, g_read, t in run_ops(model, sequence, seed):
        g_prog = np.asarray(state.g_prog_S, np.float64)
        g_max = np.asarray(state.g_max_S, np.float64)
        assert np.all(np.isfinite(g_prog)), op
        assert np.all(g_prog >= 0.0), op
        assert np.all(g_prog <= write_cap_S(g_max)), op
        if op == "pulses":
            # a healthy device that got a SET pulse is clipped at its own g_max
            pulsed = np.asarray(state.set_pulses) > np.asarray(previous.set_pulses)
            moved = pulsed & np.asarray(previous.healthy)
            assert np.all(g_prog[moved] <= g_max[moved])
        drift = np.asarray(device_drifted(model, state, jnp.float32(t)), np.float64)
        assert np.all((drift >= 0.0) & (drift <= g_prog * (1 + 1e-6))), op
        if g_read is not None:
            g_read = np.asarray(g_read, np.float64)
            assert np.all(np.isfinite(g_read))
            assert np.all(g_read >= 0.0)
            rel = read_relative_sigma(g_prog, t - np.asarray(state.t_prog_s, np.float64))
            # 6 sigma of read noise on the drifted value, and so on the device's cap
            assert np.all(g_read <= drift * (1 + 6 * rel) * (1 + 1e-6))
            cap = write_cap_S(g_max)
            assert np.all(g_read <= cap * (1 + 6 * read_relative_sigma(cap, 1e9)))
        if previous is not None:
            # counts are integers that never decrease
            for field in ("set_pulses", "cycles"):
                now, before = getattr(state, field), getattr(previous, field)
                assert jnp.issubdtype(now.dtype, jnp.integer)
                assert np.all(np.asarray(now) >= np.asarray(before)), (op, field)
            # a fault never heals
            healed = (np.asarray(previous.fault) != mdev.HEALTHY) & (
                np.asarray(state.fault) == mdev.HEALTHY
            )
            assert not healed.any()
        previous = state
    assert np.all(np.asarray(previous.set_pulses) >= 0)
    assert np.all(np.asarray(previous.cycles) >= 0)


@pytest.mark.parametrize("name", list(MODELS))
@SETTINGS
@given(
    seed=st.integers(0, 2**31 - 1),
    t_prog=st.floats(0.0, 1e6),
    dt1=st.floats(0.0, 1e8),
    dt2=st.floats(0.0, 1e8),
)
def test_drift_never_increases_conductance(name, seed, t_prog, dt1, dt2):
    model = MODELS[name]
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    state = device_init(model, SHAPE, k1)
    targets = jax.random.uniform(k2, SHAPE, maxval=model.g_max_S)
    state = device_program(model, state, targets, jnp.float32(t_prog), k3)
    t1 = np.float32(t_prog) + np.float32(min(dt1, dt2))
    t2 = np.float32(t_prog) + np.float32(max(dt1, dt2))
    assert t2 >= t1 >= np.float32(t_prog)
    # at its own write time a device shows g_prog exactly (stuck devices were written at 0 s)
    at_write = np.asarray(device_drifted(model, state, state.t_prog_s))
    np.testing.assert_array_equal(at_write, np.asarray(state.g_prog_S))
    g0 = np.asarray(device_drifted(model, state, jnp.float32(t_prog)))
    g1 = np.asarray(device_drifted(model, state, jnp.float32(t1)))
    g2 = np.asarray(device_drifted(model, state, jnp.float32(t2)))
    assert np.all(g0 <= at_write)
    assert np.all(g1 <= g0)
    assert np.all(g2 <= g1)


@pytest.mark.parametrize("name", list(MODELS))
@SETTINGS
@given(
    g=st.lists(st.floats(0.0, 50e-6), min_size=1, max_size=6),
    n1=st.integers(0, 10**6),
    n2=st.integers(0, 10**6),
)
def test_energies_are_non_negative_and_add_up(name, g, n1, n2):
    model = MODELS[name]
    g = jnp.asarray(g, jnp.float32)
    read_e = np.asarray(model.read_energy_J(g))
    assert np.all(read_e >= 0.0)
    # read energy is V^2 G t: proportional to G
    np.testing.assert_allclose(read_e, 0.2**2 * np.asarray(g) * 250e-9, rtol=1e-5, atol=1e-30)
    e1, e2, e12 = (float(model.set_energy_J(n)) for n in (n1, n2, n1 + n2))
    assert e1 >= 0.0 and e2 >= 0.0
    assert math.isclose(e12, e1 + e2, rel_tol=1e-6, abs_tol=1e-30)
    r1, r2, r12 = (float(model.reset_energy_J(n)) for n in (n1, n2, n1 + n2))
    assert r1 >= 0.0 and math.isclose(r12, r1 + r2, rel_tol=1e-6, abs_tol=1e-30)
    assert np.all(np.asarray(model.program_energy_J(g)) >= 0.0)
    # a program-and-verify costs at least one RESET
    assert np.all(np.asarray(model.program_energy_J(g)) >= float(model.reset_energy_J(1)))
    assert float(model.reset_energy_J(jnp.asarray(True))) == float(model.reset_energy_J(1))


def _state_leaves(state):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(state)]


@pytest.mark.parametrize("name", list(MODELS))
@settings(max_examples=15, deadline=None, derandomize=True)
@given(sequence=ops, seed=st.integers(0, 2**31 - 2))
def test_same_key_same_result(name, sequence, seed):
    model = MODELS[name]
    first = list(run_ops(model, sequence, seed))
    second = list(run_ops(model, sequence, seed))
    for (op, s1, r1, _), (_, s2, r2, _) in zip(first, second, strict=True):
        for a, b in zip(_state_leaves(s1), _state_leaves(s2), strict=True):
            np.testing.assert_array_equal(a, b, err_msg=op)
        if r1 is not None:
            np.testing.assert_array_equal(np.asarray(r1), np.asarray(r2))
    # another key: the fresh array already differs (nu draws), and so does every write
    other = list(run_ops(model, sequence, seed + 1))
    assert not np.array_equal(np.asarray(first[0][1].nu), np.asarray(other[0][1].nu))
    for (op, s1, _, _), (_, s2, _, _) in zip(first, other, strict=True):
        if op == "program":
            assert not np.array_equal(np.asarray(s1.g_prog_S), np.asarray(s2.g_prog_S))


@eqx.filter_jit
def _sequence(model, shape, key):
    """init → program → 2 + 3 SET pulses (pulse model) → read → RESET → read, in one jit."""
    keys = jax.random.split(key, 6)
    state = model.init(shape, key=keys[0])
    state = model.program(state, 10e-6, 10.0, key=keys[1])
    if isinstance(model, mdev.PulsePCM):
        n = jnp.full(shape, 2, jnp.int32)
        state = model.set_pulses(state, n, 20.0, key=keys[2])
        state = model.set_pulses(state, n + 1, 20.0, key=keys[3])
    g_read = model.read(state, 100.0, key=keys[4])
    state = model.reset(state, True, 30.0, key=keys[5])
    g_later = model.read(state, 1e5, key=keys[4])
    energies = (
        model.read_energy_J(g_read),
        model.program_energy_J(state.g_prog_S),
        model.set_energy_J(state.set_pulses),
        model.reset_energy_J(state.cycles),
    )
    return state, (g_read, g_later, model.drifted(state, 1e5)), energies


@pytest.mark.parametrize("shape", [(), (3,), (2, 3, 4)])
@pytest.mark.parametrize("name", list(MODELS))
def test_every_operation_works_for_any_shape(name, shape):
    model = MODELS[name]
    state, reads, energies = _sequence(model, shape, jax.random.key(0))
    for leaf in jax.tree_util.tree_leaves(state):
        assert leaf.shape == shape
    for g in reads:
        assert g.shape == shape
        assert np.all(np.asarray(g) >= 0.0)
    pulsed = isinstance(model, mdev.PulsePCM)
    np.testing.assert_array_equal(np.asarray(state.set_pulses), np.full(shape, 5 if pulsed else 0))
    assert state.set_pulses.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(state.cycles), np.full(shape, 2))  # program, RESET
    for energy in energies:
        assert energy.shape == shape and np.all(np.asarray(energy) >= 0.0)
    if not pulsed:
        with pytest.raises(NotImplementedError, match="no pulse-level SET response"):
            model.set_pulses(state, 1, 20.0, key=jax.random.key(1))
