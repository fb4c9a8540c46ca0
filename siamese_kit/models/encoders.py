"""Encoders: the single tower of a twin network, each a `keras.Model` of its own.

Every encoder takes raw pixel values (0 to 255, as stored in an `ImageSet`) and rescales them itself,
so `encoder(imageset.images)` works without a separate preprocessing step.
"""

from __future__ import annotations

from typing import Callable

import keras
from keras import layers


def lenet_28(
    embedding_dim: int = 2,
    input_shape: tuple[int, int, int] = (28, 28, 1),
    bottleneck: int | None = 10,
    name: str = "lenet_28",
) -> keras.Model:
    """The Caffe Siamese_28x28 tower (LeNet): conv 20@5x5, pool, conv 50@5x5, pool, dense 500 ReLU,
    dense `bottleneck`, dense `embedding_dim` (the feature layer).

    Weights use Glorot-uniform (Caffe's "xavier") and zero biases. As in Caffe, there is no
    nonlinearity between the bottleneck and the feature layer, so with the template's bottleneck of 10
    the embedding has rank at most 10; pass `bottleneck=None` to feed the 500 units straight into the
    feature layer.

    Args:
        embedding_dim: size of the embedding; 2 gives the classic 2-D plot.
        input_shape: `(H, W, C)` of the images.
        bottleneck: units of the layer before the feature layer (10 in the template), or None.
        name: model name.

    Returns:
        keras.Model mapping pixel images `[B, H, W, C]` to embeddings `[B, embedding_dim]`.
    """
    _check_dim(embedding_dim, "lenet_28")
    inputs = keras.Input(shape=input_shape, name="pixels")
    x = layers.Rescaling(1.0 / 255.0, name="to_unit_range")(inputs)
    x = layers.Conv2D(20, 5, name="conv1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(50, 5, name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(500, activation="relu", name="ip1")(x)
    if bottleneck:
        x = layers.Dense(bottleneck, name="ip2")(x)
    outputs = layers.Dense(embedding_dim, name="feat")(x)
    return keras.Model(inputs, outputs, name=name)


def _check_dim(embedding_dim, builder: str) -> None:
    if not isinstance(embedding_dim, int) or embedding_dim < 1:
        raise ValueError(f"{builder}: embedding_dim must be a positive integer, got {embedding_dim!r}.")


ENCODERS: dict[str, Callable[..., keras.Model]] = {"lenet_28": lenet_28}


def get_encoder(name: str, **kwargs) -> keras.Model:
    """Builds a registered encoder by name.

    Args:
        name: one of `ENCODERS` (for example `"lenet_28"`).
        **kwargs: passed to the builder (for example `embedding_dim`, `input_shape`).

    Returns:
        the encoder model.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if name not in ENCODERS:
        raise ValueError(f"Unknown encoder {name!r}; choose one of {sorted(ENCODERS)}.")
    return ENCODERS[name](**kwargs)
