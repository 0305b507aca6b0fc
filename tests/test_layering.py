"""The floors of the architecture, read from the source: imports point one way, and no module
reaches into another's private names.

Floors, lowest first (docs/architecture.md): hw_configs → devices → crossbar → compiler →
algorithms → runtime → the front door (memxbar/: re-exports and the CLI). A module may import
its own floor and the floors below, never one above; a name that starts with one underscore
stays in the module that defines it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
#: Folder (= package memxbar.<folder>) → its floor; the compiler builds on crossbar's ChipSpec.
FLOORS = {
    "hw_configs": 0,
    "devices": 1,
    "crossbar": 2,
    "compiler": 3,
    "algorithms": 4,
    "runtime": 5,
    "memxbar": 6,
}


def package_files() -> list[Path]:
    return sorted(p for floor in FLOORS for p in (REPO / floor).rglob("*.py"))


def module_name(path: Path) -> str:
    """memxbar.<floor>.<...> of a source file (memxbar/ itself is the package root)."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts if parts[0] == "memxbar" else ["memxbar", *parts])


def floor_of(module: str) -> int | None:
    """The floor of a memxbar module; None for third-party modules."""
    parts = module.split(".")
    if parts[0] != "memxbar":
        return None
    if len(parts) == 1 or parts[1] not in FLOORS:
        return FLOORS["memxbar"]
    return FLOORS[parts[1]]


def imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) of every import of a source file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((node.lineno, module, [alias.name for alias in node.names]))
    return out


def test_the_floors_and_their_files_are_found():
    files = package_files()
    assert {module_name(p).split(".")[1] for p in files if module_name(p) != "memxbar"} >= {
        "hw_configs",
        "devices",
        "crossbar",
        "compiler",
        "algorithms",
        "runtime",
        "cli",
    }
    assert floor_of("memxbar.runtime.loop") == 5 and floor_of("numpy") is None
    assert floor_of("memxbar.cli") == FLOORS["memxbar"]


@pytest.mark.parametrize("path", package_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_imports_a_floor_above_its_own(path):
    own = floor_of(module_name(path))
    for line, module, names in imports(path):
        targets = [module] if floor_of(module) is not None else []
        if module == "memxbar":  # `from memxbar import devices`: the names are modules
            targets = [f"memxbar.{n}" for n in names]
        for target in targets:
            assert floor_of(target) <= own, f"{path.relative_to(REPO)}:{line} imports {target}"


@pytest.mark.parametrize("path", package_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_private_name_is_imported_from_another_module(path):
    for line, module, names in imports(path):
        if floor_of(module) is None:
            continue
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        assert not private, f"{path.relative_to(REPO)}:{line} imports {private} from {module}"


def _defined_private_names(tree: ast.AST) -> set[str]:
    """Private names a module defines: functions, classes, assignments, attributes it sets."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if n.startswith("_")}


@pytest.mark.parametrize("path", package_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_private_attribute_of_another_module_is_used(path):
    """``x._name`` only where this module defines ``_name`` (its own classes' internals)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = _defined_private_names(tree)
    # Private API of other libraries (os._exit) is theirs to offer, not a floor's internals.
    foreign = {
        (alias.asname or alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if not alias.name.startswith("memxbar")
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        attr = node.attr
        if not attr.startswith("_") or attr.startswith("__") or attr in own:
            continue
        if isinstance(node.value, ast.Name) and node.value.id in foreign:
            continue
        raise AssertionError(
            f"{path.relative_to(REPO)}:{node.lineno} uses .{attr}, defined in another module"
        )


def test_every_floor_says_what_it_is_for():
    for floor in FLOORS:
        init = REPO / floor / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc.split()) >= 12, f"{init.relative_to(REPO)} needs a docstring"
