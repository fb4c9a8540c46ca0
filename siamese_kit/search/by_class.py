"""Each query's distance to every class's nearest gallery embedding, exact, at a million embeddings.

Identification ranks classes by their closest gallery image. A nearest-neighbour index cannot do it
alone: a gallery of ~1,000 images a class fills a query's first hundreds of neighbours with its own
class, and an approximate graph misses some classes' nearest members, which reorders the ranking.
Searching everything is exact but costs queries x gallery distances (for 1,000 queries and 1,000,000
embeddings, asking an index for all of them returns 12 GB).

`ClassBalls` is exact and looks at few classes. Each class is summarised by a ball: its centroid and
the distance to its farthest member, so no member of class c is nearer to a query q than
`|q - centre_c| - radius_c`. For each query, the `wanted` classes of nearest centroid are measured
exactly; the largest of those distances, D, bounds the `wanted`-th best class from above. A class whose
lower bound exceeds D cannot be among the best, so only the classes whose bound is within D are
measured exactly, in chunks of at most `block_values` distances. The answer is that of exact search
for the best `wanted` classes, with a certificate instead of a recall.
"""

from __future__ import annotations

import numpy as np

from ..distances import numpy_pairwise_distances, squared_norms
from .exact import block_distances

# Distances held at once (float32: 128 MB), whatever the gallery's size.
BLOCK_VALUES = 32_000_000


def class_minimum_distances(queries: np.ndarray, embeddings: np.ndarray, labels: np.ndarray,
                            block_values: int = BLOCK_VALUES) -> tuple[np.ndarray, np.ndarray]:
    """Exact distance of each query to each class's nearest embedding, by searching everything.

    The reference `ClassBalls` is measured against, one block of queries at a time.

    Args:
        queries: `[Q, D]` float32.
        embeddings: `[G, D]` float32 gallery.
        labels: `[G]` the class of each gallery row.
        block_values: distances computed at once (sets the queries per block).

    Returns:
        `(distances, classes)`: float32 `[Q, C]` and the sorted class ids `[C]` its columns are.
    """
    embeddings, labels = _sorted_by_class(np.asarray(embeddings, np.float32), np.asarray(labels))
    classes, starts = np.unique(labels, return_index=True)
    norms = squared_norms(embeddings)
    block = max(1, block_values // max(1, len(embeddings)))
    result = np.empty((len(queries), len(classes)), np.float32)
    for start in range(0, len(queries), block):
        distances = block_distances(np.asarray(queries[start:start + block], np.float32), embeddings, norms)
        result[start:start + block] = np.minimum.reduceat(distances, starts, axis=1)
    return result, classes


def _sorted_by_class(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(labels) > 1 and (np.diff(labels) < 0).any():
        # Folders are read class by class, so a gallery is normally sorted already and this copy is rare.
        order = np.argsort(labels, kind="stable")
        return embeddings[order], labels[order]
    return embeddings, labels


class ClassBalls:
    """A gallery grouped by class, each class bounded by a ball, for exact per-class nearest distances.

    Args:
        embeddings: `[G, D]` gallery embeddings.
        labels: `[G]` the class of each.
        block_values: the most distances held at once while measuring.

    Attributes:
        classes: the sorted class ids, the columns of `nearest`'s answer.

    Raises:
        ValueError: for embeddings and labels of different lengths.

    Example:
        >>> balls = ClassBalls(gallery_embeddings, gallery_labels)
        >>> distances, stats = balls.nearest(query_embeddings, wanted=5)   # exact for each query's best 5
    """

    def __init__(self, embeddings, labels, block_values: int = BLOCK_VALUES):
        embeddings, labels = np.asarray(embeddings, np.float32), np.asarray(labels)
        if embeddings.ndim != 2 or len(embeddings) != len(labels) or not len(labels):
            raise ValueError(f"ClassBalls: {len(labels)} labels for embeddings of shape {embeddings.shape}; "
                             "give one label per gallery row.")
        self.embeddings, self.labels = _sorted_by_class(embeddings, labels)
        self.classes, self.starts, self.counts = np.unique(self.labels, return_index=True, return_counts=True)
        self.norms = squared_norms(self.embeddings)
        self.block_values = int(block_values)
        self.centres = np.stack([self.embeddings[s:s + n].mean(axis=0)
                                 for s, n in zip(self.starts, self.counts)]).astype(np.float32)
        self.radii = np.zeros(len(self.classes), np.float32)
        for column, (first, count) in enumerate(zip(self.starts, self.counts)):
            spread = self.embeddings[first:first + count] - self.centres[column]
            self.radii[column] = np.sqrt((spread * spread).sum(axis=1).max())
        # Float32 rounding in the distances measured: a bound is loosened by this much so it never
        # excludes a class that rounding alone would have let in.
        self.slack = 1e-3 * (1.0 + float(np.sqrt(self.norms.max())))

    def _measure(self, queries: np.ndarray, asked: np.ndarray, result: np.ndarray) -> int:
        """Fills `result[q, c]` with the exact nearest distance wherever `asked[q, c]`, class by class: one
        matrix product of the queries that ask for a class against its members. Returns the distances computed."""
        computed = 0
        for column in np.flatnonzero(asked.any(axis=0)):
            rows = np.flatnonzero(asked[:, column])
            first, count = self.starts[column], self.counts[column]
            # Chunks of queries, so one product never holds more than block_values distances.
            step = max(1, self.block_values // int(count))
            for chunk in range(0, len(rows), step):
                which = rows[chunk:chunk + step]
                distances = numpy_pairwise_distances(queries[which], self.embeddings[first:first + count],
                                                     self.norms[first:first + count])
                result[which, column] = distances.min(axis=1)
            computed += len(rows) * int(count)
        return computed

    def nearest(self, queries, wanted: int) -> tuple[np.ndarray, dict]:
        """Each query's exact distance to the nearest member of its best classes.

        Args:
            queries: `[Q, D]` embeddings from the gallery's model.
            wanted: how many best classes must be exact (`top_k`).

        Returns:
            `(distances, stats)`: float32 `[Q, C]`, exact for every class that could be among a query's
            `wanted` best and inf for classes the bound ruled out (never among them); `stats` gives
            `classes_measured_mean` and `share_of_gallery_measured`, the work the bound saved.

        Raises:
            ValueError: for queries of another width than the gallery.
        """
        queries = np.ascontiguousarray(queries, np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.embeddings.shape[1]:
            raise ValueError(f"ClassBalls: queries of shape {queries.shape} for a {self.embeddings.shape[1]}-D gallery; "
                             "embed both with the same model.")
        wanted = max(1, min(int(wanted), len(self.classes)))
        result = np.full((len(queries), len(self.classes)), np.inf, np.float32)
        measured_classes = computed = 0
        # Blocks of queries, so the [block, classes] bounds stay within block_values.
        block = max(1, self.block_values // max(1, len(self.classes)))
        for start in range(0, len(queries), block):
            part = queries[start:start + block]
            found = np.full((len(part), len(self.classes)), np.inf, np.float32)
            centre_distances = numpy_pairwise_distances(part, self.centres)
            first = np.zeros(found.shape, bool)
            np.put_along_axis(first, np.argpartition(centre_distances, wanted - 1, axis=1)[:, :wanted], True, axis=1)
            computed += self._measure(part, first, found)
            bound = np.where(first, found, -np.inf).max(axis=1, keepdims=True)  # >= the wanted-th best class
            lower = np.maximum(centre_distances - self.radii, 0.0) - self.slack
            computed += self._measure(part, (lower <= bound) & ~first, found)
            measured_classes += int(np.isfinite(found).sum())
            result[start:start + block] = found
        stats = {"classes_measured_mean": round(measured_classes / max(1, len(queries)), 1),
                 "share_of_gallery_measured": round(computed / max(1, len(queries) * len(self.embeddings)), 5)}
        return result, stats


__all__ = ["BLOCK_VALUES", "ClassBalls", "class_minimum_distances"]
