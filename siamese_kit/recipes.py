"""Recipes: complete, configurable training runs that the CLI, the benchmarks and the notebooks share.

The contrastive recipe follows the Caffe Siamese tutorial on MNIST: balanced pairs (same and
different in turn), the LeNet tower, contrastive loss with margin 2, and a centroid decoder updated
while training that classifies by the nearest class centroid.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import keras
import numpy as np

from .data.imageset import ImageSet
from .data.pairs import fixed_pairs, pair_stream
from .devices import device_report
from .evaluation import best_accuracy_threshold, centroid_accuracy, pair_accuracy, pair_scores, predict_same
from .layers import CentroidDecoder, EuclideanDistance
from .losses import ContrastiveLoss
from .models.encoders import lenet_28
from .models.twin import SiameseModel
from .training import InverseDecay, StepLogger

OPTIMIZERS = ("adam", "caffe-sgd")


@dataclass
class ContrastiveRecipe:
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

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"ContrastiveRecipe: optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}.")
        for name in ("embedding_dim", "iterations", "batch_size", "eval_pairs"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ContrastiveRecipe: {name} must be a positive integer, got {value!r}.")
        if self.margin <= 0:
            raise ValueError(f"ContrastiveRecipe: margin must be > 0, got {self.margin}.")

    @classmethod
    def from_dict(cls, values: dict) -> "ContrastiveRecipe":
        """Builds a recipe from a dict (for example a JSON config), refusing unknown keys.

        Args:
            values: field name -> value.

        Returns:
            ContrastiveRecipe.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"ContrastiveRecipe: unknown setting(s) {unknown}; known: {sorted(known)}.")
        return cls(**values)


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
    encoder = lenet_28(recipe.embedding_dim, input_shape=tuple(input_shape), bottleneck=recipe.bottleneck)
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
    train_set: ImageSet, recipe: ContrastiveRecipe, print_every: int = 500, callbacks=()
) -> tuple[SiameseModel, StepLogger]:
    """Trains the contrastive recipe on a pair stream over `train_set`.

    Args:
        train_set: training images (every class needs 2 or more).
        recipe: hyperparameters.
        print_every: progress line every this many steps (0 for silence).
        callbacks: extra Keras callbacks.

    Returns:
        `(model, logger)`; `logger.history()` holds the loss curve.
    """
    model = build_contrastive_model(recipe, train_set.image_shape, train_set.num_classes)
    stream = pair_stream(train_set, recipe.batch_size, seed=recipe.seed, mode="alternate")
    logger = StepLogger(recipe.iterations, recipe.batch_size, every=max(1, recipe.iterations // 200), print_every=print_every)
    model.fit(
        stream, steps_per_epoch=recipe.iterations, epochs=1, verbose=0, shuffle=False,
        callbacks=[logger, *callbacks],
    )
    return model, logger


def evaluate_contrastive(
    model: SiameseModel, test_set: ImageSet, validation_set: ImageSet, num_pairs: int = 10_000, seed: int = 0
) -> dict:
    """Nearest-centroid accuracy on every test image, and pair accuracy at a calibrated threshold.

    The distance threshold is the one that maximises accuracy on validation pairs; it is then applied
    unchanged to test pairs, so no test label is used to choose it.

    Args:
        model: a trained SiameseModel with a CentroidDecoder.
        test_set: test images.
        validation_set: held-out training images for the threshold.
        num_pairs: pairs drawn (seeded) from each of the two sets.
        seed: pair-set seed.

    Returns:
        dict with `test_centroid_accuracy`, `pair_accuracy`, `pair_threshold`, the `CentroidReport`
        (`report`), `test_embeddings`, the test `pairs` and their `pair_scores`.
    """
    test_embeddings = model.embed(test_set)
    report = centroid_accuracy(model, test_set, test_embeddings)
    validation_pairs = fixed_pairs(validation_set, num_pairs, seed=seed + 1)
    validation_scores = pair_scores(model, model.embed(validation_set), validation_pairs)
    threshold = best_accuracy_threshold(validation_scores, validation_pairs.pair_label, model.score_kind)
    test_pairs = fixed_pairs(test_set, num_pairs, seed=seed)
    test_scores = pair_scores(model, test_embeddings, test_pairs)
    return {
        "test_centroid_accuracy": report.accuracy,
        "pair_accuracy": pair_accuracy(test_scores, test_pairs.pair_label, threshold, model.score_kind),
        "pair_threshold": threshold,
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
) -> dict:
    """Trains, evaluates and (optionally) writes the model, a summary and pictures.

    Args:
        train_set: training images; `recipe.validation_fraction` of each class is held out.
        test_set: test images, all of which are classified.
        recipe: hyperparameters.
        out_dir: where to write `model.keras`, `summary.json`, `prediction_grid.png`,
            `embedding.png` and `training_curve.png`; None writes nothing.
        print_every: progress line every this many steps.

    Returns:
        the summary dict (also `summary.json`): `test_centroid_accuracy`, `pair_accuracy`,
        `pair_threshold`, `embedding_dim`, `iterations`, `batch_size`, `seconds`, `device`, the recipe.
    """
    start = time.perf_counter()
    device = device_report()
    print(f"device: {device}", flush=True)
    fit_set, validation_set = train_set.split(recipe.validation_fraction, seed=recipe.seed)
    model, logger = train_contrastive(fit_set, recipe, print_every=print_every)
    train_seconds = time.perf_counter() - start
    results = evaluate_contrastive(model, test_set, validation_set, recipe.eval_pairs, recipe.seed)
    summary = {
        "test_centroid_accuracy": round(results["test_centroid_accuracy"], 4),
        "pair_accuracy": round(results["pair_accuracy"], 4),
        "pair_threshold": round(results["pair_threshold"], 4),
        "embedding_dim": recipe.embedding_dim,
        "iterations": recipe.iterations,
        "batch_size": recipe.batch_size,
        "train_seconds": round(train_seconds, 1),
        "seconds": round(time.perf_counter() - start, 1),
        "device": device,
        "recipe": asdict(recipe),
    }
    if out_dir is not None:
        _write_contrastive_outputs(Path(out_dir), model, logger, test_set, results, summary)
        summary["seconds"] = round(time.perf_counter() - start, 1)
        (Path(out_dir) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _write_contrastive_outputs(out_dir: Path, model, logger, test_set, results, summary) -> None:
    from . import plotting

    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "model.keras")
    pairs = results["pairs"]
    predictions = predict_same(results["pair_scores"], results["pair_threshold"], model.score_kind)
    figures = {
        "prediction_grid.png": plotting.pair_set_grid(
            test_set, pairs, predictions=predictions, scores=results["pair_scores"], count=20,
            score_name="distance",
            title=f"Test pairs (threshold {results['pair_threshold']:.2f} from validation pairs)",
        ),
        "embedding.png": plotting.embedding_scatter(
            results["test_embeddings"], test_set.labels, class_names=test_set.class_names,
            centroids=np.asarray(model.decoder.centroids),
            title=f"Test embeddings: nearest-centroid accuracy {summary['test_centroid_accuracy']:.4f}",
        ),
        "training_curve.png": plotting.training_curves(logger.history(), x_label="step"),
    }
    for filename, figure in figures.items():
        figure.savefig(out_dir / filename, dpi=100, bbox_inches="tight")
