"""Sweeps: many emulated chips from one job, each point a set of job keys changed.

:mod:`.axes` turns ``--over KEY=VALUES`` axes (and ``--zip`` groups) into points, and a point
into its own job text, checked by the strict loader like any job file.
"""

from .axes import Axis, apply_override, parse_axis, point_job_text, sweep_points

__all__ = ["Axis", "apply_override", "parse_axis", "point_job_text", "sweep_points"]
