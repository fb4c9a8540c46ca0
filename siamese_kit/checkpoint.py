"""Checkpoint and resume: a training run saved every K steps, atomically, and picked up where it stopped.

A checkpoint is one folder `step-00000030/` holding

- `model.weights.h5`: Keras's own weights file (`model.save_weights`), which holds the model (encoder,
  head, the `CentroidDecoder`'s centroids) and its optimizer (step counter and slots), restored
  bit-identically with `model.load_weights`. It is Keras's public format, not its internal object
  graph, so a Keras release that renames internals cannot orphan a run. Before loading, its layout
  (every array's path and shape) is compared with the model's, so a checkpoint of another model or
  optimizer is refused instead of half-loaded;
- `state.json`: the step, the stream position and the loss curve so far. Streams are seeded per
  `(seed, batch number)` with stateless ops, so the next batch number (with the seed, which the
  run's settings hold) is the stream's whole state;
- `manifest.json`, written last: the size and sha256 of every other file.

A save is written into a hidden temporary folder beside the others, flushed to disk, and renamed into
place in one step, so a kill at any moment leaves either the new checkpoint complete or no trace of it;
the previous checkpoint is removed only after the new one is in place. A step saved again (a run
resumed from before a damaged checkpoint) goes to a new revision folder, `step-00000030-r2/`, never
over the old one, so no moment exists without a complete checkpoint; the older revision is then
pruned like any older checkpoint. On restore the manifest is
checked, and a checkpoint whose files do not match (a disk that lost writes, a copy cut short) is
skipped with a warning for the newest one that does. No pickle: values are tensors and JSON.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import keras

from ._checks import positive_int
from ._files import fsync_directory, fsync_file
from .data.sources.download import file_digest
from .devices import model_strategy, strategy_scope

FORMAT = 2
WEIGHTS_FILE = "model.weights.h5"
STATE_FILE = "state.json"
MANIFEST_FILE = "manifest.json"
DEFAULT_EVERY = 500

_STEP_DIR = re.compile(r"^step-(\d{8})(?:-r(\d+))?$")
# Leftovers of an interrupted save or prune; only names this module makes are ever removed.
_LEFTOVER = re.compile(r"^\.(tmp|trash)-step-\d{8}(-r\d+)?-")


class CheckpointError(ValueError):
    """A checkpoint folder cannot be used as asked; the message names the folder and the fix."""


@dataclass(frozen=True)
class CheckpointState:
    """What a checkpoint holds besides the tensors.

    Attributes:
        step: training steps done when it was saved.
        next_batch: number of the stream batch (or episode) the next step takes.
        path: the checkpoint's folder.
        config: the run settings it was saved with (None when the run gave none).
        monitor: the loss curve recorded so far (`TrainingMonitor.state()`), or None.
    """

    step: int
    next_batch: int
    path: Path
    config: dict | None
    monitor: dict | None


def _positive_int(value, name: str) -> int:
    return positive_int(value, f"Checkpointer: {name}", example="500")


def _json_round_trip(config):
    """`config` as it reads back from JSON, so a saved and a fresh config compare equal."""
    if config is None:
        return None
    try:
        return json.loads(json.dumps(config, sort_keys=True, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Checkpointer: config must be JSON-serialisable settings (numbers, strings, lists, "
            f"dicts), got {config!r}: {error}"
        ) from None


def _write_json(path: Path, value) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1, sort_keys=True, allow_nan=False)
        f.flush()
        os.fsync(f.fileno())


def _differences(saved: dict | None, current: dict | None, prefix: str = "") -> list[str]:
    """Human-readable `key: saved -> current` lines for settings that differ."""
    if isinstance(saved, dict) and isinstance(current, dict):
        lines = []
        for key in sorted(set(saved) | set(current), key=str):
            lines += _differences(saved.get(key), current.get(key), f"{prefix}{key}.")
        return lines
    return [] if saved == current else [f"{prefix.rstrip('.')}: {saved!r} -> {current!r}"]


def _weights_layout(path: Path) -> dict[str, tuple]:
    """Every array in a Keras weights file: its path inside the file -> (shape, dtype)."""
    import h5py

    layout = {}

    def note(name, item):
        if isinstance(item, h5py.Dataset):
            layout[name] = (tuple(item.shape), str(item.dtype))

    with h5py.File(path, "r") as weights:
        weights.visititems(note)
    return layout


def _layout_differences(saved: dict, expected: dict) -> str:
    """The first few arrays that are missing, extra or shaped otherwise, in words."""
    lines = [f"{name} is not in the checkpoint" for name in sorted(set(expected) - set(saved))]
    lines += [f"{name} is in the checkpoint but not in this model" for name in sorted(set(saved) - set(expected))]
    lines += [f"{name}: saved {saved[name][0]}, this model {expected[name][0]}"
              for name in sorted(set(saved) & set(expected)) if saved[name] != expected[name]]
    return "; ".join(lines[:4]) + (f" (and {len(lines) - 4} more)" if len(lines) > 4 else "")


class Checkpointer:
    """Saves a training run every `every` steps into `directory` and restores the newest good save.

    `train_loop(..., checkpoint=Checkpointer(...))` and `CheckpointCallback` (for `model.fit`) use it;
    `siamese-kit train --checkpoint-every K --resume` builds one in `<out>/checkpoints`.

    Args:
        directory: folder of the checkpoints (created on the first save). With several workers
            (`MultiWorkerMirroredStrategy`), a folder every worker sees: the chief writes it,
            every worker reads it on resume.
        every: save after every this many steps (and after the last step, and on a Stop).
        keep: complete checkpoints kept; older ones are removed once a newer one is in place.
        resume: continue from the newest checkpoint in `directory`. Without it, a `directory` that
            already holds a checkpoint is refused, so a new run never overwrites an old one.
        config: the run's settings (JSON-serialisable, e.g. `dataclasses.asdict(recipe)`); saved
            with every checkpoint, and a resume with other settings is refused. Include the
            stream seed: with the batch number saved, it fixes the stream.

    Raises:
        ValueError: for an `every` or `keep` that is not a positive integer, or a config that is
            not JSON-serialisable.
        CheckpointError: if `directory` holds a checkpoint and `resume` is False, or its newest
            checkpoint was saved with other settings than `config`.

    Example:
        >>> checkpoint = Checkpointer("runs/twin/checkpoints", every=200, resume=True)
        >>> train_loop(model, lambda start: pair_stream(train_set, 64, seed=0, start_batch=start),
        ...            steps=2000, checkpoint=checkpoint)
    """

    def __init__(self, directory, every: int = DEFAULT_EVERY, keep: int = 2, resume: bool = False,
                 config: dict | None = None):
        if not isinstance(directory, (str, os.PathLike)):
            raise ValueError(f"Checkpointer: directory must be a path, got {type(directory).__name__}.")
        self.directory = Path(directory)
        self.every = _positive_int(every, "every")
        self.keep = _positive_int(keep, "keep")
        self.resume = bool(resume)
        self.config = _json_round_trip(config)
        self.last_saved_step: int | None = None
        if self.directory.exists() and not self.directory.is_dir():
            raise CheckpointError(
                f"Checkpointer: {self.directory} is a file, not a folder; choose another checkpoint folder."
            )
        latest = self.latest()
        if latest is None:
            return
        if not self.resume:
            raise CheckpointError(
                f"{self.directory} already holds a checkpoint (step {latest.step}); resume it "
                "(Checkpointer(..., resume=True), `siamese-kit train --resume`) or choose another "
                "folder. Nothing was changed."
            )
        self._check_config(latest)
        self.last_saved_step = latest.step

    # ------------------------------------------------------------------ reading

    def _step_dirs(self) -> list[tuple[int, int, Path]]:
        """`(step, revision, folder)` of every `step-*` folder, newest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for entry in self.directory.iterdir():
            match = _STEP_DIR.match(entry.name)
            if match and entry.is_dir():
                found.append((int(match.group(1)), int(match.group(2) or 1), entry))
        return sorted(found, key=lambda item: item[:2], reverse=True)

    def _verify(self, folder: Path) -> CheckpointState:
        """The state of a complete checkpoint folder; raises CheckpointError naming what is wrong."""
        try:
            manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
            files = manifest["files"]
            if manifest.get("format") == 1:
                raise ValueError("saved by siamese-kit 0.1's TensorFlow checkpoints (format 1), which this "
                                 "version does not read; start the run again in a new folder")
            if manifest.get("format") != FORMAT or not isinstance(files, dict) or STATE_FILE not in files:
                raise ValueError("unknown manifest layout")
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CheckpointError(f"{folder}: no readable {MANIFEST_FILE} ({error})") from None
        for name, expected in files.items():
            path = folder / name
            if "/" in name or name.startswith(".") or not path.is_file():
                raise CheckpointError(f"{folder}: {name} is missing")
            if path.stat().st_size != expected.get("bytes") or file_digest(path) != expected.get("sha256"):
                raise CheckpointError(f"{folder}: {name} does not match its checksum (damaged or cut short)")
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        return CheckpointState(
            step=int(state["step"]),
            next_batch=int(state["stream"]["next_batch"]),
            path=folder,
            config=state.get("config"),
            monitor=state.get("monitor"),
        )

    def latest(self) -> CheckpointState | None:
        """The newest complete, undamaged checkpoint, or None.

        A damaged one (files not matching its manifest) is skipped with a `UserWarning` naming it.

        Returns:
            its `CheckpointState`, or None when `directory` holds none.
        """
        for _, _, folder in self._step_dirs():
            try:
                return self._verify(folder)
            except CheckpointError as error:
                warnings.warn(f"skipping checkpoint {error}; trying an older one.", stacklevel=2)
        return None

    def _check_config(self, state: CheckpointState) -> None:
        if self.config is None or state.config is None or state.config == self.config:
            return
        changes = "; ".join(_differences(state.config, self.config)[:6])
        raise CheckpointError(
            f"{state.path} was saved with other settings than this run ({changes}). Resume with "
            "the settings it was saved with, or start a new run in another folder. Nothing was changed."
        )

    def restore(self, model) -> CheckpointState | None:
        """Loads the newest good checkpoint into `model` and its optimizer (when `resume` is True).

        Args:
            model: the compiled model of the run, built as it was when saved.

        Returns:
            the restored `CheckpointState`, or None when there is nothing to resume (then the model
            is left untouched and training starts at step 0).

        Raises:
            CheckpointError: if the checkpoint does not fit the model (another architecture or
                optimizer) or was saved with other settings, or (several workers) the workers
                found different checkpoints.

        Under `MultiWorkerMirroredStrategy` every worker calls it and reads the chief's folder, which
        must therefore be one they all see (a shared disk); the workers compare the steps they found
        before loading, so a worker that sees another folder is refused instead of training on.
        """
        if not self.resume:
            return None
        state = self.latest()
        self._check_same_on_every_worker(model, state)
        if state is None:
            return None
        self._check_config(state)
        if getattr(model, "optimizer", None) is None:
            raise CheckpointError("Checkpointer.restore: compile the model first, as it was compiled when saved.")
        with strategy_scope(model):
            # Slots must exist before they can be filled; a lazily built optimizer would drop them.
            model.optimizer.build(model.trainable_variables)
        # Every saved array must find its variable and every variable its array: a checkpoint of
        # another model (a decoder more or less, another width, another optimizer) is refused before
        # anything is loaded, never half-loaded.
        with tempfile.TemporaryDirectory() as scratch:
            model.save_weights(Path(scratch) / WEIGHTS_FILE)
            expected = _weights_layout(Path(scratch) / WEIGHTS_FILE)
        saved = _weights_layout(state.path / WEIGHTS_FILE)
        if saved != expected:
            raise CheckpointError(
                f"{state.path} does not fit this model: {_layout_differences(saved, expected)}. Build the "
                "model and optimizer as the run that saved it did, or start a new run in another folder."
            )
        model.load_weights(state.path / WEIGHTS_FILE)
        self.last_saved_step = state.step
        return state

    def _check_same_on_every_worker(self, model, state: CheckpointState | None) -> None:
        """Refuses a resume where the workers of a multi-worker run found different checkpoints.

        Workers that resumed different steps would train different weights, each believing it is
        in sync, and would stop at different steps (the last collective op then hangs).
        """
        strategy = model_strategy(model)
        if strategy is None:
            return
        import tensorflow as tf

        if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return
        step = -1 if state is None else state.step
        # One value per replica, in replica order: the workers' local replicas, worker by worker.
        found = strategy.gather(strategy.run(lambda: tf.constant([step], tf.int64)), axis=0).numpy()
        if len(set(found.tolist())) > 1:
            local = len(strategy.extended.worker_devices)
            seen = "; ".join(f"worker {worker}: " + ("none" if value < 0 else f"step {value}")
                             for worker, value in enumerate(found.tolist()[::local]))
            raise CheckpointError(
                f"the workers found different checkpoints in {self.directory} ({seen}); every worker "
                "must read the chief's checkpoint folder: put it on a disk all the machines share "
                "(an NFS mount) and give every worker the same path. Nothing was loaded."
            )

    # ------------------------------------------------------------------ writing

    def due(self, step: int) -> bool:
        """Whether `step` (1-based) is one to save after."""
        return step % self.every == 0

    def save(self, model, step: int, monitor_state: dict | None = None,
             next_batch: int | None = None) -> Path | None:
        """Saves the model, its optimizer and the run's state after `step`, atomically.

        Args:
            model: the model being trained.
            step: training steps done.
            monitor_state: the loss curve so far (`TrainingMonitor.state()`), restored on resume.
            next_batch: the stream batch the next step takes; default `step` (one batch a step).

        Returns:
            the checkpoint's folder; None on a worker that does not write (see below).

        Raises:
            OSError: if the disk refuses the write; the previous checkpoint is then untouched.

        Under `MultiWorkerMirroredStrategy` every worker calls it after the same steps, and only the
        chief (worker 0) writes: the workers hold the same weights, and two writers in one shared
        folder would race each other's renames and prunes. Writing needs no collective op, so the
        other workers do not wait for the chief's disk.
        """
        step = int(step)
        strategy = model_strategy(model)
        with strategy_scope(model):
            # Built slots are saved even before the first step, so every checkpoint has one layout.
            # Every worker builds (creating a variable is a collective op under a multi-worker strategy).
            model.optimizer.build(model.trainable_variables)
        if strategy is not None and not strategy.extended.should_checkpoint:
            self.last_saved_step = step
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        self._remove_leftovers()
        name = self._free_name(step)
        temporary = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=self.directory))
        try:
            model.save_weights(temporary / WEIGHTS_FILE)
            _write_json(temporary / STATE_FILE, {
                "format": FORMAT,
                "step": step,
                "stream": {"next_batch": step if next_batch is None else int(next_batch)},
                "config": self.config,
                "monitor": monitor_state,
            })
            files = {}
            for path in sorted(temporary.iterdir()):
                fsync_file(path)
                files[path.name] = {"bytes": path.stat().st_size, "sha256": file_digest(path)}
            # The manifest goes last: a folder without it is never taken for a checkpoint.
            _write_json(temporary / MANIFEST_FILE, {"format": FORMAT, "step": step, "files": files})
            fsync_directory(temporary)
        except Exception:
            # A failed write (a full disk) leaves nothing behind. A kill or Ctrl-C leaves the hidden
            # temporary folder, which the next save removes; either way no checkpoint is touched.
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        os.chmod(temporary, 0o755)  # mkdtemp makes it private; a checkpoint is an ordinary folder
        final = self.directory / name
        # A fresh name, so the rename never replaces a folder: the new checkpoint appears whole.
        os.rename(temporary, final)
        fsync_directory(self.directory)
        self.last_saved_step = step
        self._prune()
        return final

    def _free_name(self, step: int) -> str:
        """`step-NNNNNNNN`, or its next revision `-rK` when a folder of that step already exists."""
        revisions = [revision for saved, revision, _ in self._step_dirs() if saved == step]
        base = f"step-{step:08d}"
        return base if not revisions else f"{base}-r{max(revisions) + 1}"

    def _prune(self) -> None:
        """Keeps the `keep` newest checkpoints that pass their checksums and removes every folder older
        than the oldest of them; each is made invisible by a rename first, so a kill mid-removal leaves
        no half folder under a checkpoint's name.

        A damaged or incomplete folder never takes a `keep` slot (with `keep=1` it would otherwise
        push out the checkpoint just saved), and one newer than the kept ones is left alone: a
        resume skips it, and removing it is not this run's call. An older revision of a kept step
        counts as older.
        """
        folders = self._step_dirs()
        kept = []
        for step, revision, folder in folders:
            if len(kept) == self.keep:
                break
            if any(step == kept_step for kept_step, _ in kept):
                continue  # an older revision of a step kept in a newer one
            try:
                self._verify(folder)
            except CheckpointError:
                continue
            kept.append((step, revision))
        if len(kept) < self.keep:
            return  # fewer good checkpoints than wanted: nothing is old enough to go
        kept_steps = {step for step, _ in kept}
        for step, revision, folder in folders:
            superseded = step in kept_steps and (step, revision) not in kept
            if (step, revision) >= kept[-1] and not superseded:
                continue
            trash = Path(tempfile.mkdtemp(prefix=f".trash-{folder.name}-", dir=self.directory))
            os.replace(folder, trash / folder.name)
            shutil.rmtree(trash, ignore_errors=True)

    def _remove_leftovers(self) -> None:
        for entry in self.directory.iterdir():
            if _LEFTOVER.match(entry.name) and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)

    def where(self) -> str:
        """Where the last good checkpoint is, in words, for error messages."""
        if self.last_saved_step is None:
            return f"no checkpoint was saved yet in {self.directory}"
        return f"the last good checkpoint (step {self.last_saved_step}) is in {self.directory}"


class CheckpointCallback(keras.callbacks.Callback):
    """Checkpoints a `model.fit` run like `train_loop` does, and stops it when the loss is NaN or Inf.

    Restore first (`checkpointer.restore(model)`), then fit on a stream that starts at the restored
    step (`pair_stream(..., start_batch=state.step)`) for the remaining steps, with this callback
    after any `StepLogger` so the saved loss curve includes the step just done.

    Args:
        checkpointer: the run's `Checkpointer`.
        start_step: steps done before this `fit` (the restored step; 0 for a new run).
        monitor: a `TrainingMonitor` whose curve is saved with each checkpoint (`StepLogger.recorder`).

    Raises (from `fit`):
        FloatingPointError: when the loss becomes NaN or Inf, naming the step and the last good
            checkpoint; nothing is saved after it.
    """

    def __init__(self, checkpointer: Checkpointer, start_step: int = 0, monitor=None):
        super().__init__()
        self.checkpointer = checkpointer
        self.step = int(start_step)
        self.monitor = monitor

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        # Keras reports the epoch's running mean: it turns NaN or Inf at the first bad step and stays so.
        loss = float(logs["loss"]) if logs and "loss" in logs else 0.0
        if not math.isfinite(loss):
            self.model.stop_training = True
            raise FloatingPointError(
                f"the loss became {loss} at step {self.step}; {self.checkpointer.where()}. Lower the "
                "learning rate or check the inputs (pixels 0..255, pair labels 0/1)."
            )
        if self.checkpointer.due(self.step):
            self._save()

    def on_train_end(self, logs=None):
        if self.checkpointer.last_saved_step != self.step:
            self._save()

    def _save(self):
        state = self.monitor.state() if self.monitor is not None else None
        self.checkpointer.save(self.model, self.step, state)


__all__ = ["CheckpointCallback", "CheckpointError", "CheckpointState", "Checkpointer", "DEFAULT_EVERY"]
