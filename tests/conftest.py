"""Shared fixtures: small synthetic image sets, and real MNIST and Omniglot when they are there."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from support import in_ci

from siamese_kit.data import OMNIGLOT_SPLITS, DataError, ImageSet, load_dataset, omniglot_dir


def make_imageset(num_classes=4, per_class=6, size=8, seed=0, name="synthetic"):
    """Images whose pixels encode their class, so a model can learn them in a few steps."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_classes), per_class)
    images = rng.integers(0, 40, size=(len(labels), size, size, 1)).astype(np.uint8)
    for label in range(num_classes):
        images[labels == label, label % size, :, 0] = 255
    return ImageSet(images, labels, class_names=[f"class{c}" for c in range(num_classes)], name=name)


def write_zip(path, members):
    """A zip of `members` (name -> bytes), written as a downloaded archive would be."""
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def write_folder(root, members):
    """`members` (name -> bytes) written as files under `root`, as an unzipped archive."""
    for name, data in members.items():
        target = root.joinpath(*name.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


@pytest.fixture
def small_set():
    return make_imageset()


@pytest.fixture(scope="session")
def mnist():
    """Real MNIST (train, test) from the data home; in CI a missing copy fails instead of skipping."""
    try:
        return load_dataset("mnist", split="train"), load_dataset("mnist", split="test")
    except DataError as error:
        if in_ci():
            pytest.fail(f"CI=true and MNIST is missing: {error}")
        pytest.skip(f"MNIST not fetched ({error})")


@pytest.fixture(scope="session")
def omniglot_dir_or_skip():
    """The folder of the real Omniglot zips; in CI a missing copy fails instead of skipping."""
    folder = omniglot_dir()
    if folder is not None and any(
        (folder / f"{split}.zip").is_file() or (folder / split).is_dir() for split in OMNIGLOT_SPLITS
    ):
        return folder
    message = (
        f"Omniglot not found (looked in {folder or 'SIAMESE_KIT_OMNIGLOT / <data home>/omniglot'}): "
        "set SIAMESE_KIT_OMNIGLOT to a folder holding images_background.zip and "
        "images_evaluation.zip from https://github.com/brendenlake/omniglot (python/), e.g. "
        "../shared/data/omniglot"
    )
    if in_ci():
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)



def write_digit_folders(train, root, per_class: int = 30, seed: int = 0, prefix: str = "d"):
    """root/<prefix><label>/<i>.png: `per_class` MNIST training digits of each of the 10 classes, drawn with
    `seed`, as a user's class folders."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for label in range(10):
        folder = root / f"{prefix}{label}"
        folder.mkdir(parents=True)
        for i, index in enumerate(rng.choice(np.flatnonzero(train.labels == label), per_class, replace=False)):
            Image.fromarray(train.images[index, ..., 0]).save(folder / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def digit_folder(mnist, tmp_path_factory):
    """digits/d<label>/<i>.png: 30 MNIST training digits of each of the 10 classes, a class-folder tree."""
    return write_digit_folders(mnist[0], tmp_path_factory.mktemp("digit_folder") / "digits")
