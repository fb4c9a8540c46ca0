"""What a loss does in distance space: each loss drawn against the quantity it reads, with the direction
its gradient moves a pair (or a triplet), and a 2-D embedding drawn as it moves while training.

The curves are the toolkit's own formulas (pair label 1 = same class, 0 = different):

- contrastive (Hadsell et al., Caffe's form; `ContrastiveLoss`): same pairs `d^2 / 2`, different pairs
  `max(m - d, 0)^2 / 2`, against the distance `d`;
- the twin classifier's binary cross-entropy on its logit `z` (`p = sigmoid(z)`): same pairs
  `-log p = softplus(-z)`, different pairs `-log(1 - p) = softplus(z)`;
- the triplet hinge (`TripletLoss`): `max(d(a, p) - d(a, n) + m, 0)` against `d(a, p) - d(a, n)`, the
  easy, semi-hard and hard triplets shaded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._common import _figure, _grid_figure

SAME_COLOUR = "#1f77b4"
DIFFERENT_COLOUR = "#d62728"


def _positive(value, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}.") from None
    if not np.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}.")
    return number


def _arrow(ax: Axes, x: float, y: float, dx: float, colour: str, text: str, above: bool = True) -> None:
    """An arrow along x from (x, y) (the way gradient descent moves the pair), with its words."""
    ax.annotate("", xy=(x + dx, y), xytext=(x, y),
                arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 2.0, "mutation_scale": 14})
    ax.annotate(text, (x + dx / 2, y), xytext=(0, 7 if above else -7), textcoords="offset points", ha="center",
                va="bottom" if above else "top", fontsize=9, color=colour)


def contrastive_loss_plot(margin: float = 2.0, title: str | None = "Contrastive loss against the distance",
                          ax: Axes | None = None) -> Figure:
    """The contrastive loss of a same pair and of a different pair against their distance, the margin
    drawn, and arrows where the gradient pulls a same pair in and pushes a different pair out.

    Args:
        margin: the loss's margin `m` (different pairs beyond it cost nothing and feel no force).
        title: axes title; None for none.
        ax: axes to draw into; a new figure is made when None.

    Returns:
        The Figure; its first two lines are the same-pair and different-pair losses at the distances of
        their x data.

    Raises:
        ValueError: for a margin that is not a positive number.
    """
    margin = _positive(margin, "margin")
    distance = np.linspace(0.0, 1.6 * margin, 321)
    same = 0.5 * distance**2
    different = 0.5 * np.maximum(margin - distance, 0.0) ** 2
    figure, ax = _figure(ax, (6.5, 4.0))
    ax.plot(distance, same, color=SAME_COLOUR, linewidth=2, label="same pair: $d^2/2$")
    ax.plot(distance, different, color=DIFFERENT_COLOUR, linewidth=2, label=r"different pair: $\max(m-d,0)^2/2$")
    ax.axvline(margin, color="0.35", linestyle="--", linewidth=1, label=f"margin m = {margin:g}")
    top = 0.5 * (1.6 * margin) ** 2
    # The gradient of d^2/2 is d: the pull grows with the distance. Below the margin a different pair is
    # pushed with force m - d; beyond it, with none.
    _arrow(ax, 0.75 * margin, 0.5 * (0.75 * margin) ** 2 + 0.06 * top, -0.3 * margin, SAME_COLOUR, "pulled in")
    _arrow(ax, 0.2 * margin, 0.5 * (0.8 * margin) ** 2 + 0.06 * top, 0.3 * margin, DIFFERENT_COLOUR, "pushed out")
    ax.annotate("no force beyond the margin", (1.3 * margin, 0.02 * top), xytext=(0, 12), textcoords="offset points",
                ha="center", fontsize=9, color=DIFFERENT_COLOUR)
    ax.set_xlabel("distance d between the two embeddings")
    ax.set_ylabel("loss")
    ax.set_xlim(0, 1.6 * margin)
    ax.set_ylim(0, top * 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="upper center")
    if title:
        ax.set_title(title)
    return figure


def binary_cross_entropy_plot(title: str | None = "The twin classifier's loss against its logit",
                              ax: Axes | None = None) -> Figure:
    """The twin head's probability `sigmoid(z)` and the binary cross-entropy of a same and a different
    pair against the logit `z`, with arrows the way the gradient moves each.

    Args:
        title: axes title; None for none.
        ax: axes to draw into; a new figure is made when None.

    Returns:
        The Figure; its first two lines are the same-pair (`softplus(-z)`) and different-pair
        (`softplus(z)`) losses, the third the probability (on the right axis).
    """
    logit = np.linspace(-6.0, 6.0, 241)
    same = np.logaddexp(0.0, -logit)
    different = np.logaddexp(0.0, logit)
    figure, ax = _figure(ax, (6.5, 4.0))
    ax.plot(logit, same, color=SAME_COLOUR, linewidth=2, label=r"same pair: $-\log p$")
    ax.plot(logit, different, color=DIFFERENT_COLOUR, linewidth=2, label=r"different pair: $-\log(1-p)$")
    ax.axvline(0.0, color="0.35", linestyle="--", linewidth=1)
    # The gradient of either loss with respect to z is p - y: it never vanishes, only fades.
    _arrow(ax, -5.2, 3.6, 2.2, SAME_COLOUR, "same: z pushed up")
    _arrow(ax, 5.2, 3.6, -2.2, DIFFERENT_COLOUR, "different: z pushed down")
    ax.set_xlabel("logit z of the pair (the head's output before the sigmoid)")
    ax.set_ylabel("loss")
    ax.set_ylim(0, 6.5)
    ax.grid(alpha=0.3)
    right = ax.twinx()
    right.plot(logit, 1.0 / (1.0 + np.exp(-logit)), color="0.3", linewidth=1.2, linestyle=":",
               label="p = sigmoid(z)")
    right.set_ylim(0, 1.08)
    right.set_ylabel("probability 'same' p")
    lines = ax.get_lines()[:2] + right.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], fontsize=9, loc="upper center")
    if title:
        ax.set_title(title)
    return figure


def triplet_loss_plot(margin: float = 1.0, title: str | None = "Triplet loss against d(a,p) - d(a,n)",
                      ax: Axes | None = None) -> Figure:
    """The triplet hinge against `d(a, p) - d(a, n)`, with the easy, semi-hard and hard triplets shaded
    and an arrow the way the gradient moves a triplet that still costs something.

    Args:
        margin: the loss's margin `m`.
        title: axes title; None for none.
        ax: axes to draw into; a new figure is made when None.

    Returns:
        The Figure; its first line is the loss at the differences of its x data.

    Raises:
        ValueError: for a margin that is not a positive number.
    """
    margin = _positive(margin, "margin")
    gap = np.linspace(-2.0 * margin, 2.0 * margin, 401)
    loss = np.maximum(gap + margin, 0.0)
    figure, ax = _figure(ax, (6.5, 4.0))
    ax.plot(gap, loss, color="black", linewidth=2, label=r"$\max(d(a,p) - d(a,n) + m,\ 0)$")
    regions = ((-2.0 * margin, -margin, "#2ca02c", "easy: no loss, no gradient"),
               (-margin, 0.0, "#ff7f0e", "semi-hard: negative farther, within m"),
               (0.0, 2.0 * margin, "#d62728", "hard: negative nearer than positive"))
    for low, high, colour, name in regions:
        ax.axvspan(low, high, color=colour, alpha=0.12, label=name)
    _arrow(ax, 1.2 * margin, 2.6 * margin, -0.8 * margin, "black", "positive pulled in, negative pushed out")
    ax.set_xlabel("d(anchor, positive) - d(anchor, negative)")
    ax.set_ylabel("loss")
    ax.set_xlim(-2.0 * margin, 2.0 * margin)
    ax.set_ylim(0, 3.2 * margin)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    if title:
        ax.set_title(title)
    return figure


def embedding_snapshots(snapshots: Sequence, labels, class_names: Sequence[str] | None = None,
                        title: str | None = "The embedding as it trains", columns: int = 4) -> Figure:
    """2-D embeddings of the same images at several training steps, side by side, coloured by class.

    Args:
        snapshots: `(step, embeddings)` pairs, `embeddings` `[N, 2]` for the same N images each time.
        labels: `[N]` class of each image.
        class_names: names for the legend; default the class numbers.
        title: figure title; None for none.
        columns: panels per row.

    Returns:
        The Figure, one panel per snapshot titled with its step.

    Raises:
        ValueError: when there are no snapshots, or one is not `[N, 2]` for the N labels.
    """
    labels = np.asarray(labels)
    snapshots = list(snapshots)
    if not snapshots:
        raise ValueError("embedding_snapshots needs at least one (step, embeddings) pair.")
    for step, points in snapshots:
        if np.shape(points) != (len(labels), 2):
            raise ValueError(f"embedding_snapshots: the embeddings of step {step} are {np.shape(points)}; each "
                             f"snapshot needs [{len(labels)}, 2] (2-D embeddings of the labelled images).")
    columns = max(1, min(columns, len(snapshots)))
    rows = -(-len(snapshots) // columns)
    figure = _grid_figure(None, (3.1 * columns, 3.0 * rows + 0.5), "constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns)).reshape(-1)
    classes = np.unique(labels)
    for ax, (step, points) in zip(axes, snapshots):
        points = np.asarray(points, dtype=float)
        for index, label in enumerate(classes):
            chosen = labels == label
            name = class_names[label] if class_names is not None else str(label)
            ax.scatter(points[chosen, 0], points[chosen, 1], s=5, alpha=0.6, color=f"C{index % 10}", label=name)
        ax.set_title(f"step {step}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[len(snapshots):]:
        ax.set_visible(False)
    handles, names = axes[0].get_legend_handles_labels()
    figure.legend(handles, names, loc="outside right center", fontsize=8, markerscale=2)
    if title:
        figure.suptitle(title)
    return figure


__all__ = ["binary_cross_entropy_plot", "contrastive_loss_plot", "embedding_snapshots", "triplet_loss_plot"]
