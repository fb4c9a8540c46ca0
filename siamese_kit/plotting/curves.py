"""Curves and matrices of training and evaluation: loss, metric and validation curves, confusion matrix, ROC curve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._common import _figure, format_score


# ---------------------------------------------------------------------------------------------------
# training and evaluation


def training_curves(
    history,
    keys: Sequence[str] | str | None = None,
    title: str | None = "Training",
    ax: Axes | None = None,
    x_label: str = "epoch",
) -> Figure:
    """Loss and metric curves, one line per key; `val_x` is dashed in the colour of `x`.

    Args:
        history: a `keras.callbacks.History` (what `model.fit` returns) or a dict of name -> list
            of values, one per epoch or per step. Series may differ in length.
        keys: names to plot; by default every key whose name contains "loss".
        title: axes title; `None` for none.
        ax: axes to draw into; a new figure is made when `None`.
        x_label: what one value stands for, "epoch" or "step"; x runs 1, 2, ... unless `history`
            has a series of that name (as `StepLogger.history()` has "step"), which then gives x.

    Returns:
        The Figure holding the axes.

    Raises:
        ValueError: naming `history` or `keys` when there is nothing to plot or a key is missing.

    Example:
        >>> fig = training_curves(model.fit(stream, epochs=10), keys=["loss", "val_loss"])
    """
    record = getattr(history, "history", history)
    if not isinstance(record, Mapping):
        raise ValueError(
            f"history must be a keras History or a dict of name -> values, got {type(history).__name__}."
        )
    if keys is None:
        keys = [key for key in record if "loss" in str(key)]
        if not keys:
            raise ValueError(
                f"history has no key containing 'loss' (keys: {sorted(map(str, record))}); "
                "name the ones to plot with keys=[...]."
            )
    elif isinstance(keys, str):
        keys = [keys]
    missing = [key for key in keys if key not in record]
    if missing:
        raise ValueError(f"keys {missing} are not in history; it has {sorted(map(str, record))}.")
    if not keys:
        raise ValueError("keys is empty; name at least one series to plot.")

    figure, ax = _figure(ax, (7.0, 4.5))
    colours: dict[str, str] = {}
    cycle = iter(f"C{i}" for i in range(10_000))
    for key in keys:
        try:
            values = np.asarray(record[key], dtype=float).reshape(-1)
        except (TypeError, ValueError) as error:
            raise ValueError(f"history[{key!r}] must be a list of numbers: {error}") from None
        is_validation = str(key).startswith("val_")
        base = str(key)[4:] if is_validation else str(key)
        if base not in colours:
            colours[base] = next(cycle)
        given_x = record.get(x_label) if x_label not in keys else None
        x = (
            np.asarray(given_x, dtype=float)
            if given_x is not None and len(given_x) == len(values)
            else np.arange(1, len(values) + 1)
        )
        ax.plot(
            x,
            values,
            label=str(key),
            color=colours[base],
            linestyle="--" if is_validation else "-",
            # A one-epoch run is a single point, invisible as a bare line.
            marker="o" if len(values) <= 30 else None,
            markersize=3,
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # there is no epoch 2.5
    ax.set_xlabel(x_label)
    ax.set_ylabel("value" if len(keys) > 1 else str(keys[0]))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    if title:
        ax.set_title(title)
    return figure


def validation_curve(watched: Mapping, title: str | None = None, ax: Axes | None = None) -> Figure:
    """The validation ROC AUC measured while training, the best step and the step kept marked.

    Args:
        watched: `ValidationWatch.summary()` (keys `steps`, `scores`, `best_step`, `kept_step`, `keep`).
        title: axes title; None says which step was kept.
        ax: axes to draw into; a new figure is made when None.

    Returns:
        The Figure holding the axes.

    Raises:
        ValueError: when `watched` has no measured steps.
    """
    steps, scores = list(watched.get("steps", [])), list(watched.get("scores", []))
    if not steps or len(steps) != len(scores):
        raise ValueError("validation_curve: watched must hold equal, non-empty `steps` and `scores` lists "
                         "(ValidationWatch.summary() after training).")
    figure, ax = _figure(ax, (6.5, 3.6))
    ax.plot(steps, scores, "o-", color="C1", markersize=3, label="validation ROC AUC")
    kept = watched.get("kept_step")
    if kept is not None and kept in steps:
        ax.axvline(kept, color="0.3", linestyle="--", linewidth=1)
        ax.plot([kept], [scores[steps.index(kept)]], "o", color="C2", markersize=8,
                label=f"kept: step {kept} ({watched.get('keep', 'best')})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.set_ylabel("ROC AUC, validation classes")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    ax.set_title(title if title is not None else f"Validation while training: step {kept} kept of {steps[-1]}")
    return figure


def confusion_matrix_plot(
    matrix,
    class_names: Sequence[str] | None = None,
    normalize: bool = False,
    title: str | None = "Confusion matrix",
    ax: Axes | None = None,
) -> Figure:
    """A confusion matrix as an image, rows the true class and columns the predicted one, drawn to show
    the mistakes: the colour scale is set by the off-diagonal cells alone and the diagonal (the images
    right) is greyed, so a dozen confusions among 10,000 right answers still show.

    Args:
        matrix: `[K, K]` counts, `matrix[i, j]` = images of class i predicted as class j.
        class_names: name of each class; defaults to 0 .. K-1.
        normalize: show each row divided by its total (the share of each true class, as a percentage)
            instead of the counts (rows with no images stay 0).
        title: axes title; `None` for none.
        ax: axes to draw into; a new figure is made when `None`.

    Returns:
        The Figure holding the axes (and a colour bar for the mistakes). Up to 20 classes, each cell shows
        its value: the diagonal in grey, the mistakes in black or white, an empty off-diagonal cell blank.

    Raises:
        ValueError: naming `matrix` or `class_names` when the shapes disagree or counts are negative.
    """
    counts = np.asarray(matrix, dtype=float)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(f"matrix must be a square [K, K] array of counts, got shape {counts.shape}.")
    if not np.all(np.isfinite(counts)) or counts.min() < 0:
        raise ValueError("matrix must hold finite counts >= 0.")
    size = counts.shape[0]
    if class_names is None:
        class_names = [str(i) for i in range(size)]
    class_names = [str(name) for name in class_names]
    if len(class_names) != size:
        raise ValueError(f"class_names has {len(class_names)} names for a {size}x{size} matrix.")

    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        shown = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    else:
        shown = counts
    diagonal = np.eye(size, dtype=bool)
    # The scale belongs to the mistakes: with the diagonal in it, every mistake would be near white.
    top = max(float(shown[~diagonal].max()) if size > 1 else 0.0, 1e-12 if normalize else 1.0)
    colours = matplotlib.colormaps["Reds"].with_extremes(bad="0.93")

    side = min(4.0 + 0.45 * size, 16.0)
    figure, ax = _figure(ax, (side + 1.2, side))
    image = ax.imshow(np.ma.masked_where(diagonal, shown), cmap=colours, vmin=0.0, vmax=top, interpolation="nearest")
    figure.colorbar(image, ax=ax, label="share of the true class (mistakes)" if normalize else "mistakes (count)",
                    shrink=0.8)
    if size <= 20:
        fontsize = 9 if size <= 10 else 6
        for row in range(size):
            for column in range(size):
                value = shown[row, column]
                if row != column and value == 0:
                    continue
                text = f"{100 * value:.1f}%" if normalize else f"{value:.0f}"
                colour = "0.45" if row == column else ("white" if value > 0.6 * top else "black")
                ax.text(column, row, text, ha="center", va="center", fontsize=fontsize, color=colour)
    if size <= 40:
        ax.set_xticks(range(size), class_names, rotation=45 if max(map(len, class_names)) > 2 else 0,
                      ha="right" if max(map(len, class_names)) > 2 else "center")
        ax.set_yticks(range(size), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    return figure


def per_class_accuracy_plot(
    accuracies,
    class_names: Sequence[str],
    counts=None,
    most: int = 30,
    title: str | None = "Accuracy per class (worst first)",
    ax: Axes | None = None,
) -> Figure:
    """Accuracy of each class as horizontal bars, worst first, to see which classes the model confuses.

    Args:
        accuracies: `[K]` accuracy per class in [0, 1]; NaN for a class with no test image (left out).
        class_names: name of each class.
        counts: optional `[K]` test images per class, written beside each bar.
        most: at most this many classes are drawn (the worst ones).
        title: axes title; `None` for none.
        ax: axes to draw into; a new figure is made when `None`.

    Returns:
        The Figure holding the axes.

    Raises:
        ValueError: when the lengths disagree or an accuracy is outside [0, 1].
    """
    values = np.asarray(accuracies, dtype=float)
    names = [str(n) for n in class_names]
    if values.ndim != 1 or len(values) != len(names):
        raise ValueError(f"accuracies has shape {values.shape} for {len(names)} class names; give one per class.")
    shown = np.flatnonzero(~np.isnan(values))
    if np.any((values[shown] < 0) | (values[shown] > 1)):
        raise ValueError("accuracies must lie in [0, 1].")
    order = shown[np.argsort(values[shown], kind="stable")][:most]
    figure, ax = _figure(ax, (6.5, 0.9 + 0.28 * max(len(order), 1)))
    ax.barh(range(len(order)), values[order], color="#4c72b0")
    ax.set_yticks(range(len(order)), [names[i] for i in order], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("accuracy")
    if counts is not None:
        counts = np.asarray(counts)
        for row, index in enumerate(order):
            ax.text(values[index] + 0.01, row, f"{values[index]:.2f} (n={int(counts[index])})", va="center", fontsize=7)
    if title:
        ax.set_title(title)
    return figure


def _unit_number(value, name: str) -> float:
    """A single finite number in [0, 1] (a rate or an area)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}.") from None
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {number}; rates and areas are fractions.")
    return number


def roc_curve_plot(
    false_positive_rate,
    true_positive_rate,
    chosen_point=None,
    auc: float | None = None,
    equal_error_rate: float | None = None,
    title: str | None = "ROC curve",
    ax: Axes | None = None,
    log_false_positive_rate: bool = False,
) -> Figure:
    """A ROC curve of pair verification, with the chance diagonal and an optional chosen threshold.

    "Positive" means same class (pair label 1; 0 = different class): the true positive rate is the
    fraction of same-class pairs called "same", the false positive rate the fraction of
    different-class pairs called "same". The rates are those of a sweep of thresholds, such as
    `sklearn.metrics.roc_curve` returns; whether the scores were distances or similarities does not
    matter here.

    Args:
        false_positive_rate: `[T]` false positive rates, each in [0, 1].
        true_positive_rate: `[T]` true positive rates, each in [0, 1], one per false positive rate.
        chosen_point: optional `(fpr, tpr, threshold)` of the threshold in use, drawn as a marked
            point annotated "threshold 0.73".
        auc: area under the curve, shown in the legend; optional.
        equal_error_rate: the rate where false positives equal false negatives, shown in the
            legend and marked on the curve at `(eer, 1 - eer)`; optional.
        title: axes title; `None` for none.
        ax: axes to draw into; a new figure is made when `None`.
        log_false_positive_rate: draw the false positive rate on a log axis (from the smallest non-zero
            rate measured to 1): at an AUC of 0.999 the linear curve hugs the corner, while a log axis shows
            how many same pairs are accepted at 1 false accept in 100, 1,000, ...

    Returns:
        The Figure holding the axes: the ROC line first, then the dashed chance diagonal, then the
        equal-error and chosen points when given.

    Raises:
        ValueError: naming the argument when the rates differ in length, have fewer than two
            values, or a rate, `auc` or `equal_error_rate` lies outside [0, 1].

    Example:
        >>> fpr, tpr, thresholds = sklearn.metrics.roc_curve(pair_label, -distance)
        >>> fig = roc_curve_plot(fpr, tpr, chosen_point=(0.1, 0.9, 0.73), auc=0.95)
    """
    rates = {}
    for name, values in (("false_positive_rate", false_positive_rate),
                         ("true_positive_rate", true_positive_rate)):
        try:
            array = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a 1-D array of rates in [0, 1].") from None
        if array.ndim != 1 or len(array) < 2:
            raise ValueError(
                f"{name} must be a 1-D array of at least two rates, got shape {array.shape}."
            )
        if not np.all((array >= 0.0) & (array <= 1.0)):  # also rejects NaN
            raise ValueError(
                f"{name} must hold rates in [0, 1], found values from {np.nanmin(array)} to "
                f"{np.nanmax(array)}; pass rates, not counts or thresholds."
            )
        rates[name] = array
    fpr, tpr = rates["false_positive_rate"], rates["true_positive_rate"]
    if len(fpr) != len(tpr):
        raise ValueError(
            f"true_positive_rate has {len(tpr)} values but false_positive_rate has {len(fpr)}; "
            "give one (fpr, tpr) pair per threshold."
        )
    if auc is not None:
        auc = _unit_number(auc, "auc")
    if equal_error_rate is not None:
        equal_error_rate = _unit_number(equal_error_rate, "equal_error_rate")
    if chosen_point is not None:
        if isinstance(chosen_point, str) or np.ndim(chosen_point) != 1 or len(chosen_point) != 3:
            raise ValueError(
                f"chosen_point must be (fpr, tpr, threshold), got {chosen_point!r}."
            )
        point_fpr = _unit_number(chosen_point[0], "chosen_point's fpr")
        point_tpr = _unit_number(chosen_point[1], "chosen_point's tpr")
        try:
            point_threshold = float(chosen_point[2])
        except (TypeError, ValueError):
            raise ValueError(
                f"chosen_point's threshold must be a number, got {chosen_point[2]!r}."
            ) from None

    figure, ax = _figure(ax, (5.5, 5.0))
    label = "ROC" if auc is None else f"ROC (AUC = {auc:.3f})"
    ax.plot(fpr, tpr, color="C0", linewidth=2.0, label=label)
    chance = np.geomspace(1e-7, 1.0, 200) if log_false_positive_rate else np.array([0.0, 1.0])
    ax.plot(chance, chance, color="grey", linestyle="--", linewidth=1.0, label="chance")
    if equal_error_rate is not None:
        ax.plot([equal_error_rate], [1.0 - equal_error_rate], linestyle="", marker="D",
                markersize=7, color="C1", markeredgecolor="black",
                label=f"EER = {equal_error_rate:.3f}", zorder=3)
    if chosen_point is not None:
        text = f"threshold {format_score(point_threshold)}"
        ax.plot([point_fpr], [point_tpr], linestyle="", marker="o", markersize=9,
                markerfacecolor="none", markeredgecolor="black", markeredgewidth=2.0,
                label=f"chosen: FPR {point_fpr:.3g}, TPR {point_tpr:.3g}", zorder=4)
        # Text goes toward the middle of the axes, so it stays inside near any edge.
        right = point_fpr <= 0.6
        below = point_tpr >= 0.25
        ax.annotate(
            text, (point_fpr, point_tpr), xytext=(12 if right else -12, -14 if below else 14),
            textcoords="offset points", ha="left" if right else "right",
            va="top" if below else "bottom", fontsize=9,
            arrowprops={"arrowstyle": "-", "color": "black", "linewidth": 0.8},
        )
    if log_false_positive_rate:
        smallest = float(fpr[fpr > 0].min()) if (fpr > 0).any() else 1e-3
        ax.set_xscale("log")
        ax.set_xlim(smallest / 2, 1.05)
        ax.set_ylim(-0.02, 1.02)
    else:
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_aspect("equal")
    ax.set_xlabel("false positive rate (different pairs called same)" + (", log scale" if log_false_positive_rate else ""))
    ax.set_ylabel("true positive rate (same pairs called same)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    if title:
        ax.set_title(title)
    return figure


def score_histograms(scores, pair_labels, threshold: float | None = None, score_kind: str = "distance",
                     title: str | None = "Same and different pairs", ax: Axes | None = None,
                     margin: float | None = None) -> Figure:
    """The scores of same-class (genuine) and different-class (impostor) pairs as two histograms, with
    the threshold: how far apart the two kinds lie, and what falls on the wrong side.

    Each histogram is normalised to its own pairs (density), so a small genuine set is as visible as a
    large impostor set; the legend gives each kind's count.

    Args:
        scores: `[P]` pair scores.
        pair_labels: `[P]` 1 = same class, 0 = different.
        threshold: the decision threshold, drawn as a vertical line; optional.
        score_kind: `"distance"` or `"similarity"`, for the axis label.
        title: axes title; `None` for none.
        ax: axes to draw into; a new figure is made when `None`.
        margin: a contrastive loss's margin, drawn as a dotted line (different pairs are pushed out to it
            and no further); optional, distances only.

    Returns:
        The Figure holding the axes.

    Raises:
        ValueError: when scores and labels differ in length or one kind of pair is missing.
    """
    scores, labels = np.asarray(scores, dtype=float), np.asarray(pair_labels)
    if scores.shape != labels.shape or not (labels == 1).any() or not (labels == 0).any():
        raise ValueError(f"score_histograms needs one label per score and both kinds of pair, got {scores.shape} "
                         f"scores and {int((labels == 1).sum())} same / {int((labels == 0).sum())} different pairs.")
    figure, ax = _figure(ax, (7.0, 3.6))
    bins = np.linspace(scores.min(), max(scores.max(), margin or -np.inf), 41)
    for kind, colour, name in ((1, "#1f77b4", "same class"), (0, "#d62728", "different classes")):
        ax.hist(scores[labels == kind], bins=bins, density=True, alpha=0.55, color=colour,
                label=f"{name} ({int((labels == kind).sum()):,} pairs)")
    if threshold is not None and np.isfinite(threshold):
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1.2, label=f"threshold {format_score(threshold)}")
    if margin is not None:
        ax.axvline(margin, color="0.4", linestyle=":", linewidth=1.5, label=f"margin {format_score(margin)}")
    ax.set_xlabel("distance (small = same)" if score_kind == "distance" else "similarity (large = same)")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return figure
