"""Any recipe on your own images: read the source, split it, train, calibrate, report, all into one
run folder (`siamese_kit.runs`) that `siamese-kit evaluate`, `verify`, `identify` and `embed` read.

The recipes are those of MNIST and Omniglot with the dataset-specific parts swapped for what works on
any labelled image set: the encoder is built for the images' own shape and channels, the twin head is
calibrated on the validation classes (Omniglot used held-out alphabets), one-shot episodes draw from
all training classes (there are no alphabets), and the test is the report of `siamese_kit.report`.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict
from pathlib import Path

from ..data.streams.augment import AffineDistortion
from ..data.streams.episodes import episode_stream
from ..data.imageset import DataError, ImageSet
from ..data.streams.pairs import pair_stream
from ..data.streams.seeds import derived_seed
from ..data.sources.spec import DataSource, load_source
from ..devices import device_report
from ..evaluation import calibrate_twin_head
from ..report import add_validation_curve, build_report, write_report
from ..runs import RunFolder, SplitSpec, open_set_warning, split_dataset
from ..training import TerminalMonitor, train_loop
from ..validation import ValidationWatch
from ._common import _write_outputs
from .contrastive import ContrastiveRecipe, train_contrastive
from .metric import MetricRecipe, balanced_batches, build_embedding_model
from .one_shot import OneShotRecipe, build_prototype_model
from .twin import TwinRecipe, build_twin_model

RECIPES = ("contrastive", "twin", "one-shot", "triplet")
# The Omniglot recipes' dataset-bound defaults, changed for data without alphabets.
_OWN_DATA_DEFAULTS = {
    "twin": {"calibration_groups": 0, "negatives": "any"},
    # Your classes are not Omniglot characters: a 6 turned upside down is a 9, not a new class, so the one-shot
    # recipe's class augmentation by turns stays off unless asked for (--set rotations=true). The run trains on
    # episodes with the prototypical loss and scores the tower alone (batch losses: the triplet recipe).
    "one-shot": {"within_group": False, "ways": 5, "queries": 2, "rotations": False, "loss": "prototypical",
                 "groups_per_batch": 1, "test_views": 0, "transductive": False},
}


def recipe_for(name: str, settings: dict):
    """The recipe dataclass of `name` from settings, with the own-data defaults under them.

    Args:
        name: `"contrastive"`, `"twin"`, `"one-shot"` or `"triplet"` (any batch loss: `loss=...`).
        settings: recipe settings (from `--set` and `--config`).

    Returns:
        ContrastiveRecipe, TwinRecipe, OneShotRecipe or MetricRecipe.

    Raises:
        ValueError: for an unknown recipe or setting.
    """
    kinds = {"contrastive": ContrastiveRecipe, "twin": TwinRecipe, "one-shot": OneShotRecipe, "triplet": MetricRecipe}
    if name not in kinds:
        raise ValueError(f"unknown recipe {name!r}; use one of {', '.join(RECIPES)}.")
    recipe = kinds[name].from_dict({**_OWN_DATA_DEFAULTS.get(name, {}), **settings})
    if name == "one-shot" and (recipe.loss != "prototypical" or recipe.test_views or recipe.transductive):
        # The own-data run trains on episodes and scores the tower alone; batch losses live in the triplet recipe.
        raise ValueError("on your own images the one-shot recipe trains with the prototypical loss and no test views; "
                         "for a batch loss use --recipe triplet --set loss=triplet mining=batch_hard (or "
                         "loss=multi_similarity), and drop test_views and transductive.")
    return recipe


def run_own_data(
    data: DataSource,
    recipe_name: str,
    settings: dict,
    out_dir: str | Path,
    split: SplitSpec = SplitSpec(),
    checkpoint=None,
    monitor=None,
    keep: str | None = None,
    validate_every: int | None = None,
) -> dict:
    """Trains a recipe on your own images and writes a complete run folder.

    Args:
        data: where the images are and how to read them.
        recipe_name: `"contrastive"`, `"twin"`, `"one-shot"` or `"triplet"`.
        settings: recipe settings.
        out_dir: the run folder to write.
        split: how to divide the images (open set, whole classes, by default).
        checkpoint: a `Checkpointer` to save to and resume from.
        monitor: a `TrainingMonitor` for the twin and one-shot recipes; default a progress bar.
        keep: which step's weights the run keeps: `"best"` (the best validation ROC AUC measured while
            training) or `"last"`; None means best for an open split (classes the model never trained on,
            where training longer can make it worse on them) and last for a split by images.
        validate_every: measure the validation part every this many steps; None: 20 times a run.

    Returns:
        the summary: the report's headline numbers, counts, seconds, device, recipe, and `validation` (the
        curve, the step kept and why).

    Raises:
        DataError: for a source, split or image problem, naming it and the fix.
    """
    start = time.perf_counter()
    recipe = recipe_for(recipe_name, settings)
    contents = load_source(data)
    parts = split_dataset(contents.imageset, split)
    thin_split = open_set_warning(parts, split)
    if thin_split:
        warnings.warn(f"{data.source}: {thin_split}", UserWarning, stacklevel=2)
    run = RunFolder(out_dir)
    run.write_start(recipe_name, asdict(recipe), data, split, parts, contents.ignored, contents.skipped)
    device = device_report()
    keep = keep or ("best" if split.kind == "classes" else "last")
    watch = ValidationWatch(parts["validation"], validate_every or max(1, recipe.iterations // 20), keep=keep,
                            seed=recipe.seed,
                            keep_file=None if checkpoint is None else checkpoint.directory / "best_validation.weights.h5")
    model, history = _train(recipe_name, recipe, parts, checkpoint, monitor, watch)
    validation = watch.summary(recipe.iterations)
    if recipe_name == "twin":
        # The sigmoid head is calibrated on the validation classes, never on the test ones.
        calibrate_twin_head(model, parts["validation"], seed=derived_seed(recipe.seed, "calibration pairs"))
    report, pictures = build_report(model, parts["test"], parts["validation"], seed=recipe.seed,
                                    margin=recipe.margin if recipe_name == "contrastive" else None)
    summary = {
        "data": data.source, "recipe": recipe_name, "split": split.kind,
        **{key: report[key] for key in ("pair_accuracy", "threshold", "roc_auc", "equal_error_rate",
                                         "precision_at_1", "map_at_r")},
        "n_way_accuracy": report["n_way_accuracy"], "intervals_95": report["intervals_95"],
        "test_pairs": {kind: report["counts"][f"{kind}_pairs"] for kind in ("genuine", "impostor")},
        "counts": {part: {"classes": int((s.class_counts() > 0).sum()), "images": len(s)} for part, s in parts.items()},
        "ignored_files": len(contents.ignored), "skipped_images": len(contents.skipped),
        "warnings": [thin_split] if thin_split else [], "validation": validation,
        "seconds": round(time.perf_counter() - start, 1), "device": device, "settings": asdict(recipe),
    }
    _write_outputs(Path(out_dir), model, summary, {
        "training_curve.png": lambda plotting: plotting.training_curves(history, x_label="step",
                                                                        title=f"{recipe_name} loss while training"),
        "validation_curve.png": lambda plotting: plotting.validation_curve(validation),
    })
    add_validation_curve(report, pictures, validation)
    write_report(out_dir, report, pictures, title=f"{Path(data.source).name}: {recipe_name} recipe, test part")
    return summary


def _train(recipe_name: str, recipe, parts: dict[str, ImageSet], checkpoint, monitor, watch):
    """The trained model (holding the step the watch keeps) and its loss history."""
    train_set = parts["train"]
    shape = train_set.image_shape
    if recipe_name == "contrastive":
        model, logger = train_contrastive(train_set, recipe, print_every=max(1, recipe.iterations // 10),
                                          checkpoint=checkpoint, watch=watch)
        return model, logger.history()
    if recipe_name == "twin":
        model = build_twin_model(recipe, input_shape=shape)
        augment = AffineDistortion() if recipe.distortions else None

        def stream(start):
            return pair_stream(train_set, recipe.batch_size, seed=recipe.seed, mode="random", augment=augment,
                               start_batch=start)

        monitor = monitor or TerminalMonitor(recipe.iterations, recipe.batch_size,
                                             record_every=max(1, recipe.iterations // 200))
    elif recipe_name == "triplet":
        model = build_embedding_model(recipe, input_shape=shape)
        stream = balanced_batches(train_set, recipe)
        monitor = monitor or TerminalMonitor(recipe.iterations, recipe.classes_per_batch * recipe.images_per_class,
                                             record_every=max(1, recipe.iterations // 200), unit="images")
    else:
        needed = recipe.shots + recipe.queries
        enough = int((train_set.class_counts() >= needed).sum())
        if enough < recipe.ways:
            raise DataError(
                f"{train_set.name}: one-shot episodes of {recipe.ways} classes with {needed} images each need "
                f"{recipe.ways} such classes; {enough} have {needed} or more. Lower ways, shots or queries "
                f"(--set ways={max(2, enough)}), or add images."
            )
        model = build_prototype_model(recipe, input_shape=shape)
        square = shape[0] == shape[1]
        training_set = train_set.with_rotated_classes() if recipe.rotations and square else train_set
        augment = AffineDistortion() if recipe.distortions else None

        def stream(start):
            return episode_stream(training_set, recipe.ways, recipe.shots, recipe.queries, seed=recipe.seed,
                                  within_group=False, augment=augment, start_episode=start)

        monitor = monitor or TerminalMonitor(recipe.iterations, 1, record_every=max(1, recipe.iterations // 200),
                                             unit="episodes")
    trained = train_loop(model, stream, recipe.iterations, monitor=monitor, checkpoint=checkpoint, watch=watch)
    return model, trained["history"]


__all__ = ["RECIPES", "recipe_for", "run_own_data"]
