"""Intervals for the numbers siamese-kit reports, in one place: every benchmark, recipe and report that
states an accuracy states its 95% interval the same way.

- `proportion_interval`: right answers out of independent trials (Lake's 400), Wilson's interval.
- `mean_interval`: the mean of independent draws (episode accuracies, paired gains), +- 1.96 standard
  errors, as few-shot papers report it; `accuracy_interval` applies it to per-episode hits.
- `class_bootstrap`: pair metrics (ROC AUC, equal error rate, TAR at a FAR) resampled by class, so the
  interval says how much the number depends on which classes the test part happened to hold.
"""

from __future__ import annotations

import numpy as np

# The 0.975 quantile of the standard normal: a two-sided 95% interval.
Z_95 = 1.959963984540054


def proportion_interval(successes: int, trials: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion: Lake's 400 trials, right answers out of all.

    Wilson's interval, unlike the normal approximation p +- 1.96 sqrt(p(1-p)/n), stays inside [0, 1]
    and keeps its coverage near 0.95 when p is close to 1, where one-shot accuracies live.

    Args:
        successes: right answers.
        trials: all answers (at least 1).

    Returns:
        `(low, high)`.

    Raises:
        ValueError: for trials < 1 or successes outside [0, trials].
    """
    if trials < 1 or not 0 <= successes <= trials:
        raise ValueError(f"proportion_interval: need 0 <= successes <= trials and trials >= 1, got {successes} "
                         f"of {trials}.")
    z = Z_95
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * np.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def accuracy_interval(hits) -> tuple[float, float]:
    """Mean accuracy over episodes and the half-width of its 95% confidence interval.

    Episodes are the independent draws (queries of one episode share its classes), so the interval
    is 1.96 standard errors of the per-episode accuracies, as few-shot papers report it.

    Args:
        hits: bool `[episodes, queries]` (from `episode_hits`), at least 2 episodes.

    Returns:
        `(accuracy, half_width)`.

    Raises:
        ValueError: with fewer than 2 episodes.
    """
    per_episode = np.asarray(hits, dtype=np.float64).reshape(len(hits), -1).mean(axis=1)
    if len(per_episode) < 2:
        raise ValueError(f"accuracy_interval: needs at least 2 episodes, got {len(per_episode)}.")
    return mean_interval(per_episode)


def mean_interval(values) -> tuple[float, float]:
    """The mean of independent draws and the half-width of its 95% interval, 1.96 standard errors.

    Args:
        values: `[n]` one number per independent draw (an episode's accuracy, a paired difference), n >= 2.

    Returns:
        `(mean, half_width)`.

    Raises:
        ValueError: with fewer than 2 values.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(values) < 2:
        raise ValueError(f"mean_interval: needs at least 2 values, got {len(values)}.")
    return float(values.mean()), float(1.96 * values.std(ddof=1) / np.sqrt(len(values)))


# Resampling fewer classes than this gives no interval worth printing: with two test classes the only
# resample holding both kinds of pair is the two classes themselves, an interval of zero width.
MIN_CLASSES_TO_RESAMPLE = 5


def class_bootstrap(statistics: dict, scores, pair_labels, classes_a, classes_b, resamples: int = 200,
                    seed: int = 0) -> dict[str, tuple[float, float]]:
    """95% percentile intervals of pair statistics, resampling the classes the pairs come from.

    In an open-set test the classes are the sample: another draw of test classes gives other pairs. Each
    resample draws the test classes with replacement; a same-class pair of class c then counts as often as
    c was drawn, a different-class pair of a and b as (draws of a) x (draws of b), and each statistic is
    computed on the pairs so repeated. Resamples without both kinds of pair are skipped.

    Args:
        statistics: name -> `fn(scores, pair_labels) -> float`.
        scores: `[P]` pair scores.
        pair_labels: `[P]` 1 = same class, 0 = different.
        classes_a: `[P]` the class of each pair's first image.
        classes_b: `[P]` the class of each pair's second image.
        resamples: how many class resamples.
        seed: the resampling seed.

    Returns:
        name -> `(low, high)`, the 2.5th and 97.5th percentiles.

    Raises:
        ValueError: with fewer than `MIN_CLASSES_TO_RESAMPLE` classes, or no resample holding both kinds of pair.
    """
    scores, labels = np.asarray(scores), np.asarray(pair_labels)
    present, positions = np.unique(np.concatenate([classes_a, classes_b]), return_inverse=True)
    if len(present) < MIN_CLASSES_TO_RESAMPLE:
        raise ValueError(f"class_bootstrap: {len(present)} classes are too few to resample (at least "
                         f"{MIN_CLASSES_TO_RESAMPLE}): nearly every resample would be the same classes again, an "
                         "interval of no width. Test on more classes.")
    first, second = positions[: len(scores)], positions[len(scores):]
    rng = np.random.default_rng(seed)
    values = {name: [] for name in statistics}
    for _ in range(resamples):
        drawn = rng.multinomial(len(present), np.full(len(present), 1.0 / len(present)))
        weight = np.where(labels == 1, drawn[first], drawn[first] * drawn[second])
        repeated = np.repeat(np.arange(len(scores)), weight)
        if not 0 < labels[repeated].sum() < len(repeated):
            continue
        for name, statistic in statistics.items():
            values[name].append(statistic(scores[repeated], labels[repeated]))
    if not values or not next(iter(values.values())):
        raise ValueError("class_bootstrap: no resample held both same and different pairs; add test classes.")
    return {name: (float(np.percentile(found, 2.5)), float(np.percentile(found, 97.5))) for name, found in values.items()}


__all__ = ["MIN_CLASSES_TO_RESAMPLE", "Z_95", "accuracy_interval", "class_bootstrap", "mean_interval", "proportion_interval"]
