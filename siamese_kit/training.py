"""Training: the learning-rate schedule and the custom loop (`train_loop`); its progress monitors are in `monitors.py`."""

from __future__ import annotations

import math
import time

import keras
import numpy as np
from keras import ops

from ._checks import positive_int
from .devices import on_tensorflow
from .layers import PACKAGE
# The monitors live in their own module; these names stay importable from here, where callers found them.
from .monitors import NotebookMonitor, StepLogger, TerminalMonitor, TrainingMonitor
from .tensorboard_log import open_log


@keras.saving.register_keras_serializable(package=PACKAGE)
class InverseDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Caffe's "inv" learning-rate policy: `lr * (1 + gamma * step) ** (-power)`.

    Args:
        initial_learning_rate: rate at step 0.
        gamma: decay speed (Caffe's MNIST Siamese solver: 1e-4).
        power: decay exponent (Caffe's MNIST Siamese solver: 0.75).

    Returns (when called with a step):
        the learning rate at that step.
    """

    def __init__(self, initial_learning_rate: float, gamma: float = 1e-4, power: float = 0.75):
        self.initial_learning_rate = float(initial_learning_rate)
        self.gamma = float(gamma)
        self.power = float(power)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        return self.initial_learning_rate * ops.power(1.0 + self.gamma * step, -self.power)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "gamma": self.gamma,
            "power": self.power,
        }


def _every_worker_its_slice(stream):
    """`stream` set to be split batch by batch across workers (`AutoShardPolicy.DATA`).

    Every worker builds the same seeded stream; DATA sharding keeps, of each global batch, the
    slice for this worker's replicas, so the workers together train on exactly the batches one
    process would. OFF would hand every worker the same slice at each step (a global batch spread
    over two steps, each half trained twice), and AUTO tries FILE sharding first, which would split
    a file-backed stream by files. One worker or one process: nothing changes.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return stream.with_options(options)


def _stepper(model, stream, jit_compile: bool):
    """`(run_step, losses_of)` for the backend: `run_step()` trains on the stream's next batch and
    returns its loss (a device tensor on TensorFlow, left queued), `losses_of(pending)` reads a list of
    them back as floats."""
    if not on_tensorflow():
        iterator = iter(stream)

        def eager_step():
            # The metrics are reset first, so each reported loss is its own step's.
            model.reset_metrics()
            batch = keras.tree.map_structure(np.asarray, next(iterator))
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
            return model.train_on_batch(x, y, sample_weight, return_dict=True)["loss"]

        return eager_step, lambda pending: [float(value) for value in pending]
    import tensorflow as tf

    strategy = model.distribute_strategy

    def replica_step(batch):
        # Reset in the graph, so each reported loss is its own step's, at no host round trip.
        for metric in model.metrics:
            metric.reset_state()
        return model.train_step(batch)

    def one_step(batch):
        logs = strategy.run(replica_step, args=(batch,))
        # Replicas see equal shares of the global batch, so the mean of their means is the whole
        # batch's; without a strategy this is the step's own value.
        return strategy.reduce("MEAN", logs["loss"], axis=None)

    step_function = tf.function(one_step, jit_compile=jit_compile)
    iterator = iter(strategy.experimental_distribute_dataset(_every_worker_its_slice(stream)))
    # One transfer for all the queued steps' losses.
    return (lambda: step_function(next(iterator))), (lambda pending: np.asarray(tf.stack(pending)).tolist())


def train_loop(model, stream, steps: int, monitor: TrainingMonitor | None = None, jit_compile: bool = False,
               checkpoint=None, read_every: int | None = None, watch=None) -> dict:
    """A custom training loop: the model's own training step, one step at a time.

    It runs the model's own `train_step`, the very function `model.fit` runs, so the two paths
    cannot drift apart. On TensorFlow the step runs inside one `tf.function`; on JAX and PyTorch
    (`KERAS_BACKEND`) each step is `model.train_on_batch` on the stream's next batch, compiled as
    `model.compile(jit_compile=...)` says, and `jit_compile` here is unused. A model built and compiled under a `tf.distribute` strategy's `scope()` trains
    on all its replicas: the stream is split by the strategy (its batch is the global batch) and the
    reported loss is the global batch's. Under `MultiWorkerMirroredStrategy` every worker runs the
    same call on the same seeded stream and keeps its slice of each global batch, so two workers
    train as one process would; with a `checkpoint`, only the chief writes and every worker resumes
    from the same (shared) folder.

    The steps are queued without waiting for them: the losses are read back from the device in one
    transfer every `read_every` steps (by default the monitor's `record_every`), not after each step,
    so the host never stalls the accelerator to print a number. Each loss read is then reported to the
    monitor, the checks for NaN run, and the loop ends cleanly when the monitor asks (the notebook Stop
    button), so a Stop takes effect at the next read.

    With a `checkpoint` (`siamese_kit.checkpoint.Checkpointer`) it saves the model, the optimizer,
    the stream position and the curve every `checkpoint.every` steps, after the last step and on a
    Stop, and with `resume=True` it first restores the newest checkpoint and goes on from there: the
    run ends as an uninterrupted one would (bit-identical on CPU). The losses are always read before a
    save, so no checkpoint holds a step whose loss was not finite.

    Args:
        model: a compiled `SiameseModel` or `PrototypeModel`.
        stream: a pair or episode stream (`siamese_kit.data.pair_stream`), or a function of the
            first batch number returning one (`lambda start: pair_stream(..., start_batch=start)`),
            which lets a resumed run start its stream where it stopped at no cost; a plain stream
            is fast-forwarded by skipping the batches already trained on.
        steps: steps the run has in all (a resumed run does the ones left).
        monitor: a `TerminalMonitor`, `NotebookMonitor` or other `TrainingMonitor`; default silent.
        jit_compile: compile the step with XLA.
        checkpoint: a `Checkpointer`, or None for no checkpoints.
        read_every: read the losses back every this many steps; None uses `monitor.record_every`.
        watch: a `siamese_kit.validation.ValidationWatch` measuring the model on validation classes
            as it trains (each score goes to `monitor.update_validation`); at the end the model holds
            the step the watch keeps (with `keep="best"`, the best one). None watches nothing.

    Returns:
        dict with `steps_done` (counting restored steps), `stopped` (bool), `resumed_from` (the
        restored step, 0 for a new run), `seconds`, the monitor's `history`, and `kept_step` (the
        step whose weights the model holds: the watch's choice, else the last step done).

    Raises:
        FloatingPointError: if the loss becomes NaN or Inf, naming the first such step (and the last
            good checkpoint, which is kept).
        CheckpointError: if the checkpoint to resume does not fit the model or the settings.
    """
    import tensorflow as tf

    from .devices import device_report, strategy_scope

    if getattr(model, "optimizer", None) is None:
        raise ValueError("train_loop: compile the model first, e.g. model.compile(optimizer=..., loss=...).")
    monitor = monitor or TrainingMonitor(steps, 1)
    read_every = positive_int(monitor.record_every if read_every is None else read_every, "train_loop: read_every")
    with strategy_scope(model):
        # A model built under a tf.distribute strategy needs its optimizer slots mirrored too.
        model.optimizer.build(model.trainable_variables)

    first = position = 0
    if checkpoint is not None:
        restored = checkpoint.restore(model)
        if restored is not None:
            first, position = restored.step, restored.next_batch
            monitor.load_state(restored.monitor, first)
            if watch is not None:
                watch.load_state((restored.monitor or {}).get("validation"))
    if callable(stream) and not isinstance(stream, tf.data.Dataset):
        stream = stream(position)
    elif position:
        # Stateless-seeded streams give the same batches again, so skipping them lands on the next one.
        stream = stream.skip(position)
    run_step, losses_of = _stepper(model, stream, jit_compile)
    monitor.start(device_report())
    log = open_log()
    if log is not None:
        log.watch_optimizer(model.optimizer)
    start = time.perf_counter()
    steps_done, reason = first, "finished"
    pending = []

    def read_losses():
        nonlocal reason
        values = losses_of(pending)
        first_pending = steps_done - len(pending) + 1
        pending.clear()
        for step, loss in enumerate(values, start=first_pending):
            if not math.isfinite(loss):
                reason = f"stopped: loss became {loss} at step {step}"
                kept = f" {checkpoint.where()}." if checkpoint is not None else ""
                raise FloatingPointError(
                    f"train_loop: the loss became {loss} at step {step}; lower the learning rate or "
                    f"check the inputs (pixels 0..255, pair labels 0/1).{kept}"
                )
            monitor.update(step, loss)

    try:
        for step in range(first + 1, steps + 1):
            pending.append(run_step())
            steps_done = step
            save_now = checkpoint is not None and (checkpoint.due(step) or step == steps)
            watch_now = watch is not None and watch.due(step, steps)
            if step % read_every == 0 or step == steps or save_now or watch_now:
                read_losses()
                if watch_now:
                    monitor.update_validation(step, watch.measure(model, step))
                if checkpoint is not None and (save_now or monitor.stop_requested):
                    checkpoint.save(model, step, monitor.state())
                if monitor.stop_requested:
                    reason = f"stopped by request after step {step}"
                    break
    finally:
        monitor.close(reason)
    kept_step = watch.finish(model) if watch is not None else None
    return {
        "steps_done": steps_done,
        "stopped": steps_done < steps,
        "resumed_from": first,
        "seconds": time.perf_counter() - start,
        "history": monitor.history(),
        "kept_step": steps_done if kept_step is None else kept_step,
    }
