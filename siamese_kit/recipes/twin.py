"""The twin-classifier recipe on Omniglot (Koch et al.; the MATLAB example): random pairs, a conv tower, the
sigmoid head on |f1 - f2| trained with binary cross-entropy, calibrated on held-out alphabets."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from ..data.streams.augment import AffineDistortion
from ..data.imageset import ImageSet
from ..data.streams.pairs import fixed_pairs, pair_stream
from ..data.streams.seeds import derived_seed
from ..devices import device_report
from ..evaluation import (
    calibrate_twin_head,
    pair_accuracy,
    pair_scores,
    predict_same,
    roc_auc,
)
from ..layers import TwinClassifierHead
from ..models.encoders import conv4, koch_105
from ..models.twin import SiameseModel
from ..training import TerminalMonitor, train_loop
from ._common import _RecipeSettings, _require_image_size, _write_outputs

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


def build_twin_model(recipe: TwinRecipe, channels: int = 1, input_shape=None) -> SiameseModel:
    """A compiled twin classifier: shared tower, `TwinClassifierHead`, binary cross-entropy.

    Args:
        recipe: hyperparameters.
        channels: image channels.
        input_shape: `(H, W, C)` for images that are not `recipe.image_size` squares (your own data);
            None builds for `(image_size, image_size, channels)`.

    Returns:
        compiled SiameseModel whose pair score is the probability of "same".
    """
    keras.utils.set_random_seed(recipe.seed)
    shape = tuple(input_shape or (recipe.image_size, recipe.image_size, channels))
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
