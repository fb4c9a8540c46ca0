"""The few-shot literature's Omniglot split (Vinyals et al. 2016): 1,200 characters to train on and the
other 423 to test on, drawn from both Omniglot sets, each character also turned by 90, 180 and 270
degrees as a class of its own, and episodes drawn across alphabets.

Lake's runs (`load_lake_runs`) keep whole alphabets apart and ask within one alphabet; this split mixes
alphabets on both sides and is what matching, prototypical and most later networks report on. The
published character lists are not shipped with Omniglot; this module draws a seeded split of the
same sizes, so numbers on it compare with the literature's in kind (same sizes, rotations, episode
rules), not trial for trial.
"""

from __future__ import annotations

import os

import numpy as np

from ..imageset import DataError, ImageSet
from .omniglot import load_omniglot

VINYALS_TRAIN_CHARACTERS = 1200
VINYALS_TEST_CHARACTERS = 423


def merged_omniglot(image_size: int | None = 28, path: str | os.PathLike | None = None) -> ImageSet:
    """Both Omniglot sets as one: 1,623 characters of 50 alphabets (background first).

    Args:
        image_size: side of the square images (None keeps 105 px).
        path: where to look for the sets (see `load_omniglot`).

    Returns:
        ImageSet with the background's labels and groups, then the evaluation's, numbered after them.
    """
    background = load_omniglot("images_background", path=path, image_size=image_size)
    evaluation = load_omniglot("images_evaluation", path=path, image_size=image_size)
    return ImageSet(
        images=np.concatenate([background.images, evaluation.images]),
        labels=np.concatenate([background.labels, evaluation.labels + background.num_classes]),
        class_names=background.class_names + evaluation.class_names,
        groups=np.concatenate([background.groups, evaluation.groups + len(background.group_names)]),
        group_names=background.group_names + evaluation.group_names,
        name="omniglot/all",
        paths=background.paths + evaluation.paths,
    )


def vinyals_split(characters: ImageSet, seed: int = 0, train_characters: int = VINYALS_TRAIN_CHARACTERS,
                  rotations: bool = True) -> tuple[ImageSet, ImageSet]:
    """Splits characters into a training and a test part by a seeded draw, then adds rotated copies.

    Args:
        characters: the characters to split (`merged_omniglot()`: 1,623 of them).
        seed: which characters go where; the same seed gives the same split.
        train_characters: characters for training; the rest are the test characters.
        rotations: give each part its characters turned by 90, 180 and 270 degrees as new classes
            (the split's convention: 4,800 training and 1,692 test classes).

    Returns:
        `(train, test)` ImageSets; no character (in any turn) is in both.

    Raises:
        DataError: when `train_characters` leaves fewer than 20 characters on either side (a
            20-way episode needs 20), naming the counts.
    """
    present = np.flatnonzero(characters.class_counts() > 0)
    if not 20 <= train_characters <= len(present) - 20:
        raise DataError(
            f"{characters.name}: train_characters must leave at least 20 characters on each side of the split "
            f"(a 20-way episode needs 20); got {train_characters} of {len(present)} characters."
        )
    order = np.random.default_rng(seed).permutation(present)
    parts = []
    for part, which in ((order[:train_characters], "train"), (order[train_characters:], "test")):
        chosen = characters.subset(np.flatnonzero(np.isin(characters.labels, part)),
                                   name=f"{characters.name}[vinyals {which}, seed {seed}]")
        parts.append(chosen.with_rotated_classes() if rotations else chosen)
    return parts[0], parts[1]


def load_vinyals_split(image_size: int | None = 28, seed: int = 0,
                       path: str | os.PathLike | None = None) -> tuple[ImageSet, ImageSet]:
    """The Vinyals-style split of Omniglot: 1,200 training and 423 test characters with rotations.

    Args:
        image_size: side of the square images (28 is the literature's size).
        seed: which characters go where.
        path: where to look for the Omniglot sets (see `load_omniglot`).

    Returns:
        `(train, test)`: 4,800 and 1,692 classes of 20 drawings each.

    Example:
        >>> train, test = load_vinyals_split(image_size=28)
        >>> len(np.unique(train.labels)), len(np.unique(test.labels))
        (4800, 1692)
    """
    return vinyals_split(merged_omniglot(image_size, path), seed=seed)
