"""Progress on stderr: a bar that fits 80 columns on a terminal, a few plain lines in a log."""

from __future__ import annotations

import io
import time

import pytest

from memxbar.runtime import progress as progress_module
from memxbar.runtime.progress import BAR_COLUMNS, LOG_INTERVAL_S, Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress_module.time, "monotonic", clock)
    return clock


def test_the_bar_fits_80_columns_with_a_long_name_and_live_values():
    stream = Terminal()
    with Progress(1500, name="softhebb_mnist_pcm_with_a_long_name", stream=stream) as bar:
        for _ in range(3):
            time.sleep(0.15)  # past tqdm's 0.1 s between redraws
            bar.advance(500, norm_deviation="0.932", E="253.2 nJ")
        bar.note("compiling the first chunk (XLA)")
    frames = [f for f in stream.getvalue().replace("\n", "\r").split("\r") if f.strip()]
    assert frames, "nothing drawn"
    assert all(len(frame) <= BAR_COLUMNS for frame in frames), max(frames, key=len)
    assert any("softhebb_mnist_…" in frame for frame in frames)
    assert any("norm_deviation=0.932" in frame and "253.2 nJ" in frame for frame in frames)


def test_a_log_gets_plain_lines_at_most_one_per_interval_and_the_last(clock):
    stream = io.StringIO()  # not a terminal: a file or a pipe
    bar = Progress(100, name="job", stream=stream)
    for _ in range(10):  # ten chunks in less than one interval
        bar.advance(5, E="1 nJ")
        clock.now += LOG_INTERVAL_S / 10
    clock.now += LOG_INTERVAL_S
    bar.advance(5, E="2 nJ")
    bar.advance(45, E="3 nJ")  # the end is always written
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert len(lines) == 3, lines
    assert lines[0].startswith("job: step 5/100 (5%) E=1 nJ")
    assert lines[1].startswith("job: step 55/100 (55%) E=2 nJ")
    assert lines[2] == "job: step 100/100 (100%) E=3 nJ"


def test_a_disabled_bar_writes_nothing(clock):
    stream = Terminal()
    with Progress(10, name="job", stream=stream, enabled=False) as bar:
        bar.advance(10, E="1 J")
        bar.note("compiling")
    assert stream.getvalue() == ""


def test_a_log_line_says_what_is_left(clock):
    stream = io.StringIO()
    bar = Progress(100, name="job", stream=stream)
    clock.now += 30.0
    bar.advance(25)  # 25 steps in 30 s: 75 left take 90 s
    assert stream.getvalue() == "job: step 25/100 (25%), 1 min 30 s left\n"
