"""Evaluation metrics against brute-force values."""

import numpy as np
import pytest

from siamese_kit.evaluation import (
    best_accuracy_threshold,
    confusion_matrix,
    pair_accuracy,
    predict_same,
)


def brute_force_best_accuracy(scores, labels, kind):
    candidates = np.concatenate([scores - 1e-6, scores + 1e-6, [scores.min() - 1, scores.max() + 1]])
    return max(pair_accuracy(scores, labels, t, kind) for t in candidates)


@pytest.mark.parametrize("kind", ["distance", "similarity"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_threshold_reaches_the_brute_force_optimum(kind, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 200)
    shift = -1.0 if kind == "distance" else 1.0
    scores = np.round(rng.normal(size=200) + shift * labels, 1)  # rounding makes ties
    threshold = best_accuracy_threshold(scores, labels, kind)
    assert pair_accuracy(scores, labels, threshold, kind) == pytest.approx(
        brute_force_best_accuracy(scores, labels, kind)
    )


def test_threshold_on_separable_distances_splits_them():
    distances = np.array([0.1, 0.2, 0.3, 1.5, 1.7])
    labels = np.array([1, 1, 1, 0, 0])
    threshold = best_accuracy_threshold(distances, labels, "distance")
    assert 0.3 < threshold < 1.5
    np.testing.assert_array_equal(predict_same(distances, threshold, "distance"), labels)


def test_confusion_matrix_counts_by_hand():
    matrix = confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], 3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="score_kind"):
        predict_same([0.1], 0.5, "probability")
    with pytest.raises(ValueError, match="equally many"):
        best_accuracy_threshold([0.1, 0.2], [1], "distance")
    with pytest.raises(ValueError, match="2 predictions"):
        confusion_matrix([0, 1, 1], [0, 1], 2)


@pytest.mark.parametrize("kind", ["distance", "similarity"])
def test_roc_auc_equals_brute_force_pair_counting(kind):
    from siamese_kit.evaluation import roc_auc

    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 120)
    scores = np.round(rng.normal(size=120) + (1 if kind == "similarity" else -1) * labels, 1)
    sameness = scores if kind == "similarity" else -scores
    pos, neg = sameness[labels == 1], sameness[labels == 0]
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert roc_auc(scores, labels, kind) == pytest.approx(brute)
    with pytest.raises(ValueError, match="both same"):
        roc_auc([0.1, 0.2], [1, 1], kind)
