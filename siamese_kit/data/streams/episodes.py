"""N-way K-shot episodes: few-shot tasks sampled in-graph from any ImageSet, like the pair streams.

An episode picks `ways` distinct classes (from one group, e.g. one Omniglot alphabet, or from the whole
set) and, for each, `shots + queries` distinct images: the first `shots` form the support set, the rest
are queries to classify among the `ways` classes. Indices are drawn with stateless random ops seeded by
`(seed, episode number)`, so the same seed gives the same episodes and a stream can resume at any
episode. Images are gathered from one uint8 tensor, never copied per episode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..._checks import positive_int
from ..imageset import DataError, ImageSet
from .pairs import augment_both, numbered_stream, pixel_tensor
from .seeds import batch_key, derived_key


def _padded_rows(rows: list[np.ndarray]) -> tuple[tf.Tensor, tf.Tensor]:
    """Ragged int rows as a `-1`-padded int32 matrix and the row lengths."""
    width = max(len(r) for r in rows)
    matrix = np.full((len(rows), width), -1, dtype=np.int64)
    for i, row in enumerate(rows):
        matrix[i, : len(row)] = row
    return tf.constant(matrix, tf.int32), tf.constant([len(r) for r in rows], tf.int32)


class _EpisodeTables:
    """Index tables for sampling episodes.

    `class_rows[r, :row_sizes[r]]` lists the classes one episode may mix (one row per usable group, or
    a single row of every usable class), and `images[c, :image_counts[c]]` the images of class c.
    """

    def __init__(self, imageset: ImageSet, ways: int, images_per_class: int, within_group: bool):
        counts = imageset.class_counts()
        usable = np.flatnonzero(counts >= images_per_class)
        if within_group:
            if imageset.groups is None:
                raise DataError(
                    f"episodes: within_group=True needs an ImageSet with groups, and "
                    f"{imageset.name!r} has none. Load it with groups (load_omniglot, or "
                    "load_image_folder(..., class_levels=2)), or pass within_group=False."
                )
            class_group = np.full(imageset.num_classes, -1)
            class_group[imageset.labels] = imageset.groups
            rows = [usable[class_group[usable] == g] for g in np.unique(imageset.groups)]
        else:
            rows = [usable]
        rows = [r for r in rows if len(r) >= ways]
        if not rows:
            where = "any group" if within_group else imageset.name
            most = max(
                (len(usable[class_group[usable] == g]) for g in np.unique(imageset.groups))
                if within_group
                else [len(usable)]
            )
            raise DataError(
                f"episodes: {where} of {imageset.name!r} has at most {most} classes with "
                f"{images_per_class} or more images (shots + queries), fewer than ways={ways}. "
                "Lower ways, shots or queries"
                + (", or pass within_group=False." if within_group else ".")
            )
        self.class_rows, self.row_sizes = _padded_rows(rows)
        order = np.argsort(imageset.labels, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.images, self.image_counts = _padded_rows(
            [order[starts[c] : starts[c] + counts[c]] for c in range(imageset.num_classes)]
        )


def _first_k_of_shuffle(uniforms, sizes, k):
    """For each row, `k` distinct random positions below that row's size (a partial shuffle)."""
    columns = tf.range(tf.shape(uniforms)[-1])
    # Positions past a row's end get keys above every real one, so top_k never picks them.
    keys = tf.where(columns < sizes[..., tf.newaxis], uniforms, 2.0)
    return tf.math.top_k(-keys, k=k, sorted=True).indices


def _sample_episode_indices(tables: _EpisodeTables, ways, shots, queries, seed, episode_number,
                            purposes=("episode classes", "episode images")):
    """One episode's indices: support `[ways, shots]`, queries `[ways, queries]`, classes `[ways]`.

    `purposes` name the class and image draws, and optionally a third the group draw (see
    `seeds.PURPOSES`), so another stream built on this sampler draws independently of the episode streams
    of the same seed. The episodes' own group draw takes the episode's key itself (as it always has, so
    the same seed keeps giving the same episodes).
    """
    stream_seed = batch_key(seed, episode_number)
    num_rows = tf.shape(tables.class_rows)[0]
    group_key = derived_key(stream_seed, purposes[2]) if len(purposes) > 2 else stream_seed
    row_draw = tf.random.stateless_uniform([], seed=group_key)
    row = tf.minimum(tf.cast(row_draw * tf.cast(num_rows, tf.float32), tf.int32), num_rows - 1)
    class_keys = tf.random.stateless_uniform([tf.shape(tables.class_rows)[1]],
                                             seed=derived_key(stream_seed, purposes[0]))
    slots = _first_k_of_shuffle(class_keys, tables.row_sizes[row], ways)
    classes = tf.gather(tables.class_rows[row], slots)
    image_keys = tf.random.stateless_uniform([ways, tf.shape(tables.images)[1]],
                                             seed=derived_key(stream_seed, purposes[1]))
    positions = _first_k_of_shuffle(image_keys, tf.gather(tables.image_counts, classes), shots + queries)
    chosen = tf.gather(tf.gather(tables.images, classes), positions, batch_dims=1)
    return chosen[:, :shots], chosen[:, shots:], classes


def _check_episode_args(imageset, ways, shots, queries) -> None:
    if not isinstance(imageset, ImageSet):
        raise DataError(
            f"episodes: expected an ImageSet, got {type(imageset).__name__}; build one with "
            "siamese_kit.data.ImageSet(images, labels) or a loader."
        )
    for name, value, low in (("ways", ways, 2), ("shots", shots, 1), ("queries", queries, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= 10_000:
            raise DataError(f"episodes: {name} must be an integer between {low} and 10,000, got {value!r}.")


def episode_stream(
    imageset: ImageSet,
    ways: int = 20,
    shots: int = 1,
    queries: int = 5,
    seed: int = 0,
    within_group: bool = True,
    start_episode: int = 0,
    augment=None,
) -> tf.data.Dataset:
    """An infinite, seeded stream of N-way K-shot episodes, one episode per element.

    Each element is a dict: `support` uint8 `[ways * shots, H, W, C]` and `query` uint8
    `[ways * queries, H, W, C]`, both class by class, with `support_labels` and `query_labels`
    (int32, the episode's class number 0..ways-1 of each image) and `classes` (int32 `[ways]`, the
    ImageSet labels behind those numbers).

    Args:
        imageset: the images; a class takes part only if it has `shots + queries` images.
        ways: classes per episode.
        shots: support images per class.
        queries: query images per class.
        seed: the same seed gives the same episodes.
        within_group: draw all of an episode's classes from one group (Omniglot: one alphabet, as in
            Lake's runs), the group chosen uniformly among those with enough classes; False mixes
            classes from the whole set.
        start_episode: number of the first episode, to resume a stream.
        augment: optional in-graph augmentation called as `augment(images, seed)` (for example
            `AffineDistortion()`), seeded per episode.

    Returns:
        `tf.data.Dataset` of episode dicts, prefetched.

    Raises:
        DataError: for a bad argument, a set without groups when `within_group=True`, or too few
            classes with enough images for `ways` (naming how many there are).

    Example:
        >>> episodes = episode_stream(background, ways=20, shots=1, queries=5, seed=0)
        >>> episode = next(iter(episodes))
        >>> episode["support"].shape, episode["query"].shape
        (TensorShape([20, 105, 105, 1]), TensorShape([100, 105, 105, 1]))
    """
    _check_episode_args(imageset, ways, shots, queries)
    tables = _EpisodeTables(imageset, ways, shots + queries, within_group)
    images = pixel_tensor(imageset.images)
    labels_of = lambda count: tf.repeat(tf.range(ways, dtype=tf.int32), count)  # noqa: E731

    def make_episode(episode_number):
        support_index, query_index, classes = _sample_episode_indices(
            tables, ways, shots, queries, seed, episode_number
        )
        support, query = augment_both(
            augment, tf.gather(images, tf.reshape(support_index, [-1])),
            tf.gather(images, tf.reshape(query_index, [-1])), seed, episode_number,
        )
        return {
            "support": support,
            "query": query,
            "support_labels": labels_of(shots),
            "query_labels": labels_of(queries),
            "classes": classes,
        }

    return numbered_stream(make_episode, start_episode)


@dataclass(frozen=True)
class EpisodeSet:
    """A fixed set of episodes over one ImageSet, held as indices.

    Attributes:
        support_index: int `[E, ways, shots]`, support images of each episode, class by class.
        query_index: int `[E, ways, queries]`, query images; the query at `[e, w, q]` belongs to class
            `w` of episode `e`.
        classes: int `[E, ways]`, the ImageSet label of each episode class.
    """

    support_index: np.ndarray
    query_index: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def ways(self) -> int:
        return self.classes.shape[1]

    @property
    def shots(self) -> int:
        return self.support_index.shape[2]

    def as_run(self, imageset: ImageSet, episode: int = 0):
        """One 1-shot episode as a `OneShotRun`, to score with `evaluate_lake_runs` or draw with
        `plotting.one_shot_task_grid` like one of Lake's runs.

        Args:
            imageset: the ImageSet the episodes index.
            episode: which episode.

        Returns:
            `OneShotRun` named `"episode <n>"`: one support image per class, the queries class by
            class, and each query's answer (its class's position among the supports). File names
            are the ImageSet indices.

        Raises:
            DataError: for a K-shot episode with K > 1 (a run has one image per class) or an
                episode number out of range.
        """
        from ..sources.lake import OneShotRun

        if self.shots != 1:
            raise DataError(f"as_run: a one-shot run has one image per class; these episodes have {self.shots} shots.")
        if not 0 <= episode < len(self):
            raise DataError(f"as_run: episode {episode} is out of range; there are {len(self)} episodes.")
        support = self.support_index[episode, :, 0]
        queries = self.query_index[episode].reshape(-1)
        return OneShotRun(
            name=f"episode {episode}",
            support_images=imageset.images[support],
            query_images=imageset.images[queries],
            answers=np.repeat(np.arange(self.ways), self.query_index.shape[2]),
            support_files=tuple(str(i) for i in support),
            query_files=tuple(str(i) for i in queries),
        )


def fixed_episodes(
    imageset: ImageSet,
    count: int,
    ways: int = 20,
    shots: int = 1,
    queries: int = 1,
    seed: int = 0,
    within_group: bool = True,
) -> EpisodeSet:
    """A reproducible set of evaluation episodes, drawn by the same sampler as `episode_stream`.

    Args:
        imageset: held-out images (for example `images_evaluation`).
        count: number of episodes.
        ways, shots, queries, within_group: as in `episode_stream`.
        seed: the same seed gives the same episodes.

    Returns:
        EpisodeSet of `count` episodes.

    Raises:
        DataError: as `episode_stream`, or for a `count` below 1.
    """
    _check_episode_args(imageset, ways, shots, queries)
    positive_int(count, "fixed_episodes: count", error=DataError)
    tables = _EpisodeTables(imageset, ways, shots + queries, within_group)
    sample = tf.function(
        lambda number: _sample_episode_indices(tables, ways, shots, queries, seed, number)
    )
    drawn = [sample(tf.constant(e, tf.int64)) for e in range(count)]
    support, query, classes = (np.stack([d[i].numpy() for d in drawn]) for i in range(3))
    return EpisodeSet(support_index=support, query_index=query, classes=classes)
