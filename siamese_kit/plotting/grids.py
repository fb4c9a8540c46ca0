"""Grids of images: examples and class means of an ImageSet, one one-shot trial, retrieval results."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure, FigureBase

from ..data.imageset import ImageSet
from ._common import (
    CORRECT_COLOUR,
    WRONG_COLOUR,
    _class_indices,
    format_score,
    _grid_figure,
    hide_ticks,
    _image_batch,
    show_image,
)


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
            hide_ticks(ax, frame=column < len(chosen))
            if column < len(chosen):
                show_image(ax, imageset.images[chosen[column]])
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
        hide_ticks(ax)
    for ax, label in zip(axes, shown):
        hide_ticks(ax, frame=True)
        show_image(ax, means[label])
        ax.set_title(f"{imageset.class_names[label]}\n(n={counts[label]})", fontsize=9)
    if title:
        figure.suptitle(title)
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
    show_image(query_ax, queries[query])
    hide_ticks(query_ax, frame=True)
    query_ax.set_title("Test image", fontsize=11)
    score_word = "dist" if score_kind == "distance" else "score"
    for index in range(ways):
        ax = figure.add_subplot(grid[index // columns, 2 + index % columns])
        show_image(ax, support[index])
        hide_ticks(ax, frame=True)
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
            label += f"\n{score_word} {format_score(scores[index])}"
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


def _wrapped(name: str, width: int = 13) -> str:
    """A class name broken over lines of about `width` characters, so neighbouring titles never overlap."""
    import textwrap

    return "\n".join(textwrap.wrap(name, width, break_long_words=True)) or name


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
        figure, ((k + 1) * cell * max(width / height, 0.6) + 0.3, count * (cell + 0.9) + 0.5), "constrained"
    )
    axes = figure.subplots(count, k + 1, squeeze=False)
    for row, query in zip(axes, range(count)):
        show_image(row[0], queries[query])
        hide_ticks(row[0], frame=True)
        for spine in row[0].spines.values():
            spine.set_edgecolor("black")
            spine.set_linewidth(2.0)
        query_name = name_of(query_labels[query])
        row[0].set_title(("query: " if len(query_name) <= 13 else "query:\n") + _wrapped(query_name), fontsize=9,
                         fontweight="bold")
        for rank, ax in enumerate(row[1:]):
            neighbour = indices[query, rank]
            show_image(ax, gallery[neighbour])
            hide_ticks(ax, frame=True)
            correct = bool(same[query, rank])
            colour = CORRECT_COLOUR if correct else WRONG_COLOUR
            for spine in ax.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(2.0 if correct else 4.0)
            lines = [f"#{rank + 1} " + _wrapped(name_of(gallery_labels[neighbour]))]
            if distances is not None:
                lines.append(f"{score_name} {format_score(distances[query, rank])}")
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
