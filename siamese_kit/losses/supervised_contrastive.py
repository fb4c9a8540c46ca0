"""The supervised contrastive loss: each image against the whole batch, its classmates as the answers."""

from __future__ import annotations

import keras
from keras import ops

from ..layers import PACKAGE
from ..distances import l2_normalize
from ._batch import FAR, label_masks, masked_mean



@keras.saving.register_keras_serializable(package=PACKAGE)
class SupervisedContrastiveLoss(keras.losses.Loss):
    """Supervised contrastive loss of Khosla et al. (2020), the `L_out` form.

    With `z` the unit-length embeddings and `tau` the temperature, for an anchor i with classmates
    `P(i)` in the batch:

        L_i = -1/|P(i)| * sum_{p in P(i)} log( exp(z_i.z_p / tau) / sum_{a != i} exp(z_i.z_a / tau) )

    a softmax over the rest of the batch in which every classmate is a right answer. The loss is the
    mean of `L_i` over anchors with at least one classmate; a batch where no image has one costs 0.

    Args:
        temperature: `tau`; smaller values weigh the hardest negatives more (0.1 in the paper).
        name: loss name.
        **kwargs: passed to `keras.losses.Loss`.

    Returns (when called as `loss(y_true, y_pred)`):
        scalar loss; `y_true` is the batch's class labels `[B]`, `y_pred` its embeddings `[B, D]`.
    """

    def __init__(self, temperature: float = 0.1, name: str = "supervised_contrastive_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if not temperature > 0:
            raise ValueError(f"SupervisedContrastiveLoss: temperature must be > 0, got {temperature}.")
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        unit = l2_normalize(y_pred)
        logits = ops.matmul(unit, ops.transpose(unit)) / self.temperature
        positive, negative = label_masks(y_true)
        others = ops.logical_or(positive, negative)  # everything but the anchor itself
        log_normaliser = ops.logsumexp(ops.where(others, logits, -FAR), axis=-1, keepdims=True)
        log_probability = logits - log_normaliser
        counts = ops.sum(ops.cast(positive, logits.dtype), axis=-1)
        per_anchor = -ops.sum(ops.where(positive, log_probability, 0.0), axis=-1) / ops.maximum(counts, 1.0)
        return masked_mean(per_anchor, counts > 0)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
