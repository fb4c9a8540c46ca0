"""The distance-space pictures draw the toolkit's own losses, and refuse what they cannot draw."""

import keras
import numpy as np
import pytest

from siamese_kit import plotting
from siamese_kit.losses import ContrastiveLoss


def test_the_contrastive_curves_are_the_loss_itself():
    figure = plotting.contrastive_loss_plot(margin=1.5)
    same, different = figure.axes[0].get_lines()[:2]
    distance = same.get_xdata()
    loss = ContrastiveLoss(1.5, reduction=None)
    np.testing.assert_allclose(same.get_ydata(), np.asarray(loss(np.ones_like(distance), distance)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(different.get_ydata(), np.asarray(loss(np.zeros_like(distance), distance)),
                               rtol=1e-5, atol=1e-6)
    assert distance.max() > 1.5  # beyond the margin, where a different pair feels nothing
    assert any(line.get_xdata()[0] == 1.5 for line in figure.axes[0].get_lines()[2:])  # the margin drawn


def test_the_cross_entropy_curves_are_keras_own_on_logits():
    figure = plotting.binary_cross_entropy_plot()
    same, different = figure.axes[0].get_lines()[:2]
    logit = same.get_xdata()
    for line, label in ((same, 1.0), (different, 0.0)):
        expected = keras.ops.binary_crossentropy(np.full_like(logit, label), logit, from_logits=True)
        np.testing.assert_allclose(line.get_ydata(), np.asarray(expected), rtol=1e-5, atol=1e-6)
    probability = figure.axes[1].get_lines()[0]
    np.testing.assert_allclose(probability.get_ydata(), 1 / (1 + np.exp(-logit)))


def test_the_triplet_hinge_is_flat_for_easy_triplets_and_rises_one_for_one():
    line = plotting.triplet_loss_plot(margin=0.5).axes[0].get_lines()[0]
    gap, loss = line.get_xdata(), line.get_ydata()
    assert np.all(loss[gap <= -0.5] == 0)
    rising = gap > -0.5
    np.testing.assert_allclose(np.diff(loss[rising]) / np.diff(gap[rising]), 1.0)
    assert loss[np.argmin(np.abs(gap))] == pytest.approx(0.5)  # at d(a,p) = d(a,n) the loss is the margin


def test_histograms_draw_the_margin_and_the_threshold():
    scores, labels = np.array([0.2, 0.4, 1.8, 2.4]), np.array([1, 1, 0, 0])
    figure = plotting.score_histograms(scores, labels, threshold=1.0, margin=2.0)
    vertical = sorted(line.get_xdata()[0] for line in figure.axes[0].get_lines())
    assert vertical == [1.0, 2.0]


def test_snapshots_one_panel_per_step():
    labels = np.repeat(np.arange(3), 4)
    points = np.random.default_rng(0).normal(size=(12, 2))
    figure = plotting.embedding_snapshots([(0, points), (50, points * 2), (100, points * 3)], labels, columns=2)
    shown = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == ["step 0", "step 50", "step 100"]
    assert len(shown[0].collections) == 3  # one scatter per class


@pytest.mark.parametrize("draw", [plotting.contrastive_loss_plot, plotting.triplet_loss_plot])
@pytest.mark.parametrize("margin", [0, -1, float("nan"), "wide"])
def test_a_margin_that_is_not_positive_is_refused(draw, margin):
    with pytest.raises(ValueError, match="margin must be a positive number"):
        draw(margin=margin)


def test_snapshots_of_the_wrong_shape_are_refused_naming_the_step():
    with pytest.raises(ValueError, match=r"step 7 are \(4, 3\); each snapshot needs \[4, 2\]"):
        plotting.embedding_snapshots([(7, np.zeros((4, 3)))], [0, 0, 1, 1])
    with pytest.raises(ValueError, match="at least one"):
        plotting.embedding_snapshots([], [0, 1])
