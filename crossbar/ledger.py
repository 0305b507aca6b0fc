"""The energy ledger every tile carries: joules and counts per category."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = ["EnergyLedger", "ENERGY_CATEGORIES", "COUNTERS", "format_joules"]

#: Energy categories (J). ``refresh`` holds everything a refresh costs (its reads and pulses).
ENERGY_CATEGORIES = ("read", "set", "reset", "dac", "adc", "refresh")

#: Counters. ``latency_s`` accumulates estimated busy time of the tile (s).
COUNTERS = (
    "mvm_vectors",  # input vectors sent through the array (forward or transposed)
    "device_reads",  # device read events (one device under one read pulse)
    "set_pulses",
    "reset_pulses",
    "dac_conversions",
    "adc_conversions",
    "update_events",  # synapses whose requested change produced at least one pulse
    "update_calls",  # calls of update / update_outer
    "weight_reads",  # full-array weight reads
    "refreshes",  # synapses (device pairs) refreshed
    "latency_s",
)


def _kahan(total, error, increment):
    """Compensated addition, so float32 sums of millions of pJ stay accurate to ~1e-14."""
    y = increment - error
    t = total + y
    return t, (t - total) - y


class EnergyLedger(eqx.Module):
    """Joules per category and event counters; additive, never negative, a pytree.

    Sums are float32 with Kahan compensation (``*_err`` hold the running error), so long
    runs neither overflow an integer nor lose small increments to rounding.
    """

    joules: Float[Array, " 6"]
    joules_err: Float[Array, " 6"]
    counts: Float[Array, " 11"]
    counts_err: Float[Array, " 11"]

    @classmethod
    def zeros(cls) -> EnergyLedger:
        """An empty ledger."""
        e = jnp.zeros(len(ENERGY_CATEGORIES), jnp.float32)
        c = jnp.zeros(len(COUNTERS), jnp.float32)
        return cls(e, e, c, c)

    def add(self, **increments) -> EnergyLedger:
        """Book increments by name: energy categories in J (``read=...``), counters by name.

        Increments must be non-negative scalars; a negative one raises at run time.
        """
        unknown = set(increments) - set(ENERGY_CATEGORIES) - set(COUNTERS)
        if unknown:
            raise ValueError(
                f"unknown ledger entries {sorted(unknown)}; "
                f"energies: {ENERGY_CATEGORIES}, counters: {COUNTERS}"
            )
        e_inc = jnp.stack(
            [jnp.asarray(increments.get(k, 0.0), jnp.float32) for k in ENERGY_CATEGORIES]
        )
        c_inc = jnp.stack([jnp.asarray(increments.get(k, 0.0), jnp.float32) for k in COUNTERS])
        e_inc = eqx.error_if(e_inc, jnp.any(e_inc < 0), "negative energy booked in the ledger")
        c_inc = eqx.error_if(c_inc, jnp.any(c_inc < 0), "negative count booked in the ledger")
        joules, joules_err = _kahan(self.joules, self.joules_err, e_inc)
        counts, counts_err = _kahan(self.counts, self.counts_err, c_inc)
        return EnergyLedger(joules, joules_err, counts, counts_err)

    def __add__(self, other: EnergyLedger) -> EnergyLedger:
        joules, joules_err = _kahan(self.joules, self.joules_err + other.joules_err, other.joules)
        counts, counts_err = _kahan(self.counts, self.counts_err + other.counts_err, other.counts)
        return EnergyLedger(joules, joules_err, counts, counts_err)

    # --- reading the ledger --------------------------------------------------------------------

    def energy_J(self, category: str):
        """Energy (J) booked under ``category`` (one of ENERGY_CATEGORIES, or 'total')."""
        if category == "total":
            return self.total_J
        i = ENERGY_CATEGORIES.index(category)
        return self.joules[..., i] - self.joules_err[..., i]

    @property
    def total_J(self):
        """Total energy (J)."""
        return jnp.sum(self.joules - self.joules_err, axis=-1)

    def count(self, name: str):
        """Value of a counter."""
        i = COUNTERS.index(name)
        return self.counts[..., i] - self.counts_err[..., i]

    @property
    def per_mvm_J(self):
        """Energy (J) of reads, DAC and ADC per input vector (0 before any MVM)."""
        inference = sum(self.energy_J(k) for k in ("read", "dac", "adc"))
        return _ratio(inference, self.count("mvm_vectors"))

    @property
    def per_update_event_J(self):
        """Programming energy (SET + RESET + refresh, J) per synaptic update event."""
        programming = sum(self.energy_J(k) for k in ("set", "reset", "refresh"))
        return _ratio(programming, self.count("update_events"))

    def breakdown(self) -> dict[str, float]:
        """Energy per category and total, in J, as Python floats."""
        out = {k: float(self.energy_J(k)) for k in ENERGY_CATEGORIES}
        out["total"] = float(self.total_J)
        return out

    def table(self) -> str:
        """A human-readable breakdown: energy per category with shares, and the counters."""
        energies = self.breakdown()
        total = energies["total"]
        lines = [f"{'category':10s} {'energy':>12s} {'share':>7s}"]
        for k in (*ENERGY_CATEGORIES, "total"):
            share = energies[k] / total if total > 0 else 0.0
            lines.append(f"{k:10s} {_joules(energies[k]):>12s} {share:7.1%}")
        lines.append("")
        for name in COUNTERS:
            value = float(self.count(name))
            shown = f"{value:.3g} s" if name == "latency_s" else f"{value:.6g}"
            lines.append(f"{name:16s} {shown:>14s}")
        lines.append(f"{'per MVM vector':16s} {_joules(float(self.per_mvm_J)):>14s}")
        lines.append(f"{'per update event':16s} {_joules(float(self.per_update_event_J)):>14s}")
        return "\n".join(lines)


def _ratio(numerator, denominator):
    return jnp.where(denominator > 0, numerator / jnp.maximum(denominator, 1.0), 0.0)


def format_joules(value: float) -> str:
    """``value`` (J) with an engineering prefix, e.g. ``'2.56 pJ'``."""
    return _joules(value)


def _joules(value: float) -> str:
    for prefix, scale in (("", 1.0), ("m", 1e-3), ("µ", 1e-6), ("n", 1e-9), ("p", 1e-12)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {prefix}J"
    return f"{value / 1e-15:.4g} fJ"
