"""Self-checks for evaluation: thresholds, pair decisions, one-shot choices and retrieval metrics."""

from __future__ import annotations

import numpy as np

from ..evaluation import best_accuracy_threshold, pair_accuracy
from ._common import TOLERANCE, _as_array, _check_function, _check_seed, _close, _ok, _one_number
from .distances import reference_euclidean_distance


# -- threshold ---------------------------------------------------------------------------------------


def check_threshold(student_fn, seed: int = 0) -> bool:
    """Checks a function that picks the most accurate decision threshold for pair scores.

    The function is called as `student_fn(scores, pair_labels, score_kind)` and must return a number:
    the threshold with the highest pair accuracy on those pairs. For `score_kind == "distance"` a pair
    is called "same" when its score is *below* the threshold; for `"similarity"` (a probability of
    "same") when it is at or *above*. Both kinds are tried, on overlapping random scores.

    Args:
        student_fn: the function to check.
        seed: seed of the random scores.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: giving the accuracy at the returned threshold against the best possible one,
            and the likely cause (the direction of the comparison, a fixed 0.5, ...).
        TypeError: if `student_fn` is not callable or `seed` is not an int.
    """
    _check_function(student_fn, "check_threshold")
    _check_seed(seed, "check_threshold")
    rng = np.random.default_rng(seed)
    labels = np.tile([1, 0], 100)
    cases = {
        # Contrastive twins: same pairs near 0, different pairs near the margin (2).
        "distance": np.where(labels == 1, rng.gamma(2.0, 0.3, labels.shape), rng.normal(1.8, 0.35, labels.shape)),
        # Twin classifiers: same pairs score high; these sit off 0.5 on purpose.
        "similarity": np.where(labels == 1, rng.beta(8, 3, labels.shape), rng.beta(4, 5, labels.shape)),
    }
    for score_kind, scores in cases.items():
        scores = scores.astype(np.float32)
        result = student_fn(scores, labels.copy(), score_kind)
        got = _as_array(result, "student_fn(scores, pair_labels, score_kind)")
        if got.size != 1:
            raise AssertionError(f"check_threshold: return one threshold (a number), got shape {got.shape}.")
        threshold = float(got.reshape(()))
        if not np.isfinite(threshold):
            raise AssertionError(f"check_threshold ({score_kind} scores): the threshold is {threshold}; it must be a finite number.")
        best = best_accuracy_threshold(scores, labels, score_kind)
        best_accuracy = pair_accuracy(scores, labels, best, score_kind)
        accuracy = pair_accuracy(scores, labels, threshold, score_kind)
        if accuracy < best_accuracy - 1e-9:
            other = "similarity" if score_kind == "distance" else "distance"
            best_other = pair_accuracy(scores, labels, best_accuracy_threshold(scores, labels, other), other)
            # Best under the opposite rule: the search itself is right, the comparison is reversed.
            if pair_accuracy(scores, labels, threshold, other) >= best_other - 1e-9 or 1.0 - accuracy >= best_accuracy - 1e-9:
                cause = ("the comparison points the wrong way: for distances 'same' means score < threshold, "
                         "for similarities score >= threshold.")
            elif abs(threshold - 0.5) < 1e-9:
                cause = "a fixed 0.5 is not chosen from the data: try every distinct score as a threshold."
            else:
                cause = ("try every distinct score (and one just past the largest) as the threshold and keep "
                         "the one with the most right calls.")
            raise AssertionError(
                f"check_threshold ({score_kind} scores, {len(labels)} pairs, 1 = same): at your threshold "
                f"{threshold:.4f} the accuracy is {accuracy:.4f}, but {best:.4f} reaches {best_accuracy:.4f}. "
                f"Likely cause: {cause}"
            )
    return _ok("threshold: the most accurate threshold for both distances (same below) and similarities (same above).")


# -- one-shot choice ---------------------------------------------------------------------------------


def check_one_shot_choice(student_fn, seed: int = 0) -> bool:
    """Checks a function that answers one-shot trials by the nearest support embedding.

    The function is called as `student_fn(support_embeddings, query_embeddings)` with float32 arrays
    `[ways, D]` (one example per class) and `[Q, D]`, and must return the int class index `[Q]` of the
    support embedding nearest to each query (Euclidean distance), as `siamese_kit.evaluation.choose`
    does for a distance model.

    Args:
        student_fn: the function to check.
        seed: seed of the random embeddings.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: naming the first query answered wrong, the expected and the returned class, and
            the likely cause (argmax instead of argmin, the wrong axis, ...).
        TypeError: if `student_fn` is not callable or `seed` is not an int.
    """
    from ..evaluation.one_shot import choose

    _check_function(student_fn, "check_one_shot_choice")
    _check_seed(seed, "check_one_shot_choice")
    rng = np.random.default_rng(seed)
    ways, queries, dim = 20, 30, 12
    support = rng.normal(size=(ways, dim)).astype(np.float32)
    truth = rng.integers(0, ways, size=queries)
    query = (support[truth] + rng.normal(scale=0.3, size=(queries, dim))).astype(np.float32)
    distances = reference_euclidean_distance(query[:, None, :], support[None, :, :])
    expected = choose(distances, "distance")
    got = _as_array(student_fn(support, query), "student_fn(support_embeddings, query_embeddings)")
    if got.shape != expected.shape:
        cause = ("one class per query: take argmin over the support axis (axis=-1 of a [Q, ways] distance matrix)."
                 if got.shape != (ways,) else "you chose per support example (axis=0); choose per query (axis=-1).")
        raise AssertionError(f"check_one_shot_choice: expected {queries} choices (shape {expected.shape}), got shape "
                             f"{got.shape}. Likely cause: {cause}")
    wrong = np.flatnonzero(got != expected)
    if len(wrong):
        i = int(wrong[0])
        if np.array_equal(got, np.argmax(distances, axis=-1)):
            cause = "you picked the farthest candidate (argmax); for distances the nearest wins (argmin)."
        else:
            cause = "compute the distance from each query to every support embedding, then argmin per query."
        raise AssertionError(
            f"check_one_shot_choice: query {i} is nearest to candidate {expected[i]} (distance "
            f"{distances[i, expected[i]]:.3f}) but you chose {int(got[i])}"
            + (f" (distance {distances[i, int(got[i])]:.3f})" if 0 <= got[i] < ways else "")
            + f"; {len(wrong)} of {queries} queries differ. Likely cause: {cause}"
        )
    return _ok(f"one-shot choice: the nearest of {ways} candidates for all {queries} queries.")


# -- pair decisions at one threshold: a ROC point, the accuracy --------------------------------------

# The comparisons a student may write; `siamese_kit.evaluation.predict_same` uses "<" for distances
# (small = same) and ">=" for similarities (large = same).
_COMPARISONS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
_RULE = {"distance": "<", "similarity": ">="}


def _called_same(scores, threshold: float, score_kind: str, comparison: str | None = None) -> np.ndarray:
    if score_kind not in _RULE:
        raise ValueError(f"score_kind must be 'distance' or 'similarity', got {score_kind!r}.")
    compare = _COMPARISONS[comparison or _RULE[score_kind]]
    return compare(np.asarray(scores, dtype=np.float64), float(threshold))


def _decision_counts(scores, pair_labels, threshold, score_kind, comparison=None):
    """`(true_pos, false_pos, positives, negatives)` of the decisions at one threshold."""
    same = _called_same(scores, threshold, score_kind, comparison)
    truth = np.asarray(pair_labels).reshape(-1) == 1
    return int(np.sum(same & truth)), int(np.sum(same & ~truth)), int(truth.sum()), int((~truth).sum())


def reference_roc_point(scores, pair_labels, threshold: float, score_kind: str) -> tuple[float, float]:
    """The ROC point of pair decisions at one threshold, the reference for `check_roc_point`.

    Args:
        scores: `[P]` pair scores.
        pair_labels: `[P]`, 1 = same class, 0 = different class (both kinds must occur).
        threshold: decision threshold.
        score_kind: `"distance"` (same when score < threshold) or `"similarity"` (same when
            score >= threshold), as `siamese_kit.evaluation.predict_same`.

    Returns:
        `(false_positive_rate, true_positive_rate)`: the share of different pairs called same and the
        share of same pairs called same.

    Raises:
        ValueError: on an unknown `score_kind`.
    """
    true_pos, false_pos, positives, negatives = _decision_counts(scores, pair_labels, threshold, score_kind)
    return false_pos / negatives, true_pos / positives


def reference_accuracy_at_threshold(scores, pair_labels, threshold: float, score_kind: str) -> float:
    """Pair accuracy at one threshold, the reference for `check_accuracy_at_threshold`.

    Args:
        scores: `[P]` pair scores.
        pair_labels: `[P]`, 1 = same class, 0 = different class.
        threshold: decision threshold.
        score_kind: `"distance"` (same when score < threshold) or `"similarity"` (same when
            score >= threshold), as `siamese_kit.evaluation.predict_same`.

    Returns:
        the share of pairs called right: same pairs called same and different pairs called different.

    Raises:
        ValueError: on an unknown `score_kind`.
    """
    true_pos, false_pos, positives, negatives = _decision_counts(scores, pair_labels, threshold, score_kind)
    return (true_pos + negatives - false_pos) / (positives + negatives)


def _scored_pairs(rng, score_kind: str, threshold: float, counts, on_threshold: int | None = None):
    """Pair scores with a known outcome: `counts` = (same called same, same called different, different
    called same, different called different), every score at least 0.02 from the threshold, shuffled.

    `on_threshold` (0..3), when given, puts one pair of that group exactly on the threshold instead.
    """
    low, high = (0.05, threshold + 1.5) if score_kind == "distance" else (0.01, 0.99)

    def draw(count: int, called_same: bool) -> np.ndarray:
        below = called_same == (score_kind == "distance")
        return rng.uniform(low, threshold - 0.02, count) if below else rng.uniform(threshold + 0.02, high, count)

    groups = [draw(counts[0], True), draw(counts[1], False), draw(counts[2], True), draw(counts[3], False)]
    labels = np.repeat([1, 1, 0, 0], counts)
    scores = np.concatenate(groups)
    if on_threshold is not None:
        scores[int(np.sum(counts[:on_threshold]))] = threshold
    order = rng.permutation(len(scores))
    return scores[order].astype(np.float32), labels[order]


def _decision_cases(rng):
    """(description, scores, pair_labels, threshold, score_kind): two ordinary cases, then two with a
    pair exactly on the threshold (a different pair for distances, a same pair for similarities), where
    only the exact comparison of `predict_same` gives the expected answer."""
    cases = []
    for kind, threshold, counts, on in (
        ("distance", 1.0, (8, 2, 3, 19), None),
        ("similarity", 0.7, (7, 3, 5, 17), None),
        ("distance", 0.8, (6, 4, 4, 18), 2),
        ("similarity", 0.4, (5, 5, 6, 16), 0),
    ):
        threshold = float(np.float32(threshold))
        scores, labels = _scored_pairs(rng, kind, threshold, counts, on)
        description = (f"{kind} scores, {int(labels.sum())} same and {int((labels == 0).sum())} different pairs, "
                       f"threshold {threshold:g}")
        if on is not None:
            description += ", one pair exactly on it"
        cases.append((description, scores, labels, threshold, kind))
    return cases


def _comparison_cause(score_kind: str, comparison: str) -> str:
    rule = _RULE[score_kind]
    if comparison[0] == rule[0]:
        return (f"a score equal to the threshold is decided the wrong way: for {score_kind}s 'same' is score "
                f"{rule} threshold, exactly as siamese_kit.evaluation.predict_same decides.")
    return ("the comparison points the wrong way: for distances 'same' means score < threshold (small = "
            "similar), for similarities score >= threshold.")


def check_roc_point(student_fn, seed: int = 0) -> bool:
    """Checks a function that returns the ROC point (false and true positive rate) at one threshold.

    The function is called as `student_fn(scores, pair_labels, threshold, score_kind)` with float32
    scores `[P]`, int pair labels `[P]` (1 = same class, 0 = different class), a float and
    `"distance"` or `"similarity"`, and must return `(false_positive_rate, true_positive_rate)`: the
    share of different pairs called same and the share of same pairs called same. A pair is called
    same as `siamese_kit.evaluation.predict_same` decides: distances when score < threshold,
    similarities when score >= threshold (a score on the threshold is tried too).

    Args:
        student_fn: the function to check.
        seed: seed of the random scores.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: naming the failing scores, the expected and the returned point, and the likely
            cause (the two rates swapped, dividing by all pairs, the comparison reversed, ...).
        TypeError: if `student_fn` is not callable or `seed` is not an int.
    """
    _check_function(student_fn, "check_roc_point")
    _check_seed(seed, "check_roc_point")
    rng = np.random.default_rng(seed)
    for description, scores, labels, threshold, kind in _decision_cases(rng):
        expected = np.array(reference_roc_point(scores, labels, threshold, kind))
        got = _as_array(student_fn(scores.copy(), labels.copy(), threshold, kind),
                        "student_fn(scores, pair_labels, threshold, score_kind)")
        where = f"check_roc_point ({description})"
        if got.shape != (2,):
            raise AssertionError(f"{where}: expected two numbers, (false_positive_rate, true_positive_rate), got "
                                 f"shape {got.shape}. Likely cause: return the two rates as a pair, `return fpr, tpr`.")
        if _close(got, expected):
            continue
        fpr, tpr = expected
        true_pos, false_pos, positives, negatives = _decision_counts(scores, labels, threshold, kind)
        variants = {
            "the two rates are swapped: return (false_positive_rate, true_positive_rate), in that order.": [(tpr, fpr)],
            "you divided by all pairs; the false positive rate divides by the different pairs, the true positive "
            "rate by the same pairs.": [(false_pos / len(labels), true_pos / len(labels))],
            "you divided by the pairs called same (that is the false discovery rate and the precision); the false "
            "positive rate divides by the different pairs, the true positive rate by the same pairs.":
                [(false_pos / max(true_pos + false_pos, 1), true_pos / max(true_pos + false_pos, 1))],
        }
        for comparison in _COMPARISONS:
            if comparison != _RULE[kind]:
                tp, fp, _, _ = _decision_counts(scores, labels, threshold, kind, comparison)
                variants.setdefault(_comparison_cause(kind, comparison), []).append((fp / negatives, tp / positives))
        cause = ("count the different pairs called same (false positives) and the same pairs called same (true "
                 "positives), then divide by the number of different and of same pairs.")
        for explanation, points in variants.items():
            if any(_close(got, np.array(point)) for point in points):
                cause = explanation
                break
        raise AssertionError(f"{where}: expected (false_positive_rate, true_positive_rate) = "
                             f"({fpr:.4f}, {tpr:.4f}), got ({got[0]:.4f}, {got[1]:.4f}). Likely cause: {cause}")
    return _ok("ROC point: the false and true positive rates of distances (same below) and similarities "
               "(same at or above), a score on the threshold included.")


def check_accuracy_at_threshold(student_fn, seed: int = 0) -> bool:
    """Checks a function that returns the pair accuracy at one threshold.

    The function is called as `student_fn(scores, pair_labels, threshold, score_kind)` with float32
    scores `[P]`, int pair labels `[P]` (1 = same class, 0 = different class), a float and
    `"distance"` or `"similarity"`, and must return the share of pairs called right, as
    `siamese_kit.evaluation.pair_accuracy`: a pair is called same for distances when score < threshold,
    for similarities when score >= threshold (a score on the threshold is tried too).

    Args:
        student_fn: the function to check.
        seed: seed of the random scores.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: naming the failing scores, the expected and the returned accuracy, and the
            likely cause (the comparison reversed, counting only the same pairs, ...).
        TypeError: if `student_fn` is not callable or `seed` is not an int.
    """
    _check_function(student_fn, "check_accuracy_at_threshold")
    _check_seed(seed, "check_accuracy_at_threshold")
    rng = np.random.default_rng(seed)
    for description, scores, labels, threshold, kind in _decision_cases(rng):
        expected = reference_accuracy_at_threshold(scores, labels, threshold, kind)
        where = f"check_accuracy_at_threshold ({description})"
        got = _one_number(student_fn(scores.copy(), labels.copy(), threshold, kind),
                          "student_fn(scores, pair_labels, threshold, score_kind)", where,
                          "Likely cause: return one accuracy, the mean of the right calls over all pairs.")
        if abs(got - expected) <= TOLERANCE:
            continue
        true_pos, false_pos, positives, negatives = _decision_counts(scores, labels, threshold, kind)
        true_neg = negatives - false_pos
        variants = {
            "you counted only the same pairs called same; a different pair called different is a right call too.":
                [true_pos / len(labels), true_pos / positives],
            "you counted only the different pairs called different; a same pair called same is a right call too.":
                [true_neg / len(labels), true_neg / negatives],
            "you returned the number of right calls; divide by the number of pairs.": [true_pos + true_neg],
        }
        for comparison in _COMPARISONS:
            if comparison != _RULE[kind]:
                tp, fp, _, _ = _decision_counts(scores, labels, threshold, kind, comparison)
                variants.setdefault(_comparison_cause(kind, comparison), []).append((tp + negatives - fp) / len(labels))
        cause = "a right call is a same pair called same or a different pair called different; divide by all pairs."
        for explanation, values in variants.items():
            if any(abs(got - value) <= TOLERANCE for value in values):
                cause = explanation
                break
        raise AssertionError(f"{where}: expected accuracy {expected:.4f}, got {got:.4f}. Likely cause: {cause}")
    return _ok("accuracy at a threshold: right for distances (same below) and similarities (same at or above), "
               "a score on the threshold included.")


# -- retrieval: precision@1 and mAP@R ----------------------------------------------------------------


def _pairwise_distances(embeddings: np.ndarray) -> np.ndarray:
    return np.sqrt(np.square(embeddings[:, None, :] - embeddings[None, :, :]).sum(axis=-1))


def _ranked_relevance(embeddings, labels, include_self: bool = False) -> np.ndarray:
    """`[N, N - 1]` (`[N, N]` with the query itself): whether each image's neighbours, nearest first
    (equal distances by lower index, as `siamese_kit.evaluation.nearest_neighbours`), share its class."""
    distances = _pairwise_distances(np.asarray(embeddings, dtype=np.float64))
    if not include_self:
        np.fill_diagonal(distances, np.inf)
    order = np.argsort(distances, axis=1, kind="stable")
    if not include_self:
        order = order[:, :-1]  # the query itself, at +inf, comes last
    labels = np.asarray(labels).reshape(-1)
    return labels[order] == labels[:, None]


def _others_of_class(labels) -> np.ndarray:
    """R of each image: how many other images share its class."""
    _, inverse, counts = np.unique(np.asarray(labels).reshape(-1), return_inverse=True, return_counts=True)
    return counts[inverse.reshape(-1)] - 1


def reference_precision_at_1(embeddings, labels) -> float:
    """Leave-one-out precision@1, the reference for `check_precision_at_1`.

    Args:
        embeddings: `[N, D]` embeddings.
        labels: `[N]` class of each image.

    Returns:
        the share of images whose nearest other image (Euclidean distance, equal distances by lower
        index) has the same class. Images alone in their class can have no right neighbour and are left
        out, as in `siamese_kit.evaluation.retrieval_metrics(...).precision_at_1`.
    """
    hits = _ranked_relevance(embeddings, labels)[:, 0]
    return float(hits[_others_of_class(labels) > 0].mean())


def _average_precisions(relevance, cutoffs, divisors) -> np.ndarray:
    """AP of each row: sum over the first `cutoffs[i]` ranks of precision@rank at each relevant rank,
    divided by `divisors[i]` (0 where the divisor is 0)."""
    ranks = np.arange(1, relevance.shape[1] + 1)
    kept = relevance & (ranks[None, :] <= np.asarray(cutoffs)[:, None])
    precision = np.cumsum(kept, axis=1) / ranks
    totals = np.sum(precision * kept, axis=1)
    divisors = np.asarray(divisors, dtype=np.float64)
    return np.divide(totals, divisors, out=np.zeros_like(totals), where=divisors > 0)


def reference_map_at_r(embeddings, labels) -> float:
    """Leave-one-out mAP@R (Musgrave, Belongie & Lim, 2020), the reference for `check_map_at_r`.

    As `siamese_kit.evaluation.retrieval_metrics(...).map_at_r`: for an image whose class has R other
    images, rank all other images by Euclidean distance (equal distances by lower index);
    AP@R = (1/R) * sum over ranks i = 1..R of P(i) * rel(i), with rel(i) = 1 when rank i shares the
    class and P(i) the share of the first i ranks that do. Images alone in their class (R = 0) are left
    out of the mean.

    Args:
        embeddings: `[N, D]` embeddings.
        labels: `[N]` class of each image.

    Returns:
        mAP@R, a float in [0, 1].
    """
    others = _others_of_class(labels)
    queries = others > 0
    relevance = _ranked_relevance(embeddings, labels)
    return float(_average_precisions(relevance, others, others)[queries].mean())


def _retrieval_set(rng, counts, dim: int):
    """Clustered float32 embeddings with labels, redrawn until no two distances from one image are
    within 1e-4 of each other (far beyond float32 rounding, so no student's arithmetic can reorder
    them) and precision@1 is neither 0 nor 1 (so finding each image itself, which gives 1, shows)."""
    labels = rng.permutation(np.repeat(np.arange(len(counts)), counts))
    while True:
        # Clusters overlap about as much in 2-D as in 8-D.
        centres = rng.normal(scale=2.5 / np.sqrt(dim), size=(len(counts), dim))
        embeddings = (centres[labels] + rng.normal(size=(len(labels), dim))).astype(np.float32)
        distances = np.sort(_pairwise_distances(embeddings.astype(np.float64)), axis=1)
        if np.diff(distances, axis=1).min() > 1e-4 and 0 < reference_precision_at_1(embeddings, labels) < 1:
            return embeddings, labels


def _retrieval_description(labels) -> str:
    sizes = np.bincount(labels)
    return f"{len(labels)} images in {len(sizes)} classes of sizes {sizes.tolist()}"


def check_precision_at_1(student_fn, seed: int = 0) -> bool:
    """Checks a function that returns leave-one-out precision@1 of labelled embeddings.

    The function is called as `student_fn(embeddings, labels)` with float32 `[N, D]` embeddings and
    int `[N]` labels, and must return one number: the share of images whose nearest *other* image
    (Euclidean distance) has the same label, as `siamese_kit.evaluation.retrieval_metrics(...)
    .precision_at_1`. Every class has at least two images, and no two distances are near a tie.

    Args:
        student_fn: the function to check.
        seed: seed of the random embeddings.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: naming the failing input, the expected and the returned precision@1 and the
            likely cause (the image found as its own neighbour, the farthest instead of the nearest).
        TypeError: if `student_fn` is not callable or `seed` is not an int.
    """
    _check_function(student_fn, "check_precision_at_1")
    _check_seed(seed, "check_precision_at_1")
    rng = np.random.default_rng(seed)
    for counts, dim in (([4, 3, 5, 2, 4, 3], 2), ([3, 6, 2, 4, 5], 8)):
        embeddings, labels = _retrieval_set(rng, counts, dim)
        expected = reference_precision_at_1(embeddings, labels)
        where = f"check_precision_at_1 ({_retrieval_description(labels)}, D={dim})"
        got = _one_number(student_fn(embeddings.copy(), labels.copy()), "student_fn(embeddings, labels)", where,
                          "Likely cause: return the share of hits (their mean), not one value per image.")
        if abs(got - expected) <= TOLERANCE:
            continue
        farthest = _ranked_relevance(embeddings, labels)[:, -1].mean()
        if abs(got - 1.0) <= TOLERANCE:
            cause = ("each image found itself (distance 0) as its nearest neighbour; leave it out, e.g. set the "
                     "diagonal of the distance matrix to infinity before the argmin.")
        elif abs(got - farthest) <= TOLERANCE:
            cause = "you took the farthest image (argmax); the nearest one counts (argmin)."
        else:
            cause = ("for each image, find the nearest other image (argmin of its row of distances, itself "
                     "excluded) and count a hit when the labels agree; return the share of hits.")
        raise AssertionError(f"{where}: expected precision@1 {expected:.4f}, got {got:.4f}. Likely cause: {cause}")
    return _ok("precision@1: the share of images whose nearest other image shares their label, on 2 sets.")


def _map_at_r_variants(embeddings, labels) -> dict[str, list[float]]:
    """mAP@R values of common mistakes, each with the explanation a student needs.

    Each mistake's per-image AP is averaged twice: over the images with R > 0 (right) and over all
    images (a second mistake, or a natural companion of the first: a fixed k never meets R = 0).
    """
    others = _others_of_class(labels)
    queries = others > 0
    relevance = _ranked_relevance(embeddings, labels)
    with_self = _ranked_relevance(embeddings, labels, include_self=True)
    hits = np.array([row[:r].sum() for row, r in zip(relevance, others)])

    def means(*precisions):
        return [float(p[queries].mean()) for p in precisions] + [float(p.mean()) for p in precisions]

    fixed = []
    for k in range(1, relevance.shape[1] + 1):
        cutoff = np.full(len(labels), k)
        found = relevance[:, :k].sum(axis=1)
        for divisor in (cutoff, others, np.minimum(cutoff, others), found):
            fixed += means(_average_precisions(relevance, cutoff, divisor))
    return {
        "the query itself is among the ranked images (at distance 0, rank 1); leave it out of its own ranking.":
            means(_average_precisions(with_self, others, others),
                  _average_precisions(with_self, others + 1, others + 1)),
        "you divided by the number of hits among the first R; AP@R divides by R, so missing same-class images "
        "lower it.": means(_average_precisions(relevance, others, hits)),
        "an image alone in its class (R = 0) has no right answer: leave it out of the mean, as "
        "retrieval_metrics does, instead of counting it as 0.":
            [float(_average_precisions(relevance, others, others).mean())],
        "you looked at a fixed number k of neighbours; mAP@R looks at exactly R of them, R = the number of other "
        "images of the query's class.": fixed,
    }


def check_map_at_r(student_fn, seed: int = 0) -> bool:
    """Checks a function that returns leave-one-out mAP@R of labelled embeddings.

    The function is called as `student_fn(embeddings, labels)` with float32 `[N, D]` embeddings and
    int `[N]` labels, and must return one number, mAP@R (Musgrave, Belongie & Lim, 2020) as
    `siamese_kit.evaluation.retrieval_metrics(...).map_at_r` defines it: for an image whose class has R
    other images, rank all other images by Euclidean distance; AP@R = (1/R) * sum over ranks
    i = 1..R of P(i) * rel(i) (rel(i) = 1 when rank i shares the class, P(i) = share of the first i
    ranks that do); mAP@R is the mean over the images, leaving out images alone in their class.
    The second set has such an image; no two distances are near a tie.

    Args:
        student_fn: the function to check.
        seed: seed of the random embeddings.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: naming the failing input, the expected and the returned mAP@R and the likely
            cause (the query ranked with the others, dividing by the hits instead of R, a fixed k
            instead of R, an image alone in its class counted).
        TypeError: if `student_fn` is not callable or `seed` is not an int.
    """
    _check_function(student_fn, "check_map_at_r")
    _check_seed(seed, "check_map_at_r")
    rng = np.random.default_rng(seed)
    for counts, dim in (([5, 3, 4, 6, 2], 2), ([4, 6, 1, 5, 3], 8)):
        embeddings, labels = _retrieval_set(rng, counts, dim)
        expected = reference_map_at_r(embeddings, labels)
        where = f"check_map_at_r ({_retrieval_description(labels)}, D={dim})"
        got = _one_number(student_fn(embeddings.copy(), labels.copy()), "student_fn(embeddings, labels)", where,
                          "Likely cause: return the mean of the images' AP@R, one number.")
        if abs(got - expected) <= TOLERANCE:
            continue
        if np.isnan(got) and np.any(_others_of_class(labels) == 0):
            cause = ("an image alone in its class has R = 0, and 0 / 0 is nan: leave such images out of the mean, "
                     "as retrieval_metrics does.")
        else:
            cause = ("for each image with R > 0, rank the other images nearest first, look at the first R, and "
                     "average P(i) over the ranks i that share the class, dividing the sum by R.")
            for explanation, values in _map_at_r_variants(embeddings, labels).items():
                if any(abs(got - value) <= TOLERANCE for value in values):
                    cause = explanation
                    break
        raise AssertionError(f"{where}: expected mAP@R {expected:.4f}, got {got:.4f}. Likely cause: {cause}")
    return _ok("mAP@R: matches retrieval_metrics(...).map_at_r on 2 sets, an image alone in its class left out.")
