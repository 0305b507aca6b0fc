"""Transformed and occluded digit sequences (issue 14): the affine renderer against exact
reference transforms, the occluder, the trajectories and their speed knob, the shuffled
control, seeding and argument checks.

Statistical tolerances are derived at each test (standard errors of means over frame pairs);
exact ones come from the geometry (grid-to-grid maps, Gaussian sums).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.datasets import load_digits

from memxbar.runtime.data.transformed_digits import (
    TransformedSequences,
    affine_transform,
    occlude,
    transformed_sequences,
)

# --- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    """A few hundred of scikit-learn's 8 × 8 digits: (n, 64) float 0 … 16 and labels."""
    data = load_digits()
    return data.data[:300], data.target[:300]


def _mnist_like(n: int = 6, seed: int = 0) -> np.ndarray:
    """(n, 28, 28) uint8 images of random Gaussian strokes, values 0 … 255, like MNIST."""
    rng = np.random.default_rng(seed)
    grid = np.arange(28.0)
    images = np.zeros((n, 28, 28))
    for image in images:
        for _ in range(4):
            r, c = rng.uniform(8, 20, size=2)
            image += np.exp(-((grid[:, None] - r) ** 2 + (grid[None, :] - c) ** 2) / 8.0)
    return np.round(255 * images / images.max(axis=(1, 2), keepdims=True)).astype(np.uint8)


def _shift_zero_fill(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``np.roll`` by (dy rows, dx columns) with the wrapped-around pixels set to 0."""
    out = np.roll(image, (dy, dx), axis=(0, 1))
    if dy > 0:
        out[:dy] = 0
    elif dy < 0:
        out[dy:] = 0
    if dx > 0:
        out[:, :dx] = 0
    elif dx < 0:
        out[:, dx:] = 0
    return out


def _gaussian(side: int, sigma: float) -> np.ndarray:
    grid = np.arange(side) - (side - 1) / 2
    return np.exp(-(grid[:, None] ** 2 + grid[None, :] ** 2) / (2 * sigma**2))


def _consecutive_msd(frames: np.ndarray) -> np.ndarray:
    """Mean squared difference of consecutive frames (n, T, d) → (n, T − 1)."""
    return np.mean(np.diff(frames.astype(np.float64), axis=1) ** 2, axis=2)


def _all_pairs_msd(flat: np.ndarray) -> float:
    """Mean over all pairs i ≠ j of mean((a_i − a_j)²), from Σ|a_i − a_j|² = 2NΣ|a|² − 2|Σa|²."""
    flat = flat.astype(np.float64)
    n, d = flat.shape
    total = 2 * n * np.sum(flat**2) - 2 * np.sum(np.sum(flat, axis=0) ** 2)
    return total / (n * (n - 1) * d)


def _still(**overrides) -> dict:
    """Arguments for a digit that does not move, rotate or scale."""
    return dict(speed=0.0, max_shift=0.0, max_rotation=0.0, scale_range=(1.0, 1.0)) | overrides


# --- affine_transform ------------------------------------------------------------------------


def test_identity_returns_the_image_exactly():
    image = np.random.default_rng(0).uniform(0, 16, size=(7, 7))
    np.testing.assert_array_equal(affine_transform(image), image)
    np.testing.assert_array_equal(affine_transform(image.astype(np.uint8)), image.astype(np.uint8))


@pytest.mark.parametrize("dx, dy", [(2, -1), (-3, 0), (0, 4), (1, 1), (-2, -3)])
def test_integer_translation_is_a_zero_filled_roll(dx, dy):
    image = np.random.default_rng(1).uniform(0, 16, size=(8, 8))
    # dx moves the content right (columns), dy down (rows).
    np.testing.assert_array_equal(
        affine_transform(image, shift=(dx, dy)), _shift_zero_fill(image, dx, dy)
    )


def test_translation_by_half_a_pixel_averages_neighbours():
    image = np.random.default_rng(2).uniform(0, 16, size=(6, 6))
    out = affine_transform(image, shift=(0.5, 0.0))
    np.testing.assert_allclose(out[:, 1:], (image[:, :-1] + image[:, 1:]) / 2, rtol=1e-12)
    np.testing.assert_allclose(out[:, 0], image[:, 0] / 2, rtol=1e-12)  # half of it outside


@pytest.mark.parametrize("side", [6, 7])
@pytest.mark.parametrize("quarter_turns", [1, 2, 3, -1])
def test_rotation_by_quarter_turns_is_rot90(side, quarter_turns):
    # Positive angles turn counter-clockwise as displayed (row 0 on top), as np.rot90 does;
    # both even and odd sides map the pixel grid onto itself.
    image = np.random.default_rng(side).uniform(0, 16, size=(side, side))
    out = affine_transform(image, angle=quarter_turns * math.pi / 2)
    np.testing.assert_allclose(out, np.rot90(image, quarter_turns), rtol=0, atol=1e-12)


def test_rotation_direction_on_a_marked_pixel():
    image = np.zeros((5, 5))
    image[0, 4] = 1.0  # top right
    out = affine_transform(image, angle=math.pi / 2)
    assert out[0, 0] == pytest.approx(1.0)  # a counter-clockwise quarter turn: top left
    assert out.sum() == pytest.approx(1.0)


def test_scale_two_maps_centre_pixels_to_twice_their_offsets():
    side, c = 9, 4  # odd side: the centre is the pixel (4, 4)
    image = np.random.default_rng(3).uniform(0, 16, size=(side, side))
    out = affine_transform(image, scale=2.0)
    offsets = np.arange(-2, 3)
    # Output pixel c + 2i reads source pixel c + i exactly; c + 2i + 1 halfway between two.
    np.testing.assert_allclose(
        out[np.ix_(c + 2 * offsets, c + 2 * offsets)], image[np.ix_(c + offsets, c + offsets)]
    )
    np.testing.assert_allclose(out[c + 1, c], (image[c, c] + image[c + 1, c]) / 2)
    np.testing.assert_allclose(out[c, c - 1], (image[c, c] + image[c, c - 1]) / 2)


@pytest.mark.parametrize("scale", [2.0, 0.5, 1.5])
def test_scaling_a_smooth_blob_scales_its_mass_by_scale_squared(scale):
    # A Gaussian of σ = 3 px on a 61-px frame: scaled by 2 its σ is 6 px, 5σ from the centre
    # to the edge, so the cut-off tail is < 1e-5 of the mass. Grid sums of such a Gaussian
    # equal its integral to ~exp(−2π²σ²/h²) ≤ 1e-40, and the bilinear error (h²/8)·f'' sums
    # to ∫f'' = 0 over the plane, so 1e-3 is a wide bound.
    image = _gaussian(61, 3.0)
    out = affine_transform(image, scale=scale)
    assert out.sum() == pytest.approx(scale**2 * image.sum(), rel=1e-3)
    assert out.max() == pytest.approx(1.0)  # the centre pixel stays put


@settings(max_examples=60, deadline=None)
@given(
    image=st.integers(1, 9).flatmap(
        lambda s: hnp.arrays(np.float64, (s, s), elements=st.floats(-100, 100, width=32))
    ),
    dx=st.floats(-12, 12),
    dy=st.floats(-12, 12),
    angle=st.floats(-7, 7),
    scale=st.floats(0.05, 20),
)
def test_output_is_a_convex_combination_of_pixels_and_zero(image, dx, dy, angle, scale):
    out = affine_transform(image, shift=(dx, dy), angle=angle, scale=scale)
    assert out.shape == image.shape
    # Bilinear weights are ≥ 0 and sum to 1 (up to rounding); outside pixels read 0.
    tol = 1e-12 * (1 + np.abs(image).max())
    assert out.min() >= min(0.0, image.min()) - tol
    assert out.max() <= max(0.0, image.max()) + tol


# --- occlude ---------------------------------------------------------------------------------


def test_occlude_sets_a_band_to_zero_and_leaves_the_input():
    image = np.ones((6, 6))
    out = occlude(image, 2, 3, vertical=True)
    expected = np.ones((6, 6))
    expected[:, 2:5] = 0
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(occlude(image, 4, 3, vertical=False)[4:], 0)
    np.testing.assert_array_equal(occlude(image, 4, 3, vertical=False)[:4], 1)
    np.testing.assert_array_equal(occlude(image, 1, 0), image)
    np.testing.assert_array_equal(image, 1)  # a copy


# --- transformed_sequences -------------------------------------------------------------------


def test_output_shapes_types_and_range(digits):
    images, labels = digits
    seqs = transformed_sequences(
        images, labels, n_sequences=5, frames=4, speed=1.0, occlusion=0.2, seed=0
    )
    assert isinstance(seqs, TransformedSequences)
    assert seqs.frames.shape == (5, 4, 64) and seqs.frames.dtype == np.float32
    assert seqs.labels.shape == (5, 4) and np.issubdtype(seqs.labels.dtype, np.integer)
    assert seqs.shift.shape == (5, 4, 2)
    assert seqs.angle.shape == seqs.scale.shape == seqs.occluder_start.shape == (5, 4)
    assert seqs.side == 8 and seqs.occluder_width == 2 and not seqs.shuffled
    assert 0 <= seqs.frames.min() and seqs.frames.max() <= 16


def test_frames_are_the_recorded_transforms_of_their_source(digits):
    images, labels = digits
    for shuffle in (False, True):
        seqs = transformed_sequences(
            images, labels, n_sequences=6, frames=5, speed=1.5, occlusion=0.3, seed=4,
            shuffle_frames=shuffle,
        )  # fmt: skip
        for i in range(6):
            for k in range(5):
                source = images[seqs.source_index[i, k]].reshape(8, 8)
                expected = occlude(
                    affine_transform(
                        source, tuple(seqs.shift[i, k]), seqs.angle[i, k], seqs.scale[i, k]
                    ),
                    seqs.occluder_start[i, k],
                    seqs.occluder_width,
                    vertical=seqs.occluder_vertical[i, k],
                )
                np.testing.assert_allclose(seqs.frames[i, k], expected.ravel(), atol=1e-5)
                assert seqs.labels[i, k] == labels[seqs.source_index[i, k]]


def test_mnist_shaped_uint8_input_either_layout():
    images = _mnist_like()
    labels = np.arange(6)
    kwargs = dict(n_sequences=4, frames=3, speed=1.0, occlusion=0.25, seed=9)
    square = transformed_sequences(images, labels, **kwargs)
    flat = transformed_sequences(images.reshape(6, 784), labels, **kwargs)
    np.testing.assert_array_equal(square.frames, flat.frames)
    assert square.frames.shape == (4, 3, 784) and square.side == 28
    assert square.occluder_width == 7  # round(0.25 · 28)
    assert 0 <= square.frames.min() and square.frames.max() <= 255
    assert square.frames.max() > 200  # in the source's value range, not rescaled


def test_speed_zero_without_occluder_repeats_one_frame(digits):
    images, labels = digits
    seqs = transformed_sequences(images, labels, n_sequences=10, frames=6, speed=0.0, seed=1)
    np.testing.assert_array_equal(seqs.frames, np.repeat(seqs.frames[:, :1], 6, axis=1))
    # ... and the frames are not all the same digit pose: the starts differ between sequences.
    assert np.ptp(seqs.angle[:, 0]) > 0 and np.ptp(seqs.scale[:, 0]) > 0


def test_frame_to_frame_change_grows_with_speed(digits):
    images, labels = digits
    speeds = [0.0, 0.5, 1.0, 2.0]
    change = [
        _consecutive_msd(
            transformed_sequences(images, labels, n_sequences=40, frames=8, speed=s, seed=2).frames
        ).mean()
        for s in speeds
    ]
    assert change[0] == 0.0
    assert all(a < b for a, b in zip(change, change[1:], strict=False))


def test_same_seed_same_trajectory_starts_at_every_speed(digits):
    images, labels = digits
    slow, fast = (
        transformed_sequences(images, labels, n_sequences=8, frames=5, speed=s, seed=3)
        for s in (0.5, 2.0)
    )
    np.testing.assert_array_equal(slow.source_index, fast.source_index)
    np.testing.assert_array_equal(slow.frames[:, 0], fast.frames[:, 0])


def test_parameters_stay_bounded_and_move_at_most_speed_times_rate(digits):
    images, labels = digits
    speed, max_shift, max_rotation, low, high = 3.0, 1.5, 0.4, 0.9, 1.1
    shift_rate, rotation_rate, scale_rate = 0.3, 0.05, 0.02
    seqs = transformed_sequences(
        images, labels, n_sequences=20, frames=40, speed=speed, seed=5, max_shift=max_shift,
        max_rotation=max_rotation, scale_range=(low, high), shift_rate=shift_rate,
        rotation_rate=rotation_rate, scale_rate=scale_rate,
    )  # fmt: skip
    eps = 1e-12
    assert np.abs(seqs.shift).max() <= max_shift + eps
    assert np.abs(seqs.angle).max() <= max_rotation + eps
    assert low - eps <= seqs.scale.min() and seqs.scale.max() <= high + eps
    # Reflection at a bound folds the straight step, never lengthens it.
    step = np.linalg.norm(np.diff(seqs.shift, axis=1), axis=2)
    assert step.max() <= speed * shift_rate + 1e-9
    assert np.abs(np.diff(seqs.angle, axis=1)).max() <= speed * rotation_rate + 1e-9
    assert np.abs(np.diff(np.log(seqs.scale), axis=1)).max() <= speed * scale_rate + 1e-9
    # Away from the bounds the steps are exactly speed · rate (most steps here).
    assert np.median(np.abs(np.diff(seqs.angle, axis=1))) == pytest.approx(speed * rotation_rate)
    # The paths reach their bounds (they reflect rather than stop short of them).
    assert np.abs(seqs.angle).max() > max_rotation - speed * rotation_rate


def test_slow_sequences_are_continuous(digits):
    images, labels = digits
    seqs = transformed_sequences(images, labels, n_sequences=40, frames=10, speed=0.2, seed=6)
    within = _consecutive_msd(seqs.frames).mean()
    # The same position in neighbouring sequences (different digits or poses).
    between = np.mean((seqs.frames[1:].astype(np.float64) - seqs.frames[:-1]) ** 2)
    assert 0 < within < 0.05 * between


def test_shuffled_frames_are_as_different_as_random_pairs(digits):
    images, labels = digits
    kwargs = dict(n_sequences=40, frames=10, speed=0.2, seed=6)
    ordered = transformed_sequences(images, labels, **kwargs)
    shuffled = transformed_sequences(images, labels, shuffle_frames=True, **kwargs)
    assert shuffled.shuffled
    pair_msd = _consecutive_msd(shuffled.frames).ravel()
    random_pairs = _all_pairs_msd(shuffled.frames.reshape(-1, 64))
    # Consecutive shuffled frames are a random sample of pairs. Pairs sharing a frame are
    # correlated: at most doubling the variance of the mean, hence sqrt(2) in the error;
    # Z = 4.5 standard errors.
    standard_error = math.sqrt(2) * pair_msd.std() / math.sqrt(pair_msd.size)
    assert abs(pair_msd.mean() - random_pairs) < 4.5 * standard_error
    # The ordered sequences are far below: the correlation between frames is gone.
    assert _consecutive_msd(ordered.frames).mean() < 0.1 * random_pairs


def test_shuffle_permutes_the_ordered_frames_with_their_labels(digits):
    images, labels = digits
    kwargs = dict(n_sequences=12, frames=5, speed=1.0, occlusion=0.25, seed=7)
    ordered = transformed_sequences(images, labels, **kwargs)
    shuffled = transformed_sequences(images, labels, shuffle_frames=True, **kwargs)

    def rows_sorted(a):
        flat = a.reshape(60, -1)
        return flat[np.lexsort(flat.T[::-1])]

    np.testing.assert_array_equal(rows_sorted(shuffled.frames), rows_sorted(ordered.frames))
    assert Counter(shuffled.labels.ravel()) == Counter(ordered.labels.ravel())
    np.testing.assert_array_equal(shuffled.labels, labels[shuffled.source_index])
    assert not np.array_equal(shuffled.frames, ordered.frames)
    # Ordered: one label per sequence. Shuffled: sequences mix sources.
    assert np.all(ordered.labels == ordered.labels[:, :1])
    assert np.mean(np.ptp(shuffled.source_index, axis=1) > 0) > 0.9


@pytest.mark.parametrize("side, fraction", [(8, 0.3), (8, 0.1), (28, 0.3), (28, 0.6)])
def test_occluder_band_width_zeros_and_sweep(side, fraction):
    width = math.floor(fraction * side + 0.5)
    frames = 7
    seqs = transformed_sequences(
        np.ones((1, side * side)), np.array([3]), n_sequences=20, frames=frames,
        occlusion=fraction, seed=8, **_still(),
    )  # fmt: skip
    assert seqs.occluder_width == width
    pixels = seqs.frames.reshape(20, frames, side, side)
    for i in range(20):
        for k in range(frames):
            start, vertical = seqs.occluder_start[i, k], seqs.occluder_vertical[i, k]
            band = np.zeros((side, side), bool)
            if vertical:
                band[:, start : start + width] = True
            else:
                band[start : start + width, :] = True
            # Exactly the band is zero (the still digit of ones fills the rest of the frame).
            np.testing.assert_array_equal(pixels[i, k] == 0, band)
            assert 0 <= start and start + width <= side
        # One edge to the other, monotonically, in either direction.
        sweep = seqs.occluder_start[i]
        assert {sweep[0], sweep[-1]} == {0, side - width}
        steps = np.diff(sweep)
        assert np.all(steps >= 0) or np.all(steps <= 0)
    assert 0 < seqs.occluder_vertical[:, 0].sum() < 20  # both orientations occur


def test_occluded_pixels_of_digits_are_zero(digits):
    images, labels = digits
    seqs = transformed_sequences(
        images, labels, n_sequences=10, frames=6, speed=1.0, occlusion=0.4, seed=10
    )
    width = seqs.occluder_width
    assert width == 3
    pixels = seqs.frames.reshape(10, 6, 8, 8)
    for i in range(10):
        for k in range(6):
            start = seqs.occluder_start[i, k]
            band = (
                pixels[i, k][:, start : start + width]
                if seqs.occluder_vertical[i, k]
                else pixels[i, k][start : start + width]
            )
            np.testing.assert_array_equal(band, 0)


def test_occlusion_zero_or_below_half_a_pixel_has_no_occluder():
    image = np.ones((1, 64))
    for fraction in (0.0, 0.06):  # 0.06 · 8 = 0.48 px rounds to none
        seqs = transformed_sequences(
            image, [1], n_sequences=3, frames=4, occlusion=fraction, seed=0, **_still()
        )
        assert seqs.occluder_width == 0
        np.testing.assert_array_equal(seqs.frames, 1)


def test_same_seed_is_bit_identical_and_seeds_differ(digits):
    images, labels = digits
    kwargs = dict(n_sequences=6, frames=4, speed=1.0, occlusion=0.3, shuffle_frames=True)
    a = transformed_sequences(images, labels, seed=11, **kwargs)
    b = transformed_sequences(images, labels, seed=11, **kwargs)
    c = transformed_sequences(images, labels, seed=12, **kwargs)
    for field in ("frames", "labels", "source_index", "shift", "angle", "scale"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    np.testing.assert_array_equal(a.occluder_start, b.occluder_start)
    assert not np.array_equal(a.frames, c.frames)
    assert not np.array_equal(a.shift, c.shift)


def test_labels_of_unshuffled_sequences_are_their_source_labels(digits):
    images, labels = digits
    seqs = transformed_sequences(images, labels, n_sequences=30, frames=3, seed=13)
    np.testing.assert_array_equal(seqs.labels, labels[seqs.source_index])
    assert np.all(seqs.source_index == seqs.source_index[:, :1])
    assert len(set(seqs.labels[:, 0])) > 5  # sources are drawn across the data set


# --- bad arguments ---------------------------------------------------------------------------

_GOOD = dict(n_sequences=2, frames=3)


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(images=np.zeros((4, 60))), "images"),
        (dict(images=np.zeros((4, 8, 7))), "images"),
        (dict(images=np.zeros(64)), "images"),
        (dict(images=np.full((4, 64), np.nan)), "images"),
        (dict(labels=np.zeros(3, int)), "labels"),
        (dict(labels=np.zeros(4)), "labels"),
        (dict(speed=-0.1), "speed"),
        (dict(speed=math.nan), "speed"),
        (dict(occlusion=1.0), "occlusion"),
        (dict(occlusion=-0.1), "occlusion"),
        (dict(frames=0), "frames"),
        (dict(frames=2.5), "frames"),
        (dict(n_sequences=0), "n_sequences"),
        (dict(seed=-1), "seed"),
        (dict(max_shift=-1.0), "max_shift"),
        (dict(max_rotation=-0.1), "max_rotation"),
        (dict(scale_range=(0.0, 1.0)), "scale_range"),
        (dict(scale_range=(1.2, 0.8)), "scale_range"),
        (dict(scale_range=1.0), "scale_range"),
        (dict(rotation_rate=-1.0), "rotation_rate"),
    ],
)
def test_bad_arguments_name_the_argument(change, match):
    arguments = dict(images=np.zeros((4, 64)), labels=np.zeros(4, int)) | _GOOD | change
    images, labels = arguments.pop("images"), arguments.pop("labels")
    with pytest.raises(ValueError, match=match):
        transformed_sequences(images, labels, **arguments)


@pytest.mark.parametrize(
    "image, kwargs, match",
    [
        (np.zeros((4, 5)), {}, "image"),
        (np.zeros(16), {}, "image"),
        (np.zeros((4, 4)), dict(scale=0.0), "scale"),
        (np.zeros((4, 4)), dict(angle=math.inf), "angle"),
        (np.zeros((4, 4)), dict(shift=(1.0,)), "shift"),
    ],
)
def test_bad_transform_arguments_name_the_argument(image, kwargs, match):
    with pytest.raises(ValueError, match=match):
        affine_transform(image, **kwargs)
