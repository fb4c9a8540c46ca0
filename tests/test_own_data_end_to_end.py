"""Your own images through the command: train --data (each recipe) -> evaluate -> verify -> identify -> embed.

The image tree is written here from MNIST digits as a user's folder would be: PNGs and JPEGs of
mixed sizes and colour modes, a stray note and a Thumbs.db. The commands run in-process
(`siamese_kit.cli.main`), the same code the `siamese-kit` console script runs. Ten digits are too few
classes to learn unseen ones from, so the chain uses the closed split (`--split images`: every digit in
every part); the open split, the default, is tested on its own in test_runs_and_report.py and taught on
Omniglot's characters in notebook 09.
"""

import importlib.util
import json

import numpy as np
import pytest
from PIL import Image

from siamese_kit.cli import main

PER_CLASS = 40


@pytest.fixture(scope="module")
def digit_tree(mnist, tmp_path_factory):
    """digits/<name>/<i>.(png|jpg): 10 classes of PER_CLASS images in four sizes and colour modes, plus
    a gallery of known classes and held-out query images of the two test digits (written after the
    split is known, by `queries_for`)."""
    train, _ = mnist
    root = tmp_path_factory.mktemp("own") / "digits"
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    rng = np.random.default_rng(0)
    for label, name in enumerate(names):
        folder = root / name
        folder.mkdir(parents=True)
        picks = rng.choice(np.flatnonzero(train.labels == label), PER_CLASS, replace=False)
        for i, index in enumerate(picks):
            grey = Image.fromarray(train.images[index, ..., 0])
            kind = i % 4
            if kind == 0:
                grey.save(folder / f"{i}.png")
            elif kind == 1:
                grey.resize((36, 36)).convert("RGB").save(folder / f"{i}.jpg", quality=95)
            elif kind == 2:
                grey.resize((30, 26)).convert("RGBA").save(folder / f"{i}.png")
            else:
                grey.convert("P").save(folder / f"{i}.png")
    (root / "zero" / "notes.txt").write_text("scanned 2026")
    (root / "one" / "Thumbs.db").write_bytes(b"\x00\x01")
    return root


def run_command(*argv):
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def contrastive_run(digit_tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "contrastive"
    status = run_command("train", "--data", digit_tree, "--recipe", "contrastive", "--image-size", 28, 28,
                         "--split", "images", "--validation-fraction", 0.2, "--test-fraction", 0.2, "--set", "iterations=400",
                         "--set", "batch_size=32", "--checkpoint-every", 0, "--out", out)
    assert status == 0
    return out


def test_a_run_folder_knows_its_data_and_split(contrastive_run, digit_tree):
    info = json.loads((contrastive_run / "run.json").read_text())
    split = json.loads((contrastive_run / "split.json").read_text())
    assert info["data"]["source"] == str(digit_tree.resolve()) and info["split"]["kind"] == "images"
    assert info["ignored_files"] == 2 and info["image_shape"] == [28, 28, 1]
    files = [set(split[part]["files"]) for part in ("train", "validation", "test")]
    assert [len(f) for f in files] == [10 * 24, 10 * 8, 10 * 8]
    assert not (files[0] & files[2]) and not (files[1] & files[2])  # no test image is trained on
    assert all(len(split[part]["classes"]) == 10 for part in split)  # closed set: every digit everywhere


def test_the_report_has_every_figure_and_opens_offline(contrastive_run):
    report = json.loads((contrastive_run / "report.json").read_text())
    for key in ("pair_accuracy", "threshold", "roc_auc", "equal_error_rate", "true_accept_rate", "precision_at_1",
                "recall_at_k", "map_at_r", "n_way_accuracy", "per_class_accuracy"):
        assert key in report
    assert report["roc_auc"] > 0.9  # held-out images of the digits, 400 steps: far above chance (0.5)
    assert report["n_way_accuracy"]["ways"] == 5 and report["n_way_accuracy"]["interval_95"] > 0
    page = (contrastive_run / "report.html").read_text()
    # Seven pictures (the validation curve measured while training last), the same/different score histograms
    # first; the counts and class intervals in the table.
    assert page.count("data:image/png;base64,") == 7 and "Validation ROC AUC measured while training" in page
    assert page.index("Scores of the test pairs") < page.index("ROC curve")
    counts = report["counts"]
    assert f"{counts['genuine_pairs']:,} same-class, {counts['impostor_pairs']:,} different-class" in page
    assert all(low <= high for low, high in report["intervals_95"].values()) and "classes resampled" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_evaluate_reproduces_the_report_from_the_run_folder(contrastive_run):
    before = json.loads((contrastive_run / "report.json").read_text())
    assert run_command("evaluate", contrastive_run) == 0
    after = json.loads((contrastive_run / "report.json").read_text())
    assert after == before  # same data, same split, same seeds: the same numbers


def test_a_large_test_part_is_searched_through_the_graph(contrastive_run, monkeypatch):
    pytest.importorskip("faiss")
    from siamese_kit import report as report_module
    from siamese_kit.search import index as index_module

    exact = json.loads((contrastive_run / "report.json").read_text())
    assert exact["retrieval_search"] == "exact"
    monkeypatch.setattr(report_module, "EXACT_BELOW", 1)  # every test part counts as large
    monkeypatch.setattr(index_module, "EXACT_BELOW", 1)
    assert run_command("evaluate", contrastive_run) == 0
    graph = json.loads((contrastive_run / "report.json").read_text())
    assert graph["retrieval_search"] == "hnsw"
    assert graph["precision_at_1"] == pytest.approx(exact["precision_at_1"], abs=0.02)
    assert graph["map_at_r"] == pytest.approx(exact["map_at_r"], abs=0.02)
    monkeypatch.undo()
    assert run_command("evaluate", contrastive_run) == 0  # the run's own report, as the other tests read it
    assert json.loads((contrastive_run / "report.json").read_text()) == exact


def files_by_class(run, part):
    found = {}
    for path in json.loads((run / "split.json").read_text())[part]["files"]:
        found.setdefault(path.split("/")[-2], []).append(path)
    return found


def test_verify_calls_a_genuine_pair_same_and_an_impostor_different(contrastive_run, capsys):
    test, train = files_by_class(contrastive_run, "test"), files_by_class(contrastive_run, "train")
    names = sorted(test)
    genuine = impostor = 0
    for i, name in enumerate(names):
        other = names[(i + 1) % len(names)]
        capsys.readouterr()
        assert run_command("verify", contrastive_run, test[name][0], train[name][0]) == 0
        genuine += json.loads(capsys.readouterr().out)["same"]
        assert run_command("verify", contrastive_run, test[name][0], train[other][0]) == 0
        answer = json.loads(capsys.readouterr().out)
        impostor += answer["same"]
        assert set(answer) == {"score", "threshold", "same"}
    assert genuine >= 7 and impostor <= 3  # of 10 each; chance would be 5


def test_identify_finds_the_class_of_most_held_out_images(contrastive_run, tmp_path, capsys):
    gallery = _gallery_of(contrastive_run, tmp_path)
    queries = [(path, name) for name, paths in files_by_class(contrastive_run, "test").items() for path in paths]
    capsys.readouterr()
    assert run_command("identify", contrastive_run, *[q for q, _ in queries], "--gallery", gallery, "--top-k", 2) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a["query"] for a in answers] == [q for q, _ in queries]
    right = sum(a["matches"][0]["class"] == name for a, (_, name) in zip(answers, queries))
    assert right / len(queries) > 0.7  # chance: 0.1
    assert all(len(a["matches"]) == 2 and "distance" in a["matches"][0] for a in answers)
    assert list(contrastive_run.glob("gallery-*.npz"))  # embedded once, kept for the next call


def test_identify_ranks_classes_as_exact_search_does_and_a_zip_gallery_too(contrastive_run, tmp_path, capsys):
    import zipfile

    from siamese_kit.search import Gallery, Verifier
    from siamese_kit.search.by_class import class_minimum_distances

    queries = json.loads((contrastive_run / "split.json").read_text())["test"]["files"][:20]
    gallery = _gallery_of(contrastive_run, tmp_path)
    capsys.readouterr()
    assert run_command("identify", contrastive_run, *queries, "--gallery", gallery, "--top-k", 3) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # The same ranking from every query's distance to every gallery image.
    opened = Gallery(Verifier.from_run(contrastive_run), gallery)
    truth, classes = class_minimum_distances(opened.verifier.model.embed(opened.verifier.read(queries)),
                                             opened.embeddings, opened.imageset.labels)
    for answer, row in zip(answers, truth, strict=True):
        best = np.argsort(row, kind="stable")[:3]
        assert [m["class"] for m in answer["matches"]] == [opened.imageset.class_names[classes[c]] for c in best]
        np.testing.assert_allclose([m["distance"] for m in answer["matches"]], row[best], rtol=1e-4, atol=1e-4)
    archive = tmp_path / "gallery.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(p for p in gallery.rglob("*") if p.is_file()):
            z.write(path, path.relative_to(tmp_path).as_posix())
    assert run_command("identify", contrastive_run, *queries, "--gallery", archive, "--top-k", 3) == 0
    from_zip = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a["matches"] for a in from_zip] == [a["matches"] for a in answers]


def _gallery_of(run, tmp_path):
    gallery = tmp_path / "gallery"
    if not gallery.exists():
        for name, paths in files_by_class(run, "train").items():
            (gallery / name).mkdir(parents=True)
            for path in paths[:5]:
                (gallery / name / path.split("/")[-1]).write_bytes(open(path, "rb").read())
    return gallery


def test_embed_writes_every_image_with_its_path(contrastive_run, digit_tree, tmp_path, capsys):
    out = tmp_path / "digits.npz"
    capsys.readouterr()
    assert run_command("embed", contrastive_run, digit_tree, "--out", out) == 0
    with np.load(out) as saved:
        assert saved["embeddings"].shape == (10 * PER_CLASS, 16)
        assert all(str(digit_tree) in str(p) for p in saved["paths"])
        assert list(saved["class_names"])[:2] == ["eight", "five"]


@pytest.mark.parametrize("recipe, settings", [
    ("twin", ["iterations=150", "batch_size=32", "width=8"]),
    ("one-shot", ["iterations=150", "ways=4", "width=8", "embedding_dim=32"]),
    ("triplet", ["iterations=150", "classes_per_batch=5", "images_per_class=4", "width=8", "embedding_dim=16"]),
])
def test_the_other_recipes_train_and_report_on_your_images(digit_tree, tmp_path, capsys, monkeypatch, recipe, settings):
    out = tmp_path / recipe
    overrides = [a for s in settings for a in ("--set", s)]
    assert run_command("train", "--data", digit_tree, "--recipe", recipe, "--image-size", 28, 28, "--split", "images",
                       "--validation-fraction", 0.2, "--test-fraction", 0.2, *overrides,
                       "--checkpoint-every", 0, "--out", out) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["roc_auc"] > 0.6 and report["score_kind"] == ("similarity" if recipe == "twin" else "distance")
    assert (out / "report.html").is_file() and (out / "model.keras").is_file()
    # The same commands work on these models: a twin head scores pairs, a prototype model measures distance.
    test_files = json.loads((out / "split.json").read_text())["test"]["files"]
    capsys.readouterr()
    assert run_command("verify", out, test_files[0], test_files[1]) == 0
    answer = json.loads(capsys.readouterr().out)
    # The score recomputed from the run's model: the head's probability, or the Euclidean distance.
    from siamese_kit.search import Verifier

    verifier = Verifier.from_run(out)
    first, second = verifier.model.embed(verifier.read(test_files[:2]))
    expected = (float(np.asarray(verifier.model.head([first[None], second[None]]))[0]) if recipe == "twin"
                else float(np.linalg.norm(first - second)))
    assert answer["score"] == pytest.approx(expected, abs=1e-5)
    assert answer["same"] == (expected >= answer["threshold"] if recipe == "twin" else expected < answer["threshold"])
    assert run_command("identify", out, test_files[0], "--gallery", digit_tree, "--top-k", 3) == 0
    answer = json.loads(capsys.readouterr().out)
    assert len(answer["matches"]) == 3 and ("score" if recipe == "twin" else "distance") in answer["matches"][0]


def test_ten_classes_split_open_by_default_are_said_to_be_too_few_to_measure(digit_tree, tmp_path, capsys):
    out = tmp_path / "ten_digits"
    with pytest.warns(UserWarning, match=r"leaves 6 training, 2 validation and 2 test classes: validation and test "
                                         r"with under 5 classes cannot measure"):
        assert run_command("train", "--data", digit_tree, "--recipe", "contrastive", "--image-size", 28, 28,
                           "--set", "iterations=20", "--checkpoint-every", 0, "--out", out) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["warnings"]) == 1 and "--split images" in summary["warnings"][0]
    # A closed split of the same ten digits, or an open split with 5 validation and 5 test classes, says nothing.
    from siamese_kit.data import DataSource, load_source
    from siamese_kit.runs import SplitSpec, open_set_warning, split_dataset

    digits = load_source(DataSource(str(digit_tree), image_size=(28, 28))).imageset
    assert open_set_warning(split_dataset(digits, SplitSpec("images")), SplitSpec("images")) is None
    from conftest import make_imageset

    twenty = SplitSpec("classes", validation_fraction=0.25, test_fraction=0.25)  # 10 / 5 / 5 classes
    assert open_set_warning(split_dataset(make_imageset(num_classes=20), twenty), twenty) is None


def test_one_shot_on_your_images_does_not_turn_them_into_new_classes_unless_asked():
    from siamese_kit.recipes import OneShotRecipe, recipe_for

    assert OneShotRecipe().rotations is True  # Omniglot's recipe: a turned character is a new character
    assert recipe_for("one-shot", {}).rotations is False  # a turned 6 is a 9, not a new class
    assert recipe_for("one-shot", {"rotations": True}).rotations is True


def test_a_model_from_other_data_is_not_scored_on_mnist(tmp_path, capsys):

    from siamese_kit.layers import CentroidDecoder, EuclideanDistance
    from siamese_kit.models import SiameseModel, lenet_28

    model = SiameseModel(lenet_28(4, input_shape=(32, 32, 3)), EuclideanDistance(), CentroidDecoder(5))
    path = tmp_path / "faces.keras"
    model.save(path)
    assert run_command("evaluate", path) == 1
    error = capsys.readouterr().err
    assert "32x32x3" in error and "MNIST" in error and "siamese-kit evaluate RUN" in error
    assert not (tmp_path / "evaluation.json").exists()
