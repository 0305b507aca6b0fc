"""Sweeps: many emulated chips from one job, each point a set of job keys changed.

:mod:`.axes` turns ``--over KEY=VALUES`` axes (and ``--zip`` groups) into points, and a point
into its own job text, checked by the strict loader like any job file; :mod:`.local` runs the
points one after another in this process and :mod:`.sweep_file` writes their results into one
HDF5 file.
"""

from .axes import (
    Axis,
    apply_override,
    merge_axes,
    parse_axis,
    point_job_text,
    sweep_points,
    sweep_section,
)
from .local import point_folder, run_sweep
from .sweep_file import SweepRecord, is_sweep_file, read_sweep_file, write_sweep_file

__all__ = [
    "Axis",
    "SweepRecord",
    "apply_override",
    "merge_axes",
    "sweep_section",
    "is_sweep_file",
    "parse_axis",
    "point_folder",
    "point_job_text",
    "read_sweep_file",
    "run_sweep",
    "sweep_points",
    "write_sweep_file",
]
