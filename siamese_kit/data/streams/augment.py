"""In-graph image augmentation: the affine distortions of Koch, Zemel & Salakhutdinov (2015)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import tensorflow as tf

from .seeds import derived_key


@dataclass(frozen=True)
class AffineDistortion:
    """Random affine distortions, drawn per image, each component applied with probability `probability`.

    Koch et al. (2015) distort Omniglot training pairs with rotation within +-10 degrees, shear within
    +-0.3, scale 0.8 to 1.2 and translation within +-2 px, each component switched on independently
    with probability 0.5 (those are the defaults). The transform is applied about the image centre
    with bilinear interpolation; pixels from outside the image repeat the nearest edge pixel, which
    is background for centred characters and digits. Runs in the TensorFlow graph and is seeded, so
    a pair stream that uses it stays reproducible.

    Args:
        rotation_degrees: largest rotation either way.
        shear: largest shear factor either way, per axis.
        scale_range: `(low, high)` scale factors, per axis.
        translation_pixels: largest shift either way, per axis.
        probability: chance that each component is applied to an image.

    Returns (when called as `distortion(images, seed)`):
        images of the same shape and dtype, distorted.

    Example:
        >>> distort = AffineDistortion()
        >>> stream = pair_stream(background, 128, mode="random", augment=distort)
    """

    rotation_degrees: float = 10.0
    shear: float = 0.3
    scale_range: tuple[float, float] = (0.8, 1.2)
    translation_pixels: float = 2.0
    probability: float = 0.5

    def __post_init__(self):
        low, high = self.scale_range
        if not 0 < low <= high:
            raise ValueError(f"AffineDistortion: scale_range must satisfy 0 < low <= high, got {self.scale_range}.")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"AffineDistortion: probability must be in [0, 1], got {self.probability}.")

    def transforms(self, batch_size, height, width, seed):
        """The per-image projective transforms (output pixel -> input pixel), `[B, 8]` float32.

        Args:
            batch_size: images in the batch.
            height, width: image size in pixels.
            seed: int tensor `[2]` for stateless sampling.

        Returns:
            float32 tensor `[batch_size, 8]` in `ImageProjectiveTransformV3` form.
        """
        draws = tf.random.stateless_uniform([10, batch_size], seed=seed)
        on = tf.cast(draws[5:] < self.probability, tf.float32)  # one switch per component

        def spread(uniform, half_width):
            return (2.0 * uniform - 1.0) * half_width

        angle = on[0] * spread(draws[0], math.radians(self.rotation_degrees))
        shear_x = on[1] * spread(draws[1], self.shear)
        shear_y = on[1] * spread(draws[2], self.shear)
        low, high = self.scale_range
        scale_x = 1.0 + on[2] * (low + (high - low) * draws[3] - 1.0)
        scale_y_draw = tf.random.stateless_uniform([batch_size], seed=derived_key(seed, "distortion scale"))
        scale_y = 1.0 + on[2] * (low + (high - low) * scale_y_draw - 1.0)
        shift = tf.random.stateless_uniform([2, batch_size], seed=derived_key(seed, "distortion shift"))
        shift_x = on[3] * spread(shift[0], self.translation_pixels)
        shift_y = on[4] * spread(shift[1], self.translation_pixels)

        # Forward map of a point about the centre: rotation @ shear @ scale, then the shift.
        cos, sin = tf.cos(angle), tf.sin(angle)
        m00 = (cos + (-sin) * shear_y) * scale_x
        m01 = (cos * shear_x - sin) * scale_y
        m10 = (sin + cos * shear_y) * scale_x
        m11 = (sin * shear_x + cos) * scale_y
        # The op wants the inverse map (output -> input); invert the 2x2 and the offset.
        determinant = m00 * m11 - m01 * m10
        i00, i01 = m11 / determinant, -m01 / determinant
        i10, i11 = -m10 / determinant, m00 / determinant
        centre_x = (tf.cast(width, tf.float32) - 1.0) / 2.0
        centre_y = (tf.cast(height, tf.float32) - 1.0) / 2.0
        target_x, target_y = centre_x + shift_x, centre_y + shift_y
        offset_x = centre_x - (i00 * target_x + i01 * target_y)
        offset_y = centre_y - (i10 * target_x + i11 * target_y)
        zeros = tf.zeros_like(angle)
        return tf.stack([i00, i01, offset_x, i10, i11, offset_y, zeros, zeros], axis=1)

    def __call__(self, images, seed):
        shape = tf.shape(images)
        transforms = self.transforms(shape[0], shape[1], shape[2], tf.cast(seed, tf.int64))
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=transforms,
            output_shape=shape[1:3],
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="NEAREST",
        )
