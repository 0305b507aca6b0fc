"""Test-suite setup: makes tests/support.py importable as ``support`` (tests run with
--import-mode=importlib). Tolerances come from ``support.approx``, never a patched pytest."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
