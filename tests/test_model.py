"""SiameseModel: training on a stream, embedding alone, and the safe save/load round trip."""

import numpy as np
import pytest
import keras

from siamese_kit.data import fixed_pairs, pair_stream
from siamese_kit.evaluation import centroid_accuracy, pair_scores
from siamese_kit.layers import CentroidDecoder, EuclideanDistance
from siamese_kit.losses import ContrastiveLoss
from siamese_kit.models import SiameseModel, embed, get_encoder, lenet_28

from conftest import make_imageset
from support import tensorflow_only


def tiny_encoder(dim=4, size=8):
    inputs = keras.Input((size, size, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(dim)(x), name="tiny")


def trained_model(imageset, steps=60):
    keras.utils.set_random_seed(0)
    model = SiameseModel(tiny_encoder(), EuclideanDistance(), CentroidDecoder(imageset.num_classes, momentum=0.5))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=ContrastiveLoss(2.0))
    history = model.fit(pair_stream(imageset, 16, seed=0), steps_per_epoch=steps, epochs=2, verbose=0, shuffle=False)
    return model, history


def test_lenet_28_follows_the_caffe_template():
    encoder = lenet_28(2)
    names = [layer.name for layer in encoder.layers]
    assert names == ["pixels", "to_unit_range", "conv1", "pool1", "conv2", "pool2", "flatten", "ip1", "ip2", "feat"]
    assert encoder.get_layer("conv1").filters == 20 and encoder.get_layer("conv2").filters == 50
    assert encoder.get_layer("ip1").units == 500 and encoder.get_layer("ip2").units == 10
    assert encoder.output.shape[-1] == 2
    assert lenet_28(32, bottleneck=None).output.shape[-1] == 32
    with pytest.raises(ValueError, match="embedding_dim"):
        lenet_28(0)
    with pytest.raises(ValueError, match="Unknown encoder 'vgg'"):
        get_encoder("vgg")


def test_training_lowers_loss_and_fills_centroids():
    imageset = make_imageset()
    model, history = trained_model(imageset)
    losses = history.history["loss"]
    # The second epoch's mean loss is a small fraction of the first's (measured about 1/20).
    assert losses[-1] < 0.2 * losses[0]
    report = centroid_accuracy(model, imageset)
    assert report.accuracy >= 0.9
    assert report.confusion.sum() == len(imageset)
    assert np.asarray(model.decoder.seen).min() == 1.0


def test_embed_is_single_tower_and_agrees_with_pair_scores():
    imageset = make_imageset()
    model, _ = trained_model(imageset, steps=5)
    embeddings = model.embed(imageset)
    assert embeddings.shape == (len(imageset), 4)
    pairs = fixed_pairs(imageset, 12, seed=0)
    from_embeddings = pair_scores(model, embeddings, pairs)
    direct = keras.ops.convert_to_numpy(
        model({"image_a": imageset.images[pairs.index_a], "image_b": imageset.images[pairs.index_b]}))
    np.testing.assert_allclose(from_embeddings, direct, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="the images are 28x28x1 .* takes 8x8x1"):
        embed(model.encoder, np.zeros((2, 28, 28, 1), np.uint8))


def test_saved_model_loads_in_safe_mode_with_identical_predictions(tmp_path):
    imageset = make_imageset()
    model, _ = trained_model(imageset, steps=10)
    path = tmp_path / "twin.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, SiameseModel)
    np.testing.assert_allclose(loaded.embed(imageset), model.embed(imageset), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(loaded.decoder.centroids), np.asarray(model.decoder.centroids))
    pairs = {"image_a": imageset.images[:6], "image_b": imageset.images[6:12]}
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(pairs)), keras.ops.convert_to_numpy(model(pairs)),
                               rtol=1e-6)
    predicted = np.asarray(loaded.decoder.predict_classes(loaded.embed(imageset)))
    np.testing.assert_array_equal(predicted, np.asarray(model.decoder.predict_classes(model.embed(imageset))))


def test_model_refuses_inputs_that_are_not_pairs():
    model = SiameseModel(tiny_encoder(), EuclideanDistance())
    with pytest.raises(ValueError, match="image_a"):
        model(np.zeros((2, 8, 8, 1), np.float32))
    with pytest.raises(ValueError, match="CentroidDecoder"):
        centroid_accuracy(model, make_imageset())


def test_conv4_growth_widens_each_block_and_bad_values_are_refused():
    from siamese_kit.models import conv4

    tower = conv4((28, 28, 1), feature_dim=8, width=4, growth=2, pool_last=False)
    assert [tower.get_layer(f"conv{i}").filters for i in range(1, 5)] == [4, 8, 16, 32]
    assert tower.get_layer("flatten").output.shape[-1] == 3 * 3 * 32
    assert [conv4((28, 28, 1), width=5).get_layer(f"conv{i}").filters for i in range(1, 5)] == [5] * 4
    with pytest.raises(ValueError, match="growth must be a positive integer"):
        conv4((28, 28, 1), growth=0)


def test_recipes_refuse_bad_settings_by_name():
    from siamese_kit.recipes import OneShotRecipe, TwinRecipe

    with pytest.raises(ValueError, match="calibration_groups must be an integer >= 0"):
        TwinRecipe(calibration_groups=-1)
    with pytest.raises(ValueError, match="growth must be a positive integer"):
        TwinRecipe(growth=0)
    with pytest.raises(ValueError, match="ways must be a positive integer"):
        OneShotRecipe(ways=0)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        OneShotRecipe(learning_rate=0.0)
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['way'\]"):
        OneShotRecipe.from_dict({"way": 5})


def test_a_head_that_does_not_declare_its_score_kind_is_refused():
    import keras

    from siamese_kit import SiameseModel, lenet_28

    @keras.saving.register_keras_serializable(package="tests")
    class L1Head(keras.layers.Layer):  # a distance head that forgot to say so
        def call(self, inputs):
            return keras.ops.sum(keras.ops.abs(inputs[0] - inputs[1]), axis=-1)

    model = SiameseModel(lenet_28(4), L1Head())
    with pytest.raises(ValueError, match=r"L1Head does not declare score_kind.*\"distance\""):
        model.score_kind


@tensorflow_only("mixed_float16 and its loss scaling are measured on TensorFlow, where the recipes use them")
def test_a_mixed_precision_step_scales_its_loss_and_undoes_it():
    """Keras's own step scales the loss under mixed_float16 and unscales the gradients: one SGD step (which,
    unlike Adam, would show a forgotten unscaling as a step 32,768 times too long) moves the weights as the
    float32 step does, to float16's precision."""
    from siamese_kit.training import train_loop

    imageset = make_imageset()
    updates = {}
    for policy in ("float32", "mixed_float16"):
        keras.mixed_precision.set_global_policy(policy)
        try:
            keras.utils.set_random_seed(0)
            model = SiameseModel(tiny_encoder(), EuclideanDistance(), CentroidDecoder(4))
            model.compile(optimizer=keras.optimizers.SGD(0.1), loss=ContrastiveLoss(2.0))
            before = [np.array(w) for w in model.encoder.get_weights()]
            train_loop(model, pair_stream(imageset, 16, seed=0), 1)
            updates[policy] = [np.array(w) - b for w, b in zip(model.encoder.get_weights(), before)]
        finally:
            keras.mixed_precision.set_global_policy("float32")
    assert type(model.optimizer).__name__ == "LossScaleOptimizer"
    largest = max(np.abs(update).max() for update in updates["float32"])
    assert largest > 1e-3
    for exact, mixed in zip(updates["float32"], updates["mixed_float16"]):
        np.testing.assert_allclose(mixed, exact, atol=0.02 * largest)


def test_a_mixed_precision_recipe_does_not_leave_its_policy_behind():
    import keras

    from siamese_kit.recipes import TwinRecipe, build_twin_model

    before = keras.mixed_precision.global_policy().name
    model = build_twin_model(TwinRecipe(iterations=2, image_size=28, mixed_precision=True))
    assert keras.mixed_precision.global_policy().name == before == "float32"
    assert model.encoder.layers[1].compute_dtype == "float16"
    assert keras.layers.Dense(2).compute_dtype == "float32"  # a layer made afterwards is not float16


def test_one_positive_integer_check_serves_every_argument():
    from siamese_kit._checks import positive_int
    from siamese_kit.data import DataError

    assert positive_int(np.int64(3), "x: n") == 3 and isinstance(positive_int(np.int64(3), "x: n"), int)
    for bad in (0, -2, True, 2.0, "4", None):
        with pytest.raises(ValueError, match=r"^x: n must be a positive integer \(e\.g\. 8\), got "):
            positive_int(bad, "x: n", example="8")
    with pytest.raises(DataError, match="fixed_episodes: count must be a positive integer, got 0"):
        positive_int(0, "fixed_episodes: count", error=DataError)


@tensorflow_only("counts the tf.function traces of embed")
def test_embed_runs_one_compiled_trace_for_every_batch_size_and_matches_the_eager_encoder():
    from keras import ops

    from siamese_kit.models.twin import _compiled_inference, embed

    encoder = tiny_encoder()
    images = np.random.default_rng(0).integers(0, 256, (23, *encoder.input_shape[1:])).astype(np.uint8)
    embedded = embed(encoder, images, batch_size=10)  # batches of 10, 10 and 3
    embed(encoder, images[:4], batch_size=10)
    assert _compiled_inference(encoder).experimental_get_tracing_count() == 1
    eager = np.concatenate([ops.convert_to_numpy(encoder(images[i : i + 10], training=False)) for i in (0, 10, 20)])
    np.testing.assert_array_equal(embedded, eager)
    with pytest.raises(ValueError, match="embed: batch_size must be a positive integer"):
        embed(encoder, images, batch_size=0)


def test_refreshed_centroids_are_the_final_encoders_class_means_and_beat_the_moving_averages():
    from siamese_kit.evaluation import centroid_accuracy
    from siamese_kit.recipes import ContrastiveRecipe, train_contrastive

    train_set, held_out = make_imageset(num_classes=4, per_class=30, size=28, seed=1).split(0.5, seed=0)
    recipe = ContrastiveRecipe(embedding_dim=4, iterations=60, batch_size=16, seed=2, centroid_momentum=0.99)
    model, _ = train_contrastive(train_set, recipe, print_every=0, refresh_centroids=False)
    moving_average = np.asarray(model.decoder.centroids)
    before = centroid_accuracy(model, held_out).accuracy
    embeddings = model.refresh_centroids(train_set)
    means = np.stack([embeddings[train_set.labels == c].mean(0) for c in range(4)])
    np.testing.assert_allclose(np.asarray(model.decoder.centroids), means, rtol=1e-5, atol=1e-6)
    # With momentum 0.99 the averages still carry early, lagging embeddings: the refresh moves them
    # and classifies held-out images at least as well.
    assert np.abs(moving_average - means).max() > 0.05
    assert centroid_accuracy(model, held_out).accuracy >= before
    # train_contrastive refreshes by default: the same run gives the refreshed centroids.
    refreshed, _ = train_contrastive(train_set, recipe, print_every=0)
    np.testing.assert_allclose(np.asarray(refreshed.decoder.centroids), means, rtol=1e-4, atol=1e-5)


def test_refresh_centroids_refuses_a_model_without_a_decoder_and_foreign_labels():
    from siamese_kit.layers import CentroidDecoder

    plain = SiameseModel(tiny_encoder(), EuclideanDistance())
    with pytest.raises(ValueError, match="has no CentroidDecoder"):
        plain.refresh_centroids(make_imageset())
    with_decoder = SiameseModel(tiny_encoder(), EuclideanDistance(), CentroidDecoder(2))
    with pytest.raises(ValueError, match="the decoder keeps 2 classes"):
        with_decoder.refresh_centroids(make_imageset(num_classes=4))
