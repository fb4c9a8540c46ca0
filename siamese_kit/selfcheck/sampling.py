"""Self-check for a pair sampler: balanced, seeded pairs with pair labels that match the classes."""

from __future__ import annotations

import numpy as np

from ..data.imageset import ImageSet
from ._common import _check_function, _check_seed, _ok


# -- pair sampler ------------------------------------------------------------------------------------


def _practice_imageset(seed: int) -> ImageSet:
    """A tiny labelled set with classes of unequal size, so a sampler that ignores classes shows."""
    rng = np.random.default_rng(seed)
    counts = [12, 3, 7, 9, 2, 15, 5, 8]
    labels = np.repeat(np.arange(len(counts)), counts)
    rng.shuffle(labels)
    images = rng.integers(0, 256, size=(len(labels), 8, 8, 1), dtype=np.uint8)
    return ImageSet(images, labels, class_names=[f"class{c}" for c in range(len(counts))], name="practice")


def _pair_arrays(result, num_pairs: int):
    if all(hasattr(result, name) for name in ("index_a", "index_b", "pair_label")):
        result = (result.index_a, result.index_b, result.pair_label)
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise AssertionError(
            "check_pair_sampler: student_fn must return (index_a, index_b, pair_label), three arrays of "
            f"length num_pairs, or a PairSet; got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "") + "."
        )
    arrays = []
    for name, value in zip(("index_a", "index_b", "pair_label"), result):
        array = np.asarray(value)
        if array.shape != (num_pairs,):
            raise AssertionError(
                f"check_pair_sampler: {name} has shape {array.shape}; asked for {num_pairs} pairs, it must "
                f"have shape ({num_pairs},)."
            )
        try:
            whole = np.issubdtype(array.dtype, np.integer) or bool(np.all(np.mod(array, 1) == 0))
        except TypeError:  # strings, objects: not numbers at all
            whole = False
        if not whole:
            raise AssertionError(f"check_pair_sampler: {name} must hold whole numbers (indices, labels); "
                                 f"got {array[:5].tolist()}...")
        arrays.append(array.astype(np.int64))
    return arrays


def check_pair_sampler(student_fn, imageset: ImageSet | None = None, num_pairs: int = 200, seed: int = 0) -> bool:
    """Checks a function that samples pairs of images from an ImageSet.

    The function is called as `student_fn(imageset, num_pairs, seed)` and must return
    `(index_a, index_b, pair_label)` (three int arrays of length `num_pairs`) or a `PairSet`. Checked:
    every index is a valid position in the ImageSet; every pair label says whether the two images'
    classes agree (1 = same class, 0 = different class); a same pair never shows one image twice; about
    half the pairs are same pairs; many classes take part; the same seed gives the same pairs and
    another seed other pairs.

    Args:
        student_fn: the function to check.
        imageset: the images to sample from; None uses a small built-in set whose classes have very
            different sizes (so a sampler that draws images without regard to class is caught).
        num_pairs: pairs to ask for (at least 40, so that balance can be judged).
        seed: the seed passed to `student_fn`.

    Returns:
        True, after printing a line starting with "✓".

    Raises:
        AssertionError: naming the first bad pair (its indices, their classes and its label) or the
            failed property (balance, determinism, coverage) and how to fix it.
        TypeError: if `student_fn` is not callable, `imageset` not an ImageSet or `num_pairs` < 40.
    """
    _check_function(student_fn, "check_pair_sampler")
    _check_seed(seed, "check_pair_sampler")
    if isinstance(num_pairs, bool) or not isinstance(num_pairs, (int, np.integer)) or num_pairs < 40:
        raise TypeError(f"check_pair_sampler: num_pairs must be an int >= 40 (to judge the balance), got {num_pairs!r}.")
    imageset = _practice_imageset(seed) if imageset is None else imageset
    if not isinstance(imageset, ImageSet):
        raise TypeError(f"check_pair_sampler: imageset must be an ImageSet, got {type(imageset).__name__}.")
    index_a, index_b, pair_label = _pair_arrays(student_fn(imageset, num_pairs, seed), num_pairs)
    size = len(imageset)
    for name, index in (("index_a", index_a), ("index_b", index_b)):
        bad = np.flatnonzero((index < 0) | (index >= size))
        if len(bad):
            raise AssertionError(
                f"check_pair_sampler: pair {bad[0]} has {name} = {index[bad[0]]}, but the ImageSet has {size} "
                f"images (valid indices 0..{size - 1}). Draw indices from np.flatnonzero(labels == c), "
                "not from the class numbers or range(size + 1)."
            )
    if not np.isin(pair_label, (0, 1)).all():
        raise AssertionError(f"check_pair_sampler: pair labels must be 0 or 1, got values {sorted(set(pair_label.tolist()))}.")
    labels = imageset.labels
    truth = (labels[index_a] == labels[index_b]).astype(np.int64)
    wrong = np.flatnonzero(truth != pair_label)
    if len(wrong):
        i = int(wrong[0])
        swapped = bool(np.all(truth != pair_label))
        raise AssertionError(
            f"check_pair_sampler: pair {i} joins image {index_a[i]} (class {labels[index_a[i]]}) and image "
            f"{index_b[i]} (class {labels[index_b[i]]}) but its label is {pair_label[i]}; "
            f"{len(wrong)} of {num_pairs} labels disagree with the classes. "
            + ("Every label is flipped: in siamese-kit 1 = same class, 0 = different class."
               if swapped else "The label must be 1 exactly when both images have the same class.")
        )
    twice = np.flatnonzero(index_a == index_b)
    if len(twice):
        raise AssertionError(
            f"check_pair_sampler: pair {twice[0]} shows image {index_a[twice[0]]} twice; a same pair needs two "
            "different images of one class (draw the second from the class's other images)."
        )
    same_share = float(pair_label.mean())
    if not 0.35 <= same_share <= 0.65:
        raise AssertionError(
            f"check_pair_sampler: {same_share:.0%} of the pairs are same pairs; a balanced sampler gives about "
            "half. Two random images are rarely of one class, so choose the kind of pair first (same or "
            "different, each with probability 1/2, or alternating), then the images."
        )
    classes_used = len(np.unique(labels[np.concatenate([index_a, index_b])]))
    present = len(np.unique(labels))
    if classes_used < min(present, max(2, present // 2)):
        raise AssertionError(
            f"check_pair_sampler: the pairs use only {classes_used} of the {present} classes; draw the class "
            "of each pair at random."
        )
    again = _pair_arrays(student_fn(imageset, num_pairs, seed), num_pairs)
    if not all(np.array_equal(x, y) for x, y in zip(again, (index_a, index_b, pair_label))):
        raise AssertionError(
            "check_pair_sampler: two calls with the same seed gave different pairs; make a generator from the "
            "seed (rng = np.random.default_rng(seed)) and draw everything from it."
        )
    other = _pair_arrays(student_fn(imageset, num_pairs, seed + 1), num_pairs)
    if all(np.array_equal(x, y) for x, y in zip(other, (index_a, index_b, pair_label))):
        raise AssertionError(
            f"check_pair_sampler: seeds {seed} and {seed + 1} gave the same pairs; the seed must drive the draws."
        )
    return _ok(f"pair sampler: {num_pairs} pairs, indices in range, labels match the classes (1 = same), "
               f"{same_share:.0%} same pairs, {classes_used} classes, seeded.")
