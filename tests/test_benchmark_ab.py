"""benchmarks/ab.py: two trees of the package side by side in one process."""

import importlib
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _ab():
    spec = importlib.util.spec_from_file_location("bench_ab", REPO / "benchmarks" / "ab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def on_path(tmp_path):
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [n for n in sys.modules if n.startswith(("memxbar_t_", "softhebb_memxbar_t_"))]:
        del sys.modules[name]


def test_worktree_is_a_package_of_its_own_and_scripts_import_from_it(on_path):
    ab = _ab()
    root = ab.extract_tree(ab.WORKTREE, "memxbar_t_now", on_path)
    assert (root / "__init__.py").is_file()
    for floor in ab.FLOORS:
        assert (root / floor / "__init__.py").is_file(), floor
    random = importlib.import_module("memxbar_t_now.devices.random")
    # Relative imports inside the copy resolve to the copy, not to the installed memxbar.
    view = importlib.import_module("memxbar_t_now.crossbar.read_view")
    assert Path(random.__file__).is_relative_to(root)
    assert Path(view.__file__).is_relative_to(root)
    assert view.normal_elementwise is random.normal_elementwise
    # Presets load from the copy's own hw_configs.
    preset = importlib.import_module("memxbar_t_now.hw_configs").preset_path("chips", "pcm_256")
    assert Path(str(preset)).is_relative_to(root)

    script = ab.load_script("softhebb", "memxbar_t_now")
    assert Path(sys.modules[script.train_chunk.__module__].__file__).is_relative_to(root)
    assert script.__file__ == str(REPO / "benchmarks" / "softhebb.py")


@pytest.mark.skipif(
    shutil.which("git") is None or not (REPO / ".git").exists(),
    reason="needs git and this repository's history (a git checkout)",
)
def test_a_revision_is_extracted_and_a_bad_one_is_named(on_path):
    ab = _ab()
    root = ab.extract_tree("HEAD", "memxbar_t_head", on_path)
    module = importlib.import_module("memxbar_t_head.devices.prng")
    assert Path(module.__file__).is_relative_to(root)
    with pytest.raises(ValueError, match="revision 'no-such-revision': git archive failed"):
        ab.extract_tree("no-such-revision", "memxbar_t_bad", on_path)
