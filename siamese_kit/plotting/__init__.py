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

Files: `_common.py` (figure and axes helpers, colours, image checks, the notebook PNG hook; `show_image`,
`hide_ticks` and `format_score` are public, for the widgets), `grids.py`
(images of an ImageSet, one-shot tasks, retrieval), `pair_grids.py` (pairs and mistakes),
`embeddings.py` (the embedding scatter), `curves.py` (training and validation curves, confusion matrix, ROC,
score histograms) and `geometry.py` (each loss against the distance it reads, with its gradient's direction;
2-D embeddings as they train).
"""

from __future__ import annotations

# Importing _common registers the notebook PNG formatter (`_show_figures_in_notebooks()`), once.
from ._common import (
    CORRECT_COLOUR,
    format_score,
    hide_ticks,
    show_image,
    WRONG_COLOUR,
    _class_indices,
    _figure,
    _grid_figure,
    _image_batch,
    _pair_images,
    _pair_labels,
    _PAIR_WORDS,
    _show_figures_in_notebooks,
)
from .curves import (_unit_number, confusion_matrix_plot, per_class_accuracy_plot, roc_curve_plot, score_histograms,
                     training_curves, validation_curve)
from .geometry import binary_cross_entropy_plot, contrastive_loss_plot, embedding_snapshots, triplet_loss_plot
from .embeddings import _class_colours, _draw_thumbnails, embedding_scatter
from .grids import _class_labels, class_mean_grid, image_grid, one_shot_task_grid, retrieval_grid
from .pair_grids import _join_pair, _score_kind, mistakes_grid, pair_grid, pair_set_grid

__all__ = [
    "image_grid",
    "class_mean_grid",
    "pair_grid",
    "pair_set_grid",
    "embedding_scatter",
    "training_curves",
    "contrastive_loss_plot",
    "binary_cross_entropy_plot",
    "triplet_loss_plot",
    "embedding_snapshots",
    "validation_curve",
    "confusion_matrix_plot",
    "roc_curve_plot",
    "score_histograms",
    "per_class_accuracy_plot",
    "mistakes_grid",
    "retrieval_grid",
    "one_shot_task_grid",
    # the drawing helpers the widgets share with the figures, so both look alike
    "format_score",
    "hide_ticks",
    "show_image",
]
