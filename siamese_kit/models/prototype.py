"""`PrototypeModel`: trains a tower on N-way K-shot episodes with the prototypical-network loss.

Snell, Swersky & Zemel (2017): each class of an episode is represented by the mean embedding of its
support images (its prototype), and each query is classified by a softmax over its negative squared
distances to the prototypes. Training thus rehearses exactly the one-shot decision the tower is tested
on. The trained tower is a distance-based twin: two images are the same class when their embeddings
are close.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from ..distances import pairwise_squared_distances
from ..layers import PACKAGE
from .twin import _replicas_in_sync, embed


def class_prototypes(support_embeddings, ways: int):
    """Mean embedding of each class from class-by-class support embeddings.

    Args:
        support_embeddings: `[..., ways * shots, D]`, the shots of class 0 first, then class 1, ...
            (leading axes: one set per episode).
        ways: number of classes.

    Returns:
        tensor `[..., ways, D]`.
    """
    shape = ops.shape(support_embeddings)
    grouped = ops.reshape(support_embeddings, (*shape[:-2], ways, shape[-2] // ways, shape[-1]))
    return ops.mean(grouped, axis=-2)


@keras.saving.register_keras_serializable(package=PACKAGE)
class PrototypeModel(keras.Model):
    """A tower trained on episodes (`siamese_kit.data.episode_stream`) with the prototypical loss.

    A training step embeds the episode's support and query images in one encoder pass, averages the
    support embeddings of each class into a prototype, and minimises the cross-entropy of the softmax
    over the queries' negative squared distances to the prototypes. Compile it with an optimizer only;
    the loss is the model's own. `score_kind` is `"distance"`, so one-shot evaluation and pair
    decisions use Euclidean distance between embeddings.

    A step takes one episode, or several stacked on a leading axis (`episode_stream(...).batch(n)`),
    whose losses it averages. Several are what a `tf.distribute` strategy needs: it splits the stack
    so each replica trains on whole episodes (one episode would be cut into pieces), and the loss
    each replica differentiates is divided by the replica count, so the summed gradients are those of
    the whole stack on one device.

    Args:
        encoder: the tower, a `keras.Model` from pixels to embeddings (no sigmoid on the output).
        **kwargs: passed to `keras.Model`.

    Returns (when called on an episode dict):
        float tensor `[Q, ways]` of logits (negative squared distances).

    Example:
        >>> model = PrototypeModel(conv4((28, 28, 1), feature_dim=128, feature_activation=None))
        >>> model.compile(optimizer="adam")
        >>> train_loop(model, episode_stream(background, ways=20), steps=1000)
    """

    score_kind = "distance"

    def __init__(self, encoder: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")
        self.built = encoder.built

    def _stacked(self, episode) -> bool:
        """Whether the episode dict holds several episodes on a leading axis (images one rank up)."""
        return len(episode["support"].shape) > len(self.encoder.input_shape)

    def _episode_logits(self, episode, training):
        support, query = episode["support"], episode["query"]
        ways = ops.shape(episode["classes"])[-1]
        if not self._stacked(episode):
            embeddings = self.encoder(ops.concatenate([support, query], axis=0), training=training)
            count = ops.shape(support)[0]
            support_embeddings, query_embeddings = embeddings[:count], embeddings[count:]
        else:
            # Stacked episodes: every image of every episode in one encoder pass, then split back.
            stacked, per_support, per_query = ops.shape(support)[0], ops.shape(support)[1], ops.shape(query)[1]
            images = ops.concatenate([ops.reshape(support, (-1, *support.shape[2:])),
                                      ops.reshape(query, (-1, *query.shape[2:]))], axis=0)
            embeddings = self.encoder(images, training=training)
            dim = ops.shape(embeddings)[-1]
            support_embeddings = ops.reshape(embeddings[: stacked * per_support], (stacked, per_support, dim))
            query_embeddings = ops.reshape(embeddings[stacked * per_support :], (stacked, per_query, dim))
        return -pairwise_squared_distances(query_embeddings, class_prototypes(support_embeddings, ways))

    def call(self, episode, training=False):
        replicas = _replicas_in_sync()
        if training and replicas > 1 and not self._stacked(episode):
            # Checked before the forward pass: a strategy cuts a lone episode's images apart.
            raise ValueError(
                f"PrototypeModel: training on {replicas} replicas needs whole episodes per replica; stack "
                f"them with episode_stream(...).batch({replicas}) (or a multiple of {replicas})."
            )
        return self._episode_logits(episode, training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The cross-entropy of the queries' softmax over prototypes; `fit` differentiates it.

        Args:
            x: the episode dict (its `query_labels` are the targets).
            y: unused (episodes carry their own labels).
            y_pred: logits `[Q, ways]` (or `[E, Q, ways]` for stacked episodes).
            sample_weight: unused.
            training: whether this is a training step.

        Returns:
            scalar mean loss, divided by the replica count under a `tf.distribute` strategy.
        """
        loss = ops.mean(keras.losses.sparse_categorical_crossentropy(x["query_labels"], y_pred, from_logits=True))
        # Replicas' gradients are summed: each differentiates its share of the global mean.
        return loss / _replicas_in_sync()

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Updates the query accuracy of the episode (Keras's step tracks the loss itself).

        Args:
            x: the episode dict.
            y: unused.
            y_pred: the logits.
            sample_weight: unused.

        Returns:
            dict of metric name to value (`loss` and `accuracy`).
        """
        # int32 on both sides: JAX keeps no int64 unless x64 is switched on, and warns on every step.
        hits = ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), ops.cast(x["query_labels"], "int32"))
        self.accuracy_tracker.update_state(ops.mean(ops.cast(hits, "float32")))
        return self.get_metrics_result()

    def embed(self, images, batch_size: int = 512) -> np.ndarray:
        """Embeds images with the encoder (see `siamese_kit.models.embed`).

        Args:
            images: pixel array `[N, H, W, C]` (0..255) or an `ImageSet`.
            batch_size: images per encoder call.

        Returns:
            float32 numpy array `[N, embedding_dim]`.
        """
        return embed(self.encoder, images, batch_size)

    def get_config(self):
        return {**super().get_config(), "encoder": keras.saving.serialize_keras_object(self.encoder)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        return cls(encoder=encoder, **config)
