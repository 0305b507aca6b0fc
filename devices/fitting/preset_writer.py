"""Writing a fit as a device preset: the base preset's YAML with the fitted values in place.

The base file is edited line by line, so every value the fit did not touch keeps its source
comment; each fitted line says "fitted value ± sigma (base value)", and a header states the
data, the date, the method, the residuals and why the other parameters were kept. The text
is checked with the strict loader before it is written.
"""

from __future__ import annotations

import datetime
import math
import re
from pathlib import Path

from ...hw_configs import parse_yaml, read_text
from ...hw_configs.files import atomic_write_bytes
from ...hw_configs.units import key_factor, key_spellings
from ..presets import device_from_mapping
from .fit import DeviceFit
from .parameters import value_of

__all__ = ["fitted_preset_text", "write_fitted_preset"]

_SECTION = re.compile(r"^(\w+):\s*(#.*)?$")
_ENTRY = re.compile(r"^(?P<indent>\s*)(?P<key>\w+):\s*(?P<value>[^#\s][^#]*?)\s*(#.*)?$")


def _digits(value: float, sigma: float) -> int:
    """Significant digits that show ``value`` to a tenth of ``sigma`` (at least 3)."""
    if sigma <= 0 or value == 0 or not math.isfinite(sigma):
        return 6
    return max(3, math.floor(math.log10(abs(value))) - math.floor(math.log10(sigma)) + 2)


def _number(value: float, digits: int) -> str:
    """``value`` with ``digits`` significant digits, as YAML reads a float (1.0e-07, not 1e-07)."""
    text = f"{value:.{digits}g}"
    mantissa, _, exponent = text.partition("e")
    if exponent and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"
    return text


def _written(field: str, lines: list[str]) -> tuple[int, str, float]:
    """(line index, YAML key, factor to SI) of the dotted ``field`` in the preset's lines."""
    section, name = field.split(".")
    spellings = key_spellings(name)
    current = None
    for i, line in enumerate(lines):
        head = _SECTION.match(line)
        if head:
            current = head.group(1)
            continue
        entry = _ENTRY.match(line)
        if entry and entry["indent"] and current == section and entry["key"] in spellings:
            return i, entry["key"], key_factor(entry["key"], name)
    raise ValueError(
        f"cannot find the line of '{section}.{name}' (any unit prefix) in the base preset: "
        "write it in block style, one 'key: value' per line"
    )


def _header(fit: DeviceFit, rows, kept, date: str, base_name: str) -> list[str]:
    lines = [
        f"# Fitted with `memxbar devices fit` on {date}.",
        f"#   data: {fit.source} ({fit.n_devices} devices; {fit.design.describe()})",
        f"#   base preset: {base_name}",
        "#   method: simulated method of moments (memxbar.devices.fitting.fit): SET-curve,",
        "#     drift and read-noise statistics of the measured devices matched by "
        f"{fit.n_simulated} simulated ones,",
        "#     Levenberg-Marquardt on forward-mode Jacobians; uncertainties (1 sigma) from the",
        "#     sandwich covariance with the device-to-device covariance of the statistics",
        f"#   residuals: chi2 = {fit.chi2:.1f} for {fit.dof} degrees of freedom; rms measured - "
        "simulated:",
        f"#     mean SET curve {fit.rms_uS['mean_curve']:.3g} uS, its std "
        f"{fit.rms_uS['std_curve']:.3g} uS, mean drift reads {fit.rms_uS['drift']:.3g} uS",
        "#   fitted (value +- 1 sigma, in the units of the key; base value):",
    ]
    width = max(len(key) for key, *_ in rows)
    lines += [
        f"#     {key:{width}s}  {value} +- {sigma}  (base {base})"
        for key, value, sigma, base in rows
    ]
    if kept:
        lines.append("#   not identifiable from these data (base value kept):")
        lines += [f"#     {key}: {why}" for key, why in kept]
    return [*lines, "#"]


def fitted_preset_text(
    fit: DeviceFit, base_path: str | Path, *, date: str | None = None, base_name: str = ""
) -> str:
    """The YAML text of the fitted preset: ``base_path``'s text with the fitted values in.

    Args:
        fit: the result of :func:`~.fit.fit_device` whose base model ``base_path`` holds.
        base_path: the base preset's YAML file.
        date: ISO date stated in the header (default: today).
        base_name: the base preset's name for the header (default: the file's path).

    Raises:
        ValueError (a ConfigError where the loader refuses the result): a fitted key cannot be
            found in the base file, or the edited text is not a valid preset.
    """
    base_path = Path(base_path)
    date = date or datetime.date.today().isoformat()
    lines = read_text(base_path).splitlines()
    rows = []
    for field, value, sigma in zip(fit.fields, fit.values, fit.sigmas, strict=True):
        i, key, factor = _written(field, lines)
        digits = _digits(value, sigma)
        shown, error = _number(value / factor, digits), _number(sigma / factor, 2)
        base = _number(float(value_of(fit.base, field)) / factor, 6)
        entry = _ENTRY.match(lines[i])
        head = f"{entry['indent']}{key}: {shown}"
        # Keep the comments in the column the base file put them in.
        column = lines[i].find("#") if "#" in lines[i] else len(head) + 2
        lines[i] = f"{head.ljust(column - 1)} # fitted {shown} +- {error} (base {base})"
        rows.append((f"{field.split('.')[0]}.{key}", shown, error, base))
    for i, line in enumerate(lines):
        entry = _ENTRY.match(line)
        if entry and not entry["indent"] and entry["key"] == "description":
            described = f"Fitted to {Path(fit.source).name} ({date}) from {base_name or base_path}"
            lines[i] = f"description: {_quoted(described)}"
    kept = []
    for field, why in fit.kept.items():
        try:
            key = f"{field.split('.')[0]}.{_written(field, lines)[1]}"
        except ValueError:
            key = field
        kept.append((key, why))
    header = _header(fit, rows, kept, date, base_name or str(base_path))
    text = "\n".join([*header, *lines]) + "\n"
    device_from_mapping(parse_yaml(text, "fitted preset"), source="fitted preset")
    return text


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_fitted_preset(
    path: str | Path,
    fit: DeviceFit,
    base_path: str | Path,
    *,
    date: str | None = None,
    base_name: str = "",
) -> Path:
    """Write :func:`fitted_preset_text` to ``path`` (atomically); returns the path."""
    path = Path(path)
    text = fitted_preset_text(fit, base_path, date=date, base_name=base_name)
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
