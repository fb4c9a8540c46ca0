"""benchmarks/one_shot_omniglot.py --split vinyals on synthetic characters: the literature's sizes, test
characters never trained on, episodes across alphabets, and a validation split inside the training part."""

import json

import numpy as np

from conftest import make_imageset
from support import load_benchmark
from siamese_kit.data import ImageSet


def fake_omniglot(image_size):
    """1,623 characters of 50 alphabets, 4 drawings each (Omniglot's counts of characters and alphabets)."""
    base = make_imageset(num_classes=1623, per_class=4, size=image_size)
    return ImageSet(base.images, base.labels, base.class_names, groups=base.labels % 50, name="fake omniglot")


def test_vinyals_split_trains_on_1200_characters_and_tests_on_the_other_423_turned(monkeypatch, capsys):
    benchmark = load_benchmark("one_shot_omniglot")
    monkeypatch.setattr(benchmark, "merged_omniglot", fake_omniglot)
    trained_on, tested_on = [], []

    def spy(train_set, test_set, recipe, out_dir=None, episodes_within_group=True):
        trained_on.append(train_set)
        tested_on.append(test_set)
        assert episodes_within_group is False  # the literature's episodes mix alphabets
        return {"episodes": {"20way_1shot": 0.5}}

    monkeypatch.setattr(benchmark, "run_one_shot", spy)
    settings = ["--split", "vinyals", "--iterations", "2", "--width", "4"]
    summary = benchmark.main(settings)
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == summary
    assert "1200 training characters (x4 turns), 1692 test classes" in summary["split"]
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
