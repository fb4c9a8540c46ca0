"""Self-checks for the training losses: contrastive, the twin head with binary cross-entropy, prototypical."""

from __future__ import annotations

import numpy as np

from ._common import TOLERANCE, _as_array, _check_function, _check_seed, _close, _ok


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

    from ..losses import ContrastiveLoss

    loss = ContrastiveLoss(margin=margin, reduction=None)
    values = loss(np.asarray(pair_labels, np.float32), np.asarray(distances, np.float32))
    return np.asarray(ops.convert_to_numpy(values), dtype=np.float64)


def _contrastive_variants(y, d, margin, other_margins, half: bool, same_label: int) -> dict[str, np.ndarray]:
    """Per-pair losses of common mistakes (and of the other conventions), each with the explanation a
    student needs; `y` is siamese-kit's label (1 = same), the losses are in the student's declared form."""
    factor = 0.5 if half else 1.0
    hinge = np.maximum(margin - d, 0.0)
    ignored = {
        f"the margin argument is ignored (a fixed margin of {other:g} was used): use the margin you are given.":
            factor * (y * d**2 + (1 - y) * np.maximum(other - d, 0.0) ** 2)
        for other in other_margins if other != margin
    }
    declared = "same_label=1 (siamese-kit's: 1 = same)" if same_label == 1 else "same_label=0 (Hadsell et al.'s: 0 = same)"
    other_label = 0 if same_label == 1 else 1
    scaled = ("your loss has no 1/2 factor (the form keras.io and many tutorials use). Both are fine: multiply by "
              "0.5 for Caffe's and siamese-kit's form, or declare yours with half=False.") if half else (
              "your loss has the 1/2 factor of Caffe's form, but you declared half=False: drop the 0.5, or the "
              "declaration.")
    return {
        f"your labels follow the other convention: the check passed {declared}, and your loss pulls together the "
        f"pairs labelled {other_label}. Both conventions are fine: declare yours with same_label={other_label}, or "
        "swap the d**2 and margin terms.":
            factor * ((1 - y) * d**2 + y * hinge**2),
        "the margin term is not clamped at 0: use max(margin - d, 0), so a different pair that is already "
        "further apart than the margin costs nothing.":
            factor * (y * d**2 + (1 - y) * (margin - d) ** 2),
        "the distance is not squared in the same-class term: it is d**2 for a same pair, not d.":
            factor * (y * d + (1 - y) * hinge**2),
        "the margin term is not squared: it is max(margin - d, 0)**2.":
            factor * (y * d**2 + (1 - y) * hinge),
        "you compared the squared distance with the margin (max(margin - d**2, 0)); the hinge takes the "
        "distance itself.":
            factor * (y * d**2 + (1 - y) * np.maximum(margin - d**2, 0.0) ** 2),
        scaled: (1.0 if half else 0.5) * (y * d**2 + (1 - y) * hinge**2),
        **ignored,
    }


def check_contrastive_loss(student_fn, margin: float = 2.0, seed: int = 0, same_label: int = 1,
                           half: bool = True) -> bool:
    """Checks a contrastive loss against `siamese_kit.losses.ContrastiveLoss`, in the convention you declare.

    The function is called as `student_fn(pair_labels, distances, margin)` with float32 arrays `[N]` and
    must return either the per-pair losses `[N]` or their mean (a scalar). The distances span 0 to 1.5 x
    margin, so some different pairs are already past the margin. Tutorials disagree on conventions, and
    none of them is a mistake: siamese-kit (and Caffe) label a same pair 1 and halve the loss; Hadsell et
    al. label a similar pair 0; keras.io and many others leave out the 1/2. Declare yours.

    Args:
        student_fn: the function to check.
        margin: the margin passed to `student_fn` (the MNIST recipe uses 2.0); a second, different
            margin is also tried, so a hard-coded margin is caught.
        seed: seed of the random inputs.
        same_label: the pair label your loss gives a same-class pair: 1 (siamese-kit, Caffe, keras.io) or
            0 (Hadsell, Chopra & LeCun 2006).
        half: whether your loss carries Caffe's 1/2 factor (`0.5 * (...)`) or not.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: naming the first pair that differs (label, distance, margin, expected and
            returned loss) and the likely cause (the other label convention, a missing clamp, a squared or
            unsquared distance, the 1/2 factor, an ignored margin).
        TypeError: if `student_fn` is not callable, `margin` is not a positive number, `seed` not an int,
            `same_label` not 0 or 1 or `half` not a bool.
    """
    _check_function(student_fn, "check_contrastive_loss")
    _check_seed(seed, "check_contrastive_loss")
    if isinstance(margin, bool) or not isinstance(margin, (int, float, np.floating, np.integer)) or not margin > 0:
        raise TypeError(f"check_contrastive_loss: margin must be a number > 0, got {margin!r}.")
    if isinstance(same_label, bool) or same_label not in (0, 1):
        raise TypeError(f"check_contrastive_loss: same_label must be 1 (siamese-kit's convention) or 0 (Hadsell "
                        f"et al.'s), got {same_label!r}.")
    if not isinstance(half, bool):
        raise TypeError(f"check_contrastive_loss: half must be True or False, got {half!r}.")
    scale = 1.0 if half else 2.0
    rng = np.random.default_rng(seed)
    for trial_margin in (float(margin), float(margin) * 0.6 + 0.3):
        labels = np.tile([1.0, 0.0], 6).astype(np.float32)  # siamese-kit's: 1 = same
        rng.shuffle(labels)
        given = labels if same_label == 1 else (1.0 - labels).astype(np.float32)
        distances = rng.uniform(0.05, 1.5 * trial_margin, size=labels.shape).astype(np.float32)
        distances[np.flatnonzero(labels == 0)[0]] = 1.4 * trial_margin  # a different pair past the margin
        expected = scale * reference_contrastive_loss(labels, distances, trial_margin)
        got = _as_array(student_fn(given, distances, trial_margin), "student_fn(pair_labels, distances, margin)")
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
        cause = (f"compare your formula with {'0.5 * ' if half else ''}(s * d**2 + (1 - s) * max(margin - d, 0)**2), "
                 f"s = 1 for a same pair.")
        for explanation, variant in _contrastive_variants(y, d, trial_margin, (1.0, float(margin)), half,
                                                          same_label).items():
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
            detail = (f"pair {i} (label {int(given[i])} = {kind}, distance {distances[i]:.4f}, margin "
                      f"{trial_margin:g}): expected loss {expected[i]:.4f}, got {per_pair[i]:.4f}")
        raise AssertionError(f"check_contrastive_loss, {detail}. Likely cause: {cause}")
    form = ("siamese-kit's convention" if (same_label, half) == (1, True) else
            f"the convention you declared (same_label={same_label}, half={half})")
    return _ok(f"contrastive loss: matches siamese_kit.losses.ContrastiveLoss in {form} at margins {margin:g} and "
               f"{float(margin) * 0.6 + 0.3:g}, same and different pairs, inside and past the margin.")


# -- twin head ---------------------------------------------------------------------------------------


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def reference_twin_head(embedding_a, embedding_b, weights, bias: float) -> np.ndarray:
    """Probability that each pair is the same class, the reference for `check_twin_head`.

    The formula of `siamese_kit.layers.TwinClassifierHead` (Koch et al., 2015), whose Dense layer
    holds `weights` as its kernel and `bias` as its bias.

    Args:
        embedding_a: `[B, D]` embeddings of the first images.
        embedding_b: `[B, D]` embeddings of the second images.
        weights: `[D]` weight of each coordinate.
        bias: the bias, a number.

    Returns:
        float64 `[B]`: `sigmoid(weights . |a - b| + bias)`, the probability of "same" (pair label 1).
    """
    difference = np.abs(np.asarray(embedding_a, np.float64) - np.asarray(embedding_b, np.float64))
    return _sigmoid(difference @ np.asarray(weights, np.float64).reshape(-1) + float(bias))


def _twin_head_variants(a, b, w, bias) -> dict[str, np.ndarray]:
    """Outputs of common mistakes, each with the explanation a student needs."""
    return {
        "the absolute value is missing: the head weighs |a - b|, so that swapping the two images of a pair "
        "gives the same probability.": _sigmoid((a - b) @ w + bias),
        "you squared the difference; the twin head weighs the absolute difference |a - b| (a weighted L1 "
        "distance).": _sigmoid(np.square(a - b) @ w + bias),
        "the sigmoid is missing: you returned the logits w . |a - b| + b; apply sigmoid to get a probability "
        "in (0, 1).": np.abs(a - b) @ w + bias,
        "you multiplied the embeddings (a * b); the head compares them through their difference |a - b|.":
            _sigmoid((a * b) @ w + bias),
        "the bias is missing: add it to the weighted sum before the sigmoid.": _sigmoid(np.abs(a - b) @ w),
    }


def check_twin_head(student_fn, seed: int = 0) -> bool:
    """Checks a function that computes the twin classifier's head, `sigmoid(w . |a - b| + b)`.

    The function is called as `student_fn(embedding_a, embedding_b, weights, bias)` with float32
    arrays `[B, D]`, `[B, D]`, `[D]` and a float, and must return `[B]` probabilities that each pair is
    the same class (pair label 1 = same, 0 = different), as `siamese_kit.layers.TwinClassifierHead`
    does. It is tried on two random batches (weights of both signs) and on identical embeddings
    (probability sigmoid(bias)).

    Args:
        student_fn: the function to check.
        seed: seed of the random inputs.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: naming the failing input and pair, the expected and the returned probability,
            and the likely cause (no absolute value, a squared difference, logits without the sigmoid,
            a product instead of a difference, a missing bias).
        TypeError: if `student_fn` is not callable or `seed` is not an int.
    """
    _check_function(student_fn, "check_twin_head")
    _check_seed(seed, "check_twin_head")
    rng = np.random.default_rng(seed)
    cases = []
    for description, batch, dim, bias in (("random 4-D embeddings", 6, 4, -0.3),
                                          ("random 16-D embeddings", 8, 16, 0.7)):
        weights = rng.normal(scale=1.0 / np.sqrt(dim), size=dim)
        weights[:2] = [abs(weights[0]) + 0.2, -abs(weights[1]) - 0.2]  # both signs, so a missing abs shows
        cases.append((description, rng.normal(size=(batch, dim)), rng.normal(size=(batch, dim)), weights, bias))
    same = rng.normal(size=(3, 5))
    cases.append(("identical embeddings", same, same.copy(), rng.normal(size=5), 0.4))
    for description, a, b, weights, bias in cases:
        a, b, weights = a.astype(np.float32), b.astype(np.float32), weights.astype(np.float32)
        expected = reference_twin_head(a, b, weights, bias)
        got = _as_array(student_fn(a, b, weights, bias), "student_fn(embedding_a, embedding_b, weights, bias)")
        if _close(got, expected):
            continue
        where = f"check_twin_head, {description} ({len(a)} pairs, D={a.shape[1]}, bias {bias:g})"
        if got.shape == (len(a), 1):
            raise AssertionError(f"{where}: expected {len(a)} probabilities (shape {expected.shape}), got shape "
                                 f"{got.shape}. Likely cause: the weighted sum kept its last axis; take one "
                                 "probability per pair, shape [B] (w as a [D] vector, or squeeze axis -1).")
        if got.shape != expected.shape:
            raise AssertionError(f"{where}: expected one probability per pair, shape {expected.shape}, got shape "
                                 f"{got.shape}. Likely cause: sum the weighted differences over the embedding "
                                 "axis only (axis=-1).")
        cause = "compare your formula with sigmoid(sum(w * |a - b|, axis=-1) + b)."
        variants = _twin_head_variants(*(x.astype(np.float64) for x in (a, b, weights)), float(bias))
        for explanation, variant in variants.items():
            if _close(got, variant):
                cause = explanation
                break
        i = int(np.flatnonzero(~np.isclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE))[0])
        raise AssertionError(f"{where}, pair {i}: expected probability {expected[i]:.4f}, got {got[i]:.4f}. "
                             f"Likely cause: {cause}")
    return _ok("twin head: matches sigmoid(w . |a - b| + b) on 2 random batches, identical embeddings give sigmoid(b).")


# -- binary cross-entropy ----------------------------------------------------------------------------

# Keras's `backend.epsilon()`: the probabilities are clipped to [EPSILON, 1 - EPSILON] before the log.
EPSILON = 1e-7
# The largest clip a check accepts: a smaller one only makes the loss of a sure mistake larger.
_LARGEST_EPSILON = 1e-6


def reference_binary_cross_entropy(pair_labels, probabilities, epsilon: float = EPSILON) -> np.ndarray:
    """Per-pair binary cross-entropy, the reference for `check_binary_cross_entropy`.

    Args:
        pair_labels: `[B]`, 1 = same class, 0 = different class.
        probabilities: `[B]` predicted probabilities of "same".
        epsilon: probabilities are clipped to `[epsilon, 1 - epsilon]` first, as Keras does, so that a
            probability of exactly 0 or 1 gives a finite loss.

    Returns:
        float64 `[B]`: `-(y log p + (1 - y) log(1 - p))`.
    """
    y = np.asarray(pair_labels, dtype=np.float64)
    p = np.clip(np.asarray(probabilities, dtype=np.float64), epsilon, 1.0 - epsilon)
    return -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def _cross_entropy_variants(y, p) -> dict[str, np.ndarray]:
    """Per-pair losses of common mistakes, each with the explanation a student needs."""
    right = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return {
        "the pair labels are swapped: in siamese-kit 1 = same class, so log(p) goes with y and log(1 - p) "
        "with (1 - y).": -((1 - y) * np.log(p) + y * np.log(1 - p)),
        "the minus sign is missing: log of a probability is negative, so the loss is -(y log p + (1 - y) "
        "log(1 - p)).": -right,
        "you used log10; cross-entropy uses the natural logarithm (np.log).": right / np.log(10.0),
        "you used log2; cross-entropy uses the natural logarithm (np.log).": right / np.log(2.0),
    }


def _cross_entropy_mismatch(where, labels, probabilities, expected, got) -> AssertionError:
    if got.ndim == 0 or got.size == 1:
        value = float(got.reshape(()))
        if abs(value - expected.mean()) <= TOLERANCE * max(1.0, abs(expected.mean())):
            cause = ("you returned the mean over the pairs; return one loss per pair, shape [B] "
                     "(keras.losses.binary_crossentropy averages over the last axis; "
                     "keras.ops.binary_crossentropy does not).")
        else:
            cause = "return one loss per pair, shape [B], not a single number."
        return AssertionError(f"{where}: expected {len(labels)} per-pair losses (shape {expected.shape}), got one "
                              f"number, {value:.4f}. Likely cause: {cause}")
    if got.shape != expected.shape:
        return AssertionError(f"{where}: expected one loss per pair, shape {expected.shape}, got shape {got.shape}. "
                              "Likely cause: keep the pairs' axis; compute the loss element by element.")
    cause = "compare your formula with -(y * log(p) + (1 - y) * log(1 - p))."
    variants = _cross_entropy_variants(labels.astype(np.float64), probabilities.astype(np.float64))
    for explanation, variant in variants.items():
        if _close(got, variant):
            cause = explanation
            break
    i = int(np.flatnonzero(~np.isclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE))[0])
    kind = "same" if labels[i] == 1 else "different"
    return AssertionError(f"{where}, pair {i} (label {int(labels[i])} = {kind}, probability {probabilities[i]:.4f}): "
                          f"expected loss {expected[i]:.4f}, got {got[i]:.4f}. Likely cause: {cause}")


def check_binary_cross_entropy(student_fn, seed: int = 0) -> bool:
    """Checks a per-pair binary cross-entropy, the loss of the twin classifier.

    The function is called as `student_fn(pair_labels, probabilities)` with float32 arrays `[B]`
    (pair label 1 = same class, 0 = different class; probability of "same") and must return the
    per-pair losses `[B]`, `-(y log p + (1 - y) log(1 - p))`. It is tried on probabilities between
    0.03 and 0.97, then on probabilities of exactly 0 and 1 (and within 1e-12 of them), where the loss
    must stay finite: clip p to `[eps, 1 - eps]` first, as Keras does with eps = 1e-7 (any eps up to
    1e-6 passes).

    Args:
        student_fn: the function to check.
        seed: seed of the random inputs.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: naming the first pair that differs (label, probability, expected and returned
            loss) and the likely cause (swapped labels, a missing minus sign, the mean instead of
            per-pair losses, an infinite loss without clipping, log10 instead of the natural log).
        TypeError: if `student_fn` is not callable or `seed` is not an int.
    """
    _check_function(student_fn, "check_binary_cross_entropy")
    _check_seed(seed, "check_binary_cross_entropy")
    rng = np.random.default_rng(seed)
    what = "student_fn(pair_labels, probabilities)"
    labels = rng.permutation(np.tile([1.0, 0.0], 6)).astype(np.float32)
    probabilities = rng.uniform(0.03, 0.97, size=labels.shape).astype(np.float32)
    expected = reference_binary_cross_entropy(labels, probabilities)
    got = _as_array(student_fn(labels.copy(), probabilities.copy()), what)
    if not _close(got, expected):
        raise _cross_entropy_mismatch(f"check_binary_cross_entropy ({len(labels)} pairs)", labels, probabilities,
                                      expected, got)

    # Saturated sigmoids: each label against a probability at (or within 1e-12 of) 0 and 1, then two
    # ordinary pairs, so the clipping must not disturb the rest. 1 - 1e-13 is 1.0 in float32.
    labels = np.array([1, 0, 1, 0, 1, 0, 1, 0], dtype=np.float32)
    probabilities = np.array([0.0, 0.0, 1.0, 1.0, 1e-13, 1 - 1e-13, 0.7, 0.2], dtype=np.float32)
    expected = reference_binary_cross_entropy(labels, probabilities)
    got = _as_array(student_fn(labels.copy(), probabilities.copy()), what)
    where = "check_binary_cross_entropy (probabilities of exactly 0 and 1)"
    if got.shape != expected.shape:
        raise _cross_entropy_mismatch(where, labels, probabilities, expected, got)
    bad = np.flatnonzero(~np.isfinite(got))
    if len(bad):
        i = int(bad[0])
        raise AssertionError(
            f"{where}, pair {i} (label {int(labels[i])}, probability {float(probabilities[i]):g}): expected loss "
            f"{expected[i]:.4f}, got {got[i]}. Likely cause: log(0) is -inf (and 0 * log(0) is nan), so a "
            "saturated sigmoid gives an infinite loss; clip first, p = np.clip(p, eps, 1 - eps) with eps = 1e-7 "
            "as Keras does."
        )
    p = probabilities.astype(np.float64)  # in float32, 1 - 1e-12 would round to 1.0
    extreme = (p < 1e-12) | (p > 1 - 1e-12)
    right = extreme & (labels == np.round(p))
    wrong = extreme & ~right
    # The losses any clip with eps <= 1e-6 gives; the slack covers float32 rounding of 1 - eps.
    sure_mistake = -np.log(1.1 * _LARGEST_EPSILON)
    sure_right = -np.log(1.0 - 1.1 * _LARGEST_EPSILON) + TOLERANCE
    for mask, cause in (
        (wrong & (got < sure_mistake),
         "the probabilities are clipped too far from 0 and 1: a sure mistake should cost about -log(1e-7) = 16.1; "
         "use eps = 1e-7 (at most 1e-6)."),
        (right & ((got < -TOLERANCE) | (got > sure_right)),
         "a sure right answer (p = 1 for a same pair, p = 0 for a different one) should cost almost nothing; "
         "clip with a tiny eps such as 1e-7."),
        (~extreme & ~np.isclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE),
         "the ordinary pairs changed: clip only to [eps, 1 - eps] with a tiny eps and keep the formula "
         "-(y log p + (1 - y) log(1 - p))."),
    ):
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise AssertionError(
                f"{where}, pair {i} (label {int(labels[i])}, probability {float(probabilities[i]):g}): expected loss "
                f"{expected[i]:.4f} (eps = 1e-7), got {got[i]:.4f}. Likely cause: {cause}"
            )
    return _ok("binary cross-entropy: matches -(y log p + (1 - y) log(1 - p)) per pair (1 = same), "
               "finite at p = 0 and 1.")


# -- prototypical loss -------------------------------------------------------------------------------


def _episode_loss(prototypes, queries, labels, logits_from, reduce=np.mean) -> float:
    """Cross-entropy of the softmax over `logits_from(squared distances)`, reduced over the queries."""
    squared = np.square(queries[:, None, :] - prototypes[None, :, :]).sum(axis=-1)
    logits = logits_from(squared)
    # log-softmax with the row maximum taken out first, so large distances cannot overflow exp.
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(reduce(-log_softmax[np.arange(len(queries)), labels]))


def reference_prototypical_loss(support_embeddings, query_embeddings, query_labels, ways: int) -> float:
    """Prototypical-network loss of one episode, the reference for `check_prototypical_loss`.

    The loss `siamese_kit.models.prototype.PrototypeModel` trains with (Snell, Swersky & Zemel, 2017).

    Args:
        support_embeddings: `[ways * shots, D]`, class by class: the shots of class 0 first, then class 1, ...
        query_embeddings: `[Q, D]`.
        query_labels: `[Q]` int class of each query, in 0 .. ways - 1.
        ways: number of classes in the episode.

    Returns:
        the mean over the queries of the cross-entropy of the softmax over the negative squared
        Euclidean distances to the class prototypes (the mean of each class's shots), a float.
    """
    support = np.asarray(support_embeddings, dtype=np.float64)
    prototypes = support.reshape(int(ways), -1, support.shape[-1]).mean(axis=1)
    queries = np.asarray(query_embeddings, dtype=np.float64)
    return _episode_loss(prototypes, queries, np.asarray(query_labels).astype(np.int64), lambda d2: -d2)


def _prototypical_variants(support, queries, labels, ways) -> dict[str, float]:
    """Losses of common mistakes, each with the explanation a student needs."""
    shots = len(support) // ways
    by_class = support.reshape(ways, shots, -1)
    prototypes = by_class.mean(axis=1)
    return {
        "the distance is not squared: the logits are minus the *squared* Euclidean distances.":
            _episode_loss(prototypes, queries, labels, lambda d2: -np.sqrt(d2)),
        "the sign of the logits is wrong: use minus the squared distance, so the nearest prototype gets the "
        "largest logit.": _episode_loss(prototypes, queries, labels, lambda d2: d2),
        "each prototype is the first shot of its class; it is the mean of all the class's shots.":
            _episode_loss(by_class[:, 0], queries, labels, lambda d2: -d2),
        "each prototype is the sum of its class's shots; take their mean.":
            _episode_loss(by_class.sum(axis=1), queries, labels, lambda d2: -d2),
        "you summed the losses over the queries; the loss is their mean.":
            _episode_loss(prototypes, queries, labels, lambda d2: -d2, reduce=np.sum),
        "the shots are grouped the wrong way: the support comes class by class (all shots of class 0 first), "
        "so reshape to [ways, shots, D] and average over axis 1, not [shots, ways, D].":
            _episode_loss(support.reshape(shots, ways, -1).mean(axis=0), queries, labels, lambda d2: -d2),
    }


def check_prototypical_loss(student_fn, seed: int = 0) -> bool:
    """Checks the loss of a prototypical network on one episode.

    The function is called as `student_fn(support_embeddings, query_embeddings, query_labels, ways)`
    with float32 `[ways * shots, D]` support embeddings given class by class (the shots of class 0
    first, then class 1, ...), float32 `[Q, D]` queries, int `[Q]` query labels and an int, and must
    return one number: the mean over the queries of the cross-entropy of the softmax over the negative
    squared Euclidean distances to the class prototypes (the mean of each class's shots), as
    `siamese_kit.models.prototype.PrototypeModel` trains with. Tried on a 5-way 1-shot and a 4-way
    5-shot episode.

    Args:
        student_fn: the function to check.
        seed: seed of the random episodes.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: naming the episode, the expected and the returned loss and the likely cause
            (an unsquared distance, logits of the wrong sign, the first shot as the prototype, a sum
            over the queries, the shots reshaped in the wrong order).
        TypeError: if `student_fn` is not callable or `seed` is not an int.
    """
    _check_function(student_fn, "check_prototypical_loss")
    _check_seed(seed, "check_prototypical_loss")
    rng = np.random.default_rng(seed)
    for ways, shots, dim in ((5, 1, 4), (4, 5, 6)):
        centres = rng.normal(scale=0.8, size=(ways, dim))
        # Class by class: the shots of class 0, then of class 1, ...
        support = np.repeat(centres, shots, axis=0) + rng.normal(scale=0.6, size=(ways * shots, dim))
        support = support.astype(np.float32)
        labels = rng.permutation(np.repeat(np.arange(ways), 3))
        queries = (centres[labels] + rng.normal(scale=0.6, size=(len(labels), dim))).astype(np.float32)
        expected = reference_prototypical_loss(support, queries, labels, ways)
        where = f"check_prototypical_loss, {ways}-way {shots}-shot episode ({len(labels)} queries, D={dim})"
        got = _as_array(student_fn(support.copy(), queries.copy(), labels.copy(), ways),
                        "student_fn(support_embeddings, query_embeddings, query_labels, ways)")
        if got.size != 1:
            per_query = got.shape == (len(labels),)
            raise AssertionError(
                f"{where}: expected one number (the mean loss, {expected:.4f}), got shape {got.shape}. Likely cause: "
                + ("you returned one loss per query; take their mean." if per_query else
                   "reduce the per-query cross-entropies to their mean, a single number.")
            )
        value = float(got.reshape(()))
        if abs(value - expected) <= TOLERANCE * max(1.0, abs(expected)):
            continue
        cause = ("compare with: prototypes = support.reshape(ways, shots, D).mean(axis=1), logits = -squared "
                 "distances [Q, ways], loss = mean cross-entropy of softmax(logits) against query_labels.")
        variants = _prototypical_variants(support.astype(np.float64), queries.astype(np.float64), labels, ways)
        for explanation, variant in variants.items():
            if abs(value - variant) <= TOLERANCE * max(1.0, abs(variant)):
                cause = explanation
                break
        raise AssertionError(f"{where}: expected loss {expected:.4f}, got {value:.4f}. Likely cause: {cause}")
    return _ok("prototypical loss: matches PrototypeModel's loss on a 5-way 1-shot and a 4-way 5-shot episode.")
