"""benchmarks/crossbar.py: the timed rows, and what each call returns."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from memxbar.crossbar import EnergyLedger

REPO = Path(__file__).resolve().parents[1]


def _script(name):
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}", REPO / "benchmarks" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Slow: the rows compile ten programs (~15 s), and the default suite is near its 10 minutes.
@pytest.mark.slow
def test_every_tile_row_returns_its_outputs_and_the_energy_it_booked():
    rows = _script("crossbar").rows(n=16, batch=4)
    keys = [key for key, *_ in rows]
    assert len(set(keys)) == len(keys) and {"fresh", "cached", "update"} <= set(keys)
    # benchmarks/ab.py times the rows by key.
    for workload in _script("ab").WORKLOADS:
        family, _, key = workload.partition("-")
        assert family != "crossbar" or key in keys, workload
    for key, label, fn, make_args, reference in rows:
        assert rows[reference][0].startswith("matmul"), label
        out = fn(*make_args(1))
        if key.startswith("matmul"):
            continue
        # The ledger comes back, so XLA cannot drop the energy booking from the timed call.
        outputs, ledger = out
        assert isinstance(ledger, EnergyLedger), label
        assert np.all(np.isfinite(np.asarray(outputs))), label
        assert float(ledger.total_J) >= 0.0, label
        if key != "ideal":
            assert float(ledger.total_J) > 0.0, label
