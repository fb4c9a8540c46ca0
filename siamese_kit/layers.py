"""Twin-network heads and the nearest-centroid decoder, as serialisable Keras layers (no `Lambda`)."""

from __future__ import annotations

import keras
from keras import ops

from .distances import paired_distances, pairwise_distances

PACKAGE = "siamese_kit"


@keras.saving.register_keras_serializable(package=PACKAGE)
class EuclideanDistance(keras.layers.Layer):
    """Euclidean distance between two batches of embeddings: the contrastive twin's head.

    Small distance means "same class". It is computed in float32 whatever the layer's dtype policy
    (under `mixed_float16` a small epsilon would round to 0 and squared distances overflow), as
    `sqrt(sum + epsilon)`: the gradient stays finite where two embeddings coincide and, unlike a floor
    `sqrt(max(sum, epsilon))`, never vanishes for two points that are close but apart, so a collapsed
    different-class pair is still pushed apart.

    Args:
        epsilon: added under the square root; the distance of two identical embeddings is
            `sqrt(epsilon)`.

    Returns (when called on `[a, b]`, each `[B, D]`):
        float tensor `[B]` of distances.

    Example:
        >>> EuclideanDistance()([ops.zeros((1, 2)), ops.ones((1, 2))])  # [1.4142]
    """

    score_kind = "distance"

    def __init__(self, epsilon: float = 1e-12, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, inputs):
        return paired_distances(inputs[0], inputs[1], self.epsilon)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1])

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=PACKAGE)
class CentroidDecoder(keras.layers.Layer):
    """Keeps each class's centroid embedding while training and classifies by the nearest one.

    The Keras form of the Caffe Siamese tutorial's Decode layer. Centroids live in non-trainable
    weights, so they are saved and loaded with the model. During training, `update` moves each class's
    centroid towards the mean embedding of that class in the batch with an exponential moving
    average, so centroids follow the encoder as it learns instead of averaging stale early embeddings;
    a class's first batch sets its centroid outright.

    Args:
        num_classes: number of classes to keep a centroid for.
        momentum: weight of the old centroid in each update, in [0, 1).

    Returns (when called on embeddings `[B, D]`):
        float tensor `[B, num_classes]` of Euclidean distances to every centroid; classes never
        seen get +inf so they are never predicted. `predict_classes` gives the argmin.

    Example:
        >>> decoder = CentroidDecoder(10)
        >>> decoder.update(embeddings, labels)          # while training
        >>> predicted = decoder.predict_classes(embeddings)
    """

    def __init__(self, num_classes: int, momentum: float = 0.99, **kwargs):
        super().__init__(**kwargs)
        if int(num_classes) < 1:
            raise ValueError(f"CentroidDecoder: num_classes must be >= 1, got {num_classes}.")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"CentroidDecoder: momentum must be in [0, 1), got {momentum}.")
        self.num_classes = int(num_classes)
        self.momentum = float(momentum)

    def build(self, input_shape):
        dim = input_shape[-1]
        self.centroids = self.add_weight(
            shape=(self.num_classes, dim), initializer="zeros", trainable=False, name="centroids"
        )
        self.seen = self.add_weight(
            shape=(self.num_classes,), initializer="zeros", trainable=False, name="seen"
        )

    def update(self, embeddings, labels):
        """Moves the centroids of the classes in this batch towards the batch's class means.

        Args:
            embeddings: float `[B, D]`.
            labels: int class index per embedding, `[B]`.
        """
        if not self.built:
            self.build(embeddings.shape)
        labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        # Read as tensors: JAX's ops refuse a Keras variable itself.
        centroids, seen = ops.convert_to_tensor(self.centroids), ops.convert_to_tensor(self.seen)
        embeddings = ops.cast(embeddings, centroids.dtype)
        sums = ops.segment_sum(embeddings, labels, num_segments=self.num_classes)
        counts = ops.segment_sum(ops.ones_like(labels, dtype=sums.dtype), labels, self.num_classes)
        batch_means = sums / ops.maximum(counts, 1.0)[:, None]
        in_batch = (counts > 0)[:, None]
        first_time = (seen < 0.5)[:, None]
        blended = self.momentum * centroids + (1.0 - self.momentum) * batch_means
        new_centroids = ops.where(in_batch, ops.where(first_time, batch_means, blended), centroids)
        self.centroids.assign(new_centroids)
        self.seen.assign(ops.maximum(seen, ops.cast(counts > 0, seen.dtype)))

    def set_centroids(self, embeddings, labels):
        """Replaces every centroid by the exact mean embedding of its class (a post-training refresh).

        Args:
            embeddings: float `[N, D]`, for example the whole training set embedded once.
            labels: int class per embedding, `[N]`.
        """
        if not self.built:
            self.build(embeddings.shape)
        labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        sums = ops.segment_sum(ops.cast(embeddings, "float32"), labels, num_segments=self.num_classes)
        counts = ops.segment_sum(ops.ones_like(labels, dtype="float32"), labels, self.num_classes)
        self.centroids.assign(sums / ops.maximum(counts, 1.0)[:, None])
        self.seen.assign(ops.cast(counts > 0, "float32"))

    def call(self, embeddings):
        distances = pairwise_distances(embeddings, ops.convert_to_tensor(self.centroids))
        unseen = (ops.convert_to_tensor(self.seen) < 0.5)[None, :]
        return ops.where(unseen, ops.full_like(distances, float("inf")), distances)

    def predict_classes(self, embeddings):
        """Returns:
        int tensor `[B]`: the class whose centroid is nearest to each embedding."""
        return ops.argmin(self(embeddings), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "momentum": self.momentum}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TwinClassifierHead(keras.layers.Layer):
    """The twin classifier's head: `sigmoid(w . |f1 - f2| + b)`, the probability that a pair is the same.

    The weighted L1 head of Koch et al. (2015) and the MATLAB twin-network example. Pair with binary
    cross-entropy on pair labels (1 = same class, 0 = different).

    Args:
        kernel_stddev: standard deviation of the normal initialiser of the weights (the tutorial: 0.01).
        **kwargs: passed to `keras.layers.Layer`.

    Returns (when called on `[a, b]`, each `[B, D]`):
        float tensor `[B]` of probabilities in (0, 1).

    Example:
        >>> head = TwinClassifierHead()
        >>> probability = head([embedding_a, embedding_b])
    """

    score_kind = "similarity"

    def __init__(self, kernel_stddev: float = 0.01, **kwargs):
        super().__init__(**kwargs)
        self.kernel_stddev = float(kernel_stddev)
        self.dense = keras.layers.Dense(
            1,
            kernel_initializer=keras.initializers.RandomNormal(stddev=self.kernel_stddev),
            bias_initializer="zeros",
            name="same_logit",
        )

    def build(self, input_shape):
        self.dense.build(tuple(input_shape[0]))

    def call(self, inputs):
        first, second = inputs
        logit = self.dense(ops.abs(first - second))
        # Computed in float32 even under mixed precision: a float16 sigmoid saturates early.
        return ops.sigmoid(ops.cast(ops.squeeze(logit, axis=-1), "float32"))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1])

    def get_config(self):
        return {**super().get_config(), "kernel_stddev": self.kernel_stddev}
