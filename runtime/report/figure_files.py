"""Writing figures: output folders and PNG files, with errors that name the path."""

from __future__ import annotations

import warnings
from pathlib import Path

from matplotlib.figure import Figure

__all__ = ["YEAR_S", "TIME_TICKS", "log_time_axis", "make_output_dir", "save_figure"]

YEAR_S = 365.25 * 86400.0
#: Labelled ticks of log-time axes (s).
TIME_TICKS = (
    (1.0, "1 s"),
    (60.0, "1 min"),
    (3600.0, "1 h"),
    (86400.0, "1 day"),
    (30 * 86400.0, "1 month"),
    (YEAR_S, "1 yr"),
    (10 * YEAR_S, "10 yr"),
)


def log_time_axis(ax, times_s, *, margin: tuple[float, float] = (1.0, 1.0)) -> None:
    """A log x axis over ``times_s`` (s) with the labelled ticks that fall inside it.

    ``margin`` divides the left and multiplies the right limit (room for tick labels).
    """
    ax.set_xscale("log")
    ax.set_xlim(times_s[0] / margin[0], times_s[-1] * margin[1])
    ticks = [(t, label) for t, label in TIME_TICKS if times_s[0] <= t <= times_s[-1] * 1.001]
    ax.set_xticks([t for t, _ in ticks], [label for _, label in ticks])
    ax.set_xlabel("time after programming (s, log scale)")


def make_output_dir(out_dir: str | Path) -> Path:
    """Create the folder ``out_dir`` (and its parents) if missing; errors name the path."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"cannot create output folder '{out_dir}': {err.strerror or err}") from None
    return out_dir


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Write ``fig`` as a PNG to ``path``; errors name the path."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            # matplotlib warns when placing a loc="best" legend takes long, which depends on
            # how busy the machine is, not on the figure: the placement is still made.
            warnings.filterwarnings("ignore", message='Creating legend with loc="best"')
            fig.savefig(path, dpi=dpi, format="png")
    except OSError as err:
        raise OSError(f"cannot write figure '{path}': {err.strerror or err}") from None
    return path
