"""Koch's affine distortions: in-graph, seeded, within their ranges, and wired into pair streams."""

import numpy as np
import pytest
import tensorflow as tf

from siamese_kit.data import AffineDistortion, pair_stream

from conftest import make_imageset


def square_image(size=28):
    image = np.zeros((size, size, 1), np.uint8)
    image[10:18, 10:18] = 255
    return image


def test_identity_when_no_component_is_applied():
    images = np.stack([square_image()] * 4)
    out = AffineDistortion(probability=0.0)(images, tf.constant([1, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(out, images)


def test_pure_translation_moves_the_square_by_at_most_two_pixels():
    images = np.stack([square_image()] * 64)
    distort = AffineDistortion(rotation_degrees=0, shear=0, scale_range=(1, 1), translation_pixels=2, probability=1)
    out = distort(images, tf.constant([3, 4], tf.int64)).numpy().astype(float)
    for image in out:
        rows, cols = np.nonzero(image[..., 0] > 127)
        assert abs(rows.mean() - 13.5) <= 2.01 and abs(cols.mean() - 13.5) <= 2.01
    centres = [np.nonzero(img[..., 0] > 127)[1].mean() for img in out]
    assert np.std(centres) > 0.3  # the shifts really vary


def test_scale_changes_the_ink_area_within_the_range():
    images = np.stack([square_image()] * 64)
    distort = AffineDistortion(rotation_degrees=0, shear=0, scale_range=(0.8, 1.2), translation_pixels=0, probability=1)
    out = distort(images, tf.constant([5, 6], tf.int64)).numpy().astype(float) / 255
    area = out.sum(axis=(1, 2, 3))
    assert area.min() >= 64 * 0.8 * 0.8 - 4 and area.max() <= 64 * 1.2 * 1.2 + 4
    assert area.max() - area.min() > 10


def test_same_seed_same_distortion_and_dtype_kept():
    images = np.stack([square_image()] * 8)
    distort = AffineDistortion(probability=1.0)
    first = distort(images, tf.constant([9, 9], tf.int64)).numpy()
    again = distort(images, tf.constant([9, 9], tf.int64)).numpy()
    other = distort(images, tf.constant([9, 10], tf.int64)).numpy()
    assert first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_pair_stream_applies_augmentation_reproducibly():
    imageset = make_imageset(size=28)
    plain = next(iter(pair_stream(imageset, 8, seed=1)))[0]["image_a"].numpy()
    distorted = next(iter(pair_stream(imageset, 8, seed=1, augment=AffineDistortion(probability=1.0))))
    again = next(iter(pair_stream(imageset, 8, seed=1, augment=AffineDistortion(probability=1.0))))
    assert not np.array_equal(plain, distorted[0]["image_a"].numpy())
    np.testing.assert_array_equal(distorted[0]["image_a"].numpy(), again[0]["image_a"].numpy())
    np.testing.assert_array_equal(distorted[1].numpy(), again[1].numpy())


def test_bad_ranges_are_refused():
    with pytest.raises(ValueError, match="scale_range"):
        AffineDistortion(scale_range=(0, 1))
    with pytest.raises(ValueError, match="probability"):
        AffineDistortion(probability=1.5)
