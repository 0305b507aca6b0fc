"""Measured pulse data of PCM devices: the CSV format, its strict reader and its writer.

One row per read of one device::

    device,pulse,G_uS,t_read_s,read_index
    d0001,0,0.0981,0,0
    d0001,0,0.1123,0,1
    d0001,1,2.213,0,0
    ...

- ``device``: a label (any non-empty text); each device was RESET once, then fired SET pulses.
- ``pulse``: SET pulses fired since that RESET (integer ≥ 0; 0 is the RESET state).
- ``G_uS``: the conductance read, µS (finite, ≥ 0). Any SI prefix the presets accept may be
  used instead (``G_nS``, ``G_S``).
- ``t_read_s`` (optional, default 0): time of the read after that pulse, s (≥ 0). The next
  pulse follows the last read of the previous one, so reads at several times after the last
  pulse measure drift. Other prefixes work here too (``t_read_ms``).
- ``read_index`` (optional): tells repeated reads of the same device, pulse and time apart
  (an integer ≥ 0, unique per device, pulse and time). Without the column, rows with the same
  device, pulse and time are repeated reads.

Every device must have been measured the same way (the same pulses, read times and number of
reads; the :class:`Design`); lines starting with ``#`` and blank lines are skipped.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from pathlib import Path

import numpy as np

from ...hw_configs import brief
from ...hw_configs.files import atomic_write_bytes
from ...hw_configs.units import key_factor, key_spellings

__all__ = [
    "COLUMNS",
    "Design",
    "MeasurementError",
    "Measurements",
    "read_measurements",
    "write_measurements",
]

#: The columns of a measurements file (their SI field names) and whether each is required.
COLUMNS = {"device": True, "pulse": True, "G_S": True, "t_read_s": False, "read_index": False}


class MeasurementError(ValueError):
    """A measurements file is unusable; the message names the file, the line and the column."""


@dataclasses.dataclass(frozen=True)
class Design:
    """How every device was measured: K read points, each a (pulse, read time) pair.

    Attributes:
        pulse: SET pulses since the RESET at each point, shape ``(K,)``, sorted.
        t_read_s: time of the reads after that pulse (s), shape ``(K,)``, sorted per pulse.
        reads: repeated reads at each point, shape ``(K,)``, each ≥ 1.
    """

    pulse: np.ndarray
    t_read_s: np.ndarray
    reads: np.ndarray

    @property
    def points(self) -> int:
        return int(self.pulse.shape[0])

    @property
    def max_reads(self) -> int:
        return int(self.reads.max())

    def read_mask(self) -> np.ndarray:
        """Which of ``max_reads`` read slots each point uses, boolean ``(K, max_reads)``."""
        return np.arange(self.max_reads)[None, :] < self.reads[:, None]

    def stages(self) -> np.ndarray:
        """The distinct pulse numbers, in order: the states the devices pass through."""
        return np.unique(self.pulse)

    def stage_of_point(self) -> np.ndarray:
        """Index into :meth:`stages` of each point, ``(K,)``."""
        return np.searchsorted(self.stages(), self.pulse)

    def pulses_fired(self) -> np.ndarray:
        """SET pulses fired to reach each stage from the previous one (from the RESET first)."""
        return np.diff(self.stages(), prepend=0)

    def stage_times_s(self) -> np.ndarray:
        """Chip time (s) of each stage's pulses, counted from the RESET at 0 s: the next pulse
        follows the last read of the stage before."""
        last_read = np.zeros(self.stages().shape[0])
        np.maximum.at(last_read, self.stage_of_point(), self.t_read_s)
        return np.concatenate([[0.0], np.cumsum(last_read)[:-1]])

    def curve_points(self) -> np.ndarray:
        """Index of the first read point of each stage: the SET curve, ``(n_stages,)``."""
        return np.searchsorted(self.pulse, self.stages())

    def drift_points(self) -> np.ndarray:
        """Index of the points of the stage read at most times (the drift reads), in time order;
        empty when no stage is read at two or more times."""
        stage = self.stage_of_point()
        counts = np.bincount(stage)
        if counts.max() < 2:
            return np.zeros(0, int)
        return np.flatnonzero(stage == counts.argmax())

    def describe(self) -> str:
        """One line: stages, pulses, read times and reads."""
        times = np.unique(self.t_read_s)
        shown = ", ".join(f"{t:g}" for t in times[:6]) + (", …" if times.size > 6 else "")
        reads = np.unique(self.reads)
        return (
            f"{self.stages().size} pulse numbers ({self.pulse.min()}…{self.pulse.max()}), "
            f"read times {shown} s, {'/'.join(str(r) for r in reads)} read(s) per point"
        )


@dataclasses.dataclass(frozen=True)
class Measurements:
    """Conductances read from ``D`` devices measured with one :class:`Design`.

    Attributes:
        devices: the device labels, ``D`` of them.
        design: the read points every device shares.
        g_S: conductance reads (S), shape ``(D, K, max_reads)``; slots past a point's number of
            reads hold 0 and are masked out (:meth:`Design.read_mask`).
        source: the file the data came from (or a description of their origin).
    """

    devices: tuple[str, ...]
    design: Design
    g_S: np.ndarray
    source: str = ""

    @property
    def n_devices(self) -> int:
        return len(self.devices)


# --- reading ---------------------------------------------------------------------------------


def _column_keys(header: list[str], path: str) -> dict[str, tuple[int, float]]:
    """Field name → (column index, factor to SI) for the columns of ``header``."""
    found: dict[str, tuple[int, float]] = {}
    for index, name in enumerate(header):
        field = next((f for f in COLUMNS if name in key_spellings(f)), None)
        if field is None:
            known = ", ".join(k.replace("_S", "_uS") for k in COLUMNS)
            raise MeasurementError(
                f"{path}, line 1, column '{name}': not a known column (known: {known})"
            )
        if field in found:
            raise MeasurementError(
                f"{path}, line 1, column '{name}': gives '{header[found[field][0]]}' again"
            )
        found[field] = (index, key_factor(name, field))
    for field, required in COLUMNS.items():
        if required and field not in found:
            shown = "G_uS" if field == "G_S" else field
            raise MeasurementError(
                f"{path}, line 1: the column '{shown}' is missing (header: {','.join(header)})"
            )
    return found


def _number(text: str, where: str, *, integer: bool) -> float | int:
    """A finite number ≥ 0 (an integer if ``integer``) from ``text``, else MeasurementError."""
    what = "an integer ≥ 0" if integer else "a finite number ≥ 0"
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise MeasurementError(f"{where}: expected {what}, got {brief(text)}") from None
    if not math.isfinite(value) or value < 0:
        raise MeasurementError(f"{where}: expected {what}, got {brief(text)}")
    return value


def _rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line number, fields)]) of a CSV file, comments and blank lines skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MeasurementError(f"{path}: file does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise MeasurementError(f"{path}: cannot be read ({err})") from None
    rows = [
        (number, fields)
        for number, fields in enumerate(csv.reader(io.StringIO(text)), start=1)
        if fields and any(f.strip() for f in fields) and not fields[0].lstrip().startswith("#")
    ]
    if not rows:
        raise MeasurementError(f"{path}: no header line (expected device,pulse,G_uS,...)")
    return [f.strip() for f in rows[0][1]], rows[1:]


def read_measurements(path: str | Path) -> Measurements:
    """Read and check a measurements CSV file (format: this module's docstring).

    Raises:
        MeasurementError (a ValueError): the file is missing, a line has the wrong number of
            fields, a value is not what its column needs, a read is given twice, or devices
            were measured differently; the message names the file, the line and the column.
    """
    path = Path(path)
    header, rows = _rows(path)
    columns = _column_keys(header, str(path))
    if not rows:
        raise MeasurementError(f"{path}: no data rows after the header")
    names = {field: header[index] for field, (index, _) in columns.items()}
    reads: dict[str, dict[tuple[int, float], dict[int, tuple[float, int]]]] = {}
    for line, fields in rows:
        where = f"{path}, line {line}"
        if len(fields) != len(header):
            raise MeasurementError(
                f"{where}: expected {len(header)} fields ({','.join(header)}), got {len(fields)}"
            )

        def value(field, *, integer=False, default=0, line_at=where, fields=fields):
            if field not in columns:
                return default
            index, factor = columns[field]
            at = f"{line_at}, column '{names[field]}'"
            number = _number(fields[index].strip(), at, integer=integer)
            return number if integer else number * factor

        device = fields[columns["device"][0]].strip()
        if not device:
            raise MeasurementError(f"{where}, column 'device': expected a device label, got ''")
        point = (value("pulse", integer=True), value("t_read_s"))
        g = value("G_S")
        at_point = reads.setdefault(device, {}).setdefault(point, {})
        index = value("read_index", integer=True, default=len(at_point))
        if index in at_point:
            raise MeasurementError(
                f"{where}, column '{names.get('read_index', 'device')}': device {device!r}, "
                f"pulse {point[0]}, t_read {point[1]:g} s, read {index} was given before "
                f"(line {at_point[index][1]})"
            )
        at_point[index] = (g, line)
    return _assemble(reads, str(path))


def _assemble(reads: dict, source: str) -> Measurements:
    """Measurements from {device: {(pulse, t): {read index: (G in S, line)}}}; every device
    must have the first device's points and numbers of reads."""
    devices = list(reads)
    first = reads[devices[0]]
    points = sorted(first)
    counts = [len(first[p]) for p in points]
    for device in devices[1:]:
        mine = reads[device]
        line = min(line for at in mine.values() for _, line in at.values())
        for p in points:
            if p not in mine:
                raise MeasurementError(
                    f"{source}, line {line}, column 'pulse': device {device!r} has no read at "
                    f"pulse {p[0]}, t_read {p[1]:g} s, which device {devices[0]!r} has "
                    "(every device must be measured at the same pulses and times)"
                )
        for p, count in zip(points, counts, strict=True):
            if len(mine[p]) != count:
                raise MeasurementError(
                    f"{source}, line {line}, column 'read_index': device {device!r} has "
                    f"{len(mine[p])} read(s) at pulse {p[0]}, t_read {p[1]:g} s, device "
                    f"{devices[0]!r} has {count} (every device needs the same number)"
                )
        extra = sorted(set(mine) - set(first))
        if extra:
            raise MeasurementError(
                f"{source}, line {line}, column 'pulse': device {device!r} has a read at pulse "
                f"{extra[0][0]}, t_read {extra[0][1]:g} s, which device {devices[0]!r} lacks "
                "(every device must be measured at the same pulses and times)"
            )
    design = Design(
        pulse=np.array([p for p, _ in points], np.int64),
        t_read_s=np.array([t for _, t in points], np.float64),
        reads=np.array(counts, np.int64),
    )
    g = np.zeros((len(devices), design.points, design.max_reads))
    for d, device in enumerate(devices):
        for k, p in enumerate(points):
            at = reads[device][p]
            g[d, k, : len(at)] = [at[i][0] for i in sorted(at)]
    return Measurements(devices=tuple(devices), design=design, g_S=g, source=source)


# --- writing ---------------------------------------------------------------------------------


def measurements_text(measurements: Measurements, comment: str = "") -> str:
    """The CSV text of ``measurements`` (G in µS with 6 significant digits); ``comment`` lines
    go first, each prefixed with ``# ``."""
    design = measurements.design
    lines = [f"# {line}" for line in comment.splitlines()]
    lines.append("device,pulse,G_uS,t_read_s,read_index")
    g_uS = measurements.g_S / 1e-6
    for d, device in enumerate(measurements.devices):
        for k in range(design.points):
            pulse, t = int(design.pulse[k]), f"{design.t_read_s[k]:.9g}"
            lines.extend(
                f"{device},{pulse},{g_uS[d, k, r]:.6g},{t},{r}" for r in range(design.reads[k])
            )
    return "\n".join(lines) + "\n"


def write_measurements(path: str | Path, measurements: Measurements, comment: str = "") -> Path:
    """Write ``measurements`` as a CSV file (atomically); returns the path."""
    path = Path(path)
    atomic_write_bytes(path, measurements_text(measurements, comment).encode("utf-8"))
    return path
