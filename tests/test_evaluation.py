"""Evaluation metrics against brute-force values."""

import numpy as np
import pytest

from siamese_kit.evaluation import (
    calibrate_twin_head,
    fit_logistic,
    pair_scores,
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


def bce(logits, labels, scale, shift):
    p = 1.0 / (1.0 + np.exp(-(scale * logits + shift)))
    return -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))


def test_platt_scaling_recovers_a_known_model_and_is_optimal():
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 3.0, size=20_000)
    labels = (rng.random(20_000) < 1.0 / (1.0 + np.exp(-(0.5 * logits - 1.0)))).astype(int)
    scale, shift = fit_logistic(logits, labels)
    assert scale == pytest.approx(0.5, abs=0.03) and shift == pytest.approx(-1.0, abs=0.06)
    best = bce(logits, labels, scale, shift)
    for d_scale, d_shift in ((0.01, 0), (-0.01, 0), (0, 0.01), (0, -0.01)):
        assert bce(logits, labels, scale + d_scale, shift + d_shift) > best
    with pytest.raises(ValueError, match="both same"):
        fit_logistic([1.0, 2.0], [1, 1])


def test_calibrated_head_gives_the_platt_probabilities():
    import keras

    from conftest import make_imageset
    from siamese_kit.data import fixed_pairs
    from siamese_kit.layers import EuclideanDistance, TwinClassifierHead
    from siamese_kit.models import SiameseModel, conv4

    keras.utils.set_random_seed(0)
    data = make_imageset(num_classes=5, per_class=6)
    model = SiameseModel(conv4((8, 8, 1), feature_dim=6, width=4, pool_last=False), TwinClassifierHead(0.5))
    pairs = fixed_pairs(data, 300, seed=3, mode="random")
    embeddings = model.embed(data)
    before = pair_scores(model, embeddings, pairs)
    scale, shift = calibrate_twin_head(model, data, num_pairs=300, seed=3)
    after = pair_scores(model, embeddings, pairs)
    logit = np.log(before / (1 - before))
    np.testing.assert_allclose(after, 1 / (1 + np.exp(-(scale * logit + shift))), rtol=1e-4, atol=1e-5)
    # The fitted probabilities are calibrated on these pairs: their mean equals the share of same pairs.
    assert np.mean(after) == pytest.approx(np.mean(pairs.pair_label), abs=0.01)
    distance_model = SiameseModel(conv4((8, 8, 1), feature_dim=6, width=4, pool_last=False), EuclideanDistance())
    with pytest.raises(ValueError, match="TwinClassifierHead"):
        calibrate_twin_head(distance_model, data)
