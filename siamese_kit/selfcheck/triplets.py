"""Self-check for the triplet loss with semi-hard mining (notebook 10's exercise)."""

from __future__ import annotations

import numpy as np

from ._common import TOLERANCE, _check_function, _check_seed, _ok, _one_number


def reference_semi_hard_triplet_loss(labels, embeddings, margin: float) -> float:
    """The semi-hard triplet loss of one batch, the reference for `check_semi_hard_triplet_loss`.

    Computed with `siamese_kit.losses.TripletLoss(margin, mining="semi_hard")` itself, so the check
    and the training recipe can never disagree.

    Args:
        labels: `[B]` class of each image.
        embeddings: `[B, D]` embeddings.
        margin: the triplet margin.

    Returns:
        the loss, a float.
    """
    from keras import ops

    from ..losses import TripletLoss

    value = TripletLoss(margin, mining="semi_hard")(np.asarray(labels), np.asarray(embeddings, np.float32))
    return float(ops.convert_to_numpy(value))


def _mined(labels, embeddings, margin, squared=False, rule="semi_hard", fallback="farthest", clamp=True,
           average="pairs", keep_self=False) -> float:
    """The loss as a NumPy loop under one set of choices: the right ones, or a common mistake's."""
    labels = np.asarray(labels)
    points = np.asarray(embeddings, np.float64)
    d = np.sqrt(np.sum((points[:, None] - points[None]) ** 2, axis=-1))
    if squared:
        d = d**2
    losses = []
    for a in range(len(labels)):
        negatives = d[a, labels != labels[a]]
        if len(negatives) == 0:
            continue
        for p in np.flatnonzero(labels == labels[a]):
            if p == a and not keep_self:
                continue
            if rule == "hardest":
                chosen = negatives.min()
            else:
                farther = negatives[negatives > d[a, p]]
                if len(farther):
                    chosen = farther.min()
                elif fallback is None:
                    continue
                else:
                    chosen = negatives.max() if fallback == "farthest" else negatives.min()
            value = d[a, p] - chosen + margin
            losses.append(max(value, 0.0) if clamp else value)
    if not losses:
        return 0.0
    losses = np.array(losses)
    if average == "positive":
        return float(losses[losses > 0].mean()) if (losses > 0).any() else 0.0
    return float(losses.sum() / (len(labels) ** 2 if average == "batch_squared" else len(losses)))


def _semi_hard_variants(labels, embeddings, margin, other_margin) -> dict[str, float]:
    """Losses of common mistakes, each with the explanation a student needs."""
    return {
        "each pair took its nearest negative, semi-hard or not (that is batch-hard's negative): take the "
        "nearest negative that is still farther from the anchor than the positive, d(a, n) > d(a, p).":
            _mined(labels, embeddings, margin, rule="hardest"),
        "pairs with no negative farther than the positive were left out: they use the anchor's farthest "
        "negative instead (the fallback).":
            _mined(labels, embeddings, margin, fallback=None),
        "pairs with no negative farther than the positive used the nearest negative: the fallback is the "
        "anchor's farthest negative.":
            _mined(labels, embeddings, margin, fallback="nearest"),
        "the distances are squared: this loss uses the Euclidean distance d itself.":
            _mined(labels, embeddings, margin, squared=True),
        "the loss is not clamped at 0: use max(d(a, p) - d(a, n) + margin, 0), so a triplet already "
        "satisfied costs nothing.":
            _mined(labels, embeddings, margin, clamp=False),
        "an image was used as its own positive (p = a): positives are the other images of the anchor's class.":
            _mined(labels, embeddings, margin, keep_self=True),
        "the losses were averaged over the triplets with a positive loss only: average over every "
        "(anchor, positive) pair whose anchor has a negative.":
            _mined(labels, embeddings, margin, average="positive"),
        "the sum was divided by B * B: average over the (anchor, positive) pairs, not every pair of the batch.":
            _mined(labels, embeddings, margin, average="batch_squared"),
        f"the margin argument is ignored (a fixed margin of {other_margin:g} was used): use the margin you are given.":
            _mined(labels, embeddings, other_margin),
    }


def check_semi_hard_triplet_loss(student_fn, margin: float = 0.5, seed: int = 0) -> bool:
    """Checks a semi-hard triplet loss against `siamese_kit.losses.TripletLoss(mining="semi_hard")`.

    The function is called as `student_fn(labels, embeddings, margin)` with an int array `[B]` of
    class labels and a float32 array `[B, D]` of embeddings, and must return the batch's loss (one
    number): for every (anchor a, positive p) pair, p another image of a's class, the negative n is
    the nearest image of another class with d(a, n) > d(a, p) (the anchor's farthest negative when
    there is none); the pair costs max(d(a, p) - d(a, n) + margin, 0) with d the Euclidean distance;
    the loss is the mean over the pairs whose anchor has a negative. Batches include a class with a
    single image (an anchor with no positive) and a second margin, so a hard-coded margin shows.

    Args:
        student_fn: the function to check.
        margin: the first margin tried; a second one is tried too.
        seed: seed of the random batches.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: naming the batch, the expected and the returned loss, and the likely cause
            (batch-hard's nearest negative, a missing or wrong fallback, squared distances, no clamp,
            an image as its own positive, the wrong average, an ignored margin).
        TypeError: if `student_fn` is not callable, `margin` is not a number > 0 or `seed` not an int.
    """
    _check_function(student_fn, "check_semi_hard_triplet_loss")
    _check_seed(seed, "check_semi_hard_triplet_loss")
    if isinstance(margin, bool) or not isinstance(margin, (int, float, np.floating, np.integer)) or not margin > 0:
        raise TypeError(f"check_semi_hard_triplet_loss: margin must be a number > 0, got {margin!r}.")
    rng = np.random.default_rng(seed)
    batches = []
    for size, classes, dim in ((8, 3, 2), (12, 4, 5)):
        labels = np.concatenate([np.arange(classes), rng.integers(0, classes - 1, size - classes)])
        labels[0] = classes + 5  # the first image is alone in its class: it anchors nothing
        rng.shuffle(labels)
        batches.append((labels.astype(np.int32), rng.normal(size=(size, dim)).astype(np.float32)))
    other = float(margin) * 2 + 0.3
    for trial_margin in (float(margin), other):
        for number, (labels, embeddings) in enumerate(batches, start=1):
            expected = reference_semi_hard_triplet_loss(labels, embeddings, trial_margin)
            where = (f"check_semi_hard_triplet_loss, batch {number} ({len(labels)} images of "
                     f"{len(np.unique(labels))} classes, margin {trial_margin:g})")
            got = _one_number(student_fn(labels, embeddings, trial_margin), "student_fn(labels, embeddings, margin)",
                              where, "Return the mean over the (anchor, positive) pairs, a single number.")
            if abs(got - expected) <= TOLERANCE * max(1.0, abs(expected)):
                continue
            cause = ("compare your loop with: for each anchor a and positive p != a of its class, n = the nearest "
                     "negative with d(a, n) > d(a, p) (else the farthest), loss max(d(a, p) - d(a, n) + margin, 0).")
            mistaken = {margin: other, other: float(margin)}[trial_margin]
            for explanation, variant in _semi_hard_variants(labels, embeddings, trial_margin, mistaken).items():
                if abs(got - variant) <= TOLERANCE * max(1.0, abs(variant)):
                    cause = explanation
                    break
            raise AssertionError(f"{where}: expected loss {expected:.5f}, got {got:.5f}. Likely cause: {cause}")
    return _ok(f"semi-hard triplet loss: matches TripletLoss(mining='semi_hard') on 2 batches at margins {margin:g} "
               f"and {other:g}, an image alone in its class anchoring nothing.")
