"""Class-balanced P x K batches: right classes and images, seeded, resumable, and clear refusals."""

import numpy as np
import pytest

from siamese_kit.data import DataError, ImageSet, class_balanced_stream


def numbered_set(counts, groups_of_classes=None):
    """An ImageSet whose image i carries i in its first two pixels, with counts[c] images of class c."""
    labels = np.repeat(np.arange(len(counts)), counts)
    index = np.arange(len(labels))
    images = np.zeros((len(labels), 4, 4, 1), np.uint8)
    images[:, 0, 0, 0], images[:, 0, 1, 0] = index // 256, index % 256
    groups = None if groups_of_classes is None else np.asarray(groups_of_classes)[labels]
    return ImageSet(images, labels, groups=groups, name="numbered")


def index_of(images):
    return images[:, 0, 0, 0].astype(int) * 256 + images[:, 0, 1, 0].astype(int)


def batches(stream, count):
    return [(images.numpy(), labels.numpy()) for images, labels in stream.take(count)]


def test_each_batch_holds_p_classes_of_k_distinct_images_with_their_labels():
    counts = [6, 2, 5, 9, 4, 3, 7, 1, 8, 5, 4, 6]  # classes 1, 5 and 7 have fewer than 4 images
    data = numbered_set(counts)
    seen = set()
    for images, labels in batches(class_balanced_stream(data, classes_per_batch=5, images_per_class=4, seed=3), 30):
        index = index_of(images)
        assert images.shape == (20, 4, 4, 1) and labels.dtype == np.int32
        np.testing.assert_array_equal(labels, data.labels[index])  # every label is its image's
        assert len(set(index)) == 20  # no image twice
        rows = labels.reshape(5, 4)
        assert (rows == rows[:, :1]).all() and len(set(rows[:, 0])) == 5  # class by class, 5 distinct classes
        seen |= set(labels)
    assert not seen & {1, 5, 7}  # classes without K images never appear
    assert seen == {0, 2, 3, 4, 6, 8, 9, 10, 11}  # and every class that has them does, over 30 batches


def test_same_seed_same_batches_and_a_stream_resumes_at_any_batch():
    data = numbered_set([5] * 10)
    first = batches(class_balanced_stream(data, 3, 2, seed=7), 6)
    again = batches(class_balanced_stream(data, 3, 2, seed=7), 6)
    resumed = batches(class_balanced_stream(data, 3, 2, seed=7, start_batch=4), 2)
    other = batches(class_balanced_stream(data, 3, 2, seed=8), 6)
    for (a, _), (b, _) in zip(first, again):
        np.testing.assert_array_equal(a, b)
    for (a, _), (b, _) in zip(first[4:], resumed):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for (a, _), (b, _) in zip(first, other))


def test_within_group_draws_each_batch_from_one_group():
    data = numbered_set([4] * 12, groups_of_classes=[0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2])
    class_group = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2])
    used = set()
    for _, labels in batches(class_balanced_stream(data, 4, 2, within_group=True, seed=0), 20):
        groups = set(class_group[labels])
        assert len(groups) == 1
        used |= groups
    assert used == {0, 1}  # group 2 has 3 classes, fewer than P = 4


def test_bad_arguments_are_refused_with_the_counts_and_the_fix():
    data = numbered_set([5, 5, 3, 2])
    with pytest.raises(DataError, match=r"has 2 classes with at least images_per_class=4 images, fewer than "
                                        r"classes_per_batch=3 \(the smallest class has 2\)\. Lower"):
        class_balanced_stream(data, classes_per_batch=3, images_per_class=4)
    with pytest.raises(DataError, match="at least 2 classes .* and 2 images per class"):
        class_balanced_stream(data, classes_per_batch=2, images_per_class=1)
    with pytest.raises(DataError, match="within_group=True needs an ImageSet with groups"):
        class_balanced_stream(data, 2, 2, within_group=True)
    with pytest.raises(DataError, match="classes_per_batch must be a positive integer"):
        class_balanced_stream(data, classes_per_batch=2.5)
    with pytest.raises(DataError, match="expected an ImageSet, got ndarray"):
        class_balanced_stream(data.images)


def test_augmentation_is_seeded_per_batch():
    from siamese_kit.data import AffineDistortion

    data = ImageSet(np.random.default_rng(0).integers(0, 256, (40, 12, 12, 1), dtype=np.uint8),
                    np.repeat(np.arange(8), 5))
    distort = AffineDistortion()
    first = batches(class_balanced_stream(data, 4, 3, seed=1, augment=distort), 2)
    again = batches(class_balanced_stream(data, 4, 3, seed=1, augment=distort), 2)
    plain = batches(class_balanced_stream(data, 4, 3, seed=1), 2)
    np.testing.assert_array_equal(first[1][0], again[1][0])
    np.testing.assert_array_equal(first[1][1], plain[1][1])  # the same draws, distorted
    assert not np.array_equal(first[1][0], plain[1][0])


def test_a_balanced_stream_and_an_episode_stream_of_one_seed_draw_unrelated_groups():
    # Both samplers pick a group (an alphabet) per step; with one key for that pick, every P x K batch
    # came from the same alphabet as the episode of the same seed and number.
    from siamese_kit.data import fixed_episodes

    class_group = np.repeat(np.arange(6), 4)  # 6 groups of 4 classes
    data = numbered_set([4] * 24, groups_of_classes=class_group)
    steps = 60
    balanced = [set(class_group[labels]) for _, labels in batches(class_balanced_stream(data, 3, 2, within_group=True,
                                                                                        seed=5), steps)]
    episodes = fixed_episodes(data, steps, ways=3, shots=1, queries=1, seed=5, within_group=True)
    episode_groups = [set(class_group[data.labels[support.reshape(-1)]]) for support in episodes.support_index]
    assert all(len(g) == 1 for g in balanced + episode_groups)
    same = sum(b == e for b, e in zip(balanced, episode_groups))
    # Unrelated draws agree on about 1 step in 6 (10 of 60); 30 or more would happen by chance with
    # probability under 1e-9.
    assert same < 30, same


def test_groups_per_batch_draws_that_many_distinct_groups_with_an_equal_share_of_classes():
    class_group = np.repeat(np.arange(5), [4, 4, 4, 4, 2])  # group 4 has 2 classes, fewer than the share of 3
    data = numbered_set([3] * len(class_group), groups_of_classes=class_group)
    used = set()
    for images, labels in batches(class_balanced_stream(data, 6, 2, within_group=True, groups_per_batch=2, seed=1), 40):
        np.testing.assert_array_equal(labels, data.labels[index_of(images)])
        rows = labels.reshape(6, 2)
        assert (rows == rows[:, :1]).all() and len(set(rows[:, 0])) == 6  # six distinct classes, K each
        groups, shares = np.unique(class_group[rows[:, 0]], return_counts=True)
        assert len(groups) == 2 and (shares == 3).all()  # two groups, three classes from each
        used |= set(groups)
    assert used == {0, 1, 2, 3}  # every group with 3 classes takes part; group 4 never
    again = batches(class_balanced_stream(data, 6, 2, within_group=True, groups_per_batch=2, seed=1, start_batch=5), 2)
    first = batches(class_balanced_stream(data, 6, 2, within_group=True, groups_per_batch=2, seed=1), 7)[5:]
    for (a, _), (b, _) in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_groups_per_batch_is_refused_where_it_cannot_split_the_batch():
    data = numbered_set([3] * 8, groups_of_classes=[0, 0, 0, 1, 1, 1, 2, 2])
    with pytest.raises(DataError, match="needs within_group=True and classes_per_batch divisible by it"):
        class_balanced_stream(data, 6, 2, groups_per_batch=2)
    with pytest.raises(DataError, match="divisible by it .*classes_per_batch=5"):
        class_balanced_stream(data, 5, 2, within_group=True, groups_per_batch=2)
    with pytest.raises(DataError, match="has 2 groups with at least 3 classes .* fewer than groups_per_batch=3"):
        class_balanced_stream(data, 9, 2, within_group=True, groups_per_batch=3)
