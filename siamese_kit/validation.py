"""Watching a model on its validation classes while it trains, and keeping its best step.

An open-set run trains on some classes and is judged on others. Trained long on few classes, a twin
learns what tells *those* classes apart and can get worse at classes it never saw: its training loss
keeps falling while its validation ROC AUC falls too. `ValidationWatch` measures the ROC AUC of a
fixed set of distinct validation pairs every few steps (the validation classes, never the test ones),
records the curve, and remembers the weights of the best step, so the run can keep that step instead
of the last one and say which it kept and why.

`train_loop` takes a watch (`watch=`); the contrastive recipe's `fit` takes `ValidationCallback(watch)`.
"""

from __future__ import annotations

import numpy as np

from ._checks import positive_int
from ._files import replace_atomically
from .data.imageset import DataError, ImageSet
from .data.streams.pairs import distinct_pairs
from .data.streams.seeds import derived_seed
from .evaluation import pair_scores, roc_auc

KEEP_CHOICES = ("best", "last")


class ValidationWatch:
    """The validation ROC AUC every `every` steps, and the weights of the best step so far.

    Args:
        validation_set: the validation part (an open split: classes the model does not train on).
        every: measure after every this many steps, after the last, and early on after `every // 8`,
            `every // 4` and `every // 2` steps (an open-set twin trained on few classes can peak there).
        keep: `"best"` to end training with the best step's weights, `"last"` to keep the last step's
            (the curve is recorded either way).
        num_pairs: distinct validation pairs measured (half same, half different, fewer when the part
            has fewer; the same pairs every time, so the curve moves with the model alone).
        seed: which pairs.
        keep_file: where the best weights are also written (a `.weights.h5` path, e.g. beside a run's
            checkpoints), so a resumed run still has them; None keeps them in memory only.

    Attributes:
        steps, scores: the measured curve. best_step, best_score: the best so far (None before any).

    Raises:
        ValueError: for a `keep` other than "best" or "last", or `every` not a positive integer.
        DataError: when the validation part has no same-class or no different-class pair, naming the fix.
    """

    metric = "roc_auc"

    def __init__(self, validation_set: ImageSet, every: int, keep: str = "best", num_pairs: int = 2000,
                 seed: int = 0, keep_file=None):
        if keep not in KEEP_CHOICES:
            raise ValueError(f"keep must be one of {', '.join(KEEP_CHOICES)}, got {keep!r}.")
        self.every = positive_int(every, "ValidationWatch: every")
        self.early_steps = sorted({part for part in (self.every // 8, self.every // 4, self.every // 2) if part > 0})
        self.keep = keep
        self.validation_set = validation_set
        try:
            self.pairs = distinct_pairs(validation_set, num_pairs, seed=derived_seed(seed, "validation watch pairs"))
        except DataError as error:
            raise DataError(f"watching validation while training: {error} Give the validation part at least two "
                            "classes with two images each, or train without watching (keep='last').") from None
        self.keep_file = keep_file
        self.steps: list[int] = []
        self.scores: list[float] = []
        self.best_step: int | None = None
        self.best_score: float | None = None
        self._best_weights: list | None = None
        self.kept_step: int | None = None

    def due(self, step: int, total_steps: int) -> bool:
        """Whether to measure after `step` (every `every` steps, the early ones, and the last one).

        Args:
            step: steps done (1-based).
            total_steps: steps the run has in all.

        Returns:
            bool.
        """
        return step % self.every == 0 or step == total_steps or step in self.early_steps

    def measure(self, model, step: int) -> float:
        """Scores the validation pairs with the model as it is now, and remembers it if it is the best.

        Args:
            model: the model being trained (anything with `embed` and `score_kind`).
            step: steps done.

        Returns:
            the validation ROC AUC.
        """
        embeddings = model.embed(self.validation_set)
        score = float(roc_auc(pair_scores(model, embeddings, self.pairs), self.pairs.pair_label, model.score_kind))
        self.steps.append(int(step))
        self.scores.append(score)
        # Strictly better: on a tie the earlier step stays, the less trained of two equals.
        if self.best_score is None or score > self.best_score:
            self.best_step, self.best_score = int(step), score
            self._best_weights = [np.array(value) for value in model.get_weights()]
            if self.keep_file is not None:
                replace_atomically(self.keep_file, model.save_weights)
        return score

    def finish(self, model) -> int | None:
        """Ends the watch: with `keep="best"` the model gets the best step's weights back.

        Args:
            model: the trained model.

        Returns:
            the step whose weights the model now holds (the last measured one with `keep="last"`), or None
            when nothing was measured.
        """
        if not self.steps:
            return None
        if self.keep == "best" and self.best_step != self.steps[-1]:
            if self._best_weights is not None:
                model.set_weights(self._best_weights)
            elif self.keep_file is not None:
                model.load_weights(self.keep_file)
            else:
                raise RuntimeError(f"the weights of step {self.best_step} were not kept; resume with the same "
                                   "keep_file the run started with.")
            self.kept_step = self.best_step
        else:
            self.kept_step = self.steps[-1]
        return self.kept_step

    def load_state(self, state: dict | None) -> None:
        """Continues a resumed run's curve (a monitor's `validation` state: `steps` and `scores`); the best
        step is the curve's first maximum, and its weights come from `keep_file` when they are needed.

        Args:
            state: the curve saved with the checkpoint, or None.
        """
        if not state or not state.get("steps"):
            return
        self.steps = [int(s) for s in state["steps"]]
        self.scores = [float(v) for v in state["scores"]]
        best = int(np.argmax(self.scores))
        self.best_step, self.best_score = self.steps[best], self.scores[best]
        self._best_weights = None

    def history(self) -> dict[str, list]:
        """Returns:
        dict with `step` and `validation_roc_auc` lists, for `plotting.validation_curve`."""
        return {"step": list(self.steps), f"validation_{self.metric}": list(self.scores)}

    def summary(self, total_steps: int) -> dict:
        """What the watch measured and which step the model keeps, in words and numbers.

        Args:
            total_steps: steps the run had in all.

        Returns:
            dict with `metric`, `every`, `pairs` (same / different), `steps`, `scores`, `best_step`,
            `best_score`, `kept_step`, `keep` and `why` (one sentence for the report).
        """
        last = self.scores[-1] if self.scores else None
        if self.kept_step is None:
            why = "nothing was measured."
        elif self.keep == "best" and self.kept_step != self.steps[-1]:
            why = (f"kept step {self.kept_step} of {total_steps}: its validation ROC AUC {self.best_score:.4f} was the "
                   f"best measured; the last step's was {last:.4f}: trained on, the model told the classes it "
                   "trains on apart better and the unseen validation classes worse.")
        elif self.keep == "best":
            why = (f"kept the last step ({self.kept_step}): its validation ROC AUC {last:.4f} was the best measured.")
        else:
            why = (f"kept the last step ({self.kept_step}, keep=last): validation ROC AUC {last:.4f}; the best "
                   f"measured was {self.best_score:.4f} at step {self.best_step}.")
        return {
            "metric": self.metric, "every": self.every, "early_steps": list(self.early_steps),
            "pairs": {"same": int(self.pairs.pair_label.sum()),
                      "different": int(len(self.pairs.pair_label) - self.pairs.pair_label.sum())},
            "steps": list(self.steps), "scores": [round(v, 4) for v in self.scores],
            "best_step": self.best_step, "best_score": None if self.best_score is None else round(self.best_score, 4),
            "kept_step": self.kept_step, "keep": self.keep, "why": why,
        }


def validation_callback(watch: ValidationWatch, total_steps: int, start_step: int = 0, monitor=None):
    """A Keras callback running a watch inside `model.fit` (one step a batch), for recipes trained by `fit`.

    Args:
        watch: the `ValidationWatch`.
        total_steps: steps the run has in all.
        start_step: steps done before this `fit` (a resumed run).
        monitor: a `TrainingMonitor` (or anything with `update_validation(step, score)`) told each score.

    Returns:
        a `keras.callbacks.Callback`. Put it before a checkpoint callback (so a checkpoint holds the curve up to
        its step) and call `watch.finish(model)` after `fit` (after the last checkpoint, which must hold the
        last step's weights, not the kept ones).
    """
    import keras

    class _Watching(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.step = int(start_step)

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if watch.due(self.step, total_steps):
                score = watch.measure(self.model, self.step)
                if monitor is not None:
                    monitor.update_validation(self.step, score)

    return _Watching()


__all__ = ["KEEP_CHOICES", "ValidationWatch", "validation_callback"]
