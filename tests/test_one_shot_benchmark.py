"""benchmarks/one_shot_omniglot.py --split vinyals (the published lists) and --split random-characters (a
seeded draw of the same sizes) on synthetic characters: the literature's sizes, test characters never
trained on, episodes across alphabets, and a validation part inside the training characters."""

import json

import numpy as np
import pytest

from conftest import make_imageset
from support import load_benchmark
from siamese_kit.data import ImageSet


def fake_omniglot(image_size):
    """1,623 characters of 50 alphabets, 4 drawings each (Omniglot's counts of characters and alphabets)."""
    base = make_imageset(num_classes=1623, per_class=4, size=image_size)
    return ImageSet(base.images, base.labels, base.class_names, groups=base.labels % 50, name="fake omniglot")


def test_random_characters_train_on_1200_characters_and_test_on_the_other_423_turned(monkeypatch, capsys):
    benchmark = load_benchmark("one_shot_omniglot")
    monkeypatch.setattr(benchmark, "merged_omniglot", fake_omniglot)
    trained_on, tested_on = [], []

    def spy(train_set, test_set, recipe, out_dir=None, episodes_within_group=True):
        trained_on.append(train_set)
        tested_on.append(test_set)
        assert episodes_within_group is False  # the literature's episodes mix alphabets
        return {"episodes": {"20way_1shot": 0.5}}

    monkeypatch.setattr(benchmark, "run_one_shot", spy)
    settings = ["--split", "random-characters", "--iterations", "2", "--width", "4"]
    summary = benchmark.main(settings)
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == summary
    assert "1200 training characters (x4 turns), 1692 test classes" in summary["split"]
    assert "easier than the published Vinyals split" in summary["split"]
    benchmark.main([*settings, "--evaluate-on", "validation"])
    assert "1028 training characters" in capsys.readouterr().out
    (train, test), (validation_train, validation) = zip(trained_on, tested_on)
    # The test characters (in every turn) are neither trained on nor used for validation.
    characters = [{label % 1623 for label in part.labels.tolist()} for part in (train, test, validation_train, validation)]
    train_characters, test_characters, validation_train_characters, validation_characters = characters
    assert len(test_characters) == 423 and len(train_characters) == 1200
    assert not test_characters & (train_characters | validation_train_characters | validation_characters)
    assert validation_train_characters | validation_characters == train_characters
    assert len(np.unique(validation.labels)) == 172 * 4 and len(np.unique(validation_train.labels)) == 1028


def published_omniglot(image_size):
    """Every character the published lists name, 2 drawings each, alphabets as groups."""
    from siamese_kit.data import vinyals_classes

    names = sorted({line.rsplit("/", 1)[0] for part in ("trainval", "test") for line in vinyals_classes(part)})
    base = make_imageset(num_classes=len(names), per_class=2, size=image_size)
    alphabets = sorted({name.split("/")[0] for name in names})
    groups = np.array([alphabets.index(names[label].split("/")[0]) for label in base.labels])
    return ImageSet(base.images, base.labels, tuple(names), groups=groups, group_names=tuple(alphabets), name="fake")


def test_vinyals_trains_on_the_published_train_part_and_tests_on_its_test_part(monkeypatch, capsys):
    benchmark = load_benchmark("one_shot_omniglot")
    monkeypatch.setattr(benchmark, "merged_omniglot", published_omniglot)
    calls = []

    def spy(train_set, test_set, recipe, out_dir=None, episodes_within_group=True):
        calls.append((train_set, test_set, recipe))
        assert episodes_within_group is False
        return {"episodes": {"20way_1shot": 0.5}}

    monkeypatch.setattr(benchmark, "run_one_shot", spy)
    settings = ["--split", "vinyals", "--iterations", "2", "--width", "4"]
    summary = benchmark.main(settings)
    assert "trained on train (4112 classes), tested on test (1692 classes)" in summary["split"]
    benchmark.main([*settings, "--train-on", "trainval"])
    benchmark.main([*settings, "--evaluate-on", "validation"])
    (train, test, recipe), (trainval, final_test, _), (validation_train, validation, _) = calls
    assert recipe.rotations is False  # the lists hold the turns already
    assert (train.num_classes, test.num_classes, trainval.num_classes, validation.num_classes) == (4112, 1692, 4800, 688)
    assert set(train.class_names) | set(validation.class_names) == set(trainval.class_names)
    assert not {name.split("@")[0] for name in trainval.class_names} & {name.split("@")[0] for name in test.class_names}
    # Refused: turning the listed turns again, and validating on characters the model trained on.
    for refused, says in ((["--rotations", "true"], "already hold each character's four turns"),
                          (["--train-on", "trainval", "--evaluate-on", "validation"], "trains on")):
        with pytest.raises(SystemExit, match=says):
            benchmark.main([*settings, *refused])


def test_lake_runs_anatomy_finds_one_drawer_per_side_of_every_run(omniglot_dir_or_skip, capsys):
    anatomy = load_benchmark("lake_runs_anatomy")
    summary = anatomy.main(["--episodes", "50"])
    # Every run: all 20 candidates by one person, all 20 test drawings by another.
    assert summary["runs_with_one_training_drawer"] == summary["runs_with_one_test_drawer"] == 20
    assert summary["runs_sharing_a_drawer"] == 0
    assert summary["raw_pixels_lake20"] == 0.2075  # 83 of 400, as notebook 04 prints
    assert 0.05 < summary["raw_pixels_20way_1shot_within_alphabet"] < 0.5
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == summary
