"""Seeds: the keys the samplers draw with are distinct across seeds, batches and purposes."""

import numpy as np
import pytest
import tensorflow as tf

from siamese_kit.data import AffineDistortion, derived_key, derived_seed
from siamese_kit.data.streams.episodes import _EpisodeTables, _sample_episode_indices
from siamese_kit.data.streams.pairs import _ClassTables, _sample_pair_indices, augment_both
from siamese_kit.data.streams.seeds import PURPOSES

from conftest import make_imageset


@pytest.fixture
def recorded_keys(monkeypatch):
    """Every key passed to `tf.random.stateless_uniform` while the fixture is active, in order."""
    keys = []
    original = tf.random.stateless_uniform

    def recording(shape, seed, *args, **kwargs):
        keys.append(tuple(int(value) for value in np.asarray(seed)))
        return original(shape, seed, *args, **kwargs)

    monkeypatch.setattr(tf.random, "stateless_uniform", recording)
    return keys


def _keys_by_owner(recorded_keys, draw, seeds=range(4), numbers=range(12)):
    """Runs `draw(seed, number)` eagerly for each pair and maps each key to the (seed, number)s using it."""
    owners = {}
    for seed in seeds:
        for number in numbers:
            start = len(recorded_keys)
            draw(seed, number)
            assert len(recorded_keys) > start, "the draw used no stateless key"
            for key in set(recorded_keys[start:]):
                owners.setdefault(key, set()).add((seed, number))
    return owners


def _shared(owners):
    return {key: sorted(users) for key, users in owners.items() if len(users) > 1}


def test_episode_draws_of_different_seeds_never_share_a_key(recorded_keys):
    """With keys made by addition, seed 1's episode 5 drew its classes with seed 0's episode-4 key."""
    tables = _EpisodeTables(make_imageset(num_classes=6, per_class=5), 3, 3, False)
    owners = _keys_by_owner(recorded_keys, lambda seed, number: _sample_episode_indices(tables, 3, 1, 2, seed, number))
    assert not _shared(owners)
    assert len(owners) == 4 * 12 * 3  # batch key, class key, image key per episode


def test_augmented_pair_draws_of_different_seeds_never_share_a_key(recorded_keys):
    """Pair indices, both images' distortions and their scale and shift draws: all keys distinct."""
    imageset = make_imageset(num_classes=4, per_class=6)
    tables = _ClassTables(imageset, "any")
    images = tf.constant(imageset.images[:8])
    distortion = AffineDistortion()

    def draw(seed, number):
        _sample_pair_indices(tables, 8, seed, number, "random")
        augment_both(distortion, images, images, seed, number)

    owners = _keys_by_owner(recorded_keys, draw)
    assert not _shared(owners)
    # The pair stream's own key is `[seed, number]`, unchanged, so streams resume where they stopped.
    assert (2, 7) in owners and owners[(2, 7)] == {(2, 7)}


def test_derived_keys_are_distinct_for_every_purpose_and_batch():
    made = {}
    for seed in range(10):
        for number in range(50):
            key = tf.constant([seed, number], tf.int64)
            for purpose in PURPOSES:
                made.setdefault(tuple(derived_key(key, purpose).numpy().tolist()), []).append((seed, number, purpose))
            made.setdefault((seed, number), []).append((seed, number, "batch"))
    assert not {key: users for key, users in made.items() if len(users) > 1}


def test_python_side_seeds_are_distinct_stable_and_in_range():
    purposes = ("validation pairs", "calibration pairs", "calibration alphabets", "evaluation batch 0",
                "evaluation batch 1")
    made = {(seed, purpose): derived_seed(seed, purpose) for seed in range(50) for purpose in purposes}
    assert len(set(made.values())) == len(made)
    assert all(0 <= value < 2**31 for value in made.values())
    # A fixed value: a change to the derivation changes every recorded result, so it must be deliberate.
    assert derived_seed(0, "validation pairs") == 1322366451
    assert derived_seed(0, "validation pairs") != derived_seed(1, "validation pairs")


def test_an_unknown_purpose_is_refused():
    with pytest.raises(KeyError):
        derived_key(tf.constant([0, 0], tf.int64), "no such purpose")
