"""Euclidean distance, written once for the whole package.

Two shapes of question need it: the distance of each pair of rows (a twin's head, `paired_distances`)
and the distance of every query to every item (centroids, prototypes, one-shot candidates;
`pairwise_squared_distances`; in NumPy for exact search over a gallery on the host,
`numpy_pairwise_distances`). Every layer, loss and metric calls these two, so a fix to the
numerics reaches all of them at once.

Both work in float32 at least, whatever the Keras dtype policy: under `mixed_float16` a squared
distance overflows above 65,504 and a small epsilon rounds to 0. NumPy float64 inputs stay float64,
so evaluation code that hands over float64 arrays keeps their precision.
"""

from __future__ import annotations

import numpy as np
from keras import ops


def _working_dtype(*tensors) -> str:
    """float64 when any input is float64, else float32 (never float16 or bfloat16)."""
    dtypes = {str(getattr(t, "dtype", "float32")) for t in tensors}
    return "float64" if any("float64" in d for d in dtypes) else "float32"


def paired_distances(first, second, epsilon: float = 1e-12):
    """Euclidean distance of each row of `first` to the same row of `second`.

    Computed as `sqrt(sum((a - b)^2) + epsilon)`: the gradient stays finite where two embeddings
    coincide and, unlike a floor `sqrt(max(sum, epsilon))`, never vanishes for two points that are
    close but apart, so a collapsed different-class pair is still pushed apart.

    Args:
        first: `[..., D]` embeddings.
        second: `[..., D]` embeddings, the same shape.
        epsilon: added under the square root; identical rows are `sqrt(epsilon)` apart.

    Returns:
        float32 (float64 for float64 inputs) tensor `[...]`.
    """
    dtype = _working_dtype(first, second)
    first, second = ops.cast(first, dtype), ops.cast(second, dtype)
    return ops.sqrt(ops.sum(ops.square(first - second), axis=-1) + epsilon)


def pairwise_squared_distances(queries, items):
    """Squared Euclidean distance of every query to every item.

    Uses the expanded form `|q|^2 - 2 q.g + |g|^2`: one matrix product instead of a `[Q, G, D]`
    difference tensor, so a block of queries against a large gallery fits in memory. Rounding can
    leave tiny negatives where the true value is 0 (an item and its duplicate); they are clipped to 0.
    Leading batch axes are allowed (one set of queries and items per episode).

    Args:
        queries: `[..., Q, D]`.
        items: `[..., G, D]`, with the same leading axes.

    Returns:
        float32 (float64 for float64 inputs) tensor `[..., Q, G]`.
    """
    dtype = _working_dtype(queries, items)
    queries, items = ops.cast(queries, dtype), ops.cast(items, dtype)
    cross = ops.matmul(queries, ops.swapaxes(items, -1, -2))
    query_norms = ops.expand_dims(ops.sum(ops.square(queries), axis=-1), -1)
    item_norms = ops.expand_dims(ops.sum(ops.square(items), axis=-1), -2)
    return ops.maximum(query_norms - 2.0 * cross + item_norms, 0.0)


def pairwise_distances(queries, items):
    """Euclidean distance of every query to every item (the root of `pairwise_squared_distances`).

    Args:
        queries: `[..., Q, D]`.
        items: `[..., G, D]`.

    Returns:
        float32 (float64 for float64 inputs) tensor `[..., Q, G]`.
    """
    return ops.sqrt(pairwise_squared_distances(queries, items))


def l2_normalize(embeddings, epsilon: float = 1e-12):
    """Rows scaled to unit length, the one L2 normalisation of the package (batch losses, cosine towers,
    their `embed`, support fine-tuning).

    Computed as `x / sqrt(|x|^2 + epsilon)`: a zero row stays finite, and so does its gradient.

    Args:
        embeddings: `[..., D]`.
        epsilon: added under the square root.

    Returns:
        float32 (float64 for float64 input) tensor `[..., D]`.
    """
    embeddings = ops.cast(embeddings, _working_dtype(embeddings))
    return embeddings / ops.sqrt(ops.sum(ops.square(embeddings), axis=-1, keepdims=True) + epsilon)


def squared_norms(rows: np.ndarray) -> np.ndarray:
    """`|x|^2` of each row of a NumPy array, in its dtype (what `numpy_pairwise_distances` reuses).

    Args:
        rows: `[N, D]`.

    Returns:
        `[N]`.
    """
    return np.einsum("ij,ij->i", rows, rows)


def numpy_pairwise_distances(queries: np.ndarray, items: np.ndarray, item_norms: np.ndarray | None = None) -> np.ndarray:
    """`pairwise_distances` in NumPy, for exact search over a gallery that lives on the host.

    The same expanded form, clipped at 0 before the root, in the inputs' dtype (float32 stays float32:
    a million-row gallery is not copied to float64, nor through the backend, for every block of
    queries).

    Args:
        queries: `[Q, D]`.
        items: `[G, D]`.
        item_norms: `squared_norms(items)`, when the caller computed it once for many blocks.

    Returns:
        `[Q, G]` distances.
    """
    if item_norms is None:
        item_norms = squared_norms(items)
    squared = item_norms[None, :] - 2.0 * (queries @ items.T) + squared_norms(queries)[:, None]
    return np.sqrt(np.maximum(squared, 0.0, out=squared), out=squared)
