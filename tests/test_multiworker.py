"""Two worker processes under MultiWorkerMirroredStrategy train as one process does, only the chief
writes checkpoints, and a run whose worker is killed resumes from its last checkpoint.

Each worker is this file run as a script, with `TF_CONFIG` naming two workers on 127.0.0.1 (ports
chosen free by the system); a third process trains the same things on one device. Same seed and
same global batch on both sides: every worker builds the same seeded stream, and `train_loop` keeps
each worker's half of every global batch, so the two workers' replicas together train on exactly the
one-process batches. (`model.fit` is not run: Keras 3's `fit` fails under this strategy before its
first step, on any batch of several tensors; keras-team/keras#20329 and #20585.)

Then a checkpointed run (paced, so a kill lands mid-run) has its chief SIGKILLed after a checkpoint;
the other worker stops when its next collective op finds no peer (or is killed after 30 s), both are
started again with `resume=True`, and the run goes on from the last checkpoint to the last step, to
the one-process weights. Last, two workers that see different checkpoint folders are refused.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

STEPS = 20
EVERY = 5
GLOBAL_BATCH = 16
PACE_SECONDS = 0.15
# The two workers' gradients are summed in another order than one device's sums (~1e-7 apart);
# Adam's normalised step lets that grow to about 1e-4 on a weight in 20 steps (as with 2 replicas
# in one process, tests/test_distribute.py; it keeps growing: 4e-4 after 30 steps), while one step
# moves a weight by up to the learning rate, 1e-3, and 20 steps by up to 2e-2: a worker that
# trained on the wrong half of a batch, or twice on one half, ends further off within a few steps.
WEIGHT_ATOL = 5e-4
LOSS_RTOL, LOSS_ATOL = 1e-4, 1e-5
# Seconds a launch may take: TensorFlow starts in about 5 s, each training in a few more; a
# worker whose peer never answers would otherwise wait for ever.
LAUNCH_TIMEOUT = 150
SURVIVOR_GRACE = 30
ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- the worker process

def _write(out: Path, value: dict) -> None:
    """Writes the result whole or not at all: the test reads it while the worker may still run."""
    partial = out.with_suffix(".partial")
    partial.write_text(json.dumps(value))
    os.replace(partial, out)


def _worker(out: Path, kinds: list[str], checkpoint: str | None, pace: float) -> int:
    """Trains `kinds` and writes what it got to `out`: the command a user runs on each machine.

    `strategy("auto")` is the multi-worker strategy where `TF_CONFIG` names two workers, one device
    without `TF_CONFIG`.
    """
    import tensorflow as tf

    from siamese_kit.devices import strategy

    try:
        chosen = strategy("auto")
    except (tf.errors.OpError, ImportError) as error:
        _write(out, {"cannot_start": f"{type(error).__name__}: {error}"})
        return 3

    import keras

    from conftest import make_imageset
    from siamese_kit.checkpoint import Checkpointer
    from siamese_kit.data import class_balanced_stream, pair_stream
    from siamese_kit.losses import TripletLoss
    from siamese_kit.models import EmbeddingModel, lenet_28
    from siamese_kit.recipes import ContrastiveRecipe, build_contrastive_model
    from siamese_kit.training import TrainingMonitor, train_loop

    imageset = make_imageset(num_classes=4, per_class=6, size=28)
    recipe = ContrastiveRecipe(embedding_dim=4, iterations=STEPS, batch_size=GLOBAL_BATCH, seed=3)

    def pairs(start=0):
        return pair_stream(imageset, GLOBAL_BATCH, seed=recipe.seed, mode="alternate", start_batch=start)

    class Paced(TrainingMonitor):
        """Prints each step as it is read back and, with a pace, slows the run so a kill lands mid-run."""

        def update(self, step, loss):
            super().update(step, loss)
            print(f"step {step}", flush=True)
            time.sleep(pace)

    class Recording(Checkpointer):
        """Notes what each save wrote: a folder on the chief, nothing (None) on the other worker."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.written = []

        def save(self, *args, **kwargs):
            folder = super().save(*args, **kwargs)
            self.written.append(None if folder is None else folder.name)
            return folder

    results = {"task": json.loads(os.environ.get("TF_CONFIG", '{"task": {"index": 0}}'))["task"]["index"],
               "replicas": chosen.num_replicas_in_sync}
    for kind in kinds:
        with chosen.scope():
            if kind == "embedding":
                keras.utils.set_random_seed(5)
                model = EmbeddingModel(lenet_28(8, input_shape=imageset.image_shape, bottleneck=None),
                                       loss=TripletLoss(margin=1.0, mining="batch_hard"))
                model.compile(optimizer=keras.optimizers.SGD(0.05))
            else:
                model = build_contrastive_model(recipe, imageset.image_shape, imageset.num_classes)
        stream = class_balanced_stream(imageset, 4, 4, seed=4) if kind == "embedding" else pairs
        saver = None
        if checkpoint is not None:
            saver = Recording(checkpoint, every=EVERY, resume=True, config={"seed": recipe.seed})
        run = train_loop(model, stream, STEPS, monitor=Paced(STEPS, GLOBAL_BATCH, 1), checkpoint=saver)
        results[kind] = {
            "losses": run["history"]["loss"], "steps": run["history"]["step"],
            "steps_done": run["steps_done"], "resumed_from": run["resumed_from"],
            "written": None if saver is None else saver.written,
            "weights": [w.tolist() for w in model.get_weights()],
        }
    _write(out, results)
    return 0


def _worker_main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="One worker of tests/test_multiworker.py.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--kinds", default="contrastive")
    parser.add_argument("--checkpoint")
    parser.add_argument("--pace", type=float, default=0.0)
    args = parser.parse_args(argv)
    return _worker(args.out, args.kinds.split(","), args.checkpoint, args.pace)


# ----------------------------------------------------------------------------- launching workers

def _free_ports(count: int) -> list[int]:
    """Ports the system hands out as free; the sockets are closed just before the workers bind them."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class _Launch:
    """Worker processes started together, each logging to its own file and writing its own result.

    `args` go to every worker, `extra[i]` to worker i alone.
    """

    def __init__(self, folder: Path, name: str, args: list[str], workers: int = 2, extra=None):
        self.logs = [folder / f"{name}-{i}.log" for i in range(workers)]
        self.outs = [folder / f"{name}-{i}.json" for i in range(workers)]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
        env.pop("TF_CONFIG", None)
        cluster = [f"127.0.0.1:{port}" for port in _free_ports(workers)]
        self.processes = []
        for index in range(workers):
            if workers > 1:
                env["TF_CONFIG"] = json.dumps({"cluster": {"worker": cluster},
                                               "task": {"type": "worker", "index": index}})
            command = [sys.executable, __file__, "--out", str(self.outs[index]), *args, *(extra or {}).get(index, [])]
            with open(self.logs[index], "w") as log:
                self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                                       env=dict(env), cwd=ROOT))
        self.started = time.monotonic()

    def tail(self, characters: int = 2500) -> str:
        return "\n".join(f"--- {log.name}\n" + log.read_text(errors="replace")[-characters:] for log in self.logs)

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    def _cannot_start(self) -> str | None:
        for out in self.outs:
            if out.exists() and "cannot_start" in (found := json.loads(out.read_text())):
                return found["cannot_start"]
        return None

    def wait(self, succeed: bool = True) -> list[dict]:
        """Waits for every worker (bounded) and returns their results; skips when the strategy
        cannot start on this platform at all (then a peer may wait for ever, so it is not awaited)."""
        while any(process.poll() is None for process in self.processes):
            if self._cannot_start() is not None:
                break
            if time.monotonic() - self.started > LAUNCH_TIMEOUT:
                self.kill_all()
                pytest.fail(f"workers still running after {LAUNCH_TIMEOUT} s:\n{self.tail()}")
            time.sleep(0.1)
        if (reason := self._cannot_start()) is not None:
            self.kill_all()
            pytest.skip(f"MultiWorkerMirroredStrategy cannot start here: {reason[:200]}")
        results = [json.loads(out.read_text()) if out.exists() else {} for out in self.outs]
        codes = [process.returncode for process in self.processes]
        if succeed:
            assert codes == [0] * len(codes), f"worker exit codes {codes}:\n{self.tail()}"
        return results

    def last_step(self, index: int) -> int:
        """The last step worker `index` printed as read back."""
        steps = [int(line.split()[1]) for line in self.logs[index].read_text(errors="replace").splitlines()
                 if line.startswith("step ")]
        return steps[-1] if steps else 0


def _listing(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir()) if folder.is_dir() else []


def _kill_between_checkpoints(run: _Launch, checkpoints: Path) -> int:
    """SIGKILLs the chief once the first checkpoint is in place and two more steps are done.

    Returns:
        the last step the chief had read back.
    """
    while not any(name.startswith("step-") for name in _listing(checkpoints)) or run.last_step(0) < EVERY + 2:
        if any(process.poll() is not None for process in run.processes) or \
                time.monotonic() - run.started > LAUNCH_TIMEOUT:
            run.kill_all()
            pytest.fail(f"the paced run ended or stalled before its first checkpoint:\n{run.tail()}")
        time.sleep(0.05)
    run.processes[0].send_signal(signal.SIGKILL)
    run.processes[0].wait()
    return run.last_step(0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("multiworker")
    found = {}
    kinds = "contrastive,embedding"
    started = time.monotonic()
    reference = _Launch(folder, "one-process", ["--kinds", kinds], workers=1)
    together = _Launch(folder, "two-workers", ["--kinds", kinds])
    found["one_process"] = reference.wait()[0]
    found["two_workers"] = together.wait()
    found["seconds_equal_run"] = time.monotonic() - started

    # A checkpointed run, paced so that the chief is killed between two checkpoints.
    checkpoints = folder / "checkpoints"
    started = time.monotonic()
    paced = _Launch(folder, "killed", ["--checkpoint", str(checkpoints), "--pace", str(PACE_SECONDS)])
    found["killed_at"] = _kill_between_checkpoints(paced, checkpoints)
    found["checkpoints_at_kill"] = _listing(checkpoints)
    # The survivor's next collective op has no peer: TensorFlow's health check ends it, or we do.
    killed = time.monotonic()
    try:
        paced.processes[1].wait(timeout=SURVIVOR_GRACE)
        found["survivor"] = (f"exited by itself with code {paced.processes[1].returncode} "
                             f"{time.monotonic() - killed:.1f} s after the kill")
    except subprocess.TimeoutExpired:
        paced.kill_all()
        found["survivor"] = f"still waiting after {SURVIVOR_GRACE} s, killed"
    found["resumed"] = _Launch(folder, "resumed", ["--checkpoint", str(checkpoints)]).wait()
    found["checkpoints_at_end"] = _listing(checkpoints)
    found["seconds_kill_and_resume"] = time.monotonic() - started

    # Two machines without a shared disk: worker 1 sees an empty folder where the chief sees the run's.
    unshared = _Launch(folder, "unshared", [], extra={0: ["--checkpoint", str(checkpoints)],
                                                      1: ["--checkpoint", str(folder / "elsewhere")]})
    found["unshared_results"] = unshared.wait(succeed=False)
    found["unshared_codes"] = [process.returncode for process in unshared.processes]
    found["unshared_logs"] = unshared.tail(characters=4000)
    print(json.dumps({key: value for key, value in found.items()
                      if key.startswith(("seconds", "killed", "survivor", "checkpoints"))}))
    return found


def _assert_close_weights(got, expected):
    import numpy as np

    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=WEIGHT_ATOL)


def _largest_difference(got, expected) -> float:
    import numpy as np

    return max(float(np.abs(np.asarray(a) - np.asarray(b)).max()) for a, b in zip(got, expected, strict=True))


@pytest.mark.parametrize("kind", ["contrastive", "embedding"])
def test_two_workers_train_to_the_one_process_weights(runs, kind):
    import numpy as np

    one = runs["one_process"][kind]
    chief, other = runs["two_workers"]
    assert runs["one_process"]["replicas"] == 1 and chief["replicas"] == other["replicas"] == 2
    # Collective all-reduce hands every worker the same sums: the two copies of the model are one.
    for a, b in zip(chief[kind]["weights"], other[kind]["weights"], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(chief[kind]["losses"], one["losses"], rtol=LOSS_RTOL, atol=LOSS_ATOL)
    _assert_close_weights(chief[kind]["weights"], one["weights"])
    print(f"{kind}: largest weight difference to one process {_largest_difference(chief[kind]['weights'], one['weights']):.3g}")


def test_a_run_whose_chief_is_killed_resumes_from_its_last_checkpoint(runs):
    import numpy as np

    saved = sorted(int(name[5:13]) for name in runs["checkpoints_at_kill"] if name.startswith("step-"))
    assert saved and EVERY < runs["killed_at"] < STEPS, (runs["killed_at"], runs["checkpoints_at_kill"])
    for worker in runs["resumed"]:
        run = worker["contrastive"]
        # Resumed where the last checkpoint stood (not at 0, not at the step it was killed at) and
        # finished; the loss curve restored from the checkpoint continues without a gap or a repeat.
        assert run["resumed_from"] == saved[-1] > 0
        assert run["steps_done"] == STEPS
        assert run["steps"] == list(range(1, STEPS + 1))
    chief, other = runs["resumed"]
    for a, b in zip(chief["contrastive"]["weights"], other["contrastive"]["weights"], strict=True):
        np.testing.assert_array_equal(a, b)
    # The interrupted, resumed two-worker run ends where an uninterrupted one-process run does.
    one = runs["one_process"]["contrastive"]
    _assert_close_weights(chief["contrastive"]["weights"], one["weights"])
    np.testing.assert_allclose(chief["contrastive"]["losses"], one["losses"], rtol=LOSS_RTOL, atol=LOSS_ATOL)
    print(f"killed at step {runs['killed_at']} ({runs['survivor']}), resumed from {saved[-1]}, largest weight "
          f"difference to one process {_largest_difference(chief['contrastive']['weights'], one['weights']):.3g}")


def test_only_the_chief_writes_checkpoints(runs):
    chief, other = (worker["contrastive"]["written"] for worker in runs["resumed"])
    resumed_from = runs["resumed"][0]["contrastive"]["resumed_from"]
    expected = [f"step-{step:08d}" for step in range(resumed_from + EVERY, STEPS + 1, EVERY)]
    assert chief == expected
    assert other == [None] * len(expected)
    # One writer: no second revision of a step, no leftover temporary folder, the 2 newest kept.
    assert runs["checkpoints_at_end"] == expected[-2:]


def test_workers_that_see_different_checkpoint_folders_are_refused(runs):
    assert all(code != 0 for code in runs["unshared_codes"]), runs["unshared_logs"]
    # Both workers refuse, naming what each found and the fix, instead of training apart.
    assert runs["unshared_logs"].count("found different checkpoints") == 2, runs["unshared_logs"]
    assert "worker 0: step 20; worker 1: none" in runs["unshared_logs"]
    assert "a disk all the machines share" in runs["unshared_logs"]


def test_cluster_size_reads_tf_config(monkeypatch):
    from siamese_kit.devices import cluster_size

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert cluster_size() == 0
    two = {"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]}, "task": {"type": "worker", "index": 1}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(two))
    assert cluster_size() == 2
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:1"]}}))
    assert cluster_size() == 2
    monkeypatch.setenv("TF_CONFIG", "worker 0 of 2")
    with pytest.raises(ValueError, match="TF_CONFIG must be JSON like"):
        cluster_size()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(_worker_main(sys.argv[1:]))
