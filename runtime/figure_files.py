"""Writing figures: output folders and PNG files, with errors that name the path."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

__all__ = ["make_output_dir", "save_figure"]


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
        fig.savefig(path, dpi=dpi, format="png")
    except OSError as err:
        raise OSError(f"cannot write figure '{path}': {err.strerror or err}") from None
    return path
