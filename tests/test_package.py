"""The front door: lazy re-exports, and floors that do not import the floors above them."""

import ast
import importlib
import importlib.metadata
import subprocess
import sys

import pytest

import memxbar

HIGHER_THAN_DEVICES = ("memxbar.crossbar", "memxbar.compiler", "memxbar.runtime")


def loaded_modules(code: str) -> list[str]:
    """The memxbar modules a fresh interpreter has imported after running ``code``."""
    code += "; import sys; print(sorted(m for m in sys.modules if m.startswith('memxbar')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return ast.literal_eval(out.stdout)  # a printed list of module names


def under(modules, package: str) -> list[str]:
    return [m for m in modules if m == package or m.startswith(package + ".")]


@pytest.mark.parametrize("name", [n for n in memxbar.__all__ if n != "__version__"])
def test_each_reexport_is_the_object_its_module_defines(name):
    obj = getattr(memxbar, name)
    assert obj.__module__.startswith("memxbar.") and obj.__module__ != "memxbar"
    # The very object (not a copy or a wrapper) of the module that defines it.
    assert getattr(importlib.import_module(obj.__module__), name) is obj
    assert name in dir(memxbar)


def test_version_is_the_installed_distributions_and_unknown_names_are_refused():
    assert memxbar.__version__ == importlib.metadata.version("memxbar")
    with pytest.raises(AttributeError, match="module 'memxbar' has no attribute 'load_jobs'"):
        memxbar.load_jobs  # noqa: B018 (the attribute access is the test)


def test_reexports_are_lazy():
    # Importing the package loads none of the floors; asking for a name loads its floor only.
    assert loaded_modules("import memxbar") == ["memxbar"]
    loaded = loaded_modules("import memxbar; memxbar.load_preset")
    assert under(loaded, "memxbar.devices")
    for higher in HIGHER_THAN_DEVICES:
        assert under(loaded, higher) == [], loaded
    assert under(loaded_modules("import memxbar; memxbar.run_job"), "memxbar.runtime")


def test_importing_devices_does_not_import_the_floors_above():
    loaded = loaded_modules("import memxbar.devices")
    assert "memxbar.devices" in loaded
    for higher in (*HIGHER_THAN_DEVICES, "memxbar.algorithms", "memxbar.cli"):
        assert under(loaded, higher) == [], loaded
