"""Two trees of memxbar timed side by side in one process: the before/after of a change.

Run: ``python benchmarks/ab.py BEFORE AFTER [--workload NAME ...] [--repeats 7]``

BEFORE and AFTER are git revisions of this repository, or ``worktree`` for the files as they
are now (uncommitted changes included). Each tree is extracted into a temporary folder as a
package of its own (``memxbar_before``, ``memxbar_after``), the benchmark scripts of this
checkout are loaded once per tree with their ``memxbar`` imports pointed at it, and each
workload is timed round-robin: in every round the two trees' calls alternate, so load that
comes and goes on a shared machine hits both (benchmarks/README.md: on the 2-core machine
that wrote it, separate processes minutes apart differed by more than most changes).
Prints each tree's median seconds per call and AFTER / BEFORE: the median over rounds of the
ratio of the round's two calls (which run back to back, in alternating order), with its
quartiles.

The scripts of this checkout serve both trees, so the trees must share the API the scripts
use; an older tree that lacks it stops the run with one line naming the tree and what is
missing (exit code 2).

Workloads (``--workload``, repeatable; default: the four PCM ones):
  softhebb-digits-ideal, softhebb-digits-pcm  one chunk of 44 steps (``softhebb.py``)
  softhebb-mnist-pcm                          one MNIST-shaped chunk of 8 steps, 32 tiles
  snn-a-ideal, snn-a-pcm                      net A, 64 seeds vmapped (``snn.py``)
  snn-b-ideal, snn-b-pcm                      net B, K = 10, M = 1 (``snn.py``)
  crossbar-fresh, crossbar-fresh-column-mean  one PCM forward read at a new chip time, exact
                                              and 'column_mean' noise (``crossbar.py``, 512²)
  crossbar-cached, crossbar-update            10 reads with the cached view; a full-tile update
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import jax

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
#: The folders that install as memxbar.<name> (pyproject.toml's package-dir), besides memxbar/.
FLOORS = ("devices", "crossbar", "compiler", "runtime", "algorithms", "hw_configs")
WORKTREE = "worktree"
WORKLOADS = (
    "softhebb-digits-ideal",
    "softhebb-digits-pcm",
    "softhebb-mnist-pcm",
    "snn-a-ideal",
    "snn-a-pcm",
    "snn-b-ideal",
    "snn-b-pcm",
    "crossbar-fresh",
    "crossbar-fresh-column-mean",
    "crossbar-cached",
    "crossbar-update",
)
DEFAULT_WORKLOADS = ("softhebb-digits-pcm", "softhebb-mnist-pcm", "snn-a-pcm", "snn-b-pcm")


def extract_tree(revision: str, package: str, into: Path) -> Path:
    """The package folder ``into/package`` holding memxbar as of ``revision`` (a git revision
    of this repository, or ``worktree``): memxbar/ at its root, the floors as subpackages."""
    source = into / f"src_{package}"
    source.mkdir(parents=True)
    if revision == WORKTREE:
        for name in ("memxbar", *FLOORS):
            shutil.copytree(
                REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
    else:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", "--format=tar", revision, "memxbar", *FLOORS],
            capture_output=True,
            check=False,
        )
        if archive.returncode:
            message = archive.stderr.decode(errors="replace").strip()
            raise ValueError(f"revision {revision!r}: git archive failed: {message}")
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(source, filter="data")
    root = into / package
    shutil.copytree(source / "memxbar", root)
    for name in FLOORS:
        shutil.copytree(source / name, root / name)
    return root


def load_script(name: str, package: str):
    """The benchmark script ``benchmarks/<name>.py`` of this checkout as a module whose
    ``memxbar`` imports come from ``package``."""
    path = HERE / f"{name}.py"
    text = path.read_text().replace("from memxbar.", f"from {package}.")
    module_name = f"{name}_{package}"
    spec = importlib.util.spec_from_loader(module_name, loader=None, origin=str(path))
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)  # the scripts find examples/ relative to themselves
    sys.modules[module_name] = module
    exec(compile(text, str(path), "exec"), module.__dict__)
    return module


def workload_call(name: str, package: str):
    """A zero-argument call running workload ``name`` on the tree of ``package``, compiled."""
    family, _, rest = name.partition("-")
    if family == "crossbar":
        script = load_script("crossbar", package)
        ((fn, make_args),) = [(row[2], row[3]) for row in script.rows() if row[0] == rest]
        calls = [0]

        def call():  # a new chip time (and key) per call: the fresh rows recompute the view
            calls[0] += 1
            return fn(*make_args(calls[0] % 1000))

        jax.block_until_ready(call())
        return call
    if family == "softhebb":
        script = load_script("softhebb", package)
        size, kind = rest.split("-")
        case = script.digits_case() if size == "digits" else script.mnist_case()
        return script.workload(*case)[2]["IdealTile" if kind == "ideal" else "PCMTile"]
    script = load_script("snn", package)
    net, kind = rest.split("-")
    run = script.workload_a(kind, 64)[0] if net == "a" else script.workload_b(kind, 10, 1, 0)[0]
    jax.block_until_ready(run())
    return run


def paired_times_s(before, after, repeats: int) -> tuple[list[float], list[float]]:
    """Wall times (s) of the zero-argument calls ``before`` and ``after``, one of each per
    round, their order alternating from round to round (after one warm-up call each)."""
    jax.block_until_ready(before())
    jax.block_until_ready(after())
    times = {before: [], after: []}
    for i in range(repeats):
        for call in (before, after) if i % 2 == 0 else (after, before):
            start = time.perf_counter()
            jax.block_until_ready(call())
            times[call].append(time.perf_counter() - start)
    return times[before], times[after]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="git revision, or 'worktree'")
    parser.add_argument("after", help="git revision, or 'worktree'")
    parser.add_argument(
        "--workload", action="append", choices=WORKLOADS, help="repeatable; default: PCM ones"
    )
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (default 7)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    sys.path.insert(0, str(HERE))  # snn.py imports its sibling softhebb.py
    with tempfile.TemporaryDirectory(prefix="memxbar_ab_") as folder:
        folder = Path(folder)
        sys.path.insert(0, str(folder))
        trees = {"before": args.before, "after": args.after}
        try:
            for label, revision in trees.items():
                extract_tree(revision, f"memxbar_{label}", folder)
        except ValueError as err:
            print(f"ab.py: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        print(f"before = {args.before}, after = {args.after}; jax {jax.__version__}")
        print(
            f"{'workload':28s} {'before s':>10s} {'after s':>10s} {'after/before':>13s} "
            f"{'quartiles':>13s}"
        )
        for name in args.workload or DEFAULT_WORKLOADS:
            calls = []
            for label, revision in trees.items():
                try:
                    calls.append(workload_call(name, f"memxbar_{label}"))
                except (ImportError, AttributeError, TypeError) as err:
                    # This checkout's scripts use an API the older tree does not have.
                    print(
                        f"ab.py: {name}: the benchmark scripts do not fit tree {revision!r}: "
                        f"{type(err).__name__}: {err}",
                        file=sys.stderr,
                    )
                    raise SystemExit(2) from None
            before, after = paired_times_s(*calls, args.repeats)
            # The ratio of each round's pair, then their median: a round's two calls run
            # within milliseconds of each other, so they share that moment's load.
            ratios = [a / b for a, b in zip(after, before, strict=True)]
            ratio = statistics.median(ratios)
            low, _, high = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
            print(
                f"{name:28s} {statistics.median(before):10.4f} {statistics.median(after):10.4f} "
                f"{ratio:13.3f} {low:6.3f}-{high:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
