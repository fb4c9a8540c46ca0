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
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")
        self.built = encoder.built

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

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
        return self._episode_logits(episode, training)

    def _loss_and_accuracy(self, episode, logits):
        labels = episode["query_labels"]
        loss = ops.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
        hits = ops.cast(ops.equal(ops.argmax(logits, axis=-1), ops.cast(labels, "int64")), "float32")
        return loss, ops.mean(hits)

    def _report(self, loss, accuracy):
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(accuracy)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, episode):
        import tensorflow as tf  # the custom step is written for the TensorFlow backend

        replicas = _replicas_in_sync()
        if replicas > 1 and not self._stacked(episode):
            raise ValueError(
                f"PrototypeModel: training on {replicas} replicas needs whole episodes per replica; stack "
                f"them with episode_stream(...).batch({replicas}) (or a multiple of {replicas})."
            )
        with tf.GradientTape() as tape:
            logits = self._episode_logits(episode, training=True)
            loss, accuracy = self._loss_and_accuracy(episode, logits)
            # Replicas' gradients are summed: each differentiates its share of the global mean.
            scaled_loss = self.optimizer.scale_loss(loss / replicas)
        gradients = tape.gradient(scaled_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._report(loss, accuracy)

    def test_step(self, episode):
        logits = self._episode_logits(episode, training=False)
        return self._report(*self._loss_and_accuracy(episode, logits))

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
