"""EmbeddingModel: the encoder alone trained with a batch loss on class-balanced batches, through
train_loop and fit, checkpointed and resumed, saved and loaded safely."""

import keras
import numpy as np
import pytest

from siamese_kit.checkpoint import Checkpointer
from siamese_kit.data import ImageSet, class_balanced_stream
from siamese_kit.evaluation import embedding_pair_scores
from siamese_kit.losses import ContrastiveLoss, MultiSimilarityLoss, SupervisedContrastiveLoss, TripletLoss
from siamese_kit.models import EmbeddingModel
from siamese_kit.training import TrainingMonitor, train_loop

from conftest import make_imageset
from test_model import tiny_encoder


def embedding_model(loss=None, seed=0):
    keras.utils.set_random_seed(seed)
    model = EmbeddingModel(tiny_encoder(dim=6), loss=loss)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    return model


def stream_from(imageset, seed=0):
    return lambda start: class_balanced_stream(imageset, 3, 3, seed=seed, start_batch=start)


@pytest.mark.parametrize("loss", [TripletLoss(margin=1.0, mining="batch_hard"), MultiSimilarityLoss(),
                                  SupervisedContrastiveLoss(temperature=0.2)], ids=lambda loss: loss.name)
def test_training_separates_the_classes(loss):
    # Each image a class pattern under heavy noise: an untrained tower mixes the classes up.
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6), 6)
    patterns = rng.integers(0, 256, (6, 8, 8, 1))
    images = (0.4 * patterns[labels] + 0.6 * rng.integers(0, 256, (36, 8, 8, 1))).astype(np.uint8)
    imageset = ImageSet(images, labels)
    model = embedding_model(loss)
    before = model.embed(imageset)
    result = train_loop(model, stream_from(imageset), 80, monitor=TrainingMonitor(80, 9, record_every=1))
    after = model.embed(imageset)
    losses = result["history"]["loss"]
    assert np.mean(losses[-10:]) < np.mean(losses[:10])

    def separation(embeddings):  # mean distance to other classes over mean distance within a class
        d = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)
        same = imageset.labels[:, None] == imageset.labels[None]
        return d[~same].mean() / d[same & ~np.eye(len(d), dtype=bool)].mean()

    assert separation(after) > 1.5 * separation(before)
    if model.unit_length:
        np.testing.assert_allclose(np.linalg.norm(after, axis=1), 1.0, rtol=1e-5)


def test_fit_runs_the_same_step_as_train_loop():
    imageset = make_imageset(num_classes=5, per_class=4)
    by_loop, by_fit = embedding_model(), embedding_model()
    train_loop(by_loop, stream_from(imageset), 5)
    by_fit.fit(class_balanced_stream(imageset, 3, 3, seed=0), steps_per_epoch=5, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(by_loop.get_weights(), by_fit.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_run_resumed_from_its_checkpoint_ends_as_an_uninterrupted_one(tmp_path):
    imageset = make_imageset(num_classes=5, per_class=4)
    whole = embedding_model(MultiSimilarityLoss())
    train_loop(whole, stream_from(imageset), 9)
    first = embedding_model(MultiSimilarityLoss())
    train_loop(first, stream_from(imageset), 6, checkpoint=Checkpointer(tmp_path / "checkpoints", every=3))
    resumed = embedding_model(MultiSimilarityLoss(), seed=5)
    result = train_loop(resumed, stream_from(imageset), 9,
                        checkpoint=Checkpointer(tmp_path / "checkpoints", every=3, resume=True))
    assert result["resumed_from"] == 6
    for a, b in zip(whole.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_saved_model_loads_safely_with_its_loss(tmp_path):
    imageset = make_imageset(num_classes=4, per_class=4)
    model = embedding_model(TripletLoss(margin=0.3, mining="semi_hard", distance="cosine"))
    train_loop(model, stream_from(imageset), 3)
    model.save(tmp_path / "triplet.keras")
    again = keras.saving.load_model(tmp_path / "triplet.keras", safe_mode=True)
    assert isinstance(again.batch_loss, TripletLoss) and again.batch_loss.get_config() == model.batch_loss.get_config()
    np.testing.assert_allclose(again.embed(imageset), model.embed(imageset), rtol=1e-5, atol=1e-6)
    assert again.unit_length and again.score_kind == "distance"


def test_a_normalised_triplet_tower_embeds_unit_vectors_and_the_recipe_passes_the_option():
    from siamese_kit.recipes import MetricRecipe, build_embedding_model

    imageset = make_imageset(num_classes=4, per_class=4)
    model = embedding_model(TripletLoss(margin=0.2, mining="batch_hard", distance="squared", normalize=True))
    assert model.unit_length
    train_loop(model, stream_from(imageset), 3)
    np.testing.assert_allclose(np.linalg.norm(model.embed(imageset), axis=1), 1.0, rtol=1e-5)
    assert not embedding_model(TripletLoss(margin=0.2, distance="squared")).unit_length
    recipe = MetricRecipe(normalize=True, distance="squared", margin=0.2, image_size=8, iterations=1)
    assert recipe.batch_loss().normalize and build_embedding_model(recipe).unit_length
    with pytest.raises(ValueError, match="MetricRecipe: normalize must be true or false"):
        MetricRecipe(normalize="yes")


def test_the_evaluation_scores_its_pairs_by_distance():
    imageset = make_imageset(num_classes=4, per_class=4)
    model = embedding_model()
    train_loop(model, stream_from(imageset), 30)
    embeddings = model.embed(imageset)
    scores = embedding_pair_scores(model, embeddings[[0, 0]], embeddings[[1, 4]])
    np.testing.assert_allclose(scores, np.linalg.norm(embeddings[[0, 0]] - embeddings[[1, 4]], axis=1), rtol=1e-5)
    assert scores[0] < scores[1]  # image 1 shares image 0's class, image 4 does not


def test_a_pair_loss_is_refused_naming_the_model_to_use():
    with pytest.raises(ValueError, match="loss must be one of TripletLoss, MultiSimilarityLoss, "
                                         "SupervisedContrastiveLoss .* got ContrastiveLoss; .* use SiameseModel"):
        EmbeddingModel(tiny_encoder(), loss=ContrastiveLoss())
