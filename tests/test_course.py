"""The course's shared models: 02 and 04 save, 05-08 load what was trained as they need, else train."""

import json

import keras
import numpy as np
import pytest

from siamese_kit.course import course_model, course_paths, recipe_settings, save_course_model
from siamese_kit.recipes import ContrastiveRecipe, OneShotRecipe

SETTINGS = {"embedding_dim": 3, "margin": 2.0, "shape": [1, 2]}


def tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])


class Trainer:
    """A `train` callable that counts its calls."""

    def __init__(self, seed=0):
        self.calls, self.seed = 0, seed

    def __call__(self):
        self.calls += 1
        return tiny_model(self.seed)


INPUTS = np.arange(8, dtype="float32").reshape(2, 4)


def test_the_first_notebook_trains_and_saves_and_the_next_one_loads(tmp_path):
    train = Trainer()
    first = course_model("twin", "class", SETTINGS, train, "notebook 05", folder=tmp_path)
    assert train.calls == 1 and not first.loaded
    assert "trained here" in first.note and "no saved model" in first.note
    model_path, settings_path = course_paths("twin", "class", tmp_path)
    assert first.path == model_path and model_path.exists()
    record = json.loads(settings_path.read_text())
    assert record["trained_by"] == "notebook 05" and record["settings"] == SETTINGS
    second = course_model("twin", "class", SETTINGS, train, "notebook 06", folder=tmp_path)
    assert train.calls == 1 and second.loaded and "loaded" in second.note and "notebook 05" in second.note
    np.testing.assert_allclose(second.model.predict(INPUTS, verbose=0), first.model.predict(INPUTS, verbose=0))


def test_a_saved_model_is_loaded_with_its_weights_and_sizes_stay_apart(tmp_path):
    trained = tiny_model(seed=4)
    save_course_model(trained, "twin", "class", SETTINGS, "notebook 02", 12.3, folder=tmp_path)
    train = Trainer(seed=9)
    loaded = course_model("twin", "class", {"margin": 2.0}, train, "notebook 05", folder=tmp_path)
    assert loaded.loaded and train.calls == 0 and "12 s" in loaded.note
    np.testing.assert_allclose(loaded.model.predict(INPUTS, verbose=0), trained.predict(INPUTS, verbose=0), rtol=1e-6)
    other_size = course_model("twin", "quick", {"margin": 2.0}, train, "notebook 05", folder=tmp_path)
    assert not other_size.loaded and train.calls == 1  # a quick run never reuses a class-size model


def test_a_model_trained_differently_is_retrained_and_the_note_names_the_difference(tmp_path):
    save_course_model(tiny_model(), "twin", "class", SETTINGS, "notebook 02", 1.0, folder=tmp_path)
    train = Trainer()
    result = course_model("twin", "class", {**SETTINGS, "margin": 1.0}, train, "notebook 05", folder=tmp_path)
    assert train.calls == 1 and not result.loaded
    assert "margin=1.0 (saved: 2.0)" in result.note
    # ... and the retrained model replaced it, with the new settings.
    assert course_model("twin", "class", {"margin": 1.0}, train, "notebook 06", folder=tmp_path).loaded


def test_settings_compare_as_the_file_holds_them():
    # A tuple reads back as a list: asking again with the tuple must still match.
    assert recipe_settings(ContrastiveRecipe(), shape=(1, 2))["shape"] == [1, 2]


def test_no_settings_file_means_no_load(tmp_path):
    save_course_model(tiny_model(), "twin", "class", SETTINGS, "notebook 02", 1.0, folder=tmp_path)
    course_paths("twin", "class", tmp_path)[1].unlink()
    train = Trainer()
    assert not course_model("twin", "class", SETTINGS, train, "notebook 05", folder=tmp_path).loaded
    assert train.calls == 1


def test_a_damaged_model_file_is_retrained_not_a_traceback(tmp_path):
    save_course_model(tiny_model(), "twin", "class", SETTINGS, "notebook 02", 1.0, folder=tmp_path)
    course_paths("twin", "class", tmp_path)[0].write_bytes(b"not a keras file")
    train = Trainer()
    result = course_model("twin", "class", SETTINGS, train, "notebook 05", folder=tmp_path)
    assert train.calls == 1 and not result.loaded and "could not be loaded" in result.note
    assert course_model("twin", "class", SETTINGS, train, "notebook 06", folder=tmp_path).loaded


def test_a_failed_save_leaves_no_settings_claiming_the_old_model(tmp_path):
    save_course_model(tiny_model(), "twin", "class", SETTINGS, "notebook 02", 1.0, folder=tmp_path)

    class Broken:
        def save(self, path):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_course_model(Broken(), "twin", "class", {"margin": 1.0}, "notebook 02", 1.0, folder=tmp_path)
    model_path, settings_path = course_paths("twin", "class", tmp_path)
    assert not settings_path.exists() and model_path.exists()  # the old file is whole, but unclaimed
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []
    train = Trainer()
    assert not course_model("twin", "class", {"margin": 1.0}, train, "notebook 05", folder=tmp_path).loaded


def test_the_retrain_variable_makes_every_notebook_train(tmp_path, monkeypatch):
    save_course_model(tiny_model(), "twin", "class", SETTINGS, "notebook 02", 1.0, folder=tmp_path)
    monkeypatch.setenv("SIAMESE_KIT_RETRAIN", "1")
    train = Trainer()
    result = course_model("twin", "class", SETTINGS, train, "notebook 05", folder=tmp_path)
    assert train.calls == 1 and "SIAMESE_KIT_RETRAIN is set" in result.note
    monkeypatch.setenv("SIAMESE_KIT_RETRAIN", "0")
    assert course_model("twin", "class", SETTINGS, train, "notebook 06", folder=tmp_path).loaded


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="course model name"):
        course_paths("../twin", "class")
    with pytest.raises(ValueError, match="course model size"):
        course_paths("twin", "class/../x")


def test_recipe_settings_leave_out_the_length_and_the_evaluation_sizes():
    settings = recipe_settings(ContrastiveRecipe(iterations=300), seed_note="x")
    assert "iterations" not in settings and "eval_pairs" not in settings
    assert settings["margin"] == 2.0 and settings["seed_note"] == "x"
    assert recipe_settings(ContrastiveRecipe(iterations=300)) == recipe_settings(ContrastiveRecipe(iterations=2000))
    assert recipe_settings(OneShotRecipe(), background="small1")["background"] == "small1"
    assert recipe_settings(ContrastiveRecipe(seed=1)) != recipe_settings(ContrastiveRecipe())
