"""What the widgets share: a Figure or an image as PNG bytes for an `ipywidgets.Image`, and pair scores."""

from __future__ import annotations

import io

import numpy as np
from keras import ops

from ..distances import paired_distances


def display_widget(widget, text: str) -> None:
    """Displays a widget with `text` as its plain-text fallback instead of its repr.

    Where no kernel runs the widget (a notebook rendered to HTML or read as text, a test's output
    check), the fallback is all there is: one sentence saying what the widget is reads better than
    `VBox(children=(HBox(children=(Button(...`.

    Args:
        widget: an ipywidgets widget.
        text: what to show in its place where widgets do not render.
    """
    from IPython.display import display

    bundle = widget._repr_mimebundle_()
    # ipywidgets 8 returns the bundle itself; some front ends hand back (data, metadata).
    data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
    data["text/plain"] = text
    display(data, raw=True)


def figure_png(figure, dpi: int = 80) -> bytes:
    """Renders a matplotlib Figure to PNG bytes, for an `ipywidgets.Image`.

    Args:
        figure: a `matplotlib.figure.Figure`.
        dpi: resolution.

    Returns:
        the PNG file's bytes.
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def image_png(image: np.ndarray, scale: int = 4) -> bytes:
    """One uint8 image `[H, W, C]` (C = 1 or 3) as PNG bytes, enlarged `scale` times without blurring.

    Args:
        image: pixels 0..255.
        scale: each pixel becomes a `scale` x `scale` block.

    Returns:
        the PNG file's bytes.
    """
    from PIL import Image

    pixels = np.asarray(image, dtype=np.uint8)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    picture = Image.fromarray(pixels)
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def score_pairs(model, first_embeddings, second_embeddings) -> np.ndarray:
    """Pair scores from embeddings: the model's head, or the Euclidean distance for head-less models.

    Args:
        model: a `SiameseModel` (scored by its head) or a model with `score_kind == "distance"` and no
            head (a `PrototypeModel`).
        first_embeddings: `[P, D]`.
        second_embeddings: `[P, D]`.

    Returns:
        float32 `[P]`: distances or similarities, as `model.score_kind` says.
    """
    first = np.asarray(first_embeddings, dtype=np.float32)
    second = np.asarray(second_embeddings, dtype=np.float32)
    head = getattr(model, "head", None)
    if head is None:
        return np.asarray(ops.convert_to_numpy(paired_distances(first, second)), dtype=np.float32)
    return np.asarray(ops.convert_to_numpy(head([first, second])), dtype=np.float32).reshape(-1)
