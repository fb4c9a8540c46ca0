"""Pair streams: image pairs sampled in-graph from per-class index tables, never materialised.

Pair label convention, everywhere in siamese_kit: 1 = same class, 0 = different class.

A stream keeps the images of one `ImageSet` as a single uint8 tensor and, for each batch, draws only
indices with stateless random ops seeded by `(seed, batch number)`. Memory stays O(N) and the same
seed gives the same stream; starting at batch `k` gives exactly the batches an uninterrupted stream
would have given from `k` on, which is what resuming a run needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .imageset import DataError, ImageSet

PAIR_MODES = ("alternate", "random")


class _ClassTables:
    """Per-class index tables of an ImageSet, as tensors: `order[starts[c] + j]` is image j of class c."""

    def __init__(self, imageset: ImageSet):
        order = np.argsort(imageset.labels, kind="stable")
        counts = np.bincount(imageset.labels, minlength=imageset.num_classes)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.order = tf.constant(order, dtype=tf.int32)
        self.starts = tf.constant(starts, dtype=tf.int32)
        self.counts = tf.constant(counts, dtype=tf.int32)
        self.present = tf.constant(np.flatnonzero(counts >= 1), dtype=tf.int32)
        self.pairable = tf.constant(np.flatnonzero(counts >= 2), dtype=tf.int32)

    def image_index(self, classes, positions):
        return tf.gather(self.order, tf.gather(self.starts, classes) + positions)


def _uniform_int(uniform, upper):
    """Maps uniform floats in [0, 1) to ints in [0, upper), elementwise (upper may differ per element)."""
    upper = tf.cast(upper, tf.float32)
    return tf.minimum(tf.cast(tf.floor(uniform * upper), tf.int32), tf.cast(upper, tf.int32) - 1)


def _sample_pair_indices(tables: _ClassTables, batch_size: int, seed, batch_number, mode: str):
    """Draws one batch of pair indices.

    Returns:
        `(index_a, index_b, pair_label)`, int32 `[batch_size]` each; pair_label 1 = same class.
    """
    stream_seed = tf.stack([tf.cast(seed, tf.int64), tf.cast(batch_number, tf.int64)])
    uniforms = tf.random.stateless_uniform([5, batch_size], seed=stream_seed)
    if mode == "alternate":
        # Caffe's balance_matches: even positions of the whole stream are same-class pairs.
        position = tf.range(batch_size, dtype=tf.int64) + tf.cast(batch_number, tf.int64) * batch_size
        is_same = tf.equal(position % 2, 0)
    else:
        is_same = uniforms[4] < 0.5

    num_pairable = tf.size(tables.pairable)
    num_present = tf.size(tables.present)

    same_class = tf.gather(tables.pairable, _uniform_int(uniforms[0], num_pairable))
    same_count = tf.gather(tables.counts, same_class)
    same_first = _uniform_int(uniforms[1], same_count)
    # Offsetting by 1..n-1 guarantees two different images of the class.
    same_second = (same_first + 1 + _uniform_int(uniforms[2], same_count - 1)) % same_count

    first_slot = _uniform_int(uniforms[0], num_present)
    other_slot = (first_slot + 1 + _uniform_int(uniforms[3], num_present - 1)) % num_present
    diff_first_class = tf.gather(tables.present, first_slot)
    diff_second_class = tf.gather(tables.present, other_slot)
    diff_first = _uniform_int(uniforms[1], tf.gather(tables.counts, diff_first_class))
    diff_second = _uniform_int(uniforms[2], tf.gather(tables.counts, diff_second_class))

    index_a = tf.where(
        is_same,
        tables.image_index(same_class, same_first),
        tables.image_index(diff_first_class, diff_first),
    )
    index_b = tf.where(
        is_same,
        tables.image_index(same_class, same_second),
        tables.image_index(diff_second_class, diff_second),
    )
    return index_a, index_b, tf.cast(is_same, tf.int32)


def _check_stream_args(imageset: ImageSet, batch_size: int, mode: str) -> None:
    if not isinstance(imageset, ImageSet):
        raise DataError(
            f"pair_stream: expected an ImageSet, got {type(imageset).__name__}; build one with "
            "siamese_kit.data.ImageSet(images, labels) or a loader."
        )
    if mode not in PAIR_MODES:
        raise DataError(f"pair_stream: mode must be one of {PAIR_MODES}, got {mode!r}.")
    if not isinstance(batch_size, (int, np.integer)) or not 1 <= batch_size <= 1_000_000:
        raise DataError(
            f"pair_stream: batch_size must be an integer between 1 and 1,000,000, got {batch_size!r}."
        )
    imageset.require_pairs()


def pair_stream(
    imageset: ImageSet,
    batch_size: int = 64,
    seed: int = 0,
    mode: str = "alternate",
    start_batch: int = 0,
) -> tf.data.Dataset:
    """An infinite, batched, seeded stream of image pairs.

    Each element is `(features, pair_label)` with `features` a dict of `image_a`, `image_b` (uint8
    `[B, H, W, C]`) and `label_a`, `label_b` (int32 class of each image, for `CentroidDecoder`), and
    `pair_label` float32 `[B]`: 1 = same class, 0 = different class.

    Args:
        imageset: the images to pair; every class present needs at least 2 images.
        batch_size: pairs per batch.
        seed: stream seed; the same seed gives the same pairs.
        mode: `"alternate"` for same/different pairs in turn (Caffe's balance_matches: exactly half
            of each even-sized batch is same-class), `"random"` for each pair same-class with
            probability 1/2 (the MATLAB getTwinBatch).
        start_batch: index of the first batch, to resume a stream where a run stopped.

    Returns:
        `tf.data.Dataset` of `(features, pair_label)` batches, prefetched.

    Raises:
        DataError: for a bad argument or an ImageSet that cannot give pairs.

    Example:
        >>> stream = pair_stream(train_set, batch_size=64, seed=1)
        >>> features, pair_label = next(iter(stream))
    """
    _check_stream_args(imageset, batch_size, mode)
    tables = _ClassTables(imageset)
    images = tf.constant(imageset.images)
    labels = tf.constant(imageset.labels, dtype=tf.int32)

    def make_batch(batch_number):
        index_a, index_b, pair_label = _sample_pair_indices(tables, batch_size, seed, batch_number, mode)
        features = {
            "image_a": tf.gather(images, index_a),
            "image_b": tf.gather(images, index_b),
            "label_a": tf.gather(labels, index_a),
            "label_b": tf.gather(labels, index_b),
        }
        return features, tf.cast(pair_label, tf.float32)

    return (
        tf.data.Dataset.counter(start=start_batch)
        .map(make_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(tf.data.AUTOTUNE)
    )


@dataclass(frozen=True)
class PairSet:
    """A fixed set of pairs over one ImageSet, held as indices (never as copies of images).

    Attributes:
        index_a: int array `[P]`, first image of each pair.
        index_b: int array `[P]`, second image of each pair.
        pair_label: int array `[P]`, 1 = same class, 0 = different class.
    """

    index_a: np.ndarray
    index_b: np.ndarray
    pair_label: np.ndarray

    def __len__(self) -> int:
        return len(self.pair_label)


def fixed_pairs(imageset: ImageSet, num_pairs: int, seed: int = 0, mode: str = "alternate") -> PairSet:
    """A reproducible evaluation pair set, drawn by the same sampler as `pair_stream`.

    Args:
        imageset: images to pair (usually a held-out test or validation set).
        num_pairs: number of pairs.
        seed: the same seed gives the same pairs.
        mode: `"alternate"` or `"random"`, as in `pair_stream`.

    Returns:
        PairSet of `num_pairs` index pairs with their pair labels (1 = same class).
    """
    _check_stream_args(imageset, num_pairs, mode)
    index_a, index_b, pair_label = _sample_pair_indices(
        _ClassTables(imageset), num_pairs, seed, 0, mode
    )
    return PairSet(index_a.numpy(), index_b.numpy(), pair_label.numpy())
