"""Evaluation from embeddings computed once: nearest-centroid accuracy, pair scores and pair accuracy.

Pair label convention: 1 = same class, 0 = different class. A model's pair score is either a
distance (small = same; contrastive models) or a similarity (large = same; classifier heads).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from keras import ops

from .data.imageset import ImageSet
from .data.pairs import PairSet, fixed_pairs


def confusion_matrix(true_labels, predicted_labels, num_classes: int) -> np.ndarray:
    """Counts of (true, predicted) class pairs.

    Args:
        true_labels: int array `[N]`.
        predicted_labels: int array `[N]`.
        num_classes: number of classes K.

    Returns:
        int64 array `[K, K]`; row = true class, column = predicted class.
    """
    true_labels = np.asarray(true_labels, dtype=np.int64)
    predicted_labels = np.asarray(predicted_labels, dtype=np.int64)
    if true_labels.shape != predicted_labels.shape:
        raise ValueError(
            f"confusion_matrix: {len(true_labels)} true labels but {len(predicted_labels)} predictions."
        )
    flat = true_labels * num_classes + predicted_labels
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


@dataclass
class CentroidReport:
    """Result of nearest-centroid classification over a test ImageSet.

    Attributes:
        accuracy: share of images whose nearest centroid is their own class.
        predictions: predicted class per image, `[N]`.
        confusion: confusion matrix `[K, K]` (row = true class).
        per_class_accuracy: accuracy of each class, `[K]` (nan for classes without images).
    """

    accuracy: float
    predictions: np.ndarray
    confusion: np.ndarray
    per_class_accuracy: np.ndarray


def centroid_accuracy(model, test_set: ImageSet, embeddings: np.ndarray | None = None) -> CentroidReport:
    """Classifies every test image by its nearest stored class centroid ("test many").

    Args:
        model: a `SiameseModel` with a `CentroidDecoder`.
        test_set: labelled test images, with the class indices the model was trained on.
        embeddings: the test set's embeddings if already computed (`model.embed(test_set)`), so they
            are computed once and shared by every metric.

    Returns:
        CentroidReport.
    """
    if getattr(model, "decoder", None) is None:
        raise ValueError(
            "centroid_accuracy: the model has no CentroidDecoder; build it with "
            "SiameseModel(encoder, head, decoder=CentroidDecoder(num_classes))."
        )
    if embeddings is None:
        embeddings = model.embed(test_set)
    predictions = np.asarray(ops.convert_to_numpy(model.decoder.predict_classes(embeddings)))
    confusion = confusion_matrix(test_set.labels, predictions, model.decoder.num_classes)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.diag(confusion) / totals
    return CentroidReport(
        accuracy=float(np.mean(predictions == test_set.labels)),
        predictions=predictions,
        confusion=confusion,
        per_class_accuracy=per_class,
    )


def pair_scores(model, embeddings: np.ndarray, pair_set: PairSet) -> np.ndarray:
    """Scores pairs from embeddings computed once, through the model's own head.

    Args:
        model: a `SiameseModel` (its head turns two embeddings into a score).
        embeddings: `[N, D]` embeddings of the ImageSet the pair set indexes.
        pair_set: the pairs.

    Returns:
        float32 array `[P]` of scores (distances or similarities, see `model.score_kind`).
    """
    first = embeddings[pair_set.index_a]
    second = embeddings[pair_set.index_b]
    return np.asarray(ops.convert_to_numpy(model.head([first, second])), dtype=np.float32)


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


def best_accuracy_threshold(scores, pair_labels, score_kind: str) -> float:
    """The threshold that maximises pair accuracy on a (validation) pair set.

    Every midpoint between consecutive distinct scores is a candidate, so the result is exact for
    the given pairs. Calibrate on validation pairs and apply the threshold unchanged to test pairs.

    Args:
        scores: `[P]` pair scores.
        pair_labels: `[P]` pair labels, 1 = same class, 0 = different.
        score_kind: `"distance"` or `"similarity"`.

    Returns:
        the threshold (float).
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(pair_labels, dtype=np.int64)
    if scores.shape != labels.shape or scores.size == 0:
        raise ValueError(
            f"best_accuracy_threshold: need equally many scores and pair labels, got {scores.shape} "
            f"and {labels.shape}."
        )
    # Working on "same-ness" = -distance lets one sweep serve both kinds: same when value >= t.
    sameness = -scores if score_kind == "distance" else scores
    order = np.argsort(-sameness, kind="stable")
    sorted_values = sameness[order]
    sorted_labels = labels[order]
    # Predicting "same" for the first k pairs: correct = same pairs among them + different after.
    same_in_prefix = np.concatenate([[0], np.cumsum(sorted_labels)])
    different_total = np.sum(labels == 0)
    different_in_prefix = np.arange(len(labels) + 1) - same_in_prefix
    correct = same_in_prefix + (different_total - different_in_prefix)
    # Only cut between distinct values, so that ties fall on one side together.
    valid = np.concatenate([[True], sorted_values[:-1] != sorted_values[1:], [True]])
    k = int(np.argmax(np.where(valid, correct, -1)))
    if k == 0:
        cut = sorted_values[0] + 1.0
    elif k == len(labels):
        cut = sorted_values[-1] - 1.0
    else:
        cut = 0.5 * (sorted_values[k - 1] + sorted_values[k])
    return float(-cut if score_kind == "distance" else cut)


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
        ValueError: if the pairs are all same or all different (the AUC is undefined).
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(pair_labels, dtype=np.int64)
    if score_kind not in ("distance", "similarity"):
        raise ValueError(f"score_kind must be 'distance' or 'similarity', got {score_kind!r}.")
    sameness = -scores if score_kind == "distance" else scores
    positives, negatives = int(labels.sum()), int((labels == 0).sum())
    if positives == 0 or negatives == 0:
        raise ValueError("roc_auc needs both same (1) and different (0) pairs.")
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


def fit_logistic(logits, pair_labels, iterations: int = 50) -> tuple[float, float]:
    """Platt scaling: the `(scale, shift)` for which `sigmoid(scale * logit + shift)` best predicts the labels.

    Newton's method with step halving on the binary cross-entropy of two parameters (with a tiny ridge so that
    perfectly separable pairs still give a finite answer).

    Args:
        logits: `[P]` raw scores before the sigmoid.
        pair_labels: `[P]` pair labels, 1 = same, 0 = different.
        iterations: Newton steps (it converges in a handful).

    Returns:
        `(scale, shift)` floats.

    Raises:
        ValueError: if the pairs are all same or all different, or the shapes disagree.
    """
    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    y = np.asarray(pair_labels, dtype=np.float64).reshape(-1)
    if z.shape != y.shape or z.size == 0:
        raise ValueError(f"fit_logistic: need equally many logits and labels, got {z.shape} and {y.shape}.")
    if y.min() == y.max():
        raise ValueError("fit_logistic needs both same (1) and different (0) pairs.")
    features = np.stack([z, np.ones_like(z)], axis=1)
    ridge = 1e-6 * len(z)

    def loss(params):
        margin = features @ params
        # log(1 + e^m) - y m, written stably.
        return np.sum(np.logaddexp(0.0, margin) - y * margin) + 0.5 * ridge * np.sum((params - [1.0, 0.0]) ** 2)

    params = np.array([1.0, 0.0])
    current = loss(params)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(features @ params, -40, 40)))
        gradient = features.T @ (p - y) + ridge * (params - [1.0, 0.0])
        hessian = (features * (p * (1 - p))[:, None]).T @ features + ridge * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        # Plain Newton overshoots from a poor start; halve the step until the loss goes down.
        size = 1.0
        while size > 1e-8 and loss(params - size * step) > current:
            size *= 0.5
        params = params - size * step
        previous, current = current, loss(params)
        if previous - current < 1e-12 * max(1.0, abs(current)):
            break
    return float(params[0]), float(params[1])


def calibrate_twin_head(model, imageset: ImageSet, num_pairs: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """Makes a twin classifier's probabilities honest on unseen classes, in place.

    A twin trained to near-zero loss on its own characters is over-sure "same" or "different" about
    characters it never saw, so its 0.5 threshold sits in the wrong place for them. This fits Platt
    scaling on pairs from held-out classes (for Omniglot: background alphabets kept out of training,
    never the test alphabets) and folds it into the head's weights, so the saved model needs nothing
    extra and `score >= 0.5` is again the decision with the fewest expected mistakes.

    Args:
        model: a `SiameseModel` with a `TwinClassifierHead`.
        imageset: held-out calibration images (classes not trained on, not the test set).
        num_pairs: random pairs (same with probability 1/2) to fit on.
        seed: pair-set seed.

    Returns:
        `(scale, shift)` applied to the head's logit.

    Raises:
        ValueError: if the model's head is not a twin classifier head.
    """
    dense = getattr(model.head, "dense", None)
    if getattr(model, "score_kind", None) != "similarity" or dense is None:
        raise ValueError("calibrate_twin_head needs a SiameseModel whose head is a TwinClassifierHead.")
    embeddings = model.embed(imageset)
    pairs = fixed_pairs(imageset, num_pairs, seed=seed, mode="random")
    difference = np.abs(embeddings[pairs.index_a] - embeddings[pairs.index_b])
    logits = np.asarray(ops.convert_to_numpy(dense(difference)), dtype=np.float64).reshape(-1)
    scale, shift = fit_logistic(logits, pairs.pair_label)
    kernel, bias = (ops.convert_to_numpy(w) for w in dense.weights)
    dense.kernel.assign(kernel * scale)
    dense.bias.assign(bias * scale + shift)
    return scale, shift
