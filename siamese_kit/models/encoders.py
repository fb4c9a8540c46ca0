"""Encoders: the single tower of a twin network, each a `keras.Model` of its own.

Every encoder takes raw pixel values (0 to 255, as stored in an `ImageSet`) and rescales them itself,
so `encoder(imageset.images)` works without a separate preprocessing step.
"""

from __future__ import annotations

from typing import Callable

import keras
from keras import layers

from .._checks import positive_int


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
    x = _pixels_to_unit(inputs, invert=False)
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


def _pixels_to_unit(inputs, invert: bool):
    """Rescales 0..255 pixels to [0, 1]; `invert` makes dark strokes on white (Omniglot) the ones."""
    if invert:
        return layers.Rescaling(-1.0 / 255.0, offset=1.0, name="to_unit_range_inverted")(inputs)
    return layers.Rescaling(1.0 / 255.0, name="to_unit_range")(inputs)


def koch_105(
    input_shape: tuple[int, int, int] = (105, 105, 1),
    feature_dim: int = 4096,
    invert: bool = False,
    name: str = "koch_105",
) -> keras.Model:
    """The Omniglot twin tower of Koch et al. (2015) as the MATLAB twin-network example builds it.

    conv 64@10x10, ReLU, max-pool 2 stride 2, conv 128@7x7, ReLU, pool, conv 128@4x4, ReLU, pool,
    conv 256@5x5, ReLU, dense `feature_dim`, sigmoid. Weights and biases start from a narrow normal
    (mean 0, std 0.01), as in the tutorial. About 39 million parameters at 105 px: a GPU recipe.

    Args:
        input_shape: `(H, W, C)`; the recipe uses 105x105 grey images.
        feature_dim: size of the sigmoid feature vector (4096 in the recipe).
        invert: treat dark strokes on a light background as the signal (Omniglot's PNGs); the
            tutorial feeds pixels as they are, so the faithful recipe leaves this False.
        name: model name.

    Returns:
        keras.Model from pixels `[B, H, W, C]` to features `[B, feature_dim]` in (0, 1).
    """
    _check_dim(feature_dim, "koch_105")

    def narrow():
        return keras.initializers.RandomNormal(mean=0.0, stddev=0.01)

    inputs = keras.Input(shape=input_shape, name="pixels")
    x = _pixels_to_unit(inputs, invert)
    for index, (filters, kernel) in enumerate([(64, 10), (128, 7), (128, 4)], start=1):
        x = layers.Conv2D(filters, kernel, activation="relu", kernel_initializer=narrow(),
                          bias_initializer=narrow(), name=f"conv{index}")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"pool{index}")(x)
    x = layers.Conv2D(256, 5, activation="relu", kernel_initializer=narrow(), bias_initializer=narrow(),
                      name="conv4")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(feature_dim, kernel_initializer=narrow(), bias_initializer=narrow(), name="features")(x)
    outputs = layers.Activation("sigmoid", dtype="float32", name="sigmoid_features")(x)
    return keras.Model(inputs, outputs, name=name)


def conv4(
    input_shape: tuple[int, int, int] = (28, 28, 1),
    feature_dim: int = 256,
    width: int = 64,
    growth: int = 1,
    feature_activation: str | None = "sigmoid",
    invert: bool = True,
    pool_last: bool = True,
    name: str = "conv4",
) -> keras.Model:
    """A small CPU-friendly tower: four blocks of conv 3x3, batch norm, ReLU and max-pool, then dense.

    A different recipe from `koch_105` (about 1% of its parameters, trained at 28 or 52 px), for
    training in minutes on a laptop; results from it are never reported as the faithful recipe.

    Args:
        input_shape: `(H, W, C)`, for example `(28, 28, 1)` or `(52, 52, 1)`.
        feature_dim: size of the output features.
        width: filters in the first conv block.
        growth: factor between the filters of one block and the next (1: `width` in every block;
            2: `width`, `2 width`, `4 width`, `8 width`, which puts capacity where the maps are small
            and costs about what a constant width does).
        feature_activation: activation of the features; `"sigmoid"` for the twin classifier head,
            None for a contrastive or prototype embedding.
        invert: treat dark strokes on a light background as the signal (True suits Omniglot).
        pool_last: max-pool after the fourth block too. At 28 px that leaves a 1x1 map, so the
            features see only `width` numbers; without it they see a 3x3 map at no extra compute.
        name: model name.

    Returns:
        keras.Model from pixels `[B, H, W, C]` to features `[B, feature_dim]`.
    """
    inputs, x = _checked_conv_input("conv4", input_shape, feature_dim, width, growth, invert)
    for index in range(1, 5):
        filters = width * growth ** (index - 1)
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{index}")(x)
        x = layers.BatchNormalization(name=f"bn{index}")(x)
        x = layers.ReLU(name=f"relu{index}")(x)
        if index < 4 or pool_last:
            x = layers.MaxPooling2D(2, name=f"pool{index}")(x)
    return keras.Model(inputs, _dense_features(x, feature_dim, feature_activation), name=name)


def resnet12(
    input_shape: tuple[int, int, int] = (28, 28, 1),
    feature_dim: int = 128,
    width: int = 16,
    growth: int = 2,
    feature_activation: str | None = None,
    invert: bool = True,
    pool_last: bool = False,
    name: str = "resnet12",
) -> keras.Model:
    """A residual tower in the style of the few-shot literature's ResNet-12: four blocks, each three
    conv 3x3 + batch norm (ReLU between them) beside a 1x1 conv shortcut, added, ReLU, max-pool; then
    dense features, as `conv4` ends.

    Twelve conv layers where `conv4` has four: each block sees its input through three layers, the
    shortcut keeps the gradient short. About three times `conv4`'s compute at the same widths.

    Args:
        input_shape: `(H, W, C)`.
        feature_dim: size of the output features.
        width: filters in the first block.
        growth: factor between the filters of successive blocks (see `conv4`).
        feature_activation: activation of the features; None for an embedding.
        invert: treat dark strokes on a light background as the signal (True suits Omniglot).
        pool_last: max-pool after the fourth block too (see `conv4`).
        name: model name.

    Returns:
        keras.Model from pixels `[B, H, W, C]` to features `[B, feature_dim]`.
    """
    inputs, x = _checked_conv_input("resnet12", input_shape, feature_dim, width, growth, invert)
    for block in range(1, 5):
        filters = width * growth ** (block - 1)
        shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"block{block}_shortcut")(x)
        shortcut = layers.BatchNormalization(name=f"block{block}_shortcut_bn")(shortcut)
        for layer in range(1, 4):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block{block}_conv{layer}")(x)
            x = layers.BatchNormalization(name=f"block{block}_bn{layer}")(x)
            if layer < 3:
                x = layers.ReLU(name=f"block{block}_relu{layer}")(x)
        x = layers.Add(name=f"block{block}_add")([x, shortcut])
        x = layers.ReLU(name=f"block{block}_relu")(x)
        if block < 4 or pool_last:
            x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    return keras.Model(inputs, _dense_features(x, feature_dim, feature_activation), name=name)


# keras.applications backbones that take raw 0..255 pixels (their preprocessing is built in).
BACKBONES = {
    "mobilenet_v3_small": ("MobileNetV3Small", {"include_preprocessing": True}),
    "mobilenet_v3_large": ("MobileNetV3Large", {"include_preprocessing": True}),
    "efficientnet_b0": ("EfficientNetB0", {}),
    "convnext_tiny": ("ConvNeXtTiny", {"include_preprocessing": True}),
}
MIN_BACKBONE_SIDE = 32


def pretrained(
    input_shape: tuple[int, int, int],
    embedding_dim: int = 128,
    backbone: str = "mobilenet_v3_small",
    weights: str | None = "imagenet",
    trainable: bool = False,
    name: str | None = None,
) -> keras.Model:
    """A tower on a `keras.applications` backbone, for colour photographs (faces, leaves, parts).

    The backbone's last feature map is averaged over space and projected to `embedding_dim`. Grey
    images are repeated to three channels; pixels go in as 0..255, the backbone's own preprocessing
    scales them. With `trainable=False` (the default) only the projection trains at first, which is
    what a few hundred images per class can support; unfreeze for a second, slower stage.

    Args:
        input_shape: `(H, W, C)`, each side at least 32, C 1 or 3.
        embedding_dim: size of the embedding.
        backbone: one of `BACKBONES`.
        weights: `"imagenet"` (downloaded by Keras once, then cached in `~/.keras/models`), None for
            random weights (offline, tests), or a path to a weights file.
        trainable: whether the backbone's weights train.
        name: model name; defaults to `"<backbone>_tower"`.

    Returns:
        a Keras model from pixels `[B, H, W, C]` to float32 embeddings `[B, embedding_dim]`.

    Raises:
        ValueError: for an unknown backbone, a side below 32 or a channel count other than 1 or 3,
            naming the fix.
    """
    _check_dim(embedding_dim, "pretrained")
    if backbone not in BACKBONES:
        raise ValueError(f"pretrained: unknown backbone {backbone!r}; choose one of {sorted(BACKBONES)}.")
    height, width, channels = (int(d) for d in input_shape)
    if min(height, width) < MIN_BACKBONE_SIDE or channels not in (1, 3):
        raise ValueError(
            f"pretrained: {backbone} needs images of at least {MIN_BACKBONE_SIDE}x{MIN_BACKBONE_SIDE} with 1 or 3 "
            f"channels, got {height}x{width}x{channels}; load them with image_size=(96, 96) or larger "
            "(--image-size 96 96) and color_mode='rgb' (--color rgb)."
        )
    builder_name, options = BACKBONES[backbone]
    builder = getattr(keras.applications, builder_name)
    base = builder(include_top=False, weights=weights, input_shape=(height, width, 3), pooling="avg", **options)
    base.trainable = trainable
    inputs = keras.Input(shape=(height, width, channels), name="pixels")
    x = keras.layers.Concatenate(name="grey_to_rgb")([inputs, inputs, inputs]) if channels == 1 else inputs
    x = base(x, training=False if not trainable else None)
    outputs = keras.layers.Dense(embedding_dim, name="embedding", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name or f"{backbone}_tower")


def _checked_conv_input(builder: str, input_shape, feature_dim, width, growth, invert: bool):
    """The conv towers' start, after checking their sizes: the pixel input and its rescaling to [0, 1]."""
    _check_dim(feature_dim, builder)
    positive_int(width, f"{builder}: width")
    positive_int(growth, f"{builder}: growth")
    inputs = keras.Input(shape=input_shape, name="pixels")
    return inputs, _pixels_to_unit(inputs, invert)


def _dense_features(x, feature_dim: int, feature_activation: str | None):
    """The conv towers' ending: the last map flattened into `feature_dim` dense features, with their activation."""
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(feature_dim, name="features")(x)
    if feature_activation:
        x = layers.Activation(feature_activation, dtype="float32", name=f"{feature_activation}_features")(x)
    return x


def _check_dim(embedding_dim, builder: str) -> None:
    positive_int(embedding_dim, f"{builder}: embedding_dim")


ENCODERS: dict[str, Callable[..., keras.Model]] = {
    "lenet_28": lenet_28, "koch_105": koch_105, "conv4": conv4, "resnet12": resnet12, "pretrained": pretrained,
}


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
