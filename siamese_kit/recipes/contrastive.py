"""The contrastive recipe, after the Caffe Siamese tutorial on MNIST: balanced pairs (same and
different in turn), the LeNet tower, contrastive loss with margin 2, and a centroid decoder updated
while training that classifies by the nearest class centroid."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from ..data.imageset import ImageSet
from ..data.streams.pairs import fixed_pairs, pair_stream
from ..data.streams.seeds import derived_seed
from ..checkpoint import CheckpointCallback
from ..devices import device_report
from ..evaluation import (
    best_threshold,
    centroid_accuracy,
    pair_accuracy,
    pair_scores,
    predict_same,
)
from ..layers import CentroidDecoder, EuclideanDistance
from ..losses import ContrastiveLoss
from ..models.encoders import lenet_28, pretrained
from ..models.twin import SiameseModel
from ..training import InverseDecay, StepLogger
from ..validation import validation_callback
from ._common import OPTIMIZERS, _RecipeSettings, _write_outputs

@dataclass
class ContrastiveRecipe(_RecipeSettings):
    """Hyperparameters of the contrastive MNIST recipe.

    Args:
        embedding_dim: embedding size (2 for the classic plot).
        iterations: training steps.
        batch_size: pairs per step.
        margin: contrastive margin (the tutorial: 2.0).
        optimizer: `"adam"` (the toolkit's choice: Adam with cosine decay) or `"caffe-sgd"` (the
            tutorial's solver: SGD, momentum 0.9, Caffe "inv" decay).
        learning_rate: initial learning rate; None picks 1e-3 for Adam and 1e-3 for Caffe SGD.
        bottleneck: width of the LeNet layer before the feature layer (10 in the Caffe template);
            None (the toolkit's choice, better on validation digits) feeds 500 units to the features.
        centroid_momentum: moving-average weight of the centroid decoder.
        validation_fraction: share of each training class held out to calibrate the pair threshold.
        eval_pairs: number of fixed, seeded test pairs for pair accuracy.
        seed: seeds weights, pair stream and splits.
        backbone: None for the LeNet tower; a `keras.applications` backbone name (see
            `siamese_kit.models.encoders.BACKBONES`) for colour photographs.
        backbone_weights: the backbone's weights: `"imagenet"`, None (random) or a file.
    """

    embedding_dim: int = 16
    iterations: int = 2000
    batch_size: int = 64
    margin: float = 2.0
    optimizer: str = "adam"
    learning_rate: float | None = None
    bottleneck: int | None = None
    centroid_momentum: float = 0.99
    validation_fraction: float = 1 / 12
    eval_pairs: int = 10_000
    seed: int = 0
    backbone: str | None = None
    backbone_weights: str | None = "imagenet"

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"ContrastiveRecipe: optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}.")
        self._require_positive_ints("embedding_dim", "iterations", "batch_size", "eval_pairs")
        if self.margin <= 0:
            raise ValueError(f"ContrastiveRecipe: margin must be > 0, got {self.margin}.")


def build_contrastive_model(recipe: ContrastiveRecipe, input_shape, num_classes: int) -> SiameseModel:
    """A compiled contrastive twin with a centroid decoder, as the recipe describes.

    Args:
        recipe: hyperparameters.
        input_shape: `(H, W, C)` of the images.
        num_classes: classes the centroid decoder keeps.

    Returns:
        compiled SiameseModel.
    """
    keras.utils.set_random_seed(recipe.seed)
    if recipe.backbone is None:
        encoder = lenet_28(recipe.embedding_dim, input_shape=tuple(input_shape), bottleneck=recipe.bottleneck)
    else:
        encoder = pretrained(tuple(input_shape), recipe.embedding_dim, recipe.backbone, weights=recipe.backbone_weights)
    model = SiameseModel(
        encoder, EuclideanDistance(), CentroidDecoder(num_classes, momentum=recipe.centroid_momentum)
    )
    if recipe.optimizer == "adam":
        rate = keras.optimizers.schedules.CosineDecay(recipe.learning_rate or 1e-3, recipe.iterations)
        optimizer = keras.optimizers.Adam(rate)
    else:
        optimizer = keras.optimizers.SGD(InverseDecay(recipe.learning_rate or 1e-3), momentum=0.9)
    model.compile(optimizer=optimizer, loss=ContrastiveLoss(recipe.margin))
    return model


def train_contrastive(
    train_set: ImageSet, recipe: ContrastiveRecipe, print_every: int = 500, callbacks=(), checkpoint=None,
    refresh_centroids: bool = True, watch=None,
) -> tuple[SiameseModel, StepLogger]:
    """Trains the contrastive recipe on a pair stream over `train_set`.

    At the end the centroids are recomputed from the final encoder's inference embeddings of
    `train_set` (`SiameseModel.refresh_centroids`), replacing the moving averages kept while training.

    Args:
        train_set: training images (every class needs 2 or more).
        recipe: hyperparameters.
        print_every: progress line every this many steps (0 for silence).
        callbacks: extra Keras callbacks.
        checkpoint: a `siamese_kit.checkpoint.Checkpointer` to save to every `checkpoint.every`
            steps and, with `resume=True`, to continue from; None saves nothing.
        refresh_centroids: recompute the centroids after training; False keeps the training-time
            moving averages (to compare the two).
        watch: a `siamese_kit.validation.ValidationWatch`: the validation curve is measured while training
            (in `logger.recorder`) and the model ends with the step the watch keeps.

    Returns:
        `(model, logger)`; `logger.history()` holds the loss curve.

    Raises:
        FloatingPointError: (with a checkpoint) when the loss becomes NaN or Inf, naming the step.
    """
    model = build_contrastive_model(recipe, train_set.image_shape, train_set.num_classes)
    logger = StepLogger(recipe.iterations, recipe.batch_size, every=max(1, recipe.iterations // 200), print_every=print_every)
    done = position = 0
    extra = []
    if checkpoint is not None:
        restored = checkpoint.restore(model)
        if restored is not None:
            done, position = restored.step, restored.next_batch
            logger.load_state(restored.monitor, done)
        extra = [CheckpointCallback(checkpoint, done, logger.recorder)]
    if watch is not None:
        if checkpoint is not None and restored is not None:
            watch.load_state((restored.monitor or {}).get("validation"))
        # Before the checkpoint callback, so each checkpoint holds the curve up to its own step.
        extra.insert(0, validation_callback(watch, recipe.iterations, done, monitor=logger.recorder))
    if done < recipe.iterations:
        # The stream is seeded per batch number, so starting at the saved one continues the same pairs.
        stream = pair_stream(train_set, recipe.batch_size, seed=recipe.seed, mode="alternate",
                             start_batch=position)
        model.fit(
            stream, steps_per_epoch=recipe.iterations - done, epochs=1, verbose=0, shuffle=False,
            callbacks=[logger, *extra, *callbacks],
        )
    if watch is not None:
        watch.finish(model)
    if refresh_centroids:
        model.refresh_centroids(train_set)
    return model, logger


def fixed_distance_thresholds(margin: float) -> dict[str, float]:
    """Thresholds a user might pick for a contrastive twin without any validation data.

    0.5 is the usual cut for a score between 0 and 1 (the keras.io example's), margin/2 is halfway
    between where the loss pulls same pairs (0) and pushes different ones (the margin), and the margin
    is the loss's own boundary. A calibrated threshold is compared against all three.

    Args:
        margin: the contrastive margin the model was trained with.

    Returns:
        `{"0.5": 0.5, "margin/2": margin / 2, "margin": margin}`.
    """
    return {"0.5": 0.5, "margin/2": margin / 2, "margin": margin}


def evaluate_contrastive(
    model: SiameseModel,
    test_set: ImageSet,
    validation_set: ImageSet,
    num_pairs: int = 10_000,
    seed: int = 0,
    margin: float | None = None,
    test_embeddings: np.ndarray | None = None,
) -> dict:
    """Nearest-centroid accuracy on every test image, and pair accuracy at a calibrated threshold.

    The distance threshold is the one that maximises accuracy on validation pairs; it is then applied
    unchanged to test pairs, so no test label is used to choose it. With the margin given, the threshold
    stays within (0, margin], and test pair accuracy at the fixed thresholds of
    `fixed_distance_thresholds` is reported beside it.

    Args:
        model: a trained SiameseModel with a CentroidDecoder.
        test_set: test images.
        validation_set: held-out training images for the threshold.
        num_pairs: pairs drawn (seeded) from each of the two sets.
        seed: pair-set seed.
        margin: the contrastive margin of the model; None leaves the threshold unbounded and skips
            the fixed-threshold comparison.
        test_embeddings: `model.embed(test_set)` if already computed.

    Returns:
        dict with `test_centroid_accuracy`, `pair_accuracy`, `pair_threshold`,
        `fixed_threshold_pair_accuracy` (name -> test pair accuracy; empty without a margin), the
        `CentroidReport` (`report`), `test_embeddings`, the test `pairs` and their `pair_scores`.
    """
    if test_embeddings is None:
        test_embeddings = model.embed(test_set)
    report = centroid_accuracy(model, test_set, test_embeddings)
    validation_pairs = fixed_pairs(validation_set, num_pairs, seed=derived_seed(seed, "validation pairs"))
    validation_scores = pair_scores(model, model.embed(validation_set), validation_pairs)
    threshold = best_threshold(validation_scores, validation_pairs.pair_label, model.score_kind, margin=margin)
    test_pairs = fixed_pairs(test_set, num_pairs, seed=seed)
    test_scores = pair_scores(model, test_embeddings, test_pairs)
    fixed = fixed_distance_thresholds(margin) if margin is not None else {}
    return {
        "test_centroid_accuracy": report.accuracy,
        "pair_accuracy": pair_accuracy(test_scores, test_pairs.pair_label, threshold, model.score_kind),
        "pair_threshold": threshold,
        "fixed_threshold_pair_accuracy": {
            name: pair_accuracy(test_scores, test_pairs.pair_label, value, model.score_kind)
            for name, value in fixed.items()
        },
        "report": report,
        "test_embeddings": test_embeddings,
        "pairs": test_pairs,
        "pair_scores": test_scores,
    }


def run_contrastive(
    train_set: ImageSet,
    test_set: ImageSet,
    recipe: ContrastiveRecipe,
    out_dir: str | Path | None = None,
    print_every: int = 500,
    checkpoint=None,
) -> dict:
    """Trains, evaluates and (optionally) writes the model, a summary and pictures.

    Args:
        train_set: training images; `recipe.validation_fraction` of each class is held out.
        test_set: test images, all of which are classified.
        recipe: hyperparameters.
        out_dir: where to write `model.keras`, `summary.json`, `prediction_grid.png`,
            `embedding.png` and `training_curve.png`; None writes nothing.
        print_every: progress line every this many steps.
        checkpoint: a `Checkpointer` to save to and resume from (see `train_contrastive`).

    Returns:
        the summary dict (also `summary.json`): `test_centroid_accuracy` (centroids refreshed from
        the final encoder), `moving_average_centroid_accuracy` (the training-time centroids), `pair_accuracy`,
        `pair_threshold`, `embedding_dim`, `iterations`, `batch_size`, `seconds`, `device`, the recipe.
    """
    start = time.perf_counter()
    device = device_report()
    print(f"device: {device}", flush=True)
    fit_set, validation_set = train_set.split(recipe.validation_fraction, seed=recipe.seed)
    model, logger = train_contrastive(fit_set, recipe, print_every=print_every, checkpoint=checkpoint,
                                      refresh_centroids=False)
    train_seconds = time.perf_counter() - start
    # Reported beside the refreshed centroids' accuracy, to show what the refresh changes.
    test_embeddings = model.embed(test_set)
    moving_average_accuracy = centroid_accuracy(model, test_set, test_embeddings).accuracy
    model.refresh_centroids(fit_set)
    results = evaluate_contrastive(model, test_set, validation_set, recipe.eval_pairs, recipe.seed,
                                   margin=recipe.margin, test_embeddings=test_embeddings)
    summary = {
        "test_centroid_accuracy": round(results["test_centroid_accuracy"], 4),
        "moving_average_centroid_accuracy": round(moving_average_accuracy, 4),
        "pair_accuracy": round(results["pair_accuracy"], 4),
        "pair_threshold": round(results["pair_threshold"], 4),
        "fixed_threshold_pair_accuracy": {
            name: round(value, 4) for name, value in results["fixed_threshold_pair_accuracy"].items()
        },
        "embedding_dim": recipe.embedding_dim,
        "iterations": recipe.iterations,
        "batch_size": recipe.batch_size,
        "train_seconds": round(train_seconds, 1),
        "seconds": round(time.perf_counter() - start, 1),
        "device": device,
        "recipe": asdict(recipe),
    }
    if out_dir is not None:
        predictions = predict_same(results["pair_scores"], results["pair_threshold"], model.score_kind)
        _write_outputs(Path(out_dir), model, summary, {
            "prediction_grid.png": lambda plotting: plotting.pair_set_grid(
                test_set, results["pairs"], predictions=predictions, scores=results["pair_scores"],
                count=20, score_name="distance",
                title=f"Test pairs (threshold {results['pair_threshold']:.2f} from validation pairs)"),
            "embedding.png": lambda plotting: plotting.embedding_scatter(
                results["test_embeddings"], test_set.labels, class_names=test_set.class_names,
                centroids=np.asarray(model.decoder.centroids),
                title=f"Test embeddings: nearest-centroid accuracy {summary['test_centroid_accuracy']:.4f}"),
            "training_curve.png": lambda plotting: plotting.training_curves(logger.history(), x_label="step"),
        })
    return summary
