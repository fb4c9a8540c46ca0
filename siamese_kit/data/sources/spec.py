"""One way to name any dataset: a folder or zip of class folders, an IDX folder, or `tfds:NAME`.

`load_source` reads it at the size and colour a model needs, so `siamese-kit train --data SOURCE`, a
run folder and the Python route all read the same images the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .folders import FolderContents, read_image_folder
from .pixels import fit_image
from ..imageset import DataError, ImageSet
from .idx import load_idx
from .tfds import load_tfds

COLORS = ("gray", "rgb")
_IDX_MARKERS = ("idx3-ubyte", "idx1-ubyte", "idx3-ubyte.gz", "idx1-ubyte.gz")


@dataclass(frozen=True)
class DataSource:
    """Where a dataset comes from and how its images are read; stored in a run folder.

    Args:
        source: a folder or `.zip` of class folders, a folder of IDX files, or `"tfds:NAME"`; a path
            is kept absolute.
        image_size: `(height, width)` every image is resized to; None keeps the images' own size
            (they must then agree).
        color: `"gray"` (1 channel) or `"rgb"` (3 channels).
        keep_aspect: pad rather than stretch when resizing.
        skip_bad: leave out unreadable images (listed) instead of stopping.
    """

    source: str
    image_size: tuple[int, int] | None = None
    color: str = "gray"
    keep_aspect: bool = False
    skip_bad: bool = False

    def __post_init__(self):
        if not self.source.startswith("tfds:"):
            # Absolute, so a run folder finds its data from any working directory.
            object.__setattr__(self, "source", str(Path(self.source).expanduser().resolve()))
        if self.color not in COLORS:
            raise DataError(f"color must be one of {COLORS}, got {self.color!r} (--color gray|rgb).")
        if self.image_size is not None:
            size = tuple(int(s) for s in self.image_size)
            if len(size) != 2 or min(size) < 1:
                raise DataError(f"image_size must be (height, width) in positive pixels, got {self.image_size!r}.")
            object.__setattr__(self, "image_size", size)

    @property
    def kind(self) -> str:
        """`"tfds"`, `"idx"`, `"zip"` or `"folder"`; a missing path is refused naming it."""
        if self.source.startswith("tfds:"):
            return "tfds"
        path = Path(self.source).expanduser()
        if not path.exists():
            raise DataError(
                f"Data source not found: {path}. Pass a folder or .zip holding one subfolder per class, "
                "a folder of IDX files, or tfds:NAME."
            )
        if path.is_dir() and any(f.name.endswith(_IDX_MARKERS) for f in path.iterdir() if f.is_file()):
            return "idx"
        return "zip" if path.is_file() else "folder"

    def to_dict(self) -> dict:
        """Returns:
        the fields as JSON-ready values."""
        values = asdict(self)
        values["image_size"] = list(self.image_size) if self.image_size else None
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "DataSource":
        """Args:
            values: as `to_dict` writes them.

        Returns:
            the DataSource."""
        size = values.get("image_size")
        return cls(**{**values, "image_size": tuple(size) if size else None})


def load_source(data: DataSource) -> FolderContents:
    """Reads every image of a data source, at its size and colour.

    IDX folders give their train and test files together (the run's own split decides what is
    tested); TFDS gives its `train` split. Their images are converted and resized like a folder's.

    Args:
        data: the DataSource.

    Returns:
        FolderContents: the ImageSet (with `paths`; for IDX and TFDS, `<file>[<index>]` and
        `tfds:<name>[<index>]`) and what was ignored or skipped.

    Raises:
        DataError: naming the source and the fix, for a missing source, an unreadable image, or
            images of different sizes with no `image_size`.
    """
    kind = data.kind
    if kind in ("folder", "zip"):
        return read_image_folder(
            Path(data.source).expanduser(), data.image_size, "rgb" if data.color == "rgb" else "grayscale",
            keep_aspect=data.keep_aspect, skip_bad=data.skip_bad,
        )
    if kind == "idx":
        folder = Path(data.source).expanduser()
        parts = [load_idx(folder, "train")]
        try:
            parts.append(load_idx(folder, "test"))
        except DataError:
            pass  # a folder with only the train files is a whole dataset too
        images = np.concatenate([p.images for p in parts])
        labels = np.concatenate([p.labels for p in parts])
        paths = tuple(f"{folder}/{p.name.rsplit('/', 1)[-1]}[{i}]" for p in parts for i in range(len(p)))
        imageset = ImageSet(images, labels, name=folder.name, paths=paths)
    else:
        name = data.source[len("tfds:"):]
        imageset = load_tfds(name, split="train")
        imageset = ImageSet(imageset.images, imageset.labels, imageset.class_names, name=name,
                            paths=tuple(f"tfds:{name}[{i}]" for i in range(len(imageset))))
    return FolderContents(conform(imageset, data.image_size, data.color, data.keep_aspect))


def conform(imageset: ImageSet, image_size: tuple[int, int] | None, color: str, keep_aspect: bool = False) -> ImageSet:
    """The same images at another size and colour (grey from RGB by ITU-R 601 luma, RGB from grey by
    repeating the channel), resized bilinearly; unchanged when they already fit.

    Args:
        imageset: the images.
        image_size: `(height, width)`, or None to keep the size.
        color: `"gray"` or `"rgb"`.
        keep_aspect: pad rather than stretch, as a folder's images are read (IDX and TFDS images
            are resized here, after loading).

    Returns:
        ImageSet, labels, names and paths kept.
    """
    images = imageset.images
    channels = 3 if color == "rgb" else 1
    same_size = image_size is None or tuple(images.shape[1:3]) == tuple(image_size)
    if same_size and images.shape[-1] == channels:
        return imageset
    mode = "RGB" if channels == 3 else "L"
    converted = []
    for pixels in images:
        image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
        image = image.convert(mode)
        if not same_size:
            image = fit_image(image, image_size, keep_aspect)
        converted.append(np.asarray(image, dtype=np.uint8).reshape(image.size[1], image.size[0], channels))
    return ImageSet(np.stack(converted), imageset.labels, imageset.class_names, imageset.groups,
                    imageset.group_names, imageset.name, imageset.paths)


__all__ = ["COLORS", "DataSource", "conform", "load_source"]
