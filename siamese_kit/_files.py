"""Writing files so that a kill mid-write never leaves half of one."""

from __future__ import annotations

import json
import os
from pathlib import Path


def replace_atomically(path: Path, write) -> None:
    """`write(temporary)` beside `path`, then one rename: a kill mid-write never leaves half a file.

    Args:
        path: the file to (re)place.
        write: a function writing the whole file to the path it is given (same suffix as `path`).
    """
    path = Path(path)
    temporary = path.with_name(f".tmp-{os.getpid()}-{path.name}")  # keeps the suffix Keras checks
    try:
        write(temporary)
        with open(temporary, "rb") as f:
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_json(path: Path, value) -> None:
    """`value` as indented JSON, written atomically.

    Args:
        path: the file.
        value: JSON-ready data.
    """
    replace_atomically(Path(path), lambda temporary: temporary.write_text(json.dumps(value, indent=2) + "\n"))
