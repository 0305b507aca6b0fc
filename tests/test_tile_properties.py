"""Invariants of PCMTile under arbitrary sequences of operations (hypothesis).

DESIGN.md 11: conductances stay within [0, g_max·(1 + tolerance)], drift never increases a
conductance, energy counters only grow and add up, pulses are non-negative integers.
Every operation is jitted once (module scope) on a 4 × 3 tile; hypothesis only chooses
the sequence, the sizes of the requests, the times and the keys.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import approx, fast_jit, sigma_prog_S

from memxbar.crossbar import COUNTERS, ENERGY_CATEGORIES, PCMTile, load_chip
from memxbar.crossbar.pulse_schemes import pulse_train_pulses, rounded_pulses

ROWS, COLS = 4, 3
CHIP = load_chip("pcm_256")
MAX_PULSES = CHIP.update.max_pulses
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)

# Tiny tiles: compilation dominates, so XLA's backend optimisations are skipped.
jit = fast_jit


create = jit(PCMTile.create, static_argnames=("rows", "cols"))
OPS = {
    "update": jit(lambda tile, a, t, key: tile.update(a, t, key=key)),
    "refresh": jit(lambda tile, a, t, key: tile.refresh(t, key=key)),
    "mvm": jit(lambda tile, a, t, key: tile.mvm(a.T, t, key=key)[1]),  # 3 inputs of 4
    "mvm_t": jit(lambda tile, a, t, key: tile.mvm_t(a, t, key=key)[1]),
    "read_weights": jit(lambda tile, a, t, key: tile.read_weights(t, key=key)[1]),
    "program": jit(lambda tile, a, t, key: tile.program_weights(a, t, key=key)),
}


@pytest.fixture(scope="module")
def start_tile():
    W = np.asarray(jax.random.uniform(jax.random.key(0), (ROWS, COLS), minval=-1, maxval=1))
    return create(CHIP, key=jax.random.key(1), rows=ROWS, cols=COLS, weights=W)


# One operation: its name, a request (ROWS, COLS) of magnitude 10^log_size in weight units
# (1e-4 is far below one pulse, 1e3 far beyond max_pulses), the time step and a seed.
operation = st.tuples(
    st.sampled_from(sorted(OPS)),
    st.floats(min_value=-4.0, max_value=3.0),
    st.sampled_from([0.0, 1e-3, 1.0, 60.0, 3600.0, 86400.0, 3e7]),
    st.integers(min_value=0, max_value=2**31 - 1),
)


def ledger_values(tile):
    L = tile.ledger
    energies = np.array([float(L.energy_J(k)) for k in ENERGY_CATEGORIES])
    counts = np.array([float(L.count(k)) for k in COUNTERS])
    return energies, counts, float(L.total_J)


def g_max_bound(tile):
    """The highest conductance a device may show: its own g_max, plus 6 σ of programming
    noise at that target (DESIGN.md 4.1), because program-and-verify clips its noise at 0 S
    only (as aihwkit's PCM model does), so a write near g_max can land above it."""
    g_max = np.asarray(tile.devices.g_max_S, np.float64)
    return g_max + 6.0 * sigma_prog_S(g_max)


@SETTINGS
@given(st.lists(operation, min_size=1, max_size=8))
def test_invariants_hold_through_any_sequence_of_operations(start_tile, ops):
    tile, t = start_tile, 0.0
    energies, counts, _ = ledger_values(tile)
    pulses = np.asarray(tile.devices.set_pulses)
    for name, log_size, dt, seed in ops:
        t += dt
        rng = np.random.default_rng(seed)
        request = (10.0**log_size * rng.standard_normal((ROWS, COLS))).astype(np.float32)
        tile = OPS[name](tile, jnp.asarray(request), jnp.float32(t), jax.random.key(seed))

        devices = tile.devices
        g = np.asarray(devices.g_prog_S, np.float64)
        assert np.all(np.isfinite(g)) and np.all(g >= 0.0), name
        assert np.all(g <= g_max_bound(tile)), (name, g.max())
        # Drift g_prog ((t − t_prog + t0)/t0)^(−ν) never increases a conductance: ν ≥ 0 and
        # every write lies in the past.
        assert np.all(np.asarray(devices.nu) >= 0.0), name
        assert np.all(np.asarray(devices.t_prog_s) <= np.float32(t)), name

        new_pulses = np.asarray(devices.set_pulses)
        assert new_pulses.dtype.kind == "i" and np.all(new_pulses >= pulses), name

        new_energies, new_counts, total = ledger_values(tile)
        assert np.all(np.isfinite(new_energies)) and np.all(np.isfinite(new_counts))
        assert np.all(new_energies >= energies), (name, new_energies - energies)
        assert np.all(new_counts >= counts), (name, new_counts - counts)
        assert total == approx(new_energies.sum(), rel=1e-6, abs=1e-30)
        if name == "update":
            # Every SET pulse the rounding fired is booked, at most max_pulses per device.
            fired = new_pulses - pulses
            assert np.all(fired <= MAX_PULSES), name
            booked = new_counts[COUNTERS.index("set_pulses")] - counts[COUNTERS.index("set_pulses")]
            assert booked == fired.sum(), (booked, fired.sum())
        energies, counts, pulses = new_energies, new_counts, new_pulses


rounded = jit(
    lambda dW, dw, key: (
        rounded_pulses(dW, dw, MAX_PULSES, stochastic=True, key=key),
        rounded_pulses(dW, dw, MAX_PULSES, stochastic=False, key=key),
    )
)
trains = jit(
    lambda x, d, scale, dw, key: pulse_train_pulses(
        x, d, scale, dw, CHIP.update.pulse_train_length, MAX_PULSES, key=key
    )
)


@SETTINGS
@given(
    st.floats(min_value=-4.0, max_value=3.0),
    st.floats(min_value=-3.0, max_value=0.0),
    st.integers(min_value=0, max_value=2**31 - 1),
)
def test_pulse_counts_are_bounded_non_negative_integers_on_the_right_side(log_size, log_dw, seed):
    rng = np.random.default_rng(seed)
    dW = (10.0**log_size * rng.standard_normal((ROWS, COLS))).astype(np.float32)
    dW[0, 0] = 0.0
    dw = np.float32(10.0**log_dw)
    key = jax.random.key(seed)
    for n in rounded(jnp.asarray(dW), dw, key):
        n = np.asarray(n)
        assert n.shape == (2, ROWS, COLS) and n.dtype == np.int32
        assert np.all(n >= 0) and np.all(n <= MAX_PULSES)
        # Potentiation only on G+ (side 0), depression only on G− (side 1).
        assert np.all(n[0][dW <= 0] == 0) and np.all(n[1][dW >= 0] == 0)
        # Never more than one pulse away from the request (before the cap).
        q = np.abs(dW) / dw
        assert np.all(np.abs(n.sum(axis=0) - np.minimum(q, MAX_PULSES)) <= 1.0 + 1e-3 * q)

    x = (10.0**log_size * rng.standard_normal((2, ROWS))).astype(np.float32)
    d = rng.standard_normal((2, COLS)).astype(np.float32)
    scale = np.float32(rng.choice([-1.0, 1.0]) * rng.uniform(0.1, 2.0))
    n = np.asarray(trains(jnp.asarray(x), jnp.asarray(d), scale, dw, key))
    assert n.shape == (2, ROWS, COLS) and n.dtype == np.int32
    assert np.all(n >= 0) and np.all(n <= MAX_PULSES)
    # A synapse whose requests (scale x_bi d_bj over the batch) are all of one sign is
    # only ever pulsed on that side.
    request = scale * x[:, :, None] * d[:, None, :]
    assert np.all(n[0][np.all(request <= 0, axis=0)] == 0)
    assert np.all(n[1][np.all(request >= 0, axis=0)] == 0)
