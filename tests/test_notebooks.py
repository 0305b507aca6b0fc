"""Every notebook is a py:percent jupytext notebook that survives a round trip through .ipynb,
and a test runs it (the notebooks' own tests check what they print and draw)."""

from __future__ import annotations

import re

import jupytext
import pytest
from support import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.py"))
#: The version stamp jupytext adds to the header when it writes a file.
STAMP = re.compile(r"^#       (format_version|jupytext_version): .*\n", re.M)


def test_the_notebooks_are_found():
    assert [p.name for p in NOTEBOOKS][:5] == [
        "01_pcm_devices.py",
        "02_crossbar.py",
        "03_softhebb_on_chip.py",
        "04_softhebb_mnist.py",
        "05_fstdp.py",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_py_percent_and_round_trips(path):
    text = path.read_text(encoding="utf-8")
    notebook = jupytext.reads(text, fmt="py:percent")
    assert notebook.metadata["jupytext"]["formats"] == "py:percent"
    kinds = [cell.cell_type for cell in notebook.cells]
    # Prose first, then prose and code in turn.
    assert kinds[0] == "markdown" and kinds.count("markdown") >= 3 and kinds.count("code") >= 3
    # Through .ipynb (what Jupyter opens) and back: the same cells, and jupytext writes the
    # file exactly as it is (apart from its version stamp), so no edit is lost or reformatted.
    again = jupytext.reads(jupytext.writes(notebook, fmt="ipynb"), fmt="ipynb")
    cells = [(cell.cell_type, cell.source) for cell in notebook.cells]
    assert [(cell.cell_type, cell.source) for cell in again.cells] == cells
    assert STAMP.sub("", jupytext.writes(again, fmt="py:percent")) == text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_test_runs_the_notebook(path):
    named = f'NOTEBOOK = REPO / "notebooks" / "{path.name}"'
    runners = [
        test.name
        for test in sorted((REPO / "tests").glob("test_*.py"))
        if named in (text := test.read_text(encoding="utf-8")) and "run_notebook(NOTEBOOK" in text
    ]
    assert len(runners) == 1, runners
