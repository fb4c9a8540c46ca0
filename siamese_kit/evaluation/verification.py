"""Verification: is this pair the same class? Pair scores, thresholds swept on validation pairs,
accuracy, ROC, equal error rate, TAR at a FAR, the hardest mistakes (calibrated probabilities:
`calibration.py`).

Pair label convention: 1 = same class, 0 = different class. A model's pair score is either a
distance (small = same; contrastive models) or a similarity (large = same; classifier heads).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import positive_int
from ..data.streams.pairs import PairSet
from ..scores import check_score_kind, embedding_pair_scores, predict_same
from .identification import confusion_matrix


def pair_scores(model, embeddings: np.ndarray, pair_set: PairSet) -> np.ndarray:
    """Scores pairs from embeddings computed once, through the model's own head.

    Args:
        model: a `SiameseModel` (its head turns two embeddings into a score) or a `PrototypeModel`
            (Euclidean distance).
        embeddings: `[N, D]` embeddings of the ImageSet the pair set indexes.
        pair_set: the pairs.

    Returns:
        float32 array `[P]` of scores (distances or similarities, see `model.score_kind`).
    """
    return embedding_pair_scores(model, embeddings[pair_set.index_a], embeddings[pair_set.index_b])


def pair_accuracy(scores, pair_labels, threshold: float, score_kind: str) -> float:
    """Share of pairs whose thresholded score matches the pair label (1 = same class).

    Args:
        scores: `[P]` pair scores.
        pair_labels: `[P]` pair labels, 1 = same, 0 = different.
        threshold: decision threshold.
        score_kind: `"distance"` or `"similarity"`.

    Returns:
        accuracy in [0, 1].
    """
    return float(np.mean(predict_same(scores, threshold, score_kind) == np.asarray(pair_labels)))


def _pair_arrays(scores, pair_labels, score_kind, caller: str, need_both: bool = False):
    """Validated float64 scores and int64 pair labels (1 = same, 0 = different), both `[P]`."""
    check_score_kind(score_kind, caller)
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(pair_labels)
    if scores.ndim != 1 or labels.ndim != 1:
        raise ValueError(
            f"{caller}: scores and pair_labels must be 1-D `[P]`, got shapes {scores.shape} and {labels.shape}; "
            "flatten them (e.g. `np.ravel`)."
        )
    if scores.shape != labels.shape:
        raise ValueError(
            f"{caller}: need equally many scores and pair_labels, got {len(scores)} scores and {len(labels)} "
            "labels; pass one label (1 = same class, 0 = different) per scored pair."
        )
    if scores.size == 0:
        raise ValueError(f"{caller}: scores and pair_labels are empty; pass at least one scored pair.")
    if not np.all(np.isin(labels, (0, 1))):
        raise ValueError(
            f"{caller}: pair_labels must be 1 (same class) or 0 (different class), got values "
            f"{np.unique(labels)[:10].tolist()}."
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{caller}: scores contain NaN or infinity; drop or fix those pairs first.")
    labels = labels.astype(np.int64)
    if need_both and (labels.min() == labels.max()):
        kind = "same (1)" if labels[0] == 1 else "different (0)"
        raise ValueError(
            f"{caller} needs both same (1) and different (0) pairs, got only {kind} pairs; "
            "score a pair set with both kinds (e.g. `fixed_pairs(..., mode='random')`)."
        )
    return scores, labels


def _sweep(scores: np.ndarray, labels: np.ndarray, score_kind: str):
    """The decisions a threshold can make, from "nothing same" to "everything same".

    Pairs are admitted as "same" one distinct score at a time, most same-looking first, so tied
    scores always land on the same side (no threshold can split them).

    Returns:
        `(distinct, predicted, true_pos)`: the distinct scores in admission order `[M]`, and for
        each of the `M + 1` decisions the number of pairs predicted same and how many of them are
        same pairs (both `[M + 1]`, starting at 0).
    """
    sameness = -scores if score_kind == "distance" else scores
    order = np.argsort(-sameness, kind="stable")
    sorted_sameness = sameness[order]
    group_ends = np.flatnonzero(np.concatenate([sorted_sameness[1:] != sorted_sameness[:-1], [True]])) + 1
    true_pos = np.concatenate([[0], np.cumsum(labels[order])[group_ends - 1]])
    predicted = np.concatenate([[0], group_ends])
    return scores[order][group_ends - 1], predicted, true_pos


def _just_above(value: float) -> float:
    # `value + 1` is the readable choice, but it does not move very large floats.
    return float(max(value + 1.0, np.nextafter(value, np.inf)))


def _sweep_threshold(distinct: np.ndarray, j: int, score_kind: str) -> float:
    """A threshold that makes `predict_same` take decision `j` of `_sweep` (admit the first j distinct
    scores)."""
    m = len(distinct)
    if score_kind == "similarity":  # same when score >= t; distinct is descending
        if j == 0:
            return _just_above(distinct[0])
        if j == m:
            return float(distinct[-1] - 1.0)
        low, high = distinct[j], distinct[j - 1]
    else:  # same when score < t; distinct is ascending
        if j == 0:
            return float(distinct[0] - 1.0)
        if j == m:
            return _just_above(distinct[-1])
        low, high = distinct[j - 1], distinct[j]
    # Both rules need low < t <= high. The midpoint is the natural, symmetric choice; for two
    # neighbouring floats it rounds onto `low`, so step off it.
    middle = 0.5 * (low + high)
    return float(middle if middle > low else np.nextafter(low, np.inf))


def best_threshold(
    scores, pair_labels, score_kind: str, criterion: str = "accuracy", margin: float | None = None
) -> float:
    """The threshold that maximises pair accuracy or F1 on a (validation) pair set.

    Every midpoint between consecutive distinct scores is a candidate (plus one beyond each end),
    so the optimum is exact for the given pairs; ties between candidates go to the one calling the
    fewest pairs "same". Calibrate on validation pairs and apply the threshold unchanged to test pairs.

    Args:
        scores: `[P]` pair scores.
        pair_labels: `[P]` pair labels, 1 = same class, 0 = different.
        score_kind: `"distance"` (same when score < threshold) or `"similarity"` (same when
            score >= threshold).
        criterion: `"accuracy"` or `"f1"` (F1 of the "same" class, 1).
        margin: for contrastive models (distance kind only): the loss's margin. The contrastive loss
            pulls same pairs towards 0 and pushes different pairs beyond the margin, so a sensible
            threshold lies in (0, margin]; the optimum is clipped into that range.

    Returns:
        the threshold (float).

    Raises:
        ValueError: on mismatched, empty or non-finite input, pair labels other than 0/1, an unknown
            `score_kind` or `criterion`, `criterion="f1"` without any same pair, or a `margin` that is
            not positive or given with similarity scores.
    """
    caller = "best_threshold"
    if criterion not in ("accuracy", "f1"):
        raise ValueError(f"{caller}: criterion must be 'accuracy' or 'f1', got {criterion!r}.")
    scores, labels = _pair_arrays(scores, pair_labels, score_kind, caller)
    if margin is not None:
        if score_kind != "distance":
            raise ValueError(
                f"{caller}: margin only applies to distance scores (contrastive models); "
                "leave margin=None for similarity scores."
            )
        try:
            usable = bool(np.isfinite(margin) and margin > 0)
        except TypeError:
            usable = False
        if not usable:
            raise ValueError(
                f"{caller}: margin must be a positive number (the contrastive loss's margin), got {margin!r}."
            )
    positives = int(labels.sum())
    distinct, predicted, true_pos = _sweep(scores, labels, score_kind)
    if criterion == "accuracy":
        # Correct = same pairs called same + different pairs not called same.
        objective = true_pos + (len(labels) - positives) - (predicted - true_pos)
    else:
        if positives == 0:
            raise ValueError(
                f"{caller}: criterion='f1' needs at least one same (1) pair, as F1 is about finding them; "
                "use criterion='accuracy' or add same pairs."
            )
        # F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (predicted + positives).
        objective = 2.0 * true_pos / (predicted + positives)
    threshold = _sweep_threshold(distinct, int(np.argmax(objective)), score_kind)
    if margin is not None:
        # The open end at 0: a threshold at or below 0 calls nothing same; the smallest positive float
        # keeps that for every positive distance while staying inside (0, margin].
        threshold = min(max(threshold, float(np.nextafter(0.0, 1.0))), float(margin))
    return threshold


def best_accuracy_threshold(scores, pair_labels, score_kind: str) -> float:
    """The threshold that maximises pair accuracy on a (validation) pair set.

    Same as `best_threshold(scores, pair_labels, score_kind, criterion="accuracy")`.

    Args:
        scores: `[P]` pair scores.
        pair_labels: `[P]` pair labels, 1 = same class, 0 = different.
        score_kind: `"distance"` or `"similarity"`.

    Returns:
        the threshold (float).

    Raises:
        ValueError: as `best_threshold`.
    """
    return best_threshold(scores, pair_labels, score_kind, criterion="accuracy")


def roc_auc(scores, pair_labels, score_kind: str) -> float:
    """Area under the ROC curve: the chance that a random same pair looks more "same" than a random
    different pair (ties count one half), whatever threshold is later chosen.

    Args:
        scores: `[P]` pair scores.
        pair_labels: `[P]` pair labels, 1 = same class, 0 = different.
        score_kind: `"distance"` or `"similarity"`.

    Returns:
        AUC in [0, 1].

    Raises:
        ValueError: if the pairs are all same or all different (the AUC is undefined), or on
            mismatched, empty or non-finite input or an unknown `score_kind`.
    """
    scores, labels = _pair_arrays(scores, pair_labels, score_kind, "roc_auc", need_both=True)
    sameness = -scores if score_kind == "distance" else scores
    positives, negatives = int(labels.sum()), int((labels == 0).sum())
    # Mann-Whitney U from average ranks, which handles ties exactly.
    order = np.argsort(sameness, kind="mergesort")
    sorted_values = sameness[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    starts = np.flatnonzero(np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]]))
    ends = np.concatenate([starts[1:], [len(scores)]])
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = 0.5 * (start + end - 1) + 1.0
    rank_sum = ranks[labels == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


@dataclass
class RocCurve:
    """The ROC curve of pair scores: one point per distinct decision a threshold can make.

    Point `i` is exactly what `predict_same(scores, thresholds[i], score_kind)` decides, from
    `(0, 0)` (nothing called same) to `(1, 1)` (everything called same). "Positive" = same pair (1).

    Attributes:
        false_positive_rate: `[M + 1]` share of different pairs called same, non-decreasing.
        true_positive_rate: `[M + 1]` share of same pairs called same, non-decreasing.
        thresholds: `[M + 1]` thresholds. Similarity: `+inf`, then the distinct scores descending
            (same when score >= t). Distance: `-inf`, then just above each distinct distance
            ascending (`np.nextafter(d, inf)`, so that the strict `score < t` admits `d` itself).
    """

    false_positive_rate: np.ndarray
    true_positive_rate: np.ndarray
    thresholds: np.ndarray


def _roc_counts(scores, pair_labels, score_kind: str, caller: str):
    """Validated sweep counts for ROC-style metrics: `(distinct, fp, tp, positives, negatives)`."""
    scores, labels = _pair_arrays(scores, pair_labels, score_kind, caller, need_both=True)
    distinct, predicted, true_pos = _sweep(scores, labels, score_kind)
    positives = int(labels.sum())
    return distinct, predicted - true_pos, true_pos, positives, len(labels) - positives


def _roc_thresholds(distinct: np.ndarray, score_kind: str) -> np.ndarray:
    """One threshold per sweep decision: none admitted, then each distinct score in turn."""
    if score_kind == "similarity":
        return np.concatenate([[np.inf], distinct])
    # Distance decides `score < t`, so a threshold equal to a distance would leave that distance
    # out; the next float up takes it in and nothing beyond it.
    return np.concatenate([[-np.inf], np.nextafter(distinct, np.inf)])


def roc_curve(scores, pair_labels, score_kind: str) -> RocCurve:
    """The ROC curve of pair scores (positive = same pair), with thresholds that reproduce each point.

    Its trapezoid area equals `roc_auc` (tied scores move together, which is the one-half credit
    for ties).

    Args:
        scores: `[P]` pair scores.
        pair_labels: `[P]` pair labels, 1 = same class, 0 = different.
        score_kind: `"distance"` or `"similarity"`.

    Returns:
        RocCurve with `M + 1` points for `M` distinct scores.

    Raises:
        ValueError: if the pairs are all same or all different (the rates are undefined), or on
            mismatched, empty or non-finite input or an unknown `score_kind`.
    """
    distinct, false_pos, true_pos, positives, negatives = _roc_counts(
        scores, pair_labels, score_kind, "roc_curve"
    )
    return RocCurve(
        false_positive_rate=false_pos / negatives,
        true_positive_rate=true_pos / positives,
        thresholds=_roc_thresholds(distinct, score_kind),
    )


@dataclass(frozen=True)
class AcceptRate:
    """The share of genuine (same-class) pairs accepted while impostors are held to a rate.

    Attributes:
        false_accept_rate: the rate asked for.
        true_accept_rate: the largest share of same pairs called same with the share of different
            pairs called same at most `false_accept_rate`.
        achieved_false_accept_rate: that threshold's actual false accept rate.
        threshold: the threshold giving it (`predict_same` semantics).
        impostor_pairs: how many different pairs the rate was measured on; with fewer than
            `1 / false_accept_rate` of them, the rate cannot be told from 0 and the figure is an
            optimistic bound.
    """

    false_accept_rate: float
    true_accept_rate: float
    achieved_false_accept_rate: float
    threshold: float
    impostor_pairs: int


def true_accept_rate_at(scores, pair_labels, score_kind: str, false_accept_rates=(1e-2, 1e-3)) -> list[AcceptRate]:
    """True accept rate at fixed false accept rates: the verification figure for access control,
    where letting an impostor in costs far more than asking a genuine user to try again.

    Args:
        scores: `[P]` pair scores.
        pair_labels: `[P]` pair labels, 1 = same class, 0 = different.
        score_kind: `"distance"` or `"similarity"`.
        false_accept_rates: the rates, each in (0, 1).

    Returns:
        one AcceptRate per rate, in the order given.

    Raises:
        ValueError: for a rate outside (0, 1), or as `roc_curve`.
    """
    curve = roc_curve(scores, pair_labels, score_kind)
    impostors = int(len(np.asarray(pair_labels)) - np.asarray(pair_labels).sum())
    results = []
    for rate in false_accept_rates:
        if not 0.0 < float(rate) < 1.0:
            raise ValueError(f"true_accept_rate_at: false accept rates must be in (0, 1), got {rate!r}.")
        # The curve rises in both rates, so the last point within the rate accepts the most.
        point = int(np.flatnonzero(curve.false_positive_rate <= rate)[-1])
        results.append(AcceptRate(
            false_accept_rate=float(rate),
            true_accept_rate=float(curve.true_positive_rate[point]),
            achieved_false_accept_rate=float(curve.false_positive_rate[point]),
            threshold=float(curve.thresholds[point]),
            impostor_pairs=impostors,
        ))
    return results


def equal_error_rate(scores, pair_labels, score_kind: str) -> tuple[float, float]:
    """The equal error rate: where the false accept rate (different pairs called same) equals the
    false reject rate (same pairs called different).

    The rate is where the ROC segment between the two points that bracket the crossing meets
    FAR = FRR (linear interpolation, the usual convention: it is reachable by randomising between
    the two thresholds). The threshold is the one of those two points whose FAR and FRR are closer
    (the later point on a tie), so it is a real, deterministic operating point near the EER. When a
    point has FAR = FRR exactly, both are that point's.

    Args:
        scores: `[P]` pair scores.
        pair_labels: `[P]` pair labels, 1 = same class, 0 = different.
        score_kind: `"distance"` or `"similarity"`.

    Returns:
        `(rate, threshold)`: the interpolated EER in [0, 1] and a threshold for `predict_same`.

    Raises:
        ValueError: as `roc_curve`.
    """
    distinct, false_pos, true_pos, positives, negatives = _roc_counts(
        scores, pair_labels, score_kind, "equal_error_rate"
    )
    # FRR - FAR scaled by P * N: integers, so "exactly equal" and the crossing are decided exactly.
    gap = (positives - true_pos) * negatives - false_pos * positives
    # gap falls from P * N (nothing accepted) to -P * N (everything accepted), so a crossing exists
    # and is never at point 0.
    i = int(np.argmax(gap <= 0))
    thresholds = _roc_thresholds(distinct, score_kind)
    fpr = false_pos / negatives
    if gap[i] == 0:
        return float(fpr[i]), float(thresholds[i])
    # Along the segment FAR rises and FRR falls linearly; they meet at this fraction of it.
    weight = gap[i - 1] / (gap[i - 1] - gap[i])
    rate = fpr[i - 1] + weight * (fpr[i] - fpr[i - 1])
    chosen = i - 1 if abs(gap[i - 1]) < abs(gap[i]) else i
    return float(rate), float(thresholds[chosen])


@dataclass
class ThresholdReport:
    """Pair decisions at one threshold, counted ("positive" = same pair, label 1).

    Attributes:
        threshold: the threshold used.
        score_kind: `"distance"` or `"similarity"`.
        accuracy: share of pairs decided right.
        precision: share of pairs called same that are same; 0 when no pair is called same.
        recall: share of same pairs called same (= true_positive_rate); nan without same pairs.
        f1: `2 TP / (2 TP + FP + FN)` (the harmonic mean of precision and recall where both are
            positive); 0 when that is 0 / 0.
        false_positive_rate: share of different pairs called same; nan without different pairs.
        true_positive_rate: same as recall.
        confusion: int64 `[2, 2]`; row = true pair label (0, 1), column = predicted (0, 1).
    """

    threshold: float
    score_kind: str
    accuracy: float
    precision: float
    recall: float
    f1: float
    false_positive_rate: float
    true_positive_rate: float
    confusion: np.ndarray


def _share(numerator: int, denominator: int, empty: float) -> float:
    return float(numerator / denominator) if denominator else empty


def threshold_report(scores, pair_labels, threshold: float, score_kind: str) -> ThresholdReport:
    """Accuracy, precision, recall, F1 and the confusion matrix of the pair decisions at one threshold.

    Args:
        scores: `[P]` pair scores.
        pair_labels: `[P]` pair labels, 1 = same class, 0 = different.
        threshold: decision threshold (see `predict_same`).
        score_kind: `"distance"` or `"similarity"`.

    Returns:
        ThresholdReport (see its attributes for the 0 / nan conventions).

    Raises:
        ValueError: on mismatched, empty or non-finite input, pair labels other than 0/1, a NaN
            threshold or an unknown `score_kind`.
    """
    scores, labels = _pair_arrays(scores, pair_labels, score_kind, "threshold_report")
    if np.isnan(threshold):
        raise ValueError("threshold_report: threshold is NaN; pass a number (e.g. from best_threshold).")
    confusion = confusion_matrix(labels, predict_same(scores, threshold, score_kind), 2)
    true_neg, false_pos, false_neg, true_pos = (int(v) for v in confusion.ravel())
    recall = _share(true_pos, true_pos + false_neg, np.nan)
    return ThresholdReport(
        threshold=float(threshold),
        score_kind=score_kind,
        accuracy=(true_pos + true_neg) / len(labels),
        precision=_share(true_pos, true_pos + false_pos, 0.0),
        recall=recall,
        f1=_share(2 * true_pos, 2 * true_pos + false_pos + false_neg, 0.0),
        false_positive_rate=_share(false_pos, false_pos + true_neg, np.nan),
        true_positive_rate=recall,
        confusion=confusion,
    )


def hardest_mistakes(scores, pair_labels, threshold: float, score_kind: str, count: int = 10) -> np.ndarray:
    """The wrongly decided pairs the model was surest about: worth looking at first.

    Args:
        scores: `[P]` pair scores.
        pair_labels: `[P]` pair labels, 1 = same class, 0 = different.
        threshold: decision threshold (see `predict_same`).
        score_kind: `"distance"` or `"similarity"`.
        count: at most this many pairs are returned.

    Returns:
        int64 indices into the pairs, at most `count`, largest `|score - threshold|` first (ties in
        pair order); empty when every pair is decided right.

    Raises:
        ValueError: on mismatched, empty or non-finite input, pair labels other than 0/1, a NaN
            threshold, an unknown `score_kind` or `count` < 1.
    """
    scores, labels = _pair_arrays(scores, pair_labels, score_kind, "hardest_mistakes")
    if np.isnan(threshold):
        raise ValueError("hardest_mistakes: threshold is NaN; pass a number (e.g. from best_threshold).")
    count = positive_int(count, "hardest_mistakes: count")
    wrong = np.flatnonzero(predict_same(scores, threshold, score_kind) != labels)
    confidence = np.abs(scores[wrong] - threshold)
    return wrong[np.argsort(-confidence, kind="stable")[:count]].astype(np.int64)
