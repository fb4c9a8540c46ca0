"""What a pair score means and how a threshold turns it into "same" or "different".

A model's pair score is either a distance (small = same; contrastive, prototypical and triplet towers)
or a similarity (large = same; twin classifier heads), told by the model's `score_kind`. Evaluation,
the gallery, the widgets and the report all decide with `predict_same`, so a threshold chosen on
validation pairs means the same thing everywhere. Pair label convention: 1 = same class, 0 = different.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from .distances import paired_distances

SCORE_KINDS = ("distance", "similarity")


def embedding_pair_scores(model, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The model's score of each pair of embeddings: its head's, or (a model without a head, such as
    `PrototypeModel`) the Euclidean distance its loss is built on.

    Args:
        model: a trained model.
        first: `[P, D]` embeddings.
        second: `[P, D]` embeddings.

    Returns:
        float32 `[P]` scores (see `model.score_kind`).
    """
    head = getattr(model, "head", None)
    if head is None:
        return np.asarray(ops.convert_to_numpy(paired_distances(first, second)), dtype=np.float32)
    return np.asarray(ops.convert_to_numpy(head([first, second])), dtype=np.float32)


def predict_same(scores, threshold: float, score_kind: str) -> np.ndarray:
    """Turns pair scores into pair labels (1 = same class).

    Args:
        scores: `[P]` scores.
        threshold: decision threshold.
        score_kind: `"distance"` (same when score < threshold) or `"similarity"` (same when
            score >= threshold).

    Returns:
        int array `[P]` of predicted pair labels.
    """
    scores = np.asarray(scores)
    if score_kind == "distance":
        return (scores < threshold).astype(np.int64)
    if score_kind == "similarity":
        return (scores >= threshold).astype(np.int64)
    raise ValueError(f"score_kind must be 'distance' or 'similarity', got {score_kind!r}.")


def check_score_kind(score_kind, caller: str) -> None:
    """Refuses a score kind other than `"distance"` or `"similarity"`.

    Args:
        score_kind: the value to check (a model's `score_kind`).
        caller: the function to name in the message.

    Raises:
        ValueError: naming `caller`, the two kinds and the fix.
    """
    if score_kind not in SCORE_KINDS:
        raise ValueError(
            f"{caller}: score_kind must be 'distance' (small = same) or 'similarity' (large = same), "
            f"got {score_kind!r}; pass the model's `score_kind`."
        )


__all__ = ["SCORE_KINDS", "check_score_kind", "embedding_pair_scores", "predict_same"]
