"""The pretrained backbone tower, built offline with random weights (`weights=None`): ImageNet weights are
a Keras download that works for users online and is never needed by the tests."""

import numpy as np
import pytest


def test_a_backbone_tower_embeds_grey_and_colour_images_and_reloads_safely(tmp_path):
    import keras

    from siamese_kit.models.encoders import pretrained

    for channels in (1, 3):
        tower = pretrained((32, 32, channels), embedding_dim=8, weights=None)
        pixels = np.random.default_rng(0).integers(0, 256, (3, 32, 32, channels)).astype("float32")
        embeddings = keras.ops.convert_to_numpy(tower(pixels))
        assert embeddings.shape == (3, 8) and np.isfinite(embeddings).all()
        assert not any(w.trainable for w in tower.get_layer(index=-2).weights)  # the backbone is frozen
    path = tmp_path / "tower.keras"
    tower.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(again(pixels)), embeddings, rtol=1e-5, atol=1e-5)


def test_a_backbone_refuses_images_it_cannot_take_naming_the_fix():
    from siamese_kit.models.encoders import pretrained

    with pytest.raises(ValueError, match=r"at least 32x32 .* got 28x28x1; .*--image-size 96 96"):
        pretrained((28, 28, 1), weights=None)
    with pytest.raises(ValueError, match="unknown backbone 'resnet9000'"):
        pretrained((64, 64, 3), backbone="resnet9000", weights=None)


def test_the_contrastive_recipe_trains_on_a_backbone(tmp_path):
    from siamese_kit.recipes import ContrastiveRecipe, build_contrastive_model

    recipe = ContrastiveRecipe(embedding_dim=8, iterations=2, backbone="mobilenet_v3_small", backbone_weights=None)
    model = build_contrastive_model(recipe, (32, 32, 3), num_classes=3)
    assert model.encoder.name == "mobilenet_v3_small_tower" and model.encoder.output_shape[-1] == 8
