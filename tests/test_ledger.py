"""EnergyLedger: naming, additivity, non-negativity, compensated summation and its reports."""

from __future__ import annotations

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import approx

from memxbar.crossbar import COUNTERS, ENERGY_CATEGORIES, EnergyLedger

# Every ledger value is float32: one increment is exact to float32 rounding (rtol 1e-6
# covers it and a few roundings of the Kahan correction).
F32 = 1e-6


def f32(value) -> float:
    """``value`` as float32 rounds it (what the ledger stores), back as a Python float."""
    return float(np.float32(value))


def test_zeros_is_empty():
    ledger = EnergyLedger.zeros()
    for category in ENERGY_CATEGORIES:
        assert float(ledger.energy_J(category)) == 0.0
    for name in COUNTERS:
        assert float(ledger.count(name)) == 0.0
    assert float(ledger.total_J) == 0.0
    assert float(ledger.energy_J("total")) == 0.0
    # Per-event figures are defined (0) before any event instead of 0/0.
    assert float(ledger.per_mvm_J) == 0.0
    assert float(ledger.per_update_event_J) == 0.0


def test_add_books_each_entry_under_its_own_name():
    increments = {k: (i + 1) * 1e-12 for i, k in enumerate(ENERGY_CATEGORIES)}
    counts = {k: float(3 * i + 2) for i, k in enumerate(COUNTERS)}
    ledger = EnergyLedger.zeros().add(**increments, **counts)
    for category, value in increments.items():
        assert float(ledger.energy_J(category)) == f32(value), category
    for name, value in counts.items():
        assert float(ledger.count(name)) == value, name
    assert float(ledger.total_J) == approx(sum(increments.values()), rel=F32)
    # Booking one entry leaves all others untouched.
    only = EnergyLedger.zeros().add(adc=5e-12)
    assert [float(only.energy_J(k)) for k in ENERGY_CATEGORIES] == [
        f32(5e-12) if k == "adc" else 0.0 for k in ENERGY_CATEGORIES
    ]
    assert all(float(only.count(n)) == 0.0 for n in COUNTERS)


def test_unknown_name_is_a_value_error_that_lists_the_known_names():
    with pytest.raises(ValueError, match="unknown ledger entries.*'sett'") as info:
        EnergyLedger.zeros().add(sett=1e-12)
    for name in ("read", "set", "mvm_vectors", "refreshes"):
        assert name in str(info.value)


def test_reading_an_unknown_entry_names_it_and_the_known_ones():
    for read, name, known in (("energy_J", "heat", "refresh"), ("count", "pulses", "set_pulses")):
        with pytest.raises(ValueError) as info:
            getattr(EnergyLedger.zeros(), read)(name)
        assert f"'{name}'" in str(info.value) and known in str(info.value), str(info.value)


# eqx.error_if raises a RuntimeError subclass (EquinoxRuntimeError eagerly and under
# eqx.filter_jit, jax.errors.JaxRuntimeError under jax.jit) with EQX_ON_ERROR=raise, the default.
def test_negative_energy_raises_at_run_time_eagerly():
    with pytest.raises(RuntimeError, match="negative energy booked"):
        jax.block_until_ready(EnergyLedger.zeros().add(read=-1e-12))


def test_negative_count_raises_under_filter_jit():
    book = eqx.filter_jit(lambda ledger, n: ledger.add(set_pulses=n))
    ok = book(EnergyLedger.zeros(), jnp.float32(2.0))
    assert float(ok.count("set_pulses")) == 2.0
    with pytest.raises(RuntimeError, match="negative count booked"):
        jax.block_until_ready(book(ok, jnp.float32(-1.0)))


def test_negative_increment_raises_under_jax_jit():
    book = jax.jit(lambda ledger, e: ledger.add(reset=e))
    with pytest.raises(RuntimeError, match="negative energy booked"):
        jax.block_until_ready(book(EnergyLedger.zeros(), jnp.float32(-3e-12)))


def test_plus_is_additive_and_commutative():
    a = EnergyLedger.zeros().add(read=1e-12, set=2e-12, mvm_vectors=3, set_pulses=1)
    b = EnergyLedger.zeros().add(read=4e-12, adc=5e-12, mvm_vectors=2, refreshes=7)
    for total in (a + b, b + a):
        for k in ENERGY_CATEGORIES:
            expected = float(a.energy_J(k)) + float(b.energy_J(k))
            assert float(total.energy_J(k)) == approx(expected, rel=F32, abs=0.0), k
        for n in COUNTERS:
            assert float(total.count(n)) == float(a.count(n)) + float(b.count(n)), n
    # Adding the empty ledger changes nothing.
    same = a + EnergyLedger.zeros()
    assert [float(same.energy_J(k)) for k in ENERGY_CATEGORIES] == [
        float(a.energy_J(k)) for k in ENERGY_CATEGORIES
    ]
    # Booking in two steps equals booking the sum at once.
    stepwise = EnergyLedger.zeros().add(read=1e-12).add(read=4e-12)
    assert float(stepwise.energy_J("read")) == approx(5e-12, rel=F32)


@pytest.fixture(scope="module")
def million_picojoules():
    """10^6 increments of 1 pJ in a jitted fori_loop: the ledger and a naive float32 sum."""

    @jax.jit
    def run(increment):
        def body(i, carry):
            ledger, naive = carry
            return ledger.add(read=increment, mvm_vectors=1.0), naive + increment

        return jax.lax.fori_loop(0, 10**6, body, (EnergyLedger.zeros(), jnp.float32(0.0)))

    return run(jnp.float32(1e-12))


def test_kahan_summation_keeps_a_million_small_increments_accurate(million_picojoules):
    ledger, naive = million_picojoules
    # The exact sum of 10^6 float32(1e-12) increments (float32(1e-12) differs from 1e-12 by
    # < 6e-8 relative, far inside the 1e-6 tolerance).
    exact = 10**6 * float(np.float32(1e-12))
    assert abs(float(ledger.energy_J("read")) - exact) / exact < 1e-6
    assert abs(float(ledger.total_J) - exact) / exact < 1e-6
    assert float(ledger.count("mvm_vectors")) == 1e6
    # Without compensation float32 loses ~half an ulp of the running total per addition:
    # the same loop summed naively is off by ~1 %, so the test above can tell the difference.
    assert abs(float(naive) - exact) / exact > 1e-3


def test_a_booking_in_a_loop_compiles_to_one_kernel_per_running_sum():
    """Sums and their Kahan errors share one (2, n) array so that XLA computes a booking's
    compensated addition in one kernel per array (kept apart: three kernels each, and the
    ideal tile's digits step ran 49 kernels instead of 39; benchmarks/README.md)."""

    def booked(ledger, xs):
        def book(ledger, x):
            return ledger.add(read=x, set=2 * x, mvm_vectors=x, device_reads=3 * x), None

        return jax.lax.scan(book, ledger, xs)[0]

    xs = jnp.full(5, 0.1, jnp.float32)
    hlo = jax.jit(booked).lower(EnergyLedger.zeros(), xs).compile().as_text()
    kernels = re.findall(r"^\s*%\S+ = (f32\[[\d,]*\])\S* fusion\(", hlo, re.M)
    # The two increment vectors, then one compensated addition per running sum.
    assert sorted(kernels) == ["f32[15]", "f32[2,15]", "f32[2,6]", "f32[6]"]
    ledger = booked(EnergyLedger.zeros(), xs)
    assert float(ledger.energy_J("set")) == approx(f32(1.0), rel=F32)
    assert float(ledger.count("device_reads")) == approx(1.5, rel=F32)


def test_per_mvm_and_per_update_event():
    ledger = EnergyLedger.zeros().add(
        read=3e-12,
        dac=1e-12,
        adc=4e-12,
        set=10e-12,
        reset=6e-12,
        refresh=4e-12,
        mvm_vectors=4,
        update_events=5,
    )
    # Inference energy is read + DAC + ADC per input vector; programming energy is
    # SET + RESET + refresh per synaptic update event.
    assert float(ledger.per_mvm_J) == approx((3 + 1 + 4) * 1e-12 / 4, rel=F32)
    assert float(ledger.per_update_event_J) == approx((10 + 6 + 4) * 1e-12 / 5, rel=F32)
    # Energy without events (e.g. a refresh before any update) reports 0, not inf.
    assert float(EnergyLedger.zeros().add(refresh=1e-12).per_update_event_J) == 0.0


def test_breakdown_adds_up_and_table_names_every_category_and_counter():
    ledger = EnergyLedger.zeros().add(
        read=1e-12, set=2e-9, reset=3e-6, dac=4e-15, adc=5e-12, refresh=6e-3, mvm_vectors=2
    )
    breakdown = ledger.breakdown()
    assert set(breakdown) == {*ENERGY_CATEGORIES, "total"}
    assert all(isinstance(v, float) for v in breakdown.values())
    parts = sum(breakdown[k] for k in ENERGY_CATEGORIES)
    assert breakdown["total"] == approx(parts, rel=F32)
    table = ledger.table()
    lines = [line for line in table.splitlines() if line.strip()]
    for category in (*ENERGY_CATEGORIES, "total"):
        assert any(line.split()[0] == category for line in lines), category
    for name in COUNTERS:
        assert any(line.split()[0] == name for line in lines), name
    assert re.search(r"^E_mvm +[\d.]+ [mµnpf]?J  per MVM vector$", table, re.M)
    assert re.search(r"^E_update +[\d.]+ [mµnpf]?J  per update event$", table, re.M)
    # The largest share (refresh, 6 mJ of ~6.003 mJ) is shown as such.
    refresh_line = next(line for line in lines if line.startswith("refresh"))
    assert "99.9%" in refresh_line and "mJ" in refresh_line
