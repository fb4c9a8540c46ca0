"""Pairs side by side with their target, prediction and score, and the most confident mistakes."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure, FigureBase

from ..data.imageset import ImageSet
from ._common import (
    _PAIR_WORDS,
    CORRECT_COLOUR,
    WRONG_COLOUR,
    format_score,
    _grid_figure,
    hide_ticks,
    _pair_images,
    _pair_labels,
    show_image,
)

if TYPE_CHECKING:  # pairs.py imports TensorFlow; plotting should not need it at run time.
    from ..data.streams.pairs import PairSet


# ---------------------------------------------------------------------------------------------------
# pairs


def _join_pair(image_a: np.ndarray, image_b: np.ndarray) -> np.ndarray:
    """The two images side by side with a mid-grey bar, visible on black (MNIST) and white (Omniglot)."""
    height, width, channels = image_a.shape
    gap = max(1, round(width / 14))
    separator = np.full((height, gap, channels), 128, dtype=np.result_type(image_a, image_b))
    return np.concatenate([image_a, separator, image_b], axis=1)


def pair_grid(
    images_a,
    images_b,
    targets,
    predictions=None,
    scores=None,
    score_name: str = "distance",
    columns: int = 5,
    title: str | None = None,
    figure: FigureBase | None = None,
) -> Figure:
    """Pairs side by side, titled with the target, the prediction and the score.

    Each tile shows one pair, its first image on the left, under a title such as
    "Target: same / Predicted: same / Distance: 0.12". With predictions, correct tiles get a green
    title and frame; wrong ones a red title, a thicker red frame and the word "WRONG", so the two
    differ even without colour.

    Args:
        images_a: first image of each pair, `[P, H, W, C]` (or `[P, H, W]`), pixels 0..255.
        images_b: second image of each pair, the same shape as `images_a`.
        targets: true pair labels `[P]`, 1 = same class, 0 = different class.
        predictions: predicted pair labels `[P]`, 1 = same class, 0 = different class; optional.
        scores: a number per pair `[P]` (a distance or a probability); optional.
        score_name: what the scores are, used as their label: "distance" or "score" (any word works).
        columns: tiles per row.
        title: figure title; `None` for none.
        figure: a Figure or SubFigure to draw into (one panel of a larger picture, e.g. from
            `fig.subfigures(...)`); a new Figure is made when `None`.

    Returns:
        Figure (or the given `figure`) with one axes per pair (blank ones fill the last row).

    Raises:
        ValueError: naming the argument whose shape, length or values are wrong.

    Example:
        >>> fig = pair_grid(a, b, pair_label, predictions=distance < threshold, scores=distance)
    """
    images_a, images_b = _pair_images(images_a, images_b)
    count = len(images_a)
    targets = _pair_labels(targets, "targets", count)
    if predictions is not None:
        predictions = _pair_labels(predictions, "predictions", count)
    if scores is not None:
        scores = np.asarray(scores, dtype=float).reshape(-1)
        if len(scores) != count:
            raise ValueError(f"scores has {len(scores)} values for {count} pairs; give one per pair.")
    if not isinstance(columns, (int, np.integer)) or columns < 1:
        raise ValueError(f"columns must be an integer >= 1, got {columns!r}.")
    score_label = str(score_name).strip().capitalize() or "Score"

    columns = min(columns, count)
    rows = math.ceil(count / columns)
    height, width = images_a.shape[1:3]
    tile_width = 2.3
    title_lines = 1 + (predictions is not None) + (scores is not None)
    # Constrained layout pads each image, so it is drawn a little narrower than the tile.
    tile_height = 0.9 * tile_width * height / (2 * width) + 0.2 + 0.17 * title_lines
    figure = _grid_figure(figure, (columns * tile_width, rows * tile_height + 0.4), "compressed")
    axes = figure.subplots(rows, columns, squeeze=False).reshape(-1)
    for ax in axes[count:]:
        hide_ticks(ax)
    for index, ax in enumerate(axes[:count]):
        show_image(ax, _join_pair(images_a[index], images_b[index]))
        lines = [f"Target: {_PAIR_WORDS[targets[index]]}"]
        colour = "black"
        if predictions is None:
            hide_ticks(ax, frame=True)
        else:
            correct = predictions[index] == targets[index]
            colour = CORRECT_COLOUR if correct else WRONG_COLOUR
            lines.append(
                f"Predicted: {_PAIR_WORDS[predictions[index]]}" + ("" if correct else " (WRONG)")
            )
            hide_ticks(ax, frame=True)
            for spine in ax.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(2.0 if correct else 4.0)
        if scores is not None:
            lines.append(f"{score_label}: {format_score(scores[index])}")
        ax.set_title("\n".join(lines), color=colour, fontsize=9,
                     fontweight="normal" if colour != WRONG_COLOUR else "bold")
    if title:
        figure.suptitle(title)
    return figure


def pair_set_grid(
    imageset: ImageSet,
    pair_set: "PairSet",
    predictions=None,
    scores=None,
    count: int = 10,
    **kw,
) -> Figure:
    """`pair_grid` for the first `count` pairs of a PairSet, taking images from its ImageSet.

    Args:
        imageset: the ImageSet the pair indices point into.
        pair_set: a `PairSet` (`index_a`, `index_b`, `pair_label`; 1 = same class, 0 = different).
        predictions: predicted pair labels for every pair of `pair_set` (1 = same class, 0 =
            different); only the first `count` are shown.
        scores: a score or distance for every pair of `pair_set`; only the first `count` are shown.
        count: pairs to show (all of them if the set is smaller).
        **kw: passed on to `pair_grid` (`score_name`, `columns`, `title`).

    Returns:
        Figure, as from `pair_grid`.

    Raises:
        ValueError: if `predictions` or `scores` do not have one value per pair of `pair_set`, or
            an index is outside the ImageSet.
    """
    if not isinstance(imageset, ImageSet):
        raise ValueError(f"imageset must be an ImageSet, got {type(imageset).__name__}.")
    if not all(hasattr(pair_set, name) for name in ("index_a", "index_b", "pair_label")):
        raise ValueError(
            f"pair_set must be a PairSet (index_a, index_b, pair_label), got {type(pair_set).__name__}; "
            "make one with siamese_kit.data.fixed_pairs."
        )
    if not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be an integer >= 1, got {count!r}.")
    total = len(pair_set.pair_label)
    shown = min(count, total)
    index_a = np.asarray(pair_set.index_a)[:shown]
    index_b = np.asarray(pair_set.index_b)[:shown]
    if shown and max(index_a.max(), index_b.max()) >= len(imageset):
        raise ValueError(
            f"pair_set points past the end of {imageset.name!r} ({len(imageset)} images); "
            "pass the ImageSet the pairs were drawn from."
        )

    def first(values, name):
        if values is None:
            return None
        values = np.asarray(values).reshape(-1)
        if len(values) != total:
            raise ValueError(
                f"{name} has {len(values)} values but pair_set has {total} pairs; give one per pair "
                "of the whole set (only the first `count` are shown)."
            )
        return values[:shown]

    return pair_grid(
        imageset.images[index_a],
        imageset.images[index_b],
        np.asarray(pair_set.pair_label)[:shown],
        predictions=first(predictions, "predictions"),
        scores=first(scores, "scores"),
        **kw,
    )


def _score_kind(score_kind: str) -> str:
    """Checks `score_kind`: "distance" (small = same class) or "similarity" (large = same class)."""
    if score_kind not in ("distance", "similarity"):
        raise ValueError(
            f"score_kind must be 'distance' (small = same class) or 'similarity' (large = same "
            f"class), got {score_kind!r}; models say which in `model.score_kind`."
        )
    return score_kind


def mistakes_grid(
    images_a,
    images_b,
    targets,
    scores,
    threshold: float,
    score_kind: str,
    count: int = 10,
    columns: int = 5,
    title: str | None = None,
) -> Figure:
    """The pairs the model gets most confidently wrong at a threshold, drawn by `pair_grid`.

    A pair is predicted "same" (1) when its distance is below the threshold (`score_kind`
    "distance") or its similarity is at or above it ("similarity"), by
    `siamese_kit.evaluation.predict_same`. Wrong pairs are those whose prediction differs from the
    target; `siamese_kit.evaluation.hardest_mistakes` picks the ones furthest from the threshold
    (largest `|score - threshold|`, ties in pair order), shown first, each titled with its target,
    prediction (marked "WRONG", red) and score.

    Args:
        images_a: first image of each pair, `[P, H, W, C]` (or `[P, H, W]`), pixels 0..255.
        images_b: second image of each pair, the same shape as `images_a`.
        targets: true pair labels `[P]`, 1 = same class, 0 = different class.
        scores: the model's score for each pair `[P]`, a distance or a similarity.
        threshold: the score that separates "same" from "different".
        score_kind: `"distance"` (small = same class) or `"similarity"` (large = same class).
        count: at most this many mistakes are shown.
        columns: tiles per row.
        title: figure title; by default it says how many mistakes there are and the threshold.

    Returns:
        Figure from `pair_grid` with one axes per mistake shown, most confident first; when no pair
        is wrong, a Figure with a single axes saying "No mistakes at threshold ...".

    Raises:
        ValueError: naming the argument whose shape, length or values are wrong.

    Example:
        >>> fig = mistakes_grid(a, b, pair_label, distance, threshold=0.7, score_kind="distance")
    """
    images_a, images_b = _pair_images(images_a, images_b)
    total = len(images_a)
    targets = _pair_labels(targets, "targets", total)
    try:
        scores = np.asarray(scores, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError("scores must be numbers, one per pair.") from None
    if len(scores) != total:
        raise ValueError(f"scores has {len(scores)} values for {total} pairs; give one per pair.")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contains NaN or infinite values; check the model's output.")
    try:
        threshold = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a number, got {threshold!r}.") from None
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}.")
    score_kind = _score_kind(score_kind)
    if not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be an integer >= 1, got {count!r}.")

    # Imported here: evaluation imports Keras, which the rest of this module does without.
    from ..evaluation import hardest_mistakes, predict_same

    predictions = predict_same(scores, threshold, score_kind).astype(int)
    wrong_count = int(np.sum(predictions != targets))
    chosen = hardest_mistakes(scores, targets, threshold, score_kind, count=int(count))

    threshold_text = f"{score_kind} threshold {format_score(threshold)}"
    if len(chosen) == 0:
        figure = Figure(figsize=(5.0, 2.0), layout="constrained")
        ax = figure.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"No mistakes at threshold {format_score(threshold)}\n"
                f"({total} pairs, {score_kind})", ha="center", va="center", fontsize=12,
                transform=ax.transAxes)
        if title:
            figure.suptitle(title)
        return figure
    if title is None:
        title = (
            f"{len(chosen)} most confident of {wrong_count} mistakes in {total} pairs "
            f"({threshold_text})"
        )
    return pair_grid(
        images_a[chosen],
        images_b[chosen],
        targets[chosen],
        predictions=predictions[chosen],
        scores=scores[chosen],
        score_name=score_kind,
        columns=columns,
        title=title,
    )
