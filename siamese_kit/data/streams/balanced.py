"""Class-balanced batches (P classes x K images), the batches that triplet-style losses mine from.

A batch loss finds its positives and negatives inside the batch, so a uniformly drawn batch of a set
with many classes holds almost no positive pair. Drawing P classes and K images of each guarantees
every image K - 1 classmates and (P - 1) K others. Indices are drawn in-graph with stateless random
ops seeded by `(seed, batch number)`, like the pair and episode streams: the same seed gives the same
batches, a stream resumes at any batch, and images are gathered from one uint8 tensor (memory O(N)).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..._checks import positive_int
from .episodes import _EpisodeTables, _first_k_of_shuffle, _sample_episode_indices
from ..imageset import DataError, ImageSet
from .pairs import numbered_stream, pixel_tensor
from .seeds import batch_key, derived_key

# Its own purpose for each draw, the group too: a P x K stream and an episode stream of the same seed
# (a one-shot recipe can train on either) must not pick the same alphabet for the same step.
_PURPOSES = ("balanced classes", "balanced images", "balanced group")


def _check_balanced_args(imageset, classes_per_batch, images_per_class, within_group, groups_per_batch=1) -> None:
    if not isinstance(imageset, ImageSet):
        raise DataError(
            f"class_balanced_stream: expected an ImageSet, got {type(imageset).__name__}; build one with "
            "siamese_kit.data.ImageSet(images, labels) or a loader."
        )
    positive_int(classes_per_batch, "class_balanced_stream: classes_per_batch", error=DataError)
    positive_int(images_per_class, "class_balanced_stream: images_per_class", error=DataError)
    if classes_per_batch < 2 or images_per_class < 2:
        raise DataError(
            "class_balanced_stream: a batch needs at least 2 classes (for negatives) and 2 images per "
            f"class (for positives), got classes_per_batch={classes_per_batch}, images_per_class={images_per_class}."
        )
    if within_group and imageset.groups is None:
        raise DataError(
            f"class_balanced_stream: within_group=True needs an ImageSet with groups, and {imageset.name!r} "
            "has none. Load it with groups (load_omniglot, or load_image_folder(..., class_levels=2)), or "
            "pass within_group=False."
        )
    positive_int(groups_per_batch, "class_balanced_stream: groups_per_batch", error=DataError)
    if groups_per_batch > 1 and (not within_group or classes_per_batch % groups_per_batch):
        raise DataError(
            f"class_balanced_stream: groups_per_batch={groups_per_batch} splits a batch's classes evenly among "
            f"that many groups, so it needs within_group=True and classes_per_batch divisible by it (got "
            f"within_group={within_group}, classes_per_batch={classes_per_batch}); for example "
            f"classes_per_batch={groups_per_batch * max(2, classes_per_batch // groups_per_batch)}."
        )
    counts = imageset.class_counts()
    usable = np.flatnonzero(counts >= images_per_class)
    if within_group:
        class_group = np.full(imageset.num_classes, -1)
        class_group[imageset.labels] = imageset.groups
        per_group = [int((class_group[usable] == g).sum()) for g in np.unique(imageset.groups)]
        if groups_per_batch > 1:
            share = classes_per_batch // groups_per_batch
            enough = sum(count >= share for count in per_group)
            if enough < groups_per_batch:
                raise DataError(
                    f"class_balanced_stream: {imageset.name!r} has {enough} groups with at least {share} classes of "
                    f"images_per_class={images_per_class} images, fewer than groups_per_batch={groups_per_batch}. "
                    "Lower groups_per_batch or classes_per_batch."
                )
            return
        most, where = max(per_group), "one group"
    else:
        most, where = len(usable), "the set"
    if most < classes_per_batch:
        raise DataError(
            f"class_balanced_stream: {where} of {imageset.name!r} has {most} classes with at least "
            f"images_per_class={images_per_class} images, fewer than classes_per_batch={classes_per_batch} "
            f"(the smallest class has {int(counts[counts > 0].min())}). Lower classes_per_batch or "
            "images_per_class" + (", or pass within_group=False." if within_group else ".")
        )


def class_balanced_stream(
    imageset: ImageSet,
    classes_per_batch: int = 16,
    images_per_class: int = 4,
    within_group: bool = False,
    seed: int = 0,
    start_batch: int = 0,
    augment=None,
    groups_per_batch: int = 1,
) -> tf.data.Dataset:
    """An infinite, seeded stream of class-balanced batches: P classes, K distinct images of each.

    Args:
        imageset: the images; a class takes part only if it has `images_per_class` images.
        classes_per_batch: P, distinct classes per batch.
        images_per_class: K, distinct images of each class.
        within_group: draw a batch's classes from one group (Omniglot: one alphabet, so the negatives
            are the look-alike characters of the same script); False mixes the whole set.
        seed: the same seed gives the same batches.
        start_batch: number of the first batch, to resume a stream.
        augment: optional in-graph augmentation called as `augment(images, seed)` (for example
            `AffineDistortion()`), seeded per batch.
        groups_per_batch: with `within_group`, draw G distinct groups and P / G classes from each: every
            class meets look-alike negatives of its own script, and others too. (On Omniglot's held-out
            alphabets, 4 x 5 batches trained a batch-hard tower six points worse at 20-way 1-shot than
            batches mixed across the whole set: docs/results.md, issue 30.)

    Returns:
        `tf.data.Dataset` of `(images, labels)`: uint8 `[P * K, H, W, C]` class by class, and int32
        `[P * K]` ImageSet labels (class labels, not pair labels: the batch losses take these).

    Raises:
        DataError: for a bad argument, a set without groups when `within_group=True`, or too few classes with K images for P (naming the counts).

    Example:
        >>> batches = class_balanced_stream(background, classes_per_batch=8, images_per_class=4, seed=0)
        >>> images, labels = next(iter(batches))
        >>> images.shape, labels.numpy()[:5]
        (TensorShape([32, 105, 105, 1]), array([412, 412, 412, 412, 77], dtype=int32))
    """
    _check_balanced_args(imageset, classes_per_batch, images_per_class, within_group, groups_per_batch)
    tables = _EpisodeTables(imageset, classes_per_batch // groups_per_batch, images_per_class, within_group)
    images = pixel_tensor(imageset.images)
    labels = tf.constant(imageset.labels, tf.int32)

    def make_batch(batch_number):
        if groups_per_batch > 1:
            chosen = _sample_grouped_indices(tables, classes_per_batch, images_per_class, groups_per_batch, seed,
                                             batch_number)
        else:
            chosen, _, _ = _sample_episode_indices(tables, classes_per_batch, images_per_class, 0, seed,
                                                   batch_number, purposes=_PURPOSES)
        index = tf.reshape(chosen, [-1])
        batch = tf.gather(images, index)
        if augment is not None:
            batch = augment(batch, derived_key(batch_key(seed, batch_number), "augment first"))
        return batch, tf.gather(labels, index)

    return numbered_stream(make_batch, start_batch)


def _sample_grouped_indices(tables: _EpisodeTables, classes: int, per_class: int, groups: int, seed, batch_number):
    """One batch's image indices `[classes, per_class]`: `groups` distinct groups, `classes / groups` classes each."""
    key = batch_key(seed, batch_number)
    num_rows = tf.shape(tables.class_rows)[0]
    group_keys = tf.random.stateless_uniform([num_rows], seed=derived_key(key, _PURPOSES[2]))
    rows = _first_k_of_shuffle(group_keys, num_rows, groups)
    class_keys = tf.random.stateless_uniform([groups, tf.shape(tables.class_rows)[1]],
                                             seed=derived_key(key, _PURPOSES[0]))
    slots = _first_k_of_shuffle(class_keys, tf.gather(tables.row_sizes, rows), classes // groups)
    chosen_classes = tf.reshape(tf.gather(tf.gather(tables.class_rows, rows), slots, batch_dims=1), [-1])
    image_keys = tf.random.stateless_uniform([classes, tf.shape(tables.images)[1]],
                                             seed=derived_key(key, _PURPOSES[1]))
    positions = _first_k_of_shuffle(image_keys, tf.gather(tables.image_counts, chosen_classes), per_class)
    return tf.gather(tf.gather(tables.images, chosen_classes), positions, batch_dims=1)
