"""Losses for twin networks. Pair label convention: 1 = same class, 0 = different class."""

from __future__ import annotations

import keras
from keras import ops

from ..layers import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class ContrastiveLoss(keras.losses.Loss):
    """Contrastive loss of Hadsell, Chopra & LeCun (2006), in Caffe's non-legacy form.

    For a pair with distance `d = ||f1 - f2||_2` and pair label `y` (1 = same class, 0 = different):

        L = 1/2 * [ y * d^2 + (1 - y) * max(margin - d, 0)^2 ]

    averaged over the batch, which is Caffe's `1/(2N) * sum`. Same-class pairs are pulled together;
    different-class pairs are pushed apart until they are `margin` away, and no further.

    Args:
        margin: distance beyond which different-class pairs cost nothing (the tutorial uses 2.0).
        name: loss name.
        **kwargs: passed to `keras.losses.Loss` (for example `reduction`).

    Returns (when called as `loss(y_true, y_pred)`):
        scalar loss; `y_true` is the pair label, `y_pred` the distance (not a probability: never put
        a sigmoid after the distance, or a margin above 1 cannot be reached).

    Example:
        >>> ContrastiveLoss(margin=2.0)([1.0, 0.0], [0.5, 1.5])  # (0.25 + 0.25) / 2 / 2 = 0.125
    """

    def __init__(self, margin: float = 2.0, name: str = "contrastive_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if margin <= 0:
            raise ValueError(f"ContrastiveLoss: margin must be > 0, got {margin}.")
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        y_true = ops.cast(ops.reshape(y_true, (-1,)), y_pred.dtype)
        distance = ops.reshape(y_pred, (-1,))
        same = y_true * ops.square(distance)
        different = (1.0 - y_true) * ops.square(ops.maximum(self.margin - distance, 0.0))
        return 0.5 * (same + different)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}
