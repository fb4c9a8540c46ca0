"""Your own images: class-per-folder trees and zips of them, read into an `ImageSet`.

Images come as users have them: PNG, JPEG, BMP, GIF, WebP or TIFF; 8- or 16-bit; grey, RGB, RGBA or
palette, mixed; photos turned by their EXIF orientation. 16-bit pixels are scaled to 0..255 (never
clipped), transparency is laid on white, and files that are not images are ignored and counted.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .archives import open_zip
from .pixels import eight_bit, fit_image, without_alpha
from ..imageset import DataError, ImageSet

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
COLOR_MODES = {"grayscale": ("L", 1), "rgb": ("RGB", 3)}
# Pillow's modes for grey pixels wider than 8 bits; `convert("L")` would clip them at 255.
@dataclass(frozen=True)
class FolderContents:
    """What reading a folder found: the images, and the files it did not use.

    Attributes:
        imageset: the images read, with `paths` naming each one.
        ignored: files that are not images by their name (`.DS_Store`, `Thumbs.db`, notes) or lie
            outside the class folders, as paths.
        skipped: `(path, reason)` of each image that could not be read, when `skip_bad` was set.
        members: each image's name inside the folder or zip (`cats/1.png`), in the imageset's order:
            the same whether the folder was given by a relative or an absolute path.
    """

    imageset: ImageSet
    ignored: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    members: tuple[str, ...] = ()


def load_image_folder(
    path: str | os.PathLike,
    image_size: tuple[int, int] | None = None,
    color_mode: str = "grayscale",
    name: str | None = None,
    class_levels: int = 1,
    keep_aspect: bool = False,
    skip_bad: bool = False,
) -> ImageSet:
    """Create a dataset from your own images: one subfolder per class, in a folder or a `.zip`.

    Layout: `path/<class name>/<image>` (images may sit deeper inside a class folder). A zip may
    wrap the class folders in a single top folder (`data.zip: data/cats/1.png`); the level holding
    the class folders is found by going down through lone folders. Labels are the class folder
    names in sorted order. Hidden files, files that are not images by their suffix
    (`IMAGE_SUFFIXES`) and files lying beside the class folders are ignored (`read_image_folder`
    lists them). A zip is read in place, never extracted.

    Pixels: 16-bit grey is scaled to 0..255 over the bits it holds (65535 -> 255; a 12-bit image in a
    16-bit file, 4095 -> 255), transparent areas become white, palette
    images are expanded, and a photo's EXIF orientation is applied, all before resizing.

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
        keep_aspect: with `image_size`, scale each image to fit inside it and pad the rest with the
            image's own border colour, instead of stretching it.
        skip_bad: leave out images that cannot be read instead of stopping at the first one
            (`read_image_folder` lists them with the reason).

    Returns:
        ImageSet of uint8 images `[N, H, W, C]`, class names sorted, images in sorted path order,
        `paths` naming each image's file; with `class_levels=2` also `groups` and `group_names`.

    Raises:
        DataError: if the path is missing, the zip holds an absolute or `..` member, a link, an
            encrypted member or a zip bomb (`siamese_kit.data.archives`), there are no
            class folders or no images, an image cannot be decoded (naming it) and `skip_bad` is
            off, images differ in size and no `image_size` is given (naming two files and their
            sizes), or an argument is invalid.
    """
    return read_image_folder(
        path, image_size, color_mode, name, class_levels, keep_aspect=keep_aspect, skip_bad=skip_bad
    ).imageset


def read_image_folder(
    path: str | os.PathLike,
    image_size: tuple[int, int] | None = None,
    color_mode: str = "grayscale",
    name: str | None = None,
    class_levels: int = 1,
    keep_aspect: bool = False,
    skip_bad: bool = False,
    resample: int = Image.Resampling.BILINEAR,
) -> FolderContents:
    """`load_image_folder`, also returning the files it ignored and the images it skipped.

    Args:
        path, image_size, color_mode, name, class_levels, keep_aspect, skip_bad: as for
            `load_image_folder`.
        resample: Pillow's resampling filter for resizing.

    Returns:
        FolderContents.

    Raises:
        DataError: as `load_image_folder`.
    """
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
    elif keep_aspect:
        raise DataError("keep_aspect needs image_size=(height, width): the size to fit each image into.")
    name = name or (path.stem if path.is_file() else path.name)
    options = _DecodeOptions(COLOR_MODES[color_mode][0], image_size, resample, keep_aspect)
    # Every zip member is vetted (names, links, zip-bomb sizes) before any is read.
    reader, members = _reader_of(path)
    try:
        return _load_members(path, members, reader, options, name, class_levels, skip_bad)
    finally:
        _close(reader)


def read_image_files(
    paths, image_size: tuple[int, int] | None = None, color_mode: str = "grayscale", keep_aspect: bool = False,
) -> np.ndarray:
    """Single image files (a query, a pair to verify) read exactly as a folder's images are.

    Args:
        paths: image file paths.
        image_size: `(height, width)` to resize to; None needs them all the same size.
        color_mode: `"grayscale"` or `"rgb"`.
        keep_aspect: pad rather than stretch.

    Returns:
        uint8 `[N, H, W, C]`.

    Raises:
        DataError: naming a file that is missing or unreadable, or two files of different sizes.
    """
    if color_mode not in COLOR_MODES:
        raise DataError(f"color_mode must be one of {sorted(COLOR_MODES)}, got {color_mode!r}.")
    options = _DecodeOptions(COLOR_MODES[color_mode][0], image_size, Image.Resampling.BILINEAR, keep_aspect)
    reader = _FileReader()
    images = []
    for path in paths:
        path = Path(path).expanduser()
        if not path.is_file():
            raise DataError(f"Image not found: {path}. Check the path.")
        pixels = _decode(reader, (str(path),), options)
        pixels = pixels.reshape(pixels.shape[:2] + (COLOR_MODES[color_mode][1],))
        if images and pixels.shape != images[0].shape:
            raise DataError(
                f"{path} is {_hw(pixels.shape)} but {paths[0]} is {_hw(images[0].shape)}; pass image_size to "
                "read both at one size."
            )
        images.append(pixels)
    if not images:
        raise DataError("read_image_files: no paths given.")
    return np.stack(images)


class _FileReader:
    """Reads single files by their full path (the one-part member)."""

    def read(self, member: tuple[str, ...]) -> bytes:
        return Path(member[0]).read_bytes()

    def describe(self, member: tuple[str, ...]) -> str:
        return member[0]


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


def _class_members(source: Path, members, reader, class_levels: int):
    """The images inside class folders (sorted), each one's class key, the class keys in label order,
    the class root's depth, and the files ignored."""
    members = sorted(members)
    images_found = [m for m in members if _wanted(m)]
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
    used = set(in_classes)
    ignored = tuple(
        reader.describe(m) for m in members if m not in used and not any(_skipped(p) for p in m)
    )
    # Every folder at the class level is a class, even an empty one, so two sets (train/test) made
    # from the same folder names get the same label numbers. Sorting the part tuples (not the
    # joined names) keeps each group's classes together.
    keys = sorted(
        {m[depth : depth + class_levels] for m in in_classes} | reader.subfolders(root, class_levels)
    )
    return in_classes, keys, depth, ignored, where


def _load_members(
    source: Path,
    members: Iterable[tuple[str, ...]],
    reader: "_FolderReader | _ZipReader",
    options: "_DecodeOptions",
    name: str,
    class_levels: int,
    skip_bad: bool,
) -> FolderContents:
    in_classes, keys, depth, ignored, where = _class_members(source, members, reader, class_levels)
    index = {k: i for i, k in enumerate(keys)}
    channels = COLOR_MODES["rgb" if options.mode == "RGB" else "grayscale"][1]
    images = None
    first = None
    kept, skipped = [], []
    for member in in_classes:
        try:
            pixels = _decode(reader, member, options)
        except DataError as e:
            if not skip_bad:
                raise
            skipped.append((reader.describe(member), str(e)))
            continue
        if images is None:
            # Allocate once from the first image's size: no list of N arrays, no second copy.
            images = np.empty((len(in_classes),) + pixels.shape[:2] + (channels,), dtype=np.uint8)
            first = member
        elif pixels.shape[:2] != images.shape[1:3]:
            raise DataError(
                f"Images differ in size: {reader.describe(first)} is {_hw(images.shape[1:3])} but "
                f"{reader.describe(member)} is {_hw(pixels.shape[:2])}. Pass image_size=(height, "
                "width) to resize every image while loading (keep_aspect=True to pad rather than "
                "stretch)."
            )
        images[len(kept)] = pixels.reshape(pixels.shape[:2] + (channels,))
        kept.append(member)
    if not kept:
        raise DataError(
            f"No image in {where} could be read ({len(skipped)} skipped, the first: {skipped[0][0]}: "
            f"{skipped[0][1]})."
        )
    labels = np.array([index[m[depth : depth + class_levels]] for m in kept], dtype=np.int64)
    groups, group_names = None, ()
    if class_levels == 2:
        group_names = tuple(sorted({k[0] for k in keys}))
        group_index = {g: i for i, g in enumerate(group_names)}
        groups = np.array([group_index[m[depth]] for m in kept], dtype=np.int64)
    imageset = ImageSet(
        images=images[: len(kept)],
        labels=labels,
        class_names=tuple("/".join(k) for k in keys),
        groups=groups,
        group_names=group_names,
        name=name,
        paths=tuple(reader.describe(m) for m in kept),
    )
    return FolderContents(imageset, ignored, tuple(skipped), tuple("/".join(m) for m in kept))


def _hw(shape) -> str:
    return f"{shape[0]}x{shape[1]} (HxW)"


@dataclass(frozen=True)
class _DecodeOptions:
    mode: str
    image_size: tuple[int, int] | None
    resample: int = Image.Resampling.BILINEAR
    keep_aspect: bool = False


def _decode(reader, member: tuple[str, ...], options: _DecodeOptions) -> np.ndarray:
    """Pixels `[H, W]` or `[H, W, 3]` of one member, in `options.mode`, turned upright and resized once."""
    describe = reader.describe(member)
    try:
        with Image.open(io.BytesIO(reader.read(member))) as opened:
            img = ImageOps.exif_transpose(opened)
            img = without_alpha(eight_bit(img, describe)).convert(options.mode)
            if options.image_size is not None:
                img = fit_image(img, options.image_size, options.keep_aspect, options.resample)
            return np.asarray(img, dtype=np.uint8)
    except DataError:
        raise
    except Exception as e:  # PIL signals bad data with many exception types; all mean unreadable
        # Pillow's own text for an unknown format names only its in-memory buffer, not the file.
        why = "not an image format Pillow can read" if isinstance(e, UnidentifiedImageError) else f"{type(e).__name__}: {e}"
        raise DataError(
            f"Cannot read image {describe}: {why}. Replace it with a readable image, move it out of "
            "the dataset's folders, or pass skip_bad=True (`--skip-bad`) to leave it out."
        ) from e


@dataclass(frozen=True)
class FolderListing:
    """The images a folder or `.zip` of class folders holds, found without decoding any.

    Attributes:
        members: each image's name inside it (`cats/1.png`), sorted, as `read_image_folder` orders them.
        labels: int64 `[N]`, each image's class (class folders in sorted order).
        class_names: the class folder names.
        paths: each image's file (for a zip, `<zip> member '<name>'`).
    """

    members: tuple[str, ...]
    labels: np.ndarray
    class_names: tuple[str, ...]
    paths: tuple[str, ...]


def _reader_of(path: Path):
    """A reader for a folder, or an open zip's reader (the caller closes `reader.archive`)."""
    if not path.exists():
        raise DataError(f"Image folder not found: {path}. Pass a folder or .zip holding one subfolder per class.")
    if path.is_dir():
        members = []
        for root, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if not _skipped(d)]  # don't descend into .git and the like
            parts = Path(root).relative_to(path).parts
            members.extend(parts + (f,) for f in files)
        return _FolderReader(path), members
    archive = open_zip(path, "a folder or a zip holding one subfolder per class")
    return _ZipReader(path, archive), [tuple(i.filename.split("/")) for i in archive.infolist() if not i.is_dir()]


def _close(reader) -> None:
    if isinstance(reader, _ZipReader):
        reader.archive.close()


def list_image_folder(path: str | os.PathLike) -> FolderListing:
    """The images of a folder or `.zip` of class folders and their classes, as `read_image_folder`
    finds them (`class_levels=1`), without decoding one: for a gallery whose embeddings are cached.

    Args:
        path: a folder or a `.zip` file.

    Returns:
        FolderListing.

    Raises:
        DataError: as `read_image_folder`, for a missing path, an unsafe zip or no class folders.
    """
    path = Path(path)
    reader, members = _reader_of(path)
    try:
        in_classes, keys, depth, _, _ = _class_members(path, members, reader, 1)
        index = {k: i for i, k in enumerate(keys)}
        return FolderListing(tuple("/".join(m) for m in in_classes),
                             np.array([index[m[depth:depth + 1]] for m in in_classes], dtype=np.int64),
                             tuple("/".join(k) for k in keys), tuple(reader.describe(m) for m in in_classes))
    finally:
        _close(reader)


def read_folder_members(path: str | os.PathLike, members: Sequence[str], image_size: tuple[int, int],
                        color_mode: str = "grayscale", keep_aspect: bool = False) -> np.ndarray:
    """Some images of a folder or `.zip`, by member name, decoded as `read_image_folder` decodes them.

    Args:
        path: the folder or zip.
        members: names inside it (`FolderListing.members`).
        image_size: `(height, width)`.
        color_mode: `"grayscale"` or `"rgb"`.
        keep_aspect: pad rather than stretch.

    Returns:
        uint8 `[len(members), H, W, C]`.

    Raises:
        DataError: naming an image that cannot be read.
    """
    path = Path(path)
    mode, channels = COLOR_MODES[color_mode]
    options = _DecodeOptions(mode, tuple(image_size), Image.Resampling.BILINEAR, keep_aspect)
    images = np.empty((len(members), *image_size, channels), np.uint8)
    reader = _FolderReader(path) if path.is_dir() else _ZipReader(path, open_zip(path, "a folder or a zip"))
    try:
        for row, member in enumerate(members):
            images[row] = _decode(reader, tuple(member.split("/")), options).reshape(*image_size, channels)
    finally:
        _close(reader)
    return images


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


__all__ = [
    "COLOR_MODES", "FolderContents", "FolderListing", "IMAGE_SUFFIXES", "list_image_folder", "load_image_folder",
    "read_folder_members", "read_image_files", "read_image_folder",
]
