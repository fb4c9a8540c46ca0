"""Lake et al.'s 20 within-alphabet, 20-way one-shot runs (`all_runs.zip` of the Omniglot repository).

Each run `runNN/` holds 20 training images `training/classMM.png` (one drawing of each of 20
characters from one alphabet of the evaluation set) and 20 test images `test/itemKK.png` (another
drawing of each of them), and `class_labels.txt`, whose lines `runNN/test/itemKK.png
runNN/training/classMM.png` give each test image's right answer. A trial shows one test image and
asks which of the 20 training images is the same character; 20 runs x 20 trials = 400 trials.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ..imageset import DataError
from .omniglot import RESAMPLE, _image_size, omniglot_dir, OMNIGLOT_ENV, OMNIGLOT_URL
from .archives import open_zip
from .folders import _decode as _decode_member, _DecodeOptions

LABELS_FILE = "class_labels.txt"


@dataclass(frozen=True)
class OneShotRun:
    """One run of Lake's one-shot benchmark.

    Attributes:
        name: the run's folder name, e.g. `"run01"`.
        support_images: uint8 `[S, H, W, 1]`, the training images (one per class) in file order.
        query_images: uint8 `[Q, H, W, 1]`, the test images in file order.
        answers: int `[Q]`, for each test image the index of its class among `support_images`.
        support_files: file names of the training images, e.g. `"class01.png"`.
        query_files: file names of the test images, e.g. `"item01.png"`.
    """

    name: str
    support_images: np.ndarray
    query_images: np.ndarray
    answers: np.ndarray
    support_files: tuple[str, ...]
    query_files: tuple[str, ...]

    @property
    def ways(self) -> int:
        """Number of candidate classes (20 in Lake's runs)."""
        return len(self.support_images)


class _Tree:
    """Files of a folder or of a zip read in place, by '/'-joined relative name."""

    def __init__(self, source: Path):
        self.source = source
        if source.is_dir():
            self.names = sorted(
                p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()
            )
            self._read = lambda name: (source / name).read_bytes()
            return
        # Every member is vetted (names, links, zip-bomb sizes) before any is read.
        archive = open_zip(source, "all_runs.zip or the folder it unzips to")
        self.names = sorted(i.filename for i in archive.infolist() if not i.is_dir())
        self._archive = archive
        self._read = archive.read

    def read(self, name: str) -> bytes:
        return self._read(name)

    def close(self) -> None:
        if hasattr(self, "_archive"):
            self._archive.close()

    def describe(self, name: str) -> str:
        return f"{self.source} member {name!r}" if self.source.is_file() else str(self.source / name)


def _find_runs_source(path) -> Path:
    if path is None:
        base = omniglot_dir()
        if base is None or not base.is_dir():
            raise DataError(
                f"Lake's one-shot runs not found: {OMNIGLOT_ENV} is not set (or its folder does not "
                f"exist). Download all_runs.zip from {OMNIGLOT_URL} and set {OMNIGLOT_ENV} to the "
                "folder holding it, or pass its path to load_lake_runs."
            )
        for candidate in (base / "all_runs.zip", base / "all_runs"):
            if candidate.exists():
                return candidate
        raise DataError(
            f"No all_runs.zip or all_runs/ in {base}. Download all_runs.zip from {OMNIGLOT_URL} "
            "into that folder, or pass its path to load_lake_runs."
        )
    source = Path(path).expanduser()
    if not source.exists():
        raise DataError(f"Lake runs path not found: {source}. Pass all_runs.zip or its unzipped folder.")
    return source


def _decode(tree: _Tree, name: str, size) -> np.ndarray:
    """Grey pixels `[H, W, 1]` of one file, resized once, by the same decoder as the image loaders."""
    return _decode_member(tree, name, _DecodeOptions("L", size, RESAMPLE))[..., np.newaxis]


def _read_run(tree: _Tree, prefix: str, run: str, size) -> OneShotRun:
    """One run whose files sit under `prefix + run + '/'`."""
    labels_name = f"{prefix}{run}/{LABELS_FILE}"
    support_files = tuple(
        n[len(f"{prefix}{run}/training/"):] for n in tree.names if n.startswith(f"{prefix}{run}/training/")
    )
    query_files = tuple(
        n[len(f"{prefix}{run}/test/"):] for n in tree.names if n.startswith(f"{prefix}{run}/test/")
    )
    if labels_name not in tree.names or not support_files or not query_files:
        raise DataError(
            f"{tree.describe(prefix + run)} is not a complete run: it needs {LABELS_FILE}, "
            "training/ and test/ images. Re-download all_runs.zip."
        )
    answers = np.full(len(query_files), -1, dtype=np.int64)
    lines = [l for l in tree.read(labels_name).decode("utf-8").splitlines() if l.strip()]
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        # Paths in the file are relative to the zip's root: runNN/test/itemKK.png.
        query = fields[0].rsplit("/", 1)[-1] if len(fields) == 2 else None
        support = fields[1].rsplit("/", 1)[-1] if len(fields) == 2 else None
        if query not in query_files or support not in support_files:
            raise DataError(
                f"{tree.describe(labels_name)} line {number}: {line!r} should name a test image "
                f"and a training image of {run} (e.g. '{run}/test/item01.png "
                f"{run}/training/class01.png')."
            )
        answers[query_files.index(query)] = support_files.index(support)
    if (answers < 0).any():
        missing = query_files[int(np.flatnonzero(answers < 0)[0])]
        raise DataError(f"{tree.describe(labels_name)} gives no answer for test image {missing!r}.")
    return OneShotRun(
        name=run,
        support_images=np.stack([_decode(tree, f"{prefix}{run}/training/{f}", size) for f in support_files]),
        query_images=np.stack([_decode(tree, f"{prefix}{run}/test/{f}", size) for f in query_files]),
        answers=answers,
        support_files=support_files,
        query_files=query_files,
    )


def load_lake_runs(path: str | os.PathLike | None = None, image_size=None) -> list[OneShotRun]:
    """Load Lake et al.'s 20 one-shot runs from `all_runs.zip` (read in place) or its folder.

    Args:
        path: `all_runs.zip`, the folder it unzips to, or a folder holding either; None looks in
            `omniglot_dir()` (the `SIAMESE_KIT_OMNIGLOT` folder).
        image_size: resize every image once while loading, with the same area averaging as
            `load_omniglot` (an int for a square, or `(height, width)`); None keeps 105x105.

    Returns:
        list of `OneShotRun`, sorted by run name (run01 ... run20).

    Raises:
        DataError: if the runs cannot be found (saying how to get them), a zip member's name is
            absolute or contains `..` or the zip holds a link or a zip bomb, a run is incomplete, `class_labels.txt` names a file that is
            not there, or an image cannot be decoded (naming it).

    Example:
        >>> runs = load_lake_runs(image_size=28)
        >>> len(runs), runs[0].support_images.shape, runs[0].answers[:3]
        (20, (20, 28, 28, 1), array([...]))
    """
    size = _image_size(image_size)
    source = _find_runs_source(path)
    if source.is_dir() and not any(source.glob("run*")) and (source / "all_runs.zip").exists():
        source = source / "all_runs.zip"
    tree = _Tree(source)
    try:
        runs: dict[str, str] = {}  # run name -> the wrapper folders in front of it, as a prefix
        for name in tree.names:
            parts = name.split("/")
            if parts[-1] == LABELS_FILE and len(parts) >= 2:
                runs[parts[-2]] = "".join(p + "/" for p in parts[:-2])
        if not runs:
            raise DataError(
                f"No one-shot runs in {source}: expected runNN/{LABELS_FILE} with runNN/training/ "
                f"and runNN/test/ images, as in all_runs.zip from {OMNIGLOT_URL}."
            )
        return [_read_run(tree, runs[run], run, size) for run in sorted(runs)]
    finally:
        tree.close()
