"""What every recipe shares: settings from a dict, image-size checks, the seeded conv4 build, writing a
run's outputs atomically."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import keras

from .._checks import positive_int
from .._files import replace_atomically as _replace_atomically
from ..data.imageset import ImageSet
from ..models.encoders import conv4, resnet12

OPTIMIZERS = ("adam", "caffe-sgd")
# The towers a recipe's `tower` setting names: both take width and growth and end in dense features.
TOWERS = {"conv4": conv4, "resnet12": resnet12}


class _RecipeSettings:
    """What every recipe dataclass shares: building it from a dict such as a JSON config."""

    @classmethod
    def from_dict(cls, values: dict):
        """Builds a recipe from a dict (for example a JSON config), refusing unknown keys.

        Args:
            values: field name -> value.

        Returns:
            the recipe.

        Raises:
            ValueError: naming unknown keys and listing the known ones.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown setting(s) {unknown}; known: {sorted(known)}.")
        return cls(**values)

    def _require_positive_ints(self, *names: str) -> None:
        for name in names:
            positive_int(getattr(self, name), f"{type(self).__name__}: {name}")


def _require_image_size(caller: str, size: int, **imagesets: ImageSet) -> None:
    """Refuses image sets whose images are not `size` x `size`, naming the argument and the fix."""
    for role, imageset in imagesets.items():
        if imageset.image_shape[:2] != (size, size):
            raise ValueError(
                f"{caller}: {role} images are {imageset.image_shape[:2]}, the recipe expects "
                f"{size}x{size}; load with image_size={size}."
            )


def _write_outputs(out_dir: Path, model, summary: dict, figures: dict) -> None:
    """Saves the model, each figure (built lazily by `figures[name](plotting)`) and summary.json."""
    from .. import plotting

    out_dir.mkdir(parents=True, exist_ok=True)
    _replace_atomically(out_dir / "model.keras", model.save)
    for filename, draw in figures.items():
        _replace_atomically(out_dir / filename, lambda path: draw(plotting).savefig(path, dpi=100, bbox_inches="tight"))
    _replace_atomically(out_dir / "summary.json", lambda path: path.write_text(json.dumps(summary, indent=2) + "\n"))


def compiled_on_tower(model_class, recipe, channels: int = 1, input_shape=None, compile_loss=None, **model_options):
    """`model_class` on the recipe's seeded tower (`conv4`, or the recipe's `tower` where it has one: one of
    `TOWERS`; linear embedding), compiled with Adam and a cosine decay over the recipe's iterations: the
    build the episode and metric recipes share.

    Args:
        model_class: `PrototypeModel`, `EmbeddingModel`, or `SiameseModel` (with a `head` and a
            `compile_loss`).
        recipe: a recipe with `seed`, `image_size`, `embedding_dim`, `width`, `growth`, `learning_rate`
            and `iterations` (and optionally `tower`).
        channels: image channels.
        input_shape: `(H, W, C)`, or None for `(image_size, image_size, channels)`.
        compile_loss: the loss `compile` takes, for a model that does not carry its own (a
            `SiameseModel`'s `ContrastiveLoss`).
        **model_options: passed to `model_class` (an `EmbeddingModel`'s loss, a `SiameseModel`'s head).

    Returns:
        the compiled model.
    """
    keras.utils.set_random_seed(recipe.seed)
    encoder = TOWERS[getattr(recipe, "tower", "conv4")](
        tuple(input_shape or (recipe.image_size, recipe.image_size, channels)), feature_dim=recipe.embedding_dim,
        width=recipe.width, growth=recipe.growth, feature_activation=None, pool_last=False,
    )
    model = model_class(encoder, **model_options)
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
        recipe.learning_rate, recipe.iterations)), loss=compile_loss)
    return model
