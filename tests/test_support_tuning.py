"""SupportFineTuning: each trial set tunes the tower on its own support images only, and the tower is
restored before the next set."""

import numpy as np
import pytest

from conftest import make_imageset
from siamese_kit.data import fixed_episodes
from siamese_kit.models import SupportFineTuning
from siamese_kit.evaluation import class_scores, episode_hits
from siamese_kit.recipes import OneShotRecipe, build_prototype_model


def tower(seed=0):
    return build_prototype_model(OneShotRecipe(width=4, embedding_dim=8, seed=seed))


def test_tuning_uses_the_support_only_and_restores_the_tower():
    model = tower()
    data = make_imageset(num_classes=5, per_class=3, size=28)
    support = data.images[[0, 3, 6, 9, 12]][:, None]  # 5 classes, 1 shot
    queries = data.images[[1, 4, 7]]
    before = [variable.numpy().copy() for variable in model.encoder.trainable_variables]
    tuned = SupportFineTuning(model, steps=3, learning_rate=0.05, views=2)
    scores = tuned.scores(support, queries)
    for variable, value in zip(model.encoder.trainable_variables, before):
        np.testing.assert_array_equal(variable.numpy(), value)  # restored exactly
    # The queries play no part in the tuning: one query scored alone gets the same distances.
    np.testing.assert_allclose(tuned.scores(support, queries[:1]), scores[:1], rtol=1e-5)
    plain = class_scores(model, model.embed(support.reshape(5, 28, 28, 1))[:, None], model.embed(queries))
    assert scores.shape == (3, 5) and not np.allclose(scores, plain, rtol=1e-3)


def test_each_step_lowers_the_support_sets_loss_and_episodes_are_scored_one_by_one():
    model = tower(seed=1)
    data = make_imageset(num_classes=10, per_class=4, size=28)
    tuned = SupportFineTuning(model, steps=12, learning_rate=0.5, views=3)
    episodes = fixed_episodes(data, 3, ways=5, shots=1, queries=1, seed=2, within_group=False)
    hits = tuned.episode_hits(data, episodes)
    losses = tuned.last_losses  # the third episode's steps
    assert hits.shape == (3, 5) and len(losses) == 12
    assert np.mean(losses[-3:]) < losses[0], losses
    last = episodes.support_index[2], episodes.query_index[2].reshape(-1)
    np.testing.assert_array_equal(np.argmin(tuned.scores(data.images[last[0]], data.images[last[1]]), axis=1) ==
                                  np.arange(5), hits[2])


def test_bad_settings_are_refused():
    class Head:
        score_kind = "similarity"

    with pytest.raises(ValueError, match="distance tower with an encoder"):
        SupportFineTuning(Head())
    with pytest.raises(ValueError, match="steps"):
        SupportFineTuning(tower(), steps=0)
    with pytest.raises(ValueError, match="learning_rate"):
        SupportFineTuning(tower(), learning_rate=0)


def test_a_setting_changed_after_the_first_set_is_used_not_ignored():
    # The compiled step fixes its settings when traced; changing one afterwards must take effect.
    model = tower(seed=2)
    data = make_imageset(num_classes=5, per_class=3, size=28)
    support, queries = data.images[[0, 3, 6, 9, 12]][:, None], data.images[[1, 4]]
    tuned = SupportFineTuning(model, steps=1, learning_rate=0.05, views=1, margin=1.0)
    tuned.scores(support, queries)
    first = tuned.last_losses[0]
    tuned.margin = 101.0  # batch-hard's hinge: the same distances, 100 more loss on every anchor
    tuned.scores(support, queries)
    assert tuned.last_losses[0] == pytest.approx(first + 100.0, rel=1e-4)
    tuned.learning_rate = 0.0
    with pytest.raises(ValueError, match="learning_rate"):
        tuned.scores(support, queries)
