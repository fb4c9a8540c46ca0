"""IDX files (the MNIST format) as an `ImageSet`, gzipped or not (image folders: `folders.py`; TFDS:
`tfds.py`)."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

from ..imageset import DataError, ImageSet
from .archives import MAX_TOTAL_BYTES
from .download import data_home

FETCH_HINT = "`siamese-kit data fetch mnist`"


def _good_copy_hint(path: Path) -> str:
    """How to get a good copy of an IDX file: fetch again for the copy siamese-kit fetched, the
    user's own source for anything else (their file is not MNIST, and is never ours to delete)."""
    try:
        Path(path).resolve().relative_to((data_home() / "mnist").resolve())
    except ValueError:
        return "replace it with a good copy from where you got it"
    return f"download it again with {FETCH_HINT}"

# IDX type codes (the third magic byte), stored big-endian on disk.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


# Split name -> file prefixes, in the order they are tried (MNIST calls its test split "t10k").
_IDX_PREFIXES = {"train": ("train",), "test": ("t10k", "test")}





def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (the MNIST format), gzipped or not.

    The format is a 4-byte magic `00 00 <type> <ndim>`, then `ndim` big-endian uint32 sizes, then
    the values in row-major order. Gzip is detected from the file's first bytes, not its suffix.

    Args:
        path: the IDX file, e.g. `train-images-idx3-ubyte` or `train-images-idx3-ubyte.gz`.

    Returns:
        array of shape given by the header, in native byte order: uint8 for type 0x08, int8 0x09,
        int16 0x0B, int32 0x0C, float32 0x0D, float64 0x0E.

    Raises:
        DataError: if the file is missing, is not IDX, is shorter or longer than its header says, or
            is a damaged gzip; the message names the file and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"IDX file not found: {path}. Check the path (for MNIST itself: {FETCH_HINT})."
        )
    raw, gzipped = _read_maybe_gzip(path)
    where = f"{path} (after gunzip)" if gzipped else str(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES or raw[3] == 0:
        raise DataError(
            f"{where} is not an IDX file: it starts with bytes {raw[:4].hex(' ') or '(empty)'}, "
            "an IDX file starts with 00 00 <type 08/09/0b/0c/0d/0e> <ndim>. Point to an IDX file "
            f"such as train-images-idx3-ubyte, or {_good_copy_hint(path)}."
        )
    dtype, ndim = IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"{where} is truncated: its header needs {header} bytes for {ndim} dimension sizes but "
            f"the file has {len(raw)}. The file is incomplete; {_good_copy_hint(path)}."
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        problem = "is truncated" if found < expected else "has extra bytes after its data"
        # A gzip is inflated only one byte past the declared data, so "more" is all that is known.
        count = f"more than {expected}" if gzipped and found > expected else str(found)
        raise DataError(
            f"{where} {problem}: its header says shape {shape} of {dtype.name}, which is "
            f"{expected} bytes of data, but {count} bytes were found. The file is damaged or "
            f"incomplete; {_good_copy_hint(path)}."
        )
    values = np.frombuffer(raw, dtype=dtype, count=int(np.prod(shape)), offset=header)
    # frombuffer gives a read-only view of the bytes; astype copies into a writable native array.
    return values.reshape(shape).astype(dtype.newbyteorder("="))


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _read_maybe_gzip(path: Path) -> tuple[bytes, bool]:
    """The bytes of `path`, decompressed when it is gzip, and whether it was.

    A gzip is inflated only as far as its IDX header says the data goes (plus one byte, to notice
    extra data): a gzip bomb cannot make it take more memory than the header claims, and a header
    claiming more than `MAX_TOTAL_BYTES` (4 GiB) is refused before anything is inflated.
    """
    if not _is_gzip(path):
        return path.read_bytes(), False
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read(4)
            if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
                return raw, True  # not IDX: read_idx says so from these bytes
            raw += f.read(4 * raw[3])
            if len(raw) < 4 + 4 * raw[3]:
                return raw, True  # a short header: read_idx says so
            shape = np.frombuffer(raw, dtype=">u4", count=raw[3], offset=4).astype(np.int64)
            declared = int(np.prod(shape, dtype=np.float64) * IDX_DTYPES[raw[2]].itemsize)
            if declared > MAX_TOTAL_BYTES:
                raise DataError(
                    f"{path}: its IDX header claims shape {tuple(int(d) for d in shape)}, "
                    f"{declared:,} bytes of data (the limit is {MAX_TOTAL_BYTES:,}); refusing to "
                    f"inflate it. The file is damaged or not a dataset; {_good_copy_hint(path)}."
                )
            return raw + f.read(declared + 1), True
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"{path} is a damaged gzip file ({e}); {_good_copy_hint(path)}, or gunzip a good copy in "
            "its place."
        ) from e


def find_idx_files(folder: Path, split: str) -> tuple[Path, Path]:
    """Paths of the images and labels IDX files of `split` in `folder`, under any accepted name.

    Args:
        folder: the folder holding the IDX files.
        split: `"train"` or `"test"` (MNIST's `t10k-` files count as test).

    Returns:
        `(images_path, labels_path)`.

    Raises:
        DataError: if the split is unknown or a file is missing, naming every name looked for.
    """
    if split not in _IDX_PREFIXES:
        raise DataError(f"split must be one of {sorted(_IDX_PREFIXES)}, got {split!r}.")
    found = []
    for kind, ndim in (("images", 3), ("labels", 1)):
        names = [
            f"{prefix}-{kind}{sep}idx{ndim}-ubyte{gz}"
            for prefix in _IDX_PREFIXES[split]
            for sep in ("-", ".")
            for gz in ("", ".gz")
        ]
        hit = next((folder / n for n in names if (folder / n).is_file()), None)
        if hit is None:
            raise DataError(
                f"No {split} {kind} IDX file in {folder}: looked for {', '.join(names)}. Put the "
                f"file there under one of those names (for MNIST itself: {FETCH_HINT})."
            )
        found.append(hit)
    return found[0], found[1]


def load_idx(
    folder: str | os.PathLike,
    split: str = "train",
    name: str | None = None,
    class_names: Sequence[str] | None = None,
) -> ImageSet:
    """Load an IDX dataset laid out like MNIST (Fashion-MNIST, KMNIST, EMNIST, ...) from one folder.

    The folder holds `train-images-idx3-ubyte` and `train-labels-idx1-ubyte` for the train split and
    `t10k-...` (or `test-...`) for the test split, each optionally gzipped (`.gz`). The variant
    naming `train-images.idx3-ubyte` is accepted too.

    Args:
        folder: the folder holding the IDX files.
        split: `"train"` or `"test"`.
        name: name of the ImageSet; defaults to `"<folder name>/<split>"`, e.g. `"mnist/train"`.
        class_names: display name per label; defaults to `"0"`, `"1"`, ...

    Returns:
        ImageSet of uint8 images `[N, H, W, 1]` and their labels.

    Raises:
        DataError: if the folder or a file is missing or damaged, the images are not 3-D uint8, the
            labels are not 1-D, or the two files hold different counts.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(
            f"IDX folder not found: {folder}. Pass the folder holding the *-idx3-ubyte files (for "
            f"MNIST itself: {FETCH_HINT})."
        )
    images_path, labels_path = find_idx_files(folder, split)
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(
            f"{images_path} must hold uint8 images [N, H, W] (IDX type 08, 3 dimensions), got "
            f"{images.dtype} of shape {images.shape}; check that this is an images file."
        )
    if labels.ndim != 1:
        raise DataError(
            f"{labels_path} must hold one label per image [N] (1 dimension), got shape "
            f"{labels.shape}; check that this is a labels file."
        )
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            "labels; the two files must come from the same split and release."
        )
    return ImageSet(
        images=images,
        labels=labels.astype(np.int64),
        class_names=tuple(class_names or ()),
        name=name or f"{folder.name}/{split}",
    )


__all__ = ["find_idx_files", "load_idx", "read_idx"]
