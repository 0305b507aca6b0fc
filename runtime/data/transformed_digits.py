"""Sequences of continuously transformed and occluded digits, generated from a seed (issue 14).

The test data of the short-term-plasticity experiment of Moraitis, Sebastian and Eleftheriou
(2020), "Optimality of short-term synaptic plasticity in modelling certain dynamic
environments" (arXiv:2009.06808): a network trained on static, centred digits is tested on
sequences of frames in which one digit moves, rotates and changes size, continuously from frame
to frame, while a bar sweeps across it. A control pools the frames of all sequences and shuffles
them, so that consecutive frames are uncorrelated.

The module takes the images and labels as arrays (scikit-learn's 8 × 8 digits, values 0 … 16,
shape (n, 64); MNIST, uint8 0 … 255, shape (n, 784) or (n, 28, 28); any square images) and
loads nothing itself.

Coordinates and the affine map
------------------------------
A pixel of a square image of side ``s`` at (row, column) has the coordinates
x = column − c, y = row − c about the image centre c = (s − 1)/2; x points right, y points
down (as ``imshow`` displays the image). A transformation has a translation (dx, dy) in
pixels, an angle θ in radians (positive: counter-clockwise as displayed, so θ = π/2 is
``np.rot90``) and a scale factor σ > 0. Each output pixel (x, y) reads the source image at

    x_src = [ (x − dx) cos θ − (y − dy) sin θ ] / σ
    y_src = [ (x − dx) sin θ + (y − dy) cos θ ] / σ

(the inverse of: scale by σ, rotate by θ, then translate), sampled with bilinear
interpolation, zero outside the source image. Every output pixel is thus a convex combination
of at most four source pixels and zeros: the output stays in the source's value range.

Trajectories and the occluder
-----------------------------
Each sequence takes one source image (drawn uniformly, with replacement), a random smooth
trajectory of its translation, rotation and scale, and a sweeping occluding bar: see
:mod:`.trajectories` for the paths, their rates (``speed`` multiplies every rate) and the bar.

Randomness comes from independent streams of the seed, ``SeedSequence([seed, stream])``: the
source images, the trajectories, the occluders and the shuffle each have their own, so that
``shuffle_frames`` permutes exactly the frames the unshuffled call returns.
"""

from __future__ import annotations

import dataclasses
import math
import operator

import numpy as np

from .trajectories import occluder_sweeps, trajectories

__all__ = [
    "TransformedSequences",
    "affine_transform",
    "occlude",
    "transformed_sequences",
]

# Streams of the seed: one per random choice, so that one choice does not shift the others.
_SOURCE_STREAM, _TRAJECTORY_STREAM, _OCCLUDER_STREAM, _SHUFFLE_STREAM = range(4)
# Source coordinates closer than this to a whole pixel are taken as on it: rotations by
# multiples of π/2 and whole-pixel shifts then reproduce the pixels exactly, where cos(π/2)
# ≈ 6e-17 would otherwise mix in 1e-16 of a neighbour.
_GRID_SNAP = 1e-9


@dataclasses.dataclass(frozen=True)
class TransformedSequences:
    """Frames of transformed, occluded digits and the parameters of every frame.

    Every per-frame array has the leading shape (n_sequences, frames); with ``shuffled`` the
    frames (and their labels and parameters, which travel with them) come from all sequences
    in random order.

    Attributes:
        frames: (n_sequences, frames, side²) float32, in the source images' value range.
        labels: (n_sequences, frames) int64, the label of each frame's source image.
        source_index: (n_sequences, frames) int64, the index of each frame's source image.
        shift: (n_sequences, frames, 2) float64, the translation (dx, dy) in pixels
            (dx: right, dy: down).
        angle: (n_sequences, frames) float64, the rotation in radians (counter-clockwise as
            displayed).
        scale: (n_sequences, frames) float64, the scale factor.
        occluder_start: (n_sequences, frames) int64, the first column (vertical bar) or row
            (horizontal bar) the occluder covers.
        occluder_vertical: (n_sequences, frames) bool, whether the bar is vertical.
        occluder_width: the bar's width in pixels (0: no occluder).
        side: the side of the images in pixels.
        shuffled: whether the frames were pooled and shuffled across sequences.
    """

    frames: np.ndarray
    labels: np.ndarray
    source_index: np.ndarray
    shift: np.ndarray
    angle: np.ndarray
    scale: np.ndarray
    occluder_start: np.ndarray
    occluder_vertical: np.ndarray
    occluder_width: int
    side: int
    shuffled: bool


def affine_transform(
    image: np.ndarray,
    shift: tuple[float, float] = (0.0, 0.0),
    angle: float = 0.0,
    scale: float = 1.0,
) -> np.ndarray:
    """``image`` translated, rotated and scaled about its centre (module docstring's map).

    Args:
        image: a square image (s, s), any real dtype.
        shift: the translation (dx, dy) in pixels; dx moves the content right, dy down.
        angle: the rotation in radians, counter-clockwise as displayed (π/2 is ``np.rot90``).
        scale: the scale factor (> 0) about the image centre.

    Returns:
        The transformed image (s, s), float64, sampled with bilinear interpolation, 0 where
        the source point lies outside the image.
    """
    image = np.asarray(image)
    if image.ndim != 2 or image.shape[0] != image.shape[1]:
        raise ValueError(f"affine_transform: image must be square (s, s), got shape {image.shape}")
    dx, dy = _finite_pair(shift, "shift")
    angle = _finite(angle, "angle")
    scale = _finite(scale, "scale")
    if scale <= 0:
        raise ValueError(f"affine_transform: scale must be > 0, got {scale}")
    params = np.array([[dx, dy]]), np.array([angle]), np.array([scale])
    return _render(image.astype(np.float64), *params)[0]


def occlude(image: np.ndarray, start: int, width: int, *, vertical: bool = True) -> np.ndarray:
    """A copy of a square ``image`` with a bar across it set to 0.

    Args:
        image: a square image (s, s).
        start: the first column (vertical bar) or row (horizontal bar) covered; the bar is cut
            off at the edges of the image.
        width: the bar's width in pixels (≥ 0; 0 leaves the image as it is).
        vertical: a full-height vertical bar if true, else a full-width horizontal bar.

    Returns:
        The occluded copy, with the dtype of ``image``.
    """
    image = np.array(image)
    if image.ndim != 2 or image.shape[0] != image.shape[1]:
        raise ValueError(f"occlude: image must be square (s, s), got shape {image.shape}")
    start = _integer(start, "start")
    width = _integer(width, "width")
    if width < 0:
        raise ValueError(f"occlude: width must be ≥ 0, got {width}")
    band = slice(max(start, 0), max(start + width, 0))
    if vertical:
        image[:, band] = 0
    else:
        image[band, :] = 0
    return image


def transformed_sequences(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    n_sequences: int,
    frames: int,
    speed: float = 1.0,
    occlusion: float = 0.0,
    seed: int = 0,
    shuffle_frames: bool = False,
    max_shift: float | None = None,
    max_rotation: float = math.pi / 6,
    scale_range: tuple[float, float] = (0.8, 1.2),
    shift_rate: float | None = None,
    rotation_rate: float = math.pi / 60,
    scale_rate: float = 0.01,
) -> TransformedSequences:
    """Sequences of frames of continuously transformed, occluded digits (module docstring).

    Args:
        images: square images (n, s²) or (n, s, s), e.g. scikit-learn's digits (n, 64) or
            MNIST (n, 784) or (n, 28, 28).
        labels: the label of each image (n,), integers.
        n_sequences: the number of sequences (≥ 1).
        frames: the number of frames per sequence (≥ 1).
        speed: multiplies every rate of change per frame (≥ 0; 0: static digit).
        occlusion: the occluder's width as a fraction of the side, in [0, 1) (0: none).
        seed: the seed (an integer ≥ 0); the same seed gives bit-identical output.
        shuffle_frames: pool the frames of all sequences and shuffle them across sequences and
            positions (the uncorrelated control).
        max_shift: the bound on |dx| and |dy| in pixels (≥ 0); None: s/8.
        max_rotation: the bound on |θ| in radians (≥ 0).
        scale_range: the bounds (low, high) of the scale factor, 0 < low ≤ high.
        shift_rate: the translation per frame at speed 1, in pixels (≥ 0); None: s/32.
        rotation_rate: the rotation per frame at speed 1, in radians (≥ 0).
        scale_rate: the change of log σ per frame at speed 1 (≥ 0; 0.01 is about 1 %).

    Returns:
        The frames, labels and per-frame parameters (:class:`TransformedSequences`).
    """
    images, side = _square_images(images)
    labels = np.asarray(labels)
    if labels.shape != (images.shape[0],):
        raise ValueError(
            f"transformed_sequences: labels must have shape ({images.shape[0]},) like images, "
            f"got {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"transformed_sequences: labels must be integers, got {labels.dtype}")
    n_sequences = _integer(n_sequences, "n_sequences")
    frames = _integer(frames, "frames")
    seed = _integer(seed, "seed")
    if n_sequences < 1:
        raise ValueError(f"transformed_sequences: n_sequences must be ≥ 1, got {n_sequences}")
    if frames < 1:
        raise ValueError(f"transformed_sequences: frames must be ≥ 1, got {frames}")
    if seed < 0:
        raise ValueError(f"transformed_sequences: seed must be ≥ 0, got {seed}")
    occlusion = _finite(occlusion, "occlusion")
    if not 0 <= occlusion < 1:
        raise ValueError(f"transformed_sequences: occlusion must be in [0, 1), got {occlusion}")
    speed = _non_negative(speed, "speed")
    max_shift = _non_negative(side / 8 if max_shift is None else max_shift, "max_shift")
    max_rotation = _non_negative(max_rotation, "max_rotation")
    shift_rate = _non_negative(side / 32 if shift_rate is None else shift_rate, "shift_rate")
    rotation_rate = _non_negative(rotation_rate, "rotation_rate")
    scale_rate = _non_negative(scale_rate, "scale_rate")
    low, high = _finite_pair(scale_range, "scale_range")
    if not 0 < low <= high:
        raise ValueError(
            f"transformed_sequences: scale_range must be (low, high) with 0 < low ≤ high, "
            f"got {scale_range}"
        )

    def stream(index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([seed, index]))

    source = stream(_SOURCE_STREAM).integers(0, images.shape[0], size=n_sequences)
    shift, angle, scale = trajectories(
        stream(_TRAJECTORY_STREAM),
        n_sequences,
        frames,
        speed=speed,
        max_shift=max_shift,
        max_rotation=max_rotation,
        log_scale_range=(math.log(low), math.log(high)),
        shift_rate=shift_rate,
        rotation_rate=rotation_rate,
        scale_rate=scale_rate,
    )
    width = math.floor(occlusion * side + 0.5)
    start, vertical = occluder_sweeps(stream(_OCCLUDER_STREAM), n_sequences, frames, side, width)

    out = np.empty((n_sequences, frames, side * side), np.float32)
    for i in range(n_sequences):
        rendered = _render(images[source[i]], shift[i], angle[i], scale[i])
        for k in range(frames):
            rendered[k] = occlude(rendered[k], start[i, k], width, vertical=vertical[i, k])
        out[i] = rendered.reshape(frames, side * side)

    per_frame = {
        "frames": out,
        "labels": np.repeat(labels[source].astype(np.int64)[:, None], frames, axis=1),
        "source_index": np.repeat(source.astype(np.int64)[:, None], frames, axis=1),
        "shift": shift,
        "angle": angle,
        "scale": scale,
        "occluder_start": start,
        "occluder_vertical": vertical,
    }
    if shuffle_frames:
        order = stream(_SHUFFLE_STREAM).permutation(n_sequences * frames)
        per_frame = {
            name: _permute_frames(value, order, n_sequences, frames)
            for name, value in per_frame.items()
        }
    return TransformedSequences(
        **per_frame, occluder_width=width, side=side, shuffled=bool(shuffle_frames)
    )


# --- rendering -------------------------------------------------------------------------------


def _render(
    image: np.ndarray, shift: np.ndarray, angle: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """``image`` (s, s) float64 under T transformations: shift (T, 2), angle (T,), scale (T,)
    → (T, s, s) float64."""
    side = image.shape[0]
    centre = (side - 1) / 2
    grid = np.arange(side, dtype=np.float64) - centre
    # (T, s, s) coordinates of the output pixels relative to each frame's translation.
    x = grid[None, None, :] - shift[:, 0, None, None]
    y = grid[None, :, None] - shift[:, 1, None, None]
    cos = np.cos(angle)[:, None, None]
    sin = np.sin(angle)[:, None, None]
    inv_scale = 1.0 / scale[:, None, None]
    cols = (x * cos - y * sin) * inv_scale + centre
    rows = (x * sin + y * cos) * inv_scale + centre
    return _bilinear(image, rows, cols)


def _bilinear(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``image`` (s, s) sampled at fractional (rows, cols), 0 outside the image."""
    side = image.shape[0]
    rows, cols = _snap(rows), _snap(cols)
    # Beyond one pixel outside, both neighbours are outside and read 0; clipping there keeps
    # the integer conversion in range for any scale.
    rows = np.clip(rows, -2.0, side + 1.0)
    cols = np.clip(cols, -2.0, side + 1.0)
    r0 = np.floor(rows)
    c0 = np.floor(cols)
    fr = rows - r0
    fc = cols - c0
    # A one-pixel frame of zeros stands for everything outside: indices −1 … s map into it.
    padded = np.pad(image, 1)
    r0 = r0.astype(np.intp)
    c0 = c0.astype(np.intp)
    r_lo, r_hi = np.clip(r0, -1, side) + 1, np.clip(r0 + 1, -1, side) + 1
    c_lo, c_hi = np.clip(c0, -1, side) + 1, np.clip(c0 + 1, -1, side) + 1
    return (1 - fr) * ((1 - fc) * padded[r_lo, c_lo] + fc * padded[r_lo, c_hi]) + fr * (
        (1 - fc) * padded[r_hi, c_lo] + fc * padded[r_hi, c_hi]
    )


def _snap(coordinates: np.ndarray) -> np.ndarray:
    nearest = np.round(coordinates)
    return np.where(np.abs(coordinates - nearest) < _GRID_SNAP, nearest, coordinates)


def _permute_frames(value: np.ndarray, order: np.ndarray, n: int, frames: int) -> np.ndarray:
    flat = value.reshape(n * frames, *value.shape[2:])
    return flat[order].reshape(value.shape)


# --- argument checks -------------------------------------------------------------------------


def _square_images(images: np.ndarray) -> tuple[np.ndarray, int]:
    """(n, s, s) float64 images and their side, from (n, s²) or (n, s, s)."""
    images = np.asarray(images)
    if images.ndim == 3 and images.shape[1] == images.shape[2]:
        side = images.shape[1]
    elif images.ndim == 2 and math.isqrt(images.shape[1]) ** 2 == images.shape[1]:
        side = math.isqrt(images.shape[1])
    else:
        raise ValueError(
            f"transformed_sequences: images must be square, shape (n, s²) or (n, s, s), "
            f"got {images.shape}"
        )
    if images.shape[0] < 1 or side < 1:
        raise ValueError(f"transformed_sequences: images must not be empty, got {images.shape}")
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise ValueError(f"transformed_sequences: images must be real numbers, got {images.dtype}")
    images = images.reshape(images.shape[0], side, side).astype(np.float64)
    if not np.all(np.isfinite(images)):
        raise ValueError("transformed_sequences: images must be finite")
    return images, side


def _integer(value, name: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def _finite(value, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _non_negative(value, name: str) -> float:
    value = _finite(value, name)
    if value < 0:
        raise ValueError(f"{name} must be ≥ 0, got {value}")
    return value


def _finite_pair(value, name: str) -> tuple[float, float]:
    try:
        first, second = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair of numbers, got {value!r}") from None
    return _finite(first, name), _finite(second, name)
