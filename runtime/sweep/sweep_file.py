"""The sweep file: every point's axis values, final metrics and energies, and histories.

Layout (HDF5):
    attrs: job_yaml (the swept job as given), keys (the axes' keys, in order), zip (groups
        as "a,b;c,d"), n_points
    /points/<key> (n_points,): each point's value of the axis (numbers, else strings)
    /done (n_points,) bool: the point's run finished
    /final/<name> (n_points,) float64: the run's /final scalars (NaN: not done or absent)
    /energy/<name> (n_points,) float64: the run's /energy attributes (per sample, per update…)
    /history/<i>/<name>: point i's /metrics (its history of the run, own length per point)
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import h5py
import numpy as np

from ...hw_configs.files import atomic_write_bytes

__all__ = ["SweepRecord", "write_sweep_file", "read_sweep_file", "is_sweep_file", "stored_points"]


@dataclasses.dataclass
class SweepRecord:
    """What a sweep file holds (see the module docstring)."""

    job_yaml: str
    keys: tuple[str, ...]
    zipped: tuple[tuple[str, ...], ...]
    points: list[dict]
    done: np.ndarray
    final: dict[str, np.ndarray]
    energy: dict[str, np.ndarray]
    history: dict[int, dict[str, np.ndarray]]


def _column(values) -> np.ndarray:
    if all(isinstance(v, bool) for v in values):
        return np.asarray(values, bool)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return np.asarray(values)
    return np.asarray([str(v) for v in values], dtype=h5py.string_dtype())


def stored_points(keys, points: list[dict]) -> list[dict]:
    """``points`` as a sweep file gives them back (an axis of numbers and words is stored as
    words, one of ints and floats as floats): what a resumed sweep compares with."""
    columns = {k: [_value(v) for v in _column([p[k] for p in points])] for k in keys}
    return [{k: columns[k][i] for k in keys} for i in range(len(points))]


def write_sweep_file(path: str | Path, record: SweepRecord) -> None:
    """Write ``record`` atomically (an interrupted sweep leaves the previous file whole)."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs["job_yaml"] = record.job_yaml
        f.attrs["keys"] = ",".join(record.keys)
        f.attrs["zip"] = ";".join(",".join(g) for g in record.zipped)
        f.attrs["n_points"] = len(record.points)
        points = f.create_group("points")
        for key in record.keys:
            points[key] = _column([p[key] for p in record.points])
        f["done"] = np.asarray(record.done, bool)
        for group, values in (("final", record.final), ("energy", record.energy)):
            g = f.create_group(group)
            for name, column in values.items():
                g[name] = np.asarray(column, np.float64)
        history = f.create_group("history")
        for i, metrics in record.history.items():
            g = history.create_group(str(i))
            for name, values in metrics.items():
                g[name] = values
    atomic_write_bytes(Path(path), buffer.getvalue())


def _value(x):
    if isinstance(x, bytes):
        return x.decode()
    return x.item() if hasattr(x, "item") else x


def is_sweep_file(path: str | Path) -> bool:
    """Whether ``path`` is an HDF5 file written by :func:`write_sweep_file`."""
    try:
        with h5py.File(path, "r") as f:
            return "points" in f and "keys" in f.attrs
    except OSError:
        return False


def read_sweep_file(path: str | Path) -> SweepRecord:
    """Read a sweep file written by :func:`write_sweep_file`."""
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise OSError(f"{path}: not a readable sweep file ({err})") from None
    with f:
        if "points" not in f or "keys" not in f.attrs:
            raise ValueError(f"{path}: not a sweep file of 'memxbar sweep' (no /points)")
        keys = tuple(k for k in str(f.attrs["keys"]).split(",") if k)
        zipped = tuple(tuple(g.split(",")) for g in str(f.attrs["zip"]).split(";") if g)
        n = int(f.attrs["n_points"])
        columns = {k: [_value(v) for v in f["points"][k][()]] for k in keys}
        return SweepRecord(
            job_yaml=str(f.attrs["job_yaml"]),
            keys=keys,
            zipped=zipped,
            points=[{k: columns[k][i] for k in keys} for i in range(n)],
            done=f["done"][()].astype(bool),
            final={name: d[()] for name, d in f["final"].items()},
            energy={name: d[()] for name, d in f["energy"].items()},
            history={
                int(i): {name: d[()] for name, d in g.items()} for i, g in f["history"].items()
            },
        )
