"""The energy ledger every tile carries: joules and counts per category.

Accounting: every operation is booked in exactly one energy category and counted by that
category's counters (:data:`CATEGORY_COUNTERS`), so joules ÷ count is the energy of one
operation:

- ``read``: ``device_reads``, one device under one read pulse, V²·G·t_read each (V the read
  voltage scaled by the DAC input, G the device's conductance at the time of the read);
- ``set``: ``set_pulses``, the preset's ``set_pulse_J`` each (update pulses and the SET pulses of
  program-and-verify writes);
- ``reset``: ``reset_pulses``, the preset's ``reset_pulse_J`` each;
- ``dac``, ``adc``: ``dac_conversions``, ``adc_conversions``, the chip's energy per conversion;
- ``refresh``: everything a refresh does, counted apart from the categories above in
  ``refresh_device_reads``, ``refresh_set_pulses``, ``refresh_reset_pulses`` and
  ``refresh_adc_conversions`` (each at the same energy per operation as its own category), so
  that ``set_pulses`` and ``reset_pulses`` count exactly what ``set`` and ``reset`` paid for.

The other counters count events, not operations: ``mvm_vectors``, ``update_events`` (the
denominator of E_update, :mod:`.energy_figures`), ``update_calls``, ``weight_reads``,
``refreshes`` (synapses refreshed), and ``latency_s`` accumulates estimated busy time.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..hw_configs import format_joules

__all__ = [
    "EnergyLedger",
    "ENERGY_CATEGORIES",
    "COUNTERS",
    "CATEGORY_COUNTERS",
    "with_empty_ledgers",
]

#: Energy categories (J).
ENERGY_CATEGORIES = ("read", "set", "reset", "dac", "adc", "refresh")

#: The counters of the operations each energy category pays for.
CATEGORY_COUNTERS = {
    "read": ("device_reads",),
    "set": ("set_pulses",),
    "reset": ("reset_pulses",),
    "dac": ("dac_conversions",),
    "adc": ("adc_conversions",),
    "refresh": (
        "refresh_device_reads",
        "refresh_set_pulses",
        "refresh_reset_pulses",
        "refresh_adc_conversions",
    ),
}

#: Counters (see the module docstring).
COUNTERS = (
    "mvm_vectors",  # input vectors sent through the array (forward or transposed)
    "device_reads",  # device read events (one device under one read pulse), paid by 'read'
    "set_pulses",  # paid by 'set'
    "reset_pulses",  # paid by 'reset'
    "dac_conversions",  # paid by 'dac'
    "adc_conversions",  # paid by 'adc'
    "update_events",  # synapses whose requested change produced at least one pulse
    "update_calls",  # calls of update / update_outer
    "weight_reads",  # full-array weight reads
    "refreshes",  # synapses (device pairs) refreshed
    "refresh_device_reads",  # the operations of refreshes, paid by 'refresh'
    "refresh_set_pulses",
    "refresh_reset_pulses",
    "refresh_adc_conversions",
    "latency_s",
)


def _kahan(pair, increment):
    """Compensated addition of ``increment`` (..., n) to ``pair`` (..., 2, n), a running sum
    and its running error, so float32 sums of millions of pJ stay accurate to ~1e-14.

    Sum and error live in one array so that a booking is one kernel: kept apart, XLA:CPU ran
    each booking as three kernels and a copy (the ideal tile's digits step: 49 kernels, 39
    now; benchmarks/README.md, "Dispatch of a chunk, and the ledger in one array")."""
    total, error = pair[..., 0, :], pair[..., 1, :]
    y = increment - error
    t = total + y
    return jnp.stack([t, (t - total) - y], axis=-2)


#: How :meth:`EnergyLedger.add` fails on a negative increment inside compiled code, read when
#: it is traced: "default" raises (equinox's ``error_if``, a host callback), "nan" books NaN
#: instead (every energy figure then reads NaN). JAX cannot store a program that holds a host
#: callback in its persistent compilation cache; ``runtime/compilation_cache.py`` selects
#: "nan" while the command line runs with the cache on.
CHECKS = ["default"]


class EnergyLedger(eqx.Module):
    """Joules per category and event counters; additive, never negative, a pytree.

    Sums are float32 with Kahan compensation, so long runs neither overflow an integer nor
    lose small increments to rounding. Stacked ledgers (alike blocks of a tiled matrix) carry
    leading axes.

    Attributes:
        joules_pair: (..., 2, 6) the running sums of ENERGY_CATEGORIES (J) and their errors.
        counts_pair: (..., 2, 15) the running sums of COUNTERS and their errors.
    """

    joules_pair: Float[Array, "*blocks 2 6"]
    counts_pair: Float[Array, "*blocks 2 15"]

    @property
    def joules(self):
        """Running sums of ENERGY_CATEGORIES (J), before their error is taken off."""
        return self.joules_pair[..., 0, :]

    @property
    def joules_err(self):
        """Running errors of :attr:`joules` (J): the energies are joules − joules_err."""
        return self.joules_pair[..., 1, :]

    @property
    def counts(self):
        """Running sums of COUNTERS, before their error is taken off."""
        return self.counts_pair[..., 0, :]

    @property
    def counts_err(self):
        """Running errors of :attr:`counts`: the counts are counts − counts_err."""
        return self.counts_pair[..., 1, :]

    @classmethod
    def zeros(cls) -> EnergyLedger:
        """An empty ledger."""
        return cls(
            jnp.zeros((2, len(ENERGY_CATEGORIES)), jnp.float32),
            jnp.zeros((2, len(COUNTERS)), jnp.float32),
        )

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
        mode = CHECKS[0]
        e_inc = eqx.error_if(
            e_inc, jnp.any(e_inc < 0), "negative energy booked in the ledger", on_error=mode
        )
        c_inc = eqx.error_if(
            c_inc, jnp.any(c_inc < 0), "negative count booked in the ledger", on_error=mode
        )
        return EnergyLedger(_kahan(self.joules_pair, e_inc), _kahan(self.counts_pair, c_inc))

    def __add__(self, other: EnergyLedger) -> EnergyLedger:
        joules = jnp.stack([self.joules, self.joules_err + other.joules_err], axis=-2)
        counts = jnp.stack([self.counts, self.counts_err + other.counts_err], axis=-2)
        return EnergyLedger(_kahan(joules, other.joules), _kahan(counts, other.counts))

    # --- reading the ledger --------------------------------------------------------------------

    def energy_J(self, category: str):
        """Energy (J) booked under ``category`` (one of ENERGY_CATEGORIES, or 'total')."""
        if category == "total":
            return self.total_J
        i = _index(ENERGY_CATEGORIES, category, "energy category")
        return self.joules[..., i] - self.joules_err[..., i]

    @property
    def total_J(self):
        """Total energy (J)."""
        return jnp.sum(self.joules - self.joules_err, axis=-1)

    def count(self, name: str):
        """Value of a counter."""
        i = _index(COUNTERS, name, "counter")
        return self.counts[..., i] - self.counts_err[..., i]

    def _figure(self, name: str):
        # Deferred: the definitions import this module's categories.
        from .energy_figures import figure

        f = figure(name)
        return _ratio(sum(self.energy_J(k) for k in f.categories), self.count(f.per))

    @property
    def per_mvm_J(self):
        """E_mvm: energy (J) of reads, DAC and ADC per input vector (0 before any MVM)."""
        return self._figure("E_mvm")

    @property
    def per_update_event_J(self):
        """E_update: programming energy (SET + RESET + refresh, J) per synaptic update event."""
        return self._figure("E_update")

    def breakdown(self) -> dict[str, float]:
        """Energy per category and total, in J, as Python floats."""
        out = {k: float(self.energy_J(k)) for k in ENERGY_CATEGORIES}
        out["total"] = float(self.total_J)
        return out

    def values(self) -> dict[str, float]:
        """Every energy category (J) and counter as Python floats, by name."""
        out = {k: float(self.energy_J(k)) for k in ENERGY_CATEGORIES}
        return out | {name: float(self.count(name)) for name in COUNTERS}

    def table(self) -> str:
        """A human-readable breakdown: energy per category with shares, and the counters."""
        energies = self.breakdown()
        total = energies["total"]
        lines = [f"{'category':10s} {'energy':>12s} {'share':>7s}"]
        for k in (*ENERGY_CATEGORIES, "total"):
            share = energies[k] / total if total > 0 else 0.0
            lines.append(f"{k:10s} {format_joules(energies[k]):>12s} {share:7.1%}")
        lines.append("")
        for name in COUNTERS:
            value = float(self.count(name))
            shown = f"{value:.3g} s" if name == "latency_s" else f"{value:.6g}"
            lines.append(f"{name:24s} {shown:>14s}")
        per_mvm, per_update = format_joules(self.per_mvm_J), format_joules(self.per_update_event_J)
        lines.append(f"{'E_mvm':24s} {per_mvm:>14s}  per MVM vector")
        lines.append(f"{'E_update':24s} {per_update:>14s}  per update event")
        return "\n".join(lines)


def _ratio(numerator, denominator):
    return jnp.where(denominator > 0, numerator / jnp.maximum(denominator, 1.0), 0.0)


def _index(names: tuple[str, ...], name: str, what: str) -> int:
    if name not in names:
        raise ValueError(f"unknown ledger {what} {name!r}; known: {', '.join(names)}")
    return names.index(name)


def with_empty_ledgers(tree):
    """``tree`` (a tile, a tiled matrix, any pytree) with every EnergyLedger in it emptied:
    zeros of the same shapes (a tiled matrix stacks the ledgers of alike blocks)."""

    def is_ledger(x):
        return isinstance(x, EnergyLedger)

    def emptied(x):
        return jax.tree.map(jnp.zeros_like, x) if is_ledger(x) else x

    return jax.tree.map(emptied, tree, is_leaf=is_ledger)
