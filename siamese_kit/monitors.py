"""Progress monitors of training: the loss curve recorded, printed or drawn, and the Stop button.

`TrainingMonitor` records the curve (and the validation curve of a `siamese_kit.validation.ValidationWatch`)
and holds the stop flag; `TerminalMonitor` is a progress bar, `NotebookMonitor` a live plot with a Stop
button that leaves a static picture; `StepLogger` records the same curve from inside `model.fit`.
`siamese_kit.training.train_loop` reports to them; `siamese_kit.training` hands them on under their old
names.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np

from .tensorboard_log import open_log


class StepLogger(keras.callbacks.Callback):
    """A `fit` callback that records the loss curve like `train_loop`'s monitors and prints progress.

    Keras reports a loss averaged since the start of the epoch; this recovers each step's loss from
    that running mean and hands it to a `TrainingMonitor`, so a curve from `fit` and one from
    `train_loop` mean the same thing.

    Args:
        total_steps: steps planned, for the progress line.
        pairs_per_step: how many `unit`s one step holds (the batch size), for the speed.
        every: record the mean loss of every this many steps.
        print_every: print a line every this many steps (0 for silence).
        unit: what `pairs_per_step` counts, as `TrainingMonitor`.

    Attributes:
        recorder: the `TrainingMonitor` holding the curve (`steps`, `losses`).
    """

    def __init__(self, total_steps: int, pairs_per_step: int, every: int = 10, print_every: int = 500,
                 unit: str = "pairs"):
        super().__init__()
        self.recorder = TrainingMonitor(total_steps, pairs_per_step, record_every=every, unit=unit)
        self.print_every = print_every
        self._step = 0
        self._epoch_step = 0
        self._previous_sum = 0.0

    @property
    def steps(self) -> list[int]:
        return self.recorder.steps

    @property
    def losses(self) -> list[float]:
        return self.recorder.losses

    def load_state(self, state: dict | None, step: int) -> None:
        """Continues a resumed run: the curve recorded before `step` and the step count.

        Args:
            state: `TrainingMonitor.state()` saved with the checkpoint (None keeps an empty curve).
            step: steps already done.
        """
        self.recorder.load_state(state, step)
        self._step = int(step)

    def on_train_begin(self, logs=None):
        self.recorder.start(device="")
        log = open_log()
        if log is not None:
            log.watch_optimizer(self.model.optimizer)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_step = 0
        self._previous_sum = 0.0
        self._printed_sum = 0.0
        self._printed_epoch_step = 0

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        self._epoch_step += 1
        running = float(logs["loss"]) if logs and "loss" in logs else math.nan
        current_sum = running * self._epoch_step
        self.recorder.update(self._step, current_sum - self._previous_sum)
        self._previous_sum = current_sum
        total = self.recorder.total_steps
        if self.print_every and (self._step % self.print_every == 0 or self._step == total):
            # The mean over the steps since the last line, the quantity the recorded curve shows;
            # Keras's running mean since step 1 lags far behind it early in training.
            since = max(1, self._epoch_step - self._printed_epoch_step)
            recent = (current_sum - self._printed_sum) / since
            self._printed_sum, self._printed_epoch_step = current_sum, self._epoch_step
            elapsed = time.perf_counter() - self.recorder.started_at
            print(
                f"step {self._step:>6}/{total}  loss {recent:.4f} (mean of the last {since} steps)  "
                f"{self.recorder.speed_text(self._step)}  {elapsed:.0f}s",
                flush=True,
            )

    def history(self) -> dict[str, list]:
        """Returns:
        dict with `step` and `loss` lists, for `plotting.training_curves(..., x_label="step")`."""
        return self.recorder.history()


class TrainingMonitor:
    """Base of the progress monitors of `train_loop`: records the loss curve and holds the stop flag.

    Args:
        total_steps: steps planned.
        pairs_per_step: how many `unit`s one step holds, for the speed: the batch size of a pair
            stream; for an episode stream, its images per episode (with `unit="images"`) or 1
            (with `unit="episodes"`). The name stays for the callers that pass it by keyword.
        record_every: keep the mean loss of every this many steps.
        unit: what `pairs_per_step` counts, as the speed is worded: "pairs" gives "pairs/s",
            "images" "images/s", "episodes" "episodes/s".

    Attributes:
        steps, losses: the recorded curve; `stop_requested`: set to end training between steps.
        last_step: the last step reported to `update` (the restored step before any).
        ended_at: `time.perf_counter()` when a monitor's `close` froze its speed, else None.
        unit: as given.

    Raises:
        ValueError: if `unit` is not a non-empty string.
    """

    def __init__(self, total_steps: int, pairs_per_step: int, record_every: int = 10, unit: str = "pairs"):
        if not isinstance(unit, str) or not unit.strip():
            raise ValueError(
                f"unit must name what one step's items are, e.g. 'pairs', 'images' or 'episodes'; got {unit!r}."
            )
        self.total_steps = total_steps
        self.pairs_per_step = pairs_per_step
        self.unit = unit.strip()
        self.record_every = max(1, record_every)
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.stop_requested = False
        self._window: list[float] = []
        self.started_at = time.perf_counter()
        self.first_step = 0
        self.last_step = 0
        # Set when training ends, so the speed reported afterwards stops falling with the idle time.
        self.ended_at: float | None = None
        self.validation_steps: list[int] = []
        self.validation_scores: list[float] = []

    def state(self) -> dict:
        """Returns:
        the recorded curve and the unfinished averaging window, as JSON-ready lists (saved with a
        checkpoint so a resumed run continues the same curve)."""
        return {"steps": list(self.steps), "losses": list(self.losses), "window": list(self._window),
                "validation": {"steps": list(self.validation_steps), "scores": list(self.validation_scores)}}

    def load_state(self, state: dict | None, step: int) -> None:
        """Continues the curve of a resumed run that had done `step` steps.

        Args:
            state: what `state()` returned when the checkpoint was saved, or None.
            step: steps already done; progress and speed count from there.
        """
        if state:
            self.steps = [int(s) for s in state["steps"]]
            self.losses = [float(v) for v in state["losses"]]
            self._window = [float(v) for v in state["window"]]
            watched = state.get("validation") or {}
            self.validation_steps = [int(v) for v in watched.get("steps", [])]
            self.validation_scores = [float(v) for v in watched.get("scores", [])]
        self.first_step = self.last_step = int(step)

    def start(self, device: str) -> None:
        """Called once before the first step with the device description."""
        self.started_at = time.perf_counter()
        self.ended_at = None

    def update(self, step: int, loss: float) -> None:
        """Called after every step (1-based) with that step's loss."""
        self.last_step = step
        self._window.append(loss)
        if step % self.record_every == 0 or step == self.total_steps:
            self.steps.append(step)
            self.losses.append(float(np.mean(self._window)))
            self._window = []
            log = open_log()
            if log is not None:
                log.loss(step, self.losses[-1])

    def update_validation(self, step: int, score: float) -> None:
        """Called after a validation measurement (`siamese_kit.validation.ValidationWatch`).

        Args:
            step: steps done when it was measured.
            score: the validation ROC AUC.
        """
        self.validation_steps.append(int(step))
        self.validation_scores.append(float(score))
        log = open_log()
        if log is not None:
            log.scalars(step, {"validation/roc_auc": score})

    def close(self, reason: str) -> None:
        """Called once when training ends; `reason` says why (finished, stopped, ...)."""

    def items_per_second(self, step: int) -> float:
        """Speed since `start`, in `unit`s per second.

        Args:
            step: steps done so far (counting restored ones, which took no time here).

        Returns:
            `unit`s (`pairs_per_step` per step) trained per second.
        """
        done = step - self.first_step
        until = time.perf_counter() if self.ended_at is None else self.ended_at
        return done * self.pairs_per_step / max(until - self.started_at, 1e-9)

    def pairs_per_second(self, step: int) -> float:
        """The same number as `items_per_second`, under its first name (kept for existing callers).

        Args:
            step: steps done so far.

        Returns:
            `unit`s trained per second since `start`.
        """
        return self.items_per_second(step)

    def speed_text(self, step: int) -> str:
        """The speed worded with its unit, for progress lines.

        Args:
            step: steps done so far.

        Returns:
            e.g. "1,234 pairs/s" or "3.5 episodes/s" (a decimal below 10, where whole numbers are coarse).
        """
        rate = self.items_per_second(step)
        return f"{rate:,.0f} {self.unit}/s" if rate >= 10 else f"{rate:.1f} {self.unit}/s"

    def history(self) -> dict[str, list]:
        """Returns:
        dict with `step` and `loss` lists, for `plotting.training_curves(..., x_label="step")`."""
        return {"step": list(self.steps), "loss": list(self.losses)}


class TerminalMonitor(TrainingMonitor):
    """A terminal progress bar (tqdm) showing the loss and the speed; prints the device first.

    Args:
        total_steps, pairs_per_step, record_every, unit: as `TrainingMonitor`; the speed shows as
            `pairs_s=...` (`images_s=...`, `episodes_s=...`, after the unit).
        file: stream to write to (default stderr, as tqdm does).
    """

    def __init__(self, total_steps: int, pairs_per_step: int, record_every: int = 10, file=None,
                 unit: str = "pairs"):
        super().__init__(total_steps, pairs_per_step, record_every, unit=unit)
        self._file = file
        self._bar = None

    def start(self, device: str) -> None:
        from tqdm.auto import tqdm

        super().start(device)
        print(f"training on {device}", file=self._file, flush=True)
        self._bar = tqdm(total=self.total_steps, initial=self.first_step, unit="step", file=self._file,
                         dynamic_ncols=True)

    def update(self, step: int, loss: float) -> None:
        super().update(step, loss)
        self._bar.update(1)
        if step % self.record_every == 0:
            self._bar.set_postfix({"loss": f"{loss:.4f}", f"{self.unit}_s": f"{self.items_per_second(step):,.0f}"})

    def update_validation(self, step: int, score: float) -> None:
        super().update_validation(step, score)
        best = max(self.validation_scores)
        line = f"step {step}: validation ROC AUC {score:.4f}" + (" (best so far)" if score >= best else
                                                                    f" (best {best:.4f})")
        if self._bar is not None:
            self._bar.write(line, file=self._file)
        else:
            print(line, file=self._file, flush=True)

    def close(self, reason: str) -> None:
        if self._bar is not None:
            self._bar.close()
        print(f"training {reason}", file=self._file, flush=True)


class NotebookMonitor(TrainingMonitor):
    """A live loss plot that updates in place and a Stop button, for notebooks (ipywidgets).

    Clicking Stop ends training cleanly after the current step: the model keeps what it learned.
    While training runs, pending widget events are processed between steps (with `jupyter_ui_poll`
    when installed), so the click reaches the loop instead of waiting for the cell to finish.

    Widgets render blank wherever no kernel runs them (a notebook rendered to HTML, GitHub), so when
    training ends (`close`) the monitor also leaves a plain PNG of the final loss curve in the cell's
    output, titled with the steps done and whether training finished or was stopped.

    Args:
        total_steps, pairs_per_step, record_every, unit: as `TrainingMonitor`; the status line reads
            "1,234 pairs/s" (or "images/s", "episodes/s", after `unit`).
        plot_every: redraw the plot every this many steps.

    Attributes:
        stop_button, status, plot: the widgets (`widget` holds them all, for display).
    """

    def __init__(self, total_steps: int, pairs_per_step: int, record_every: int = 10, plot_every: int = 50,
                 unit: str = "pairs"):
        import ipywidgets as widgets

        super().__init__(total_steps, pairs_per_step, record_every, unit=unit)
        self.plot_every = max(1, plot_every)
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop")
        self.stop_button.on_click(self._on_stop)
        self.status = widgets.HTML("waiting to start")
        self.plot = widgets.Image(format="png", layout=widgets.Layout(width="560px"))
        self.widget = widgets.VBox([widgets.HBox([self.stop_button, self.status]), self.plot])
        self.redraws = 0
        self._poll_context = self._poll = None

    def _on_stop(self, _button=None) -> None:
        self.stop_requested = True
        self.stop_button.disabled = True
        self.status.value = "stopping after this step..."

    def _ipython_display_(self):
        from .widgets import display_widget

        display_widget(self.widget, "Training monitor: a live loss curve and a Stop button (in a running notebook; "
                                    "the final curve follows as a picture).")

    def start(self, device: str) -> None:
        super().start(device)
        self.status.value = f"training on <b>{device}</b>"
        try:
            from jupyter_ui_poll import ui_events

            self._poll_context = ui_events()
            self._poll = self._poll_context.__enter__()
        except Exception:  # not in a kernel, or the package is missing: clicks wait for the cell
            self._poll_context = self._poll = None

    def update(self, step: int, loss: float) -> None:
        super().update(step, loss)
        if self._poll is not None:
            self._poll(1)
        if step % self.plot_every == 0 or step == self.total_steps:
            self.redraw(step)

    def loss_figure(self, title: str | None = None):
        """The loss curve recorded so far, over the whole planned run.

        Args:
            title: axes title; None for none.

        Returns:
            a `matplotlib.figure.Figure` (made without pyplot, as `siamese_kit.plotting`'s are).
        """
        from matplotlib.figure import Figure

        from .plotting import training_curves

        figure = Figure(figsize=(6.0, 3.2), layout="constrained")
        ax = figure.subplots()
        training_curves(self.history(), keys="loss", title=title, ax=ax, x_label="step")
        if self.validation_steps:
            # On its own axis: a validation ROC AUC and a training loss share no scale.
            right = ax.twinx()
            right.plot(self.validation_steps, self.validation_scores, "o-", color="C1", markersize=3,
                       label="validation ROC AUC")
            right.set_ylabel("validation ROC AUC", color="C1")
            right.tick_params(axis="y", colors="C1")
        # The whole planned run on the x axis, so the curve's length shows the progress.
        ax.set_xlim(0, self.total_steps)
        return figure

    def redraw(self, step: int) -> None:
        """Draws the loss curve into the image widget and updates the status line."""
        from .widgets import figure_png

        self.plot.value = figure_png(self.loss_figure())
        self.redraws += 1
        last = self.losses[-1] if self.losses else float("nan")
        self.status.value = (
            f"step {step}/{self.total_steps} &nbsp; loss {last:.4f} &nbsp; {self.speed_text(step)}"
        )

    def summary(self, reason: str) -> str:
        """How training ended, in words: the final picture's title.

        Args:
            reason: what `train_loop` passed to `close` ("finished", "stopped by request after step 7",
                "stopped: loss became nan at step 5", ...).

        Returns:
            two lines, e.g. "Training stopped (by request after step 7): 7 of 100 steps" and
            "last recorded loss 0.4321, 1,234 pairs/s".
        """
        done = self.last_step
        if reason == "finished" and done >= self.total_steps:
            first = f"Training finished: {done} of {self.total_steps} steps"
        else:
            detail = reason[len("stopped"):].lstrip(" :") if reason.startswith("stopped") else reason
            first = f"Training stopped ({detail}): {done} of {self.total_steps} steps"
        last = f"last recorded loss {self.losses[-1]:.4f}, " if self.losses else ""
        return f"{first}\n{last}{self.speed_text(done)}"

    def close(self, reason: str) -> None:
        """Ends the live display and, in a notebook, leaves a static PNG of the final loss curve.

        Args:
            reason: why training ended, as `train_loop` says it.
        """
        self.ended_at = time.perf_counter()
        if self._poll_context is not None:
            self._poll_context.__exit__(None, None, None)
            self._poll_context = self._poll = None
        self.stop_button.disabled = True
        self.status.value = f"{self.status.value} &nbsp; <b>{reason}</b>"
        if _in_ipython_kernel():
            self._display_final_curve(reason)

    def _display_final_curve(self, reason: str) -> None:
        # A plain image output, unlike the widget, stays in the saved notebook and its HTML page.
        import base64

        from IPython.display import display

        from .widgets import figure_png

        summary = self.summary(reason)
        png = figure_png(self.loss_figure(title=summary), dpi=100)
        display({"image/png": base64.b64encode(png).decode("ascii"), "text/plain": summary}, raw=True)


def _in_ipython_kernel() -> bool:
    """Whether this runs in a Jupyter kernel, where a displayed image becomes part of the notebook."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


__all__ = ["NotebookMonitor", "StepLogger", "TerminalMonitor", "TrainingMonitor"]
