"""Self-checks for verification at a fixed false accept rate (notebook 09)."""

from __future__ import annotations

import numpy as np

from ._common import _check_function, _check_seed, _close, _ok, _one_number


def reference_true_accept_rate(distances, pair_labels, false_accept_rate: float) -> float:
    """The largest share of genuine (same) pairs accepted while at most `false_accept_rate` of the
    impostor (different) pairs are, a pair accepted when its distance is below the threshold.

    Args:
        distances: `[P]` pair distances.
        pair_labels: `[P]`, 1 = same class, 0 = different class.
        false_accept_rate: the share of impostor pairs allowed through, in (0, 1).

    Returns:
        the true accept rate.
    """
    distances = np.asarray(distances, dtype=np.float64)
    labels = np.asarray(pair_labels)
    genuine, impostor = distances[labels == 1], distances[labels == 0]
    best = 0.0
    # Accepting "below t" for every t just above a distance tries each decision the scores allow.
    for threshold in np.nextafter(np.unique(distances), np.inf):
        if np.mean(impostor < threshold) <= false_accept_rate:
            best = max(best, float(np.mean(genuine < threshold)))
    return best


def _cases(rng):
    """(description, distances, labels, rate): impostor counts make each rate an exact count of them."""
    for genuine, impostors, rate in ((40, 200, 0.05), (25, 400, 0.01), (60, 100, 0.1)):
        distances = np.concatenate([rng.gamma(2.0, 0.25, genuine), 0.6 + rng.gamma(3.0, 0.35, impostors)])
        labels = np.repeat([1, 0], [genuine, impostors])
        order = rng.permutation(len(labels))
        yield (f"{genuine} same and {impostors} different pairs, false accept rate {rate}",
               distances[order].astype(np.float32), labels[order], rate)


def _variants(distances, labels, rate) -> dict[str, float]:
    """What the classic mistakes return, by the explanation of each."""
    genuine, impostor = distances[labels == 1], distances[labels == 0]
    thresholds = np.nextafter(np.unique(distances.astype(np.float64)), np.inf)
    over_all = max((np.mean(genuine < t) for t in thresholds if np.mean((distances < t) & (labels == 0)) <= rate),
                   default=0.0)
    strict = max((np.mean(genuine < t) for t in thresholds if np.mean(impostor < t) < rate), default=0.0)
    swapped = max((np.mean(impostor < t) for t in thresholds if np.mean(genuine < t) <= rate), default=0.0)
    best_threshold = max((t for t in thresholds if np.mean(impostor < t) <= rate), default=0.0)
    return {
        "the false accept rate divides by all pairs; it is the share of the *different* pairs accepted.": over_all,
        "the rate may be reached, not only approached: keep thresholds whose false accept rate is <= the target.":
            strict,
        "genuine and impostor pairs are swapped: genuine pairs are the same-class ones (label 1).": swapped,
        "you returned the threshold; return the share of same pairs accepted at it.": float(best_threshold),
    }


def check_true_accept_rate(student_fn, seed: int = 0) -> bool:
    """Checks a function that returns the true accept rate at a fixed false accept rate, for distances.

    The function is called as `student_fn(distances, pair_labels, false_accept_rate)` with float32
    distances `[P]`, int pair labels `[P]` (1 = same, 0 = different) and a rate in (0, 1), and must
    return the largest share of same pairs with distance below a threshold at which the share of
    different pairs below it is at most the rate.

    Args:
        student_fn: the function to check.
        seed: seed of the random distances.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: naming the case, the expected and the returned rate, and the likely cause
            (dividing by all pairs, a strict comparison with the rate, labels swapped, the threshold
            returned instead of the rate).
        TypeError: if `student_fn` is not callable or `seed` is not an int.
    """
    _check_function(student_fn, "check_true_accept_rate")
    _check_seed(seed, "check_true_accept_rate")
    rng = np.random.default_rng(seed)
    for description, distances, labels, rate in _cases(rng):
        expected = reference_true_accept_rate(distances, labels, rate)
        where = f"check_true_accept_rate ({description})"
        got = _one_number(student_fn(distances.copy(), labels.copy(), rate),
                          "student_fn(distances, pair_labels, false_accept_rate)", where,
                          "Return one number: the share of same pairs accepted.")
        if _close(np.array(got), np.array(expected)):
            continue
        cause = ("try every threshold just above a distance; keep those letting at most that share of the different "
                 "pairs through, and return the largest share of same pairs they let through.")
        for explanation, value in _variants(distances.astype(np.float64), labels, rate).items():
            if _close(np.array(got), np.array(value)) and not _close(np.array(value), np.array(expected)):
                cause = explanation
                break
        raise AssertionError(f"{where}: expected a true accept rate of {expected:.4f}, got {got:.4f}. Likely cause: "
                             f"{cause}")
    return _ok("true accept rate at a fixed false accept rate, the rate reached exactly included.")
