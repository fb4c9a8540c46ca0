"""EmbeddingEnsemble: test-time views averaged, towers concatenated so squared distances average."""

import json

import numpy as np
import pytest

from siamese_kit.models import EmbeddingEnsemble


class Pixels:
    """A stand-in tower: the pixels (scaled) are the embedding, so every number can be checked by hand."""

    score_kind = "distance"

    def __init__(self, scale=1.0):
        self.scale = scale
        self.seen = []

    def embed(self, images, batch_size=512):
        images = np.asarray(getattr(images, "images", images), np.float32)
        self.seen.append(images)
        return images.reshape(len(images), -1) * self.scale


def digits(count=6, seed=0):
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 12, 12, 1), np.float32)
    images[:, 3:9, 3:9] = rng.integers(0, 256, (count, 6, 6, 1))
    return images


def test_no_views_and_one_tower_is_the_tower_itself():
    images = digits()
    np.testing.assert_allclose(EmbeddingEnsemble(Pixels()).embed(images), images.reshape(6, -1))


def test_views_are_the_same_fixed_distortions_for_every_image_and_every_call():
    images = digits()
    tower = Pixels()
    ensemble = EmbeddingEnsemble(tower, views=3, seed=4)
    first = ensemble.embed(images)
    assert len(tower.seen) == 4 and np.array_equal(tower.seen[0], images)  # the image itself, then 3 views
    assert not np.allclose(tower.seen[1], images)  # a view is distorted
    np.testing.assert_allclose(first, np.mean([v.reshape(6, -1) for v in tower.seen], axis=0), rtol=1e-6)
    # The same transform for each image: embedding one image alone gives its row of the batch.
    np.testing.assert_allclose(ensemble.embed(images[2:3]), first[2:3], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(EmbeddingEnsemble(Pixels(), views=3, seed=4).embed(images), first)
    assert not np.allclose(EmbeddingEnsemble(Pixels(), views=3, seed=5).embed(images), first)
    # Batching does not change the views.
    np.testing.assert_allclose(ensemble.embed(images, batch_size=4), first, rtol=1e-5, atol=1e-3)


def test_towers_are_concatenated_so_squared_distances_average():
    images = digits()
    towers = [Pixels(1.0), Pixels(3.0)]
    both = EmbeddingEnsemble(towers).embed(images)
    assert both.shape == (6, 2 * 144)
    squared = lambda e: ((e[:, None] - e[None]) ** 2).sum(-1)  # noqa: E731
    expected = (squared(images.reshape(6, -1) * 1.0) + squared(images.reshape(6, -1) * 3.0)) / 2
    np.testing.assert_allclose(squared(both), expected, rtol=1e-5)


def test_bad_towers_and_views_are_refused():
    class Twin:
        score_kind = "similarity"

        def embed(self, images):
            return images

    with pytest.raises(ValueError, match="tower 0 \\(Twin\\) must embed images and compare them by distance"):
        EmbeddingEnsemble(Twin())
    with pytest.raises(ValueError, match="at least one trained tower"):
        EmbeddingEnsemble([])
    with pytest.raises(ValueError, match="views must be an integer >= 0"):
        EmbeddingEnsemble(Pixels(), views=-1)


def test_an_ensemble_runs_through_lakes_evaluation_and_retrieval():
    from siamese_kit.evaluation import retrieval_metrics
    from siamese_kit.evaluation import class_scores, choose

    images = digits(8, seed=1)
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    ensemble = EmbeddingEnsemble([Pixels(), Pixels(2.0)], views=2)
    embedded = ensemble.embed(images)
    found = retrieval_metrics(embedded, labels, ks=(1,))
    # Leave-one-out by hand on the ensemble's embeddings: is each image's nearest other one of its class?
    distances = np.linalg.norm(embedded[:, None] - embedded[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert found.num_queries == 8
    assert found.precision_at_1 == pytest.approx(np.mean(labels[distances.argmin(axis=1)] == labels))
    scores = class_scores(ensemble, embedded[[0, 2, 4, 6]][:, None, :], embedded[[1, 3, 5, 7]])
    by_hand = np.linalg.norm(embedded[[1, 3, 5, 7]][:, None] - embedded[[0, 2, 4, 6]][None], axis=-1)
    np.testing.assert_allclose(scores, by_hand, rtol=1e-4)
    np.testing.assert_array_equal(choose(scores, ensemble.score_kind), by_hand.argmin(axis=1))


def test_the_levers_benchmark_scores_views_and_towers_on_the_validation_alphabets(omniglot_dir_or_skip, tmp_path,
                                                                                  capsys):
    import keras

    from siamese_kit.recipes import OneShotRecipe, build_prototype_model
    from support import load_benchmark

    from siamese_kit.recipes.one_shot import group_names_of, validation_split

    train, validation = validation_split("images_background", 28, seed=0)
    split = {"groups": {"trained_on": group_names_of(train), "evaluated_on": group_names_of(validation)}}
    paths = []
    for seed in (0, 1):  # untrained towers of two seeds: the script's bookkeeping is what is tested here
        path = tmp_path / f"tower{seed}" / "model.keras"
        path.parent.mkdir()
        build_prototype_model(OneShotRecipe(width=4, embedding_dim=8, seed=seed)).save(path)
        (path.parent / "summary.json").write_text(json.dumps(split))
        paths.append(str(path))
    levers = load_benchmark("one_shot_levers")
    # A tower that trained on a validation alphabet, or whose split is unknown, is refused before scoring.
    for groups, says in (({"trained_on": group_names_of(train) + group_names_of(validation)[:1],
                           "evaluated_on": group_names_of(validation)}, "among them the validation alphabets"),
                         (None, "no summary.json")):
        wrong = tmp_path / f"wrong{len(says)}" / "model.keras"
        wrong.parent.mkdir()
        build_prototype_model(OneShotRecipe(width=4, embedding_dim=8)).save(wrong)
        if groups is not None:
            (wrong.parent / "summary.json").write_text(json.dumps({"groups": groups}))
        with pytest.raises(SystemExit, match=says):
            levers.main(["--model", paths[0], str(wrong), "--views", "0", "--episodes", "3"])
    summary = levers.main(["--model", *paths, "--views", "0", "1", "--episodes", "30", "--transductive", "--each",
                           "--fine-tune-steps", "1", "--fine-tune-episodes", "3"])
    assert len(summary["validation_alphabets"]) == 5  # a sixth of the 30 background alphabets
    tuned = [line for line in summary["results"] if "fine_tune_steps" in line]
    lines = [line for line in summary["results"] if "fine_tune_steps" not in line]
    # Fine-tuning: the untuned tower and one step, on the same 3 episodes per size, the gain paired.
    assert [(r["episodes"], r["fine_tune_steps"], r["episodes_scored"]) for r in tuned] == [
        (size, steps, 3) for size in ("20way_1shot", "5way_1shot") for steps in (0, 1)]
    for untuned, stepped in zip(tuned[::2], tuned[1::2]):
        assert stepped["gain_over_plain"] == pytest.approx(stepped["accuracy"] - untuned["accuracy"], abs=2e-4)
    assert [(r["episodes"], r["models"], r["views"], r["transductive"]) for r in lines] == [
        (size, models, views, refined) for size in ("20way_1shot", "5way_1shot") for refined in (False, True)
        for models in ([0], [1], [0, 1]) for views in (0, 1)]
    # The plain tower's lines recomputed here: its hits on the same seeded episodes of the validation alphabets.
    from siamese_kit.data import fixed_episodes
    from siamese_kit.evaluation import episode_hits
    from siamese_kit.stats import accuracy_interval

    tower = keras.saving.load_model(paths[0], safe_mode=True, compile=False)
    for (ways, shots), size in zip(((20, 1), (5, 1)), ("20way_1shot", "5way_1shot")):
        drawn = fixed_episodes(validation, 30, ways=ways, shots=shots, queries=1, seed=0, within_group=True)
        accuracy, half = accuracy_interval(episode_hits(tower, validation, drawn))
        plain = next(r for r in lines if r["episodes"] == size and r["models"] == [0] and r["views"] == 0
                     and not r["transductive"])
        assert (plain["accuracy"], plain["interval"]) == (round(accuracy, 4), round(half, 4))
    for line in lines:
        plain = next(r for r in lines if r["episodes"] == line["episodes"] and r["models"] == [0] and r["views"] == 0
                     and not r["transductive"])
        assert line["gain_over_plain"] == pytest.approx(line["accuracy"] - plain["accuracy"], abs=2e-4)


@pytest.mark.parametrize("shots", [1, 3])
def test_transductive_prototypes_are_one_soft_k_means_step_and_change_the_scores(shots):
    from siamese_kit.evaluation import class_scores

    rng = np.random.default_rng(3)
    support = rng.normal(size=(2, 3, shots, 4))  # 2 trial sets, 3 classes, `shots` shots, 4-D
    queries = rng.normal(size=(2, 5, 4))
    ensemble = EmbeddingEnsemble(Pixels(), transductive=True)
    prototypes = support.mean(axis=-2)
    refined = ensemble.refine_prototypes(prototypes, support, queries)
    for trial in range(2):  # by hand, one trial set at a time
        squared = np.array([[np.sum((q - p) ** 2) for p in prototypes[trial]] for q in queries[trial]])
        tau = np.mean(squared.min(axis=1))
        weights = np.exp(-squared / tau) / np.exp(-squared / tau).sum(axis=1, keepdims=True)
        for c in range(3):
            # Each support image counts once and each query by its weight: the mean of all of them.
            total = support[trial, c].sum(axis=0) + weights[:, c] @ queries[trial]
            np.testing.assert_allclose(refined[trial, c], total / (shots + weights[:, c].sum()), rtol=1e-10)
    # Without the flag the prototypes stay the support means; with it the scores use the refined ones.
    np.testing.assert_array_equal(EmbeddingEnsemble(Pixels()).refine_prototypes(prototypes, support, queries),
                                  prototypes)
    scores = class_scores(ensemble, support, queries)
    expected_scores = np.sqrt(((queries[:, :, None, :] - refined[:, None, :, :]) ** 2).sum(-1))
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-4)
    assert not np.allclose(scores, class_scores(EmbeddingEnsemble(Pixels()), support, queries), rtol=1e-3)


def test_centred_scores_use_the_support_alone_so_each_query_is_scored_inductively():
    from siamese_kit.evaluation.one_shot import class_scores

    rng = np.random.default_rng(4)
    support = rng.normal(size=(3, 5, 1, 8)) + 10.0  # 3 trial sets, 5 classes, 1 shot, far from the origin
    queries = rng.normal(size=(3, 4, 8)) + 10.0
    centred = EmbeddingEnsemble(Pixels(), centre=True)
    scores = class_scores(centred, support, queries)
    mean = support.mean(axis=(1, 2))
    unit_support = (support - mean[:, None, None]) / np.linalg.norm(support - mean[:, None, None], axis=-1,
                                                                     keepdims=True)
    unit_queries = (queries - mean[:, None]) / np.linalg.norm(queries - mean[:, None], axis=-1, keepdims=True)
    by_hand = np.linalg.norm(unit_queries[:, :, None] - unit_support[:, None, :, 0], axis=-1)
    np.testing.assert_allclose(scores, by_hand, rtol=1e-5)
    alone = class_scores(centred, support, queries[:, :1])  # the other queries do not move a query's scores
    np.testing.assert_allclose(alone[:, 0], scores[:, 0], rtol=1e-6)
    plain = class_scores(EmbeddingEnsemble(Pixels()), support, queries)
    assert not np.allclose(plain, scores)
