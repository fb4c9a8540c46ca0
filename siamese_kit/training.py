"""Training helpers: learning-rate schedules and callbacks shared by the CLI, benchmarks and notebooks."""

from __future__ import annotations

import math
import time

import keras
from keras import ops

from .layers import PACKAGE


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


class StepLogger(keras.callbacks.Callback):
    """Records the mean loss of every `every` steps and prints a short progress line now and then.

    Keras reports a loss averaged since the start of the epoch; recording the per-step value instead
    gives a training curve whose shape does not depend on how steps are grouped into epochs.

    Args:
        total_steps: steps planned, for the progress line.
        pairs_per_step: batch size, to report pairs per second.
        every: record the loss every this many steps.
        print_every: print a line every this many steps (0 for silence).

    Attributes:
        steps, losses: the recorded curve.
    """

    def __init__(self, total_steps: int, pairs_per_step: int, every: int = 10, print_every: int = 500):
        super().__init__()
        self.total_steps = total_steps
        self.pairs_per_step = pairs_per_step
        self.every = max(1, every)
        self.print_every = print_every
        self.steps: list[int] = []
        self.losses: list[float] = []
        self._step = 0
        self._previous_sum = 0.0
        self._window_sum, self._window_count = 0.0, 0
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_step = 0
        self._previous_sum = 0.0

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        self._epoch_step += 1
        running = float(logs["loss"]) if logs and "loss" in logs else math.nan
        # Undo Keras's running mean to recover this step's loss.
        current_sum = running * self._epoch_step
        step_loss = current_sum - self._previous_sum
        self._previous_sum = current_sum
        self._window_sum += step_loss
        self._window_count += 1
        if self._step % self.every == 0:
            self.steps.append(self._step)
            self.losses.append(self._window_sum / self._window_count)
            self._window_sum, self._window_count = 0.0, 0
        if self.print_every and (self._step % self.print_every == 0 or self._step == self.total_steps):
            elapsed = time.perf_counter() - self._start
            rate = self._step * self.pairs_per_step / max(elapsed, 1e-9)
            print(
                f"step {self._step:>6}/{self.total_steps}  loss {running:.4f}  "
                f"{rate:,.0f} pairs/s  {elapsed:.0f}s",
                flush=True,
            )

    def history(self) -> dict[str, list]:
        """Returns:
        dict with `step` and `loss` lists, for `plotting.training_curves(..., x_label="step")`."""
        return {"step": list(self.steps), "loss": list(self.losses)}
