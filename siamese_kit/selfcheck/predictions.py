"""Predictions before a run: write down what you expect, run, and see how far off you were.

A number predicted before training (the untrained loss, the accuracy at a fixed threshold, chance) is
how a student finds out whether they understand the setup; the reasoning printed beside the measured
number is the part to read when the guess was off.
"""

from __future__ import annotations

import math


def score_prediction(what: str, prediction, measured: float, tolerance: float, reasoning: str) -> bool | None:
    """Scores a prediction written down before a run against the measured number, and says why it is so.

    Args:
        what: what was predicted, e.g. "the untrained loss".
        prediction: your number, or None when you have not written one (the measured number and the
            reasoning are printed either way).
        measured: what the run measured.
        tolerance: how far off still counts as right (an absolute difference).
        reasoning: why the measured number is what it is, in a sentence or two.

    Returns:
        True when the prediction is within `tolerance`, False when it is not, None when there was none.
        Never raises for a wrong prediction: a prediction is for learning, not a test.

    Raises:
        TypeError: when `prediction` is neither None nor a number, or `measured`/`tolerance` are not finite
            numbers (a tolerance must also be >= 0).
    """
    for name, value in (("measured", measured), ("tolerance", tolerance)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
            raise TypeError(f"score_prediction: {name} must be a finite number, got {value!r}.")
    if tolerance < 0:
        raise TypeError(f"score_prediction: tolerance must be >= 0, got {tolerance!r}.")
    if prediction is None:
        print(f"… {what}: no prediction written; measured {measured:.4g}. {reasoning}")
        return None
    if isinstance(prediction, bool) or not isinstance(prediction, (int, float)) or not math.isfinite(float(prediction)):
        raise TypeError(f"score_prediction: your prediction of {what} must be a number (or None), got {prediction!r}.")
    off = float(prediction) - float(measured)
    if abs(off) <= tolerance:
        print(f"✓ {what}: you predicted {prediction:.4g}, measured {measured:.4g} (within {tolerance:g}). {reasoning}")
        return True
    print(f"✗ {what}: you predicted {prediction:.4g}, measured {measured:.4g}, {'over' if off > 0 else 'under'} by "
          f"{abs(off):.3g}. {reasoning}")
    return False


__all__ = ["score_prediction"]
