"""The one low-level downloader every dataset module calls: where data lives, digests, a reachability
probe, streamed downloads with a size limit, and installs that leave nothing half-written.

Nothing here knows a dataset; `mnist.py`, `omniglot.py` and `catalog.py` build on it, so the modules
that fetch never import each other in a circle.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path

from ..imageset import DataError

CHUNK_BYTES = 1 << 20
ONLINE_TIMEOUT_S = 3.0


class ChecksumError(DataError):
    """A downloaded or supplied file does not match its published digest."""


def data_home() -> Path:
    """The folder where fetched datasets live.

    Returns:
        `$SIAMESE_KIT_DATA` if set, else `$XDG_CACHE_HOME/siamese_kit`, else
        `~/.cache/siamese_kit`. The folder is not created here.

    Raises:
        Nothing.
    """
    if os.environ.get("SIAMESE_KIT_DATA"):
        return Path(os.environ["SIAMESE_KIT_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "siamese_kit"


def announce(message: str) -> None:
    """Prints a progress line of a fetch, prefixed `siamese_kit:`.

    Args:
        message: what happened.
    """
    # Home shown as "~": shorter, and a notebook's saved output does not carry the machine's user folder.
    home = str(Path.home())
    if len(home) > 1:
        message = message.replace(home + os.sep, "~" + os.sep)
    print(f"siamese_kit: {message}", flush=True)


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file, read in chunks so that large files never sit in memory whole.

    Args:
        path: the file.
        algorithm: any `hashlib` name ("sha256", "md5", ...).

    Returns:
        the hex digest.
    """
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            h.update(chunk)
    return h.hexdigest()


def check_digest(what: str, algorithm: str, expected: str, actual: str, fix: str) -> None:
    """Refuses a file whose digest is not the published one.

    Args:
        what: the file, as the message names it.
        algorithm: the digest's name, e.g. "sha256".
        expected: the published digest.
        actual: the file's digest.
        fix: the last sentence of the message: what the user can do.

    Raises:
        ChecksumError: when `actual != expected`, naming both and the fix.
    """
    if actual != expected:
        raise ChecksumError(
            f"{what}: {algorithm} mismatch, expected {expected} but got {actual}; nothing was "
            f"installed. {fix}"
        )


@contextlib.contextmanager


def home_left_as_found(folder: Path):
    """Creates `folder` (and its parents) for an install, and removes what it created if the install
    fails and left them empty, so a refused fetch leaves nothing behind.

    Args:
        folder: the folder the install writes into.

    Returns:
        a context manager; the install runs inside it.
    """
    created = []
    for parent in reversed((folder, *folder.parents)):
        if not parent.exists():
            created.append(parent)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for made in reversed(created):
            try:
                made.rmdir()  # only if empty: anything else in it is not ours to remove
            except OSError:
                break
        raise


def reachable(host: tuple[str, int], timeout: float = ONLINE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to `host` opens within `timeout` seconds, DNS lookup included.

    The probe runs in a daemon thread because name resolution has no timeout of its own and can hang
    far longer than the connect on a misconfigured network.

    Args:
        host: `(name, port)`.
        timeout: seconds to wait for the connection.

    Returns:
        True when the connection opened.
    """
    result = []

    def probe():
        try:
            socket.create_connection(host, timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def replace_folder(staging: Path, target: Path) -> None:
    """Swaps `staging` in as `target`; an old `target` is moved aside first and removed after, and put
    back if the swap fails.

    Args:
        staging: a complete, verified folder on the same filesystem as `target`.
        target: where it belongs.
    """
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent)) / target.name
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old.parent, ignore_errors=True)


def download_url(url: str, destination: Path, max_bytes: int, timeout_s: float, what: str, offline_fix: str) -> None:
    """Streams `url` into `destination`, refusing once more than `max_bytes` arrive.

    Args:
        url: what to download.
        destination: the file to write (a staging file: the caller verifies it, then moves it in place).
        max_bytes: the most a genuine file can be; a download past it is not the file asked for.
        timeout_s: seconds to wait on the connection.
        what: the file's kind, as the refusal names it (e.g. "Omniglot zip").
        offline_fix: the sentence that says how to install the file without a network.

    Raises:
        DataError: when the download fails or runs past `max_bytes`.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, open(destination, "wb") as out:
            copied = 0
            for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                copied += len(chunk)
                if copied > max_bytes:
                    raise DataError(f"{url} sent more than {max_bytes:,} bytes, far more than any {what}; refusing it.")
                out.write(chunk)
    except (urllib.error.URLError, OSError) as e:
        raise DataError(f"could not download {url} ({e}). Offline? {offline_fix}") from e


__all__ = ["CHUNK_BYTES", "ChecksumError", "announce", "check_digest", "data_home", "download_url", "file_digest",
           "home_left_as_found", "reachable", "replace_folder"]
