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
        fsync_file(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_directory(path.parent)


def fsync_file(path: Path) -> None:
    """Flushes a written file's bytes to the disk.

    Args:
        path: the file.
    """
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_directory(path: Path) -> None:
    """Flushes a folder's entries, so that a rename into it survives a power cut, not only a kill.

    Args:
        path: the folder.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a folder; the rename is still atomic
    finally:
        os.close(fd)


def write_json(path: Path, value) -> None:
    """`value` as indented JSON, written atomically.

    Args:
        path: the file.
        value: JSON-ready data.
    """
    replace_atomically(Path(path), lambda temporary: temporary.write_text(json.dumps(value, indent=2) + "\n"))
