"""The metric-learning recipe: a tower alone (`EmbeddingModel`) on class-balanced batches with a batch
loss (triplet, multi-similarity or supervised contrastive)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..data.streams.augment import AffineDistortion
from ..data.streams.balanced import class_balanced_stream
from ..data.imageset import ImageSet
from ..devices import device_report
from ..losses import DISTANCES, MINING, MultiSimilarityLoss, SupervisedContrastiveLoss, TripletLoss
from ..models.embedding import EmbeddingModel
from ..training import TerminalMonitor
from ._common import _RecipeSettings, _require_image_size, compiled_on_tower
from .one_shot import _train_and_test

BATCH_LOSSES = ("triplet", "multi_similarity", "supervised_contrastive")


@dataclass
class MetricRecipe(_RecipeSettings):
    """Hyperparameters of the metric-learning recipe (`--recipe triplet`): a `conv4` tower trained
    on P x K class-balanced batches with a batch loss.

    Args:
        image_size: side of the square images when no shape is given.
        embedding_dim: size of the (linear) embedding.
        width: filters in the first conv block.
        growth: factor between the filters of successive blocks.
        iterations: training steps (one batch each).
        classes_per_batch: P, classes per batch.
        images_per_class: K, images of each class per batch.
        loss: `"triplet"`, `"multi_similarity"` or `"supervised_contrastive"`.
        margin: the triplet loss's margin (in the units of `distance`).
        mining: the triplet loss's mining, `"batch_all"`, `"batch_hard"` or `"semi_hard"`.
        distance: the triplet loss's distance, `"euclidean"`, `"squared"` or `"cosine"`.
        normalize: the triplet loss measures L2-normalised embeddings (FaceNet: with `"squared"` and
            margin 0.2); the tower's embeddings are then unit length.
        temperature: the supervised contrastive loss's temperature.
        within_group: draw each batch's classes from one group (an Omniglot alphabet).
        distortions: apply random affine distortions to training images.
        learning_rate: initial Adam learning rate (cosine decay to zero over the run).
        seed: seeds weights and the batch stream.
    """

    image_size: int = 28
    embedding_dim: int = 64
    width: int = 16
    growth: int = 2
    iterations: int = 2000
    classes_per_batch: int = 16
    images_per_class: int = 4
    loss: str = "triplet"
    margin: float = 1.0
    mining: str = "semi_hard"
    distance: str = "euclidean"
    normalize: bool = False
    temperature: float = 0.1
    within_group: bool = False
    distortions: bool = False
    learning_rate: float = 1e-3
    seed: int = 0

    def __post_init__(self):
        self._require_positive_ints("image_size", "embedding_dim", "width", "growth", "iterations",
                                    "classes_per_batch", "images_per_class")
        if self.loss not in BATCH_LOSSES:
            raise ValueError(f"MetricRecipe: loss must be one of {', '.join(BATCH_LOSSES)}, got {self.loss!r}.")
        if self.distance not in DISTANCES:
            raise ValueError(f"MetricRecipe: distance must be one of {', '.join(DISTANCES)}, got {self.distance!r}.")
        if self.mining not in MINING:
            raise ValueError(f"MetricRecipe: mining must be one of {', '.join(MINING)}, got {self.mining!r}.")
        if not isinstance(self.normalize, bool):
            raise ValueError(f"MetricRecipe: normalize must be true or false, got {self.normalize!r}.")
        if not self.learning_rate > 0:
            raise ValueError(f"MetricRecipe: learning_rate must be > 0, got {self.learning_rate}.")

    def batch_loss(self):
        """The recipe's loss object."""
        if self.loss == "triplet":
            return TripletLoss(self.margin, self.mining, self.distance, normalize=self.normalize)
        if self.loss == "multi_similarity":
            return MultiSimilarityLoss()
        return SupervisedContrastiveLoss(self.temperature)


def build_embedding_model(recipe: MetricRecipe, channels: int = 1, input_shape=None) -> EmbeddingModel:
    """A compiled `EmbeddingModel` with the recipe's `conv4` tower, loss, and Adam with cosine decay.

    Args:
        recipe: hyperparameters.
        channels: image channels.
        input_shape: `(H, W, C)` for images that are not `recipe.image_size` squares; None builds
            for `(image_size, image_size, channels)`.

    Returns:
        compiled EmbeddingModel.
    """
    return compiled_on_tower(EmbeddingModel, recipe, channels, input_shape, loss=recipe.batch_loss())


def balanced_batches(train_set: ImageSet, recipe: MetricRecipe):
    """The recipe's batch stream as a function of the first batch number (what `train_loop` resumes).

    Args:
        train_set: the training images.
        recipe: hyperparameters.

    Returns:
        `start -> tf.data.Dataset` of `(images, labels)` P x K batches.
    """
    augment = AffineDistortion() if recipe.distortions else None
    return lambda start: class_balanced_stream(train_set, recipe.classes_per_batch, recipe.images_per_class,
                                               within_group=recipe.within_group, seed=recipe.seed,
                                               start_batch=start, augment=augment)


def run_metric(train_set: ImageSet, eval_set: ImageSet, recipe: MetricRecipe, runs=None, out_dir=None,
               monitor=None, checkpoint=None) -> dict:
    """Trains a tower on class-balanced batches with a batch loss, then tests it on unseen classes:
    Lake's runs (when given), within-group episodes, and leave-one-out retrieval.

    Args:
        train_set: training images at `recipe.image_size` (Omniglot's background alphabets).
        eval_set: held-out images at the same size, with groups (the evaluation alphabets).
        recipe: hyperparameters.
        runs: Lake's runs at the same size, or None.
        out_dir: where to write `model.keras`, `summary.json` and the pictures; None writes nothing.
        monitor: a `TrainingMonitor`; default a terminal progress bar.
        checkpoint: a `Checkpointer` to save to and resume from.

    Returns:
        the summary dict: `lake20_accuracy` (with runs), `episodes`, `precision_at_1`, `map_at_r`,
        `iterations`, `seconds`, `device`, the recipe.
    """
    _require_image_size("run_metric", recipe.image_size, train_set=train_set, eval_set=eval_set)
    start = time.perf_counter()
    device = device_report()
    model = build_embedding_model(recipe, train_set.image_shape[-1])
    per_step = recipe.classes_per_batch * recipe.images_per_class
    monitor = monitor or TerminalMonitor(recipe.iterations, per_step, record_every=max(1, recipe.iterations // 200),
                                         unit="images")
    return _train_and_test(model, balanced_batches(train_set, recipe), recipe, train_set, eval_set, runs, out_dir,
                           monitor, checkpoint, start, device,
                           f"{recipe.loss.replace('_', ' ')} loss while training (one step = {per_step} images)",
                           retrieval=True)

