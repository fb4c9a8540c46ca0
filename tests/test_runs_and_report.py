"""Run folders, splits, sources and the report's figures, checked against independent computations."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siamese_kit.data import DataError, DataSource, ImageSet, conform, load_source
from siamese_kit.evaluation import roc_curve, true_accept_rate_at
from siamese_kit.stats import accuracy_interval
from siamese_kit.runs import RunFolder, SplitSpec, split_dataset


def class_tree(root, classes=6, per_class=4, size=(8, 8)):
    for c in range(classes):
        folder = root / f"class {c}"  # a space in the name, kept
        folder.mkdir(parents=True)
        for i in range(per_class):
            Image.new("L", (size[1], size[0]), 20 * c + i).save(folder / f"{i}.png")
    return root


def test_true_accept_rate_at_fixed_false_accept_rates_matches_a_direct_count():
    rng = np.random.default_rng(0)
    labels = np.repeat([1, 0], [300, 2000])
    scores = np.concatenate([rng.normal(0.4, 0.3, 300), rng.normal(1.5, 0.4, 2000)])  # distances
    for rate in (0.01, 0.001):
        result, = true_accept_rate_at(scores, labels, "distance", (rate,))
        # Independently: the largest threshold admitting at most rate * impostors, then count genuine.
        impostors = np.sort(scores[labels == 0])
        allowed = int(np.floor(rate * len(impostors)))
        limit = impostors[allowed]  # a threshold at this impostor admits exactly `allowed` of them (<)
        expected = np.mean(scores[labels == 1] < limit)
        assert result.true_accept_rate == pytest.approx(expected)
        assert result.achieved_false_accept_rate <= rate
        assert result.impostor_pairs == 2000
    with pytest.raises(ValueError, match=r"false accept rates must be in \(0, 1\)"):
        true_accept_rate_at(scores, labels, "distance", (0.0,))


def test_accuracy_interval_is_196_standard_errors_of_episode_accuracies():
    hits = np.array([[1, 1, 0, 1], [1, 0, 0, 1], [1, 1, 1, 1]], bool)
    per_episode = np.array([0.75, 0.5, 1.0])
    accuracy, half_width = accuracy_interval(hits)
    assert accuracy == pytest.approx(0.75)
    assert half_width == pytest.approx(1.96 * per_episode.std(ddof=1) / np.sqrt(3))
    with pytest.raises(ValueError, match="at least 2 episodes"):
        accuracy_interval(hits[:1])


def test_open_set_split_writes_classes_and_files_and_reloads_them(tmp_path):
    data = DataSource(str(class_tree(tmp_path / "mine", classes=10)))
    parts = split_dataset(load_source(data).imageset, SplitSpec("classes", 0.2, 0.2, seed=1))
    run = RunFolder(tmp_path / "run")
    run.write_start("contrastive", {"iterations": 1}, data, SplitSpec("classes", 0.2, 0.2, seed=1), parts)
    split = json.loads((run.path / "split.json").read_text())
    assert [len(split[p]["classes"]) for p in ("train", "validation", "test")] == [6, 2, 2]
    assert any("class " in name for name in split["test"]["classes"])
    again = run.load_parts()
    for part in parts:
        np.testing.assert_array_equal(again[part].images, parts[part].images)
        assert again[part].paths == parts[part].paths


def test_a_run_whose_data_changed_refuses_to_be_evaluated_on_it(tmp_path):
    root = class_tree(tmp_path / "mine", classes=10)
    data = DataSource(str(root))
    spec = SplitSpec("classes", 0.2, 0.2)
    run = RunFolder(tmp_path / "run")
    run.write_start("contrastive", {}, data, spec, split_dataset(load_source(data).imageset, spec))
    Image.new("L", (8, 8), 1).save(root / "class 3" / "new.png")
    with pytest.raises(DataError) as e:
        run.load_parts()
    assert "changed since" in str(e.value) and "1 new" in str(e.value)


def test_a_run_refuses_a_file_that_kept_its_name_but_changed_its_pixels(tmp_path):
    root = class_tree(tmp_path / "mine", classes=10)
    data = DataSource(str(root))
    spec = SplitSpec("classes", 0.2, 0.2)
    run = RunFolder(tmp_path / "run")
    parts = split_dataset(load_source(data).imageset, spec)
    run.write_start("contrastive", {}, data, spec, parts)
    recorded = json.loads((run.path / "split.json").read_text())["test"]
    assert recorded["sizes"] == [Path(f).stat().st_size for f in recorded["files"]]
    assert len(recorded["digests"]) == len(recorded["files"]) == len(parts["test"])
    # Saved again with the same pixels: the same data, still accepted.
    victim = Path(recorded["files"][0])
    Image.open(victim).save(victim, optimize=True)
    assert len(run.load_parts()["test"]) == len(parts["test"])
    # The same name with other pixels: refused, naming the file.
    pixels = np.asarray(Image.open(victim)).copy()
    pixels[0, 0] = 255 - pixels[0, 0]
    Image.fromarray(pixels).save(victim)
    with pytest.raises(DataError, match=f"other pixels, e.g. {re.escape(str(victim))}"):
        run.load_parts()


def test_splits_too_small_name_the_parts_counts_and_fix(tmp_path):
    imageset = load_source(DataSource(str(class_tree(tmp_path / "few", classes=4, per_class=3)))).imageset
    with pytest.raises(DataError) as e:
        split_dataset(imageset, SplitSpec("classes", 0.25, 0.25))
    assert "4 classes" in str(e.value) and "--split images" in str(e.value)
    with pytest.raises(DataError) as e:
        split_dataset(imageset, SplitSpec("images", 0.1, 0.1))
    message = str(e.value)
    assert "test part" in message and "split(fraction=0.1)" in message and "3 to 3 images" in message


def test_closed_set_split_keeps_every_class_in_every_part(tmp_path):
    imageset = load_source(DataSource(str(class_tree(tmp_path / "many", classes=3, per_class=10)))).imageset
    parts = split_dataset(imageset, SplitSpec("images", 0.2, 0.2))
    assert [len(parts[p]) for p in ("train", "validation", "test")] == [18, 6, 6]
    for part in parts.values():
        assert (part.class_counts() > 0).all()


def test_a_folder_that_is_not_a_run_says_how_to_make_one(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"PK")
    with pytest.raises(DataError) as e:
        RunFolder(tmp_path).info()
    assert "not a run folder" in str(e.value) and "siamese-kit evaluate MODEL.keras" in str(e.value)
    assert "--data SOURCE" in str(e.value)


def test_sources_are_recognised_and_a_missing_one_is_named(tmp_path):
    from test_data_sources import write_mnist_like

    assert DataSource(str(write_mnist_like(tmp_path / "letters"))).kind == "idx"
    assert DataSource(str(class_tree(tmp_path / "tree"))).kind == "folder"
    assert DataSource("tfds:fashion_mnist").kind == "tfds"
    with pytest.raises(DataError, match="Data source not found: .*nowhere"):
        DataSource(str(tmp_path / "nowhere")).kind
    with pytest.raises(DataError, match=r"--color gray\|rgb"):
        DataSource(str(tmp_path), color="colour")
    contents = load_source(DataSource(str(tmp_path / "letters"), image_size=(10, 12), color="rgb"))
    assert contents.imageset.image_shape == (10, 12, 3) and len(contents.imageset) == 10
    assert contents.imageset.paths[0].endswith("train[0]")


def test_keep_aspect_pads_idx_images_as_it_pads_a_folders(tmp_path):
    # IDX (and TFDS) images are resized after loading; keep_aspect must reach that resize too, or a
    # run recorded as padded is trained on stretched images.
    from test_data_sources import write_mnist_like

    from siamese_kit.data.sources.folders import read_image_folder

    idx = write_mnist_like(tmp_path / "letters", n_train=6, n_test=0)  # 5 x 4 pixel images
    padded = load_source(DataSource(str(idx), image_size=(10, 16), keep_aspect=True)).imageset
    stretched = load_source(DataSource(str(idx), image_size=(10, 16))).imageset
    as_files = tmp_path / "as_files"
    for i, (pixels, label) in enumerate(zip(read_idx_images(idx), padded.labels)):
        (as_files / f"class_{label}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(as_files / f"class_{label}" / f"{i:02d}.png")
    from_folder = read_image_folder(as_files, (10, 16), keep_aspect=True).imageset
    order = np.argsort([Path(p).name for p in from_folder.paths])
    np.testing.assert_array_equal(padded.images, from_folder.images[order])
    assert not np.array_equal(padded.images, stretched.images)


def test_keep_aspect_pads_tfds_images(monkeypatch):
    from siamese_kit.data.sources import spec

    wide = np.zeros((2, 4, 8, 1), dtype=np.uint8)
    wide[:, 1:3, 1:7, 0] = 200  # a bright band inside a black border: padding stays black, stretching moves it
    monkeypatch.setattr(spec, "load_tfds", lambda name, split: ImageSet(wide, np.array([0, 1])))
    padded = load_source(DataSource("tfds:stand_in", image_size=(8, 8), keep_aspect=True)).imageset.images
    stretched = load_source(DataSource("tfds:stand_in", image_size=(8, 8))).imageset.images
    assert padded[0, :2, :, 0].max() == 0 and padded[0, -2:, :, 0].max() == 0  # black rows above and below
    assert stretched[0, 2:6, 2:6, 0].min() > 100  # stretched: the band doubles in height instead


def read_idx_images(folder):
    from siamese_kit.data import read_idx

    return read_idx(next(folder.glob("train-images*")))


def test_conform_converts_colour_and_size_like_pillow():
    grey = np.arange(64, dtype=np.uint8).reshape(1, 8, 8, 1)
    imageset = ImageSet(grey, np.array([0]))
    as_rgb = conform(imageset, None, "rgb")
    np.testing.assert_array_equal(as_rgb.images[..., 0], grey[..., 0])
    np.testing.assert_array_equal(as_rgb.images[..., 2], grey[..., 0])
    resized = conform(imageset, (4, 4), "gray")
    expected = np.asarray(Image.fromarray(grey[0, ..., 0]).resize((4, 4), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(resized.images[0, ..., 0], expected)
    assert conform(imageset, (8, 8), "gray") is imageset


def test_roc_points_behind_the_accept_rates_are_reachable_thresholds():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    labels = np.array([1, 1, 0, 1, 0, 0])
    curve = roc_curve(scores, labels, "similarity")
    result, = true_accept_rate_at(scores, labels, "similarity", (0.34,))
    called = scores >= result.threshold
    assert called[labels == 1].mean() == pytest.approx(result.true_accept_rate) == pytest.approx(1.0)
    assert called[labels == 0].mean() == pytest.approx(result.achieved_false_accept_rate)
    assert result.achieved_false_accept_rate in curve.false_positive_rate


@pytest.mark.parametrize("successes, trials", [(375, 400), (400, 400), (0, 10), (7, 20), (346, 400)])
def test_proportion_interval_is_the_set_of_proportions_the_score_test_keeps(successes, trials):
    from siamese_kit.stats import proportion_interval

    # Wilson's interval by its definition: every p with |k/n - p| <= 1.96 sqrt(p (1 - p) / n), on a fine grid.
    grid = np.linspace(0, 1, 2_000_001)
    kept = grid[np.abs(successes / trials - grid) <= 1.959963984540054 * np.sqrt(grid * (1 - grid) / trials)]
    low, high = proportion_interval(successes, trials)
    assert low == pytest.approx(kept.min(), abs=1e-6) and high == pytest.approx(kept.max(), abs=1e-6)
    mirrored = proportion_interval(trials - successes, trials)
    assert mirrored == pytest.approx((1 - high, 1 - low), abs=1e-12)
    with pytest.raises(ValueError, match="successes <= trials"):
        proportion_interval(trials + 1, trials)


def test_a_lake_report_interval_counts_the_trials_of_all_its_runs():
    from siamese_kit.evaluation import LakeReport
    from siamese_kit.stats import proportion_interval

    # 20 runs of 20 trials, 380 right: the interval is over 400 trials, not over one run's 20.
    report = LakeReport(accuracy=0.95, run_accuracy=[0.95] * 20, choices=[np.zeros(20, int)] * 20,
                        scores=[np.zeros((20, 20))] * 20)
    assert report.interval() == proportion_interval(380, 400)
    assert report.interval() != proportion_interval(19, 20)


class ClassSpots:
    """A stand-in tower: the pixels are the embedding (no training, so every pair score is known)."""

    score_kind = "distance"

    def embed(self, images, batch_size=512):
        pixels = np.asarray(getattr(images, "images", images), np.float32)
        return pixels.reshape(len(pixels), -1) / 255.0


def spotted_set(classes, per_class, seed):
    """Images whose class is a bright spot at its own place, with noise: separable but not perfectly."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), per_class)
    images = rng.integers(0, 160, (len(labels), 8, 8, 1)).astype(np.uint8)
    for index, label in enumerate(labels):
        images[index, label % 8, (label // 8) * 3: (label // 8) * 3 + 3, 0] += 60
    return ImageSet(images, labels, class_names=[f"class {c}" for c in range(classes)])


def test_a_report_on_75_test_images_counts_each_distinct_pair_once_and_gives_class_intervals():
    from math import comb

    from siamese_kit.report import build_report

    test, validation = spotted_set(15, 5, seed=0), spotted_set(15, 5, seed=1)
    report, pictures = build_report(ClassSpots(), test, validation, num_pairs=10_000, episodes=50)
    counts = report["counts"]
    # Every distinct pair of 75 images: 15 classes x C(5, 2) same-class pairs, the rest different.
    assert counts["genuine_pairs"] == 15 * comb(5, 2) == 150
    assert counts["impostor_pairs"] == comb(75, 2) - 150 == 2625 and counts["pairs"] == 2775
    # 2,625 distinct impostors measure FAR 1% (26 false accepts), not 0.1% (2.6).
    reliable = {key: value["reliable"] for key, value in report["true_accept_rate"].items()}
    assert reliable == {"far_0.01": True, "far_0.001": False}
    for name, key in (("roc_auc", "roc_auc"), ("equal_error_rate", "equal_error_rate")):
        low, high = report["intervals_95"][name]
        assert low <= report[key] <= high and high - low > 0.001
    low, high = report["intervals_95"]["true_accept_rate_far_0.01"]
    assert low <= report["true_accept_rate"]["far_0.01"]["true_accept_rate"] <= high
    # A budget below the counts draws each kind without replacement: still no pair twice.
    small, _ = build_report(ClassSpots(), test, validation, num_pairs=200, episodes=50)
    assert small["counts"]["genuine_pairs"] == small["counts"]["impostor_pairs"] == 100
    figure = pictures["scores.png"]()
    assert [text.get_text() for text in figure.axes[0].get_legend().get_texts()][:2] == [
        "same class (150 pairs)", "different classes (2,625 pairs)"]


def test_two_test_classes_get_no_interval_rather_than_one_of_no_width(tmp_path):
    from siamese_kit.report import build_report, write_report
    from siamese_kit.stats import class_bootstrap

    test, validation = spotted_set(2, 20, seed=0), spotted_set(6, 5, seed=1)
    report, pictures = build_report(ClassSpots(), test, validation, num_pairs=2_000, episodes=20)
    assert report["intervals_95"] == {"roc_auc": None, "equal_error_rate": None, "true_accept_rate_far_0.01": None,
                                      "true_accept_rate_far_0.001": None}
    page = write_report(tmp_path, report, {}, title="two classes").read_text()
    assert page.count("no interval: 2 test classes are too few to resample; at least 5") == 4
    with pytest.raises(ValueError, match="4 classes are too few to resample"):
        class_bootstrap({"n": lambda s, l: len(s)}, np.zeros(4), np.array([1, 0, 1, 0]), np.array([0, 1, 2, 3]),
                        np.array([0, 2, 2, 1]))


def test_distinct_pairs_never_repeat_a_pair_and_take_all_of_a_small_kind():
    from siamese_kit.data import distinct_pairs

    imageset = spotted_set(15, 5, seed=0)
    pairs = distinct_pairs(imageset, 1_000, seed=3)
    assert pairs.pair_label.sum() == 150 and (pairs.pair_label == 0).sum() == 500  # all same, 500 of 2,625 different
    keys = set(zip(pairs.index_a.tolist(), pairs.index_b.tolist()))
    assert len(keys) == len(pairs) and (pairs.index_a < pairs.index_b).all()
    same = imageset.labels[pairs.index_a] == imageset.labels[pairs.index_b]
    np.testing.assert_array_equal(same, pairs.pair_label == 1)
    again = distinct_pairs(imageset, 1_000, seed=3)
    np.testing.assert_array_equal(again.index_b, pairs.index_b)
    with pytest.raises(DataError, match="two classes"):
        distinct_pairs(ImageSet(imageset.images[:5], np.zeros(5, int)), 100)


def test_the_report_retrieval_picture_asks_from_several_classes():
    from siamese_kit.report import build_report

    test, validation = spotted_set(15, 5, seed=0), spotted_set(15, 5, seed=1)
    _, pictures = build_report(ClassSpots(), test, validation, num_pairs=500, episodes=20)
    figure = pictures["retrieval.png"]()
    queries = [ax.get_title() for ax in figure.axes if ax.get_title().startswith("query")]
    # Six queries, one per class, spread over the 15 (the part's first six images are all class 0).
    assert len(queries) == 6 and len(set(queries)) == 6
    assert queries[0] == "query: class 0" and queries[-1] == "query: class 14"
