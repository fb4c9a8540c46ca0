"""Training under MirroredStrategy on a CPU split into 2 logical devices matches one device.

TensorFlow fixes its devices when it first runs an op, so the distributed runs happen in a fresh
subprocess (this file run as a script) that splits the CPU before anything else; the test compares
what it reports. Same seed and same global batch (16 pairs: 8 per replica; 2 stacked episodes: 1 per
replica; a class-balanced batch of 4 classes x 4 images: 2 classes per replica) on both sides, for
each model kind: the contrastive twin, the BCE twin classifier, the prototype model and the embedding
(triplet) model, the last also on 2 classes x 6 images, where each replica's share is one class. The
towers have no batch normalisation, whose statistics are per replica.
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

    def trained_kind(chosen, kind):
        """The BCE twin, the prototype or the embedding model, trained with train_loop under `chosen`.

        Plain SGD: Adam divides the gradient by its own size, so a gradient N times too large on N
        replicas would train the same and hide a loss that is not divided by the replica count.
        """
        from siamese_kit.data import class_balanced_stream, episode_stream
        from siamese_kit.layers import TwinClassifierHead
        from siamese_kit.losses import TripletLoss
        from siamese_kit.models import EmbeddingModel, PrototypeModel, SiameseModel, lenet_28

        with chosen.scope():
            keras.utils.set_random_seed(5)
            tower = lenet_28(8, input_shape=imageset.image_shape, bottleneck=None)
            if kind == "bce_twin":
                model = SiameseModel(tower, TwinClassifierHead())
                model.compile(optimizer=keras.optimizers.SGD(0.05), loss=keras.losses.BinaryCrossentropy())
                stream = pair_stream(imageset, GLOBAL_BATCH, seed=4, mode="random")
            elif kind.startswith("embedding"):
                # Batch-hard mining takes each image's farthest classmate and nearest other class in
                # the batch: mining a replica's share alone would pick other triplets.
                model = EmbeddingModel(tower, loss=TripletLoss(margin=1.0, mining="batch_hard"))
                classes, per_class = (4, 4) if kind == "embedding" else (2, 6)
                # With 2 classes, SGD(0.05) overshoots (the loss jumps 0.06 -> 0.45 -> 0) and each
                # jump swaps the mined triplets of near-ties, which grew the 1e-7 float differences
                # to 6e-4 on a weight in 20 steps; a smaller step keeps the run smooth.
                model.compile(optimizer=keras.optimizers.SGD(0.05 if classes > 2 else 0.01))
                stream = class_balanced_stream(imageset, classes, per_class, seed=4)
            else:
                model = PrototypeModel(tower)
                model.compile(optimizer=keras.optimizers.SGD(0.05))
                stream = episode_stream(imageset, ways=3, shots=2, queries=2, seed=4, within_group=False).batch(2)
        monitor = TrainingMonitor(STEPS, GLOBAL_BATCH, 1)
        initial = model.get_weights()
        losses = train_loop(model, stream, STEPS, monitor=monitor)["history"]["loss"]
        return {
            "largest_weight_change": max(float(np.abs(a - b).max()) for a, b in zip(model.get_weights(), initial)),
            "losses": [float(v) for v in losses],
            "weights": [w.tolist() for w in model.get_weights()],
            "embeddings": model.embed(imageset).tolist(),
        }

    def single_episodes_on_replicas():
        from siamese_kit.data import episode_stream
        from siamese_kit.models import PrototypeModel, lenet_28

        with mirrored.scope():
            model = PrototypeModel(lenet_28(8, input_shape=imageset.image_shape, bottleneck=None))
            model.compile(optimizer="adam")
        try:
            train_loop(model, episode_stream(imageset, ways=3, shots=2, queries=2, within_group=False), 1)
        except ValueError as error:
            return str(error)
        return ""

    mirrored = strategy("auto")
    results = {
        "devices": devices,
        "one_device": trained(strategy("default"), loop=False),
        "mirrored_fit": trained(mirrored, loop=False),
        "mirrored_loop": trained(mirrored, loop=True),
        "one_device_loop": trained(strategy("default"), loop=True),
        **{f"{kind}_{where}": trained_kind(chosen, kind)
           for kind in ("bce_twin", "prototype", "embedding", "embedding_one_class_shares")
           for where, chosen in (("one_device", strategy("default")), ("mirrored", mirrored))},
        "single_episodes_refused": single_episodes_on_replicas(),
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
    # The loss is the global batch's (not divided by the replica count): at the first step, before any
    # update, both sides score the same 16 pairs with the same weights.
    losses = runs["mirrored_fit"]["losses"]
    assert len(losses) == STEPS and losses[0] == pytest.approx(runs["one_device"]["losses"][0], rel=1e-6)
    _assert_same_training(runs["one_device"], runs["mirrored_fit"])


def test_train_loop_on_two_replicas_matches_one_device(runs):
    _assert_same_training(runs["one_device_loop"], runs["mirrored_loop"])
    _assert_same_training(runs["one_device"], runs["mirrored_loop"])


@pytest.mark.parametrize("kind", ["bce_twin", "prototype", "embedding", "embedding_one_class_shares"])
def test_every_model_kind_on_two_replicas_matches_one_device(runs, kind):
    import numpy as np

    one, two = runs[f"{kind}_one_device"], runs[f"{kind}_mirrored"]
    # Each replica's loss is divided by the replica count before the gradients are summed; without
    # that, 2 replicas take twice the step and these part within a few steps.
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=LOSS_RTOL, atol=LOSS_ATOL)
    for got, expected in zip(two["weights"], one["weights"], strict=True):
        np.testing.assert_allclose(got, expected, atol=WEIGHT_ATOL)
    np.testing.assert_allclose(two["embeddings"], one["embeddings"], atol=WEIGHT_ATOL)
    # Equal because right, not because nothing moved: training changed some weight by far more than
    # the tolerance.
    assert one["largest_weight_change"] > 20 * WEIGHT_ATOL


def test_one_episode_per_step_on_two_replicas_is_refused_with_the_fix(runs):
    message = runs["single_episodes_refused"]
    assert "whole episodes per replica" in message and ".batch(2)" in message


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
