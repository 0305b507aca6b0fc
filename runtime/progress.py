"""Progress of a long run on stderr: a bar on a terminal, a few plain lines in a log.

On a terminal, a tqdm bar that fits in 80 columns (the job name is shortened, the live values
are short). When stderr is a file or a pipe (CI logs, ``nohup``), a bar redrawn with carriage
returns makes one endless line, so plain lines are written instead, at most one per
:data:`LOG_INTERVAL_S`, plus the last.
"""

from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm

__all__ = ["Progress", "LOG_INTERVAL_S", "BAR_COLUMNS"]

#: Seconds between two plain progress lines when stderr is not a terminal.
LOG_INTERVAL_S = 2.0
#: Widest bar drawn on a terminal (columns); narrower terminals get a narrower bar.
BAR_COLUMNS = 80
_NAME_CHARS = 16


def _short(name: str) -> str:
    return name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 1] + "…"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """Progress over ``total`` units (steps), starting at ``initial`` (a resumed run).

    Args:
        total: units of the whole run.
        initial: units already done.
        name: what runs (the job name).
        unit: what is counted, e.g. "step".
        enabled: False draws nothing.
        stream: where to write (default stderr).
    """

    def __init__(self, total, *, initial=0, name="", unit="step", enabled=True, stream=None):
        self.total, self.done, self.unit = int(total), int(initial), unit
        self.name = _short(name)
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self._started = time.monotonic()
        self._start_done = self.done
        self._last_line = -float("inf")
        self._bar = None
        if enabled and _is_terminal(self.stream):
            self._bar = tqdm(
                total=self.total,
                initial=self.done,
                desc=self.name,
                unit=unit,
                ncols=BAR_COLUMNS,
                dynamic_ncols=False,
                leave=False,
                file=self.stream,
                bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                "[{remaining}]{postfix}",
            )

    def advance(self, n: int, **values: str) -> None:
        """``n`` more units done; ``values`` (short strings) are shown beside the count."""
        self.done += int(n)
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix(values, refresh=False)
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last_line < LOG_INTERVAL_S and self.done < self.total:
            return
        self._last_line = now
        self.stream.write(self._line(now, values) + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        """Say what happens now, e.g. that the first chunk is being compiled."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(text)
            return
        self.stream.write(f"{self.name}: {self.unit} {self.done}/{self.total}: {text}\n")
        self.stream.flush()

    def _line(self, now: float, values: dict[str, str]) -> str:
        share = self.done / self.total if self.total else 1.0
        text = f"{self.name}: {self.unit} {self.done}/{self.total} ({share:.0%})"
        text += "".join(f" {k}={v}" for k, v in values.items())
        elapsed = now - self._started
        rate = (self.done - self._start_done) / elapsed if elapsed > 0 else 0.0
        if 0 < self.done < self.total and rate > 0:
            text += f", {_duration((self.total - self.done) / rate)} left"
        return text

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
