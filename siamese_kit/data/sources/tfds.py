"""TensorFlow Datasets catalog datasets (mnist, fashion_mnist, omniglot, ...) as an `ImageSet`.

`tensorflow_datasets` is imported only inside the calls that need it: it takes seconds to import and
most users never load through it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..imageset import DataError, ImageSet


def tfds_prepared(tfds_dir: Path, name: str) -> bool:
    """Whether a prepared copy of TFDS dataset `name` seems to exist in `tfds_dir`, without importing TFDS.

    Args:
        tfds_dir: a TFDS `data_dir`.
        name: the dataset's TFDS name.

    Returns:
        True when `<tfds_dir>/<name>/<version>/dataset_info.json` exists.
    """
    return any((Path(tfds_dir) / name).glob("*/dataset_info.json"))



def tfds_batches(
    name: str,
    split: str,
    data_dir: str | os.PathLike | None,
    download: bool,
    keys: Sequence[str],
    key_args: Sequence[str],
    offline_hint: str,
) -> tuple[list[dict], object]:
    """All examples of a TFDS split as numpy batches, with the dataset info.

    Args:
        name: TFDS name, optionally with a version.
        split: TFDS split.
        data_dir: where TFDS keeps prepared data (None: TFDS's own default).
        download: whether TFDS may download and prepare the data.
        keys: the features every batch must hold.
        key_args: for each key, the caller's argument that chose it (named in the error).
        offline_hint: the last line of the error when TFDS cannot load the split.

    Returns:
        `(batches, info)`: a list of dicts of numpy arrays, and TFDS's dataset info.

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
    batches, info = tfds_batches(
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


__all__ = ["load_tfds", "tfds_batches", "tfds_prepared"]
