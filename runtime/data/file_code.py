"""Correlative time coding of file metadata: similar files give overlapping spike patterns.

The spiking file classifier (Stanojevic, Cherubini, Moraitis et al. 2020; issue 15) sees a
file as spikes: each metadata key owns a group of input neurons, and a file's value of that
key becomes a few (neuron, time step) events within the group, over a presentation window of
``steps`` time steps.

- **Nominal** keys (extension, owner, group, permission bits, each directory level's name):
  a value is hashed with the code's seed to ``events_per_value`` distinct neurons of the
  key's group, each at a hashed time step. The same value always gives the same events;
  two different values share a given event only by a hash collision, with probability about
  ``events_per_value / (neurons_per_key · steps)`` per event.
- **Ordinal** keys (log size, log age, depth): the group's neurons have preferred values
  evenly spaced over the key's range; a neuron fires when the value is within ``width``
  preferred-value spacings of its own (reach R), later the farther it is: at latency level
  ``floor(levels · |v − c| / R)`` of ``levels`` levels spread over the first half of the
  window for neurons at or below the value (c ≤ v), over the second half for those above
  (so that a neuron between two values never fires alike for both). Near values therefore
  share neurons and spike times (a small change moves only the neurons at a level boundary),
  and the shared part falls with the difference, to 0 once it exceeds a level (R / levels).

The overlap of two files' patterns (events in common) is thus, up to collisions, the sum over
the nominal keys on which they agree of ``events_per_value`` plus, per ordinal key, a term
that decreases with the difference of their values: it tracks how many key–values the files
share (tests check the monotony). Hashing uses BLAKE2b keyed by the seed, so codes are the
same on every machine and Python version.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["CorrelativeTimeCode", "OrdinalKey", "overlap"]


@dataclasses.dataclass(frozen=True)
class OrdinalKey:
    """An ordinal key and the range its values are clipped to (``low`` < ``high``)."""

    name: str
    low: float
    high: float

    def __post_init__(self):
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(
                f"OrdinalKey {self.name!r}: expected finite low < high, got {self.low}, {self.high}"
            )


@dataclasses.dataclass(frozen=True)
class CorrelativeTimeCode:
    """The code of a fixed set of keys (see the module docstring).

    Attributes:
        nominal: names of the nominal keys, in input order.
        ordinal: the ordinal keys, after the nominal ones.
        neurons_per_key: input neurons of each key's group.
        events_per_value: events of one nominal value (≤ neurons_per_key).
        steps: time steps of one presentation.
        width: an ordinal neuron's reach, in spacings of the preferred values (> 0).
        levels: latency levels of an ordinal neuron's spike (1 … steps // 2).
        seed: the hash seed (≥ 0).
    """

    nominal: tuple[str, ...]
    ordinal: tuple[OrdinalKey, ...] = ()
    neurons_per_key: int = 32
    events_per_value: int = 4
    steps: int = 20
    width: float = 8.0
    levels: int = 3
    seed: int = 0

    def __post_init__(self):
        names = [*self.nominal, *(k.name for k in self.ordinal)]
        if not names:
            raise ValueError("CorrelativeTimeCode: no keys")
        if len(set(names)) != len(names):
            raise ValueError(f"CorrelativeTimeCode: duplicate keys in {names}")
        for name, value, low in (
            ("neurons_per_key", self.neurons_per_key, 1),
            ("steps", self.steps, 1),
            ("events_per_value", self.events_per_value, 1),
            ("seed", self.seed, 0),
            ("levels", self.levels, 1),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(
                    f"CorrelativeTimeCode: {name} must be an integer ≥ {low}, got {value!r}"
                )
        if self.events_per_value > self.neurons_per_key:
            raise ValueError(
                f"CorrelativeTimeCode: events_per_value ({self.events_per_value}) exceeds "
                f"neurons_per_key ({self.neurons_per_key})"
            )
        if self.ordinal and 2 * self.levels > self.steps:
            raise ValueError(
                f"CorrelativeTimeCode: 2 × levels ({self.levels}) exceeds steps ({self.steps})"
            )
        if not (math.isfinite(self.width) and self.width > 0):
            raise ValueError(f"CorrelativeTimeCode: width must be > 0, got {self.width!r}")

    @property
    def keys(self) -> tuple[str, ...]:
        return (*self.nominal, *(k.name for k in self.ordinal))

    @property
    def n_inputs(self) -> int:
        """Input neurons: one group per key."""
        return len(self.keys) * self.neurons_per_key

    def _digest(self, key: str, value: str) -> bytes:
        h = hashlib.blake2b(digest_size=64, key=self.seed.to_bytes(8, "little"))
        h.update(key.encode("utf-8", "surrogateescape") + b"\x00")
        h.update(value.encode("utf-8", "surrogateescape"))
        return h.digest()

    def _nominal_events(self, group: int, key: str, value: str) -> tuple[tuple[int, int], ...]:
        return _nominal_events(self, group, key, value)

    def _ordinal_events(self, group: int, key: OrdinalKey, value: float) -> list[tuple[int, int]]:
        if not math.isfinite(value):
            raise ValueError(f"ordinal key {key.name!r}: expected a finite number, got {value!r}")
        n = self.neurons_per_key
        spacing = (key.high - key.low) / max(n - 1, 1)
        v = min(max(value, key.low), key.high)
        reach = self.width * spacing
        half = self.steps // 2
        per_level = 0 if self.levels == 1 else (half - 1) / (self.levels - 1)
        preferred = key.low + np.arange(n) * spacing
        distance = np.abs(v - preferred)
        near = np.flatnonzero(distance < reach)
        level = np.minimum((self.levels * distance[near] / reach).astype(np.int64), self.levels - 1)
        side = np.where(preferred[near] <= v, 0, half)
        steps = side + np.round(level * per_level).astype(np.int64)
        return [(group * n + int(i), int(t)) for i, t in zip(near, steps, strict=True)]

    def events(self, record: Mapping[str, object]) -> list[tuple[int, int]]:
        """The (input neuron, time step) events of one file's ``record`` (key → value; nominal
        values as strings, ordinal ones as numbers). A missing key raises ValueError naming
        it."""
        out = []
        for group, key in enumerate(self.nominal):
            if key not in record:
                raise ValueError(
                    f"file record has no key {key!r} (the code needs {list(self.keys)})"
                )
            out += _nominal_events(self, group, key, str(record[key]))
        for j, key in enumerate(self.ordinal):
            if key.name not in record:
                raise ValueError(
                    f"file record has no key {key.name!r} (the code needs {list(self.keys)})"
                )
            out += self._ordinal_events(len(self.nominal) + j, key, float(record[key.name]))
        return sorted(set(out))

    def raster(self, records: Sequence[Mapping[str, object]]) -> np.ndarray:
        """Dense patterns (n_files, steps, n_inputs) of 0/1 (uint8) for ``records``."""
        out = np.zeros((len(records), self.steps, self.n_inputs), np.uint8)
        for i, record in enumerate(records):
            for neuron, t in self.events(record):
                out[i, t, neuron] = 1
        return out


@functools.lru_cache(maxsize=65536)
def _nominal_events(
    code: CorrelativeTimeCode, group: int, key: str, value: str
) -> tuple[tuple[int, int], ...]:
    # Cached: a scan repeats its owners, modes and directory names thousands of times.
    rng = np.random.default_rng(list(code._digest(key, value)))
    neurons = rng.choice(code.neurons_per_key, size=code.events_per_value, replace=False)
    times = rng.integers(0, code.steps, size=code.events_per_value)
    base = group * code.neurons_per_key
    return tuple((base + int(n), int(t)) for n, t in zip(neurons, times, strict=True))


def overlap(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> int:
    """Events two patterns share (same neuron at the same step)."""
    return len(set(a) & set(b))
