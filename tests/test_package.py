"""The front door: lazy re-exports, and floors that do not import the floors above them."""

import ast
import subprocess
import sys

import memxbar


def test_every_reexport_resolves():
    for name in memxbar.__all__:
        assert getattr(memxbar, name) is not None, name


def test_importing_devices_does_not_import_the_runtime():
    code = (
        "import sys, memxbar.devices; "
        "print(sorted(m for m in sys.modules if m.startswith('memxbar.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = ast.literal_eval(out.stdout)  # a printed list of module names
    assert "memxbar.devices" in loaded
    for higher in ("memxbar.crossbar", "memxbar.compiler", "memxbar.runtime", "memxbar.algorithms"):
        assert not any(m == higher or m.startswith(higher + ".") for m in loaded), loaded
