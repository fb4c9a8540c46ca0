"""Open-set runs that know when they are guessing: the validation curve while training and the step kept.

A twin trained long on six digits can tell unseen digits apart worse than it did early on. The watch
measures the validation classes' ROC AUC as training goes, the run keeps the best step (open split) and
says which and why; a 10-class folder of MNIST digits, written here, reproduces the case end to end.
"""

import html
import io
import json

import keras
import numpy as np
import pytest

from siamese_kit.cli import main
from siamese_kit.checkpoint import Checkpointer
from siamese_kit.data import DataError, pair_stream
from siamese_kit.runs import RunFolder
from siamese_kit.training import NotebookMonitor, TerminalMonitor, TrainingMonitor, train_loop
from siamese_kit.validation import ValidationWatch

from conftest import make_imageset, write_digit_folders
from test_resume import Interrupt, assert_same_state, contrastive_model


class DialModel:
    """A stand-in model whose one weight dials how well it separates classes: embeddings are the one-hot
    class times the weight plus fixed noise, so a larger weight gives a larger validation ROC AUC."""

    score_kind = "distance"
    head = None

    def __init__(self, imageset):
        self.labels = imageset.labels
        self.noise = np.random.default_rng(0).normal(size=(len(imageset), imageset.num_classes)).astype(np.float32)
        self.weight = np.zeros(1, np.float32)

    def embed(self, _images):
        return np.eye(int(self.labels.max()) + 1, dtype=np.float32)[self.labels] * self.weight[0] + self.noise

    def get_weights(self):
        return [self.weight]

    def set_weights(self, weights):
        self.weight = np.array(weights[0])


def test_the_watch_keeps_the_best_step_and_says_so():
    imageset = make_imageset(num_classes=4, per_class=10)
    model = DialModel(imageset)
    watch = ValidationWatch(imageset, every=8, keep="best", seed=0)
    assert watch.early_steps == [1, 2, 4]
    assert [step for step in range(1, 31) if watch.due(step, 30)] == [1, 2, 4, 8, 16, 24, 30]
    for step, weight in zip((1, 2, 4, 8), (0.5, 3.0, 1.0, 0.2)):
        model.weight = np.array([weight], np.float32)
        watch.measure(model, step)
    assert watch.best_step == 2 and watch.scores[1] == max(watch.scores) and watch.scores[-1] < watch.scores[1]
    assert watch.finish(model) == 2
    assert model.weight[0] == 3.0  # the best step's weights, not the last one's
    summary = watch.summary(total_steps=8)
    assert summary["kept_step"] == 2 and summary["best_score"] == round(watch.scores[1], 4)
    assert "kept step 2 of 8" in summary["why"] and f"{watch.scores[-1]:.4f}" in summary["why"]
    assert summary["pairs"]["same"] + summary["pairs"]["different"] == len(watch.pairs.pair_label)


def test_keep_last_keeps_the_last_step_and_names_the_best():
    imageset = make_imageset(num_classes=4, per_class=10)
    model = DialModel(imageset)
    watch = ValidationWatch(imageset, every=2, keep="last")
    for step, weight in ((1, 3.0), (2, 0.1)):
        model.weight = np.array([weight], np.float32)
        watch.measure(model, step)
    assert watch.finish(model) == 2 and model.weight[0] == np.float32(0.1)
    assert "keep=last" in watch.summary(2)["why"] and "at step 1" in watch.summary(2)["why"]


def test_a_tie_keeps_the_earlier_step():
    imageset = make_imageset(num_classes=3, per_class=6)
    model = DialModel(imageset)
    model.weight = np.array([2.0], np.float32)
    watch = ValidationWatch(imageset, every=1)
    watch.measure(model, 1)
    watch.measure(model, 2)
    assert watch.finish(model) == 1


@pytest.mark.parametrize("bad, message", [({"keep": "first"}, "keep must be one of best, last"),
                                          ({"every": 0}, "every")])
def test_bad_settings_are_refused_by_name(bad, message):
    with pytest.raises(ValueError, match=message):
        ValidationWatch(make_imageset(), **{"every": 5, **bad})


def test_a_validation_part_without_different_classes_is_refused_with_the_fix():
    one_class = make_imageset(num_classes=1, per_class=6)
    with pytest.raises(DataError, match="watching validation while training.*keep='last'"):
        ValidationWatch(one_class, every=5)


def test_train_loop_ends_on_the_best_step_and_resumes_to_the_same_one(tmp_path):
    imageset, validation = make_imageset(seed=0), make_imageset(seed=3)

    def stream(start):
        return pair_stream(imageset, 8, seed=5, start_batch=start)

    whole = contrastive_model()
    watch = ValidationWatch(validation, every=6, keep="best")
    reference = train_loop(whole, stream, 24, monitor=TrainingMonitor(24, 8, record_every=3), watch=watch)
    assert watch.steps == [1, 3, 6, 12, 18, 24]
    assert reference["kept_step"] == watch.best_step == watch.steps[int(np.argmax(watch.scores))]
    # The model holds the kept step: measured again, it scores that step's validation AUC.
    again = ValidationWatch(validation, every=6)
    assert again.measure(whole, 0) == pytest.approx(watch.best_score, abs=1e-6)

    folder = tmp_path / "checkpoints"
    keep_file = tmp_path / "best_validation.weights.h5"
    with pytest.raises(KeyboardInterrupt):
        train_loop(contrastive_model(), stream, 24, monitor=Interrupt(24, at=14),
                   checkpoint=Checkpointer(folder, every=5), watch=ValidationWatch(validation, 6, keep_file=keep_file))
    resumed_model = contrastive_model(seed=99)
    resumed_watch = ValidationWatch(validation, 6, keep_file=keep_file)
    resumed = train_loop(resumed_model, stream, 24, monitor=TrainingMonitor(24, 8, record_every=3),
                         checkpoint=Checkpointer(folder, every=5, resume=True), watch=resumed_watch)
    assert resumed["resumed_from"] == 10 and resumed_watch.steps == watch.steps
    np.testing.assert_allclose(resumed_watch.scores, watch.scores, rtol=0, atol=1e-6)
    assert resumed["kept_step"] == reference["kept_step"]
    for kept, expected in zip(resumed_model.get_weights(), whole.get_weights()):
        np.testing.assert_allclose(kept, expected, rtol=0, atol=1e-6)


def test_the_monitors_show_the_validation_curve():
    printed = io.StringIO()
    terminal = TerminalMonitor(10, 4, file=printed)
    terminal.update_validation(5, 0.8)
    terminal.update_validation(10, 0.7)
    assert "step 5: validation ROC AUC 0.8000 (best so far)" in printed.getvalue()
    assert "step 10: validation ROC AUC 0.7000 (best 0.8000)" in printed.getvalue()
    assert terminal.state()["validation"] == {"steps": [5, 10], "scores": [0.8, 0.7]}
    notebook = NotebookMonitor(10, 4)
    notebook.update(1, 0.5)
    assert len(notebook.loss_figure().axes) == 1
    notebook.update_validation(1, 0.6)
    figure = notebook.loss_figure()
    assert len(figure.axes) == 2 and figure.axes[1].get_ylabel() == "validation ROC AUC"


@pytest.fixture(scope="module")
def ten_digit_folders(mnist, tmp_path_factory):
    """digits/digit<d>/<i>.png: 40 MNIST training images of each digit, as a user's class folders."""
    return write_digit_folders(mnist[0], tmp_path_factory.mktemp("open") / "digits", per_class=40, seed=1,
                               prefix="digit")


def train_twin(folder, out, *extra):
    argv = ["train", "--data", folder, "--recipe", "twin", "--set", "iterations=80", "--set", "batch_size=32",
            "--checkpoint-every", 0, "--out", out, *extra]
    with pytest.warns(UserWarning, match="6 training, 2 validation and 2 test classes"):
        assert main([str(a) for a in argv]) == 0
    return json.loads((out / "summary.json").read_text())


def test_an_open_split_run_keeps_its_best_validation_step_and_reports_it(ten_digit_folders, tmp_path):
    out = tmp_path / "run"
    summary = train_twin(ten_digit_folders, out)
    watched = summary["validation"]
    assert watched["keep"] == "best" and watched["every"] == 4
    assert watched["early_steps"] == [1, 2] and watched["steps"][:3] == [1, 2, 4]
    assert watched["steps"][-1] == 80 and len(watched["steps"]) == len(watched["scores"])
    assert watched["kept_step"] == watched["best_step"] == watched["steps"][int(np.argmax(watched["scores"]))]
    # The saved model is the kept step's: measured again on the run's own validation part, it scores the best AUC.
    parts = RunFolder(out).load_parts()
    model = keras.saving.load_model(out / "model.keras")
    remeasured = ValidationWatch(parts["validation"], every=1, seed=summary["settings"]["seed"]).measure(model, 0)
    assert remeasured == pytest.approx(watched["best_score"], abs=1e-4)
    page = (out / "report.html").read_text()
    assert "Step kept (validation ROC AUC while training)" in page and html.escape(watched["why"]) in page
    assert "Validation ROC AUC measured while training" in page and (out / "validation_curve.png").is_file()
    assert json.loads((out / "report.json").read_text())["validation"]["kept_step"] == watched["kept_step"]
    assert main(["evaluate", str(out)]) == 0  # the page evaluate rewrites keeps the curve
    assert "Step kept (validation ROC AUC while training)" in (out / "report.html").read_text()


def test_keep_last_keeps_the_fixed_length_model(ten_digit_folders, tmp_path):
    summary = train_twin(ten_digit_folders, tmp_path / "last", "--keep", "last", "--validate-every", 40)
    watched = summary["validation"]
    assert watched["keep"] == "last" and watched["kept_step"] == 80
    assert watched["steps"] == [5, 10, 20, 40, 80]


def test_keep_without_own_data_is_refused(tmp_path, capsys):
    assert main(["train", "--recipe", "twin", "--keep", "best", "--out", str(tmp_path / "x")]) == 1
    assert "--keep apply to your own images; add --data SOURCE" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
