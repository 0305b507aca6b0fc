"""benchmarks/dispatch.py: a chunk call's cost beyond its program, row by row (no timing is
asserted: speed is measured in benchmarks/, never in tests)."""

import re

import pytest
from support import benchmark_output


@pytest.mark.slow  # four programs compiled in a fresh process (~15 s)
def test_the_four_rows_are_printed_with_their_cost_beyond_the_program():
    out = benchmark_output("dispatch.py", "--repeats", "3", "--steps", "2")
    assert "2 step(s) per call, median of 3" in out
    rows = dict(
        re.findall(
            r"^  (program alone|train_chunk|eqx\.filter_jit|float rule) +([\d.]+)", out, re.M
        )
    )
    assert set(rows) == {"program alone", "train_chunk", "eqx.filter_jit", "float rule"}
    assert all(float(ms) > 0 for ms in rows.values())
    beyond = re.findall(
        r"^  (?:program alone|train_chunk|eqx\.filter_jit) +[\d.]+ +(-?[\d.]+)$", out, re.M
    )
    assert len(beyond) == 3 and float(beyond[0]) == 0.0
