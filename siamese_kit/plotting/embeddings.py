"""The embedding scatter: classes coloured, PCA past two dimensions, centroids and image thumbnails."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.offsetbox import AnnotationBbox, OffsetImage

from ._common import _figure, _image_batch


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


# A thumbnail's side in points, and how far apart two thumbnails' centres must be (frame included).
_THUMBNAIL_POINTS = 26.0
_THUMBNAIL_SPACING = 1.25 * _THUMBNAIL_POINTS


def spaced_choice(xy: np.ndarray, count: int, spacing: float, seed: int) -> np.ndarray:
    """Up to `count` indices of points at least `spacing` apart (a greedy pass in a seeded order).

    Args:
        xy: `[N, 2]` positions, in the units of `spacing`.
        count: the most points to choose.
        spacing: the least distance between two chosen points.
        seed: the same seed chooses the same points.

    Returns:
        int `[M]`, M <= count, sorted.
    """
    chosen: list[int] = []
    for index in np.random.default_rng(seed).permutation(len(xy)):
        if len(chosen) >= count:
            break
        if not chosen or np.min(np.hypot(*(xy[chosen] - xy[index]).T)) >= spacing:
            chosen.append(int(index))
    return np.sort(np.array(chosen, dtype=np.int64))


def _in_points(ax: Axes, xy: np.ndarray) -> np.ndarray:
    """The data positions `xy` in points on the page, from the axes' limits and size as laid out now."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    width, height = ax.get_position().size * ax.figure.get_size_inches() * 72.0
    return np.stack([(xy[:, 0] - x0) / (x1 - x0) * width, (xy[:, 1] - y0) / (y1 - y0) * height], axis=1)


def _draw_thumbnails(ax: Axes, xy: np.ndarray, images: np.ndarray, labels: np.ndarray,
                     colours: np.ndarray, count: int, seed: int) -> None:
    """Draws up to `count` of the points' images (chosen by `seed`, none covering another) as small
    framed pictures at `xy`."""
    chosen = spaced_choice(_in_points(ax, xy), count, _THUMBNAIL_SPACING, seed)
    height, width = images.shape[1:3]
    zoom = _THUMBNAIL_POINTS / max(height, width)  # the same size on the page, whatever the image size
    for index in chosen:
        image = images[index]
        if image.shape[-1] == 1:
            # The fixed 0..255 scale of show_image, so faint images stay faint.
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
        thumbnails: draw up to this many of the shown points' images as small pictures at their
            points, each framed in its class colour, chosen at random by `seed` among points far
            enough apart that no picture covers another (fewer where the points crowd); 0 for none.

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
