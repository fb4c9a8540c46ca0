"""Recipes: complete, configurable training runs that the CLI, the benchmarks and the notebooks share.

One module a recipe: `contrastive` (MNIST twins with a centroid decoder, after the Caffe tutorial),
`twin` (the Omniglot twin classifier, after Koch et al. and the MATLAB example), `one_shot` (episodes
with the prototypical loss, scored on Lake's runs), `metric` (the tower alone on class-balanced
batches with a triplet-style loss), `own_data` (any of them on your own images, into a
run folder); `_common` holds what they share.
"""

from ._common import OPTIMIZERS
from .contrastive import (
    ContrastiveRecipe,
    build_contrastive_model,
    evaluate_contrastive,
    fixed_distance_thresholds,
    run_contrastive,
    train_contrastive,
)
from .metric import BATCH_LOSSES, MetricRecipe, balanced_batches, build_embedding_model, run_metric
from .own_data import RECIPES, recipe_for, run_own_data
from .one_shot import (EPISODE_SIZES, OneShotRecipe, build_one_shot_model, build_prototype_model, evaluate_one_shot,
                       one_shot_training_stream, run_one_shot, score_one_shot)
from .twin import TWIN_ENCODERS, TwinRecipe, build_twin_model, evaluate_twin, run_twin

__all__ = [
    "BATCH_LOSSES", "MetricRecipe", "balanced_batches", "build_embedding_model", "run_metric",
    "EPISODE_SIZES", "OPTIMIZERS", "RECIPES", "recipe_for", "run_own_data", "TWIN_ENCODERS", "ContrastiveRecipe", "OneShotRecipe", "TwinRecipe",
    "build_contrastive_model", "build_one_shot_model", "build_prototype_model", "build_twin_model", "evaluate_contrastive",
    "evaluate_one_shot", "evaluate_twin", "fixed_distance_thresholds", "one_shot_training_stream", "run_contrastive", "run_one_shot",
    "run_twin", "score_one_shot", "train_contrastive",
]
