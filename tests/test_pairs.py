"""Pair streams: balance, labels, determinism, resumption, and refusal of unusable input."""

import numpy as np
import pytest

from siamese_kit.data import DataError, ImageSet, fixed_pairs, pair_stream

from conftest import make_imageset


def take(stream, batches):
    return [(features, target) for features, target in stream.take(batches)]


def index_of(imageset, images):
    """Recovers dataset indices from gathered images (synthetic images are all distinct)."""
    flat = imageset.images.reshape(len(imageset), -1)
    lookup = {row.tobytes(): i for i, row in enumerate(flat)}
    return np.array([lookup[img.tobytes()] for img in np.asarray(images).reshape(len(images), -1)])


def test_alternating_stream_is_balanced_and_labels_are_right(small_set):
    for features, target in take(pair_stream(small_set, batch_size=10, seed=3), 5):
        target = target.numpy()
        np.testing.assert_array_equal(target, np.tile([1.0, 0.0], 5))
        label_a, label_b = features["label_a"].numpy(), features["label_b"].numpy()
        np.testing.assert_array_equal(target == 1, label_a == label_b)
        index_a = index_of(small_set, features["image_a"].numpy())
        index_b = index_of(small_set, features["image_b"].numpy())
        np.testing.assert_array_equal(small_set.labels[index_a], label_a)
        np.testing.assert_array_equal(small_set.labels[index_b], label_b)
        # A same pair is two different images of one class.
        assert np.all(index_a[target == 1] != index_b[target == 1])


def test_alternation_continues_across_odd_batches(small_set):
    targets = np.concatenate([t.numpy() for _, t in take(pair_stream(small_set, batch_size=3), 4)])
    np.testing.assert_array_equal(targets, np.tile([1.0, 0.0], 6))


def test_random_mode_is_about_half_same_and_covers_all_classes():
    imageset = make_imageset(num_classes=5, per_class=4)
    features, target = next(iter(pair_stream(imageset, batch_size=4000, seed=1, mode="random")))
    share = target.numpy().mean()
    assert 0.46 < share < 0.54
    counts = np.bincount(features["label_a"].numpy(), minlength=5)
    assert counts.min() > 600  # classes drawn uniformly: 800 expected each


def test_same_seed_same_stream_other_seed_other_stream(small_set):
    first = take(pair_stream(small_set, batch_size=8, seed=7), 3)
    again = take(pair_stream(small_set, batch_size=8, seed=7), 3)
    other = take(pair_stream(small_set, batch_size=8, seed=8), 3)
    for (fa, _), (fb, _) in zip(first, again):
        np.testing.assert_array_equal(fa["image_a"].numpy(), fb["image_a"].numpy())
    assert any(
        not np.array_equal(fa["image_a"].numpy(), fo["image_a"].numpy()) for (fa, _), (fo, _) in zip(first, other)
    )


def test_start_batch_resumes_the_same_stream(small_set):
    whole = take(pair_stream(small_set, batch_size=8, seed=2), 5)
    resumed = take(pair_stream(small_set, batch_size=8, seed=2, start_batch=3), 2)
    for (fw, tw), (fr, tr) in zip(whole[3:], resumed):
        np.testing.assert_array_equal(fw["image_b"].numpy(), fr["image_b"].numpy())
        np.testing.assert_array_equal(tw.numpy(), tr.numpy())


def test_classes_with_one_image_are_skipped_for_same_pairs_only():
    images = np.arange(7 * 4, dtype=np.uint8).reshape(7, 2, 2, 1)
    imageset = ImageSet(images, np.array([0, 0, 0, 1, 1, 1, 2]))
    with pytest.raises(DataError, match="class '2' has 1 image"):
        pair_stream(imageset)


def test_unusable_inputs_are_refused_with_a_clear_message(small_set):
    one_class = ImageSet(np.zeros((5, 4, 4, 1), np.uint8), np.zeros(5, np.int64))
    with pytest.raises(DataError, match="at least 2 classes"):
        pair_stream(one_class)
    with pytest.raises(DataError, match="batch_size"):
        pair_stream(small_set, batch_size=0)
    with pytest.raises(DataError, match="batch_size"):
        pair_stream(small_set, batch_size=10**9)
    with pytest.raises(DataError, match="mode"):
        pair_stream(small_set, mode="hard")
    with pytest.raises(DataError, match="expected an ImageSet"):
        pair_stream(np.zeros((4, 8, 8, 1)))


def test_fixed_pairs_are_reproducible_and_index_the_set(small_set):
    pairs = fixed_pairs(small_set, 50, seed=4)
    again = fixed_pairs(small_set, 50, seed=4)
    np.testing.assert_array_equal(pairs.index_a, again.index_a)
    assert len(pairs) == 50
    same = small_set.labels[pairs.index_a] == small_set.labels[pairs.index_b]
    np.testing.assert_array_equal(same, pairs.pair_label == 1)


def test_stream_yields_uint8_batches_of_the_image_shape():
    imageset = make_imageset(num_classes=10, per_class=100, size=28)
    stream = pair_stream(imageset, batch_size=64)
    features, _ = next(iter(stream))
    assert features["image_a"].shape == (64, 28, 28, 1)
    assert features["image_a"].dtype.name == "uint8"
