"""The associative retrieval task (Ba et al., NeurIPS 2016), generated from a seed.

A sequence shows three (letter, digit) pairs with distinct letters, then "??", then one of
the three letters; the target is the digit that was paired with it ("a1b2c3??b" → 2). The
vocabulary has 37 symbols: the 26 letters (indices 0–25), the 10 digits (26–35) and '?'
(36). Digits may repeat across pairs; letters do not. Inputs are one-hot vectors of the
symbols; the target is the digit's symbol index, so a classifier has 37 outputs as in the
STPN paper (Garcia Rodriguez, Guo, Moraitis, ICML 2022), which uses this task.

Each split draws from its own stream of the seed (``SeedSequence([seed, split])``), so the
test set does not change with the size of the training set.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = [
    "VOCABULARY",
    "N_SYMBOLS",
    "SEQUENCE_LENGTH",
    "PAIRS",
    "AssocSplits",
    "assoc_sequences",
    "assoc_splits",
    "decode",
]

VOCABULARY = "abcdefghijklmnopqrstuvwxyz0123456789?"
N_SYMBOLS = len(VOCABULARY)
PAIRS = 3
#: Three pairs, "??", the query.
SEQUENCE_LENGTH = 2 * PAIRS + 3
_LETTERS, _DIGIT0, _QUESTION = 26, 26, 36
_SPLITS = {"train": 0, "validation": 1, "test": 2}


@dataclasses.dataclass(frozen=True)
class AssocSplits:
    """Token sequences (n, 9) int8 and targets (n,) int32 (symbol indices) of each split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_validation: np.ndarray
    y_validation: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def assoc_sequences(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences (n, 9) of symbol indices and their targets (n,)."""
    if n < 0:
        raise ValueError(f"assoc_sequences: n must be ≥ 0, got {n}")
    # Three distinct letters per row: the first three of a random permutation.
    keys = np.argsort(rng.random((n, _LETTERS)), axis=1)[:, :PAIRS]
    digits = rng.integers(0, 10, size=(n, PAIRS)) + _DIGIT0
    which = rng.integers(0, PAIRS, size=n)
    x = np.empty((n, SEQUENCE_LENGTH), np.int8)
    x[:, 0 : 2 * PAIRS : 2] = keys
    x[:, 1 : 2 * PAIRS : 2] = digits
    x[:, 2 * PAIRS : 2 * PAIRS + 2] = _QUESTION
    rows = np.arange(n)
    x[:, -1] = keys[rows, which]
    return x, digits[rows, which].astype(np.int32)


def assoc_splits(
    seed: int, *, n_train: int = 100_000, n_validation: int = 10_000, n_test: int = 20_000
) -> AssocSplits:
    """The train / validation / test splits of ``seed`` (the STPN paper's sizes by default)."""
    for name, n in (("n_train", n_train), ("n_validation", n_validation), ("n_test", n_test)):
        if not (isinstance(n, int) and n >= 1):
            raise ValueError(f"assoc_splits: {name} must be a positive integer, got {n!r}")
    out = {}
    for split, n in (("train", n_train), ("validation", n_validation), ("test", n_test)):
        rng = np.random.default_rng(np.random.SeedSequence([seed, _SPLITS[split]]))
        out[f"x_{split}"], out[f"y_{split}"] = assoc_sequences(n, rng)
    return AssocSplits(**out)


def decode(tokens) -> str:
    """The text of a token sequence, e.g. 'a1b2c3??b'."""
    return "".join(VOCABULARY[int(t)] for t in tokens)
