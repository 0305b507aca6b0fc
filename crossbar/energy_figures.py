"""The energy figures memxbar prints, each defined once: short name, meaning and formula.

Every figure is a sum of energy categories of the ledger (:data:`.ledger.ENERGY_CATEGORIES`)
divided by a count of something. The compiler estimates some of them from the chip and device
presets (:mod:`memxbar.compiler.report`); a run measures them from its tiles' ledgers
(:mod:`memxbar.runtime.rate_experiment`, :mod:`memxbar.runtime.spiking_experiment`). Both use
the definitions here, so an estimate and a measurement of the same name are the same
quantity. The energy of the initial programming of the weights is never part of a figure.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Mapping

from .ledger import ENERGY_CATEGORIES

__all__ = [
    "EnergyFigure",
    "ENERGY_FIGURES",
    "PROGRAMMING",
    "INFERENCE",
    "figure",
    "figures_of_kind",
    "figures_table",
]

#: Energy categories of writing the weights (also of refreshing them).
PROGRAMMING = ("set", "reset", "refresh")
#: Energy categories of reading the array.
INFERENCE = ("read", "dac", "adc")


@dataclasses.dataclass(frozen=True)
class EnergyFigure:
    """One energy figure: ``sum(categories) / per``, in J.

    Attributes:
        name: short name printed with every value (``E_update``).
        meaning: one-line definition.
        categories: the ledger's energy categories summed in the numerator.
        per: what the sum is divided by (a ledger counter or a run quantity).
        when: which energy is summed (during training, the test pass, ...).
        run_attr: the attribute of ``/energy`` in the run file that holds the measurement.
        kinds: job kinds whose runs report it (``rate``, ``spiking``, ``tile``: a tile's ledger).
        estimated: whether ``memxbar compile`` estimates it.
    """

    name: str
    meaning: str
    categories: tuple[str, ...]
    per: str
    when: str
    run_attr: str
    kinds: tuple[str, ...]
    estimated: bool = False

    @property
    def formula(self) -> str:
        """The definition as a formula over ledger categories (``(set + reset + refresh) /
        update_events``)."""
        if self.categories == ENERGY_CATEGORIES:
            numerator = "total"
        else:
            numerator = "(" + " + ".join(self.categories) + ")"
        return f"{numerator} / {self.per}"

    def value(self, energies_J: Mapping[str, float], denominator: float) -> float:
        """The figure (J) from energies per category (J) and its denominator (0 when there is
        nothing to divide by)."""
        numerator = sum(float(energies_J[c]) for c in self.categories)
        return numerator / denominator if denominator > 0 else 0.0


ENERGY_FIGURES = (
    EnergyFigure(
        "E_update",
        "programming energy per synaptic update event",
        PROGRAMMING,
        "update_events",
        "during learning; a refresh is paid by the events that made it necessary",
        "per_synaptic_update_J",
        ("rate", "spiking", "recurrent", "tile"),
        estimated=True,
    ),
    EnergyFigure(
        "E_inference",
        "inference energy per test sample",
        INFERENCE,
        "test samples",
        "booked while the test set is read once after training",
        "per_inference_J",
        ("rate",),
        estimated=True,
    ),
    EnergyFigure(
        "E_mvm",
        "read energy per MVM input vector of a tile",
        INFERENCE,
        "mvm_vectors",
        "everything the tile's ledger holds",
        "",
        ("tile",),
    ),
    EnergyFigure(
        "E_sample",
        "training energy per training sample",
        ENERGY_CATEGORIES,
        "training samples",
        "during training (reads, writes and refreshes)",
        "per_sample_J",
        ("rate",),
    ),
    EnergyFigure(
        "E_step",
        "inference energy per sequence step (long-term and fast weights, readout)",
        ENERGY_CATEGORIES,
        "(test sequences x steps)",
        "booked while the test set is read once on the chip; fast-weight writes included",
        "per_sequence_step_J",
        ("recurrent",),
    ),
    EnergyFigure(
        "E_sequence",
        "inference energy per test sequence",
        ENERGY_CATEGORIES,
        "test sequences",
        "booked while the test set is read once on the chip",
        "per_sequence_J",
        ("recurrent",),
    ),
    EnergyFigure(
        "E_second",
        "learning energy per simulated second",
        ENERGY_CATEGORIES,
        "simulated seconds",
        "during the simulation",
        "per_simulated_second_J",
        ("spiking",),
    ),
    EnergyFigure(
        "E_syn_event",
        "learning energy per synaptic event (one input spike reaching one synapse)",
        ENERGY_CATEGORIES,
        "(input spikes x neurons)",
        "during the simulation",
        "per_synaptic_event_J",
        ("spiking",),
    ),
)

#: What the words in the definitions mean (printed under the table).
TERMS = (
    "synaptic update event: a synapse whose requested change fired at least one pulse (or was "
    "RESET and re-programmed), once per update call",
    "categories: read (device reads, V^2*G*t each), set / reset (SET / RESET pulses), dac / adc "
    "(conversions), refresh (all operations of refreshes); the initial programming of the "
    "weights is excluded",
    "memxbar compile estimates E_update and E_inference (its report states the assumptions); "
    "memxbar run measures every figure of its job kind; memxbar report prints both",
)


def figure(name: str) -> EnergyFigure:
    """The figure called ``name`` (``'E_update'``)."""
    for f in ENERGY_FIGURES:
        if f.name == name:
            return f
    known = ", ".join(f.name for f in ENERGY_FIGURES)
    raise ValueError(f"no energy figure {name!r} (known: {known})")


def figures_of_kind(kind: str) -> tuple[EnergyFigure, ...]:
    """The figures a run of ``kind`` (``rate``, ``spiking``) or a tile (``tile``) reports."""
    return tuple(f for f in ENERGY_FIGURES if kind in f.kinds)


def figures_table(width: int = 78) -> str:
    """The definitions as plain text of at most ``width`` columns (``memxbar --help`` prints
    it): per figure its name and meaning, then ``= formula``, then the terms used."""
    indent = 2 + max(len(f.name) for f in ENERGY_FIGURES) + 2
    lines = []
    for f in ENERGY_FIGURES:
        lines += textwrap.wrap(
            f"{f.name:{indent - 4}s}  {f.meaning}",
            width,
            initial_indent="  ",
            subsequent_indent=" " * indent,
        )
        lines += textwrap.wrap(f"= {f.formula}", width, initial_indent=" " * indent)
    for term in TERMS:
        lines += textwrap.wrap(term, width, initial_indent="  ", subsequent_indent="    ")
    return "\n".join(lines)
