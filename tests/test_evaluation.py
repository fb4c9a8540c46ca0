"""Evaluation metrics against brute-force values."""

import numpy as np
import pytest

# np.trapezoid is NumPy 2's name; NumPy 1.x (the floors) calls it trapz.
_trapezoid = getattr(np, "trapezoid", None) or np.trapz

from siamese_kit.evaluation import (
    RetrievalReport,
    best_accuracy_threshold,
    best_threshold,
    calibrate_twin_head,
    centroid_accuracy,
    confusion_matrix,
    equal_error_rate,
    fit_logistic,
    hardest_mistakes,
    nearest_neighbours,
    pair_accuracy,
    pair_scores,
    per_class_accuracy,
    predict_same,
    retrieval_metrics,
    roc_auc,
    roc_curve,
    threshold_report,
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


# --- Thresholds. Pair labels: 1 = same class, 0 = different class. ---


def random_pairs(seed, kind, size=150, decimals=1):
    """Scores that lean the right way per kind; rounding makes ties."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size)
    shift = -1.0 if kind == "distance" else 1.0
    return np.round(rng.normal(size=size) + shift * labels, decimals), labels


def f1_at(scores, labels, threshold, kind):
    predicted = predict_same(scores, threshold, kind)
    tp = np.sum((predicted == 1) & (labels == 1))
    return 2 * tp / (np.sum(predicted) + np.sum(labels))


@pytest.mark.parametrize("kind", ["distance", "similarity"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_threshold_reaches_brute_force_optimum_of_accuracy_and_f1(kind, seed):
    scores, labels = random_pairs(seed, kind)
    candidates = np.concatenate([scores - 1e-6, scores + 1e-6, [scores.min() - 1, scores.max() + 1]])
    for criterion, metric in (("accuracy", pair_accuracy), ("f1", f1_at)):
        threshold = best_threshold(scores, labels, kind, criterion=criterion)
        assert metric(scores, labels, threshold, kind) == pytest.approx(
            max(metric(scores, labels, t, kind) for t in candidates)
        )
    assert best_accuracy_threshold(scores, labels, kind) == best_threshold(scores, labels, kind)


@pytest.mark.parametrize("kind", ["distance", "similarity"])
def test_best_threshold_separates_neighbouring_floats(kind):
    # The midpoint of two adjacent floats rounds onto one of them; the threshold must still split them.
    low, high = 1.0, np.nextafter(1.0, 2.0)
    labels = np.array([1, 0]) if kind == "distance" else np.array([0, 1])
    for criterion in ("accuracy", "f1"):
        threshold = best_threshold([low, high], labels, kind, criterion=criterion)
        np.testing.assert_array_equal(predict_same([low, high], threshold, kind), labels)


def test_margin_keeps_a_distance_threshold_in_zero_to_margin():
    distances = np.array([0.1, 0.2, 3.0, 4.0])
    labels = np.array([1, 1, 0, 0])
    assert best_threshold(distances, labels, "distance") == pytest.approx(1.6)
    assert best_threshold(distances, labels, "distance", margin=1.0) == 1.0
    assert best_threshold(distances, labels, "distance", margin=2.0) == pytest.approx(1.6)
    # All different: the optimum calls nothing same (a negative threshold); clipped, it stays just above 0.
    clipped = best_threshold([0.5, 0.7], [0, 0], "distance", margin=1.0)
    assert 0.0 < clipped < 1e-300
    np.testing.assert_array_equal(predict_same([0.5, 0.7], clipped, "distance"), [0, 0])


def test_best_threshold_bad_arguments():
    with pytest.raises(ValueError, match="criterion"):
        best_threshold([0.1, 0.2], [1, 0], "distance", criterion="precision")
    with pytest.raises(ValueError, match="at least one same"):
        best_threshold([0.1, 0.2], [0, 0], "distance", criterion="f1")
    with pytest.raises(ValueError, match="only applies to distance"):
        best_threshold([0.1, 0.2], [1, 0], "similarity", margin=1.0)
    for margin in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="margin must be a positive"):
            best_threshold([0.1, 0.2], [1, 0], "distance", margin=margin)
    with pytest.raises(ValueError, match="score_kind"):
        best_threshold([0.1, 0.2], [1, 0], "probability")
    with pytest.raises(ValueError, match="empty"):
        best_threshold([], [], "distance")
    with pytest.raises(ValueError, match="1 \\(same class\\) or 0"):
        best_threshold([0.1, 0.2], [1, 2], "distance")
    with pytest.raises(ValueError, match="NaN"):
        best_threshold([0.1, float("nan")], [1, 0], "distance")
    with pytest.raises(ValueError, match="1-D"):
        best_threshold([[0.1], [0.2]], [1, 0], "distance")


# --- ROC curve and equal error rate ---


@pytest.mark.parametrize("kind", ["distance", "similarity"])
@pytest.mark.parametrize("seed", [0, 3])
def test_roc_points_are_what_predict_same_gives_and_area_is_auc(kind, seed):
    scores, labels = random_pairs(seed, kind, size=120)
    curve = roc_curve(scores, labels, kind)
    assert len(curve.thresholds) == len(np.unique(scores)) + 1
    for fpr, tpr, threshold in zip(curve.false_positive_rate, curve.true_positive_rate, curve.thresholds):
        predicted = predict_same(scores, threshold, kind)
        assert fpr == np.mean(predicted[labels == 0])
        assert tpr == np.mean(predicted[labels == 1])
    assert (curve.false_positive_rate[0], curve.true_positive_rate[0]) == (0.0, 0.0)
    assert (curve.false_positive_rate[-1], curve.true_positive_rate[-1]) == (1.0, 1.0)
    assert np.all(np.diff(curve.false_positive_rate) >= 0) and np.all(np.diff(curve.true_positive_rate) >= 0)
    area = _trapezoid(curve.true_positive_rate, curve.false_positive_rate)
    assert area == pytest.approx(roc_auc(scores, labels, kind))


def test_roc_curve_by_hand():
    curve = roc_curve([0.9, 0.8, 0.8, 0.4], [1, 0, 1, 0], "similarity")
    np.testing.assert_array_equal(curve.thresholds, [np.inf, 0.9, 0.8, 0.4])
    np.testing.assert_array_equal(curve.false_positive_rate, [0, 0, 0.5, 1])
    np.testing.assert_array_equal(curve.true_positive_rate, [0, 0.5, 1, 1])
    with pytest.raises(ValueError, match="both same"):
        roc_curve([0.1, 0.2], [0, 0], "distance")


def test_equal_error_rate_by_hand():
    # Similarity 0.9 .. 0.3 with labels 1 1 0 1 0 0 0 (3 same, 4 different). Calling the top k same:
    # k=3 (t=0.7): FAR 1/4, FRR 1/3; k=4 (t=0.6): FAR 1/4, FRR 0. FRR - FAR goes 1/12 -> -1/4, so the
    # segment crosses a quarter of the way: FAR = 1/4, FRR = 1/3 - 1/4 * 1/3 = 1/4. t=0.7 is nearer.
    similarities = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    labels = np.array([1, 1, 0, 1, 0, 0, 0])
    rate, threshold = equal_error_rate(similarities, labels, "similarity")
    assert rate == pytest.approx(0.25) and threshold == 0.7
    # The same pairs as distances: the same rate, and a threshold that makes the same decisions.
    distances = 1.0 - similarities
    rate, threshold = equal_error_rate(distances, labels, "distance")
    assert rate == pytest.approx(0.25)
    np.testing.assert_array_equal(predict_same(distances, threshold, "distance"), [1, 1, 1, 0, 0, 0, 0])
    # A point with FAR = FRR exactly: 1 0 1 1 0 0 at t=0.7 gives FAR = FRR = 1/3.
    rate, threshold = equal_error_rate([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], [1, 0, 1, 1, 0, 0], "similarity")
    assert rate == pytest.approx(1 / 3) and threshold == 0.7


@pytest.mark.parametrize("kind", ["distance", "similarity"])
def test_equal_error_rate_is_zero_when_separable(kind):
    scores = np.array([0.1, 0.3, 0.35, 0.8, 0.9])
    labels = np.array([1, 1, 1, 0, 0]) if kind == "distance" else np.array([0, 0, 0, 1, 1])
    rate, threshold = equal_error_rate(scores, labels, kind)
    assert rate == 0.0
    np.testing.assert_array_equal(predict_same(scores, threshold, kind), labels)


@pytest.mark.parametrize("kind", ["distance", "similarity"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_equal_error_rate_lies_between_the_two_rates_at_its_threshold(kind, seed):
    scores, labels = random_pairs(seed, kind, size=80)
    rate, threshold = equal_error_rate(scores, labels, kind)
    predicted = predict_same(scores, threshold, kind)
    far, frr = np.mean(predicted[labels == 0]), np.mean(1 - predicted[labels == 1])
    assert min(far, frr) - 1e-12 <= rate <= max(far, frr) + 1e-12
    with pytest.raises(ValueError, match="both same"):
        equal_error_rate(scores, np.ones_like(labels), kind)


# --- One threshold in detail ---


def test_threshold_report_by_hand():
    similarities = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    labels = np.array([1, 1, 0, 1, 0, 0, 0])
    # t = 0.75: the top two are called same, both right; one same pair (0.6) missed. TP 2, FP 0, FN 1, TN 4.
    report = threshold_report(similarities, labels, 0.75, "similarity")
    assert report.accuracy == pytest.approx(6 / 7)
    assert report.precision == 1.0 and report.recall == pytest.approx(2 / 3)
    assert report.f1 == pytest.approx(0.8) and report.false_positive_rate == 0.0
    assert report.true_positive_rate == report.recall
    np.testing.assert_array_equal(report.confusion, [[4, 0], [1, 2]])
    assert report.threshold == 0.75 and report.score_kind == "similarity"
    # Distances, strict rule: 0.5 < 0.5 is false, so only 0.2 is called same. TP 1, FP 0, FN 1, TN 2.
    report = threshold_report([0.2, 0.5, 0.5, 0.9], [1, 0, 1, 0], 0.5, "distance")
    assert report.accuracy == 0.75 and report.precision == 1.0 and report.recall == 0.5
    assert report.f1 == pytest.approx(2 / 3)
    np.testing.assert_array_equal(report.confusion, [[2, 0], [1, 1]])
    # t = 0.65: TP 2, FP 1 (0.7), FN 1, TN 3.
    report = threshold_report(similarities, labels, 0.65, "similarity")
    assert report.precision == pytest.approx(2 / 3) and report.false_positive_rate == 0.25
    np.testing.assert_array_equal(report.confusion, [[3, 1], [1, 2]])


def test_threshold_report_conventions_when_nothing_is_called_same():
    report = threshold_report([0.2, 0.4], [1, 0], 0.9, "similarity")
    assert report.precision == 0.0 and report.recall == 0.0 and report.f1 == 0.0
    assert report.accuracy == 0.5
    only_different = threshold_report([0.2, 0.4], [0, 0], 0.3, "similarity")
    assert np.isnan(only_different.recall) and only_different.false_positive_rate == 0.5
    with pytest.raises(ValueError, match="NaN"):
        threshold_report([0.2], [1], float("nan"), "similarity")
    with pytest.raises(ValueError, match="equally many"):
        threshold_report([0.2, 0.3], [1], 0.5, "similarity")


def test_hardest_mistakes_by_hand():
    # t = 0.5 similarity: wrong are 0 (0.95, different; 0.45 off), 1 (0.1, same; 0.4 off),
    # 2 (0.6, different; 0.1 off), 3 (0.3, same; 0.2 off); 4 is right.
    scores = [0.95, 0.1, 0.6, 0.3, 0.8]
    labels = [0, 1, 0, 1, 1]
    np.testing.assert_array_equal(hardest_mistakes(scores, labels, 0.5, "similarity"), [0, 1, 3, 2])
    np.testing.assert_array_equal(hardest_mistakes(scores, labels, 0.5, "similarity", count=2), [0, 1])
    assert hardest_mistakes([0.1, 0.9], [1, 0], 0.5, "distance").size == 0
    for count in (0, 1.5):
        with pytest.raises(ValueError, match="count"):
            hardest_mistakes(scores, labels, 0.5, "similarity", count=count)


@pytest.mark.parametrize("kind", ["distance", "similarity"])
@pytest.mark.parametrize("seed", [0, 1])
def test_hardest_mistakes_equal_brute_force(kind, seed):
    scores, labels = random_pairs(seed, kind, size=100)
    threshold = 0.3
    predicted = predict_same(scores, threshold, kind)
    wrong = [i for i in range(len(scores)) if predicted[i] != labels[i]]
    expected = sorted(wrong, key=lambda i: (-abs(scores[i] - threshold), i))[:7]
    np.testing.assert_array_equal(hardest_mistakes(scores, labels, threshold, kind, count=7), expected)


# --- Classes ---


def test_per_class_accuracy_by_hand_and_in_centroid_accuracy():
    from types import SimpleNamespace

    true, predicted = [0, 0, 1, 2, 2], [0, 1, 1, 2, 0]
    np.testing.assert_array_equal(per_class_accuracy(true, predicted, 4), [0.5, 1.0, 0.5, np.nan])
    decoder = SimpleNamespace(num_classes=4, predict_classes=lambda embeddings: np.array(predicted))
    test_set = SimpleNamespace(labels=np.array(true))
    report = centroid_accuracy(SimpleNamespace(decoder=decoder), test_set, embeddings=np.zeros((5, 2)))
    np.testing.assert_array_equal(report.per_class_accuracy, [0.5, 1.0, 0.5, np.nan])
    assert report.accuracy == 0.6


def test_per_class_accuracy_bad_arguments():
    with pytest.raises(ValueError, match="equally many"):
        per_class_accuracy([0, 1], [0], 2)
    with pytest.raises(ValueError, match="predicted_labels must lie in \\[0, 2\\)"):
        per_class_accuracy([0, 1], [0, 2], 2)
    with pytest.raises(ValueError, match="num_classes"):
        per_class_accuracy([0], [0], 0)
    with pytest.raises(ValueError, match="integer class indices"):
        per_class_accuracy([0.5], [0], 2)


# --- Retrieval ---


def brute_force_neighbours(queries, gallery, k, exclude_self):
    indices, distances = [], []
    for i, query in enumerate(queries):
        d = np.sqrt(np.sum((gallery - query) ** 2, axis=1))
        candidates = [j for j in range(len(gallery)) if not (exclude_self and j == i)]
        order = sorted(candidates, key=lambda j: (d[j], j))[:k]
        indices.append(order)
        distances.append(d[order])
    return np.array(indices), np.array(distances)


def random_embeddings(seed, n, dim=3, integer=False):
    rng = np.random.default_rng(seed)
    if integer:  # few distinct values: many exactly equal distances
        return rng.integers(0, 3, size=(n, dim)).astype(np.float64)
    return rng.normal(size=(n, dim))


@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nearest_neighbours_equal_brute_force(seed, integer):
    gallery = random_embeddings(seed, 17, integer=integer)
    queries = random_embeddings(seed + 100, 9, integer=integer)
    for k in (1, 4, 17):
        indices, distances = nearest_neighbours(queries, gallery, k, batch_size=4)
        expected_indices, expected_distances = brute_force_neighbours(queries, gallery, k, False)
        np.testing.assert_array_equal(indices, expected_indices)
        np.testing.assert_allclose(distances, expected_distances, atol=1e-12)
    for k in (1, 5, 16):
        indices, distances = nearest_neighbours(gallery, gallery, k, exclude_self=True, batch_size=3)
        expected_indices, expected_distances = brute_force_neighbours(gallery, gallery, k, True)
        np.testing.assert_array_equal(indices, expected_indices)
        np.testing.assert_allclose(distances, expected_distances, atol=1e-12)


def test_nearest_neighbours_by_hand():
    # From 2: points 0, 1, 3 are 2, 1, 1 away; the tie between 1 and 3 goes to the lower index.
    indices, distances = nearest_neighbours([[2.0]], [[0.0], [1.0], [3.0]], k=3)
    np.testing.assert_array_equal(indices, [[1, 2, 0]])
    np.testing.assert_array_equal(distances, [[1.0, 1.0, 2.0]])
    indices, _ = nearest_neighbours([[0.0], [1.0], [3.0]], [[0.0], [1.0], [3.0]], k=1, exclude_self=True)
    np.testing.assert_array_equal(indices, [[1], [0], [1]])


def test_nearest_neighbours_bad_arguments():
    gallery = np.zeros((4, 2))
    with pytest.raises(ValueError, match="query_embeddings must be 2-D"):
        nearest_neighbours(np.zeros(2), gallery, 1)
    with pytest.raises(ValueError, match="width"):
        nearest_neighbours(np.zeros((1, 3)), gallery, 1)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        nearest_neighbours(gallery, gallery, 0)
    with pytest.raises(ValueError, match="k=5 but only 4"):
        nearest_neighbours(gallery, gallery, 5)
    with pytest.raises(ValueError, match="k=4 but only 3 .*excluding"):
        nearest_neighbours(gallery, gallery, 4, exclude_self=True)
    with pytest.raises(ValueError, match="exclude_self"):
        nearest_neighbours(gallery[:2], gallery, 1, exclude_self=True)
    with pytest.raises(ValueError, match="batch_size"):
        nearest_neighbours(gallery, gallery, 1, batch_size=0)
    with pytest.raises(ValueError, match="empty"):
        nearest_neighbours(np.zeros((0, 2)), gallery, 1)
    with pytest.raises(ValueError, match="NaN"):
        nearest_neighbours(np.full((1, 2), np.nan), gallery, 1)


def brute_force_retrieval(embeddings, labels, ks):
    """Every metric straight from its definition, one query at a time."""
    precision_at_1, recall = [], {k: [] for k in ks}
    average_precisions = []
    for i in range(len(embeddings)):
        r = int(np.sum(labels == labels[i])) - 1
        if r == 0:
            continue
        d = np.sqrt(np.sum((embeddings - embeddings[i]) ** 2, axis=1))
        ranking = sorted((j for j in range(len(embeddings)) if j != i), key=lambda j: (d[j], j))
        relevant = [labels[j] == labels[i] for j in ranking]
        precision_at_1.append(relevant[0])
        for k in ks:
            recall[k].append(any(relevant[:k]))
        precision_at = [sum(relevant[: rank + 1]) / (rank + 1) for rank in range(r)]
        average_precisions.append(sum(p for p, rel in zip(precision_at, relevant[:r]) if rel) / r)
    return RetrievalReport(
        precision_at_1=float(np.mean(precision_at_1)),
        recall_at_k={k: float(np.mean(v)) for k, v in recall.items()},
        map_at_r=float(np.mean(average_precisions)),
        num_queries=len(average_precisions),
    )


@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_retrieval_metrics_equal_brute_force(seed, integer):
    rng = np.random.default_rng(seed)
    embeddings = random_embeddings(seed, 31, dim=2, integer=integer)
    labels = rng.integers(0, 5, 31)
    labels[0] = 9  # a class of one: it cannot be scored and is left out
    ks = (1, 3, 8)
    expected = brute_force_retrieval(embeddings, labels, ks)
    for batch_size in (1, 4, 1024):
        report = retrieval_metrics(embeddings, labels, ks=ks, batch_size=batch_size)
        assert report.num_queries == expected.num_queries == 30
        assert report.precision_at_1 == pytest.approx(expected.precision_at_1)
        assert report.recall_at_k == pytest.approx(expected.recall_at_k)
        assert report.map_at_r == pytest.approx(expected.map_at_r)


def test_retrieval_metrics_by_hand():
    # 1-D points: a=0, b=1 (class A); c=2, d=3.5, e=10 (class B); f=100 (class C, alone: skipped).
    # a: b first (A)                      -> P@1 1, AP@1 = 1
    # b: a and c tie at 1, a has the lower index -> P@1 1, AP@1 = 1
    # c: b 1, d 1.5, a 2, e 8 -> rel 0 1  -> P@1 0, AP@2 = (0 + 1/2) / 2 = 0.25; recall@2 = 1
    # d: c 1.5, b 2.5, a 3.5  -> rel 1 0  -> P@1 1, AP@2 = (1 + 0) / 2 = 0.5
    # e: d 6.5, c 8           -> rel 1 1  -> P@1 1, AP@2 = 1
    embeddings = np.array([[0.0], [1.0], [2.0], [3.5], [10.0], [100.0]])
    labels = np.array([0, 0, 1, 1, 1, 2])
    report = retrieval_metrics(embeddings, labels, ks=(1, 2))
    assert report.num_queries == 5
    assert report.precision_at_1 == pytest.approx(0.8)
    assert report.recall_at_k == {1: pytest.approx(0.8), 2: pytest.approx(1.0)}
    assert report.map_at_r == pytest.approx((1 + 1 + 0.25 + 0.5 + 1) / 5)  # 0.75


def test_retrieval_metrics_bad_arguments():
    embeddings = np.zeros((4, 2))
    labels = [0, 0, 1, 1]
    with pytest.raises(ValueError, match="embeddings must be 2-D"):
        retrieval_metrics(np.zeros(4), labels, ks=(1,))
    with pytest.raises(ValueError, match="labels must be"):
        retrieval_metrics(embeddings, [0, 1], ks=(1,))
    with pytest.raises(ValueError, match="at least 2 items"):
        retrieval_metrics(np.zeros((1, 2)), [0], ks=(1,))
    with pytest.raises(ValueError, match="ks is empty"):
        retrieval_metrics(embeddings, labels, ks=())
    with pytest.raises(ValueError, match="k=10 in ks but each query has only 3"):
        retrieval_metrics(embeddings, labels)
    with pytest.raises(ValueError, match="each k in ks must be a positive integer"):
        retrieval_metrics(embeddings, labels, ks=(0,))
    with pytest.raises(ValueError, match="batch_size"):
        retrieval_metrics(embeddings, labels, ks=(1,), batch_size=0)
    with pytest.raises(ValueError, match="only one of its class"):
        retrieval_metrics(embeddings, [0, 1, 2, 3], ks=(1,))


def test_retrieval_through_an_index_agrees_with_exact_search():
    pytest.importorskip("faiss")
    from siamese_kit.search import EmbeddingIndex

    rng = np.random.default_rng(5)
    centres = rng.normal(size=(40, 16)) * 0.8
    labels = rng.integers(0, 40, 3000)
    embeddings = (centres[labels] + rng.normal(size=(3000, 16))).astype(np.float32)
    exact = retrieval_metrics(embeddings, labels, ks=(1, 10))
    # An exact EmbeddingIndex ranks as the float64 reference does (no ties in continuous data).
    through_exact = retrieval_metrics(embeddings, labels, ks=(1, 10), index=EmbeddingIndex(embeddings, kind="exact"))
    assert through_exact.precision_at_1 == pytest.approx(exact.precision_at_1)
    assert through_exact.map_at_r == pytest.approx(exact.map_at_r)
    graph = retrieval_metrics(embeddings, labels, ks=(1, 10), index="hnsw", batch_size=700)
    assert graph.num_queries == exact.num_queries
    assert graph.precision_at_1 == pytest.approx(exact.precision_at_1, abs=0.01)
    assert graph.map_at_r == pytest.approx(exact.map_at_r, abs=0.01)
    assert graph.map_at_r <= exact.map_at_r + 1e-4  # a missed neighbour can only lower it (float32 order aside)


def test_retrieval_through_an_index_drops_each_query_itself():
    # Duplicated points: the query's own row may not come first, yet it must never count.
    embeddings = np.repeat(np.arange(6, dtype=np.float32)[:, None] * 10, 2, axis=0)
    labels = np.array([0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2])
    from siamese_kit.search import EmbeddingIndex

    report = retrieval_metrics(embeddings, labels, ks=(1,), index=EmbeddingIndex(embeddings, kind="exact"))
    assert report.precision_at_1 == pytest.approx(retrieval_metrics(embeddings, labels, ks=(1,)).precision_at_1)
    with pytest.raises(ValueError, match="the index holds 6 embeddings"):
        retrieval_metrics(embeddings, labels, ks=(1,), index=EmbeddingIndex(embeddings[:6], kind="exact"))
    with pytest.raises(ValueError, match="index must be None"):
        retrieval_metrics(embeddings, labels, ks=(1,), index=3)
