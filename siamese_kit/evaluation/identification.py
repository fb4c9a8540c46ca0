"""Identification: which class an image belongs to, from embeddings computed once (nearest centroid,
per-class accuracy, confusion). N-way K-shot episodes and Lake's runs: `one_shot.py`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from keras import ops

from .._checks import positive_int
from ..data.imageset import ImageSet


def confusion_matrix(true_labels, predicted_labels, num_classes: int) -> np.ndarray:
    """Counts of (true, predicted) class pairs.

    Args:
        true_labels: int array `[N]`.
        predicted_labels: int array `[N]`.
        num_classes: number of classes K.

    Returns:
        int64 array `[K, K]`; row = true class, column = predicted class.
    """
    true_labels = np.asarray(true_labels, dtype=np.int64)
    predicted_labels = np.asarray(predicted_labels, dtype=np.int64)
    if true_labels.shape != predicted_labels.shape:
        raise ValueError(
            f"confusion_matrix: {len(true_labels)} true labels but {len(predicted_labels)} predictions."
        )
    flat = true_labels * num_classes + predicted_labels
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_accuracy(true_labels, predicted_labels, num_classes: int) -> np.ndarray:
    """Accuracy within each true class (recall per class).

    Args:
        true_labels: int array `[N]` of classes in `[0, num_classes)`.
        predicted_labels: int array `[N]` of classes in `[0, num_classes)`.
        num_classes: number of classes K.

    Returns:
        float64 array `[K]`: share of each class's items predicted as that class; nan for classes
        without items (their accuracy is unknown, not 0).

    Raises:
        ValueError: on mismatched lengths, non-integer labels, labels outside `[0, num_classes)` or
            `num_classes` < 1.
    """
    num_classes = positive_int(num_classes, "per_class_accuracy: num_classes")
    arrays = []
    for name, values in (("true_labels", true_labels), ("predicted_labels", predicted_labels)):
        values = np.asarray(values)
        if values.ndim != 1:
            raise ValueError(f"per_class_accuracy: {name} must be 1-D `[N]`, got shape {values.shape}.")
        if values.size and not (np.issubdtype(values.dtype, np.integer) or values.dtype == bool):
            raise ValueError(
                f"per_class_accuracy: {name} must be integer class indices, got dtype {values.dtype}."
            )
        # Out-of-range labels would silently land in another class's cell of the flat bincount.
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"per_class_accuracy: {name} must lie in [0, {num_classes}), got values from {values.min()} "
                f"to {values.max()}; pass the right num_classes."
            )
        arrays.append(values.astype(np.int64))
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(
            f"per_class_accuracy: need equally many true and predicted labels, got {len(arrays[0])} and "
            f"{len(arrays[1])}."
        )
    confusion = confusion_matrix(arrays[0], arrays[1], num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(confusion) / confusion.sum(axis=1)


@dataclass
class CentroidReport:
    """Result of nearest-centroid classification over a test ImageSet.

    Attributes:
        accuracy: share of images whose nearest centroid is their own class.
        predictions: predicted class per image, `[N]`.
        confusion: confusion matrix `[K, K]` (row = true class).
        per_class_accuracy: accuracy of each class, `[K]` (nan for classes without images).
    """

    accuracy: float
    predictions: np.ndarray
    confusion: np.ndarray
    per_class_accuracy: np.ndarray


def centroid_accuracy(model, test_set: ImageSet, embeddings: np.ndarray | None = None) -> CentroidReport:
    """Classifies every test image by its nearest stored class centroid ("test many").

    Args:
        model: a `SiameseModel` with a `CentroidDecoder`.
        test_set: labelled test images, with the class indices the model was trained on.
        embeddings: the test set's embeddings if already computed (`model.embed(test_set)`), so they
            are computed once and shared by every metric.

    Returns:
        CentroidReport.
    """
    if getattr(model, "decoder", None) is None:
        raise ValueError(
            "centroid_accuracy: the model has no CentroidDecoder; build it with "
            "SiameseModel(encoder, head, decoder=CentroidDecoder(num_classes))."
        )
    if embeddings is None:
        embeddings = model.embed(test_set)
    predictions = np.asarray(ops.convert_to_numpy(model.decoder.predict_classes(embeddings)))
    confusion = confusion_matrix(test_set.labels, predictions, model.decoder.num_classes)
    return CentroidReport(
        accuracy=float(np.mean(predictions == test_set.labels)),
        predictions=predictions,
        confusion=confusion,
        per_class_accuracy=per_class_accuracy(test_set.labels, predictions, model.decoder.num_classes),
    )
