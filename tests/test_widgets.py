"""The pair explorer driven from Python, as a user's clicks and drags would drive it."""

import re

import keras
import numpy as np
import pytest
from conftest import make_imageset

from siamese_kit.evaluation import pair_accuracy, predict_same
from siamese_kit.layers import EuclideanDistance, TwinClassifierHead
from siamese_kit.models import SiameseModel, conv4
from siamese_kit.models.prototype import PrototypeModel
from siamese_kit.widgets import PairExplorer, image_png, score_pairs


def tiny_encoder(seed=0):
    keras.utils.set_random_seed(seed)
    return conv4((8, 8, 1), feature_dim=6, width=4, pool_last=False)


@pytest.fixture(scope="module")
def imageset():
    return make_imageset(num_classes=4, per_class=8)


@pytest.fixture(scope="module", params=["distance", "similarity", "prototype"])
def model(request):
    if request.param == "distance":
        return SiameseModel(tiny_encoder(), EuclideanDistance())
    if request.param == "similarity":
        return SiameseModel(tiny_encoder(), TwinClassifierHead(kernel_stddev=0.5))
    return PrototypeModel(tiny_encoder())


def shown_accuracy(explorer):
    match = re.search(r"accuracy ([0-9.]+)%.*\((\d+)/(\d+) pairs\)", explorer.accuracy.value)
    assert match, explorer.accuracy.value
    return int(match.group(2)) / int(match.group(3))


def test_sliding_the_threshold_updates_the_shown_accuracy_and_grid(model, imageset):
    explorer = PairExplorer(model, imageset, num_pairs=60, grid_pairs=4, top_k=3)
    labels = explorer.pairs.pair_label
    scores = explorer.pair_scores
    assert shown_accuracy(explorer) == pytest.approx(pair_accuracy(scores, labels, explorer.threshold.value, model.score_kind))
    # Everything "same" at one end of the range, everything "different" at the other.
    all_same = explorer.threshold.max if model.score_kind == "distance" else explorer.threshold.min
    explorer.threshold.value = all_same
    same_fraction = np.mean(predict_same(scores, all_same, model.score_kind))
    assert shown_accuracy(explorer) == pytest.approx(
        pair_accuracy(scores, labels, all_same, model.score_kind)
    )
    assert same_fraction == 1.0
    all_same_grid = bytes(explorer.grid.value)
    # The other end calls every pair different: the accuracy is the share of different pairs.
    explorer.threshold.value = explorer.threshold.min if model.score_kind == "distance" else explorer.threshold.max
    assert shown_accuracy(explorer) == pytest.approx(np.mean(labels == 0))
    # The grid's first pairs alternate same and different, so the two ends mark different tiles WRONG.
    assert bytes(explorer.grid.value) != all_same_grid and all_same_grid[:4] == b"\x89PNG"


def test_the_default_threshold_is_the_best_on_the_pairs_and_says_it_is_optimistic(imageset):
    model = SiameseModel(tiny_encoder(), EuclideanDistance())
    explorer = PairExplorer(model, imageset, num_pairs=60)
    best = max(
        explorer.accuracy_at(t) for t in np.linspace(explorer.threshold.min, explorer.threshold.max, 400)
    )
    assert explorer.accuracy_at(explorer.threshold.value) >= best - 1e-9
    assert "optimistic" in explorer.accuracy.value
    given = PairExplorer(model, imageset, num_pairs=60, threshold=float(np.median(explorer.pair_scores)))
    assert given.threshold.value == pytest.approx(float(np.median(explorer.pair_scores)), abs=given.threshold.step)
    assert "optimistic" not in given.accuracy.value


def test_picking_two_images_shows_the_models_own_score_and_decision(model, imageset):
    explorer = PairExplorer(model, imageset, num_pairs=40, top_k=3)
    explorer.class_a.value, explorer.index_a.value = 1, 2
    explorer.class_b.value, explorer.index_b.value = 3, 5
    first = int(np.flatnonzero(imageset.labels == 1)[2])
    second = int(np.flatnonzero(imageset.labels == 3)[5])
    pair = (imageset.images[[first]].astype("float32"), imageset.images[[second]].astype("float32"))
    if isinstance(model, SiameseModel):
        expected = float(keras.ops.convert_to_numpy(model(pair))[0])
    else:
        a, b = model.embed(pair[0]), model.embed(pair[1])
        expected = float(np.sqrt(np.square(a - b).sum()))
    shown = float(re.search(r"<b>([-0-9.]+)</b>", explorer.decision.value).group(1))
    assert shown == pytest.approx(expected, abs=1.5e-3)
    same = bool(predict_same([expected], explorer.threshold.value, model.score_kind)[0])
    assert f"predicted: <b>{'same' if same else 'different'}</b>" in explorer.decision.value
    assert "truth: different" in explorer.decision.value
    assert explorer.image_a.value == image_png(imageset.images[first])


def test_an_index_past_the_class_is_clamped_and_the_direct_call_names_the_class(imageset):
    explorer = PairExplorer(SiameseModel(tiny_encoder(), EuclideanDistance()), imageset, num_pairs=20)
    explorer.index_a.value = 7
    assert explorer.index_a.max == 7
    with pytest.raises(ValueError, match=r"'class2' has 8 images; index 8 is out of range"):
        explorer.image_index(2, 8)


def test_ranking_matches_brute_force_over_every_other_image(model, imageset):
    explorer = PairExplorer(model, imageset, num_pairs=20, top_k=5)
    query = explorer.image_index(2, 3)
    scores = np.array([
        score_pairs(model, explorer.embeddings[[query]], explorer.embeddings[[other]])[0] if other != query else np.nan
        for other in range(len(imageset))
    ])
    order = [i for i in np.argsort(scores if model.score_kind == "distance" else -scores, kind="stable") if i != query][:5]
    indices, ranked_scores = explorer.rank(query)
    assert query not in indices
    # Each shown score is that image's own score, and they are the best five there are (an untrained
    # classifier head scores near 0.5, where one-pair and batched calls may order near-ties apart).
    np.testing.assert_allclose(ranked_scores, scores[indices], atol=1e-6)
    np.testing.assert_allclose(ranked_scores, scores[order], atol=1e-6)
    if model.score_kind == "distance":
        np.testing.assert_array_equal(indices, order)
    explorer.query_class.value, explorer.query_index.value = 2, 3
    hits = int(np.sum(imageset.labels[indices] == 2))
    assert explorer.ranking_text.value.startswith(f"{hits} of the 5 nearest")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"model": "not a model"}, r"needs a trained siamese_kit model .* got str"),
        ({"imageset": np.zeros((4, 8, 8, 1))}, r"imageset must be an ImageSet, got ndarray"),
        ({"top_k": 0}, r"grid_pairs and top_k must be >= 1"),
        ({"top_k": 32}, r"top_k=32 but the ImageSet has only 32 images; lower top_k"),
    ],
)
def test_bad_arguments_are_named(imageset, kwargs, message):
    arguments = {"model": SiameseModel(tiny_encoder(), EuclideanDistance()), "imageset": imageset, **kwargs}
    with pytest.raises(ValueError, match=message):
        PairExplorer(**arguments)
