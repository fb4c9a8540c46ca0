"""`EmbeddingModel`: the encoder alone, trained on class-balanced batches with a batch loss.

Triplet-style losses need no pair head: a step embeds a P x K batch (`class_balanced_stream`) and the
loss mines its own pairs and triplets from the batch's labels. The trained tower is a distance-based
twin like the others: two images are the same class when their embeddings are close.
"""

from __future__ import annotations

import keras
import numpy as np

from ..distances import l2_normalize
from ..layers import PACKAGE
from ..losses import MultiSimilarityLoss, SupervisedContrastiveLoss, TripletLoss
from .twin import _replicas_in_sync, embed

BATCH_LOSSES = (TripletLoss, MultiSimilarityLoss, SupervisedContrastiveLoss)


def _compares_directions(loss) -> bool:
    """Whether the loss sees only the embeddings' directions (cosine or normalised), so their lengths
    mean nothing."""
    return not isinstance(loss, TripletLoss) or loss.on_unit_sphere


def _whole_batch(labels, embeddings):
    """The labels and embeddings of every replica's share, in global-batch order (as they are
    without a strategy), so a batch loss mines the global batch whatever the split."""
    if _replicas_in_sync() == 1:
        return labels, embeddings
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None:
        return labels, embeddings
    # A sum, not `all_gather`: under MultiWorkerMirroredStrategy with one device per worker,
    # all_gather fails in a compiled step ("destinations can not be empty"). Each replica places its
    # share in zeros at its offset in the global batch, so the sum is the global batch; the gradient
    # of an all-reduce sum is the sum of every replica's gradient, cut back to this replica's rows.
    index = context.replica_id_in_sync_group
    size = tf.shape(embeddings)[0]
    sizes = context.all_reduce("sum", tf.one_hot(index, context.num_replicas_in_sync, dtype=tf.int32) * size)
    before, after = tf.reduce_sum(sizes[:index]), tf.reduce_sum(sizes[index + 1:])

    def placed(values):
        return tf.pad(values, [[before, after]] + [[0, 0]] * (len(values.shape) - 1))

    return context.all_reduce("sum", placed(labels)), context.all_reduce("sum", placed(embeddings))


@keras.saving.register_keras_serializable(package=PACKAGE)
class EmbeddingModel(keras.Model):
    """A tower trained on class-balanced batches with `TripletLoss`, `MultiSimilarityLoss` or
    `SupervisedContrastiveLoss`.

    Compile it with an optimizer only; the loss is the model's own (saved with it). Where the loss
    compares directions only (cosine: multi-similarity, supervised contrastive, a cosine or
    normalised triplet loss), `embed` returns unit-length embeddings, so the Euclidean distance every evaluation uses
    ranks pairs exactly as the loss did. `score_kind` is `"distance"`.

    Under a `tf.distribute` strategy every replica gathers the embeddings and labels of all replicas
    and mines the whole global batch, as one device would (mining only its own share would lose the
    negatives and positives on other replicas, and a share of one class would have no negatives at
    all); the gradient flows back to each replica's own images, so the summed gradients are one
    device's on the same batch.

    Args:
        encoder: the tower, a `keras.Model` from pixels to embeddings.
        loss: one of the batch losses; default `TripletLoss()` (semi-hard mining, Euclidean).
        **kwargs: passed to `keras.Model`.

    Returns (when called on images):
        float tensor `[B, D]` of embeddings (unit length for direction-only losses).

    Example:
        >>> model = EmbeddingModel(conv4((28, 28, 1), feature_dim=64, feature_activation=None),
        ...                        loss=TripletLoss(margin=0.5, mining="batch_hard"))
        >>> model.compile(optimizer="adam")
        >>> train_loop(model, class_balanced_stream(background, 16, 4), steps=1000)
    """

    score_kind = "distance"

    def __init__(self, encoder: keras.Model, loss=None, **kwargs):
        super().__init__(**kwargs)
        loss = TripletLoss() if loss is None else loss
        if not isinstance(loss, BATCH_LOSSES):
            raise ValueError(
                f"EmbeddingModel: loss must be one of {', '.join(c.__name__ for c in BATCH_LOSSES)} (they take "
                f"class labels and mine the batch), got {type(loss).__name__}; for pair losses use SiameseModel."
            )
        self.encoder = encoder
        self.batch_loss = loss
        self.unit_length = _compares_directions(loss)
        self.built = encoder.built

    def call(self, images, training=False):
        embeddings = self.encoder(images, training=training)
        # In training the loss gets the tower's raw output, as it always has: the direction-only
        # losses normalise it themselves, and normalising twice would move the last bits.
        return l2_normalize(embeddings) if self.unit_length and not training else embeddings

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The batch loss of the embeddings, mined from the class labels; `fit` differentiates it.

        Args:
            x: the images (unused).
            y: class labels `[B]`.
            y_pred: embeddings `[B, D]`.
            sample_weight: unused (the loss weighs the pairs and triplets it mines).
            training: whether this is a training step.

        Returns:
            scalar loss of the whole batch, divided by the replica count under a `tf.distribute`
            strategy.
        """
        if y is None:
            raise ValueError("EmbeddingModel: the batches need class labels, (images, labels) as "
                             "class_balanced_stream yields them.")
        # Every replica computes the whole batch's loss, and each image's gradient comes back as the
        # sum over replicas; dividing by the replica count makes the summed weight gradients the
        # whole batch's, once.
        return self.batch_loss(*_whole_batch(y, y_pred)) / _replicas_in_sync()

    def embed(self, images, batch_size: int = 512) -> np.ndarray:
        """Embeds images with the encoder, unit length for direction-only losses.

        Args:
            images: pixel array `[N, H, W, C]` (0..255) or an `ImageSet`.
            batch_size: images per encoder call.

        Returns:
            float32 numpy array `[N, embedding_dim]`.
        """
        embeddings = embed(self.encoder, images, batch_size)
        if self.unit_length:
            embeddings = np.asarray(keras.ops.convert_to_numpy(l2_normalize(embeddings)), dtype=np.float32)
        return embeddings

    def get_config(self):
        return {**super().get_config(), "encoder": keras.saving.serialize_keras_object(self.encoder),
                "loss": keras.saving.serialize_keras_object(self.batch_loss)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        loss = keras.saving.deserialize_keras_object(config.pop("loss"))
        return cls(encoder=encoder, loss=loss, **config)

