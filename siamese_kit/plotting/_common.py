"""What every plotting module shares: figure and axes helpers, the two verdict colours, image checks.

Importing it registers a PNG formatter for `Figure` in a running IPython kernel, once per process.
"""

from __future__ import annotations

import warnings

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, FigureBase

from ..data.imageset import ImageSet


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


def hide_ticks(ax: Axes, frame: bool = False) -> None:
    """Clears an image's axes of ticks; a thin light frame keeps white-background images (Omniglot) apart.

    Args:
        ax: the axes an image is drawn in.
        frame: draw the thin frame.
    """
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


def show_image(ax: Axes, image: np.ndarray) -> None:
    """Draws one image as every siamese-kit picture does: grey on a fixed 0..255 scale, RGB as it is.

    Args:
        ax: the axes to draw in.
        image: `[H, W, C]` pixels, 0..255 (uint8, or floats rescaled for RGB).
    """
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


def format_score(value: float) -> str:
    """A score as titles show it: two decimals, like the tutorials'; scientific only where two decimals
    would show 0.00.

    Args:
        value: a pair score.

    Returns:
        the text.
    """
    if not np.isfinite(value):
        return str(value)
    return f"{value:.2f}" if value == 0 or abs(value) >= 0.01 else f"{value:.1e}"
