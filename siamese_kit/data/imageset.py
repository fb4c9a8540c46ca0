"""`ImageSet`: the one in-memory form every data source produces and every stream consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np


class DataError(ValueError):
    """Raised when input data cannot be used; the message names the file, class or argument and the fix."""


@dataclass(frozen=True)
class ImageSet:
    """Labelled images held in memory as uint8 pixels.

    Every loader in `siamese_kit.data` returns one and every pair or episode stream reads one, so a
    dataset made from your own folder of images is used exactly like MNIST or Omniglot.

    Args:
        images: uint8 array `[N, H, W, C]` of raw pixel values (0 to 255). A `[N, H, W]` array is
            accepted and given one channel.
        labels: integer class index per image, `[N]`, each in `[0, len(class_names))`.
        class_names: display name of each class; defaults to `"0"`, `"1"`, ...
        groups: optional integer group per image (Omniglot's alphabet), `[N]`.
        group_names: display name of each group, required to be as long as the largest group + 1.
        name: a short description used in messages and plot titles.
        paths: optional source of each image (a file path, or a path inside a zip), `[N]` strings;
            loaders of files fill it so reports, `embed` and `identify` can name each image.

    Raises:
        DataError: if shapes, dtypes or counts disagree, naming the argument and the fix.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...] = field(default=())
    groups: np.ndarray | None = None
    group_names: tuple[str, ...] = field(default=())
    name: str = "imageset"
    paths: tuple[str, ...] = field(default=())

    def __post_init__(self):
        images = np.asarray(self.images)
        if images.ndim == 3:
            images = images[..., np.newaxis]
        if images.ndim != 4:
            raise DataError(
                f"{self.name}: images must have shape [N, H, W, C] (or [N, H, W] for grey), "
                f"got shape {images.shape}."
            )
        if images.dtype != np.uint8:
            raise DataError(
                f"{self.name}: images must be uint8 pixel values 0..255, got dtype {images.dtype}; "
                "convert with (x * 255).round().astype('uint8') if your pixels are floats in [0, 1]."
            )
        if images.shape[-1] not in (1, 3):
            raise DataError(
                f"{self.name}: images must have 1 (grey) or 3 (RGB) channels, got {images.shape[-1]}."
            )
        labels = np.asarray(self.labels)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(
                f"{self.name}: labels must be a 1-D integer array, got shape {labels.shape} "
                f"and dtype {labels.dtype}."
            )
        if len(labels) != len(images):
            raise DataError(
                f"{self.name}: {len(labels)} labels for {len(images)} images; every image needs "
                "exactly one label."
            )
        if len(images) == 0:
            raise DataError(f"{self.name}: no images; an ImageSet needs at least one image.")
        labels = labels.astype(np.int64)
        if labels.min() < 0:
            raise DataError(f"{self.name}: labels must be >= 0, found {labels.min()}.")
        class_names = tuple(str(c) for c in self.class_names) or tuple(
            str(i) for i in range(int(labels.max()) + 1)
        )
        if labels.max() >= len(class_names):
            raise DataError(
                f"{self.name}: label {labels.max()} has no class name; class_names has only "
                f"{len(class_names)} entries."
            )
        groups = self.groups
        group_names = tuple(str(g) for g in self.group_names)
        if groups is not None:
            groups = np.asarray(groups).astype(np.int64)
            if groups.shape != labels.shape:
                raise DataError(
                    f"{self.name}: groups has shape {groups.shape}, labels {labels.shape}; "
                    "give one group per image."
                )
            group_names = group_names or tuple(str(i) for i in range(int(groups.max()) + 1))
        paths = tuple(str(p) for p in self.paths)
        if paths and len(paths) != len(images):
            raise DataError(
                f"{self.name}: {len(paths)} paths for {len(images)} images; give one path per image "
                "or none."
            )
        object.__setattr__(self, "paths", paths)
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "class_names", class_names)
        object.__setattr__(self, "groups", groups)
        object.__setattr__(self, "group_names", group_names)

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        groups = f", {len(self.group_names)} groups" if self.groups is not None else ""
        return (
            f"ImageSet({self.name!r}: {len(self)} images of {self.image_shape}, "
            f"{self.num_classes} classes{groups})"
        )

    @property
    def num_classes(self) -> int:
        """Number of classes named (some may have no images in a subset)."""
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """`(H, W, C)` of every image."""
        return tuple(self.images.shape[1:])

    def class_counts(self) -> np.ndarray:
        """Returns:
        int array `[num_classes]`: images per class."""
        return np.bincount(self.labels, minlength=self.num_classes)

    def subset(self, indices: Sequence[int] | np.ndarray, name: str | None = None) -> "ImageSet":
        """A new ImageSet holding the given images, with the same class and group names.

        Args:
            indices: positions to keep (an int array or a boolean mask).
            name: name of the new set; defaults to this set's name.

        Returns:
            ImageSet with `len(indices)` images.
        """
        indices = np.asarray(indices)
        return ImageSet(
            images=self.images[indices],
            labels=self.labels[indices],
            class_names=self.class_names,
            groups=None if self.groups is None else self.groups[indices],
            group_names=self.group_names,
            name=name or self.name,
            paths=tuple(self.paths[i] for i in np.arange(len(self))[indices]) if self.paths else (),
        )

    def split(self, fraction: float, seed: int = 0) -> tuple["ImageSet", "ImageSet"]:
        """Split every class in the same proportion, for a validation set held out of training.

        Args:
            fraction: share of each class's images that goes to the second set, in (0, 1).
            seed: shuffling seed; the same seed gives the same split.

        Returns:
            `(kept, held_out)`.
        """
        if not 0.0 < fraction < 1.0:
            raise DataError(f"split: fraction must be in (0, 1), got {fraction}.")
        rng = np.random.default_rng(seed)
        held = np.zeros(len(self), dtype=bool)
        for label in np.unique(self.labels):
            members = np.flatnonzero(self.labels == label)
            rng.shuffle(members)
            held[members[: int(round(len(members) * fraction))]] = True
        if not held.any() or held.all():
            counts = self.class_counts()
            counts = counts[counts > 0]
            raise DataError(
                f"{self.name}: split(fraction={fraction}) would put {'no' if not held.any() else 'every'} "
                f"image in the held-out part: its classes hold {counts.min()} to {counts.max()} images, "
                f"and {fraction:.0%} of that rounds to {'0' if not held.any() else 'all'}. Use a fraction "
                f"near {1 / max(int(counts.min()), 2):.2f} or more classes' images, or split whole classes "
                "(split_classes)."
            )
        kept_share, held_share = f"{1 - fraction:.0%}", f"{fraction:.0%}"
        return (
            self.subset(np.flatnonzero(~held), name=f"{self.name}[kept: {kept_share} of each class]"),
            self.subset(np.flatnonzero(held), name=f"{self.name}[held out: {held_share} of each class]"),
        )

    def split_groups(self, count: int, seed: int = 0) -> tuple["ImageSet", "ImageSet"]:
        """Hold out whole groups (Omniglot alphabets), so validation classes are never trained on.

        Args:
            count: number of groups to hold out, at least 1 and fewer than the groups present.
            seed: which groups; the same seed gives the same split.

        Returns:
            `(kept, held_out)`.

        Raises:
            DataError: if the set has no groups or `count` is out of range.
        """
        if self.groups is None:
            raise DataError(f"{self.name}: split_groups needs groups (for Omniglot, the alphabets).")
        present = np.unique(self.groups)
        if not 1 <= count < len(present):
            raise DataError(
                f"{self.name}: split_groups count must be between 1 and {len(present) - 1}, got {count}."
            )
        held_groups = np.random.default_rng(seed).choice(present, size=count, replace=False)
        held = np.isin(self.groups, held_groups)
        return (
            self.subset(np.flatnonzero(~held), name=f"{self.name}[kept]"),
            self.subset(np.flatnonzero(held), name=f"{self.name}[held out]"),
        )

    def split_classes(
        self, validation_fraction: float = 0.15, test_fraction: float = 0.15, seed: int = 0
    ) -> tuple["ImageSet", "ImageSet", "ImageSet"]:
        """Open-set split: whole classes go to training, validation or test, so the test measures
        classes the model never saw, which is what verifying or identifying new people needs.

        Each part keeps every class name (labels stay comparable across parts); a part holds only
        its own classes' images. Classes with no images are left out of the draw.

        Args:
            validation_fraction: share of the classes for validation (threshold calibration,
                model choice), in [0, 1).
            test_fraction: share of the classes for the test, in (0, 1).
            seed: which classes go where; the same seed gives the same split.

        Returns:
            `(train, validation, test)`; `validation` is None when `validation_fraction` is 0.

        Raises:
            DataError: if a fraction is out of range, or a part would get fewer than 2 classes
                (a pair needs two), naming the counts and the fix.
        """
        if not 0.0 <= validation_fraction < 1.0 or not 0.0 < test_fraction < 1.0 or (
            validation_fraction + test_fraction >= 1.0
        ):
            raise DataError(
                f"{self.name}: split_classes needs 0 <= validation_fraction, 0 < test_fraction and "
                f"their sum below 1, got {validation_fraction} and {test_fraction}."
            )
        present = np.flatnonzero(self.class_counts() > 0)
        order = np.random.default_rng(seed).permutation(present)
        num_test = max(2, int(round(len(present) * test_fraction)))
        num_validation = max(2, int(round(len(present) * validation_fraction))) if validation_fraction else 0
        num_train = len(present) - num_test - num_validation
        if num_train < 2:
            raise DataError(
                f"{self.name}: {len(present)} classes cannot make an open-set split into training, "
                f"validation and test classes ({num_train} training, {num_validation} validation, "
                f"{num_test} test; each part needs at least 2). Add classes, or split each class's "
                "images instead (split, `--split images`)."
            )
        parts = np.split(order, [num_train, num_train + num_validation])
        train, validation, test = (
            self.subset(np.flatnonzero(np.isin(self.labels, part)), name=f"{self.name}[{which} classes]")
            if len(part) else None
            for part, which in zip(parts, ("training", "validation", "test"))
        )
        return train, validation, test

    def with_rotated_classes(self, quarter_turns: Sequence[int] = (1, 2, 3)) -> "ImageSet":
        """This set plus copies turned by multiples of 90 degrees, each turn a class of its own.

        A character turned on its side is not the same character, so each turn of each class is a
        new class (and of each group, a new group): four times the classes to learn from, the
        class augmentation common in few-shot Omniglot training. Use it on training data only.

        Args:
            quarter_turns: counter-clockwise quarter turns to add (1 = 90 degrees); the original
                images are always kept as turn 0. Needs square images.

        Returns:
            ImageSet with `len(quarter_turns) + 1` times the images and classes; class `c` turned
            `k` times gets label `c + k' * num_classes` (k' its position, 1-based, in
            `quarter_turns`) and the name `"<name>@<90k>"`.

        Raises:
            DataError: for non-square images, turns outside 1..3, or a set whose classes are turns
                already (named `"...@90"`, such as the published Vinyals split): turning them again would
                put every image under four labels.
        """
        turns = [int(t) for t in quarter_turns]
        turned = [name for name in self.class_names if name.rsplit("@", 1)[-1] in ("90", "180", "270")]
        if turned:
            raise DataError(
                f"{self.name}: its classes are turned already ({len(turned)} of {len(self.class_names)}, e.g. "
                f"{turned[0]!r}); turning them again would put every image under four labels. Train on it "
                "as it is (the recipe's rotations=False)."
            )
        if self.image_shape[0] != self.image_shape[1]:
            raise DataError(f"{self.name}: with_rotated_classes needs square images, got {self.image_shape[:2]}.")
        if any(t not in (1, 2, 3) for t in turns) or len(set(turns)) != len(turns):
            raise DataError(f"{self.name}: quarter_turns must be distinct values among 1, 2, 3, got {quarter_turns!r}.")
        copies = len(turns) + 1
        num_groups = len(self.group_names) if self.groups is not None else 0
        return ImageSet(
            images=np.concatenate([self.images] + [np.rot90(self.images, t, axes=(1, 2)) for t in turns]),
            labels=np.concatenate([self.labels + k * self.num_classes for k in range(copies)]),
            class_names=self.class_names + tuple(f"{n}@{90 * t}" for t in turns for n in self.class_names),
            groups=None
            if self.groups is None
            else np.concatenate([self.groups + k * num_groups for k in range(copies)]),
            group_names=self.group_names + tuple(f"{n}@{90 * t}" for t in turns for n in self.group_names),
            name=f"{self.name}+rotations",
            paths=self.paths + tuple(f"{p}@{90 * t}" for t in turns for p in self.paths),
        )

    def require_pairs(self, min_per_class: int = 2) -> None:
        """Check that same-class pairs can be drawn.

        Args:
            min_per_class: images each class present must have.

        Raises:
            DataError: naming the first class with too few images, or if fewer than 2 classes
                have images (then no different-class pair exists).
        """
        counts = self.class_counts()
        present = np.flatnonzero(counts > 0)
        if len(present) < 2:
            raise DataError(
                f"{self.name}: pairs need at least 2 classes with images, found {len(present)}; "
                "add images of another class."
            )
        for label in present:
            if counts[label] < min_per_class:
                raise DataError(
                    f"{self.name}: class {self.class_names[label]!r} has {counts[label]} image(s); "
                    f"same-class pairs need at least {min_per_class}. Add images to it or remove "
                    "the class."
                )

    def class_means(self) -> np.ndarray:
        """Mean image of each class.

        Returns:
            float32 array `[num_classes, H, W, C]` in pixel units; classes without images are 0.
        """
        means = np.zeros((self.num_classes,) + self.image_shape, dtype=np.float32)
        for label in np.unique(self.labels):
            means[label] = self.images[self.labels == label].mean(axis=0)
        return means
