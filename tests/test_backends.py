"""Keras 3's three backends: every model trains through Keras's own step (`compute_loss`) on the backend in
use, and a `.keras` file trained on TensorFlow scores the same pairs the same way on JAX and PyTorch.

`make test` runs this file on TensorFlow; `make test-backends` runs it again under `KERAS_BACKEND=jax` and
`torch` (with the other files tests/backends.txt lists).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from siamese_kit.data import class_balanced_stream, episode_stream, fixed_pairs, pair_stream
from siamese_kit.evaluation import pair_accuracy, pair_scores
from siamese_kit.layers import CentroidDecoder, EuclideanDistance
from siamese_kit.losses import ContrastiveLoss, TripletLoss
from siamese_kit.models import EmbeddingModel, PrototypeModel, SiameseModel, conv4
from siamese_kit.training import train_loop

from conftest import make_imageset
from support import keras_backend

TESTS = Path(__file__).resolve().parent

# Run in a TensorFlow process: trains a small twin, saves it, and writes the pair scores and the
# accuracy at the threshold it chose, for the other backend to reproduce from the file alone.
TRAIN_ON_TENSORFLOW = """
import json, sys
import keras, numpy as np
from conftest import make_imageset
from siamese_kit.data import fixed_pairs, pair_stream
from siamese_kit.evaluation import best_threshold, pair_accuracy, pair_scores
from siamese_kit.layers import CentroidDecoder, EuclideanDistance
from siamese_kit.losses import ContrastiveLoss
from siamese_kit.models import SiameseModel, conv4
from siamese_kit.training import train_loop

out = sys.argv[1]
assert keras.backend.backend() == "tensorflow"
keras.utils.set_random_seed(0)
images = make_imageset(num_classes=6, per_class=8, size=16)
model = SiameseModel(conv4((16, 16, 1), feature_dim=8, width=4), EuclideanDistance(), CentroidDecoder(6))
model.compile(optimizer=keras.optimizers.Adam(0.01), loss=ContrastiveLoss(2.0))
train_loop(model, pair_stream(images, 16, seed=0), 40)
model.save(out + "/twin.keras")
pairs = fixed_pairs(images, 400, seed=1)
scores = pair_scores(model, model.embed(images), pairs)
threshold = best_threshold(scores, pairs.pair_label, model.score_kind)
json.dump({"scores": scores.tolist(), "threshold": threshold,
           "accuracy": pair_accuracy(scores, pairs.pair_label, threshold, model.score_kind)}, open(out + "/scores.json", "w"))
"""


@pytest.mark.skipif(keras_backend() == "tensorflow",
                    reason="needs another backend; make test-backends runs it under JAX and PyTorch")
def test_a_twin_trained_on_tensorflow_scores_the_same_on_this_backend(tmp_path):
    environment = {**os.environ, "KERAS_BACKEND": "tensorflow",
                   "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", TRAIN_ON_TENSORFLOW, str(tmp_path)], env=environment,
                         cwd=TESTS, timeout=600, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    saved = json.loads((tmp_path / "scores.json").read_text())
    model = keras.saving.load_model(tmp_path / "twin.keras")
    images = make_imageset(num_classes=6, per_class=8, size=16)
    pairs = fixed_pairs(images, 400, seed=1)
    scores = pair_scores(model, model.embed(images), pairs)
    np.testing.assert_allclose(scores, saved["scores"], rtol=1e-5, atol=1e-5)
    accuracy = pair_accuracy(scores, pairs.pair_label, saved["threshold"], model.score_kind)
    assert accuracy == saved["accuracy"] and accuracy > 0.75  # the same decisions, of a model that learned
    assert np.asarray(model.decoder.seen).min() == 1.0  # the centroids came along in the file


def _loss_falls(history_losses):
    first, last = np.mean(history_losses[:5]), np.mean(history_losses[-5:])
    assert np.isfinite(history_losses).all() and last < first, (first, last)


def test_each_model_trains_through_fit_on_this_backend():
    images = make_imageset(num_classes=6, per_class=8, size=16)
    keras.utils.set_random_seed(0)
    twin = SiameseModel(conv4((16, 16, 1), feature_dim=8, width=4), EuclideanDistance(), CentroidDecoder(6))
    twin.compile(optimizer=keras.optimizers.Adam(0.01), loss=ContrastiveLoss(2.0))
    losses = [twin.fit(pair_stream(images, 16, seed=0), steps_per_epoch=4, epochs=1, verbose=0, shuffle=False).history["loss"][0]
              for _ in range(8)]
    _loss_falls(losses)
    # The centroid update rides in the forward pass, so it happens on every backend.
    assert np.asarray(twin.decoder.seen).min() == 1.0

    episodes = PrototypeModel(conv4((16, 16, 1), feature_dim=8, width=4, feature_activation=None))
    episodes.compile(optimizer=keras.optimizers.Adam(0.01))
    history = episodes.fit(episode_stream(images, ways=4, shots=1, queries=2, within_group=False),
                           steps_per_epoch=4, epochs=8, verbose=0, shuffle=False).history
    assert set(history) == {"loss", "accuracy"}
    _loss_falls(history["loss"])

    batch = EmbeddingModel(conv4((16, 16, 1), feature_dim=8, width=4, feature_activation=None),
                           loss=TripletLoss(margin=0.5, mining="batch_hard"))
    batch.compile(optimizer=keras.optimizers.Adam(0.01))
    history = batch.fit(class_balanced_stream(images, 4, 4, seed=0), steps_per_epoch=4, epochs=8, verbose=0, shuffle=False).history
    _loss_falls(history["loss"])


def test_train_loop_and_fit_take_the_same_steps_on_this_backend():
    images = make_imageset(num_classes=6, per_class=8, size=16)

    def trained(with_fit):
        keras.utils.set_random_seed(0)
        model = EmbeddingModel(conv4((16, 16, 1), feature_dim=8, width=4, feature_activation=None),
                               loss=TripletLoss(margin=0.5, mining="batch_hard"))
        model.compile(optimizer=keras.optimizers.Adam(0.01))
        stream = class_balanced_stream(images, 4, 4, seed=0)
        if with_fit:
            model.fit(stream, steps_per_epoch=6, epochs=1, verbose=0, shuffle=False)
        else:
            assert train_loop(model, stream, 6)["steps_done"] == 6
        return model.embed(images)

    np.testing.assert_allclose(trained(with_fit=False), trained(with_fit=True), rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(keras_backend() == "tensorflow", reason="the refusal is for the other backends")
def test_support_fine_tuning_names_the_backend_it_needs():
    from siamese_kit.models import SupportFineTuning

    tower = PrototypeModel(conv4((16, 16, 1), feature_dim=8, width=4, feature_activation=None))
    with pytest.raises(ValueError, match=f"runs on '{keras_backend()}'.*KERAS_BACKEND=tensorflow"):
        SupportFineTuning(tower)


def test_the_backends_benchmark_reports_each_backend_it_ran(mnist, omniglot_dir_or_skip, tmp_path):
    """A short run of benchmarks/backends.py on this process's backend: the demo's accuracy and both step rates."""
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "backends.json"
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "backends.py"), "--backends", keras_backend(), "--iterations", "30",
         "--loop-steps", "3", "--out", str(out)],
        capture_output=True, text=True, cwd=root, timeout=600,
        env={**os.environ, "SIAMESE_KIT_OMNIGLOT": str(omniglot_dir_or_skip)})
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(out.read_text())
    assert json.loads(done.stdout.strip().splitlines()[-1]) == summary
    (row,) = summary["backends"]
    assert row["backend"] == keras_backend() and summary["demo_centroid_accuracy_spread"] == 0
    # 30 steps of the demo already sort most digits: far above the 0.1 of chance
    assert row["demo_centroid_accuracy"] > 0.5
    assert row["lenet_twin_steps_per_second"] > 0 and row["conv4_batch_hard_steps_per_second"] > 0
