"""The residual tower and a recipe's choice of tower."""

import numpy as np
import pytest

from siamese_kit.models import conv4, resnet12
from siamese_kit.recipes import OneShotRecipe
from siamese_kit.recipes.one_shot import build_one_shot_model


def test_resnet12_maps_pixels_to_features_through_residual_blocks():
    tower = resnet12((28, 28, 1), feature_dim=32, width=8, growth=2)
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1)).astype(np.float32)
    assert tower(images).shape == (3, 32)
    assert sum("_conv" in layer.name for layer in tower.layers) == 12  # three convs in each of four blocks
    assert sum(layer.name.endswith("_add") for layer in tower.layers) == 4
    assert tower.count_params() > conv4((28, 28, 1), feature_dim=32, width=8, growth=2, pool_last=False).count_params()
    with pytest.raises(ValueError, match="resnet12: width"):
        resnet12(width=0)


def test_the_one_shot_recipe_builds_the_tower_it_names_and_refuses_others():
    model = build_one_shot_model(OneShotRecipe(loss="batch_hard", within_group=False, tower="resnet12", width=4,
                                               embedding_dim=16, iterations=10))
    assert model.encoder.name == "resnet12" and model.encoder.output_shape == (None, 16)
    with pytest.raises(ValueError, match="tower must be one of conv4, resnet12, got 'vgg'"):
        OneShotRecipe(tower="vgg")
    with pytest.raises(ValueError, match="groups_per_batch=4 .* needs loss='batch_hard'"):
        OneShotRecipe(groups_per_batch=4)
    with pytest.raises(ValueError, match="ways divisible by it"):
        OneShotRecipe(loss="batch_hard", groups_per_batch=3)
