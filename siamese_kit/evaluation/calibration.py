"""Calibration: a twin classifier's probabilities made honest on classes it never saw (Platt scaling).

Pair label convention: 1 = same class, 0 = different class.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from ..data.imageset import ImageSet
from ..data.streams.pairs import fixed_pairs


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

    A twin knows how sure to be about its own characters, not about characters it never saw: there its
    logit can sit too low (too slow to say "same") or too high, and too steep or too flat, so its 0.5
    threshold sits in the wrong place for them. The fitted `scale` > 1 means it was under-confident, < 1
    over-confident; `shift` > 0 means it said "same" too rarely. This fits Platt
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
