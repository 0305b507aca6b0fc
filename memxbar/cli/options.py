"""Option types of the command line: values that fail their check become one error line."""

from __future__ import annotations


class BadOption:
    """An option value that failed its check; :func:`main` reports it as one error line.

    argparse would print its usage and a second line for a value its ``type`` refuses; the
    CLI's contract for bad input is one line, so the type functions below return this instead.
    """

    def __init__(self, message: str):
        self.message = message


def integer_option(option: str, low: int, high=None):
    """An argparse ``type``: an integer in ``low`` … ``high`` (a number, a function giving
    it, or None: no bound), else a :class:`BadOption` naming ``option``."""

    def convert(text: str):
        from ..hw_configs import brief

        top = high() if callable(high) else high
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (top is not None and value > top):
            expected = f"{low} … {top}" if top is not None else f"≥ {low}"
            return BadOption(f"{option}: expected an integer {expected}, got {brief(text)}")
        return value

    return convert


def seed_max() -> int:
    from ..runtime.job import SEED_MAX  # imports the runtime: only when --seed is given

    return SEED_MAX


def eval_times(text: str):
    """An argparse ``type``: comma-separated positive seconds, else a :class:`BadOption`."""
    try:
        times = tuple(float(part) for part in text.split(","))
    except ValueError:
        return BadOption(
            f"--eval-times: expected comma-separated seconds (e.g. 1,3600,86400), got {text!r}"
        )
    if any(not (t > 0) or t == float("inf") for t in times):
        return BadOption(f"--eval-times: every time must be a positive number of seconds: {text!r}")
    return times
