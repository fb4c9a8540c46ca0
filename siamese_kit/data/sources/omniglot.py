"""Omniglot (Lake, Salakhutdinov & Tenenbaum, 2015): 1,623 handwritten characters from 50 alphabets.

The data is read from the zips of the Omniglot repository (or their unzipped folders), in place:
`<split>/<Alphabet>/characterNN/<id>_<drawer>.png`, 105x105 one-bit PNGs, black strokes (0) on white
(255). Each character is a class named `"<Alphabet>/characterNN"` and each alphabet is a group, so
pair streams can draw harder, within-alphabet negatives (`pair_stream(..., negatives="same_group")`).
TFDS's copy of the same data loads with `load_omniglot_tfds`.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from .archives import open_zip
from .download import announce, data_home, download_url, file_digest, reachable
from ..imageset import DataError, ImageSet
from .folders import read_image_folder
from .tfds import tfds_batches

OMNIGLOT_SPLITS = (
    "images_background",
    "images_evaluation",
    "images_background_small1",
    "images_background_small2",
)
OMNIGLOT_ENV = "SIAMESE_KIT_OMNIGLOT"
OMNIGLOT_URL = "https://github.com/brendenlake/omniglot (folder python/)"

# TFDS split name -> the Omniglot zip it is prepared from.
TFDS_OMNIGLOT_SPLITS = {
    "train": "images_background",
    "test": "images_evaluation",
    "small1": "images_background_small1",
    "small2": "images_background_small2",
}

# Area averaging: every source pixel counts, so 2 px strokes survive as grey at 28 px where
# point-sampling filters would drop them, and it has none of LANCZOS's ringing (and is faster).
RESAMPLE = Image.Resampling.BOX

# TFDS fetches Omniglot from GitHub; probing it tells whether suggesting TFDS makes sense.
_GITHUB = ("github.com", 443)


def omniglot_dir() -> Path | None:
    """The folder holding the Omniglot zips (or their unzipped split folders).

    Returns:
        `$SIAMESE_KIT_OMNIGLOT` if set (whether or not it exists), else `data_home()/"omniglot"` if
        that folder exists, else None.

    Raises:
        Nothing.
    """
    if os.environ.get(OMNIGLOT_ENV):
        return Path(os.environ[OMNIGLOT_ENV]).expanduser()
    folder = data_home() / "omniglot"
    return folder if folder.is_dir() else None


def _image_size(image_size) -> tuple[int, int] | None:
    """`image_size` as `(height, width)`; an int means a square."""
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if (
        not isinstance(image_size, (tuple, list))
        or len(image_size) != 2
        or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0
            for s in image_size
        )
    ):
        raise DataError(
            f"image_size must be a positive int (square) or (height, width), got {image_size!r}."
        )
    return int(image_size[0]), int(image_size[1])


def _how_to_get(split: str) -> str:
    usual = ("images_background.zip", "images_evaluation.zip")
    files = " and ".join(usual) if f"{split}.zip" in usual else f"{split}.zip (and {' / '.join(usual)})"
    return (
        f"Download {files} from {OMNIGLOT_URL} into a folder and set {OMNIGLOT_ENV} to "
        f"that folder (or put the zips in {data_home() / 'omniglot'}), or pass path= to a folder "
        "holding them, or to one split's zip or unzipped folder."
    )


def _tfds_hint() -> str:
    """A pointer to TFDS when it is installed and its download source answers, else ''."""
    # find_spec, not import: importing tensorflow_datasets takes seconds.
    if importlib.util.find_spec("tensorflow_datasets") is None or not reachable(_GITHUB):
        return ""
    return (
        " You are online and tensorflow_datasets is installed, so load_omniglot_tfds() (which uses "
        "load_tfds('omniglot')) can download it for you instead."
    )


def _looks_like_split(folder: Path) -> bool:
    """Whether `folder` itself holds `<Alphabet>/characterNN` folders (one unzipped split)."""
    if folder.name in OMNIGLOT_SPLITS:
        return True
    for child in folder.iterdir():
        if child.is_dir() and any(
            g.is_dir() and g.name.startswith("character") for g in child.iterdir()
        ):
            return True
    return False


def _find_split(split: str, path: str | os.PathLike | None) -> tuple[Path, str]:
    """The zip or folder holding `split`, from `path` or from `omniglot_dir()`, and its split name.

    The name is `split`, or the file or folder's own name when `path` points at one split directly.

    Raises:
        DataError: saying where it looked and how to get the data.
    """
    if path is None:
        base = omniglot_dir()
        if base is None:
            raise DataError(
                f"Omniglot not found: {OMNIGLOT_ENV} is not set and {data_home() / 'omniglot'} "
                f"does not exist. {_how_to_get(split)}{_tfds_hint()}"
            )
        if not base.is_dir():
            raise DataError(
                f"Omniglot folder {base} (from {OMNIGLOT_ENV}) does not exist. {_how_to_get(split)}"
            )
    else:
        base = Path(path).expanduser()
        if base.is_file():
            return base, base.stem
        if not base.is_dir():
            raise DataError(f"Omniglot path not found: {base}. {_how_to_get(split)}")
    # The zip first: it is the checksummed original, and the folder may be a partial unzip.
    for candidate in (base / f"{split}.zip", base / split):
        if candidate.exists():
            return candidate, split
    if path is not None and _looks_like_split(base):
        return base, base.name
    raise DataError(
        f"No Omniglot split {split!r} in {base}: looked for {split}.zip and {split}/. "
        f"{_how_to_get(split)}"
    )


def load_omniglot(
    split: str = "images_background",
    path: str | os.PathLike | None = None,
    image_size: int | tuple[int, int] | None = None,
    name: str | None = None,
) -> ImageSet:
    """Load one Omniglot split from its zip (read in place) or unzipped folder.

    Every character is a class named `"<Alphabet>/characterNN"`, numbered in sorted order, and every
    alphabet a group (`groups`, `group_names`). Pixels are kept as stored: uint8 grey, strokes 0 on
    a white 255 background, `[N, 105, 105, 1]` unless `image_size` is given.

    Args:
        split: one of `OMNIGLOT_SPLITS`: `"images_background"` (30 alphabets, 964 characters, the
            usual training set), `"images_evaluation"` (20 alphabets, 659 characters),
            `"images_background_small1"` or `"images_background_small2"` (Lake's 5-alphabet
            "minimal" training sets).
        path: where to look instead of `omniglot_dir()`: a folder holding `<split>.zip` or an
            unzipped `<split>/`, or directly one split's zip or folder (then `split` only names it).
        image_size: resize every image once while loading, with area averaging (`BOX`) so thin
            strokes stay visible: an int for a square (e.g. 52 or 28) or `(height, width)`.
        name: name of the ImageSet; defaults to `"omniglot/<split>"` (with a direct `path`, the
            zip or folder's own name in place of `<split>`).

    Returns:
        ImageSet of uint8 images `[N, H, W, 1]`, labels, class names, groups and group names.

    Raises:
        DataError: for an unknown split (listing `OMNIGLOT_SPLITS`), a bad `image_size`, data that
            cannot be found (saying how to get it), or a damaged zip or image (naming it).

    Example:
        >>> background = load_omniglot("images_background", image_size=52)
        >>> background.group_names[:2]
        ('Alphabet_of_the_Magi', 'Anglo-Saxon_Futhorc')
    """
    if split not in OMNIGLOT_SPLITS:
        raise DataError(f"Unknown Omniglot split {split!r}; use one of {', '.join(OMNIGLOT_SPLITS)}.")
    size = _image_size(image_size)
    source, found = _find_split(split, path)
    return read_image_folder(
        source,
        image_size=size,
        color_mode="grayscale",
        name=name or f"omniglot/{found}",
        class_levels=2,
        resample=RESAMPLE,
    ).imageset


def _to_grey(images: np.ndarray) -> np.ndarray:
    """`[N, H, W, 1]` uint8 grey; RGB goes through the ITU-R 601 luma PIL's "L" mode uses."""
    if images.shape[-1] == 1:
        return images
    weights = np.array([299, 587, 114], dtype=np.uint32)
    # Integer arithmetic with rounding: equal channels (TFDS's Omniglot) come back exactly.
    grey = (images[..., :3].astype(np.uint32) @ weights + 500) // 1000
    return grey.astype(np.uint8)[..., np.newaxis]


def _resize(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`[N, H, W, 1]` uint8 resized to `size` with the same filter as the zip loader."""
    if images.shape[1:3] == size:
        return images
    out = np.empty((len(images),) + size + (1,), dtype=np.uint8)
    for i, image in enumerate(images):
        resized = Image.fromarray(image[..., 0]).resize((size[1], size[0]), RESAMPLE)
        out[i, ..., 0] = np.asarray(resized)
    return out


def load_omniglot_tfds(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    image_size: int | tuple[int, int] | None = None,
    download: bool = True,
) -> ImageSet:
    """Load Omniglot through TensorFlow Datasets, in the same form as `load_omniglot`.

    TFDS keeps the images as 3 equal RGB channels; they become one grey channel. Classes are named
    `"<alphabet>/characterNN"` and numbered in sorted order, and alphabets are the groups, as with
    the zips (a prepared TFDS copy knows the alphabet names; a mocked one numbers them).

    Args:
        split: TFDS split: `"train"` (= images_background), `"test"` (= images_evaluation),
            `"small1"` or `"small2"`, optionally sliced (`"train[:10%]"`).
        data_dir: where TFDS keeps prepared data; defaults to TFDS's own.
        image_size: resize once while loading, as in `load_omniglot`.
        download: whether TFDS may download and prepare the data.

    Returns:
        ImageSet of uint8 images `[N, H, W, 1]` named `"omniglot/<split>"`, with groups.

    Raises:
        DataError: for an unknown split, a bad `image_size`, or when TFDS cannot load the data
            (saying how to load the zips instead).
    """
    if split.split("[")[0] not in TFDS_OMNIGLOT_SPLITS:
        known = ", ".join(f"{k!r} ({v})" for k, v in TFDS_OMNIGLOT_SPLITS.items())
        raise DataError(f"Unknown TFDS Omniglot split {split!r}; use one of {known}.")
    size = _image_size(image_size)
    keys = ("image", "alphabet", "alphabet_char_id")
    batches, info = tfds_batches(
        "omniglot",
        split,
        data_dir,
        download,
        keys,
        keys,
        offline_hint=f"Offline? {_how_to_get(TFDS_OMNIGLOT_SPLITS[split.split('[')[0]])} Then "
        "use load_omniglot().",
    )
    images = _to_grey(np.concatenate([b["image"] for b in batches]))
    if size is not None:
        images = _resize(images, size)
    alphabets = np.concatenate([b["alphabet"] for b in batches]).astype(np.int64)
    char_ids = np.concatenate([b["alphabet_char_id"] for b in batches]).astype(np.int64)
    try:
        alphabet_names = list(info.features["alphabet"].names)
    except (AttributeError, KeyError, TypeError):
        alphabet_names = []
    if len(alphabet_names) <= int(alphabets.max()):
        alphabet_names = [str(i) for i in range(int(alphabets.max()) + 1)]
    # Same naming and order as the zips: sorted alphabet names, then the 1-based characterNN.
    keys_per_image = [(alphabet_names[a], int(c)) for a, c in zip(alphabets, char_ids)]
    classes = sorted(set(keys_per_image))
    class_index = {k: i for i, k in enumerate(classes)}
    group_names = tuple(sorted({k[0] for k in classes}))
    group_index = {g: i for i, g in enumerate(group_names)}
    return ImageSet(
        images=images,
        labels=np.array([class_index[k] for k in keys_per_image], dtype=np.int64),
        class_names=tuple(f"{a}/character{c + 1:02d}" for a, c in classes),
        groups=np.array([group_index[k[0]] for k in keys_per_image], dtype=np.int64),
        group_names=group_names,
        name=f"omniglot/{split}",
    )


# -- fetching the zips for offline use -------------------------------------------------------------------

_RAW = "https://github.com/brendenlake/omniglot/raw/master/python/"

# Every file the notebooks, recipes and CLI read: where the Omniglot repository publishes it, the sha256
# of that original (as TensorFlow Datasets registers it; None where no digest is published) and how many
# PNG files it must hold, which also vets re-packed copies whose archive digest differs.
OMNIGLOT_FILES = {
    "images_background.zip": (
        _RAW + "images_background.zip",
        "ad41ab679c8b5d90b271ef46be6987cc81211774a695c29dcc5367b2b26ee640", 19_280),
    "images_evaluation.zip": (
        _RAW + "images_evaluation.zip",
        "1f61a8f3366785b057fc117d9228e78a16e3d976c8953b2a10fcc74cf0609cee", 13_180),
    "images_background_small1.zip": (
        _RAW + "images_background_small1.zip",
        "f38eb80f801274ac2b4dff5b24289016bfaba4a7d5bb50deebf27104ad6cb8a4", 2_720),
    "images_background_small2.zip": (
        _RAW + "images_background_small2.zip",
        "3ccaa407515a8778e5d0861875af38b17e418f301ad5bb3b5a6b65d901a41c7f", 3_120),
    "all_runs.zip": (_RAW + "one-shot-classification/all_runs.zip", None, 800),
}
# The largest original is 9.5 MB; a download that runs far past that is not Omniglot.
MAX_DOWNLOAD_BYTES = 64 * 1024**2
DOWNLOAD_TIMEOUT_S = 60


def _png_count(path: Path, filename: str) -> int:
    """PNG files in the places a split or the runs keep them (a zip's stray extras do not count)."""
    with open_zip(path, f"{filename} from {OMNIGLOT_URL}") as archive:
        names = [i.filename for i in archive.infolist() if not i.is_dir()]
    if filename == "all_runs.zip":
        pattern = re.compile(r"(^|/)run\d+/(training|test)/[^/]+\.png$")
    else:
        split = filename[: -len(".zip")]
        pattern = re.compile(rf"^{re.escape(split)}/[^/]+/character\d+/[^/]+\.png$")
    return sum(bool(pattern.search(name)) for name in names)


def verify_omniglot_file(path: str | os.PathLike, filename: str, require_digest: bool = False) -> str:
    """Checks that a file is the Omniglot zip it claims to be.

    A file passes when its sha256 is the original release's, or (unless `require_digest`) when it is a
    safe zip holding exactly the right number of PNGs in the right folders: copies re-packed from the
    original PNGs have another archive digest but the same contents.

    Args:
        path: the file to check.
        filename: which file it should be, a key of `OMNIGLOT_FILES` (e.g. `"all_runs.zip"`).
        require_digest: refuse a file whose published digest differs (used for downloads).

    Returns:
        how it was verified, in words.

    Raises:
        DataError: naming the file, what was expected and what was found.
    """
    if filename not in OMNIGLOT_FILES:
        raise DataError(f"verify_omniglot_file: filename must be one of {', '.join(OMNIGLOT_FILES)}, got {filename!r}.")
    _, sha256, pngs = OMNIGLOT_FILES[filename]
    path = Path(path)
    if sha256 is not None:
        actual = file_digest(path)
        if actual == sha256:
            return "sha256 of the original release"
        if require_digest:
            raise DataError(
                f"{path}: sha256 {actual} is not the published {sha256} of {filename}; the download is "
                "damaged or not the original, and nothing was installed. Fetch again, or pass a copy you "
                "trust with --from."
            )
    found = _png_count(path, filename)
    if found != pngs:
        raise DataError(
            f"{path} holds {found:,} PNG files where {filename} has {pngs:,}; it is incomplete or another "
            f"file. Nothing was installed. Get {filename} from {OMNIGLOT_URL}."
        )
    return f"contents checked ({pngs:,} PNGs)"


def _find_source_file(source: Path, filename: str) -> Path | None:
    for candidate in (source / filename, source / "omniglot" / filename):
        if candidate.is_file():
            return candidate
    return None


def fetch_omniglot(
    home: str | os.PathLike | None = None,
    source: str | os.PathLike | None = None,
    link: bool = False,
) -> Path:
    """Put the Omniglot zips and Lake's runs (`all_runs.zip`) in `<home>/omniglot`, verified.

    That is where `load_omniglot` and `load_lake_runs` look when `SIAMESE_KIT_OMNIGLOT` is not set, so
    a classroom can fetch once into a shared folder and point every student's `SIAMESE_KIT_DATA` at it.
    Each file of `OMNIGLOT_FILES` is taken from `source` when given (a folder holding the zips, directly
    or in an `omniglot/` subfolder), else downloaded from the Omniglot repository on GitHub. Files
    already installed and valid are kept. Every file is verified (`verify_omniglot_file`; downloads
    must match the published sha256 where there is one) and then put in place atomically, so a failed
    fetch never leaves half a file and never damages one already there.

    Args:
        home: data folder; defaults to `data_home()` (`$SIAMESE_KIT_DATA`).
        source: a local folder to copy the zips from instead of downloading them.
        link: with `source`, put symbolic links to the source files in place of copies (saves disk
            space; the source folder must then stay where it is).

    Returns:
        `<home>/omniglot`.

    Raises:
        DataError: if `source` is missing or lacks a file (naming them), `link` is given without
            `source`, a file fails verification, or a download fails (saying how to fetch offline).
    """
    if link and source is None:
        raise DataError("fetch_omniglot: link=True links to the files of source=; pass source= (--from) too.")
    target = Path(home if home is not None else data_home()) / "omniglot"
    if source is not None:
        source = Path(source).expanduser()
        if not source.is_dir():
            raise DataError(f"fetch_omniglot: source {source} is not a folder; pass the folder holding the Omniglot zips.")
        missing = [f for f in OMNIGLOT_FILES if _find_source_file(source, f) is None]
        if missing and not all(_installed(target / f, f) for f in missing):
            raise DataError(
                f"fetch_omniglot: {source} lacks {', '.join(missing)} (looked in it and in its omniglot/ "
                f"subfolder). Put the files from {OMNIGLOT_URL} there, or drop --from to download them."
            )
    target.mkdir(parents=True, exist_ok=True)
    for filename, (url, _, _) in OMNIGLOT_FILES.items():
        destination = target / filename
        if _installed(destination, filename):
            announce(f"{filename} already in {target}")
            continue
        found = _find_source_file(source, filename) if source is not None else None
        # Staged beside the target, so the final rename stays on one filesystem and is atomic.
        staging = Path(tempfile.mkdtemp(prefix=".omniglot-", dir=target))
        try:
            staged = staging / filename
            if found is not None:
                how = verify_omniglot_file(found, filename)
                if link:
                    staged.symlink_to(found.resolve())
                else:
                    shutil.copyfile(found, staged)
                    verify_omniglot_file(staged, filename)
                verb = "linked to" if link else "copied from"
                announce(f"{filename} {verb} {found} ({how})")
            else:
                announce(f"downloading {url}")
                download_url(url, staged, MAX_DOWNLOAD_BYTES, DOWNLOAD_TIMEOUT_S, "Omniglot zip",
                             "Copy the Omniglot zips from a machine that has them and install them with "
                             "`siamese-kit data fetch omniglot --from FOLDER`.")
                how = verify_omniglot_file(staged, filename, require_digest=True)
                announce(f"{filename} downloaded ({how})")
            os.replace(staged, destination)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    announce(f"Omniglot ready in {target}")
    return target


def _installed(path: Path, filename: str) -> bool:
    """Whether `path` is an installed file (or a link to one) that verifies as `filename`."""
    if not path.is_file():
        return False
    try:
        verify_omniglot_file(path, filename)
    except DataError:
        return False
    return True


__all__ = [
    "OMNIGLOT_FILES",
    "OMNIGLOT_SPLITS",
    "fetch_omniglot",
    "load_omniglot",
    "load_omniglot_tfds",
    "omniglot_dir",
    "verify_omniglot_file",
]
