"""Recipes: complete, configurable training runs that the CLI, the benchmarks and the notebooks share.

The contrastive recipe follows the Caffe Siamese tutorial on MNIST: balanced pairs (same and
different in turn), the LeNet tower, contrastive loss with margin 2, and a centroid decoder updated
while training that classifies by the nearest class centroid.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import keras
import numpy as np

from ._checks import positive_int
from .data.augment import AffineDistortion
from .data.episodes import episode_stream, fixed_episodes
from .data.imageset import ImageSet
from .data.pairs import fixed_pairs, pair_stream
from .data.seeds import derived_seed
from .checkpoint import CheckpointCallback
from .devices import device_report
from .evaluation import (
    best_threshold,
    calibrate_twin_head,
    centroid_accuracy,
    pair_accuracy,
    pair_scores,
    predict_same,
    roc_auc,
)
from .layers import CentroidDecoder, EuclideanDistance, TwinClassifierHead
from .losses import ContrastiveLoss
from .models.encoders import conv4, koch_105, lenet_28
from .models.prototype import PrototypeModel
from .models.twin import SiameseModel
from .oneshot import episode_accuracy, evaluate_lake_runs
from .training import InverseDecay, StepLogger, TerminalMonitor, train_loop

OPTIMIZERS = ("adam", "caffe-sgd")


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
    train_set: ImageSet, recipe: ContrastiveRecipe, print_every: int = 500, callbacks=(), checkpoint=None,
    refresh_centroids: bool = True,
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
    if done < recipe.iterations:
        # The stream is seeded per batch number, so starting at the saved one continues the same pairs.
        stream = pair_stream(train_set, recipe.batch_size, seed=recipe.seed, mode="alternate",
                             start_batch=position)
        model.fit(
            stream, steps_per_epoch=recipe.iterations - done, epochs=1, verbose=0, shuffle=False,
            callbacks=[logger, *extra, *callbacks],
        )
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


TWIN_ENCODERS = ("conv4", "koch_105")


@dataclass
class TwinRecipe(_RecipeSettings):
    """Hyperparameters of the twin-classifier Omniglot recipe (binary cross-entropy on pairs).

    The defaults are the toolkit's CPU recipe: a small `conv4` tower at 28 px keeping its last 3x3
    map, Adam with cosine decay, and Koch's affine distortions. Each choice was made on 5 background
    alphabets held out of training (`benchmarks/twin_omniglot.py --evaluate-on validation`, 3,000
    steps): 10k-pair accuracy 0.859 with the last map pooled to 1x1, 0.912 keeping it 3x3, 0.918 adding
    the distortions. `TwinRecipe.faithful()`
    gives the MATLAB example's settings: `koch_105` at 105 px, 180 pairs per step, 10,000 steps,
    Adam at 6e-5 with decays 0.9 and 0.99.

    Args:
        encoder: `"conv4"` (CPU recipe) or `"koch_105"` (the tutorial's tower).
        image_size: side of the square images the tower sees (28, 52 or 105).
        feature_dim: size of the sigmoid features fed to the head.
        width: filters in the first conv block of the `conv4` tower (compute grows with its square).
        growth: factor between the filters of successive `conv4` blocks (1 keeps `width` throughout).
        iterations: training steps.
        batch_size: pairs per step, each same-class with probability 1/2.
        learning_rate: initial Adam learning rate.
        beta_1, beta_2: Adam's gradient and squared-gradient decays.
        schedule: `"cosine"` decay to zero over the run, or `"constant"` (the tutorial).
        negatives: `"any"` class, or `"same_group"` (another character of the same alphabet).
        distortions: apply Koch et al.'s random affine distortions to training images.
        calibration_groups: groups (alphabets) of the training set kept out of training and used to
            calibrate the head afterwards (`evaluation.calibrate_twin_head`), so its 0.5 threshold
            suits characters it never saw; 0 trains on every group and leaves the head as trained
            (the tutorial).
        jit_compile: compile the training step with XLA.
        mixed_precision: compute in float16 where safe (a GPU option; slower on most CPUs).
        seed: seeds weights and the pair stream.
    """

    encoder: str = "conv4"
    image_size: int = 28
    feature_dim: int = 256
    width: int = 16
    growth: int = 2
    iterations: int = 9000
    batch_size: int = 128
    learning_rate: float = 1e-3
    beta_1: float = 0.9
    beta_2: float = 0.99
    schedule: str = "cosine"
    negatives: str = "any"
    distortions: bool = True
    calibration_groups: int = 5
    jit_compile: bool = False
    mixed_precision: bool = False
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.calibration_groups, bool) or not isinstance(self.calibration_groups, int) \
                or self.calibration_groups < 0:
            raise ValueError(f"TwinRecipe: calibration_groups must be an integer >= 0, got {self.calibration_groups!r}.")
        if self.encoder not in TWIN_ENCODERS:
            raise ValueError(f"TwinRecipe: encoder must be one of {TWIN_ENCODERS}, got {self.encoder!r}.")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"TwinRecipe: schedule must be 'cosine' or 'constant', got {self.schedule!r}.")
        self._require_positive_ints("image_size", "feature_dim", "width", "growth", "iterations",
                                     "batch_size")
        if not self.learning_rate > 0:
            raise ValueError(f"TwinRecipe: learning_rate must be > 0, got {self.learning_rate}.")

    @classmethod
    def faithful(cls, **changes) -> "TwinRecipe":
        """The MATLAB twin-network example's settings (a GPU recipe), with optional changes.

        Args:
            **changes: fields to override.

        Returns:
            TwinRecipe.
        """
        settings = dict(encoder="koch_105", image_size=105, feature_dim=4096, iterations=10_000,
                        batch_size=180, learning_rate=6e-5, beta_1=0.9, beta_2=0.99, schedule="constant",
                        distortions=False, calibration_groups=0)
        settings.update(changes)
        return cls(**settings)


def build_twin_model(recipe: TwinRecipe, channels: int = 1) -> SiameseModel:
    """A compiled twin classifier: shared tower, `TwinClassifierHead`, binary cross-entropy.

    Args:
        recipe: hyperparameters.
        channels: image channels.

    Returns:
        compiled SiameseModel whose pair score is the probability of "same".
    """
    keras.utils.set_random_seed(recipe.seed)
    shape = (recipe.image_size, recipe.image_size, channels)
    # Layers take the global policy when they are made; set it for this model only, so a model built
    # later in the same kernel does not train in float16 unasked.
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16" if recipe.mixed_precision else "float32")
    try:
        if recipe.encoder == "koch_105":
            encoder = koch_105(shape, feature_dim=recipe.feature_dim)
        else:
            encoder = conv4(shape, feature_dim=recipe.feature_dim, width=recipe.width, growth=recipe.growth,
                            pool_last=False)
        model = SiameseModel(encoder, TwinClassifierHead())
    finally:
        keras.mixed_precision.set_global_policy(previous)
    rate = recipe.learning_rate
    if recipe.schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(recipe.learning_rate, recipe.iterations)
    optimizer = keras.optimizers.Adam(rate, beta_1=recipe.beta_1, beta_2=recipe.beta_2)
    model.compile(optimizer=optimizer, loss=keras.losses.BinaryCrossentropy(), jit_compile=recipe.jit_compile)
    return model


def evaluate_twin(model: SiameseModel, eval_set: ImageSet, seed: int = 0, num_pairs: int = 10_000) -> dict:
    """The tutorial's evaluation and more: 5 mini-batches of 150 random pairs at threshold 0.5, a
    larger seeded pair set, and ROC AUC, from embeddings computed once.

    Args:
        model: a trained twin classifier.
        eval_set: held-out images (the evaluation alphabets).
        seed: pair-set seed.
        num_pairs: size of the larger pair set.

    Returns:
        dict with `pair_accuracy_750`, `pair_accuracy_10k`, `roc_auc`, the large `pairs` and their
        `pair_scores`.
    """
    embeddings = model.embed(eval_set)
    batch_accuracies = []
    for batch in range(5):
        pairs = fixed_pairs(eval_set, 150, seed=derived_seed(seed, f"evaluation batch {batch}"), mode="random")
        scores = pair_scores(model, embeddings, pairs)
        batch_accuracies.append(pair_accuracy(scores, pairs.pair_label, 0.5, model.score_kind))
    pairs = fixed_pairs(eval_set, num_pairs, seed=seed, mode="random")
    scores = pair_scores(model, embeddings, pairs)
    return {
        "pair_accuracy_750": float(np.mean(batch_accuracies)),
        "pair_accuracy_10k": pair_accuracy(scores, pairs.pair_label, 0.5, model.score_kind),
        "roc_auc": roc_auc(scores, pairs.pair_label, model.score_kind),
        "pairs": pairs,
        "pair_scores": scores,
    }


def run_twin(
    train_set: ImageSet,
    eval_set: ImageSet,
    recipe: TwinRecipe,
    out_dir: str | Path | None = None,
    monitor=None,
    checkpoint=None,
) -> dict:
    """Trains the twin classifier with the custom loop, evaluates it, and optionally writes results.

    Args:
        train_set: training images at `recipe.image_size` (the background alphabets).
        eval_set: held-out images at the same size (the evaluation alphabets).
        recipe: hyperparameters.
        out_dir: where to write `model.keras`, `summary.json`, `prediction_grid.png`,
            `training_curve.png`; None writes nothing.
        monitor: a `TrainingMonitor`; default a terminal progress bar.
        checkpoint: a `siamese_kit.checkpoint.Checkpointer` to save to every `checkpoint.every`
            steps and, with `resume=True`, to continue from; None saves nothing.

    Returns:
        the summary dict: `pair_accuracy_750`, `pair_accuracy_10k`, `roc_auc`, `iterations`,
        `batch_size`, `image_size`, `encoder`, `seconds`, `device`, the recipe.
    """
    _require_image_size("run_twin", recipe.image_size, train_set=train_set, eval_set=eval_set)
    start = time.perf_counter()
    device = device_report()
    calibration_set = None
    if recipe.calibration_groups:
        train_set, calibration_set = train_set.split_groups(recipe.calibration_groups,
                                                            seed=derived_seed(recipe.seed, "calibration alphabets"))
    model = build_twin_model(recipe, train_set.image_shape[-1])
    augment = AffineDistortion() if recipe.distortions else None

    def stream(start):
        return pair_stream(train_set, recipe.batch_size, seed=recipe.seed, mode="random",
                           negatives=recipe.negatives, augment=augment, start_batch=start)

    monitor = monitor or TerminalMonitor(recipe.iterations, recipe.batch_size, record_every=max(1, recipe.iterations // 200))
    trained = train_loop(model, stream, recipe.iterations, monitor=monitor, jit_compile=recipe.jit_compile,
                         checkpoint=checkpoint)
    calibration = {}
    if calibration_set is not None:
        before = evaluate_twin(model, eval_set, seed=recipe.seed)
        scale, shift = calibrate_twin_head(model, calibration_set, seed=derived_seed(recipe.seed, "calibration pairs"))
        calibration = {"calibration": {
            "alphabets": [calibration_set.group_names[g] for g in np.unique(calibration_set.groups)],
            "scale": round(scale, 4), "shift": round(shift, 4),
            "before": {k: round(before[k], 4) for k in ("pair_accuracy_750", "pair_accuracy_10k", "roc_auc")},
        }}
    results = evaluate_twin(model, eval_set, seed=recipe.seed)
    summary = {
        "pair_accuracy_750": round(results["pair_accuracy_750"], 4),
        "pair_accuracy_10k": round(results["pair_accuracy_10k"], 4),
        "roc_auc": round(results["roc_auc"], 4),
        "iterations": trained["steps_done"],
        "batch_size": recipe.batch_size,
        "image_size": recipe.image_size,
        "encoder": recipe.encoder,
        "train_seconds": round(trained["seconds"], 1),
        "seconds": round(time.perf_counter() - start, 1),
        "device": device,
        "recipe": asdict(recipe),
        **calibration,
    }
    if out_dir is not None:
        predictions = predict_same(results["pair_scores"], 0.5, model.score_kind)
        _write_outputs(
            Path(out_dir), model, summary, {
                "prediction_grid.png": lambda plotting: plotting.pair_set_grid(
                    eval_set, results["pairs"], predictions=predictions, scores=results["pair_scores"],
                    count=10, score_name="score", title="Evaluation pairs: target, prediction, score"),
                "training_curve.png": lambda plotting: plotting.training_curves(
                    trained["history"], x_label="step", title="Binary cross-entropy while training"),
            },
        )
    return summary


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
    from . import plotting

    out_dir.mkdir(parents=True, exist_ok=True)
    _replace_atomically(out_dir / "model.keras", model.save)
    for filename, draw in figures.items():
        _replace_atomically(out_dir / filename, lambda path: draw(plotting).savefig(path, dpi=100, bbox_inches="tight"))
    _replace_atomically(out_dir / "summary.json", lambda path: path.write_text(json.dumps(summary, indent=2) + "\n"))


def _replace_atomically(path: Path, write) -> None:
    """`write(temporary)` beside `path`, then one rename: a kill mid-write never leaves half a file."""
    temporary = path.with_name(f".tmp-{os.getpid()}-{path.name}")  # keeps the suffix Keras checks
    try:
        write(temporary)
        with open(temporary, "rb") as f:
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


EPISODE_SIZES = ((5, 1), (5, 5), (20, 1), (20, 5))  # (ways, shots) reported by evaluate_one_shot


@dataclass
class OneShotRecipe(_RecipeSettings):
    """Hyperparameters of the one-shot Omniglot recipe: a `conv4` tower trained on episodes with the
    prototypical loss, tested on Lake's 20 within-alphabet runs and on evaluation-alphabet episodes.

    Args:
        image_size: side of the square images (28 or 52).
        embedding_dim: size of the (linear) embedding.
        width: filters in the first conv block.
        growth: factor between the filters of successive blocks.
        iterations: training episodes.
        ways, shots, queries: the training episodes' classes, support images and queries per class.
        within_group: draw each training episode's classes from one alphabet, as Lake's runs do.
        rotations: add each character turned by 90, 180 and 270 degrees as new characters.
        distortions: apply Koch et al.'s random affine distortions to training images.
        learning_rate: initial Adam learning rate (cosine decay to zero over the run). 2e-3 was
            chosen on a held-out background alphabet (20-way 1-shot, 5,000 episodes): 0.839 at 1e-3,
            0.847 at 2e-3, 0.838 at 3e-3.
        seed: seeds weights and the episode stream.
    """

    image_size: int = 28
    embedding_dim: int = 128
    width: int = 16
    growth: int = 2
    iterations: int = 10000
    ways: int = 20
    shots: int = 1
    queries: int = 5
    within_group: bool = True
    rotations: bool = True
    distortions: bool = True
    learning_rate: float = 2e-3
    seed: int = 0

    def __post_init__(self):
        self._require_positive_ints("image_size", "embedding_dim", "width", "growth", "iterations", "ways",
                                    "shots", "queries")
        if not self.learning_rate > 0:
            raise ValueError(f"OneShotRecipe: learning_rate must be > 0, got {self.learning_rate}.")


def build_prototype_model(recipe: OneShotRecipe, channels: int = 1) -> PrototypeModel:
    """A compiled `PrototypeModel` with the recipe's `conv4` tower and Adam with cosine decay.

    Args:
        recipe: hyperparameters.
        channels: image channels.

    Returns:
        compiled PrototypeModel.
    """
    keras.utils.set_random_seed(recipe.seed)
    encoder = conv4(
        (recipe.image_size, recipe.image_size, channels), feature_dim=recipe.embedding_dim, width=recipe.width,
        growth=recipe.growth, feature_activation=None, pool_last=False,
    )
    model = PrototypeModel(encoder)
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
        recipe.learning_rate, recipe.iterations)))
    return model


def evaluate_one_shot(model, eval_set: ImageSet, runs=None, episodes: int = 1000, seed: int = 0) -> dict:
    """Lake's runs (when given) and seeded within-alphabet episodes of `EPISODE_SIZES`.

    Args:
        model: a trained `PrototypeModel` or `SiameseModel`.
        eval_set: held-out images at the model's size, with groups (the evaluation alphabets).
        runs: Lake's runs at the same size, or None to skip them.
        episodes: episodes per (ways, shots) size, one query per class.
        seed: episode seed.

    Returns:
        dict with `lake20_accuracy` and `lake20_report` (when `runs` is given) and `episodes`
        (`"5way_1shot"` ... -> accuracy).
    """
    embeddings = model.embed(eval_set)
    results = {"episodes": {}}
    for ways, shots in EPISODE_SIZES:
        drawn = fixed_episodes(eval_set, episodes, ways=ways, shots=shots, queries=1, seed=seed, within_group=True)
        results["episodes"][f"{ways}way_{shots}shot"] = round(episode_accuracy(model, eval_set, drawn, embeddings), 4)
    if runs is not None:
        report = evaluate_lake_runs(model, runs)
        results["lake20_accuracy"] = round(report.accuracy, 4)
        results["lake20_report"] = report
    return results


def run_one_shot(
    train_set: ImageSet,
    eval_set: ImageSet,
    recipe: OneShotRecipe,
    runs=None,
    out_dir: str | Path | None = None,
    monitor=None,
    checkpoint=None,
) -> dict:
    """Trains a tower on episodes, then evaluates one-shot recognition.

    Args:
        train_set: training images at `recipe.image_size`, with groups (background alphabets).
        eval_set: held-out images at the same size, with groups.
        recipe: hyperparameters.
        runs: Lake's runs at the same size (`load_lake_runs(image_size=...)`), or None.
        out_dir: where to write `model.keras`, `summary.json`, `one_shot_task.png` (with runs) and
            `training_curve.png`; None writes nothing.
        monitor: a `TrainingMonitor`; default a terminal progress bar.
        checkpoint: a `Checkpointer` to save to and resume from (see `run_twin`).

    Returns:
        the summary dict: `lake20_accuracy` (with runs), `episodes`, `iterations`, `seconds`,
        `device`, the recipe.
    """
    _require_image_size("run_one_shot", recipe.image_size, train_set=train_set, eval_set=eval_set)
    start = time.perf_counter()
    device = device_report()
    model = build_prototype_model(recipe, train_set.image_shape[-1])
    training_set = train_set.with_rotated_classes() if recipe.rotations else train_set
    augment = AffineDistortion() if recipe.distortions else None

    def stream(start):
        return episode_stream(training_set, recipe.ways, recipe.shots, recipe.queries, seed=recipe.seed,
                              within_group=recipe.within_group, augment=augment, start_episode=start)

    monitor = monitor or TerminalMonitor(recipe.iterations, 1, record_every=max(1, recipe.iterations // 200),
                                         unit="episodes")
    trained = train_loop(model, stream, recipe.iterations, monitor=monitor, checkpoint=checkpoint)
    results = evaluate_one_shot(model, eval_set, runs, seed=recipe.seed)
    summary = {
        **({"lake20_accuracy": results["lake20_accuracy"]} if runs is not None else {}),
        "episodes": results["episodes"],
        "iterations": trained["steps_done"],
        "image_size": recipe.image_size,
        "train_seconds": round(trained["seconds"], 1),
        "seconds": round(time.perf_counter() - start, 1),
        "device": device,
        "recipe": asdict(recipe),
    }
    if out_dir is not None:
        figures = {"training_curve.png": lambda plotting: plotting.training_curves(
            trained["history"], x_label="step", title="Prototypical loss while training (one step = one episode)")}
        if runs is not None:
            report = results["lake20_report"]
            figures["one_shot_task.png"] = lambda plotting: plotting.one_shot_task_grid(
                runs[0], query=0, choice=int(report.choices[0][0]), scores=report.scores[0][0],
                score_kind=model.score_kind)
        _write_outputs(Path(out_dir), model, summary, figures)
    return summary
