"""Loaders that turn files on disk (IDX, folders or zips of images, TFDS) into an `ImageSet`."""

from __future__ import annotations

import gzip
import io
import os
import zipfile
import zlib
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from .archives import MAX_TOTAL_BYTES, open_zip
from .imageset import DataError, ImageSet

FETCH_HINT = "`siamese-kit data fetch mnist`"

# IDX type codes (the third magic byte), stored big-endian on disk.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
COLOR_MODES = {"grayscale": ("L", 1), "rgb": ("RGB", 3)}

# Split name -> file prefixes, in the order they are tried (MNIST calls its test split "t10k").
_IDX_PREFIXES = {"train": ("train",), "test": ("t10k", "test")}


# --------------------------------------------------------------------------- IDX


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
            f"IDX file not found: {path}. Check the path, or download MNIST with {FETCH_HINT}."
        )
    raw, gzipped = _read_maybe_gzip(path)
    where = f"{path} (after gunzip)" if gzipped else str(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES or raw[3] == 0:
        raise DataError(
            f"{where} is not an IDX file: it starts with bytes {raw[:4].hex(' ') or '(empty)'}, "
            "an IDX file starts with 00 00 <type 08/09/0b/0c/0d/0e> <ndim>. Point to an IDX file "
            f"such as train-images-idx3-ubyte, or download it again with {FETCH_HINT}."
        )
    dtype, ndim = IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"{where} is truncated: its header needs {header} bytes for {ndim} dimension sizes but "
            f"the file has {len(raw)}. Download it again with {FETCH_HINT}."
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
            f"incomplete; download it again with {FETCH_HINT}."
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
                    f"inflate it. The file is damaged or not a dataset; download it again with {FETCH_HINT}."
                )
            return raw + f.read(declared + 1), True
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"{path} is a damaged gzip file ({e}). Delete it and download it again with "
            f"{FETCH_HINT}, or gunzip a good copy in its place."
        ) from e


def _find_idx_files(folder: Path, split: str) -> tuple[Path, Path]:
    """Paths of the images and labels IDX files of `split` in `folder`, under any accepted name.

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
                f"file there, or download MNIST with {FETCH_HINT}."
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
            f"IDX folder not found: {folder}. Pass the folder holding the *-idx3-ubyte files, or "
            f"download MNIST with {FETCH_HINT}."
        )
    images_path, labels_path = _find_idx_files(folder, split)
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


# --------------------------------------------------------------- class-per-folder images


def load_image_folder(
    path: str | os.PathLike,
    image_size: tuple[int, int] | None = None,
    color_mode: str = "grayscale",
    name: str | None = None,
    class_levels: int = 1,
) -> ImageSet:
    """Create a dataset from your own images: one subfolder per class, in a folder or a `.zip`.

    Layout: `path/<class name>/<image>` (images may sit deeper inside a class folder). A zip may
    wrap the class folders in a single top folder (`data.zip: data/cats/1.png`); the level holding
    the class folders is found by going down through lone folders. Labels are the class folder
    names in sorted order. Files whose name starts with "." and files that are not
    png/jpg/jpeg/bmp/gif are ignored, as are files lying beside the class folders. A zip is read in
    place, never extracted.

    With `class_levels=2` a class is a folder inside a group folder, `path/<group>/<class>/<image>`
    (Omniglot: `images_background/<Alphabet>/characterNN/<id>_<drawer>.png`). The class is then
    named `"<group>/<class>"`, classes are numbered in sorted `(group, class)` order, and the
    ImageSet gets `groups` (index of each image's group folder) and `group_names` (the sorted group
    folder names). Images lying directly in a group folder are ignored.

    Args:
        path: a folder or a `.zip` file.
        image_size: `(height, width)` to resize every image to while loading; without it all images
            must already have the same size.
        color_mode: `"grayscale"` (1 channel) or `"rgb"` (3 channels).
        name: name of the ImageSet; defaults to the folder or zip name.
        class_levels: `1` for `<class>/<image>`, `2` for `<group>/<class>/<image>`.

    Returns:
        ImageSet of uint8 images `[N, H, W, C]`, class names sorted, images in sorted path order;
        with `class_levels=2` also `groups` and `group_names`.

    Raises:
        DataError: if the path is missing, the zip holds an absolute or `..` member, a link, an
            encrypted member or a zip bomb (`siamese_kit.data.archives`), there are no
            class folders or no images, an image cannot be decoded (naming it), images differ in
            size and no `image_size` is given (naming two files and their sizes), or an argument
            is invalid.
    """
    return _read_image_folder(
        path, image_size, color_mode, name, class_levels, Image.Resampling.BILINEAR
    )


def _read_image_folder(
    path: str | os.PathLike,
    image_size: tuple[int, int] | None,
    color_mode: str,
    name: str | None,
    class_levels: int,
    resample: int,
) -> ImageSet:
    """`load_image_folder` with the resampling filter as an argument, for loaders that need another."""
    path = Path(path)
    if color_mode not in COLOR_MODES:
        raise DataError(f"color_mode must be one of {sorted(COLOR_MODES)}, got {color_mode!r}.")
    if class_levels not in (1, 2) or isinstance(class_levels, bool):
        raise DataError(
            f"class_levels must be 1 (<class>/<image>) or 2 (<group>/<class>/<image>), got "
            f"{class_levels!r}."
        )
    if image_size is not None:
        if (
            not isinstance(image_size, (tuple, list))
            or len(image_size) != 2
            or not all(isinstance(s, (int, np.integer)) and s > 0 for s in image_size)
        ):
            raise DataError(
                f"image_size must be (height, width) in positive pixels, got {image_size!r}."
            )
        image_size = (int(image_size[0]), int(image_size[1]))
    if not path.exists():
        raise DataError(
            f"Image folder not found: {path}. Pass a folder or .zip holding one subfolder per "
            "class."
        )
    name = name or (path.stem if path.is_file() else path.name)
    if path.is_dir():
        members = []
        for root, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if not _skipped(d)]  # don't descend into .git and the like
            parts = Path(root).relative_to(path).parts
            members.extend(parts + (f,) for f in files)
        reader = _FolderReader(path)
        return _load_members(
            path, members, reader, image_size, color_mode, name, class_levels, resample
        )
    # Every member is vetted (names, links, zip-bomb sizes) before any is read.
    archive = open_zip(path, "a folder or a zip holding one subfolder per class")
    with archive:
        members = []
        for info in archive.infolist():
            if not info.is_dir():
                members.append(tuple(info.filename.split("/")))
        reader = _ZipReader(path, archive)
        return _load_members(
            path, members, reader, image_size, color_mode, name, class_levels, resample
        )


def _skipped(part: str) -> bool:
    """Whether a path component marks something to ignore: hidden, or macOS zip metadata."""
    return part.startswith(".") or part == "__MACOSX"


def _wanted(member: tuple[str, ...]) -> bool:
    """Whether a member (path parts) is an image to load."""
    return not any(_skipped(p) for p in member) and member[-1].lower().endswith(IMAGE_SUFFIXES)


def _class_root(members: Sequence[tuple[str, ...]], class_levels: int = 1) -> tuple[str, ...]:
    """The folder (as path parts) whose subfolders are the classes (or, with 2 levels, the groups).

    Going down while the current folder holds no images and exactly one subfolder, and every image
    below that subfolder still lies at least `class_levels + 1` levels deep in it (inside a class
    folder), skips the wrapper folders a zip tool adds, yet keeps a lone class folder of images as a
    class and a lone group folder of class folders as a group.
    """

    def listing(prefix):
        n = len(prefix)
        below = [m for m in members if m[:n] == prefix]
        files = [p for p in below if len(p) == n + 1]
        dirs = sorted({p[n] for p in below if len(p) > n + 1})
        return below, files, dirs

    root: tuple[str, ...] = ()
    while True:
        _, files, dirs = listing(root)
        if files or len(dirs) != 1:
            return root
        child = root + (dirs[0],)
        below, _, _ = listing(child)
        if any(len(m) <= len(child) + class_levels for m in below):
            return root
        root = child


def _load_members(
    source: Path,
    members: Iterable[tuple[str, ...]],
    reader: "_FolderReader | _ZipReader",
    image_size: tuple[int, int] | None,
    color_mode: str,
    name: str,
    class_levels: int = 1,
    resample: int = Image.Resampling.BILINEAR,
) -> ImageSet:
    images_found = sorted(m for m in members if _wanted(m))
    example = "cats/1.png" if class_levels == 1 else "animals/cats/1.png"
    if not images_found:
        raise DataError(
            f"No images in {source}: expected one subfolder per class holding "
            f"{'/'.join(IMAGE_SUFFIXES)} files, e.g. {source}/{example}."
        )
    root = _class_root(images_found, class_levels)
    depth = len(root)
    in_classes = [
        m for m in images_found if m[:depth] == root and len(m) > depth + class_levels
    ]
    where = f"{source}/{'/'.join(root)}" if root else str(source)
    if not in_classes:
        if class_levels == 1:
            fix = f"e.g. {where}/cats/1.png and {where}/dogs/1.png"
        else:
            fix = (
                "inside a group folder (class_levels=2), e.g. "
                f"{where}/animals/cats/1.png and {where}/animals/dogs/1.png"
            )
        raise DataError(
            f"{where} holds images but no class subfolders; put each class's images in a folder of "
            f"its own, {fix}."
        )
    # Every folder at the class level is a class, even an empty one, so two sets (train/test) made
    # from the same folder names get the same label numbers. Sorting the part tuples (not the
    # joined names) keeps each group's classes together.
    keys = sorted(
        {m[depth : depth + class_levels] for m in in_classes} | reader.subfolders(root, class_levels)
    )
    index = {k: i for i, k in enumerate(keys)}
    labels = np.array([index[m[depth : depth + class_levels]] for m in in_classes], dtype=np.int64)
    class_names = tuple("/".join(k) for k in keys)
    groups, group_names = None, ()
    if class_levels == 2:
        group_names = tuple(sorted({k[0] for k in keys}))
        group_index = {g: i for i, g in enumerate(group_names)}
        groups = np.array([group_index[m[depth]] for m in in_classes], dtype=np.int64)

    mode, channels = COLOR_MODES[color_mode]
    images = None
    first = None
    for i, member in enumerate(in_classes):
        pixels = _decode(reader, member, mode, image_size, resample)
        if images is None:
            # Allocate once from the first image's size: no list of N arrays, no second copy.
            images = np.empty((len(in_classes),) + pixels.shape[:2] + (channels,), dtype=np.uint8)
            first = member
        elif pixels.shape[:2] != images.shape[1:3]:
            raise DataError(
                f"Images differ in size: {reader.describe(first)} is {_hw(images.shape[1:3])} but "
                f"{reader.describe(member)} is {_hw(pixels.shape[:2])}. Pass image_size=(height, "
                "width) to resize every image while loading."
            )
        images[i] = pixels.reshape(pixels.shape[:2] + (channels,))
    return ImageSet(
        images=images,
        labels=labels,
        class_names=class_names,
        groups=groups,
        group_names=group_names,
        name=name,
    )


def _hw(shape) -> str:
    return f"{shape[0]}x{shape[1]} (HxW)"


def _decode(
    reader, member: tuple[str, ...], mode: str, image_size, resample=Image.Resampling.BILINEAR
) -> np.ndarray:
    """Pixels `[H, W]` or `[H, W, 3]` of one member, converted to `mode` and resized once."""
    try:
        with Image.open(io.BytesIO(reader.read(member))) as img:
            img = img.convert(mode)
            if image_size is not None and img.size != (image_size[1], image_size[0]):
                img = img.resize((image_size[1], image_size[0]), resample)
            return np.asarray(img, dtype=np.uint8)
    except Exception as e:  # PIL signals bad data with many exception types; all mean unreadable
        # Pillow's own text for an unknown format names only its in-memory buffer, not the file.
        why = "not an image format Pillow can read" if isinstance(e, UnidentifiedImageError) else f"{type(e).__name__}: {e}"
        raise DataError(
            f"Cannot read image {reader.describe(member)}: {why}. Replace it with a readable image, or "
            "move it out of the dataset's folders."
        ) from e


class _FolderReader:
    """Reads members of a folder by relative path."""

    def __init__(self, root: Path):
        self.root = root

    def read(self, member: tuple[str, ...]) -> bytes:
        return self.root.joinpath(*member).read_bytes()

    def describe(self, member: tuple[str, ...]) -> str:
        return str(self.root.joinpath(*member))

    def subfolders(self, parts: tuple[str, ...], levels: int = 1) -> set[tuple[str, ...]]:
        """Folders exactly `levels` below `parts`, as name tuples, hidden ones left out."""
        found = {()}
        for _ in range(levels):
            found = {
                f + (p.name,)
                for f in found
                for p in self.root.joinpath(*parts, *f).iterdir()
                if p.is_dir() and not _skipped(p.name)
            }
        return found


class _ZipReader:
    """Reads members of an open zip in place."""

    def __init__(self, zip_path: Path, archive: zipfile.ZipFile):
        self.zip_path = zip_path
        self.archive = archive

    def read(self, member: tuple[str, ...]) -> bytes:
        return self.archive.read("/".join(member))

    def describe(self, member: tuple[str, ...]) -> str:
        return f"{self.zip_path} member {'/'.join(member)!r}"

    def subfolders(self, parts: tuple[str, ...], levels: int = 1) -> set[tuple[str, ...]]:
        """Folders exactly `levels` below `parts`, as name tuples, hidden ones left out."""
        n = len(parts)
        found = set()
        for info in self.archive.infolist():
            p = tuple(s for s in info.filename.split("/") if s)
            # A folder appears either as its own directory entry or as a prefix of a file path.
            if p[:n] == parts and len(p) >= n + levels + (0 if info.is_dir() else 1):
                found.add(p[n : n + levels])
        return {f for f in found if not any(_skipped(s) for s in f)}


# --------------------------------------------------------------------------- TFDS


def _tfds_batches(
    name: str,
    split: str,
    data_dir: str | os.PathLike | None,
    download: bool,
    keys: Sequence[str],
    key_args: Sequence[str],
    offline_hint: str,
) -> tuple[list[dict], object]:
    """All examples of a TFDS split as numpy batches, with the dataset info.

    Raises:
        DataError: if TFDS cannot load the split (the message ends with `offline_hint`), the split
            is empty, or a feature in `keys` is missing (naming the argument `key_args` that chose it).
    """
    # Imported here: tensorflow_datasets takes seconds to import and most users never call this.
    import tensorflow_datasets as tfds

    where = str(data_dir) if data_dir is not None else "the TFDS default data_dir"
    try:
        data, info = tfds.load(
            name,
            split=split,
            data_dir=None if data_dir is None else str(data_dir),
            download=download,
            as_supervised=False,
            with_info=True,
        )
        # Big batches are far faster than per-example iteration. Not batch_size=-1: it needs the
        # split size from the metadata, which mocked or partly prepared datasets lack.
        batches = list(tfds.as_numpy(data.batch(4096)))
    except Exception as e:  # TFDS raises assertion, network, registry and IO errors alike.
        raise DataError(
            f"TFDS could not load {name!r} split {split!r} from {where} "
            f"(download={download}): {type(e).__name__}: {str(e).strip()[:500]}\n{offline_hint}"
        ) from e
    if not batches:
        raise DataError(f"TFDS split {split!r} of {name!r} in {where} holds no examples.")
    for key, arg in zip(keys, key_args):
        if key not in batches[0]:
            raise DataError(
                f"TFDS dataset {name!r} has no feature {key!r}; pass {arg}= one of "
                f"{sorted(batches[0])}."
            )
    return batches, info


def load_tfds(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    image_key: str = "image",
    label_key: str = "label",
) -> ImageSet:
    """Load a TensorFlow Datasets catalog dataset (mnist, fashion_mnist, omniglot, ...) into memory.

    Args:
        name: TFDS name, optionally with a version, e.g. `"mnist"` or `"mnist:3.*.*"`.
        split: TFDS split, e.g. `"train"`, `"test"` or `"train[:10%]"`.
        data_dir: where TFDS keeps prepared data; defaults to TFDS's own (`~/tensorflow_datasets`).
        download: whether TFDS may download and prepare the data when it is not there yet.
        image_key: feature holding the images.
        label_key: feature holding the integer labels.

    Returns:
        ImageSet named `"<name>/<split>"`, with the class names TFDS knows for `label_key`.

    Raises:
        DataError: if TFDS cannot load the dataset (not prepared, no network, unknown name) or the
            features are missing; the message names the dataset, data_dir and the offline
            alternatives.
    """
    batches, info = _tfds_batches(
        name,
        split,
        data_dir,
        download,
        (image_key, label_key),
        ("image_key", "label_key"),
        offline_hint="Offline? Fetch MNIST with `siamese-kit data fetch mnist` and use "
        "`load_dataset('mnist')`, or load files you already have with `load_idx(folder)` or "
        "`load_image_folder(path)`.",
    )
    images = np.concatenate([b[image_key] for b in batches])
    labels = np.concatenate([b[label_key] for b in batches])
    class_names: tuple[str, ...] = ()
    try:
        class_names = tuple(info.features[label_key].names)
    except (AttributeError, KeyError, TypeError):
        pass  # not a ClassLabel feature: ImageSet numbers the classes itself
    return ImageSet(
        images=images,
        labels=labels.astype(np.int64),
        class_names=class_names,
        name=f"{name.split(':')[0]}/{split}",
    )


__all__ = ["read_idx", "load_idx", "load_image_folder", "load_tfds"]
