"""Retrieval: the nearest neighbours of each query among the rest, precision@1, recall@k, mAP@R."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import positive_int
from ..distances import squared_norms
from ..search.exact import block_distances, exact_neighbours, smallest_k
from ..search.index import EmbeddingIndex


def _check_embeddings(values, name: str, caller: str) -> np.ndarray:
    # float64: the squared distance through norms cancels large terms, which float32 would blur.
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(
            f"{caller}: {name} must be 2-D `[N, D]` (one embedding per row), got shape {values.shape}; "
            "reshape with `.reshape(len(x), -1)`."
        )
    if values.shape[0] == 0:
        raise ValueError(f"{caller}: {name} is empty; pass at least one embedding.")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{caller}: {name} contains NaN or infinity; check the model's output.")
    return values


def nearest_neighbours(
    query_embeddings, gallery_embeddings, k: int, exclude_self: bool = False, batch_size: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest gallery embeddings of each query embedding, by Euclidean distance.

    Computed one block of `batch_size` queries at a time, so memory is O(batch_size * G), not
    O(Q * G). Distances are float64, from `|q|^2 + |g|^2 - 2 q.g` (clipped at 0 before the root).

    Args:
        query_embeddings: `[Q, D]`.
        gallery_embeddings: `[G, D]`.
        k: neighbours per query, 1 <= k <= G (G - 1 with `exclude_self`).
        exclude_self: the queries are the gallery (query i is gallery item i), and an item must not
            be its own neighbour (leave-one-out).
        batch_size: queries per block.

    Returns:
        `(indices, distances)`: int64 gallery indices `[Q, k]` and float64 distances `[Q, k]`, nearest
        first; equal distances are ordered by lower gallery index.

    Raises:
        ValueError: if an input is not 2-D, empty or non-finite, the widths D differ, `k` or
            `batch_size` < 1, `k` exceeds the gallery, or `exclude_self` is set with Q != G.
    """
    caller = "nearest_neighbours"
    queries = _check_embeddings(query_embeddings, "query_embeddings", caller)
    gallery = _check_embeddings(gallery_embeddings, "gallery_embeddings", caller)
    if queries.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"{caller}: query_embeddings have width {queries.shape[1]} but gallery_embeddings "
            f"{gallery.shape[1]}; embed both with the same encoder."
        )
    k = positive_int(k, f"{caller}: k")
    batch_size = positive_int(batch_size, f"{caller}: batch_size")
    if exclude_self and len(queries) != len(gallery):
        raise ValueError(
            f"{caller}: exclude_self=True means query i is gallery item i, but there are {len(queries)} queries "
            f"and {len(gallery)} gallery items; pass the same embeddings twice or exclude_self=False."
        )
    available = len(gallery) - 1 if exclude_self else len(gallery)
    if k > available:
        raise ValueError(
            f"{caller}: k={k} but only {available} gallery items can be neighbours"
            f"{' (excluding the query itself)' if exclude_self else ''}; lower k."
        )
    return exact_neighbours(queries, gallery, k, exclude_self, batch_size)


@dataclass
class RetrievalReport:
    """Leave-one-out retrieval quality of a labelled embedding set (see `retrieval_metrics`).

    Attributes:
        precision_at_1: share of queries whose nearest other item is of their class.
        recall_at_k: for each k (keys: the distinct ks, ascending), share of queries with at least one
            item of their class among their k nearest others (the metric-learning "Recall@k", not the
            share of the class found).
        map_at_r: mean average precision at R (Musgrave, Belongie & Lim, 2020).
        num_queries: queries the metrics average over: items with at least one other item of
            their class.
    """

    precision_at_1: float
    recall_at_k: dict[int, float]
    map_at_r: float
    num_queries: int


def retrieval_metrics(embeddings, labels, ks=(1, 5, 10), batch_size: int = 1024, index=None) -> RetrievalReport:
    """How well nearest neighbours in embedding space share a class: every item queries all others.

    Neighbours are ranked by Euclidean distance, equal distances by lower index (as
    `nearest_neighbours`). For a query of a class with R other items:

    - precision@1: 1 if the nearest other item is of the query's class;
    - recall@k: 1 if any of the k nearest others is of the query's class (the convention of the
      metric-learning literature, e.g. Song et al. 2016; not "share of the class retrieved");
    - AP@R = (1/R) * sum_{i=1..R} P(i) * rel(i), with rel(i) = 1 when rank i is of the query's class
      and P(i) the share of the first i ranks that are; mAP@R is its mean (Musgrave, Belongie & Lim,
      "A Metric Learning Reality Check", 2020). It rewards ranking the whole class first, not just one.

    Queries whose class has no other item (R = 0) can score nothing and are left out of every metric.
    Work is done in blocks of `batch_size` queries: memory O(batch_size * N), never N x N.

    With `index`, the neighbours come from a `siamese_kit.search.EmbeddingIndex` instead: for a
    million embeddings an HNSW graph answers in minutes where exact search takes hours, at the price
    of missing a few true neighbours (the metrics then read slightly low, never high).

    Args:
        embeddings: `[N, D]` embeddings, computed once.
        labels: `[N]` class of each item.
        ks: the k of recall@k, each 1 <= k <= N - 1.
        batch_size: queries per block.
        index: None for exact float64 search (the reference); `"auto"` or `"hnsw"` to build an
            `EmbeddingIndex` of that kind over `embeddings` ("auto" stays exact below
            `EXACT_BELOW` items); or an `EmbeddingIndex` already built over these embeddings, in
            this order.

    Returns:
        RetrievalReport.

    Raises:
        ValueError: if embeddings are not 2-D, empty or non-finite, labels are not `[N]`, fewer than
            two items, `ks` is empty or has a k outside [1, N - 1], `batch_size` < 1, no item has
            another item of its class, or `index` holds another number of embeddings.
    """
    caller = "retrieval_metrics"
    points = _check_embeddings(embeddings, "embeddings", caller)
    labels = np.asarray(labels)
    if labels.shape != (len(points),):
        raise ValueError(
            f"{caller}: labels must be `[N]` with one class per embedding row ({len(points)}), got shape "
            f"{labels.shape}."
        )
    if len(points) < 2:
        raise ValueError(f"{caller}: need at least 2 items for leave-one-out retrieval, got {len(points)}.")
    ks = sorted({positive_int(k, f"{caller}: each k in ks") for k in np.atleast_1d(ks).tolist()})
    if not ks:
        raise ValueError(f"{caller}: ks is empty; pass the k values of recall@k, e.g. ks=(1, 5, 10).")
    if ks[-1] > len(points) - 1:
        raise ValueError(
            f"{caller}: k={ks[-1]} in ks but each query has only {len(points) - 1} other items; "
            f"drop the ks above {len(points) - 1}."
        )
    batch_size = positive_int(batch_size, f"{caller}: batch_size")

    _, classes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    classes = classes.reshape(-1)
    others = counts[classes] - 1  # R of each query
    queries = np.flatnonzero(others > 0)
    if len(queries) == 0:
        raise ValueError(
            f"{caller}: every item is the only one of its class, so no query has a right answer; "
            "pass several items per class."
        )
    index = _resolve_index(index, points, caller)
    norms = squared_norms(points)
    hits_at_1 = 0
    hits_at_k = dict.fromkeys(ks, 0)
    ap_sum = 0.0
    for start in range(0, len(queries), batch_size):
        block = queries[start : start + batch_size]
        r = others[block]
        # Ranks beyond max(k, R) affect no metric, so only that many neighbours are sorted.
        depth = min(len(points) - 1, max(ks[-1], int(r.max())))
        if index is None:
            neighbours, _ = smallest_k(block_distances(points[block], points, norms, block), depth)
        else:
            neighbours = _indexed_neighbours(index, points[block], block, depth)
        # A row of -1 is a neighbour an approximate graph did not find: never relevant.
        relevant = (neighbours >= 0) & (classes[neighbours] == classes[block][:, None])
        hits_at_1 += int(relevant[:, 0].sum())
        for k in ks:
            hits_at_k[k] += int(relevant[:, :k].any(axis=1).sum())
        ranks = np.arange(1, depth + 1)
        precision = np.cumsum(relevant, axis=1) / ranks
        within_r = ranks[None, :] <= r[:, None]
        ap_sum += float(np.sum(np.sum(precision * (relevant & within_r), axis=1) / r))
    total = len(queries)
    return RetrievalReport(
        precision_at_1=hits_at_1 / total,
        recall_at_k={k: hits / total for k, hits in hits_at_k.items()},
        map_at_r=ap_sum / total,
        num_queries=total,
    )


def _resolve_index(index, points: np.ndarray, caller: str):
    """None for exact search, else an `EmbeddingIndex` over `points` (built here from a kind)."""
    if index is None or isinstance(index, str) and index == "exact":
        return None
    if isinstance(index, str):
        index = EmbeddingIndex(points, kind=index)
        return None if index.kind == "exact" else index
    if not isinstance(index, EmbeddingIndex):
        raise ValueError(f"{caller}: index must be None, 'exact', 'auto', 'hnsw' or an EmbeddingIndex, got "
                         f"{type(index).__name__}.")
    if len(index) != len(points) or index.dim != points.shape[1]:
        raise ValueError(
            f"{caller}: the index holds {len(index)} embeddings of {index.dim}-D but there are {len(points)} of "
            f"{points.shape[1]}-D; build it over these embeddings: EmbeddingIndex(embeddings)."
        )
    return index


def _indexed_neighbours(index, queries: np.ndarray, rows: np.ndarray, depth: int) -> np.ndarray:
    """The `depth` nearest other items of each query through `index`, its own row removed.

    One more neighbour than needed is asked for; a query's own row is dropped where the search
    returned it, the last (farthest) neighbour where it did not, so every row keeps `depth`.
    """
    _, found = index.search(queries, min(depth + 1, len(index)))
    own = found == rows[:, None]
    drop = own | (~own.any(axis=1, keepdims=True) & (np.arange(found.shape[1]) == found.shape[1] - 1))
    return found[~drop].reshape(len(rows), -1)[:, :depth]

