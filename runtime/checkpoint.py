"""Atomic checkpoints of a run: the array leaves of the state plus the run's history."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from ..hw_configs.files import atomic_write_bytes

__all__ = ["save_checkpoint", "load_checkpoint"]


def save_checkpoint(path: Path, state, *, step: int, fingerprint: str, history: dict) -> None:
    """Save the array leaves of ``state``, the global step and the history arrays."""
    leaves = [np.asarray(x) for x in jax.tree.leaves(eqx.filter(state, eqx.is_array))]
    arrays = {f"leaf_{i}": leaf for i, leaf in enumerate(leaves)}
    arrays.update({f"history_{k}": np.asarray(v) for k, v in history.items()})
    meta = {"step": step, "fingerprint": fingerprint, "n_leaves": len(leaves)}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path, template, *, fingerprint: str):
    """Restore (state, step, history) saved by :func:`save_checkpoint`.

    ``template`` is a state of the same structure (e.g. freshly initialised). Raises
    ValueError when the checkpoint is unreadable or belongs to another job or seed.
    """
    try:
        # Open the file here: np.load(path) leaks its handle when the archive is corrupt.
        with open(path, "rb") as handle:
            data = np.load(handle)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            meta = json.loads(bytes(data["meta"]).decode())
            leaves = [data[f"leaf_{i}"] for i in range(meta["n_leaves"])]
            history = {
                k[len("history_") :]: data[k] for k in data.files if k.startswith("history_")
            }
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: not a readable memxbar checkpoint ({err})") from None
    if meta["fingerprint"] != fingerprint:
        raise ValueError(
            f"{path}: checkpoint belongs to another job or seed; delete it or run without --resume"
        )
    arrays, static = eqx.partition(template, eqx.is_array)
    old = jax.tree.leaves(arrays)
    if len(old) != len(leaves) or any(a.shape != b.shape for a, b in zip(old, leaves, strict=True)):
        raise ValueError(f"{path}: checkpoint does not match the job's state layout")
    restored = jax.tree.unflatten(
        jax.tree.structure(arrays),
        [jax.numpy.asarray(x, a.dtype) for x, a in zip(leaves, old, strict=True)],
    )
    return eqx.combine(restored, static), int(meta["step"]), history
