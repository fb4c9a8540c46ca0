"""The multi-similarity loss: every pair of the batch weighted by how informative it is."""

from __future__ import annotations

import keras
from keras import ops

from ..layers import PACKAGE
from ..distances import l2_normalize
from ._batch import FAR, label_masks



@keras.saving.register_keras_serializable(package=PACKAGE)
class MultiSimilarityLoss(keras.losses.Loss):
    """Multi-similarity loss of Wang et al. (2019), with its pair mining, on cosine similarities.

    With `S_ij` the cosine similarity of embeddings i and j, each anchor i first keeps the hard pairs:
    negatives with `S_ik + epsilon > min over positives S_ij`, positives with
    `S_ij - epsilon < max over negatives S_ik`. Then

        L_i = 1/alpha * log(1 + sum_{kept positives} exp(-alpha (S_ij - base)))
            + 1/beta  * log(1 + sum_{kept negatives} exp( beta (S_ik - base)))

    and the loss is the sum of `L_i` over the anchors that kept at least one positive and one
    negative, divided by the batch size (as in the authors' code). Each sum is a soft maximum, so the
    hardest pairs weigh most. The sums are computed in a log-sum-exp form, so `beta = 50` cannot
    overflow.

    Args:
        alpha: weight scale of positive pairs (2 in the paper).
        beta: weight scale of negative pairs (50).
        base: the similarity that separates pulling from pushing (0.5; the paper's lambda).
        epsilon: mining slack (0.1); 0 keeps only pairs that break the ordering outright.
        name: loss name.
        **kwargs: passed to `keras.losses.Loss`.

    Returns (when called as `loss(y_true, y_pred)`):
        scalar loss; `y_true` is the batch's class labels `[B]`, `y_pred` its embeddings `[B, D]`
        (any length: they are normalised here).
    """

    def __init__(self, alpha: float = 2.0, beta: float = 50.0, base: float = 0.5, epsilon: float = 0.1,
                 name: str = "multi_similarity_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        for argument, value in (("alpha", alpha), ("beta", beta)):
            if not value > 0:
                raise ValueError(f"MultiSimilarityLoss: {argument} must be > 0, got {value}.")
        if not epsilon >= 0:
            raise ValueError(f"MultiSimilarityLoss: epsilon must be >= 0, got {epsilon}.")
        self.alpha, self.beta, self.base, self.epsilon = float(alpha), float(beta), float(base), float(epsilon)

    def call(self, y_true, y_pred):
        unit = l2_normalize(y_pred)
        similarity = ops.matmul(unit, ops.transpose(unit))
        positive, negative = label_masks(y_true)
        hardest_positive = ops.min(ops.where(positive, similarity, FAR), axis=-1, keepdims=True)
        hardest_negative = ops.max(ops.where(negative, similarity, -FAR), axis=-1, keepdims=True)
        kept_negative = ops.logical_and(negative, similarity + self.epsilon > hardest_positive)
        kept_positive = ops.logical_and(positive, similarity - self.epsilon < hardest_negative)
        pull = _log_one_plus_sum_exp(-self.alpha * (similarity - self.base), kept_positive) / self.alpha
        push = _log_one_plus_sum_exp(self.beta * (similarity - self.base), kept_negative) / self.beta
        counted = ops.cast(ops.logical_and(ops.any(kept_positive, axis=-1), ops.any(kept_negative, axis=-1)),
                           pull.dtype)
        return ops.sum((pull + push) * counted) / ops.cast(ops.shape(similarity)[0], pull.dtype)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "beta": self.beta, "base": self.base,
                "epsilon": self.epsilon}


def _log_one_plus_sum_exp(exponents, mask):
    """Per row, `log(1 + sum over mask of exp(exponents))`, shifted by the row's largest term."""
    exponents = ops.where(mask, exponents, -FAR)
    shift = ops.maximum(ops.max(exponents, axis=-1, keepdims=True), 0.0)
    total = ops.exp(-shift) + ops.sum(ops.where(mask, ops.exp(exponents - shift), 0.0), axis=-1, keepdims=True)
    return ops.squeeze(ops.log(total) + shift, -1)
