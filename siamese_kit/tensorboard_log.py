"""What TensorBoard shows of siamese-kit: every recipe's training curves, and embeddings in its projector.

`TensorBoardLog` is a context: any recipe run inside it (`run_contrastive`, `run_twin`, `run_one_shot`,
`run_metric`, `run_own_data`, `train_loop` or a `fit` with `StepLogger`) writes its loss, learning rate
and validation scores as TensorBoard scalars while it trains, because the progress monitors they all
report to write to the open log; `write_summary` adds the final numbers. `siamese-kit train --tensorboard
DIR` does both.

    with TensorBoardLog("logs/one_shot") as log:
        summary = run_one_shot(background, evaluation, OneShotRecipe(), runs=runs)
        log.write_summary(summary)
    # tensorboard --logdir logs

`write_projector` writes the files of TensorBoard's embedding projector (tensor, metadata, a sprite of
thumbnails and the config that ties them), which `siamese-kit embed RUN FOLDER --projector DIR` uses.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ._files import replace_atomically

_OPEN_LOGS: list["TensorBoardLog"] = []
# TensorBoard's projector refuses sprites wider or taller than this many pixels.
SPRITE_MAX_SIDE = 8192


class TensorBoardLog:
    """A TensorBoard event file that training writes to while the context is open.

    Args:
        log_dir: the folder for the event file (TensorBoard's `--logdir`, or a folder under it).

    Attributes:
        log_dir: as given, a Path.
    """

    def __init__(self, log_dir: str | Path):
        self.log_dir = Path(log_dir).expanduser()
        self._writer = None
        self._optimizer = None
        self._last_step = 0

    def __enter__(self) -> "TensorBoardLog":
        import tensorflow as tf

        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._writer = tf.summary.create_file_writer(str(self.log_dir))
        _OPEN_LOGS.append(self)
        return self

    def __exit__(self, *exc_info) -> None:
        _OPEN_LOGS.remove(self)
        self._writer.flush()
        self._writer.close()

    def watch_optimizer(self, optimizer) -> None:
        """Logs this optimizer's learning rate beside each loss from now on.

        Args:
            optimizer: a Keras optimizer (its learning rate, scheduled or fixed, is read at its step).
        """
        self._optimizer = optimizer

    def scalars(self, step: int, values: dict) -> None:
        """Writes scalars at one step.

        Args:
            step: the training step.
            values: name to number; None values are left out.
        """
        import tensorflow as tf

        self._last_step = max(self._last_step, int(step))
        with self._writer.as_default():
            for name, value in values.items():
                if value is not None:
                    tf.summary.scalar(name, float(value), step=int(step))

    def loss(self, step: int, loss: float) -> None:
        """Writes a recorded loss and the learning rate at that step.

        Args:
            step: the training step.
            loss: the loss (the mean since the last recorded one).
        """
        self.scalars(step, {"loss": loss, "learning_rate": self._learning_rate(step)})

    def _learning_rate(self, step: int) -> float | None:
        """The rate step `step` (1-based) trained with: a schedule at `step - 1` iterations done, since the
        losses are read some steps after they ran, when the optimizer's own count is already further."""
        if self._optimizer is None:
            return None
        import keras

        rate = getattr(self._optimizer, "_learning_rate", None)
        if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
            rate = rate(step - 1)
        else:
            rate = self._optimizer.learning_rate
        return float(keras.ops.convert_to_numpy(rate))

    def write_summary(self, summary: dict, step: int | None = None) -> None:
        """Writes a run's final numbers as scalars under `final/` and the whole summary as text.

        Args:
            summary: a recipe's summary dict; its numbers (nested ones named with `/`) become scalars.
            step: where to place them; default the last step logged.
        """
        import tensorflow as tf

        step = self._last_step if step is None else int(step)
        self.scalars(step, {f"final/{name}": value for name, value in _numbers(summary)})
        with self._writer.as_default():
            tf.summary.text("summary", "```\n" + json.dumps(summary, indent=1, default=str) + "\n```", step=step)


def _numbers(tree: dict, prefix: str = ""):
    """(name, value) for every number of a nested dict, the names joined with `/`."""
    for name, value in tree.items():
        if isinstance(value, dict):
            yield from _numbers(value, f"{prefix}{name}/")
        elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value):
            yield f"{prefix}{name}", value


def open_log() -> TensorBoardLog | None:
    """Returns:
    the innermost open `TensorBoardLog`, or None (training then writes nothing)."""
    return _OPEN_LOGS[-1] if _OPEN_LOGS else None


def sprite_image(images: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """The projector's sprite: every image as a thumbnail, in rows, on one square grid.

    Args:
        images: uint8 `[N, H, W, C]`.

    Returns:
        `(sprite, (thumb_height, thumb_width))`: the uint8 grid `[S, S, C]` (unused cells black) and the size of
        one thumbnail, shrunk where needed so the grid stays within `SPRITE_MAX_SIDE` pixels.
    """
    from PIL import Image

    count, height, width, channels = images.shape
    per_row = math.ceil(math.sqrt(count))
    scale = min(1.0, SPRITE_MAX_SIDE / (per_row * max(height, width)))
    thumb_height, thumb_width = max(1, int(height * scale)), max(1, int(width * scale))
    sprite = np.zeros((per_row * thumb_height, per_row * thumb_width, channels), np.uint8)
    for index, pixels in enumerate(images):
        if (thumb_height, thumb_width) != (height, width):
            image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels)
            pixels = np.asarray(image.resize((thumb_width, thumb_height), Image.Resampling.BILINEAR))
            pixels = pixels.reshape(thumb_height, thumb_width, channels)
        row, column = divmod(index, per_row)
        sprite[row * thumb_height : (row + 1) * thumb_height, column * thumb_width : (column + 1) * thumb_width] = pixels
    return sprite, (thumb_height, thumb_width)


def _tsv_field(text: str) -> str:
    """A metadata cell: tabs and line breaks would split the row, so they become spaces."""
    return " ".join(str(text).split())


def write_projector(out_dir: str | Path, embeddings: np.ndarray, images: np.ndarray, labels, class_names,
                    paths=None, name: str = "embeddings") -> dict:
    """Writes TensorBoard projector files: `embeddings.tsv`, `metadata.tsv` (class, path), `sprite.png` and
    `projector_config.pbtxt`; `tensorboard --logdir OUT_DIR` then shows them under Projector.

    Args:
        out_dir: the folder (created; files already there of the same names are replaced whole).
        embeddings: float `[N, D]`.
        images: uint8 `[N, H, W, C]`, the same order, for the sprite.
        labels: `[N]` class indices.
        class_names: the class names the labels index.
        paths: `[N]` file paths (a metadata column), or None.
        name: the tensor's name in the projector.

    Returns:
        `{"out", "images", "dimensions", "sprite": [height, width]}` (the sprite's thumbnail size).

    Raises:
        ValueError: when the counts of embeddings, images and labels differ.
    """
    from PIL import Image

    embeddings = np.asarray(embeddings, np.float32)
    images = np.asarray(images)
    labels = np.asarray(labels)
    if not len(embeddings) == len(images) == len(labels) or embeddings.ndim != 2:
        raise ValueError(f"write_projector: {len(embeddings)} embeddings, {len(images)} images and {len(labels)} labels; "
                         "give one image and one label per embedding row ([N, D]).")
    out_dir = Path(out_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    sprite, (thumb_height, thumb_width) = sprite_image(images)
    header = "class\tpath" if paths is not None else "class"
    rows = [_tsv_field(class_names[label]) + (f"\t{_tsv_field(paths[i])}" if paths is not None else "")
            for i, label in enumerate(labels)]
    replace_atomically(out_dir / "embeddings.tsv",
                       lambda path: np.savetxt(path, embeddings, delimiter="\t", fmt="%.7g"))
    replace_atomically(out_dir / "metadata.tsv", lambda path: Path(path).write_text("\n".join([header, *rows]) + "\n"))
    replace_atomically(out_dir / "sprite.png", lambda path: Image.fromarray(
        sprite[..., 0] if sprite.shape[-1] == 1 else sprite).save(path, format="PNG"))
    config = (f"embeddings {{\n  tensor_name: {json.dumps(name)}\n  tensor_path: \"embeddings.tsv\"\n"
              f"  metadata_path: \"metadata.tsv\"\n  tensor_shape: {embeddings.shape[0]}\n"
              f"  tensor_shape: {embeddings.shape[1]}\n  sprite {{\n    image_path: \"sprite.png\"\n"
              f"    single_image_dim: {thumb_width}\n    single_image_dim: {thumb_height}\n  }}\n}}\n")
    replace_atomically(out_dir / "projector_config.pbtxt", lambda path: Path(path).write_text(config))
    return {"out": str(out_dir), "images": int(len(embeddings)), "dimensions": int(embeddings.shape[1]),
            "sprite": [thumb_height, thumb_width]}


__all__ = ["SPRITE_MAX_SIDE", "TensorBoardLog", "open_log", "sprite_image", "write_projector"]
