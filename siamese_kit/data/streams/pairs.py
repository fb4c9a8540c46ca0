"""Pair streams: image pairs sampled in-graph from per-class index tables, never materialised.

Pair label convention, everywhere in siamese_kit: 1 = same class, 0 = different class.

A stream keeps the images of one `ImageSet` as a single uint8 tensor and, for each batch, draws only
indices with stateless random ops seeded by `(seed, batch number)`. Memory stays O(N) and the same
seed gives the same stream; starting at batch `k` gives exactly the batches an uninterrupted stream
would have given from `k` on, which is what resuming a run needs.

Negatives (different-class pairs) pair any two classes by default; with `negatives="same_group"` the
second class comes from the first one's group (Omniglot: the same alphabet), which makes them harder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..imageset import DataError, ImageSet
from .seeds import batch_key, derived_key

PAIR_MODES = ("alternate", "random")
PAIR_NEGATIVES = ("any", "same_group")


class _ClassTables:
    """Per-class index tables of an ImageSet, as tensors: `order[starts[c] + j]` is image j of class c.

    With `negatives="same_group"` it also holds per-group class tables: the classes present in
    group g are `group_classes[group_starts[g] : group_starts[g] + group_counts[g]]`, class c is
    entry `class_slot[c]` of its group's list, and `class_group[c]` is its group.
    """

    def __init__(self, imageset: ImageSet, negatives: str = "any"):
        order = np.argsort(imageset.labels, kind="stable")
        counts = np.bincount(imageset.labels, minlength=imageset.num_classes)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.order = tf.constant(order, dtype=tf.int32)
        self.starts = tf.constant(starts, dtype=tf.int32)
        self.counts = tf.constant(counts, dtype=tf.int32)
        self.present = tf.constant(np.flatnonzero(counts >= 1), dtype=tf.int32)
        self.pairable = tf.constant(np.flatnonzero(counts >= 2), dtype=tf.int32)
        if negatives == "same_group":
            self._build_group_tables(imageset, counts)

    def _build_group_tables(self, imageset: ImageSet, counts: np.ndarray) -> None:
        labels, groups = imageset.labels, imageset.groups
        present = np.flatnonzero(counts >= 1)
        class_group = np.zeros(imageset.num_classes, dtype=np.int64)
        class_group[labels] = groups
        # A class split over groups has no "its group": refuse rather than pick one silently.
        mixed = np.unique(labels[class_group[labels] != groups])
        if len(mixed):
            c = mixed[0]
            found = sorted(imageset.group_names[g] for g in np.unique(groups[labels == c]))
            raise DataError(
                f"{imageset.name}: class {imageset.class_names[c]!r} has images in groups "
                f"{found}; negatives='same_group' needs every class inside one group. Fix the "
                "groups, or use negatives='any'."
            )
        by_group = present[np.argsort(class_group[present], kind="stable")]
        group_counts = np.bincount(class_group[present], minlength=int(groups.max()) + 1)
        group_starts = np.concatenate([[0], np.cumsum(group_counts)[:-1]])
        class_slot = np.zeros(imageset.num_classes, dtype=np.int64)
        class_slot[by_group] = np.arange(len(by_group)) - group_starts[class_group[by_group]]
        self.group_classes = tf.constant(by_group, dtype=tf.int32)
        self.group_starts = tf.constant(group_starts, dtype=tf.int32)
        self.group_counts = tf.constant(group_counts, dtype=tf.int32)
        self.class_group = tf.constant(class_group, dtype=tf.int32)
        self.class_slot = tf.constant(class_slot, dtype=tf.int32)

    def same_group_partner(self, classes, uniform, fallback):
        """A different class of the same group as each of `classes`; `fallback` where it is alone."""
        group = tf.gather(self.class_group, classes)
        size = tf.gather(self.group_counts, group)
        # Offsetting by 1..size-1 within the group's list never lands on the class itself.
        slot = (tf.gather(self.class_slot, classes) + 1 + _uniform_int(uniform, size - 1)) % size
        partner = tf.gather(self.group_classes, tf.gather(self.group_starts, group) + slot)
        return tf.where(size > 1, partner, fallback)

    def image_index(self, classes, positions):
        return tf.gather(self.order, tf.gather(self.starts, classes) + positions)


def _uniform_int(uniform, upper):
    """Maps uniform floats in [0, 1) to ints in [0, upper), elementwise (upper may differ per element)."""
    upper = tf.cast(upper, tf.float32)
    return tf.minimum(tf.cast(tf.floor(uniform * upper), tf.int32), tf.cast(upper, tf.int32) - 1)


def _sample_pair_indices(
    tables: _ClassTables, batch_size: int, seed, batch_number, mode: str, negatives: str = "any"
):
    """Draws one batch of pair indices; `tables` must have been built for `negatives`.

    Returns:
        `(index_a, index_b, pair_label)`, int32 `[batch_size]` each; pair_label 1 = same class.
    """
    uniforms = tf.random.stateless_uniform([5, batch_size], seed=batch_key(seed, batch_number))
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
    if negatives == "same_group":
        # Reusing the "any" draw as the fallback keeps lone-class groups on the usual sampler.
        diff_second_class = tables.same_group_partner(diff_first_class, uniforms[3], diff_second_class)
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


def augment_both(augment, first, second, seed, number):
    """Applies `augment` to two image batches of element `number` of a stream, or passes them through.

    Seeds apart from the sampler's `(seed, number)` keep the sampling and the distortions independent,
    and each batch gets its own, so the stream stays reproducible.
    """
    if augment is None:
        return first, second
    key = batch_key(seed, number)
    return (augment(first, derived_key(key, "augment first")),
            augment(second, derived_key(key, "augment second")))


def numbered_stream(make_element, start: int = 0) -> tf.data.Dataset:
    """`make_element(0), make_element(1), ...` from `start` on, in order, computed in parallel, prefetched."""
    options = tf.data.Options()
    # tf.data's default rewrites serialize the pipeline when an iterator starts, which copies every
    # captured tensor (all the pixels) for a moment; this pipeline is parallel and prefetched already.
    options.experimental_optimization.apply_default_optimizations = False
    return (
        tf.data.Dataset.counter(start=start)
        .map(make_element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(tf.data.AUTOTUNE)
        .with_options(options)
    )


# Bytes to which TensorFlow's CPU kernels expect a tensor's buffer to be aligned (Eigen's widest).
_TENSOR_ALIGNMENT = 64


def pixel_tensor(images: np.ndarray) -> tf.Tensor:
    """A private CPU tensor copy of an image array, made with one copy of the pixels at most in memory.

    `tf.constant` holds two extra copies of a large array for a moment (so a stream over 1 GB of
    images would briefly need 3 GB); here the pixels are copied once into an aligned buffer that
    the tensor then takes over through DLPack, without a second copy.

    Args:
        images: numpy array (any shape and numeric dtype), for example `ImageSet.images`.

    Returns:
        a tensor of the same shape, dtype and values; later changes to `images` do not reach it.
    """
    images = np.asarray(images)
    if images.size == 0:
        return tf.constant(images)
    buffer = np.empty(images.nbytes + _TENSOR_ALIGNMENT, dtype=np.uint8)
    offset = -buffer.ctypes.data % _TENSOR_ALIGNMENT
    aligned = buffer[offset : offset + images.nbytes].view(images.dtype).reshape(images.shape)
    np.copyto(aligned, images)
    # The DLPack capsule keeps `buffer` alive for as long as the tensor lives.
    return tf.experimental.dlpack.from_dlpack(aligned.__dlpack__())


def _check_stream_args(imageset: ImageSet, batch_size: int, mode: str, negatives: str = "any") -> None:
    if not isinstance(imageset, ImageSet):
        raise DataError(
            f"pair_stream: expected an ImageSet, got {type(imageset).__name__}; build one with "
            "siamese_kit.data.ImageSet(images, labels) or a loader."
        )
    if mode not in PAIR_MODES:
        raise DataError(f"pair_stream: mode must be one of {PAIR_MODES}, got {mode!r}.")
    if negatives not in PAIR_NEGATIVES:
        raise DataError(
            f"pair_stream: negatives must be one of {PAIR_NEGATIVES}, got {negatives!r}."
        )
    if negatives == "same_group" and imageset.groups is None:
        raise DataError(
            f"pair_stream: negatives='same_group' needs an ImageSet with groups, and "
            f"{imageset.name!r} has none. Load it with groups (load_omniglot, or "
            "load_image_folder(..., class_levels=2)), pass groups= to ImageSet, or use "
            "negatives='any'."
        )
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
    negatives: str = "any",
    augment=None,
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
        negatives: which classes a different-class pair (pair_label 0) joins: `"any"` two
            distinct classes, or `"same_group"` a class and another class of the same group
            (Omniglot: the same alphabet), which makes negatives harder. The first class is drawn
            uniformly either way; a class alone in its group is paired with any other class.
            `"same_group"` needs `imageset.groups`.
        augment: optional in-graph augmentation called as `augment(images, seed)` on each side's
            batch (for example `AffineDistortion()`), seeded per batch so the stream stays
            reproducible.

    Returns:
        `tf.data.Dataset` of `(features, pair_label)` batches, prefetched.

    Raises:
        DataError: for a bad argument or an ImageSet that cannot give pairs.

    Example:
        >>> stream = pair_stream(train_set, batch_size=64, seed=1)
        >>> features, pair_label = next(iter(stream))
    """
    _check_stream_args(imageset, batch_size, mode, negatives)
    tables = _ClassTables(imageset, negatives)
    images = pixel_tensor(imageset.images)
    labels = tf.constant(imageset.labels, dtype=tf.int32)

    def make_batch(batch_number):
        index_a, index_b, pair_label = _sample_pair_indices(
            tables, batch_size, seed, batch_number, mode, negatives
        )
        image_a, image_b = augment_both(augment, tf.gather(images, index_a), tf.gather(images, index_b),
                                        seed, batch_number)
        features = {
            "image_a": image_a,
            "image_b": image_b,
            "label_a": tf.gather(labels, index_a),
            "label_b": tf.gather(labels, index_b),
        }
        return features, tf.cast(pair_label, tf.float32)

    return numbered_stream(make_batch, start_batch)


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


def fixed_pairs(
    imageset: ImageSet,
    num_pairs: int,
    seed: int = 0,
    mode: str = "alternate",
    negatives: str = "any",
) -> PairSet:
    """A reproducible evaluation pair set, drawn by the same sampler as `pair_stream`.

    Args:
        imageset: images to pair (usually a held-out test or validation set).
        num_pairs: number of pairs.
        seed: the same seed gives the same pairs.
        mode: `"alternate"` or `"random"`, as in `pair_stream`.
        negatives: `"any"` or `"same_group"` (harder, within-group negatives), as in `pair_stream`.

    Returns:
        PairSet of `num_pairs` index pairs with their pair labels (1 = same class, 0 = different).

    Raises:
        DataError: for a bad argument or an ImageSet that cannot give pairs.
    """
    _check_stream_args(imageset, num_pairs, mode, negatives)
    index_a, index_b, pair_label = _sample_pair_indices(
        _ClassTables(imageset, negatives), num_pairs, seed, 0, mode, negatives
    )
    return PairSet(index_a.numpy(), index_b.numpy(), pair_label.numpy())


def distinct_pairs(imageset: ImageSet, budget: int, seed: int = 0) -> PairSet:
    """Up to `budget` distinct pairs for measuring, half same-class and half different, none counted twice.

    A pair is unordered and never an image with itself. Each kind takes every pair it has when it has at
    most `budget // 2` (a 75-image test part has few same-class pairs: all of them), else `budget // 2`
    drawn uniformly without replacement. Counts then mean what they say: 150 same pairs are 150 pairs,
    not 150 drawn 32 times each, and a false accept rate of 1% over N different pairs rests on N of them.

    Args:
        imageset: the images (at least two classes, one of them with two images).
        budget: the most pairs to return, both kinds together.
        seed: which pairs, when a kind has more than `budget // 2`.

    Returns:
        PairSet: the same-class pairs first, then the different-class pairs, each sorted, `index_a <
        index_b`; pair label 1 = same class, 0 = different.

    Raises:
        DataError: when `budget` < 2, or the set has no same-class or no different-class pair.
    """
    budget = int(budget)
    if budget < 2:
        raise DataError(f"distinct_pairs: budget must be at least 2 (one pair of each kind), got {budget}.")
    labels = np.asarray(imageset.labels)
    rng = np.random.default_rng(seed)
    half = budget // 2
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels)
    starts = np.concatenate([[0], np.cumsum(counts)])
    same_total = int(np.sum(counts * (counts - 1) // 2))
    different_total = len(labels) * (len(labels) - 1) // 2 - same_total
    if same_total == 0 or different_total == 0:
        raise DataError(f"{imageset.name}: needs {'two images of one class' if same_total == 0 else 'two classes'} "
                        "to make both kinds of pair.")

    def all_same():
        found = [order[starts[c] + np.stack(np.triu_indices(n, 1), axis=1)] for c, n in enumerate(counts) if n > 1]
        return np.concatenate(found)

    def draw_same(size):
        weights = counts * (counts - 1) / 2.0
        classes = rng.choice(len(counts), size=size, p=weights / weights.sum())
        first = rng.integers(0, counts[classes])
        second = rng.integers(0, counts[classes] - 1)
        second = second + (second >= first)  # another member of the class, uniformly
        return order[starts[classes] + first], order[starts[classes] + second]

    def all_different():
        a, b = np.triu_indices(len(labels), 1)
        keep = labels[a] != labels[b]
        return np.stack([a[keep], b[keep]], axis=1)

    def draw_different(size):
        a = rng.integers(0, len(labels), size)
        b = rng.integers(0, len(labels), size)
        keep = labels[a] != labels[b]
        return a[keep], b[keep]

    parts = []
    for total, every, draw in ((same_total, all_same, draw_same), (different_total, all_different, draw_different)):
        if total <= half:
            chosen = every()
        else:
            seen = {}  # insertion-ordered: the first `half` distinct draws, the same for the same seed
            while len(seen) < half:
                a, b = draw(2 * (half - len(seen)) + 16)
                for pair in zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist()):
                    seen.setdefault(pair, None)
            chosen = np.array(list(seen)[:half])
        chosen = np.sort(chosen, axis=1)
        parts.append(chosen[np.lexsort((chosen[:, 1], chosen[:, 0]))])
    same, different = parts
    return PairSet(np.concatenate([same[:, 0], different[:, 0]]).astype(np.int64),
                   np.concatenate([same[:, 1], different[:, 1]]).astype(np.int64),
                   np.concatenate([np.ones(len(same), np.int64), np.zeros(len(different), np.int64)]))
