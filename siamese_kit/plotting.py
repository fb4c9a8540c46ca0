"""Pictures of data, pairs, embeddings and training: each function returns a `matplotlib.figure.Figure`.

Pair label convention, everywhere in siamese_kit: 1 = same class, 0 = different class.

Figures are built with `matplotlib.figure.Figure` directly rather than through `pyplot`, so nothing is
registered with pyplot's figure manager: a notebook shows the returned figure once (pyplot figures are
shown twice when they are also a cell's value), and a loop that makes hundreds of figures never leaks
them. Show one in a notebook by making it the cell's value or with `display(fig)`; save one with
`fig.savefig("grid.png")`. Functions that take `ax` draw into that axes and return its figure.

Pixel values are those of an `ImageSet`: uint8 0..255 (floats 0..255 are accepted). Grey images
`[H, W, 1]` are drawn with the "gray" colormap on a fixed 0..255 scale, so a faint image looks faint
instead of being stretched to full contrast; RGB images are drawn as they are.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure, FigureBase
from matplotlib.lines import Line2D
from matplotlib.offsetbox import AnnotationBbox, OffsetImage
from matplotlib.ticker import MaxNLocator

from .data.imageset import ImageSet

if TYPE_CHECKING:  # pairs.py imports TensorFlow; plotting should not need it at run time.
    from .data.pairs import PairSet


def _show_figures_in_notebooks() -> None:
    """Lets a Jupyter kernel display the figures this module returns, as PNG, exactly once.

    Figures here are made without pyplot (so pyplot never keeps them alive or shows them twice), and
    IPython only knows how to show pyplot's; this registers a PNG formatter for every `Figure`.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["image/png"]
    formatter.for_type(Figure, lambda figure: print_figure(figure, "png", bbox_inches="tight"))


_show_figures_in_notebooks()

__all__ = [
    "image_grid",
    "class_mean_grid",
    "pair_grid",
    "pair_set_grid",
    "embedding_scatter",
    "training_curves",
    "confusion_matrix_plot",
    "roc_curve_plot",
    "mistakes_grid",
    "retrieval_grid",
    "one_shot_task_grid",
]

# Colour-blind-safer than pure green/red; the word "WRONG" and a thicker frame carry the meaning
# where colour cannot (greyscale print, red-green colour blindness).
CORRECT_COLOUR = "#1a7f37"
WRONG_COLOUR = "#c8102e"
_PAIR_WORDS = {0: "different", 1: "same"}


# ---------------------------------------------------------------------------------------------------
# helpers


def _figure(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """The figure and axes to draw into: the caller's axes, or one new axes in a new figure."""
    if ax is not None:
        if not isinstance(ax, Axes):
            raise ValueError(f"ax must be a matplotlib Axes, got {type(ax).__name__}.")
        return ax.figure, ax
    figure = Figure(figsize=figsize, layout="constrained")
    return figure, figure.add_subplot()


def _grid_figure(figure, figsize: tuple[float, float], layout: str) -> FigureBase:
    """The figure a grid is drawn into: the caller's figure or subfigure, or a new Figure."""
    if figure is None:
        return Figure(figsize=figsize, layout=layout)
    if not isinstance(figure, FigureBase):
        raise ValueError(
            f"figure must be a matplotlib Figure or SubFigure (from fig.subfigures(...)), got "
            f"{type(figure).__name__}."
        )
    return figure


def _hide_ticks(ax: Axes, frame: bool = False) -> None:
    """Images need no ticks; a thin light frame keeps white-background images (Omniglot) apart."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(frame)
        spine.set_edgecolor("#b0b0b0")
        spine.set_linewidth(0.8)


def _image_batch(images, name: str) -> np.ndarray:
    """Checks a batch of images `[N, H, W, C]` (or `[N, H, W]`) and gives it a channel axis."""
    array = np.asarray(images)
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        raise ValueError(
            f"{name} must be images of shape [N, H, W, 1], [N, H, W, 3] or [N, H, W], "
            f"got shape {array.shape}."
        )
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"{name} must hold numeric pixel values 0..255, got dtype {array.dtype}.")
    if np.issubdtype(array.dtype, np.floating) and array.size and 0 < np.nanmax(array) <= 1.0:
        # A [0, 1] image on a 0..255 scale draws as black; say why rather than leave a blank grid.
        warnings.warn(
            f"{name} looks like pixels in [0, 1]; plotting expects 0..255, so multiply by 255.",
            stacklevel=3,
        )
    return array


def _pair_images(images_a, images_b) -> tuple[np.ndarray, np.ndarray]:
    """Both sides of a pair batch as image batches of one shape, holding at least one pair."""
    images_a = _image_batch(images_a, "images_a")
    images_b = _image_batch(images_b, "images_b")
    if images_a.shape != images_b.shape:
        raise ValueError(
            f"images_b has shape {images_b.shape} but images_a has {images_a.shape}; "
            "both need one image per pair, of the same size."
        )
    if len(images_a) == 0:
        raise ValueError("images_a holds no pairs; give at least one pair to plot.")
    return images_a, images_b


def _show_image(ax: Axes, image: np.ndarray) -> None:
    """Draws one `[H, W, C]` image with a fixed 0..255 scale (grey) or as RGB."""
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        if not np.issubdtype(image.dtype, np.integer):
            # imshow reads float RGB as 0..1, so float pixels in 0..255 must be rescaled first.
            image = np.clip(image, 0, 255) / 255.0
        ax.imshow(image, interpolation="nearest")


def _class_indices(imageset: ImageSet, classes, argument: str) -> list[int]:
    """Class indices from a list of class indices or class names, checked against the ImageSet."""
    if isinstance(classes, (str, int, np.integer)):
        classes = [classes]
    indices = []
    for item in classes:
        if isinstance(item, str):
            if item not in imageset.class_names:
                raise ValueError(
                    f"{argument}: no class named {item!r} in {imageset.name!r}; "
                    f"class names start {list(imageset.class_names[:5])}."
                )
            indices.append(imageset.class_names.index(item))
        else:
            index = int(item)
            if not 0 <= index < imageset.num_classes:
                raise ValueError(
                    f"{argument}: class index {index} is out of range for {imageset.name!r}, "
                    f"which has {imageset.num_classes} classes (0 to {imageset.num_classes - 1})."
                )
            indices.append(index)
    if not indices:
        raise ValueError(f"{argument}: no classes given; pass at least one class index or name.")
    return indices


def _pair_labels(values, name: str, count: int) -> np.ndarray:
    """Checks pair labels (1 = same class, 0 = different class): `count` values, each 0 or 1."""
    array = np.asarray(values).reshape(-1) if np.ndim(values) else np.asarray([values])
    if len(array) != count:
        raise ValueError(f"{name} has {len(array)} values for {count} pairs; give one per pair.")
    if not np.all(np.isin(array, (0, 1))):
        raise ValueError(
            f"{name} must be pair labels, 1 = same class and 0 = different class; got values "
            f"{np.unique(array)[:5]}. Threshold scores into labels before plotting them."
        )
    return array.astype(int)


def _format_score(value: float) -> str:
    """Two decimals, like the tutorials' titles; scientific only where two decimals would show 0.00."""
    if not np.isfinite(value):
        return str(value)
    return f"{value:.2f}" if value == 0 or abs(value) >= 0.01 else f"{value:.1e}"


# ---------------------------------------------------------------------------------------------------
# images


def image_grid(
    imageset: ImageSet,
    per_class: int = 8,
    classes=None,
    seed: int = 0,
    title: str | None = None,
) -> Figure:
    """A grid of example images, one row per class, to see what a dataset holds.

    Args:
        imageset: the images to show.
        per_class: images drawn at random from each class (fewer where a class has fewer).
        classes: class indices or class names, one row each; by default the first 10 classes that
            have images.
        seed: the same seed picks the same images.
        title: figure title; defaults to the ImageSet's name.

    Returns:
        Figure with `len(classes)` rows of `per_class` axes (fewer columns if no class has that
        many images); each row is labelled with its class name and unused cells are left blank.

    Raises:
        ValueError: if `imageset` is not an ImageSet, `per_class` is below 1, or a class is unknown.

    Example:
        >>> fig = image_grid(train_set, per_class=6, classes=["0", "1", "7"])
        >>> fig.savefig("digits.png")
    """
    if not isinstance(imageset, ImageSet):
        raise ValueError(f"imageset must be an ImageSet, got {type(imageset).__name__}.")
    if not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise ValueError(f"per_class must be an integer >= 1, got {per_class!r}.")
    if classes is None:
        classes = np.flatnonzero(imageset.class_counts() > 0)[:10].tolist()
    rows = _class_indices(imageset, classes, "classes")

    rng = np.random.default_rng(seed)
    chosen_rows = []
    for label in rows:
        members = np.flatnonzero(imageset.labels == label)
        chosen_rows.append(rng.choice(members, size=min(per_class, len(members)), replace=False))
    # Columns no class can fill would only be blank space.
    columns = max(1, max(len(chosen) for chosen in chosen_rows))
    height, width = imageset.image_shape[:2]
    cell = 1.1
    # Room for the row labels, so a long name (Omniglot's "Alphabet/character01") does not shrink images.
    label_width = 0.3 + 0.08 * max(len(imageset.class_names[label]) for label in rows)
    # "compressed" layout is made for grids of fixed-aspect images: plain constrained layout
    # leaves gaps between them and clips long row labels at the left edge.
    figure = Figure(
        figsize=(columns * cell * width / height + label_width, len(rows) * cell + 0.5),
        layout="compressed",
    )
    axes = figure.subplots(len(rows), columns, squeeze=False)
    for row, label, chosen in zip(axes, rows, chosen_rows):
        for column, ax in enumerate(row):
            _hide_ticks(ax, frame=column < len(chosen))
            if column < len(chosen):
                _show_image(ax, imageset.images[chosen[column]])
        # ylabel rather than a text box: constrained layout then keeps long names clear of images.
        row[0].set_ylabel(imageset.class_names[label], rotation=0, ha="right", va="center", fontsize=10)
    figure.suptitle(imageset.name if title is None else title)
    return figure


def class_mean_grid(
    imageset: ImageSet,
    classes=None,
    title: str | None = "Class means",
    columns: int = 10,
) -> Figure:
    """The mean image of each class, a quick check that classes differ and are centred alike.

    Args:
        imageset: the images to average (`imageset.class_means()`).
        classes: class indices or class names; by default every class that has images (for
            Omniglot's hundreds of characters, pass a few).
        title: figure title; `None` for none.
        columns: mean images per row.

    Returns:
        Figure with one axes per class, titled with the class name and its image count.

    Raises:
        ValueError: if `imageset` is not an ImageSet or a class is unknown.
    """
    if not isinstance(imageset, ImageSet):
        raise ValueError(f"imageset must be an ImageSet, got {type(imageset).__name__}.")
    if not isinstance(columns, (int, np.integer)) or columns < 1:
        raise ValueError(f"columns must be an integer >= 1, got {columns!r}.")
    counts = imageset.class_counts()
    if classes is None:
        classes = np.flatnonzero(counts > 0).tolist()
    shown = _class_indices(imageset, classes, "classes")
    means = imageset.class_means()

    columns = min(columns, len(shown))
    rows = math.ceil(len(shown) / columns)
    height, width = imageset.image_shape[:2]
    figure = Figure(
        figsize=(columns * 1.3 * width / height + 0.3, rows * 1.6 + 0.5), layout="compressed"
    )
    axes = figure.subplots(rows, columns, squeeze=False).reshape(-1)
    for ax in axes:
        _hide_ticks(ax)
    for ax, label in zip(axes, shown):
        _hide_ticks(ax, frame=True)
        _show_image(ax, means[label])
        ax.set_title(f"{imageset.class_names[label]}\n(n={counts[label]})", fontsize=9)
    if title:
        figure.suptitle(title)
    return figure


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
        _hide_ticks(ax)
    for index, ax in enumerate(axes[:count]):
        _show_image(ax, _join_pair(images_a[index], images_b[index]))
        lines = [f"Target: {_PAIR_WORDS[targets[index]]}"]
        colour = "black"
        if predictions is None:
            _hide_ticks(ax, frame=True)
        else:
            correct = predictions[index] == targets[index]
            colour = CORRECT_COLOUR if correct else WRONG_COLOUR
            lines.append(
                f"Predicted: {_PAIR_WORDS[predictions[index]]}" + ("" if correct else " (WRONG)")
            )
            _hide_ticks(ax, frame=True)
            for spine in ax.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(2.0 if correct else 4.0)
        if scores is not None:
            lines.append(f"{score_label}: {_format_score(scores[index])}")
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
            "make one with siamese_kit.data.pairs.fixed_pairs."
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
    from .evaluation import hardest_mistakes, predict_same

    predictions = predict_same(scores, threshold, score_kind).astype(int)
    wrong_count = int(np.sum(predictions != targets))
    chosen = hardest_mistakes(scores, targets, threshold, score_kind, count=int(count))

    threshold_text = f"{score_kind} threshold {_format_score(threshold)}"
    if len(chosen) == 0:
        figure = Figure(figsize=(5.0, 2.0), layout="constrained")
        ax = figure.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"No mistakes at threshold {_format_score(threshold)}\n"
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


# ---------------------------------------------------------------------------------------------------
# embeddings


def _class_colours(num_classes: int) -> tuple[np.ndarray, bool]:
    """Colours for each class and whether a legend can still tell them apart."""
    from matplotlib import colormaps

    if num_classes <= 10:
        return colormaps["tab10"](np.arange(num_classes)), True
    if num_classes <= 20:
        return colormaps["tab20"](np.arange(num_classes)), True
    # Past 20 classes no qualitative map has enough colours; a spread of a perceptual map at least
    # keeps neighbours in label order apart, and a legend that long would hide the plot.
    return colormaps["turbo"](np.linspace(0.0, 1.0, num_classes)), False


def _draw_thumbnails(ax: Axes, xy: np.ndarray, images: np.ndarray, labels: np.ndarray,
                     colours: np.ndarray, count: int, seed: int) -> None:
    """Draws `count` of the points' images (chosen by `seed`) as small framed pictures at `xy`."""
    chosen = np.sort(np.random.default_rng(seed).choice(len(xy), min(count, len(xy)), replace=False))
    height, width = images.shape[1:3]
    zoom = 26.0 / max(height, width)  # about 26 points across, whatever the image size
    for index in chosen:
        image = images[index]
        if image.shape[-1] == 1:
            # The fixed 0..255 scale of _show_image, so faint images stay faint.
            picture = OffsetImage(image[..., 0], cmap="gray", norm=Normalize(vmin=0, vmax=255),
                                  zoom=zoom, interpolation="nearest")
        else:
            if not np.issubdtype(image.dtype, np.integer):
                image = np.clip(image, 0, 255) / 255.0
            picture = OffsetImage(image, zoom=zoom, interpolation="nearest")
        box = AnnotationBbox(
            picture, (xy[index, 0], xy[index, 1]), xycoords="data", frameon=True, pad=0.15,
            bboxprops={"edgecolor": colours[labels[index]], "linewidth": 1.5},
        )
        box.set_zorder(4)
        ax.add_artist(box)


def embedding_scatter(
    embeddings,
    labels,
    class_names: Sequence[str] | None = None,
    max_points: int = 5000,
    seed: int = 0,
    title: str | None = None,
    ax: Axes | None = None,
    centroids=None,
    images=None,
    thumbnails: int = 0,
) -> Figure:
    """A 2-D scatter of embeddings coloured by class, to see whether classes form clusters.

    Embeddings with more than 2 dimensions are projected on their first two principal components
    (centred, by SVD of the points shown) and the axis labels give each component's share of the
    variance. Points are drawn in input order, in one collection.

    Args:
        embeddings: `[N, D]` array, D >= 2.
        labels: integer class per embedding, `[N]`.
        class_names: name of each class, for the legend; defaults to the label numbers.
        max_points: at most this many points are drawn, a random subset chosen by `seed`.
        seed: the same seed draws the same subset.
        title: axes title; defaults to a description of what is shown.
        ax: axes to draw into; a new figure is made when `None`.
        centroids: optional `[K, D]` class centroids (row k is class k), drawn as large
            black-edged markers in the same projection.
        images: optional image of each embedding, `[N, H, W, C]` (or `[N, H, W]`), pixels 0..255,
            for `thumbnails`.
        thumbnails: draw this many of the shown points' images (chosen at random by `seed`) as
            small pictures at their points, each framed in its class colour; 0 for none.

    Returns:
        The Figure holding the axes.

    Raises:
        ValueError: naming `embeddings`, `labels`, `class_names`, `centroids`, `max_points`,
            `images` or `thumbnails` when their shapes, lengths or values are wrong.

    Example:
        >>> fig = embedding_scatter(model.embed(test_set.images), test_set.labels, test_set.class_names)
    """
    points = np.asarray(embeddings, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] < 2:
        raise ValueError(
            f"embeddings must be a [N, D] array with D >= 2, got shape {points.shape}; a 1-D "
            "embedding has nothing to scatter against (plot a histogram per class instead)."
        )
    if len(points) == 0:
        raise ValueError("embeddings is empty; give at least one embedding.")
    if not np.all(np.isfinite(points)):
        raise ValueError("embeddings contains NaN or infinite values; check the model's training.")
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(points):
        raise ValueError(
            f"labels has shape {labels.shape} for {len(points)} embeddings; give one class per embedding."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.mod(labels, 1) == 0):
            raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}.")
        labels = labels.astype(np.int64)
    if labels.min() < 0:
        raise ValueError(f"labels must be >= 0, found {labels.min()}.")
    if class_names is None:
        class_names = [str(i) for i in range(int(labels.max()) + 1)]
    class_names = [str(name) for name in class_names]
    if labels.max() >= len(class_names):
        raise ValueError(
            f"class_names has {len(class_names)} names but labels go up to {labels.max()}; "
            "give a name for every class."
        )
    if not isinstance(max_points, (int, np.integer)) or max_points < 1:
        raise ValueError(f"max_points must be an integer >= 1, got {max_points!r}.")
    dims = points.shape[1]
    if centroids is not None:
        centroids = np.asarray(centroids, dtype=np.float64)
        if centroids.ndim != 2 or centroids.shape[1] != dims:
            raise ValueError(
                f"centroids must be [K, {dims}] like the embeddings, got shape {centroids.shape}."
            )
    if not isinstance(thumbnails, (int, np.integer)) or thumbnails < 0:
        raise ValueError(f"thumbnails must be an integer >= 0, got {thumbnails!r}.")
    if images is not None:
        images = _image_batch(images, "images")
        if len(images) != len(points):
            raise ValueError(
                f"images has {len(images)} images for {len(points)} embeddings; give the image of "
                "every embedding, in the same order."
            )
    elif thumbnails > 0:
        raise ValueError(
            f"thumbnails={thumbnails} needs images: pass images=..., one per embedding."
        )

    if len(points) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(points), max_points, replace=False))
        points, labels = points[keep], labels[keep]
        if images is not None:
            images = images[keep]

    if dims == 2:
        xy = points
        x_label, y_label = "dimension 1", "dimension 2"
        project = None
    else:
        centre = points.mean(axis=0)
        _, singular, components = np.linalg.svd(points - centre, full_matrices=False)
        components = components[:2]
        # SVD's signs are arbitrary; fixing them keeps the picture the same from run to run.
        largest = np.argmax(np.abs(components), axis=1)
        components *= np.sign(components[np.arange(2), largest])[:, np.newaxis]
        variance = singular**2
        share = variance[:2] / variance.sum() if variance.sum() > 0 else np.zeros(2)

        def project(values):
            return (values - centre) @ components.T

        xy = project(points)
        x_label = f"PC 1 ({100 * share[0]:.1f}% var)"
        y_label = f"PC 2 ({100 * share[1]:.1f}% var)"

    colours, legend = _class_colours(len(class_names))
    figure, ax = _figure(ax, (7.5, 6.0))
    size = float(np.clip(3000 / len(xy), 4, 30))
    ax.scatter(xy[:, 0], xy[:, 1], c=colours[labels], s=size, alpha=0.75, linewidths=0)
    handles = []
    if legend:
        present = np.unique(labels)
        handles = [
            Line2D([], [], linestyle="", marker="o", markersize=7, color=colours[k], label=class_names[k])
            for k in present
        ]
    if centroids is not None:
        centre_xy = centroids if project is None else project(centroids)
        ax.scatter(
            centre_xy[:, 0], centre_xy[:, 1],
            c=colours[np.arange(len(centroids)) % len(colours)],
            s=220, marker="o", edgecolors="black", linewidths=2.0, zorder=3,
        )
        handles.append(
            Line2D([], [], linestyle="", marker="o", markersize=11, markerfacecolor="white",
                   markeredgecolor="black", markeredgewidth=2.0, label="centroid")
        )
    if images is not None and thumbnails > 0:
        _draw_thumbnails(ax, xy, images, labels, colours, thumbnails, seed)
    if handles:
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9,
                  frameon=False)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    if title is None:
        title = f"Embeddings: {len(xy)} points" + ("" if dims == 2 else f", PCA of {dims}-D")
    ax.set_title(title)
    return figure


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


def confusion_matrix_plot(
    matrix,
    class_names: Sequence[str] | None = None,
    normalize: bool = True,
    title: str | None = "Confusion matrix",
    ax: Axes | None = None,
) -> Figure:
    """A confusion matrix as an image, rows the true class and columns the predicted one.

    Args:
        matrix: `[K, K]` counts, `matrix[i, j]` = images of class i predicted as class j.
        class_names: name of each class; defaults to 0 .. K-1.
        normalize: divide each row by its total, so cells are the fraction of each true class
            (rows with no images stay 0).
        title: axes title; `None` for none.
        ax: axes to draw into; a new figure is made when `None`.

    Returns:
        The Figure holding the axes (and a colour bar). Cells show their value for up to 20 classes.

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
        top = 1.0
    else:
        shown = counts
        top = max(float(counts.max()), 1.0)

    side = min(4.0 + 0.45 * size, 16.0)
    figure, ax = _figure(ax, (side + 1.2, side))
    image = ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=top, interpolation="nearest")
    figure.colorbar(image, ax=ax, label="fraction of true class" if normalize else "count", shrink=0.8)
    if size <= 20:
        integral = not normalize and np.all(np.mod(counts, 1) == 0)
        fontsize = 9 if size <= 10 else 6
        for row in range(size):
            for column in range(size):
                value = shown[row, column]
                text = f"{int(value)}" if integral else (f"{value:.2f}" if normalize else f"{value:.3g}")
                ax.text(column, row, text, ha="center", va="center", fontsize=fontsize,
                        color="white" if value > 0.5 * top else "black")
    if size <= 40:
        ax.set_xticks(range(size), class_names, rotation=45 if max(map(len, class_names)) > 2 else 0,
                      ha="right" if max(map(len, class_names)) > 2 else "center")
        ax.set_yticks(range(size), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
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
    ax.plot([0.0, 1.0], [0.0, 1.0], color="grey", linestyle="--", linewidth=1.0, label="chance")
    if equal_error_rate is not None:
        ax.plot([equal_error_rate], [1.0 - equal_error_rate], linestyle="", marker="D",
                markersize=7, color="C1", markeredgecolor="black",
                label=f"EER = {equal_error_rate:.3f}", zorder=3)
    if chosen_point is not None:
        text = f"threshold {_format_score(point_threshold)}"
        ax.plot([point_fpr], [point_tpr], linestyle="", marker="o", markersize=9,
                markerfacecolor="none", markeredgecolor="black", markeredgewidth=2.0,
                label=f"chosen: FPR {point_fpr:.2f}, TPR {point_tpr:.2f}", zorder=4)
        # Text goes toward the middle of the axes, so it stays inside near any edge.
        right = point_fpr <= 0.6
        below = point_tpr >= 0.25
        ax.annotate(
            text, (point_fpr, point_tpr), xytext=(12 if right else -12, -14 if below else 14),
            textcoords="offset points", ha="left" if right else "right",
            va="top" if below else "bottom", fontsize=9,
            arrowprops={"arrowstyle": "-", "color": "black", "linewidth": 0.8},
        )
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate (different pairs called same)")
    ax.set_ylabel("true positive rate (same pairs called same)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    if title:
        ax.set_title(title)
    return figure


# ---------------------------------------------------------------------------------------------------
# one-shot tasks


def one_shot_task_grid(
    run,
    query: int = 0,
    choice: int | None = None,
    scores=None,
    score_kind: str = "distance",
    columns: int = 5,
    title: str | None = None,
) -> Figure:
    """One one-shot trial: the test image, its candidates, the chosen one and the right one marked.

    The test image sits on the left; the candidates fill a grid on the right, each titled with its
    number and score. The right answer gets a green frame and "RIGHT"; a wrong choice gets a thick
    red frame and "CHOSEN (WRONG)"; a right choice reads "RIGHT CHOSEN".

    Args:
        run: a `siamese_kit.data.OneShotRun` (or anything with `support_images`, `query_images`,
            `answers` and `name`).
        query: which test image of the run.
        choice: the candidate the model chose; None to show the task alone.
        scores: the model's score for each candidate `[ways]`; optional.
        score_kind: `"distance"` or `"similarity"`, for the score labels.
        columns: candidates per row.
        title: figure title; default names the run and the test image.

    Returns:
        Figure with the test image and one axes per candidate.

    Raises:
        ValueError: for a query, choice or score count out of range.
    """
    support = _image_batch(run.support_images, "run.support_images")
    queries = _image_batch(run.query_images, "run.query_images")
    ways = len(support)
    if not 0 <= int(query) < len(queries):
        raise ValueError(f"query must be between 0 and {len(queries) - 1}, got {query}.")
    if choice is not None and not 0 <= int(choice) < ways:
        raise ValueError(f"choice must be between 0 and {ways - 1}, got {choice}.")
    if scores is not None:
        scores = np.asarray(scores, dtype=float).reshape(-1)
        if len(scores) != ways:
            raise ValueError(f"scores has {len(scores)} values for {ways} candidates; give one per candidate.")
    if not isinstance(columns, (int, np.integer)) or columns < 1:
        raise ValueError(f"columns must be an integer >= 1, got {columns!r}.")
    answer = int(run.answers[query])
    columns = min(columns, ways)
    rows = math.ceil(ways / columns)
    figure = Figure(figsize=(1.6 * (columns + 1.5), 1.75 * rows + 0.6), layout="constrained")
    grid = figure.add_gridspec(rows, columns + 2)
    query_ax = figure.add_subplot(grid[:, :2])
    _show_image(query_ax, queries[query])
    _hide_ticks(query_ax, frame=True)
    query_ax.set_title("Test image", fontsize=11)
    score_word = "dist" if score_kind == "distance" else "score"
    for index in range(ways):
        ax = figure.add_subplot(grid[index // columns, 2 + index % columns])
        _show_image(ax, support[index])
        _hide_ticks(ax, frame=True)
        words, colour, width = [f"#{index + 1}"], "black", 0.8
        if index == answer:
            words.append("RIGHT")
            colour, width = CORRECT_COLOUR, 2.5
        if choice is not None and index == int(choice):
            words.append("CHOSEN" if index == answer else "CHOSEN (WRONG)")
            if index != answer:
                colour, width = WRONG_COLOUR, 4.0
        for spine in ax.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(width)
        label = " ".join(words)
        if scores is not None:
            label += f"\n{score_word} {_format_score(scores[index])}"
        ax.set_title(label, fontsize=8, color=colour, fontweight="bold" if colour == WRONG_COLOUR else "normal")
    figure.suptitle(title or f"{getattr(run, 'name', 'task')}: which candidate is test image {query + 1}?")
    return figure


# ---------------------------------------------------------------------------------------------------
# retrieval


def _class_labels(values, name: str, count: int, what: str) -> np.ndarray:
    """`count` class labels, one per image (integers where they must index `class_names`)."""
    array = np.asarray(values)
    if array.ndim != 1 or len(array) != count:
        raise ValueError(
            f"{name} has shape {array.shape} for {count} {what}; give one class label per image."
        )
    return array


def retrieval_grid(
    query_images,
    gallery_images,
    neighbour_indices,
    query_labels,
    gallery_labels,
    distances=None,
    score_name: str = "dist",
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    figure: FigureBase | None = None,
) -> Figure:
    """Nearest-neighbour retrieval: each query image followed by the gallery images nearest to it.

    One row per query: the query in the first column, titled "query: <class>", then its k
    neighbours `gallery_images[neighbour_indices[q]]`, nearest first, each titled with its rank,
    class and distance. A neighbour of the query's class (a same-class pair, label 1) gets a green
    frame and title; one of another class (a different-class pair, label 0) gets a red, thicker
    frame, a bold red title and the words "OTHER CLASS", so the two differ without colour.

    Args:
        query_images: `[Q, H, W, C]` (or `[Q, H, W]`) query images, pixels 0..255.
        gallery_images: `[G, H, W, C]` (or `[G, H, W]`) images searched, pixels 0..255.
        neighbour_indices: `[Q, k]` integer indices into `gallery_images`, row q the neighbours
            of query q, nearest first (as from `np.argsort(distances, axis=1)[:, :k]`).
        query_labels: `[Q]` class label of each query.
        gallery_labels: `[G]` class label of each gallery image.
        distances: optional `[Q, k]` distance of each shown neighbour to its query (or any score,
            such as a twin classifier's probability of "same", named by `score_name`).
        score_name: the label written before each score.
        class_names: name of each class, indexed by the (integer) labels; by default the labels
            themselves are shown.
        title: figure title; by default it counts the neighbours of the query's class.
        figure: a Figure or SubFigure to draw into (one panel of a larger picture, e.g. from
            `fig.subfigures(...)`); a new Figure is made when `None`.

    Returns:
        Figure (or the given `figure`) with `Q` rows of `k + 1` axes.

    Raises:
        ValueError: naming the argument whose shape, length or values are wrong (indices out of
            range or not integers, a label without a class name).

    Example:
        >>> order = np.argsort(pairwise_distances, axis=1)[:, :5]
        >>> fig = retrieval_grid(queries, gallery, order, query_labels, gallery_labels,
        ...                      np.take_along_axis(pairwise_distances, order, axis=1), names)
    """
    queries = _image_batch(query_images, "query_images")
    gallery = _image_batch(gallery_images, "gallery_images")
    if len(queries) == 0:
        raise ValueError("query_images holds no images; give at least one query.")
    if len(gallery) == 0:
        raise ValueError("gallery_images holds no images; give the images searched.")
    indices = np.asarray(neighbour_indices)
    if indices.ndim == 1 and len(queries) == 1:
        indices = indices[np.newaxis]
    if indices.ndim != 2 or indices.shape[0] != len(queries) or indices.shape[1] == 0:
        raise ValueError(
            f"neighbour_indices must be [Q, k] with Q = {len(queries)} queries and k >= 1, "
            f"got shape {indices.shape}."
        )
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(
            f"neighbour_indices must be integer indices into gallery_images, got dtype "
            f"{indices.dtype}; use np.argsort(...) or .astype(int)."
        )
    if indices.min() < 0 or indices.max() >= len(gallery):
        raise ValueError(
            f"neighbour_indices must lie in 0 .. {len(gallery) - 1} (gallery_images has "
            f"{len(gallery)} images), found {indices.min()} .. {indices.max()}."
        )
    query_labels = _class_labels(query_labels, "query_labels", len(queries), "query images")
    gallery_labels = _class_labels(gallery_labels, "gallery_labels", len(gallery), "gallery images")
    if distances is not None:
        try:
            distances = np.asarray(distances, dtype=float)
        except (TypeError, ValueError):
            raise ValueError("distances must be numbers, [Q, k] like neighbour_indices.") from None
        if distances.shape != indices.shape:
            raise ValueError(
                f"distances has shape {distances.shape} but neighbour_indices has {indices.shape}; "
                "give the distance of each shown neighbour."
            )
    if class_names is None:
        def name_of(label) -> str:
            return str(label)
    else:
        class_names = [str(name) for name in class_names]
        for argument, labels in (("query_labels", query_labels), ("gallery_labels", gallery_labels)):
            if not np.issubdtype(labels.dtype, np.integer):
                raise ValueError(
                    f"{argument} must be integer class indices to look up in class_names, got dtype "
                    f"{labels.dtype}."
                )
            if labels.min() < 0 or labels.max() >= len(class_names):
                raise ValueError(
                    f"class_names has {len(class_names)} names but {argument} go from "
                    f"{labels.min()} to {labels.max()}; give a name for every class."
                )

        def name_of(label) -> str:
            return class_names[int(label)]

    count, k = indices.shape
    same = gallery_labels[indices] == query_labels[:, np.newaxis]
    height, width = queries.shape[1:3]
    cell = 1.5
    figure = _grid_figure(
        figure, ((k + 1) * cell * max(width / height, 0.6) + 0.3, count * (cell + 0.5) + 0.5), "constrained"
    )
    axes = figure.subplots(count, k + 1, squeeze=False)
    for row, query in zip(axes, range(count)):
        _show_image(row[0], queries[query])
        _hide_ticks(row[0], frame=True)
        for spine in row[0].spines.values():
            spine.set_edgecolor("black")
            spine.set_linewidth(2.0)
        row[0].set_title(f"query: {name_of(query_labels[query])}", fontsize=9, fontweight="bold")
        for rank, ax in enumerate(row[1:]):
            neighbour = indices[query, rank]
            _show_image(ax, gallery[neighbour])
            _hide_ticks(ax, frame=True)
            correct = bool(same[query, rank])
            colour = CORRECT_COLOUR if correct else WRONG_COLOUR
            for spine in ax.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(2.0 if correct else 4.0)
            lines = [f"#{rank + 1} {name_of(gallery_labels[neighbour])}"]
            if distances is not None:
                lines.append(f"{score_name} {_format_score(distances[query, rank])}")
            if not correct:
                lines.append("OTHER CLASS")
            ax.set_title("\n".join(lines), fontsize=8, color=colour,
                         fontweight="normal" if correct else "bold")
    if title is None:
        title = (
            f"{k} nearest gallery images of {count} queries: {int(same.sum())} of {same.size} "
            "share the query's class"
        )
    if title:
        figure.suptitle(title)
    return figure
