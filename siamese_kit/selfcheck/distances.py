"""Self-checks for distances between embeddings: the Euclidean distance and class centroids."""

from __future__ import annotations

import numpy as np

from ._common import TOLERANCE, _as_array, _check_function, _check_seed, _close, _ok


# -- Euclidean distance ------------------------------------------------------------------------------


def reference_euclidean_distance(first, second) -> np.ndarray:
    """Euclidean distance between matching rows, the reference for `check_euclidean_distance`.

    Args:
        first: `[N, D]` embeddings.
        second: `[N, D]` embeddings.

    Returns:
        float64 `[N]`: `sqrt(sum((first - second)^2))` over the last axis.
    """
    difference = np.asarray(first, dtype=np.float64) - np.asarray(second, dtype=np.float64)
    return np.sqrt(np.square(difference).sum(axis=-1))


def _distance_cause(first, second, expected, got) -> str:
    if got.shape == expected.shape:
        difference = first - second
        if _close(got, np.square(expected)):
            return "you returned the squared distance: take the square root of the sum of squares."
        if _close(got, np.abs(difference).sum(axis=-1)):
            return "you summed absolute differences (the L1 / Manhattan distance); square them, sum, then sqrt."
        if _close(got, np.sqrt(np.square(difference).mean(axis=-1))):
            return "you averaged the squares over the embedding instead of summing them."
        if _close(got, np.sqrt(np.square(first).sum(-1)) - np.sqrt(np.square(second).sum(-1))):
            return "you subtracted the lengths of the two vectors; subtract the vectors first."
        return "compare your formula with sqrt(sum((a - b)**2, axis=-1))."
    if got.shape == first.shape:
        return "you returned one value per coordinate: sum the squares over the last axis (axis=-1)."
    if got.shape == (first.shape[-1],):
        return "you summed over the pairs (axis=0); sum over the embedding axis instead (axis=-1)."
    if got.ndim == 0:
        return "you returned one number for the whole batch: keep one distance per pair (sum over axis=-1 only)."
    return f"expected one distance per pair, shape {expected.shape}."


def check_euclidean_distance(student_fn, seed: int = 0) -> bool:
    """Checks a function that returns the Euclidean distance between two batches of embeddings.

    The function is called as `student_fn(first, second)` with float32 arrays `[N, D]` and must
    return `[N]` distances (numpy arrays, TensorFlow or Keras tensors all work). It is tried on random
    embeddings of a few sizes and on identical embeddings (distance 0).

    Args:
        student_fn: the function to check.
        seed: seed of the random inputs.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: naming the failing input, the expected and the returned distances, and the
            likely cause (squared distance, L1 distance, wrong axis, ...).
        TypeError: if `student_fn` is not callable or `seed` is not an int.
    """
    _check_function(student_fn, "check_euclidean_distance")
    _check_seed(seed, "check_euclidean_distance")
    rng = np.random.default_rng(seed)
    cases = [("random 2-D embeddings", rng.normal(size=(6, 2)), rng.normal(size=(6, 2)))]
    cases.append(("random 16-D embeddings", rng.normal(size=(5, 16)), rng.normal(size=(5, 16)) * 2.0))
    same = rng.normal(size=(3, 8))
    cases.append(("identical embeddings", same, same.copy()))
    for description, first, second in cases:
        first, second = first.astype(np.float32), second.astype(np.float32)
        expected = reference_euclidean_distance(first, second)
        got = _as_array(student_fn(first, second), "student_fn(first, second)")
        if not _close(got, expected):
            cause = _distance_cause(first.astype(np.float64), second.astype(np.float64), expected, got)
            raise AssertionError(
                f"check_euclidean_distance, {description} (shape {first.shape}): expected distances "
                f"{np.round(expected, 4).tolist()} (shape {expected.shape}), got "
                f"{np.round(got, 4).tolist()} (shape {got.shape}). Likely cause: {cause}"
            )
    return _ok("Euclidean distance: matches sqrt(sum((a - b)**2)) on 3 batches, identical embeddings give 0.")


# -- class centroids ---------------------------------------------------------------------------------


def reference_class_centroids(embeddings, labels, num_classes: int) -> np.ndarray:
    """Mean embedding of each class, the reference for `check_class_centroids`.

    Args:
        embeddings: `[N, D]` embeddings.
        labels: `[N]` int class of each embedding, each in 0 .. num_classes - 1.
        num_classes: number of classes (rows of the result).

    Returns:
        float64 `[num_classes, D]`: row c is the mean of the embeddings labelled c. A class without
        embeddings gets a row of zeros, as `siamese_kit.layers.CentroidDecoder.set_centroids` gives it.
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    sums = np.zeros((int(num_classes), embeddings.shape[-1]))
    np.add.at(sums, labels, embeddings)
    counts = np.bincount(labels, minlength=int(num_classes))
    return sums / np.maximum(counts, 1)[:, None]


def _centroid_cause(embeddings, labels, num_classes, expected, got) -> str:
    dim = embeddings.shape[1]
    off_by_one = ("class indices start at 0: row c is the mean of the embeddings labelled c, for c in "
                  "range(num_classes), which gives exactly num_classes rows.")
    if got.shape == (dim, num_classes):
        if _close(got.T, expected):
            return ("your centroids are columns, shape [D, num_classes]: put one class per row, shape "
                    "[num_classes, D] (stack the class means along axis 0).")
        return "you returned shape [D, num_classes]; one class per row, shape [num_classes, D], is wanted."
    if got.ndim == 2 and got.shape[1] == dim and abs(got.shape[0] - num_classes) == 1:
        return off_by_one
    if got.shape == (num_classes,):
        return ("you averaged over the embedding axis too (one number per class); average over the class's "
                "embeddings only (axis=0) and keep the D coordinates.")
    if got.shape == (dim,):
        return "you returned one mean for the whole batch; average each class's embeddings separately."
    if got.shape != expected.shape:
        return f"expected one row per class, shape {expected.shape}."
    counts = np.bincount(labels, minlength=num_classes)
    if _close(got, expected * counts[:, None]):
        return "you summed each class's embeddings: divide by the number of embeddings of the class."
    if _close(got, np.broadcast_to(embeddings.mean(axis=0), expected.shape)):
        return ("every row is the mean of the whole batch: average only the embeddings of class c "
                "(embeddings[labels == c]).")
    # A shift by one class leaves one row without embeddings (NaN), so only the others are compared.
    if _close(got[:-1], expected[1:]) or _close(got[1:], expected[:-1]):
        return off_by_one
    return "compare your formula with: row c = embeddings[labels == c].mean(axis=0)."


def check_class_centroids(student_fn, seed: int = 0) -> bool:
    """Checks a function that returns the mean embedding (centroid) of each class.

    The function is called as `student_fn(embeddings, labels, num_classes)` with float32 embeddings
    `[N, D]`, int labels `[N]` in 0 .. num_classes - 1 and an int, and must return `[num_classes, D]`
    (numpy arrays, TensorFlow or Keras tensors all work): row c is the mean of the embeddings labelled
    c, as `siamese_kit.layers.CentroidDecoder.set_centroids` computes them. The classes have unequal
    sizes and the labels come shuffled.

    Args:
        student_fn: the function to check.
        seed: seed of the random inputs.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: naming the failing input, the first class whose centroid differs (expected
            and returned) and the likely cause (sums instead of means, transposed rows and columns,
            the mean of the whole batch, classes off by one).
        TypeError: if `student_fn` is not callable or `seed` is not an int.
    """
    _check_function(student_fn, "check_class_centroids")
    _check_seed(seed, "check_class_centroids")
    rng = np.random.default_rng(seed)
    cases = []
    for description, counts, dim in (("5 classes in 3-D", [5, 2, 7, 4, 3], 3), ("3 classes in 8-D", [6, 1, 4], 8)):
        labels = rng.permutation(np.repeat(np.arange(len(counts)), counts))
        # Classes far apart: the mean of the whole batch is then far from every class's mean.
        centres = rng.normal(scale=3.0, size=(len(counts), dim))
        embeddings = centres[labels] + rng.normal(size=(len(labels), dim))
        cases.append((description, embeddings.astype(np.float32), labels, len(counts)))
    for description, embeddings, labels, num_classes in cases:
        expected = reference_class_centroids(embeddings, labels, num_classes)
        got = _as_array(student_fn(embeddings, labels.copy(), num_classes),
                        "student_fn(embeddings, labels, num_classes)")
        if _close(got, expected):
            continue
        cause = _centroid_cause(embeddings.astype(np.float64), labels, num_classes, expected, got)
        where = f"{description}, {len(labels)} embeddings, num_classes={num_classes}"
        if got.shape == expected.shape:
            c = int(np.flatnonzero(~np.all(np.isclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE), axis=1))[0])
            detail = (f"class {c} ({int(np.sum(labels == c))} embeddings): expected centroid "
                      f"{np.round(expected[c], 4).tolist()}, got {np.round(got[c], 4).tolist()}")
        else:
            detail = f"expected centroids of shape {expected.shape} (one row per class), got shape {got.shape}"
        raise AssertionError(f"check_class_centroids ({where}), {detail}. Likely cause: {cause}")
    return _ok("class centroids: the mean embedding of every class, on 2 batches with classes of unequal size.")
