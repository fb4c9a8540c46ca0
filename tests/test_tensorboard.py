"""TensorBoard: training curves written while any recipe trains (train_loop and fit alike), read back with
TensorBoard's own event reader; projector files read back as its projector plugin reads them."""

import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from siamese_kit.cli import main
from siamese_kit.data import pair_stream
from siamese_kit.layers import CentroidDecoder, EuclideanDistance
from siamese_kit.losses import ContrastiveLoss
from siamese_kit.models import SiameseModel
from siamese_kit.tensorboard_log import SPRITE_MAX_SIDE, TensorBoardLog, sprite_image, write_projector
from siamese_kit.training import InverseDecay, StepLogger, TrainingMonitor, train_loop

from conftest import make_imageset
from test_model import tiny_encoder

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
tensor_util = pytest.importorskip("tensorboard.util.tensor_util")


def scalars(log_dir) -> dict[str, tuple[list[int], list[float]]]:
    """Every scalar of the log, as TensorBoard's scalars dashboard loads them: tag -> (steps, values)."""
    accumulator = event_accumulator.EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    accumulator.Reload()
    found = {}
    for tag in accumulator.Tags()["tensors"]:
        events = accumulator.Tensors(tag)
        found[tag] = ([event.step for event in events],
                      [float(tensor_util.make_ndarray(event.tensor_proto)) for event in events if tag != "summary"])
    return found


def model_with_schedule(schedule):
    keras.utils.set_random_seed(0)
    model = SiameseModel(tiny_encoder(), EuclideanDistance(), CentroidDecoder(4))
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss=ContrastiveLoss(2.0))
    return model


def test_train_loop_writes_each_recorded_loss_and_the_rate_it_trained_with(tmp_path):
    schedule = InverseDecay(0.05, gamma=0.1)
    monitor = TrainingMonitor(total_steps=20, pairs_per_step=8, record_every=5)
    with TensorBoardLog(tmp_path) as log:
        train_loop(model_with_schedule(schedule), pair_stream(make_imageset(), 8, seed=1), 20, monitor=monitor)
        log.write_summary({"pair_accuracy": 0.75, "episodes": {"5way_1shot": 0.5}, "device": "CPU", "ok": True})
    found = scalars(tmp_path)
    assert found["loss"][0] == monitor.steps == [5, 10, 15, 20]
    np.testing.assert_allclose(found["loss"][1], monitor.losses, rtol=1e-6)
    # The schedule at the step each recorded step trained with, not where the optimizer stood when read.
    expected_rates = [float(schedule(step - 1)) for step in monitor.steps]
    np.testing.assert_allclose(found["learning_rate"][1], expected_rates, rtol=1e-6)
    assert expected_rates[0] > expected_rates[-1]
    assert found["final/pair_accuracy"] == ([20], [0.75]) and found["final/episodes/5way_1shot"] == ([20], [0.5])
    assert "final/device" not in found and "final/ok" not in found and "summary" in found


def test_fit_with_the_step_logger_writes_the_same_curve(tmp_path):
    logger = StepLogger(total_steps=20, pairs_per_step=8, every=5, print_every=0)
    with TensorBoardLog(tmp_path):
        model_with_schedule(0.05).fit(pair_stream(make_imageset(), 8, seed=3), steps_per_epoch=20, epochs=1,
                                      verbose=0, shuffle=False, callbacks=[logger])
    found = scalars(tmp_path)
    assert found["loss"][0] == logger.steps
    np.testing.assert_allclose(found["loss"][1], logger.losses, rtol=1e-6)
    np.testing.assert_allclose(found["learning_rate"][1], [0.05] * 4, rtol=1e-6)


def test_nothing_is_written_outside_the_context(tmp_path):
    train_loop(model_with_schedule(0.05), pair_stream(make_imageset(), 8, seed=1), 5)
    with TensorBoardLog(tmp_path / "log"):
        pass
    train_loop(model_with_schedule(0.05), pair_stream(make_imageset(), 8, seed=1), 5)
    assert scalars(tmp_path / "log") == {}


@pytest.fixture(scope="module")
def watched_run(digit_folder, tmp_path_factory):
    """An own-data contrastive run (fit, with its validation watch) written with --tensorboard."""
    root = tmp_path_factory.mktemp("tensorboard")
    # Ten digit classes split open leave 2 for validation: the run says so, and is watched all the same.
    with pytest.warns(UserWarning, match="cannot measure how the model meets classes"):
        status = main([str(a) for a in ("train", "--data", digit_folder, "--recipe", "contrastive", "--image-size", 28,
                                        28, "--set", "iterations=60", "--validate-every", 20, "--checkpoint-every", 0,
                                        "--out", root / "run", "--tensorboard", root / "logs")])
    assert status == 0
    return root


def test_the_train_command_logs_loss_rate_validation_and_final_numbers(watched_run):
    found = scalars(watched_run / "logs")
    report = json.loads((watched_run / "run" / "report.json").read_text())
    assert found["loss"][0][-1] == 60 and all(math.isfinite(v) for v in found["loss"][1])
    assert len(found["learning_rate"][1]) == len(found["loss"][1])
    assert found["validation/roc_auc"][0] == report["validation"]["steps"]
    np.testing.assert_allclose(found["validation/roc_auc"][1], report["validation"]["scores"], atol=1e-4)
    assert found["final/roc_auc"][1] == [pytest.approx(report["roc_auc"])]


def test_embed_writes_projector_files_the_plugin_reads(watched_run, digit_folder, capsys):
    from google.protobuf import text_format
    from tensorboard.plugins.projector import projector_config_pb2, projector_plugin

    out = watched_run / "projector"
    npz = watched_run / "digits.npz"
    assert main(["embed", str(watched_run / "run"), str(digit_folder), "--out", str(npz), "--projector", str(out)]) == 0
    config = text_format.Parse((out / "projector_config.pbtxt").read_text(), projector_config_pb2.ProjectorConfig())
    (embedding,) = config.embeddings
    saved = np.load(npz)
    count, dimensions = saved["embeddings"].shape
    assert list(embedding.tensor_shape) == [count, dimensions] == [300, 16]
    tensor = projector_plugin._read_tensor_tsv_file(str(out / embedding.tensor_path))
    np.testing.assert_allclose(tensor, saved["embeddings"], rtol=1e-6, atol=1e-6)

    rows = (out / embedding.metadata_path).read_text().splitlines()
    assert rows[0] == "class\tpath" and len(rows) == count + 1
    names = saved["class_names"][saved["labels"]]
    assert [row.split("\t") for row in rows[1:]] == [[str(n), str(p)] for n, p in zip(names, saved["paths"])]

    sprite = np.asarray(Image.open(out / embedding.sprite.image_path))
    width, height = embedding.sprite.single_image_dim
    assert (width, height) == (28, 28) and sprite.shape == (18 * 28, 18 * 28)  # 300 thumbnails on an 18 x 18 grid
    # Thumbnail 20 (row 1, column 2) is the 21st image as the model read it.
    path = Path(str(saved["paths"][20]))
    first = np.asarray(Image.open(path if path.is_absolute() else digit_folder / path).convert("L"))
    np.testing.assert_array_equal(sprite[28:56, 56:84], first)


def test_embed_without_a_destination_says_what_to_give(watched_run, digit_folder, capsys):
    assert main(["embed", str(watched_run / "run"), str(digit_folder)]) == 1
    assert "--out FILE.npz, --projector DIR" in capsys.readouterr().err


def test_a_large_sprite_shrinks_its_thumbnails_to_the_projector_limit():
    images = np.full((10_000, 105, 105, 1), 200, np.uint8)
    sprite, (height, width) = sprite_image(images)
    assert max(sprite.shape[:2]) <= SPRITE_MAX_SIDE and height == width == SPRITE_MAX_SIDE // 100
    assert sprite[0, 0, 0] == 200 and sprite.shape[:2] == (100 * height, 100 * width)


def test_projector_refuses_counts_that_do_not_match(tmp_path):
    with pytest.raises(ValueError, match="3 embeddings, 2 images and 3 labels"):
        write_projector(tmp_path, np.zeros((3, 4)), np.zeros((2, 8, 8, 1), np.uint8), [0, 1, 1], ["a", "b"])
    assert list(tmp_path.iterdir()) == []
