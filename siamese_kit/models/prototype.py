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

from ..layers import PACKAGE
from .twin import embed


def class_prototypes(support_embeddings, ways: int):
    """Mean embedding of each class from class-by-class support embeddings.

    Args:
        support_embeddings: `[ways * shots, D]`, the shots of class 0 first, then class 1, ...
        ways: number of classes.

    Returns:
        tensor `[ways, D]`.
    """
    return ops.mean(ops.reshape(support_embeddings, (ways, -1, ops.shape(support_embeddings)[-1])), axis=1)


def squared_distances(queries, prototypes):
    """Squared Euclidean distance of every query to every prototype.

    Args:
        queries: `[Q, D]`.
        prototypes: `[W, D]`.

    Returns:
        tensor `[Q, W]`.
    """
    # Expanded form: one matmul instead of a [Q, W, D] difference tensor; clipped at 0 against rounding.
    cross = ops.matmul(queries, ops.transpose(prototypes))
    squared = ops.sum(ops.square(queries), -1)[:, None] - 2.0 * cross + ops.sum(ops.square(prototypes), -1)[None, :]
    return ops.maximum(squared, 0.0)


@keras.saving.register_keras_serializable(package=PACKAGE)
class PrototypeModel(keras.Model):
    """A tower trained on episodes (`siamese_kit.data.episode_stream`) with the prototypical loss.

    A training step embeds the episode's support and query images in one encoder pass, averages the
    support embeddings of each class into a prototype, and minimises the cross-entropy of the softmax
    over the queries' negative squared distances to the prototypes. Compile it with an optimizer only;
    the loss is the model's own. `score_kind` is `"distance"`, so one-shot evaluation and pair
    decisions use Euclidean distance between embeddings.

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

    def _episode_logits(self, episode, training):
        support, query = episode["support"], episode["query"]
        ways = ops.shape(episode["classes"])[0]
        count = ops.shape(support)[0]
        embeddings = self.encoder(ops.concatenate([support, query], axis=0), training=training)
        prototypes = class_prototypes(embeddings[:count], ways)
        return -squared_distances(ops.cast(embeddings[count:], "float32"), ops.cast(prototypes, "float32"))

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

        with tf.GradientTape() as tape:
            logits = self._episode_logits(episode, training=True)
            loss, accuracy = self._loss_and_accuracy(episode, logits)
            scaled_loss = self.optimizer.scale_loss(loss)
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
