"""`SiameseModel`: one shared encoder, a pair head, and custom train and test steps for pair streams."""

from __future__ import annotations

import weakref

import keras
import numpy as np
from keras import ops

from .._checks import positive_int
from ..devices import on_tensorflow
from ..layers import PACKAGE, CentroidDecoder


def _replicas_in_sync() -> int:
    """Replicas training together under the current `tf.distribute` strategy (1 without one, and on
    the JAX and PyTorch backends, where a step runs on one device)."""
    if not on_tensorflow():
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def _pair_inputs(x):
    """Accepts a pair-stream features dict or a `(image_a, image_b)` tuple."""
    if isinstance(x, dict):
        return x["image_a"], x["image_b"]
    if isinstance(x, (tuple, list)) and len(x) == 2:
        return x[0], x[1]
    raise ValueError(
        "SiameseModel expects a dict with 'image_a' and 'image_b' (as pair_stream yields) or a "
        f"(image_a, image_b) tuple, got {type(x).__name__}."
    )


def _shape_text(shape) -> str:
    return "x".join("?" if d is None else str(int(d)) for d in shape)


def check_image_shape(image_shape, encoder: keras.Model, where: str) -> None:
    """Refuses images whose `(H, W, C)` is not the encoder's, naming both and the two ways to agree.

    Args:
        image_shape: `(H, W, C)` of the images given (unknown sizes, None, are not compared).
        encoder: the tower model.
        where: the caller, for the message.

    Raises:
        ValueError: on a known size that differs.
    """
    expected = tuple(encoder.input_shape[1:])
    given = tuple(None if d is None else int(d) for d in image_shape)
    if len(given) == len(expected) and all(g is None or e is None or g == e for g, e in zip(given, expected)):
        return
    if len(given) != 3:
        raise ValueError(
            f"{where}: the images have shape {given}, but the encoder {encoder.name!r} takes batches "
            f"[N, {', '.join(map(str, expected))}] of (H, W, C) images."
        )
    load_fix = f"image_size=({expected[0]}, {expected[1]})"
    if given[-1] != expected[-1]:
        load_fix += ", color_mode=" + ("'grayscale'" if expected[-1] == 1 else "'rgb'")
    raise ValueError(
        f"{where}: the images are {_shape_text(given)} (HxWxC) but the encoder {encoder.name!r} takes "
        f"{_shape_text(expected)}. Build the encoder for the images (input_shape={given!r}, which "
        f"is ImageSet.image_shape), or load the images at the encoder's size ({load_fix}; on the "
        f"command line --image-size {expected[0]} {expected[1]})."
    )


@keras.saving.register_keras_serializable(package=PACKAGE)
class SiameseModel(keras.Model):
    """A twin network: the same encoder embeds both images, a head scores the pair.

    `fit` and `evaluate` take pair streams (`siamese_kit.data.pair_stream`): features dicts with
    `image_a`, `image_b` and, when a `CentroidDecoder` is attached, `label_a`, `label_b`; targets are
    pair labels, 1 = same class, 0 = different class. Both images go through the encoder as one batch,
    so a training step costs one encoder pass of 2B images.

    Args:
        encoder: the tower, a `keras.Model` from pixels to embeddings; usable on its own via `embed`.
        head: a layer called on `[embedding_a, embedding_b]` returning one score per pair, for example
            `EuclideanDistance()` (a distance: small = same) or a classifier head (a probability).
        decoder: optional `CentroidDecoder`, updated with both images' embeddings at every training
            step.
        **kwargs: passed to `keras.Model`.

    Returns (when called on a pair):
        float tensor `[B]` of pair scores, as the head defines them.

    Example:
        >>> model = SiameseModel(lenet_28(16), EuclideanDistance(), CentroidDecoder(10))
        >>> model.compile(optimizer="adam", loss=ContrastiveLoss(margin=2.0))
        >>> model.fit(pair_stream(train_set), steps_per_epoch=1000, epochs=1)
    """

    def __init__(self, encoder: keras.Model, head: keras.layers.Layer, decoder: CentroidDecoder | None = None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.head = head
        self.decoder = decoder
        # output_shape, not output.shape: Keras 3.4 reloads a one-output model's output as a list.
        embedding_shape = tuple(encoder.output_shape)
        if not head.built:
            head.build([embedding_shape, embedding_shape])
        if decoder is not None and not decoder.built:
            decoder.build(embedding_shape)
        # The parts are built already; saying so lets Keras save and restore optimizer state too.
        self.built = encoder.built

    @property
    def score_kind(self) -> str:
        """`"distance"` (small = same) or `"similarity"` (large = same), from the head."""
        kind = getattr(self.head, "score_kind", None)
        if kind not in ("distance", "similarity"):
            # Guessing would invert every threshold, AUC and one-shot choice of a distance head.
            raise ValueError(
                f"SiameseModel: the head {type(self.head).__name__} does not declare score_kind "
                f"(got {kind!r}); give its class `score_kind = \"distance\"` (small = same) or "
                "`\"similarity\"` (large = same)."
            )
        return kind

    def call(self, inputs, training=False):
        scores, embeddings = self._scores_and_embeddings(inputs, training)
        if training and self.decoder is not None and isinstance(inputs, dict) and "label_a" in inputs:
            # In the forward pass, so every backend's own training step (TensorFlow's tape, JAX's
            # stateless step, PyTorch's autograd) carries the centroid update with it.
            self._update_decoder(inputs, embeddings)
        return scores

    def _scores_and_embeddings(self, x, training):
        image_a, image_b = _pair_inputs(x)
        # Checked while tracing, so a mismatch is named here, not as a Keras error deep in a layer.
        check_image_shape(tuple(image_a.shape)[1:], self.encoder, "SiameseModel")
        batch = ops.shape(image_a)[0]
        embeddings = self.encoder(ops.concatenate([image_a, image_b], axis=0), training=training)
        scores = self.head([embeddings[:batch], embeddings[batch:]])
        return scores, embeddings

    def _update_decoder(self, x, embeddings):
        labels = ops.concatenate([x["label_a"], x["label_b"]], axis=0)
        embeddings = ops.stop_gradient(embeddings)
        if _replicas_in_sync() > 1:
            import tensorflow as tf

            context = tf.distribute.get_replica_context()
            if context is not None:
                # Each replica holds its own copy of the centroids: all must make the one update
                # that the whole global batch gives, as a single device would, or they drift apart.
                embeddings = context.all_gather(embeddings, axis=0)
                labels = context.all_gather(labels, axis=0)
        self.decoder.update(embeddings, labels)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled pair loss of the scores; Keras's `fit` (on any backend) differentiates it.

        Args:
            x: the pair features (unused).
            y: pair labels `[B]`, 1 = same class.
            y_pred: pair scores `[B]`.
            sample_weight: optional weights `[B]`.
            training: whether this is a training step.

        Returns:
            scalar loss (divided by the replica count under a `tf.distribute` strategy).
        """
        if _replicas_in_sync() > 1:
            # One loss value per pair ([B, 1], not [B]): a loss that averages over its last axis
            # (Keras's binary cross-entropy) would return a scalar, which Keras leaves undivided by the
            # replica count, so N replicas would sum N whole-batch gradients. On one device the [B]
            # form is kept: its mean rounds differently in the last bit, and published runs used it.
            y, y_pred = ops.expand_dims(y, -1), ops.expand_dims(y_pred, -1)
        return super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)

    def embed(self, images, batch_size: int = 512) -> np.ndarray:
        """Embeds images with the encoder alone (single-tower inference, no pair needed).

        Args:
            images: pixel array `[N, H, W, C]` (uint8 0..255 as in an ImageSet, or float in the same
                range), or an `ImageSet`.
            batch_size: images per encoder call.

        Returns:
            float32 numpy array `[N, embedding_dim]`.
        """
        return embed(self.encoder, images, batch_size)

    def refresh_centroids(self, imageset, batch_size: int = 512) -> np.ndarray:
        """Sets every class centroid to the mean inference-mode embedding of its training images.

        While training, the decoder's centroids are moving averages of training-mode embeddings from
        weights that kept changing; after training they lag the final encoder (and, with dropout or
        batch normalisation, were measured in the other mode). One pass over the training images
        with the final encoder gives the centroids inference will actually compare against.

        Args:
            imageset: the labelled training images (class indices as the decoder knows them).
            batch_size: images per encoder call.

        Returns:
            float32 `[N, D]` the images' embeddings, for reuse.

        Raises:
            ValueError: if the model has no `CentroidDecoder`, or a label is outside its classes.
        """
        if self.decoder is None:
            raise ValueError(
                "refresh_centroids: the model has no CentroidDecoder; build it with "
                "SiameseModel(encoder, head, decoder=CentroidDecoder(num_classes))."
            )
        labels = np.asarray(imageset.labels)
        if labels.size and (labels.min() < 0 or labels.max() >= self.decoder.num_classes):
            raise ValueError(
                f"refresh_centroids: labels run from {labels.min()} to {labels.max()} but the decoder keeps "
                f"{self.decoder.num_classes} classes; pass the training set the model was trained on."
            )
        embeddings = self.embed(imageset, batch_size)
        self.decoder.set_centroids(embeddings, labels)
        return embeddings

    def get_config(self):
        config = super().get_config()
        config.update(
            encoder=keras.saving.serialize_keras_object(self.encoder),
            head=keras.saving.serialize_keras_object(self.head),
            decoder=None if self.decoder is None else keras.saving.serialize_keras_object(self.decoder),
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        head = keras.saving.deserialize_keras_object(config.pop("head"))
        decoder_config = config.pop("decoder", None)
        decoder = None if decoder_config is None else keras.saving.deserialize_keras_object(decoder_config)
        return cls(encoder=encoder, head=head, decoder=decoder, **config)


_COMPILED_ENCODERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _compiled_inference(encoder: keras.Model):
    """The encoder's inference pass over float32 batches of any size: on TensorFlow one `tf.function`
    traced once; on JAX and PyTorch the encoder's own call, returning numpy."""
    if not on_tensorflow():
        # Keras's own inference step: compiled once on JAX, without gradients on PyTorch.
        return encoder.predict_on_batch
    import tensorflow as tf

    compiled = _COMPILED_ENCODERS.get(encoder)
    if compiled is None:
        # The batch axis is left open, so the last, smaller batch reuses the one trace.
        signature = [tf.TensorSpec([None, *encoder.input_shape[1:]], tf.float32)]
        compiled = tf.function(lambda images: encoder(images, training=False), input_signature=signature)
        _COMPILED_ENCODERS[encoder] = compiled
    return compiled


def embed(encoder: keras.Model, images, batch_size: int = 512) -> np.ndarray:
    """Embeds images once with an encoder, batch by batch, through one compiled inference function.

    Args:
        encoder: a tower model from pixels to embeddings.
        images: pixel array `[N, H, W, C]` (0..255) or an `ImageSet`.
        batch_size: images per encoder call.

    Returns:
        float32 numpy array `[N, embedding_dim]`.
    """
    images = getattr(images, "images", images)
    images = np.asarray(images)
    check_image_shape(images.shape[1:], encoder, "embed")
    batch_size = positive_int(batch_size, "embed: batch_size", example="512")
    inference = _compiled_inference(encoder)
    outputs = [
        np.asarray(inference(images[start : start + batch_size].astype(np.float32)))
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(outputs, axis=0).astype(np.float32)
