"""What every batch loss starts from: the batch's distance or similarity matrix and its label masks.

A batch loss takes class labels `[B]` (not pair labels) and embeddings `[B, D]`, and finds its pairs
and triplets inside the batch. Everything is computed in float32 at least (as in `distances.py`) and
in-graph, so mining costs one `[B, B]` matrix per step.
"""

from __future__ import annotations

from keras import ops

from ..distances import l2_normalize, pairwise_squared_distances

DISTANCES = ("euclidean", "squared", "cosine")
# Added under the square root: the diagonal (an embedding to itself) would otherwise have an infinite
# gradient, which turns into NaN even where a mask multiplies it by 0.
_SQRT_EPSILON = 1e-12
# Stands in for "never" where a mask removes an entry from a min, max or logsumexp: far beyond any
# distance or similarity, yet finite, so no inf - inf makes a NaN.
FAR = 1e9


def check_distance(distance: str, owner: str) -> str:
    """`distance` when it is one of `DISTANCES`, else a ValueError naming `owner` and the choices."""
    if distance not in DISTANCES:
        raise ValueError(f"{owner}: distance must be one of {', '.join(map(repr, DISTANCES))}, got {distance!r}.")
    return distance


def distance_matrix(embeddings, distance: str):
    """`[B, B]` distances between every two embeddings of the batch.

    Args:
        embeddings: `[B, D]`.
        distance: `"euclidean"` (`sqrt(|a - b|^2 + 1e-12)`), `"squared"` (`|a - b|^2`) or `"cosine"`
            (`1 - cos(a, b)`, in [0, 2]).

    Returns:
        float32 (float64 for float64 input) `[B, B]`.
    """
    if distance == "cosine":
        unit = l2_normalize(embeddings)
        return 1.0 - ops.matmul(unit, ops.transpose(unit))
    squared = pairwise_squared_distances(embeddings, embeddings)
    return squared if distance == "squared" else ops.sqrt(squared + _SQRT_EPSILON)


def label_masks(labels):
    """Which ordered pairs of the batch are positives and which negatives.

    Args:
        labels: int class labels `[B]` (not pair labels).

    Returns:
        `(positive, negative)`, bool `[B, B]`: `positive[i, j]` when i and j share a class and
        `i != j`; `negative[i, j]` when their classes differ.
    """
    labels = ops.reshape(labels, (-1,))
    same = ops.equal(ops.expand_dims(labels, 0), ops.expand_dims(labels, 1))
    not_self = ops.logical_not(ops.cast(ops.eye(ops.shape(labels)[0]), "bool"))
    return ops.logical_and(same, not_self), ops.logical_not(same)


def masked_mean(values, mask):
    """Mean of `values` where `mask` holds; 0 (with a zero gradient) when it holds nowhere."""
    mask = ops.cast(mask, values.dtype)
    return ops.sum(values * mask) / ops.maximum(ops.sum(mask), 1.0)
