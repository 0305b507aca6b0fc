"""What a user installs: the license ships, the dependencies are bounded as documented, and
nothing in the repository points at folders beside it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest
from support import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_the_license_file_is_the_apache_2_text_and_ships_with_the_package():
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_text()
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert len(text) > 11_000  # the full text, not a pointer to it


def _requirements(entries):
    return {re.split(r"[<>=\[ ]", e, maxsplit=1)[0].lower(): e for e in entries}


def test_fast_moving_dependencies_are_capped_and_lint_tools_are_not_test_dependencies():
    base = _requirements(PYPROJECT["project"]["dependencies"])
    extras = PYPROJECT["project"]["optional-dependencies"]
    test = _requirements(extras["test"])
    for name in ("jax", "equinox"):  # 0.x: a minor release may remove APIs
        assert re.search(r",<0\.\d+$", base[name]), base[name]
    for name in ("pytest", "hypothesis", "jupytext"):
        assert re.search(r"^[a-z]+>=[\d.]+,<\d+$", test[name]), test[name]
    assert "ruff" not in test and "ruff" in _requirements(extras["dev"])
    # Every module the test suite imports is the standard library's, ours, or installed by
    # the package or its test extra.
    imported = set()
    for path in (REPO / "tests").glob("*.py"):
        imported |= set(re.findall(r"^(?:from|import) (\w+)", path.read_text(), re.M))
    ours = {"__future__", "memxbar"} | {path.stem for path in (REPO / "tests").glob("*.py")}
    import_names = {"pyyaml": "yaml", "scikit-learn": "sklearn"}
    provided = {import_names.get(n, n) for n in (*base, *test)}
    assert imported - set(sys.stdlib_module_names) - ours <= provided


def test_nothing_outside_the_tests_points_beside_the_repository():
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: no list of the repository's files")
    tracked = listed.stdout.split()
    offenders = []
    for name in tracked:
        if name.startswith("tests/") or name.endswith((".png", ".h5")):
            continue
        text = (REPO / name).read_text(errors="replace")
        for pattern in ("DESIGN.md", "../shared", "/work/"):
            if pattern in text:
                offenders.append(f"{name}: {pattern}")
    assert offenders == []
