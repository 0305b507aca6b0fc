"""The one check every data loader makes of its class labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["check_labels"]


def check_labels(path: str | Path, labels: np.ndarray, low: int, high: int) -> None:
    """Raise a ValueError naming ``path`` unless every label is in ``low`` … ``high``.

    A label outside the classes would not fail later: the readout's one-hot encoding turns it
    into an all-zero row and the accuracy quietly counts it as a miss. The message gives the
    first offending value and its index (0-based, in file order).
    """
    labels = np.asarray(labels)
    bad = np.flatnonzero((labels < low) | (labels > high))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{path}: label {labels[i]} at index {i} is outside {low}–{high} "
            f"({bad.size} of {labels.size} labels are)"
        )
