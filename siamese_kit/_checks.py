"""Argument checks shared across the package, so each names the argument and its fix the same way."""

from __future__ import annotations

import numbers


def positive_int(value, what: str, error: type[Exception] = ValueError, example: str | None = None) -> int:
    """`value` as an int of at least 1, or an error that names the argument and what was given.

    Args:
        value: the argument (an int or a NumPy integer; a bool is refused).
        what: the caller and the argument's name, e.g. `"Checkpointer: every"`.
        error: the exception type to raise (`ValueError`, or `DataError` for data arguments).
        example: a sensible value to suggest, e.g. `"500"`.

    Returns:
        `int(value)`.

    Raises:
        `error`: for anything that is not a whole number of at least 1.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        hint = f" (e.g. {example})" if example else ""
        raise error(f"{what} must be a positive integer{hint}, got {value!r}.")
    return int(value)
