"""The triplet loss with online mining: triplets found inside each batch, in-graph."""

from __future__ import annotations

import keras
from keras import ops

from ..layers import PACKAGE
from ..distances import l2_normalize
from ._batch import FAR, check_distance, distance_matrix, label_masks, masked_mean

MINING = ("batch_all", "batch_hard", "semi_hard")
# Stands in for "no such pair" in masked minima and maxima; far above any distance the losses see.


@keras.saving.register_keras_serializable(package=PACKAGE)
class TripletLoss(keras.losses.Loss):
    """Triplet loss (Schroff et al. 2015, FaceNet) with triplets mined from the batch.

    For an anchor `a`, a positive `p` (same class, `p != a`) and a negative `n` (another class):

        l(a, p, n) = max(d(a, p) - d(a, n) + margin, 0)

    so each anchor's positives are pulled at least `margin` closer than its negatives. Which triplets
    count is the mining:

    - `"batch_all"`: every valid triplet of the batch, averaged over those with `l > 0` (averaging
      over all of them would let the many easy ones drown the signal; Hermans et al. 2017);
    - `"batch_hard"`: per anchor, its farthest positive and nearest negative (Hermans et al. 2017),
      averaged over anchors that have both;
    - `"semi_hard"`: per (anchor, positive) pair, the nearest negative farther than the positive
      (FaceNet's semi-hard negative); where there is none, the farthest negative. Averaged over the
      pairs whose anchor has a negative.

    With `normalize=True` every embedding is scaled to unit length before the distances (FaceNet's
    setting, there with `distance="squared"` and `margin=0.2`): on the unit sphere
    `|u - v|^2 = 2 (1 - cos(u, v))` lies in [0, 4], so the margin means the same for every tower and
    the tower cannot satisfy it by growing or shrinking all its embeddings together.

    Anchors with no positive in the batch (a class with one image) and batches with one class only
    add nothing; a batch with no valid triplet costs 0, never NaN. Draw batches with
    `class_balanced_stream` so each class brings several images.

    Args:
        margin: how much closer positives must be than negatives.
        mining: `"batch_all"`, `"batch_hard"` or `"semi_hard"`.
        distance: `"euclidean"`, `"squared"` (FaceNet's) or `"cosine"` (`1 - cos`, for unit-free
            embeddings).
        normalize: L2-normalise the embeddings before measuring them (implied by `"cosine"`).
        name: loss name.
        **kwargs: passed to `keras.losses.Loss`.

    Returns (when called as `loss(y_true, y_pred)`):
        scalar loss; `y_true` is the batch's class labels `[B]` (not pair labels), `y_pred` its
        embeddings `[B, D]`.

    Example:
        >>> loss = TripletLoss(margin=1.0, mining="batch_hard")
        >>> float(loss([0, 0, 1, 1], [[0.0], [0.5], [2.0], [3.0]]))  # only anchor 2.0 costs: 1 - 1.5 + 1
        0.125
    """

    def __init__(self, margin: float = 1.0, mining: str = "semi_hard", distance: str = "euclidean",
                 normalize: bool = False, name: str = "triplet_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if not margin > 0:
            raise ValueError(f"TripletLoss: margin must be > 0, got {margin}.")
        if mining not in MINING:
            raise ValueError(f"TripletLoss: mining must be one of {', '.join(map(repr, MINING))}, got {mining!r}.")
        self.margin = float(margin)
        self.mining = mining
        self.distance = check_distance(distance, "TripletLoss")
        if not isinstance(normalize, bool):
            raise ValueError(f"TripletLoss: normalize must be True or False, got {normalize!r}.")
        self.normalize = normalize

    @property
    def on_unit_sphere(self) -> bool:
        """Whether the loss sees only the embeddings' directions (normalised, or cosine)."""
        return self.normalize or self.distance == "cosine"

    def call(self, y_true, y_pred):
        if self.normalize:
            y_pred = l2_normalize(y_pred)
        distances = distance_matrix(y_pred, self.distance)
        positive, negative = label_masks(y_true)
        if self.mining == "batch_hard":
            return _batch_hard(distances, positive, negative, self.margin)
        if self.mining == "batch_all":
            return _batch_all(distances, positive, negative, self.margin)
        return _semi_hard(distances, positive, negative, self.margin)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin, "mining": self.mining, "distance": self.distance,
                "normalize": self.normalize}


def _farthest(distances, mask):
    return ops.max(ops.where(mask, distances, -FAR), axis=-1)


def _nearest(distances, mask):
    return ops.min(ops.where(mask, distances, FAR), axis=-1)


def _batch_hard(distances, positive, negative, margin):
    losses = ops.relu(_farthest(distances, positive) - _nearest(distances, negative) + margin)
    has_both = ops.logical_and(ops.any(positive, axis=-1), ops.any(negative, axis=-1))
    return masked_mean(losses, has_both)


def _batch_all(distances, positive, negative, margin):
    # losses[a, p, n]: one value per ordered triplet; B^3 values, fine for the batches metric learning uses.
    losses = ops.relu(ops.expand_dims(distances, 2) - ops.expand_dims(distances, 1) + margin)
    valid = ops.logical_and(ops.expand_dims(positive, 2), ops.expand_dims(negative, 1))
    return masked_mean(losses, ops.logical_and(valid, losses > 0))


def _semi_hard(distances, positive, negative, margin):
    anchor_to_negative = ops.expand_dims(distances, 1)  # [a, 1, n]
    farther = ops.logical_and(ops.expand_dims(negative, 1), anchor_to_negative > ops.expand_dims(distances, 2))
    semi_hard = ops.min(ops.where(farther, anchor_to_negative, FAR), axis=-1)  # [a, p]
    fallback = ops.expand_dims(_farthest(distances, negative), 1)
    chosen = ops.where(ops.any(farther, axis=-1), semi_hard, fallback)
    losses = ops.relu(distances - chosen + margin)
    valid = ops.logical_and(positive, ops.expand_dims(ops.any(negative, axis=-1), 1))
    return masked_mean(losses, valid)
