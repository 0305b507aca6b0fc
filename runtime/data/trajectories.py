"""Smooth random trajectories of an image's transformation parameters, and sweeping occluders:
the motion of :func:`.transformed_digits.transformed_sequences`.

Each sequence has a random smooth trajectory of its parameters over the frames k = 0 … T − 1:

* translation: a random start in the square [−max_shift, max_shift]² and a random direction
  φ; the shift moves by ``speed · shift_rate`` pixels per frame along φ;
* rotation: a random start in [−max_rotation, max_rotation] and a random sense; the angle
  changes by ``speed · rotation_rate`` radians per frame;
* scale: a random start in ``scale_range`` (uniform in log σ) and a random sense; log σ
  changes by ``speed · scale_rate`` per frame.

Each parameter reflects at its bounds (a triangle wave of the straight path), so it stays
bounded, continuous, and never moves further per frame than the straight path does. ``speed``
multiplies every rate: speed 0 gives identical frames (apart from the occluder), speed 2 twice
the change per frame. The random starts, directions and senses do not depend on ``speed``: the
same seed at two speeds gives the same sequences at two speeds.

The occluder is a bar of ``round(occlusion · s)`` pixels (halves rounded up) across the whole
frame, vertical or horizontal at random per sequence, whose pixels are set to 0. Its first
covered column (vertical bar) or row (horizontal bar) moves in equal steps (rounded to whole
pixels) from one edge of the frame to the other over the sequence, in a random direction, so
the bar stays entirely in the frame. ``occlusion = 0`` means no occluder.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["trajectories", "reflect", "occluder_sweeps"]


def trajectories(
    rng: np.random.Generator,
    n: int,
    frames: int,
    *,
    speed: float,
    max_shift: float,
    max_rotation: float,
    log_scale_range: tuple[float, float],
    shift_rate: float,
    rotation_rate: float,
    scale_rate: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shift (n, T, 2), angle (n, T) and scale (n, T) of ``n`` reflected straight paths."""
    # Every draw has a size fixed by n alone, so the same seed gives the same starts and
    # directions whatever the speed, the rates or the number of frames.
    shift0 = rng.uniform(-max_shift, max_shift, size=(n, 2))
    direction = rng.uniform(0.0, 2 * math.pi, size=n)
    angle0 = rng.uniform(-max_rotation, max_rotation, size=n)
    angle_sense = rng.choice([-1.0, 1.0], size=n)
    log_scale0 = rng.uniform(*log_scale_range, size=n)
    scale_sense = rng.choice([-1.0, 1.0], size=n)

    k = np.arange(frames, dtype=np.float64)[None, :]
    velocity = speed * shift_rate * np.stack([np.cos(direction), np.sin(direction)], axis=1)
    shift = reflect(
        shift0[:, None, :] + k[:, :, None] * velocity[:, None, :], -max_shift, max_shift
    )
    angle = reflect(
        angle0[:, None] + k * (speed * rotation_rate * angle_sense)[:, None],
        -max_rotation,
        max_rotation,
    )
    log_scale = reflect(
        log_scale0[:, None] + k * (speed * scale_rate * scale_sense)[:, None], *log_scale_range
    )
    return shift, angle, np.exp(log_scale)


def reflect(path: np.ndarray, low: float, high: float) -> np.ndarray:
    """``path`` folded into [low, high] by reflection at the bounds (a triangle wave)."""
    span = high - low
    if span <= 0:
        return np.full_like(path, low)
    folded = np.mod(path - low, 2 * span)
    return low + np.where(folded > span, 2 * span - folded, folded)


def occluder_sweeps(
    rng: np.random.Generator, n: int, frames: int, side: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """First covered pixel (n, T) int64 and orientation (n, T) bool of each frame's bar."""
    vertical = rng.random(n) < 0.5
    backwards = rng.random(n) < 0.5
    sweep = np.round(np.linspace(0.0, side - width, frames)).astype(np.int64)
    start = np.where(backwards[:, None], side - width - sweep[None, :], sweep[None, :])
    return start, np.repeat(vertical[:, None], frames, axis=1)
