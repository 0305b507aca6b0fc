"""Test-suite setup: makes tests/support.py importable as ``support`` (tests run with
--import-mode=importlib) and makes ``pytest.approx`` purely relative by default."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

_approx = pytest.approx


def _relative_approx(expected, rel=None, abs=None, nan_ok=False):  # noqa: A002 (pytest's names)
    """pytest.approx without its default absolute tolerance of 1e-12.

    Quantities here are in SI units: energies are ~1e-12 J and conductances ~1e-6 S, so the
    default ``abs=1e-12`` would accept any two energies as equal. Unless a test names a
    tolerance, the comparison is relative (1e-6), never absolute.
    """
    if abs is None:
        rel, abs = (1e-6 if rel is None else rel), 0.0
    return _approx(expected, rel=rel, abs=abs, nan_ok=nan_ok)


pytest.approx = _relative_approx
