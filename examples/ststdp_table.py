"""The mean accuracy-per-speed table of short-term STDP run files (seeds), as in the README.

python examples/ststdp_table.py run_s0.h5 run_s1.h5 run_s2.h5
"""

from __future__ import annotations

import argparse

import numpy as np

from memxbar.runtime.run_file import read_run_file

COLUMNS = (
    ("accuracy_w", "W alone"),
    ("accuracy_wf", "W + F"),
    ("accuracy_mlp", "MLP"),
    ("accuracy_w_shuffled", "W alone, shuffled"),
    ("accuracy_wf_shuffled", "W + F, shuffled"),
)
FINALS = (
    "mean_advantage_wf",
    "mean_advantage_wf_shuffled",
    "spiking_static_accuracy",
    "mlp_static_accuracy",
    "energy_per_frame_J",
    "energy_per_static_image_J",
    "energy_per_fast_update_J",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run files of kind ststdp (e.g. one per seed)")
    paths = parser.parse_args().runs
    records = [read_run_file(path) for path in paths]
    for path, record in zip(paths, records, strict=True):
        if record.kind != "ststdp":
            parser.error(f"{path}: a {record.kind} run, not a short-term STDP (ststdp) run")
    mean = {n: np.mean([r.curves[n] for r in records], axis=0) for n, _ in COLUMNS}
    print("| speed | " + " | ".join(title for _, title in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for i, speed in enumerate(records[0].curves["speed"]):
        print(f"| {speed:g} | " + " | ".join(f"{mean[n][i]:.3f}" for n, _ in COLUMNS) + " |")
    print()
    for name in FINALS:
        values = [r.final[name] for r in records]
        each = ", ".join(f"{v:.4g}" for v in values)
        print(f"{name}: mean {np.mean(values):.4g} (each: {each})")


if __name__ == "__main__":
    main()
