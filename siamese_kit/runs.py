"""The run folder: a trained model together with what it was trained on, so it is always judged on
its own test data.

    RUN/run.json     recipe and settings, the data source (`DataSource`), the split and its counts
    RUN/split.json   the classes and files of each part: train, validation, test
    RUN/model.keras  the model (`keras.saving.load_model(..., safe_mode=True)`)
    RUN/report.json, RUN/report.html   the report on the test part (`siamese_kit.report`)

Two splits: **classes** (open set, the default for your own data): whole classes go to training,
validation or test, so the test measures people, signatures or parts never seen in training, which
is what verifying or identifying new ones needs; **images** (closed set, as for MNIST): every class
is in every part, its images divided.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._files import write_json
from .data.imageset import DataError, ImageSet
from .data.streams.seeds import derived_seed
from .data.sources.spec import DataSource, load_source

RUN_FORMAT = 1
SPLITS = ("classes", "images")
PARTS = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitSpec:
    """How a dataset is divided into train, validation and test.

    Args:
        kind: `"classes"` (open set) or `"images"` (closed set).
        validation_fraction: share of the classes (or of each class's images) for validation.
        test_fraction: share for the test.
        seed: the same seed gives the same split.
    """

    kind: str = "classes"
    validation_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0

    def __post_init__(self):
        if self.kind not in SPLITS:
            raise DataError(f"split must be one of {SPLITS}, got {self.kind!r} (--split classes|images).")
        if not (0 < self.validation_fraction < 1 and 0 < self.test_fraction < 1
                and self.validation_fraction + self.test_fraction < 1):
            raise DataError(
                "validation and test fractions must each be in (0, 1) and sum below 1, got "
                f"{self.validation_fraction} and {self.test_fraction}."
            )


def split_dataset(imageset: ImageSet, spec: SplitSpec) -> dict[str, ImageSet]:
    """Divides a dataset into its train, validation and test parts.

    Args:
        imageset: every image of the source.
        spec: the SplitSpec.

    Returns:
        `{"train": ..., "validation": ..., "test": ...}`.

    Raises:
        DataError: naming the split, the counts each part would get, and the fix, when a part would
            be too small to make pairs (2 classes; with `images`, 2 images in some class).
    """
    name = imageset.name
    if spec.kind == "classes":
        train, validation, test = imageset.split_classes(spec.validation_fraction, spec.test_fraction, spec.seed)
        parts = {"train": train, "validation": validation, "test": test}
    else:
        rest, test = _split_images(imageset, spec.test_fraction, spec.seed, "test")
        # The validation share is of the whole set, so it is rescaled to what the test left.
        train, validation = _split_images(rest, spec.validation_fraction / (1 - spec.test_fraction),
                                          derived_seed(spec.seed, "validation images"), "validation")
        parts = {"train": train, "validation": validation, "test": test}
    for part, subset in parts.items():
        counts = subset.class_counts()
        present = int((counts > 0).sum())
        if present < 2 or (part == "train" and counts.max() < 2):
            sizes = ", ".join(f"{p}: {int((s.class_counts() > 0).sum())} classes, {len(s)} images"
                              for p, s in parts.items())
            raise DataError(
                f"{name}: the {spec.kind} split leaves the {part} part too small for pairs ({sizes}). "
                + ("Add classes, or use --split images to divide each class's images instead."
                   if spec.kind == "classes" else "Add images to each class, or lower the fractions.")
            )
    return {part: ImageSet(s.images, s.labels, s.class_names, s.groups, s.group_names, f"{name} [{part}]", s.paths)
            for part, s in parts.items()}


# Fewer validation or test classes than this cannot measure an open set: every impostor pair would come from
# the same handful of classes, so the numbers say more about those classes than about unseen ones.
OPEN_SET_MIN_CLASSES = 5


def open_set_warning(parts: dict[str, ImageSet], spec: SplitSpec) -> str | None:
    """What is wrong with an open-set split too thin to measure, in words, or None when it is fine.

    Args:
        parts: from `split_dataset`.
        spec: the split that made them.

    Returns:
        a message naming the counts of classes in each part and the fixes, when the split divides classes
        and its validation or test part has fewer than `OPEN_SET_MIN_CLASSES` classes; else None.
    """
    if spec.kind != "classes":
        return None
    counts = {part: int((subset.class_counts() > 0).sum()) for part, subset in parts.items()}
    thin = [part for part in ("validation", "test") if counts[part] < OPEN_SET_MIN_CLASSES]
    if not thin:
        return None
    return (f"the open split leaves {counts['train']} training, {counts['validation']} validation and {counts['test']} "
            f"test classes: {' and '.join(thin)} with under {OPEN_SET_MIN_CLASSES} classes cannot measure how the model "
            "meets classes it never saw (its threshold and scores would rest on a handful of classes). Add classes, "
            "raise --validation-fraction / --test-fraction, or use --split images to test on new images of the "
            "classes it trains on.")


def _split_images(imageset: ImageSet, fraction: float, seed: int, part: str) -> tuple[ImageSet, ImageSet]:
    try:
        return imageset.split(fraction, seed=seed)
    except DataError as error:
        raise DataError(f"the images split cannot make a {part} part: {error}") from None


def pixel_digests(imageset: ImageSet) -> list[str]:
    """A short sha256 of each image's pixels as the model reads them (after decoding, resizing, colour).

    A file whose pixels change (edited, replaced, re-labelled by moving it) gets another digest; a file
    saved again with the same pixels keeps it, since the model would see the same data.

    Args:
        imageset: the images.

    Returns:
        one 16-hex-digit digest per image, in order.
    """
    return [hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()[:16] for image in imageset.images]


def describe_parts(parts: dict[str, ImageSet]) -> dict:
    """The classes and files of each part, with each file's size on disk and pixel digest, for `split.json`.

    Args:
        parts: from `split_dataset`.

    Returns:
        `{part: {"classes": [...names present...], "files": [...paths...], "sizes": [...bytes, or None
        for a member of an archive...], "digests": [...pixel_digests...]}}`.
    """
    return {
        part: {
            "classes": [subset.class_names[c] for c in np.flatnonzero(subset.class_counts() > 0)],
            "files": list(subset.paths),
            "sizes": [os.path.getsize(path) if os.path.isfile(path) else None for path in subset.paths],
            "digests": pixel_digests(subset),
        }
        for part, subset in parts.items()
    }


@dataclass(frozen=True)
class RunFolder:
    """A run folder on disk (see the module docstring for its files).

    Args:
        path: the folder.
    """

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    @property
    def model_path(self) -> Path:
        return self.path / "model.keras"

    def write_start(self, recipe: str, settings: dict, data: DataSource, split: SplitSpec,
                    parts: dict[str, ImageSet], ignored=(), skipped=()) -> None:
        """Records the recipe, data and split before training, so even an interrupted run knows its data.

        Args:
            recipe: `"contrastive"`, `"twin"` or `"one-shot"`.
            settings: the recipe's settings.
            data: where the images came from and how they were read.
            split: how they were divided.
            parts: the parts themselves (their classes and files go to split.json).
            ignored: files of the source that are not images.
            skipped: `(path, reason)` of unreadable images left out.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.path / "split.json", describe_parts(parts))
        write_json(self.path / "run.json", {
            "format": RUN_FORMAT,
            "recipe": recipe,
            "settings": settings,
            "data": data.to_dict(),
            "split": {"kind": split.kind, "validation_fraction": split.validation_fraction,
                      "test_fraction": split.test_fraction, "seed": split.seed},
            "image_shape": list(parts["train"].image_shape),
            "counts": {part: {"classes": int((s.class_counts() > 0).sum()), "images": len(s)}
                       for part, s in parts.items()},
            "ignored_files": len(ignored),
            "skipped_images": [{"path": path, "reason": reason} for path, reason in skipped],
        })

    def info(self) -> dict:
        """Returns:
            run.json's contents.

        Raises:
            DataError: if the folder is not a run folder, naming what is missing and how to make one."""
        run_file = self.path / "run.json"
        if not run_file.is_file():
            hint = (" It holds a model.keras from an older siamese-kit or another tool: evaluate that with "
                    "`siamese-kit evaluate MODEL.keras`." if self.model_path.is_file() else "")
            raise DataError(
                f"{self.path} is not a run folder (no run.json).{hint} Make one with "
                "`siamese-kit train --data SOURCE --recipe RECIPE --out RUN`."
            )
        info = json.loads(run_file.read_text())
        if info.get("format") != RUN_FORMAT:
            raise DataError(f"{run_file}: run format {info.get('format')!r}, this siamese-kit reads {RUN_FORMAT}.")
        return info

    def data_source(self) -> DataSource:
        """Returns:
            the DataSource recorded for the run."""
        return DataSource.from_dict(self.info()["data"])

    def trained_model(self):
        """The run's model, loaded with `safe_mode=True` (a model file is data, never code).

        Returns:
            a SiameseModel, PrototypeModel or EmbeddingModel.

        Raises:
            DataError: if there is no model yet (training did not finish) or it cannot be loaded.
        """
        import keras

        # Importing the classes registers them for deserialisation (siamese_kit.models loads lazily).
        from .layers import CentroidDecoder  # noqa: F401
        from .losses import ContrastiveLoss  # noqa: F401
        from .models.embedding import EmbeddingModel  # noqa: F401  (and the batch losses it saves)
        from .models.prototype import PrototypeModel  # noqa: F401
        from .models.twin import SiameseModel  # noqa: F401

        if not self.model_path.is_file():
            raise DataError(f"{self.path} has no model.keras: its training did not finish. Train it again "
                            "(`siamese-kit train ... --out RUN --resume` continues from its checkpoints).")
        try:
            return keras.saving.load_model(self.model_path, safe_mode=True)
        except Exception as error:  # Keras signals a bad file with zip, key, type and value errors alike
            raise DataError(f"cannot load {self.model_path} ({type(error).__name__}: {str(error)[:300]}).") from None

    def load_parts(self) -> dict[str, ImageSet]:
        """The run's own train, validation and test parts, read again from its source and split as recorded.

        Returns:
            `{"train", "validation", "test"}` ImageSets.

        Raises:
            DataError: if the source is gone, or its files changed since training: added or removed
                (naming how many in which part) or with other pixels (naming the file), so a model is
                never scored on other data. Runs recorded before digests were kept are checked by name.
        """
        info = self.info()
        data = DataSource.from_dict(info["data"])
        contents = load_source(data)
        spec = SplitSpec(**info["split"])
        parts = split_dataset(contents.imageset, spec)
        recorded = json.loads((self.path / "split.json").read_text())
        for part, subset in parts.items():
            before, now = set(recorded[part]["files"]), set(subset.paths)
            if before != now:
                raise DataError(
                    f"{data.source} changed since {self.path} was trained: its {part} part had "
                    f"{len(before)} files, now {len(now)} ({len(now - before)} new, {len(before - now)} gone, "
                    f"e.g. {sorted(now ^ before)[0]}). Evaluate on the data it was trained on, or train a new run."
                )
            if "digests" in recorded[part]:
                was = dict(zip(recorded[part]["files"], recorded[part]["digests"]))
                changed = [path for path, digest in zip(subset.paths, pixel_digests(subset)) if was[path] != digest]
                if changed:
                    raise DataError(
                        f"{data.source} changed since {self.path} was trained: {len(changed)} file(s) of its {part} "
                        f"part now hold other pixels, e.g. {changed[0]}. Put the original files back, or train a "
                        "new run on the data as it is now."
                    )
        return parts


__all__ = ["OPEN_SET_MIN_CLASSES", "PARTS", "RUN_FORMAT", "SPLITS", "RunFolder", "SplitSpec", "describe_parts",
           "open_set_warning", "pixel_digests", "split_dataset"]
