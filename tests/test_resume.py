"""Nothing lost: checkpoints survive kills, a resumed run ends where an uninterrupted one does.

The kill test runs `siamese-kit train --recipe contrastive` (model.fit with `CheckpointCallback`) in a
subprocess on a tiny MNIST-shaped data home, SIGKILLs it once a checkpoint exists, resumes it with
`--resume`, and compares it with an uninterrupted run: weights and test metrics bit-identical, the loss
curve to float32 rounding (fit reports a running mean, from which each step's loss is recovered by
subtraction, and the resumed epoch's mean starts afresh). The custom loop (`train_loop`) is
interrupted in-process and must match bit for bit, curve included.
"""

import json
import os
import signal
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from siamese_kit.checkpoint import CheckpointError, Checkpointer
from siamese_kit.cli import main
from siamese_kit.data import episode_stream, fixed_episodes, fixed_pairs, pair_stream
from siamese_kit.layers import CentroidDecoder, EuclideanDistance
from siamese_kit.losses import ContrastiveLoss
from siamese_kit.models import PrototypeModel, SiameseModel
from siamese_kit.recipes import ContrastiveRecipe, train_contrastive
from siamese_kit.training import TrainingMonitor, train_loop

from conftest import make_imageset
from test_model import tiny_encoder

REPO = Path(__file__).resolve().parents[1]
CLI_STEPS = 60
CLI_SETTINGS = [
    "--set", f"iterations={CLI_STEPS}", "--set", "batch_size=8", "--set", "embedding_dim=2",
    "--set", "eval_pairs=100", "--set", "bottleneck=10", "--checkpoint-every", "5",
]


# ------------------------------------------------------------------ helpers


def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_fake_mnist(home: Path) -> Path:
    """An MNIST-shaped data home (28x28 digits 0-9, 24 train and 8 test each) whose pixels encode the
    class, so `load_dataset("mnist")` and the CLI work offline in a second."""
    folder = home / "mnist"
    folder.mkdir(parents=True)
    for prefix, per_class, seed in (("train", 24, 0), ("t10k", 8, 1)):
        imageset = make_imageset(num_classes=10, per_class=per_class, size=28, seed=seed)
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(_idx(imageset.images[..., 0]))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx(imageset.labels.astype(np.uint8)))
    return home


def _checkpoint_steps(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(p.name[5:]) for p in folder.glob("step-*") if (p / "manifest.json").is_file())


def _weights(path: Path) -> list[np.ndarray]:
    return keras.saving.load_model(path, safe_mode=True).get_weights()


def contrastive_model(seed=0, decoder=True):
    keras.utils.set_random_seed(seed)
    model = SiameseModel(tiny_encoder(), EuclideanDistance(), CentroidDecoder(4) if decoder else None)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=ContrastiveLoss(2.0))
    return model


def prototype_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = PrototypeModel(tiny_encoder())
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    return model


class Interrupt(TrainingMonitor):
    """Raises KeyboardInterrupt (a Ctrl-C) after `at` steps: no save happens for that step."""

    def __init__(self, total, at):
        super().__init__(total, 8, record_every=3)
        self.at = at

    def update(self, step, loss):
        super().update(step, loss)
        if step == self.at:
            raise KeyboardInterrupt


def assert_same_state(a, b):
    for x, y in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=x.path)
    for x, y in zip(a.optimizer.variables, b.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=x.path)


# ------------------------------------------------------------------ kill and resume


def test_cli_killed_with_sigkill_resumes_to_the_same_end(tmp_path, monkeypatch):
    home = write_fake_mnist(tmp_path / "data")
    monkeypatch.setenv("SIAMESE_KIT_DATA", str(home))
    env = {**os.environ, "SIAMESE_KIT_DATA": str(home), "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": ""}
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "siamese_kit.cli", "train", "--recipe", "contrastive", *CLI_SETTINGS]

    process = subprocess.Popen([*command, "--out", str(killed)], env=env, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not _checkpoint_steps(killed / "checkpoints"):
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no checkpoint appeared in 120 s"
        time.sleep(0.005)
    assert process.poll() is None, "the run finished before it could be killed; raise CLI_STEPS"
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    steps_at_kill = _checkpoint_steps(killed / "checkpoints")
    assert steps_at_kill and steps_at_kill[-1] < CLI_STEPS and not (killed / "summary.json").exists()

    log = tmp_path / "resumed.log"
    with open(log, "wb") as output:
        resumed = subprocess.Popen([*command, "--resume", "--out", str(killed)], env=env, cwd=tmp_path,
                                   stdout=output, stderr=subprocess.STDOUT)
        # Meanwhile the uninterrupted reference runs here, in this process, through the same entry point.
        keras.mixed_precision.set_global_policy("float32")
        whole = tmp_path / "whole"
        assert main(["train", "--recipe", "contrastive", *CLI_SETTINGS, "--out", str(whole)]) == 0
        assert resumed.wait(300) == 0, log.read_text()[-2000:]

    for a, b in zip(_weights(killed / "model.keras"), _weights(whole / "model.keras"), strict=True):
        np.testing.assert_array_equal(a, b)
    summaries = [json.loads((run / "summary.json").read_text()) for run in (killed, whole)]
    for key in ("test_centroid_accuracy", "pair_accuracy", "pair_threshold", "iterations"):
        assert summaries[0][key] == summaries[1][key], key
    curves = [json.loads((run / "checkpoints" / f"step-{CLI_STEPS:08d}" / "state.json").read_text())["monitor"]
              for run in (killed, whole)]
    assert curves[0]["steps"] == curves[1]["steps"] == list(range(1, CLI_STEPS + 1))
    np.testing.assert_allclose(curves[0]["losses"], curves[1]["losses"], rtol=1e-4, atol=1e-6)
    assert _checkpoint_steps(killed / "checkpoints") == [CLI_STEPS - 5, CLI_STEPS]  # keep=2


def test_train_loop_interrupted_and_resumed_is_bit_identical(tmp_path):
    imageset = make_imageset()

    def stream(start):
        return pair_stream(imageset, 8, seed=5, start_batch=start)

    whole = contrastive_model()
    reference = train_loop(whole, stream, 24, monitor=TrainingMonitor(24, 8, record_every=3))

    folder = tmp_path / "checkpoints"
    with pytest.raises(KeyboardInterrupt):
        train_loop(contrastive_model(), stream, 24, monitor=Interrupt(24, at=14),
                   checkpoint=Checkpointer(folder, every=5))
    assert _checkpoint_steps(folder) == [5, 10]  # step 14 was lost with the interrupt

    resumed_model = contrastive_model(seed=99)  # other initial weights: all must come from the checkpoint
    resumed = train_loop(resumed_model, stream, 24, monitor=TrainingMonitor(24, 8, record_every=3),
                         checkpoint=Checkpointer(folder, every=5, resume=True))
    assert resumed["resumed_from"] == 10 and resumed["steps_done"] == 24 and not resumed["stopped"]
    assert resumed["history"] == reference["history"]
    assert_same_state(whole, resumed_model)
    np.testing.assert_array_equal(np.asarray(whole.decoder.centroids), np.asarray(resumed_model.decoder.centroids))
    assert int(np.asarray(resumed_model.optimizer.iterations)) == 24


def test_episode_stream_given_as_a_dataset_is_fast_forwarded_on_resume(tmp_path):
    imageset = make_imageset(num_classes=6, per_class=4)
    stream = episode_stream(imageset, ways=3, shots=1, queries=2, seed=2, within_group=False)
    whole = prototype_model()
    reference = train_loop(whole, stream, 12, monitor=TrainingMonitor(12, 9, record_every=3))
    folder = tmp_path / "episodes"
    with pytest.raises(KeyboardInterrupt):
        train_loop(prototype_model(), stream, 12, monitor=Interrupt(12, at=8),
                   checkpoint=Checkpointer(folder, every=3))
    resumed_model = prototype_model(seed=7)
    resumed = train_loop(resumed_model, stream, 12, monitor=TrainingMonitor(12, 9, record_every=3),
                         checkpoint=Checkpointer(folder, every=3, resume=True))
    assert resumed["resumed_from"] == 6
    assert resumed["history"] == reference["history"]
    assert_same_state(whole, resumed_model)


# ------------------------------------------------------------------ kill during a save


def _saved_run(folder, steps=10, every=5):
    model = contrastive_model()
    train_loop(model, lambda start: pair_stream(make_imageset(), 8, seed=1, start_batch=start), steps,
               checkpoint=Checkpointer(folder, every=every))
    return model


def test_a_save_cut_short_leaves_the_last_good_checkpoint(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    model = _saved_run(folder)
    good = [np.asarray(w).copy() for w in model.weights]
    good_files = {p.name: p.read_bytes() for p in (folder / "step-00000010").iterdir()}

    # A kill inside save(): the temporary folder holds half the files and no manifest.
    half = folder / ".tmp-step-00000015-x1y2"
    half.mkdir()
    (half / "model.weights.h5").write_bytes(good_files["model.weights.h5"][:7])
    # A kill inside save() after the rename of an older copy aside, and a hand-made folder
    # without a manifest: neither is taken for a checkpoint.
    (folder / "step-00000020").mkdir()
    (folder / "step-00000020" / "model.weights.h5").write_bytes(b"")
    with pytest.warns(UserWarning, match="step-00000020: no readable manifest.json"):
        checkpointer = Checkpointer(folder, every=5, resume=True)
    assert checkpointer.last_saved_step == 10

    restored = contrastive_model(seed=3)
    with pytest.warns(UserWarning, match="step-00000020"):
        state = checkpointer.restore(restored)
    assert state.step == 10 and state.next_batch == 10
    for a, b in zip(good, restored.weights, strict=True):
        np.testing.assert_array_equal(a, np.asarray(b))

    # The next save clears the leftovers it made itself, and only those.
    (folder / "notes.txt").write_text("mine")
    checkpointer.save(restored, 15)
    assert not half.exists() and (folder / "notes.txt").read_text() == "mine"
    assert _checkpoint_steps(folder) == [10, 15]  # keep=2 counts complete checkpoints only


def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(tmp_path):
    folder = tmp_path / "checkpoints"
    model = contrastive_model()
    stream = lambda start: pair_stream(make_imageset(), 8, seed=1, start_batch=start)  # noqa: E731
    train_loop(model, stream, 5, checkpoint=Checkpointer(folder, every=5))
    at_five = [np.asarray(w).copy() for w in model.weights]
    train_loop(model, stream, 10, checkpoint=Checkpointer(folder, every=5, resume=True))
    data = folder / "step-00000010" / "model.weights.h5"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])  # a copy cut short
    restored = contrastive_model(seed=3)
    with pytest.warns(UserWarning, match="model.weights.h5 does not match its checksum"):
        state = Checkpointer(folder, every=5, resume=True).restore(restored)
    assert state.step == 5
    for a, b in zip(at_five, restored.weights, strict=True):
        np.testing.assert_array_equal(a, np.asarray(b))


def test_a_failing_save_removes_its_temporary_folder_and_keeps_the_old_one(tmp_path, monkeypatch):
    from siamese_kit import checkpoint as checkpoint_module

    folder = tmp_path / "checkpoints"
    model = _saved_run(folder, steps=5)
    before = {p.name: p.read_bytes() for p in (folder / "step-00000005").iterdir()}

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint_module, "_write_json", disk_full)
    with pytest.raises(OSError, match="No space left"):
        Checkpointer(folder, every=5, resume=True).save(model, 10)
    assert sorted(p.name for p in folder.iterdir()) == ["step-00000005"]
    assert {p.name: p.read_bytes() for p in (folder / "step-00000005").iterdir()} == before


# ------------------------------------------------------------------ NaN guard


class JumpTo(keras.optimizers.schedules.LearningRateSchedule):
    """A sane rate, then an absurd one from step `at` on: the loss blows up mid-run."""

    def __init__(self, at):
        self.at = at

    def __call__(self, step):
        return keras.ops.where(step < self.at, 0.01, 1e30)


def test_nan_loss_names_the_step_and_the_checkpoint_it_keeps(tmp_path):
    folder = tmp_path / "checkpoints"
    keras.utils.set_random_seed(0)
    model = SiameseModel(tiny_encoder(), EuclideanDistance())
    model.compile(optimizer=keras.optimizers.SGD(JumpTo(6)), loss=ContrastiveLoss(2.0))
    with pytest.raises(FloatingPointError) as error:
        train_loop(model, pair_stream(make_imageset(), 8), 40, checkpoint=Checkpointer(folder, every=4))
    message = str(error.value)
    bad_step = int(message.split(" at step ")[1].split(";")[0])
    last_good = bad_step - 1 - (bad_step - 1) % 4
    assert bad_step > 6 and f"the last good checkpoint (step {last_good}) is in {folder}" in message
    assert _checkpoint_steps(folder)[-1] == last_good
    # The checkpoint left behind loads, with finite weights.
    restored = SiameseModel(tiny_encoder(), EuclideanDistance())
    restored.compile(optimizer=keras.optimizers.SGD(JumpTo(6)), loss=ContrastiveLoss(2.0))
    assert Checkpointer(folder, every=4, resume=True).restore(restored).step == last_good
    assert all(np.isfinite(np.asarray(w)).all() for w in restored.weights)


def test_nan_loss_in_fit_stops_with_the_step(tmp_path):
    recipe = ContrastiveRecipe(embedding_dim=2, iterations=30, batch_size=8, optimizer="caffe-sgd",
                               learning_rate=1e6, bottleneck=10)
    with pytest.raises(FloatingPointError, match=r"the loss became (nan|inf) at step \d+; "):
        train_contrastive(make_imageset(size=28), recipe, print_every=0,
                          checkpoint=Checkpointer(tmp_path / "checkpoints", every=1000))
    assert _checkpoint_steps(tmp_path / "checkpoints") == []  # nothing saved after a NaN


# ------------------------------------------------------------------ refusals


def test_checkpointer_refuses_to_overwrite_or_mix_runs(tmp_path):
    folder = tmp_path / "checkpoints"
    model = contrastive_model()
    Checkpointer(folder, config={"seed": 0, "lr": 0.01}).save(model, 5)
    snapshot = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with pytest.raises(CheckpointError, match=r"already holds a checkpoint \(step 5\); resume it"):
        Checkpointer(folder)
    with pytest.raises(CheckpointError, match=r"other settings than this run \(seed: 0 -> 1\)"):
        Checkpointer(folder, resume=True, config={"seed": 1, "lr": 0.01})
    other = SiameseModel(tiny_encoder(dim=6), EuclideanDistance())
    other.compile(optimizer=keras.optimizers.Adam(0.01), loss=ContrastiveLoss(2.0))
    with pytest.raises(CheckpointError, match="does not fit this model"):
        Checkpointer(folder, resume=True).restore(other)
    with pytest.raises(ValueError, match="every must be a positive integer"):
        Checkpointer(tmp_path / "new", every=0)
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == snapshot


# ------------------------------------------------------------------ determinism


def test_same_seed_same_pairs_episodes_and_loss_curve():
    imageset = make_imageset(num_classes=6, per_class=5)

    def batches(stream, count=6):
        return [tf.nest.map_structure(np.asarray, b) for b in stream.take(count)]

    first, second = batches(pair_stream(imageset, 16, seed=4)), batches(pair_stream(imageset, 16, seed=4))
    other = batches(pair_stream(imageset, 16, seed=5))
    for a, b in zip(first, second):
        tf.nest.map_structure(np.testing.assert_array_equal, a, b)
    assert any(not np.array_equal(a[0]["label_a"], c[0]["label_a"]) for a, c in zip(first, other))
    pairs = [fixed_pairs(imageset, 50, seed=4) for _ in range(2)]
    np.testing.assert_array_equal(pairs[0].index_a, pairs[1].index_a)
    np.testing.assert_array_equal(pairs[0].index_b, pairs[1].index_b)
    episodes = [fixed_episodes(imageset, 5, ways=3, seed=4, within_group=False) for _ in range(2)]
    np.testing.assert_array_equal(episodes[0].support_index, episodes[1].support_index)
    # Resuming a stream at batch 3 gives exactly the batches the whole stream gives from 3 on.
    for a, b in zip(first[3:], batches(pair_stream(imageset, 16, seed=4, start_batch=3), 3)):
        tf.nest.map_structure(np.testing.assert_array_equal, a, b)

    curves = []
    for _ in range(2):
        monitor = TrainingMonitor(15, 8, record_every=1)
        train_loop(contrastive_model(decoder=False), pair_stream(imageset, 8, seed=4), 15, monitor=monitor)
        curves.append(monitor.losses)
    assert curves[0] == curves[1] and len(set(curves[0])) > 1


def _damage(folder: Path) -> None:
    data = folder / "model.weights.h5"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])


def test_a_damaged_newer_checkpoint_never_takes_a_keep_slot(tmp_path):
    # keep=1 with a damaged step-20 beside the run: the pruning counted any folder with a manifest, so
    # every fresh save (older than step 20) was deleted at once.
    folder = tmp_path / "checkpoints"
    model = contrastive_model()
    checkpointer = Checkpointer(folder, every=5, keep=1)
    checkpointer.save(model, 20)
    _damage(folder / "step-00000020")
    checkpointer.save(model, 5)
    assert (folder / "step-00000005").is_dir(), "the checkpoint just saved was pruned"
    checkpointer.save(model, 10)
    assert _checkpoint_steps(folder) == [10, 20]  # step 5 gone (older than the kept 10); 20 left alone


def test_the_checkpoint_resumed_from_is_not_pruned_by_a_damaged_newer_one(tmp_path):
    folder = tmp_path / "checkpoints"
    model = contrastive_model()
    stream = lambda start: pair_stream(make_imageset(), 8, seed=1, start_batch=start)  # noqa: E731
    train_loop(model, stream, 10, checkpoint=Checkpointer(folder, every=5, keep=2))
    _damage(folder / "step-00000010")
    resumed = contrastive_model(seed=3)
    with pytest.warns(UserWarning, match="does not match its checksum"):
        train_loop(resumed, stream, 8, checkpoint=Checkpointer(folder, every=7, keep=2, resume=True))
    # Resumed from 5, saved 7 and 8: the good ones kept are 8 and 7; 5 may go, but never before a
    # newer good one exists, and the damaged 10 does not count as one.
    assert _checkpoint_steps(folder) == [7, 8, 10]
    with pytest.warns(UserWarning, match="step-00000010"):
        assert Checkpointer(folder, every=7, resume=True).latest().step == 8


def test_a_nan_read_in_a_burst_is_named_at_its_own_step_and_never_checkpointed(tmp_path):
    def bad_step(read_every, folder=None):
        keras.utils.set_random_seed(0)
        model = SiameseModel(tiny_encoder(), EuclideanDistance())
        model.compile(optimizer=keras.optimizers.SGD(JumpTo(6)), loss=ContrastiveLoss(2.0))
        checkpoint = Checkpointer(folder, every=4) if folder else None
        with pytest.raises(FloatingPointError) as error:
            train_loop(model, pair_stream(make_imageset(), 8), 40, checkpoint=checkpoint, read_every=read_every)
        return int(str(error.value).split(" at step ")[1].split(";")[0])

    step_by_step = bad_step(1)
    # Read 15 steps at a time (checkpoints every 4 force a read before each save).
    assert bad_step(15) == step_by_step
    folder = tmp_path / "checkpoints"
    assert bad_step(15, folder) == step_by_step
    assert _checkpoint_steps(folder)[-1] < step_by_step


# ------------------------------------------------------------------ a kill at every step of a save


class Killed(BaseException):
    """Stands for SIGKILL: a BaseException, so the save's clean-up for failed writes does not run and
    the disk is left exactly as a kill at that point leaves it."""


def _kill_at(patch, at):
    """Makes the `at`-th filesystem step a save takes raise Killed; returns the list of steps taken."""
    import shutil
    import tempfile

    taken = []
    for module, name in ((os, "replace"), (os, "rename"), (os, "fsync"), (os, "chmod"), (shutil, "rmtree"),
                         (tempfile, "mkdtemp")):
        def step(*args, _original=getattr(module, name), _name=name, **kwargs):
            taken.append(_name)
            if len(taken) == at:
                raise Killed(_name)
            return _original(*args, **kwargs)

        patch.setattr(module, name, step)
    return taken


def _train_one_step(model):
    """Moves every weight and optimizer variable, as a training step would; returns the new state."""
    model.optimizer.build(model.trainable_variables)
    for variable in [*model.weights, *model.optimizer.variables]:
        variable.assign(variable + keras.ops.cast(1, variable.dtype))
    return [np.asarray(w).copy() for w in model.weights] + [np.asarray(v).copy() for v in model.optimizer.variables]


def _state_of(model):
    return [np.asarray(w) for w in model.weights] + [np.asarray(v) for v in model.optimizer.variables]


@pytest.mark.parametrize("second_step", [10, 5], ids=["a newer step, pruning the older", "the same step again"])
def test_a_kill_at_any_step_of_a_save_leaves_a_complete_checkpoint_old_or_new(tmp_path, second_step):
    at, points = 0, []
    while True:
        at += 1
        folder = tmp_path / f"kill-{at}"
        model = contrastive_model()
        old = _train_one_step(model)
        checkpointer = Checkpointer(folder, every=5, keep=1)
        checkpointer.save(model, 5)
        new = _train_one_step(model)
        killed = True
        with pytest.MonkeyPatch.context() as patch:
            taken = _kill_at(patch, at)
            try:
                checkpointer.save(model, second_step)
                killed = False
            except Killed:
                points.append(taken[-1])
        # What a fresh process finds: one complete checkpoint, the old state or the new, never none.
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # no damaged folder is left under a checkpoint's name
            restored = contrastive_model(seed=3)
            state = Checkpointer(folder, every=5, keep=1, resume=True).restore(restored)
        assert state is not None, f"killed at {taken[-1]} (step {at} of the save): no checkpoint left"
        expected = new if state.path.name != "step-00000005" else old
        for got, want in zip(_state_of(restored), expected, strict=True):
            np.testing.assert_array_equal(got, want)
        # The next save clears what the kill left and keeps one checkpoint.
        Checkpointer(folder, every=5, keep=1, resume=True).save(restored, 15)
        assert sorted(p.name for p in folder.iterdir()) == ["step-00000015"]
        if not killed:
            break
    # Every step of the save was a kill point: temporary folder, fsyncs, chmod, rename, prune.
    assert len(points) >= 8 and {"mkdtemp", "fsync", "rename", "rmtree"} <= set(points)


def test_a_step_saved_again_gets_a_new_revision_and_the_old_goes_only_after(tmp_path):
    folder = tmp_path / "checkpoints"
    model = contrastive_model()
    checkpointer = Checkpointer(folder, every=5, keep=2)
    checkpointer.save(model, 5)
    _damage(checkpointer.save(model, 10))
    _train_one_step(model)
    assert checkpointer.save(model, 10).name == "step-00000010-r2"
    # The damaged first revision goes; 5 and the new 10 are the two kept.
    assert sorted(p.name for p in folder.iterdir()) == ["step-00000005", "step-00000010-r2"]
    restored = contrastive_model(seed=3)
    assert Checkpointer(folder, resume=True).restore(restored).path.name == "step-00000010-r2"
    assert_same_state(model, restored)


def test_the_weights_are_keras_own_file_loadable_without_siamese_kit(tmp_path):
    model = contrastive_model()
    _train_one_step(model)
    folder = Checkpointer(tmp_path / "checkpoints").save(model, 5)
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "model.weights.h5", "state.json"]
    plain = contrastive_model(seed=3)
    plain.optimizer.build(plain.trainable_variables)
    plain.load_weights(folder / "model.weights.h5")  # Keras's public API, nothing of ours
    assert_same_state(model, plain)


def test_a_checkpoint_of_another_model_is_refused_naming_the_arrays(tmp_path):
    folder = tmp_path / "checkpoints"
    Checkpointer(folder).save(contrastive_model(), 5)
    with_sgd = SiameseModel(tiny_encoder(), EuclideanDistance(), CentroidDecoder(4))
    with_sgd.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss=ContrastiveLoss(2.0))
    before = [np.asarray(w).copy() for w in with_sgd.weights]
    with pytest.raises(CheckpointError, match=r"does not fit this model: optimizer/vars/\d+ "):
        Checkpointer(folder, resume=True).restore(with_sgd)
    for got, want in zip(with_sgd.weights, before, strict=True):
        np.testing.assert_array_equal(np.asarray(got), want)  # nothing half-loaded


def test_a_checkpoint_in_the_old_tensorflow_format_is_named_with_the_fix(tmp_path):
    folder = tmp_path / "checkpoints" / "step-00000005"
    folder.mkdir(parents=True)
    (folder / "state.json").write_text("{}")
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "files": {"state.json": {}}}))
    with pytest.warns(UserWarning, match="format 1.*start the run again in a new folder"):
        assert Checkpointer(tmp_path / "checkpoints", resume=True).latest() is None
