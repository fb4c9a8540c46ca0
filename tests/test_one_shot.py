"""One-shot learning: Lake's runs, episodes, rotated classes, the prototype model, embed-once evaluation."""

import io
import zipfile

import keras
import numpy as np
import pytest
from PIL import Image

from conftest import make_imageset, write_folder, write_zip
from siamese_kit import plotting
from siamese_kit.data import DataError, ImageSet, episode_stream, fixed_episodes, load_lake_runs
from siamese_kit.data.sources.lake import OneShotRun
from siamese_kit.layers import TwinClassifierHead
from siamese_kit.models import PrototypeModel, SiameseModel, conv4
from siamese_kit.distances import pairwise_squared_distances
from siamese_kit.models.prototype import class_prototypes
from siamese_kit.evaluation import choose, class_scores, episode_accuracy, evaluate_lake_runs
from siamese_kit.training import train_loop

# ----------------------------------------------------------------------------- Lake's runs

WAYS = 4


def glyph_png(class_index, variant):
    """A 105x105 grey PNG whose bright column marks the class and whose row marks the drawing."""
    pixels = np.full((105, 105), 255, dtype=np.uint8)
    pixels[:, 10 + 20 * class_index : 14 + 20 * class_index] = 0
    pixels[30 + 40 * variant : 33 + 40 * variant, :] = 0
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def run_members(runs=2, answers=((2, 0, 3, 1), (1, 3, 0, 2)), prefix=""):
    """Zip member name -> bytes in all_runs.zip's layout; test item k is class answers[r][k]."""
    members = {}
    for r in range(runs):
        run = f"run{r + 1:02d}"
        lines = []
        for c in range(WAYS):
            members[f"{prefix}{run}/training/class{c + 1:02d}.png"] = glyph_png(c, 0)
        for k, answer in enumerate(answers[r]):
            members[f"{prefix}{run}/test/item{k + 1:02d}.png"] = glyph_png(answer, 1)
            lines.append(f"{run}/test/item{k + 1:02d}.png {run}/training/class{answer + 1:02d}.png")
        members[f"{prefix}{run}/class_labels.txt"] = ("\n".join(lines) + "\n").encode()
    return members


def test_runs_from_zip_and_wrapped_folder_agree(tmp_path):
    from_zip = load_lake_runs(write_zip(tmp_path / "all_runs.zip", run_members()))
    from_folder = load_lake_runs(write_folder(tmp_path / "unzipped", run_members(prefix="all_runs/")))
    assert [r.name for r in from_zip] == ["run01", "run02"]
    for a, b in zip(from_zip, from_folder):
        np.testing.assert_array_equal(a.support_images, b.support_images)
        np.testing.assert_array_equal(a.query_images, b.query_images)
        np.testing.assert_array_equal(a.answers, b.answers)
    np.testing.assert_array_equal(from_zip[0].answers, [2, 0, 3, 1])
    np.testing.assert_array_equal(from_zip[1].answers, [1, 3, 0, 2])
    assert from_zip[0].support_images.shape == (WAYS, 105, 105, 1)
    # The answer really is the same glyph: its marking column is dark in both images.
    run = from_zip[0]
    column = 10 + 20 * run.answers[0]
    assert run.query_images[0, 5, column, 0] == 0 and run.support_images[run.answers[0], 5, column, 0] == 0


def test_runs_found_through_the_environment_and_resized(monkeypatch, tmp_path):
    write_zip(tmp_path / "all_runs.zip", run_members())
    monkeypatch.setenv("SIAMESE_KIT_OMNIGLOT", str(tmp_path))
    runs = load_lake_runs(image_size=28)
    assert runs[0].query_images.shape == (WAYS, 28, 28, 1) and runs[0].ways == WAYS


def test_bad_runs_are_refused_with_the_file_named(tmp_path):
    members = run_members()
    members["run01/class_labels.txt"] = b"run01/test/item01.png run01/training/class09.png\n"
    with pytest.raises(DataError, match=r"class_labels.txt.*line 1.*class09"):
        load_lake_runs(write_zip(tmp_path / "wrong_answer.zip", members))
    members = run_members()
    members["run01/class_labels.txt"] = b"run01/test/item01.png run01/training/class01.png\n"
    with pytest.raises(DataError, match="no answer for test image 'item02.png'"):
        load_lake_runs(write_zip(tmp_path / "missing_answer.zip", members))
    with pytest.raises(DataError, match=r"absolute or contains '\.\.'"):
        load_lake_runs(write_zip(tmp_path / "escape.zip", {**run_members(), "../evil.png": b"x"}))
    with pytest.raises(DataError, match="No one-shot runs"):
        load_lake_runs(write_zip(tmp_path / "empty.zip", {"readme.txt": b"nothing"}))
    with pytest.raises(DataError, match="not found"):
        load_lake_runs(tmp_path / "nowhere.zip")
    members = run_members()
    members["run02/test/item03.png"] = b"not a png"
    with pytest.raises(DataError, match="run02/test/item03.png"):
        load_lake_runs(write_zip(tmp_path / "corrupt.zip", members))


def test_real_lake_runs(omniglot_dir_or_skip):
    runs = load_lake_runs(image_size=28)
    assert len(runs) == 20 and all(r.ways == 20 for r in runs)
    for run in runs:
        assert sorted(run.answers.tolist()) == list(range(20))  # one test item per class
    # run01's first line of class_labels.txt, read independently of the loader.
    with zipfile.ZipFile(omniglot_dir_or_skip / "all_runs.zip") as archive:
        first = archive.read("run01/class_labels.txt").decode().split()[1]
    assert runs[0].support_files[runs[0].answers[0]] == first.rsplit("/", 1)[-1]


# ----------------------------------------------------------------------------- episodes


def grouped_set(groups=3, classes_per_group=6, per_class=5, size=8):
    base = make_imageset(num_classes=groups * classes_per_group, per_class=per_class, size=size)
    return ImageSet(base.images, base.labels, base.class_names, groups=base.labels // classes_per_group,
                    name="grouped")


def test_fixed_episodes_draw_distinct_classes_within_one_group():
    data = grouped_set()
    episodes = fixed_episodes(data, 50, ways=4, shots=2, queries=2, seed=3)
    assert episodes.support_index.shape == (50, 4, 2) and episodes.query_index.shape == (50, 4, 2)
    seen_groups = set()
    for e in range(50):
        classes = episodes.classes[e]
        assert len(set(classes.tolist())) == 4
        assert (data.labels[episodes.support_index[e]] == classes[:, None]).all()
        assert (data.labels[episodes.query_index[e]] == classes[:, None]).all()
        groups = data.groups[np.concatenate([episodes.support_index[e].ravel(), episodes.query_index[e].ravel()])]
        assert len(set(groups.tolist())) == 1
        seen_groups.add(int(groups[0]))
        chosen = np.concatenate([episodes.support_index[e].ravel(), episodes.query_index[e].ravel()])
        assert len(set(chosen.tolist())) == len(chosen)  # no image twice in an episode
    assert seen_groups == {0, 1, 2}


def test_episodes_across_groups_mix_alphabets_and_are_seeded():
    data = grouped_set()
    across = fixed_episodes(data, 40, ways=6, shots=1, queries=1, seed=0, within_group=False)
    assert any(len(set((across.classes[e] // 6).tolist())) > 1 for e in range(40))
    again = fixed_episodes(data, 40, ways=6, shots=1, queries=1, seed=0, within_group=False)
    other = fixed_episodes(data, 40, ways=6, shots=1, queries=1, seed=1, within_group=False)
    np.testing.assert_array_equal(across.support_index, again.support_index)
    assert not np.array_equal(across.support_index, other.support_index)


def test_episode_stream_matches_fixed_episodes_and_resumes():
    data = grouped_set()
    fixed = fixed_episodes(data, 3, ways=3, shots=2, queries=1, seed=5)
    stream = list(episode_stream(data, ways=3, shots=2, queries=1, seed=5).take(3))
    for e, episode in enumerate(stream):
        np.testing.assert_array_equal(episode["support"].numpy(), data.images[fixed.support_index[e].ravel()])
        np.testing.assert_array_equal(episode["query"].numpy(), data.images[fixed.query_index[e].ravel()])
        np.testing.assert_array_equal(episode["support_labels"].numpy(), [0, 0, 1, 1, 2, 2])
        np.testing.assert_array_equal(episode["classes"].numpy(), fixed.classes[e])
    resumed = next(iter(episode_stream(data, ways=3, shots=2, queries=1, seed=5, start_episode=2)))
    np.testing.assert_array_equal(resumed["support"].numpy(), stream[2]["support"].numpy())


def test_bad_episode_requests_say_what_to_change(small_set):
    data = grouped_set(classes_per_group=3)
    with pytest.raises(DataError, match="at most 3 classes.*fewer than ways=4.*within_group=False"):
        fixed_episodes(data, 1, ways=4)
    with pytest.raises(DataError, match="within_group=True needs an ImageSet with groups"):
        episode_stream(small_set, ways=2)
    with pytest.raises(DataError, match="queries must be an integer"):
        episode_stream(data, ways=2, queries=0)
    with pytest.raises(DataError, match="ways must be an integer"):
        fixed_episodes(data, 1, ways=1)
    with pytest.raises(DataError, match="6 or more images"):
        fixed_episodes(data, 1, ways=2, shots=3, queries=3)  # every class has 5
    with pytest.raises(DataError, match="count must be a positive integer"):
        fixed_episodes(data, 0, ways=2)


def test_rotated_classes_are_new_classes_and_groups():
    data = grouped_set(groups=2, classes_per_group=2, per_class=2)
    rotated = data.with_rotated_classes()
    assert len(rotated) == 4 * len(data) and rotated.num_classes == 4 * data.num_classes
    assert len(rotated.group_names) == 4 * len(data.group_names)
    n = len(data)
    np.testing.assert_array_equal(rotated.images[n : 2 * n], np.rot90(data.images, 1, axes=(1, 2)))
    np.testing.assert_array_equal(rotated.labels[n : 2 * n], data.labels + data.num_classes)
    assert rotated.class_names[data.num_classes] == f"{data.class_names[0]}@90"
    np.testing.assert_array_equal(rotated.groups[3 * n :], data.groups + 3 * len(data.group_names))
    with pytest.raises(DataError, match="quarter_turns"):
        data.with_rotated_classes((4,))
    wide = ImageSet(np.zeros((2, 4, 6, 1), np.uint8), np.array([0, 1]))
    with pytest.raises(DataError, match="square images"):
        wide.with_rotated_classes()


# ----------------------------------------------------------------------------- prototype model


def test_prototypes_and_distances_match_brute_force():
    rng = np.random.default_rng(0)
    support = rng.normal(size=(6, 3)).astype("float32")  # 3 ways x 2 shots, class by class
    queries = rng.normal(size=(4, 3)).astype("float32")
    prototypes = np.asarray(class_prototypes(support, 3))
    np.testing.assert_allclose(prototypes, support.reshape(3, 2, 3).mean(1), rtol=1e-6)
    brute = np.array([[np.sum((q - p) ** 2) for p in prototypes] for q in queries])
    np.testing.assert_allclose(np.asarray(pairwise_squared_distances(queries, prototypes)), brute, rtol=1e-5, atol=1e-5)


def tiny_prototype_model(size=8, seed=0):
    keras.utils.set_random_seed(seed)
    encoder = conv4((size, size, 1), feature_dim=8, width=4, feature_activation=None, pool_last=False)
    model = PrototypeModel(encoder)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    return model


def test_prototype_training_learns_and_survives_saving(tmp_path):
    data = grouped_set(groups=2, classes_per_group=6, per_class=6)
    model = tiny_prototype_model()
    stream = episode_stream(data, ways=5, shots=1, queries=3, seed=0)
    episodes = fixed_episodes(data, 40, ways=5, shots=1, queries=1, seed=9)
    before = episode_accuracy(model, data, episodes)
    history = train_loop(model, stream, 60)["history"]
    after = episode_accuracy(model, data, episodes)
    assert after > max(before, 0.5), (before, after)
    assert np.mean(history["loss"][-5:]) < np.mean(history["loss"][:5])
    model.save(tmp_path / "proto.keras")
    loaded = keras.saving.load_model(tmp_path / "proto.keras", safe_mode=True)
    assert isinstance(loaded, PrototypeModel) and loaded.score_kind == "distance"
    np.testing.assert_allclose(loaded.embed(data), model.embed(data), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- evaluation


def test_similarity_scores_equal_running_the_twin_on_every_pair():
    keras.utils.set_random_seed(1)
    encoder = conv4((8, 8, 1), feature_dim=6, width=4, pool_last=False)
    model = SiameseModel(encoder, TwinClassifierHead(kernel_stddev=0.5))
    data = make_imageset(num_classes=3, per_class=4)
    support_images = data.images[[0, 1, 4, 5, 8, 9]]  # 3 ways x 2 shots
    query_images = data.images[[2, 6, 10, 11]]
    embeddings = model.embed(np.concatenate([support_images, query_images]))
    scores = class_scores(model, embeddings[:6].reshape(3, 2, -1), embeddings[6:])
    per_pair = np.zeros((4, 3))
    for q in range(4):
        for w in range(3):
            pair = model((np.repeat(query_images[q : q + 1], 2, 0), support_images[2 * w : 2 * w + 2]))
            per_pair[q, w] = np.mean(keras.ops.convert_to_numpy(pair))
    np.testing.assert_allclose(scores, per_pair, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(choose(scores, "similarity"), per_pair.argmax(1))


def test_distance_scores_use_the_mean_of_the_shots():
    model = PixelModel()
    support = np.array([[[0, 0], [2, 0]], [[10, 0], [10, 2]]], dtype="float32")  # prototypes (1,0), (10,1)
    queries = np.array([[1, 0], [9, 1]], dtype="float32")
    scores = class_scores(model, support, queries)
    np.testing.assert_allclose(scores, [[0, np.hypot(9, 1)], [np.hypot(8, 1), 1]], atol=1e-5)
    np.testing.assert_array_equal(choose(scores, "distance"), [0, 1])
    with pytest.raises(ValueError, match="score_kind"):
        choose(scores, "probability")


class PixelModel:
    """A stand-in distance model whose embedding is the raw pixels: counts how often it embeds."""

    score_kind = "distance"

    def __init__(self):
        self.calls = 0

    def embed(self, images):
        self.calls += 1
        images = getattr(images, "images", images)
        return np.asarray(images, dtype="float32").reshape(len(images), -1)


def test_lake_evaluation_embeds_every_run_in_one_call_and_scores_trials(tmp_path):
    runs = load_lake_runs(write_zip(tmp_path / "all_runs.zip", run_members()), image_size=28)
    model = PixelModel()
    report = evaluate_lake_runs(model, runs)
    assert model.calls == 1
    assert report.accuracy == 1.0 and report.run_accuracy == [1.0, 1.0]
    np.testing.assert_array_equal(report.choices[0], runs[0].answers)
    # With the answers scrambled, only the trials whose answer did not move stay right.
    scrambled = [OneShotRun(r.name, r.support_images, r.query_images, np.roll(r.answers, 1), r.support_files,
                            r.query_files) for r in runs]
    assert evaluate_lake_runs(PixelModel(), scrambled).accuracy == 0.0


def test_episode_accuracy_matches_a_per_episode_brute_force():
    data = grouped_set(groups=2, classes_per_group=5, per_class=5)
    episodes = fixed_episodes(data, 30, ways=4, shots=2, queries=2, seed=2)
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(len(data), 3)).astype("float32")
    model = PixelModel()
    hits = []
    for e in range(30):
        prototypes = embeddings[episodes.support_index[e]].mean(1)
        for w in range(4):
            for q in episodes.query_index[e, w]:
                hits.append(np.argmin(np.linalg.norm(prototypes - embeddings[q], axis=1)) == w)
    assert episode_accuracy(model, data, episodes, embeddings) == pytest.approx(np.mean(hits))
    assert model.calls == 0  # embeddings given: nothing re-embedded


def test_a_one_shot_episode_as_a_run_scores_like_the_episode():
    data = grouped_set(groups=2, classes_per_group=5, per_class=5)
    episodes = fixed_episodes(data, 3, ways=4, shots=1, queries=2, seed=5)
    run = episodes.as_run(data, 2)
    np.testing.assert_array_equal(run.support_images, data.images[episodes.support_index[2, :, 0]])
    np.testing.assert_array_equal(run.query_images, data.images[episodes.query_index[2].reshape(-1)])
    # Each query's answer is its class's position among the supports, so labels agree through it.
    support_labels = data.labels[episodes.support_index[2, :, 0]]
    np.testing.assert_array_equal(support_labels[run.answers], data.labels[episodes.query_index[2].reshape(-1)])
    model = PixelModel()
    single = fixed_episodes(data, 1, ways=4, shots=1, queries=2, seed=5)
    assert evaluate_lake_runs(model, [single.as_run(data, 0)]).accuracy == pytest.approx(
        episode_accuracy(model, data, single)
    )
    with pytest.raises(DataError, match="these episodes have 2 shots"):
        fixed_episodes(data, 1, ways=4, shots=2, queries=1).as_run(data)
    with pytest.raises(DataError, match="episode 3 is out of range; there are 3 episodes"):
        episodes.as_run(data, 3)


# ----------------------------------------------------------------------------- picture


def test_one_shot_task_grid_marks_the_right_and_the_chosen_candidate(tmp_path):
    run = load_lake_runs(write_zip(tmp_path / "all_runs.zip", run_members()))[0]
    answer = int(run.answers[0])
    wrong = (answer + 1) % WAYS
    figure = plotting.one_shot_task_grid(run, query=0, choice=wrong, scores=np.arange(WAYS, dtype=float))
    candidates = [ax for ax in figure.axes if ax.get_title().startswith("#")]
    assert len(candidates) == WAYS
    assert "RIGHT" in candidates[answer].get_title()
    assert "CHOSEN (WRONG)" in candidates[wrong].get_title()
    assert candidates[wrong].spines["left"].get_linewidth() > candidates[answer].spines["left"].get_linewidth()
    assert candidates[wrong].title.get_color() == plotting.WRONG_COLOUR
    right = plotting.one_shot_task_grid(run, query=0, choice=answer)
    chosen = [ax for ax in right.axes if "CHOSEN" in ax.get_title()]
    assert len(chosen) == 1 and "RIGHT CHOSEN" in chosen[0].get_title()
    with pytest.raises(ValueError, match="choice must be between 0 and 3"):
        plotting.one_shot_task_grid(run, choice=7)
    with pytest.raises(ValueError, match="scores has 2 values for 4 candidates"):
        plotting.one_shot_task_grid(run, scores=[1.0, 2.0])


def test_episode_scoring_blocks_stay_within_their_memory_budget(monkeypatch):
    """20-way 5-shot episodes with wide embeddings: every block's query-by-shot arrays stay within
    EPISODE_BLOCK_VALUES values, and the blocked answer is the per-episode one."""
    from siamese_kit.evaluation import one_shot as oneshot

    data = grouped_set(groups=2, classes_per_group=25, per_class=7)
    episodes = fixed_episodes(data, 12, ways=20, shots=5, queries=1, seed=3, within_group=False)
    embeddings = np.random.default_rng(1).normal(size=(len(data), 64)).astype("float32")
    monkeypatch.setattr(oneshot, "EPISODE_BLOCK_VALUES", 20 * 20 * 5 * 64 * 5)  # 5 episodes a block
    seen, original = [], oneshot.class_scores

    def recording(model, support, queries):
        seen.append(queries.shape[0] * queries.shape[1] * support.shape[1] * support.shape[2] * support.shape[3])
        return original(model, support, queries)

    monkeypatch.setattr(oneshot, "class_scores", recording)
    blocked = oneshot.episode_accuracy(PixelModel(), data, episodes, embeddings)
    assert len(seen) == 3 and max(seen) <= oneshot.EPISODE_BLOCK_VALUES
    one_by_one = np.mean([
        np.argmin(np.linalg.norm(embeddings[episodes.support_index[e]].mean(1) - embeddings[q], axis=1)) == w
        for e in range(12) for w in range(20) for q in episodes.query_index[e, w]])
    assert blocked == pytest.approx(one_by_one)


# ----------------------------------------------------------------------------- the recipe's batch losses


def test_one_shot_recipe_trains_a_batch_loss_on_batches_of_an_episodes_size_and_scores_test_views():
    from siamese_kit.data import AffineDistortion, class_balanced_stream
    from siamese_kit.losses import TripletLoss
    from siamese_kit.models import EmbeddingEnsemble, EmbeddingModel
    from siamese_kit.evaluation import episode_hits
    from siamese_kit.recipes import OneShotRecipe, build_one_shot_model, evaluate_one_shot, run_one_shot
    from siamese_kit.recipes.own_data import recipe_for

    train = grouped_set(groups=2, classes_per_group=5, per_class=4, size=28)
    # Noise images: accuracy near chance, so each way of scoring gives its own numbers.
    noise = np.random.default_rng(0).integers(0, 256, (120, 28, 28, 1), dtype=np.uint8)
    held_out = ImageSet(noise, np.repeat(np.arange(20), 6), groups=np.zeros(120, int), name="noise")
    recipe = OneShotRecipe(width=4, embedding_dim=8, iterations=4, ways=4, shots=1, queries=2, within_group=False,
                           rotations=False, loss="batch_hard", test_views=2, transductive=True)
    summary = run_one_shot(train, held_out, recipe)
    assert summary["iterations"] == 4 and summary["recipe"]["loss"] == "batch_hard"
    assert summary["recipe"]["test_views"] == 2
    # The reported episodes are those of the tower seen through two fixed views: rebuilt here from a
    # tower trained again with the same seed.
    tower = build_one_shot_model(recipe)
    assert isinstance(tower, EmbeddingModel) and isinstance(tower.batch_loss, TripletLoss)
    assert tower.batch_loss.mining == "batch_hard" and tower.batch_loss.margin == 1.0
    train_loop(tower, lambda start: class_balanced_stream(train, 4, 3, seed=0, start_batch=start,
                                                          augment=AffineDistortion()), 4)
    again = evaluate_one_shot(EmbeddingEnsemble(tower, views=2, transductive=True), held_out, seed=0)
    # Transduction is labelled as such; the summary's own numbers are inductive (each query alone).
    assert summary["transductive"]["episodes"] == again["episodes"] != summary["episodes"]
    # The inductive scores are the two views' (the tower alone embeds differently).
    with_views = EmbeddingEnsemble(tower, views=2).embed(held_out)
    assert not np.allclose(with_views, tower.embed(held_out), rtol=1e-3)
    drawn = fixed_episodes(held_out, 1000, ways=20, shots=1, queries=1, seed=0)
    assert summary["episodes"]["20way_1shot"] == round(
        float(np.mean(episode_hits(EmbeddingEnsemble(tower, views=2), held_out, drawn, with_views))), 4)
    assert "inductive" not in summary
    for bad, message in (({"loss": "triplet"}, "loss must be one of"), ({"test_views": -1}, "test_views"),
                         ({"transductive": "yes"}, "transductive must be true or false")):
        with pytest.raises(ValueError, match=message):
            OneShotRecipe(**bad)
    with pytest.raises(ValueError, match="--recipe triplet"):
        recipe_for("one-shot", {"loss": "batch_hard"})


def test_the_defaults_are_the_validated_levers_and_the_earlier_recipe_keeps_a_name():
    from siamese_kit.models import EmbeddingModel, PrototypeModel
    from siamese_kit.recipes import OneShotRecipe, build_one_shot_model, one_shot_training_stream
    from siamese_kit.recipes.own_data import recipe_for

    recipe = OneShotRecipe()
    assert (recipe.loss, recipe.within_group, recipe.test_views, recipe.transductive) == ("batch_hard", False, 8, False)
    earlier = OneShotRecipe.prototypical()
    assert (earlier.loss, earlier.within_group, earlier.test_views, earlier.iterations) == ("prototypical", True, 0, 10000)
    assert OneShotRecipe.prototypical(iterations=7).iterations == 7
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['episodes'\]"):
        OneShotRecipe.prototypical(episodes=7)
    small = dict(width=4, embedding_dim=8, iterations=2, ways=4, shots=1, queries=2, rotations=False)
    assert isinstance(build_one_shot_model(OneShotRecipe(**small)), EmbeddingModel)
    assert isinstance(build_one_shot_model(OneShotRecipe.prototypical(**small)), PrototypeModel)
    # The stream follows the loss: P x K batches mixed across groups, or episodes within one group.
    train = grouped_set(groups=2, classes_per_group=5, per_class=4, size=28)
    images, labels = next(iter(one_shot_training_stream(OneShotRecipe(**small), train)(0)))
    assert images.shape == (12, 28, 28, 1) and len(set(labels.numpy())) == 4
    episode = next(iter(one_shot_training_stream(OneShotRecipe.prototypical(**small), train)(0)))
    assert episode["support"].shape == (4, 28, 28, 1) and episode["query"].shape == (8, 28, 28, 1)
    # Your own images keep the episode recipe, whatever Omniglot's defaults are.
    own = recipe_for("one-shot", {})
    assert (own.loss, own.test_views, own.within_group) == ("prototypical", 0, False)


def test_the_cli_names_the_earlier_recipe_only_where_it_applies(tmp_path, capsys):
    from siamese_kit.cli import main

    for extra in (["--recipe", "triplet"], ["--recipe", "one-shot", "--data", str(tmp_path)]):
        assert main(["train", *extra, "--prototypical", "--out", str(tmp_path / "run")]) == 1
        assert "--prototypical is the earlier Omniglot one-shot recipe" in capsys.readouterr().err
        assert not (tmp_path / "run").exists()
