"""Helpers shared by every self-check: turning a student's answer into numbers, comparing, reporting."""

from __future__ import annotations

import numpy as np

# Float32 arithmetic in the student's code (Keras ops, TensorFlow) against float64 here.
TOLERANCE = 1e-4


def _ok(message: str) -> bool:
    print(f"✓ {message}")
    return True


def _as_array(value, what: str) -> np.ndarray:
    """A student's return value as a float64 numpy array (numpy, TensorFlow and Keras tensors alike)."""
    if value is None:
        raise AssertionError(f"{what} returned None: did you forget the `return`?")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise AssertionError(f"{what} returned {type(value).__name__}, which is not an array of numbers ({error}).") from None


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=TOLERANCE, atol=TOLERANCE))


def _check_function(student_fn, name: str) -> None:
    if not callable(student_fn):
        raise TypeError(f"{name}: student_fn must be a function, got {type(student_fn).__name__}; pass the "
                        "function itself (my_function), not its result (my_function(...)).")


def _check_seed(seed, name: str) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name}: seed must be an int, got {seed!r}.")


def _one_number(value, what: str, where: str, hint: str) -> float:
    """A student's answer that must be a single number (a loss, a rate, a metric), as a float.

    Args:
        value: what `student_fn` returned.
        what: the call, for the message (`"student_fn(scores, ...)"`).
        where: the check and its input, for the message.
        hint: what to do about an answer of the wrong shape.

    Returns:
        the number, as a Python float (it may be NaN or infinite; the caller judges that).

    Raises:
        AssertionError: if the answer is None, not numeric, or holds more than one number.
    """
    got = _as_array(value, what)
    if got.size != 1:
        raise AssertionError(f"{where}: expected one number, got an array of shape {got.shape}. {hint}")
    return float(got.reshape(()))
