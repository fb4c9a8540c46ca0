"""Exact k-nearest search: every query against every gallery embedding, one block of queries at a time.

The reference that every approximate index is measured against, and what retrieval metrics use by
default. Memory is O(block x G), never Q x G. Distances are `siamese_kit.distances`'s, in NumPy
(`numpy_pairwise_distances`: one matrix product per block) and in the inputs' precision: float64
embeddings give float64 distances, float32 stay float32 (a million-row gallery).
Equal distances are ordered by the lower gallery row, so the answer never depends on how a partition
split a tie.
"""

from __future__ import annotations

import numpy as np

from ..distances import numpy_pairwise_distances, squared_norms

QUERY_BLOCK = 256


def smallest_k(distances: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the k smallest entries of each row: ascending, ties by lower column.

    A full sort of each row would cost O(G log G); partitioning finds the k-th value in O(G), and only
    the tie at that value needs care, since partition splits ties arbitrarily.

    Args:
        distances: `[Q, G]` distances.
        k: entries per row, 1 <= k (all G columns when k >= G).

    Returns:
        `(columns, values)`, each `[Q, min(k, G)]`, nearest first.
    """
    rows, columns = distances.shape
    if k < columns:
        kth = np.partition(distances, k - 1, axis=1)[:, k - 1 : k]
        below = distances < kth
        tied = distances == kth
        room = k - below.sum(axis=1, keepdims=True)
        chosen = below | tied
        crowded = np.flatnonzero(tied.sum(axis=1) > room[:, 0])
        if len(crowded):
            # Only rows with more ties at the k-th value than places left: keep the ties of lowest column.
            keep = np.cumsum(tied[crowded], axis=1, dtype=np.int64) <= room[crowded]
            chosen[crowded] = below[crowded] | (tied[crowded] & keep)
        # nonzero walks row by row in column order, so each row yields exactly its k columns, ascending.
        picked = np.nonzero(chosen)[1].reshape(rows, k)
    else:
        picked = np.broadcast_to(np.arange(columns), (rows, columns))
    values = np.take_along_axis(distances, picked, axis=1)
    # Stable on ascending columns: equal distances stay in column order.
    order = np.argsort(values, axis=1, kind="stable")
    return np.take_along_axis(picked, order, axis=1), np.take_along_axis(values, order, axis=1)


def block_distances(queries: np.ndarray, gallery: np.ndarray, gallery_norms: np.ndarray | None = None,
                    excluded_columns: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distances `[B, G]` of a block of queries to the whole gallery, in the inputs' dtype.

    Args:
        queries: `[B, D]`.
        gallery: `[G, D]`, the same dtype.
        gallery_norms: `squared_norms(gallery)`, when the caller computed it once.
        excluded_columns: `[B]`, query i's own gallery column, set to +inf so it is never a neighbour.

    Returns:
        `[B, G]` distances.
    """
    distances = numpy_pairwise_distances(queries, gallery, gallery_norms)
    if excluded_columns is not None:
        distances[np.arange(len(queries)), excluded_columns] = np.inf
    return distances


def exact_neighbours(queries: np.ndarray, gallery: np.ndarray, k: int, exclude_self: bool = False,
                     block_size: int = QUERY_BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest gallery rows of each query, by exact Euclidean distance.

    Inputs are taken as they are (checked by the caller): both `[N, D]` arrays of one float dtype.

    Args:
        queries: `[Q, D]`.
        gallery: `[G, D]`.
        k: neighbours per query, 1 <= k <= G (G - 1 with `exclude_self`).
        exclude_self: the queries are the gallery (query i is row i), and a row is never its own neighbour.
        block_size: queries per block.

    Returns:
        `(rows, distances)`: int64 `[Q, k]` gallery rows and `[Q, k]` distances, nearest first; equal
        distances ordered by lower row.
    """
    gallery_norms = squared_norms(gallery)
    rows = np.empty((len(queries), k), dtype=np.int64)
    distances = np.empty((len(queries), k), dtype=np.result_type(queries, gallery))
    for start in range(0, len(queries), block_size):
        stop = min(start + block_size, len(queries))
        excluded = np.arange(start, stop) if exclude_self else None
        block = block_distances(queries[start:stop], gallery, gallery_norms, excluded)
        rows[start:stop], distances[start:stop] = smallest_k(block, k)
    return rows, distances


__all__ = ["QUERY_BLOCK", "block_distances", "exact_neighbours", "smallest_k"]
