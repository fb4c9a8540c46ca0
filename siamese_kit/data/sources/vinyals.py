"""The few-shot literature's Omniglot split (Vinyals et al. 2016), as published: the character lists of
Matching and Prototypical Networks, shipped with siamese-kit (`vinyals_split/`, MIT licence, from the
Prototypical Networks code), checksummed.

1,028 characters to train on, 172 to validate on (together 1,200, "trainval") and 423 to test on, each
listed with its turns of 0, 90, 180 and 270 degrees as classes of their own (4,112 / 688 / 4,800 / 1,692
classes). The test characters are (almost) whole alphabets of the evaluation set, so test alphabets are
new alphabets; episodes are then drawn across alphabets. Lake's runs (`load_lake_runs`) ask within one
alphabet instead, a harder task.

`random_character_split` keeps a per-character seeded draw of the same sizes for other character sets:
on Omniglot it is easier than the published split (test characters share alphabets with training ones),
so its numbers do not compare with the literature's.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..imageset import DataError, ImageSet
from .omniglot import load_omniglot

VINYALS_TRAIN_CHARACTERS = 1200
VINYALS_TEST_CHARACTERS = 423
LISTS_DIR = Path(__file__).with_name("vinyals_split")
# sha256 of the published lists (train + val, in that order, is the published trainval.txt).
LIST_SHA256 = {
    "train.txt": "984522c194c30fb678ce53304a160a42faf5403ad4f9a67010f32dd3a35738e0",
    "val.txt": "11f99e54faee3e26f53d3231c1cceac5bf7b8730e9be31cb6dab256551dc0c1a",
    "test.txt": "845264cc5c156180828ccf17915668b17ee21424d0170df6e7d81676aa5d1204",
}
PARTS = {"train": ("train.txt",), "val": ("val.txt",), "trainval": ("train.txt", "val.txt"), "test": ("test.txt",)}
TURNS = {"rot000": 0, "rot090": 1, "rot180": 2, "rot270": 3}


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


def random_character_split(characters: ImageSet, seed: int = 0, train_characters: int = VINYALS_TRAIN_CHARACTERS,
                  rotations: bool = True) -> tuple[ImageSet, ImageSet]:
    """Splits characters into a training and a test part by a seeded per-character draw, then adds rotated
    copies: an easier split than the published one (`load_vinyals_split`), since nearly every test
    character shares its alphabet with training characters. Numbers on it are not comparable with the
    literature's; use it for your own character sets, or to measure how much easier it is.

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
                                   name=f"{characters.name}[random characters {which}, seed {seed}]")
        parts.append(chosen.with_rotated_classes() if rotations else chosen)
    return parts[0], parts[1]


def vinyals_classes(part: str) -> tuple[str, ...]:
    """The classes of one part of the published split, as listed: `"Alphabet/characterNN/rotDDD"`.

    Args:
        part: `"train"`, `"val"`, `"trainval"` (train then val) or `"test"`.

    Returns:
        the class lines, in the lists' order.

    Raises:
        DataError: for an unknown part, or a list file that is missing or not the published one (its
            sha256 differs), naming the file and the fix.
    """
    if part not in PARTS:
        raise DataError(f"load_vinyals_split: part must be one of {', '.join(PARTS)}, got {part!r}.")
    lines = []
    for filename in PARTS[part]:
        path = LISTS_DIR / filename
        try:
            data = path.read_bytes()
        except OSError as e:
            raise DataError(f"{path}: the published Vinyals list is missing ({e}); reinstall siamese-kit.") from e
        digest = hashlib.sha256(data).hexdigest()
        if digest != LIST_SHA256[filename]:
            raise DataError(f"{path}: sha256 {digest} is not the published list's {LIST_SHA256[filename]}; it was "
                            "changed after installation. Reinstall siamese-kit to get the published split back.")
        lines += [line.strip() for line in data.decode().splitlines() if line.strip()]
    return tuple(lines)


def load_vinyals_split(part: str = "train", image_size: int | None = 28, path: str | os.PathLike | None = None,
                       characters: ImageSet | None = None) -> ImageSet:
    """One part of the published Vinyals split, each listed turn of each character a class of its own.

    The classes are already turned, so train on it with the recipe's `rotations=False`
    (`with_rotated_classes` refuses to turn them again).

    Args:
        part: `"train"` (1,028 characters, 4,112 classes), `"val"` (172, 688), `"trainval"` (1,200,
            4,800: train then val, for a final model) or `"test"` (423, 1,692).
        image_size: side of the square images (28 is the literature's size; None keeps 105 px).
        path: where to look for the Omniglot sets (see `load_omniglot`).
        characters: `merged_omniglot(image_size, path)` already loaded, to read several parts from one load.

    Returns:
        ImageSet of the part's classes in the list's order: class names `"Alphabet/characterNN"` for the
        upright character and `"Alphabet/characterNN@90"` (`@180`, `@270`) for its turns, as
        `with_rotated_classes` names them; groups are the alphabets (each turn of an alphabet its own).

    Raises:
        DataError: for an unknown part, a list that is not the published one, or a listed character the
            Omniglot data lacks (naming it).

    Example:
        >>> train = load_vinyals_split("train", image_size=28)
        >>> test = load_vinyals_split("test", image_size=28)
        >>> train.num_classes, test.num_classes
        (4112, 1692)
    """
    listed = vinyals_classes(part)
    characters = merged_omniglot(image_size, path) if characters is None else characters
    where = {name: i for i, name in enumerate(characters.class_names)}
    order = np.argsort(characters.labels, kind="stable")
    starts = np.searchsorted(characters.labels[order], np.arange(characters.num_classes + 1))
    images, labels, class_names, groups, group_names, paths = [], [], [], [], {}, []
    for label, line in enumerate(listed):
        character, _, turn = line.rpartition("/")
        if character not in where or turn not in TURNS:
            raise DataError(f"{characters.name}: the Vinyals {part} list names {line!r}, which this Omniglot data "
                            f"lacks; load both sets (merged_omniglot) from the original zips.")
        members = order[starts[where[character]]:starts[where[character] + 1]]
        quarter_turns = TURNS[turn]
        suffix = f"@{90 * quarter_turns}" if quarter_turns else ""
        alphabet = character.split("/")[0] + suffix
        images.append(np.rot90(characters.images[members], quarter_turns, axes=(1, 2)))
        labels.append(np.full(len(members), label))
        class_names.append(character + suffix)
        groups.append(np.full(len(members), group_names.setdefault(alphabet, len(group_names))))
        if characters.paths:
            paths += [f"{characters.paths[i]}{suffix}" for i in members]
    return ImageSet(
        images=np.concatenate(images), labels=np.concatenate(labels), class_names=tuple(class_names),
        groups=np.concatenate(groups), group_names=tuple(group_names), name=f"omniglot/vinyals {part}",
        paths=tuple(paths),
    )


__all__ = ["LIST_SHA256", "load_vinyals_split", "merged_omniglot", "random_character_split", "vinyals_classes"]
