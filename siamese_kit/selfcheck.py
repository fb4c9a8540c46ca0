"""Self-checks for the notebooks' exercises: write a function, pass it in, read what is wrong.

Each check runs a student's function on small random inputs, compares it with the toolkit's own
implementation and either prints a line starting with "✓" and returns True, or raises
`AssertionError` whose message names the input that failed, the expected and the returned values, and
the most likely cause (swapped pair labels, a squared distance, a missing clamp, ...).

    from siamese_kit.selfcheck import check_contrastive_loss

    def my_loss(pair_labels, distances, margin):
        ...
    check_contrastive_loss(my_loss)

Pair label convention, as everywhere in siamese-kit: 1 = same class, 0 = different class.
Reference solutions live in `notebooks/solutions/exercises_solutions.ipynb`.
"""

from __future__ import annotations

import numpy as np

from .data.imageset import ImageSet
from .evaluation import best_accuracy_threshold, pair_accuracy

# Float32 arithmetic in the student's code (Keras ops, TensorFlow) against float64 here.
TOLERANCE = 1e-4


def _ok(message: str) -> bool:
    print(f"✓ {message}")
    return True


def _as_array(value, what: str) -> np.ndarray:
    """A student's return value as a float64 numpy array (numpy, TensorFlow and Keras tensors alike)."""
    if value is None:
        raise AssertionError(f"{what} returned None: did you forget the `return`?")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise AssertionError(f"{what} returned {type(value).__name__}, which is not an array of numbers ({error}).") from None


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=TOLERANCE, atol=TOLERANCE))


def _check_function(student_fn, name: str) -> None:
    if not callable(student_fn):
        raise TypeError(f"{name}: student_fn must be a function, got {type(student_fn).__name__}; pass the "
                        "function itself (my_function), not its result (my_function(...)).")


def _check_seed(seed, name: str) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name}: seed must be an int, got {seed!r}.")


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


# -- contrastive loss --------------------------------------------------------------------------------


def reference_contrastive_loss(pair_labels, distances, margin: float) -> np.ndarray:
    """Per-pair contrastive loss, the reference for `check_contrastive_loss`.

    Computed with `siamese_kit.losses.ContrastiveLoss` itself (no reduction), so the check and the
    training recipe can never disagree.

    Args:
        pair_labels: `[N]`, 1 = same class, 0 = different class.
        distances: `[N]` Euclidean distances.
        margin: the contrastive margin.

    Returns:
        float64 `[N]`: `0.5 * (y * d^2 + (1 - y) * max(margin - d, 0)^2)`.
    """
    from keras import ops

    from .losses import ContrastiveLoss

    loss = ContrastiveLoss(margin=margin, reduction=None)
    values = loss(np.asarray(pair_labels, np.float32), np.asarray(distances, np.float32))
    return np.asarray(ops.convert_to_numpy(values), dtype=np.float64)


def _contrastive_variants(y, d, margin, other_margins) -> dict[str, np.ndarray]:
    """Per-pair losses of common mistakes, each with the explanation a student needs."""
    hinge = np.maximum(margin - d, 0.0)
    ignored = {
        f"the margin argument is ignored (a fixed margin of {other:g} was used): use the margin you are given.":
            0.5 * (y * d**2 + (1 - y) * np.maximum(other - d, 0.0) ** 2)
        for other in other_margins if other != margin
    }
    return {
        "the pair labels are swapped: in siamese-kit 1 = same class (pull together) and 0 = different "
        "(push apart), so the d**2 term goes with y and the margin term with (1 - y).":
            0.5 * ((1 - y) * d**2 + y * hinge**2),
        "the margin term is not clamped at 0: use max(margin - d, 0), so a different pair that is already "
        "further apart than the margin costs nothing.":
            0.5 * (y * d**2 + (1 - y) * (margin - d) ** 2),
        "the distance is not squared in the same-class term: it is y * d**2, not y * d.":
            0.5 * (y * d + (1 - y) * hinge**2),
        "the margin term is not squared: it is max(margin - d, 0)**2.":
            0.5 * (y * d**2 + (1 - y) * hinge),
        "you compared the squared distance with the margin (max(margin - d**2, 0)); the hinge takes the "
        "distance itself.":
            0.5 * (y * d**2 + (1 - y) * np.maximum(margin - d**2, 0.0) ** 2),
        "the 1/2 factor is missing: Caffe's contrastive loss is 0.5 * (...).":
            y * d**2 + (1 - y) * hinge**2,
        **ignored,
    }


def check_contrastive_loss(student_fn, margin: float = 2.0, seed: int = 0) -> bool:
    """Checks a contrastive loss against `siamese_kit.losses.ContrastiveLoss`.

    The function is called as `student_fn(pair_labels, distances, margin)` with float32 arrays `[N]`
    (pair label 1 = same class, 0 = different class) and must return either the per-pair losses `[N]`
    or their mean (a scalar). The distances span 0 to 1.5 x margin, so some different pairs are
    already past the margin.

    Args:
        student_fn: the function to check.
        margin: the margin passed to `student_fn` (the MNIST recipe uses 2.0); a second, different
            margin is also tried, so a hard-coded margin is caught.
        seed: seed of the random inputs.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: naming the first pair that differs (label, distance, margin, expected and
            returned loss) and the likely cause (swapped labels, a missing clamp, a squared or
            unsquared distance, a missing 1/2, an ignored margin).
        TypeError: if `student_fn` is not callable, `margin` is not a positive number or `seed` not an int.
    """
    _check_function(student_fn, "check_contrastive_loss")
    _check_seed(seed, "check_contrastive_loss")
    if isinstance(margin, bool) or not isinstance(margin, (int, float, np.floating, np.integer)) or not margin > 0:
        raise TypeError(f"check_contrastive_loss: margin must be a number > 0, got {margin!r}.")
    rng = np.random.default_rng(seed)
    for trial_margin in (float(margin), float(margin) * 0.6 + 0.3):
        labels = np.tile([1.0, 0.0], 6).astype(np.float32)
        rng.shuffle(labels)
        distances = rng.uniform(0.05, 1.5 * trial_margin, size=labels.shape).astype(np.float32)
        distances[np.flatnonzero(labels == 0)[0]] = 1.4 * trial_margin  # a different pair past the margin
        expected = reference_contrastive_loss(labels, distances, trial_margin)
        got = _as_array(student_fn(labels, distances, trial_margin), "student_fn(pair_labels, distances, margin)")
        if got.ndim == 0:
            if abs(float(got) - expected.mean()) <= TOLERANCE * max(1.0, abs(expected.mean())):
                continue
            per_pair, compare = None, float(got)
        elif got.shape == expected.shape:
            if _close(got, expected):
                continue
            per_pair, compare = got, None
        else:
            raise AssertionError(
                f"check_contrastive_loss: for {len(labels)} pairs expected {len(labels)} per-pair losses "
                f"(shape {expected.shape}) or their mean (a scalar), got shape {got.shape}."
            )
        y, d = labels.astype(np.float64), distances.astype(np.float64)
        cause = "compare your formula with 0.5 * (y * d**2 + (1 - y) * max(margin - d, 0)**2)."
        for explanation, variant in _contrastive_variants(y, d, trial_margin, (1.0, float(margin))).items():
            if (per_pair is not None and _close(per_pair, variant)) or (
                per_pair is None and abs(compare - variant.mean()) <= TOLERANCE * max(1.0, abs(variant.mean()))
            ):
                cause = explanation
                break
        if per_pair is None:
            detail = f"mean loss over {len(labels)} pairs: expected {expected.mean():.4f}, got {compare:.4f}"
        else:
            i = int(np.flatnonzero(~np.isclose(per_pair, expected, rtol=TOLERANCE, atol=TOLERANCE))[0])
            kind = "same" if labels[i] == 1 else "different"
            detail = (f"pair {i} (label {int(labels[i])} = {kind}, distance {distances[i]:.4f}, margin "
                      f"{trial_margin:g}): expected loss {expected[i]:.4f}, got {per_pair[i]:.4f}")
        raise AssertionError(f"check_contrastive_loss, {detail}. Likely cause: {cause}")
    return _ok(f"contrastive loss: matches siamese_kit.losses.ContrastiveLoss at margins {margin:g} and "
               f"{float(margin) * 0.6 + 0.3:g}, same and different pairs, inside and past the margin.")


# -- pair sampler ------------------------------------------------------------------------------------


def _practice_imageset(seed: int) -> ImageSet:
    """A tiny labelled set with classes of unequal size, so a sampler that ignores classes shows."""
    rng = np.random.default_rng(seed)
    counts = [12, 3, 7, 9, 2, 15, 5, 8]
    labels = np.repeat(np.arange(len(counts)), counts)
    rng.shuffle(labels)
    images = rng.integers(0, 256, size=(len(labels), 8, 8, 1), dtype=np.uint8)
    return ImageSet(images, labels, class_names=[f"class{c}" for c in range(len(counts))], name="practice")


def _pair_arrays(result, num_pairs: int):
    if all(hasattr(result, name) for name in ("index_a", "index_b", "pair_label")):
        result = (result.index_a, result.index_b, result.pair_label)
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise AssertionError(
            "check_pair_sampler: student_fn must return (index_a, index_b, pair_label), three arrays of "
            f"length num_pairs, or a PairSet; got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "") + "."
        )
    arrays = []
    for name, value in zip(("index_a", "index_b", "pair_label"), result):
        array = np.asarray(value)
        if array.shape != (num_pairs,):
            raise AssertionError(
                f"check_pair_sampler: {name} has shape {array.shape}; asked for {num_pairs} pairs, it must "
                f"have shape ({num_pairs},)."
            )
        try:
            whole = np.issubdtype(array.dtype, np.integer) or bool(np.all(np.mod(array, 1) == 0))
        except TypeError:  # strings, objects: not numbers at all
            whole = False
        if not whole:
            raise AssertionError(f"check_pair_sampler: {name} must hold whole numbers (indices, labels); "
                                 f"got {array[:5].tolist()}...")
        arrays.append(array.astype(np.int64))
    return arrays


def check_pair_sampler(student_fn, imageset: ImageSet | None = None, num_pairs: int = 200, seed: int = 0) -> bool:
    """Checks a function that samples pairs of images from an ImageSet.

    The function is called as `student_fn(imageset, num_pairs, seed)` and must return
    `(index_a, index_b, pair_label)` (three int arrays of length `num_pairs`) or a `PairSet`. Checked:
    every index is a valid position in the ImageSet; every pair label says whether the two images'
    classes agree (1 = same class, 0 = different class); a same pair never shows one image twice; about
    half the pairs are same pairs; many classes take part; the same seed gives the same pairs and
    another seed other pairs.

    Args:
        student_fn: the function to check.
        imageset: the images to sample from; None uses a small built-in set whose classes have very
            different sizes (so a sampler that draws images without regard to class is caught).
        num_pairs: pairs to ask for (at least 40, so that balance can be judged).
        seed: the seed passed to `student_fn`.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: naming the first bad pair (its indices, their classes and its label) or the
            failed property (balance, determinism, coverage) and how to fix it.
        TypeError: if `student_fn` is not callable, `imageset` not an ImageSet or `num_pairs` < 40.
    """
    _check_function(student_fn, "check_pair_sampler")
    _check_seed(seed, "check_pair_sampler")
    if isinstance(num_pairs, bool) or not isinstance(num_pairs, (int, np.integer)) or num_pairs < 40:
        raise TypeError(f"check_pair_sampler: num_pairs must be an int >= 40 (to judge the balance), got {num_pairs!r}.")
    imageset = _practice_imageset(seed) if imageset is None else imageset
    if not isinstance(imageset, ImageSet):
        raise TypeError(f"check_pair_sampler: imageset must be an ImageSet, got {type(imageset).__name__}.")
    index_a, index_b, pair_label = _pair_arrays(student_fn(imageset, num_pairs, seed), num_pairs)
    size = len(imageset)
    for name, index in (("index_a", index_a), ("index_b", index_b)):
        bad = np.flatnonzero((index < 0) | (index >= size))
        if len(bad):
            raise AssertionError(
                f"check_pair_sampler: pair {bad[0]} has {name} = {index[bad[0]]}, but the ImageSet has {size} "
                f"images (valid indices 0..{size - 1}). Draw indices from np.flatnonzero(labels == c), "
                "not from the class numbers or range(size + 1)."
            )
    if not np.isin(pair_label, (0, 1)).all():
        raise AssertionError(f"check_pair_sampler: pair labels must be 0 or 1, got values {sorted(set(pair_label.tolist()))}.")
    labels = imageset.labels
    truth = (labels[index_a] == labels[index_b]).astype(np.int64)
    wrong = np.flatnonzero(truth != pair_label)
    if len(wrong):
        i = int(wrong[0])
        swapped = bool(np.all(truth != pair_label))
        raise AssertionError(
            f"check_pair_sampler: pair {i} joins image {index_a[i]} (class {labels[index_a[i]]}) and image "
            f"{index_b[i]} (class {labels[index_b[i]]}) but its label is {pair_label[i]}; "
            f"{len(wrong)} of {num_pairs} labels disagree with the classes. "
            + ("Every label is flipped: in siamese-kit 1 = same class, 0 = different class."
               if swapped else "The label must be 1 exactly when both images have the same class.")
        )
    twice = np.flatnonzero(index_a == index_b)
    if len(twice):
        raise AssertionError(
            f"check_pair_sampler: pair {twice[0]} shows image {index_a[twice[0]]} twice; a same pair needs two "
            "different images of one class (draw the second from the class's other images)."
        )
    same_share = float(pair_label.mean())
    if not 0.35 <= same_share <= 0.65:
        raise AssertionError(
            f"check_pair_sampler: {same_share:.0%} of the pairs are same pairs; a balanced sampler gives about "
            "half. Two random images are rarely of one class, so choose the kind of pair first (same or "
            "different, each with probability 1/2, or alternating), then the images."
        )
    classes_used = len(np.unique(labels[np.concatenate([index_a, index_b])]))
    present = len(np.unique(labels))
    if classes_used < min(present, max(2, present // 2)):
        raise AssertionError(
            f"check_pair_sampler: the pairs use only {classes_used} of the {present} classes; draw the class "
            "of each pair at random."
        )
    again = _pair_arrays(student_fn(imageset, num_pairs, seed), num_pairs)
    if not all(np.array_equal(x, y) for x, y in zip(again, (index_a, index_b, pair_label))):
        raise AssertionError(
            "check_pair_sampler: two calls with the same seed gave different pairs; make a generator from the "
            "seed (rng = np.random.default_rng(seed)) and draw everything from it."
        )
    other = _pair_arrays(student_fn(imageset, num_pairs, seed + 1), num_pairs)
    if all(np.array_equal(x, y) for x, y in zip(other, (index_a, index_b, pair_label))):
        raise AssertionError(
            f"check_pair_sampler: seeds {seed} and {seed + 1} gave the same pairs; the seed must drive the draws."
        )
    return _ok(f"pair sampler: {num_pairs} pairs, indices in range, labels match the classes (1 = same), "
               f"{same_share:.0%} same pairs, {classes_used} classes, seeded.")


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
    support embedding nearest to each query (Euclidean distance), as `siamese_kit.oneshot.choose`
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
    from .oneshot import choose

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


__all__ = [
    "check_contrastive_loss",
    "check_euclidean_distance",
    "check_one_shot_choice",
    "check_pair_sampler",
    "check_threshold",
    "reference_contrastive_loss",
    "reference_euclidean_distance",
]
