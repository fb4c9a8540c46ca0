"""Training under MirroredStrategy on a CPU split into 2 logical devices matches one device.

TensorFlow fixes its devices when it first runs an op, so the distributed runs happen in a fresh
subprocess (this file run as a script) that splits the CPU before anything else; the test compares
what it reports. Same seed and same global batch (16 pairs: 8 per replica) on both sides.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

STEPS = 20
GLOBAL_BATCH = 16
# Float sums run in another order on 2 replicas (~1e-7 apart); Adam's normalised step lets that
# grow to about 1e-4 on a weight after 20 steps (measured 8.7e-5), while one step moves a weight by
# up to the learning rate, 1e-3, and 20 steps by up to 2e-2.
LOSS_RTOL, LOSS_ATOL = 1e-4, 1e-5
WEIGHT_ATOL = 5e-4


def _child() -> dict:
    """Runs in the subprocess: one device, then 2 mirrored replicas, on the same seeded stream."""
    from siamese_kit.devices import cpu_replicas, strategy

    devices = cpu_replicas(2)

    import keras
    import numpy as np

    from conftest import make_imageset
    from siamese_kit.data import pair_stream
    from siamese_kit.recipes import ContrastiveRecipe, build_contrastive_model
    from siamese_kit.training import StepLogger, TrainingMonitor, train_loop

    imageset = make_imageset(num_classes=4, per_class=6, size=28)
    recipe = ContrastiveRecipe(embedding_dim=4, iterations=STEPS, batch_size=GLOBAL_BATCH, seed=3)

    def stream():
        return pair_stream(imageset, GLOBAL_BATCH, seed=recipe.seed, mode="alternate")

    def trained(chosen, loop):
        with chosen.scope():
            model = build_contrastive_model(recipe, imageset.image_shape, imageset.num_classes)
        if loop:
            losses = train_loop(model, stream(), STEPS, monitor=TrainingMonitor(STEPS, GLOBAL_BATCH, 1))["history"]["loss"]
        else:
            logger = StepLogger(STEPS, GLOBAL_BATCH, every=1, print_every=0)
            model.fit(stream(), steps_per_epoch=STEPS, epochs=1, verbose=0, callbacks=[logger])
            losses = logger.losses
        evaluated = model.evaluate(stream(), steps=3, verbose=0, return_dict=True)["loss"]
        return {
            "losses": [float(v) for v in losses],
            "evaluate_loss": float(evaluated),
            "weights": [w.tolist() for w in model.get_weights()],
            "centroid_copies": [
                np.asarray(copy).tolist()
                for copy in getattr(model.decoder.centroids.value, "values", [model.decoder.centroids.value])
            ],
            "embeddings": model.embed(imageset).tolist(),
            "replicas": chosen.num_replicas_in_sync,
        }

    mirrored = strategy("auto")
    results = {
        "devices": devices,
        "one_device": trained(strategy("default"), loop=False),
        "mirrored_fit": trained(mirrored, loop=False),
        "mirrored_loop": trained(mirrored, loop=True),
        "one_device_loop": trained(strategy("default"), loop=True),
    }
    try:
        cpu_replicas(3)
        results["late_split_refused"] = False
    except RuntimeError as error:
        results["late_split_refused"] = "fresh process" in str(error)
    results["same_split_again"] = cpu_replicas(2) == devices
    keras.backend.clear_session()
    return results


@pytest.fixture(scope="module")
def runs():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, __file__, "--child"], capture_output=True, text=True, env=env, timeout=300, cwd=root
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _assert_same_training(reference, other):
    import numpy as np

    np.testing.assert_allclose(other["losses"], reference["losses"], rtol=LOSS_RTOL, atol=LOSS_ATOL)
    np.testing.assert_allclose(other["evaluate_loss"], reference["evaluate_loss"], rtol=LOSS_RTOL, atol=LOSS_ATOL)
    for got, expected in zip(other["weights"], reference["weights"], strict=True):
        np.testing.assert_allclose(got, expected, atol=WEIGHT_ATOL)
    np.testing.assert_allclose(other["embeddings"], reference["embeddings"], atol=WEIGHT_ATOL)


def test_the_cpu_splits_into_two_replicas(runs):
    assert len(runs["devices"]) == 2
    assert runs["one_device"]["replicas"] == 1
    assert runs["mirrored_fit"]["replicas"] == runs["mirrored_loop"]["replicas"] == 2
    assert runs["late_split_refused"] and runs["same_split_again"]


def test_fit_on_two_replicas_matches_one_device(runs):
    # The loss is the global batch's (not divided by the replica count), and it falls.
    losses = runs["mirrored_fit"]["losses"]
    assert len(losses) == STEPS and losses[-1] < losses[0]
    _assert_same_training(runs["one_device"], runs["mirrored_fit"])


def test_train_loop_on_two_replicas_matches_one_device(runs):
    _assert_same_training(runs["one_device_loop"], runs["mirrored_loop"])
    _assert_same_training(runs["one_device"], runs["mirrored_loop"])


def test_centroids_stay_identical_on_every_replica_and_match_one_device(runs):
    import numpy as np

    for name in ("mirrored_fit", "mirrored_loop"):
        copies = runs[name]["centroid_copies"]
        assert len(copies) == 2
        np.testing.assert_array_equal(copies[0], copies[1])
        np.testing.assert_allclose(copies[0], runs["one_device"]["centroid_copies"][0], atol=WEIGHT_ATOL)


def test_strategy_and_cpu_replicas_refuse_bad_arguments():
    from siamese_kit.devices import cpu_replicas, strategy

    with pytest.raises(ValueError, match="kind must be one of"):
        strategy("tpu-please")
    with pytest.raises(ValueError, match="count must be a positive integer"):
        cpu_replicas(0)


if __name__ == "__main__" and sys.argv[1:] == ["--child"]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    print(json.dumps(_child()))
