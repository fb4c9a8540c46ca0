"""The batch losses against brute force: plain NumPy loops over every valid triplet or pair of random
batches, and the edge cases (a class with one image, no valid negative, all distances equal)."""

import itertools

import keras
import numpy as np
import pytest
from support import float64_or_skip, value_and_gradient

from siamese_kit.losses import MultiSimilarityLoss, SupervisedContrastiveLoss, TripletLoss


def numpy_distances(embeddings, distance):
    embeddings = embeddings.astype(np.float64)
    if distance == "cosine":
        unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
        return 1.0 - unit @ unit.T
    squared = ((embeddings[:, None, :] - embeddings[None, :, :]) ** 2).sum(-1)
    return squared if distance == "squared" else np.sqrt(squared + 1e-12)


def brute_triplet(labels, embeddings, margin, mining, distance):
    d = numpy_distances(embeddings, distance)
    n = len(labels)
    positives = lambda a: [p for p in range(n) if p != a and labels[p] == labels[a]]  # noqa: E731
    negatives = lambda a: [k for k in range(n) if labels[k] != labels[a]]  # noqa: E731
    if mining == "batch_all":
        losses = [max(d[a, p] - d[a, k] + margin, 0.0)
                  for a in range(n) for p in positives(a) for k in negatives(a)]
        active = [value for value in losses if value > 0]
        return float(np.mean(active)) if active else 0.0
    if mining == "batch_hard":
        losses = [max(max(d[a, p] for p in positives(a)) - min(d[a, k] for k in negatives(a)) + margin, 0.0)
                  for a in range(n) if positives(a) and negatives(a)]
        return float(np.mean(losses)) if losses else 0.0
    losses = []
    for a in range(n):
        if not negatives(a):
            continue
        for p in positives(a):
            farther = [d[a, k] for k in negatives(a) if d[a, k] > d[a, p]]
            chosen = min(farther) if farther else max(d[a, k] for k in negatives(a))
            losses.append(max(d[a, p] - chosen + margin, 0.0))
    return float(np.mean(losses)) if losses else 0.0


def brute_multi_similarity(labels, embeddings, alpha, beta, base, epsilon):
    unit = embeddings.astype(np.float64) / np.linalg.norm(embeddings, axis=1, keepdims=True)
    s = unit @ unit.T
    n, total = len(labels), 0.0
    for i in range(n):
        positives = [j for j in range(n) if j != i and labels[j] == labels[i]]
        negatives = [k for k in range(n) if labels[k] != labels[i]]
        if not positives or not negatives:
            continue
        kept_negatives = [k for k in negatives if s[i, k] + epsilon > min(s[i, j] for j in positives)]
        kept_positives = [j for j in positives if s[i, j] - epsilon < max(s[i, k] for k in negatives)]
        if not kept_positives or not kept_negatives:
            continue
        total += np.log1p(sum(np.exp(-alpha * (s[i, j] - base)) for j in kept_positives)) / alpha
        total += np.log1p(sum(np.exp(beta * (s[i, k] - base)) for k in kept_negatives)) / beta
    return total / n


def brute_supervised_contrastive(labels, embeddings, temperature):
    unit = embeddings.astype(np.float64) / np.linalg.norm(embeddings, axis=1, keepdims=True)
    logits = unit @ unit.T / temperature
    n, per_anchor = len(labels), []
    for i in range(n):
        positives = [p for p in range(n) if p != i and labels[p] == labels[i]]
        if not positives:
            continue
        normaliser = np.log(sum(np.exp(logits[i, a]) for a in range(n) if a != i))
        per_anchor.append(-np.mean([logits[i, p] - normaliser for p in positives]))
    return float(np.mean(per_anchor)) if per_anchor else 0.0


def random_batches(count=6, seed=0):
    """Batches of 4 to 12 images from 1 to 4 classes, some classes with a single image."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        size = int(rng.integers(4, 13))
        labels = rng.integers(0, int(rng.integers(1, 5)), size)
        yield labels, rng.normal(size=(size, 5)).astype("float32")


@pytest.mark.parametrize("mining, distance", list(itertools.product(
    ["batch_all", "batch_hard", "semi_hard"], ["euclidean", "squared", "cosine"])))
def test_triplet_loss_matches_every_triplet_by_brute_force(mining, distance):
    margin = 0.5 if distance == "cosine" else 1.0
    loss = TripletLoss(margin=margin, mining=mining, distance=distance)
    for labels, embeddings in random_batches():
        expected = brute_triplet(labels, embeddings, margin, mining, distance)
        assert float(loss(labels, embeddings)) == pytest.approx(expected, rel=1e-4, abs=1e-5), (labels, mining)


def test_the_minings_differ_on_the_same_batch():
    # A check that the brute-force comparison is not passing three copies of one rule.
    labels = np.array([0, 0, 1, 1, 2, 2, 0, 1])
    embeddings = np.random.default_rng(3).normal(size=(8, 5)).astype("float32")
    values = {m: float(TripletLoss(mining=m)(labels, embeddings)) for m in ("batch_all", "batch_hard", "semi_hard")}
    assert len({round(v, 5) for v in values.values()}) == 3, values


def test_multi_similarity_matches_brute_force():
    loss = MultiSimilarityLoss(alpha=2.0, beta=50.0, base=0.5, epsilon=0.1)
    for labels, embeddings in random_batches(seed=1):
        expected = brute_multi_similarity(labels, embeddings, 2.0, 50.0, 0.5, 0.1)
        assert float(loss(labels, embeddings)) == pytest.approx(expected, rel=1e-4, abs=1e-5), labels


def test_supervised_contrastive_matches_brute_force():
    loss = SupervisedContrastiveLoss(temperature=0.2)
    for labels, embeddings in random_batches(seed=2):
        expected = brute_supervised_contrastive(labels, embeddings, 0.2)
        assert float(loss(labels, embeddings)) == pytest.approx(expected, rel=1e-4, abs=1e-5), labels


ALL_LOSSES = [TripletLoss(mining=m) for m in ("batch_all", "batch_hard", "semi_hard")] + [
    MultiSimilarityLoss(), SupervisedContrastiveLoss()]


def loss_and_gradient(loss, labels, embeddings):
    return value_and_gradient(lambda tensor: loss(np.asarray(labels), tensor), embeddings)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=lambda loss: getattr(loss, "mining", loss.name))
def test_no_valid_pair_costs_zero_with_a_finite_gradient(loss):
    embeddings = np.random.default_rng(4).normal(size=(5, 3)).astype("float32")
    cases = [[0, 1, 2, 3, 4]]  # all singletons: no positive
    if not isinstance(loss, SupervisedContrastiveLoss):  # its softmax is defined without negatives
        cases.append([2, 2, 2, 2, 2])  # one class only: no negative
    for labels in cases:
        value, gradient = loss_and_gradient(loss, labels, embeddings)
        assert value == 0.0 and np.isfinite(gradient).all() and not gradient.any(), (labels, value)


@pytest.mark.parametrize("mining", ["batch_all", "batch_hard", "semi_hard"])
def test_all_distances_equal_costs_the_margin_and_stays_finite(mining):
    # Every embedding the same point: every distance equal (sqrt(1e-12)), so every triplet costs the margin.
    value, gradient = loss_and_gradient(TripletLoss(margin=0.7, mining=mining), [0, 0, 1, 1, 2],
                                         np.ones((5, 4), "float32"))
    assert value == pytest.approx(0.7, abs=1e-5) and np.isfinite(gradient).all()


def test_a_class_with_one_image_only_serves_as_a_negative():
    # Image 4 has no classmate: it anchors nothing, but it is the nearest negative of anchor 0.
    labels = np.array([0, 0, 1, 1, 2])
    embeddings = np.array([[0.0], [0.4], [3.0], [3.5], [0.2]], "float32")
    hard = float(TripletLoss(margin=1.0, mining="batch_hard")(labels, embeddings))
    assert hard == pytest.approx(brute_triplet(labels, embeddings, 1.0, "batch_hard", "euclidean"), rel=1e-5)
    without_single = float(TripletLoss(margin=1.0, mining="batch_hard")(labels[:4], embeddings[:4]))
    assert hard > without_single  # the singleton made anchors 0 and 1 harder


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=lambda loss: getattr(loss, "mining", loss.name))
def test_each_loss_round_trips_through_keras_serialisation(loss):
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    labels, embeddings = next(random_batches(seed=5))
    assert float(again(labels, embeddings)) == pytest.approx(float(loss(labels, embeddings)))


def test_bad_arguments_are_refused_naming_the_argument():
    with pytest.raises(ValueError, match="TripletLoss: mining must be one of 'batch_all', 'batch_hard', 'semi_hard'"):
        TripletLoss(mining="hardest")
    with pytest.raises(ValueError, match="TripletLoss: distance must be one of"):
        TripletLoss(distance="manhattan")
    with pytest.raises(ValueError, match="TripletLoss: margin must be > 0"):
        TripletLoss(margin=0)
    with pytest.raises(ValueError, match="MultiSimilarityLoss: beta must be > 0"):
        MultiSimilarityLoss(beta=-1)
    with pytest.raises(ValueError, match="SupervisedContrastiveLoss: temperature must be > 0"):
        SupervisedContrastiveLoss(temperature=0)


@pytest.mark.parametrize("mining", ["batch_all", "batch_hard", "semi_hard"])
def test_normalize_is_the_plain_loss_on_unit_vectors_and_ignores_scale(mining):
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    embeddings = np.random.default_rng(7).normal(size=(8, 5)).astype("float32")
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    on_sphere = TripletLoss(margin=0.2, mining=mining, distance="squared", normalize=True)
    plain = TripletLoss(margin=0.2, mining=mining, distance="squared")
    assert float(on_sphere(labels, embeddings)) == pytest.approx(float(plain(labels, unit)), rel=1e-5)
    # Growing every embedding together changes the plain loss, not the normalised one.
    assert float(on_sphere(labels, 10 * embeddings)) == pytest.approx(float(on_sphere(labels, embeddings)), rel=1e-5)
    assert float(plain(labels, 10 * embeddings)) != pytest.approx(float(plain(labels, embeddings)), rel=1e-3)
    again = keras.losses.deserialize(keras.losses.serialize(on_sphere))
    assert again.normalize and again.on_unit_sphere and not plain.on_unit_sphere
    with pytest.raises(ValueError, match="TripletLoss: normalize must be True or False"):
        TripletLoss(normalize="yes")


def test_multi_similarity_survives_a_large_beta():
    # exp(beta * (s - base)) overflows float32 for beta = 500 without the log-sum-exp shift.
    labels, embeddings = next(random_batches(seed=6))
    value = float(MultiSimilarityLoss(beta=500.0)(labels, embeddings))
    assert np.isfinite(value) and value == pytest.approx(
        brute_multi_similarity(labels, embeddings, 2.0, 500.0, 0.5, 0.1), rel=1e-4, abs=1e-5)


def test_semi_hard_on_a_batch_worked_by_hand():
    """Four points on a line, two classes, margin 1; each (anchor, positive) pair worked out on paper.

    x = 0, 1 (class 0) and 1.5, 4 (class 1). Semi-hard takes, for each pair, the nearest negative farther
    from the anchor than the positive, else (no such negative) the farthest negative:
    (0, 1): d = 1, negatives at 1.5 and 4 both farther: 1.5, loss 1 - 1.5 + 1 = 0.5
    (1, 0): d = 1, negatives at 0.5 and 3, only 3 farther: loss 1 - 3 + 1 < 0, so 0
    (1.5, 4): d = 2.5, negatives at 1.5 and 0.5, none farther: the farthest, 1.5: loss 2.5 - 1.5 + 1 = 2
    (4, 1.5): d = 2.5, negatives at 4 and 3, both farther: 3, loss 2.5 - 3 + 1 = 0.5
    The mean over the four pairs is 0.75; batch-hard (each anchor's nearest negative) gives 1.375 instead.
    """
    labels = np.array([0, 0, 1, 1])
    # float32, which every backend keeps; these distances are exact in it
    embeddings = np.array([[0.0], [1.0], [1.5], [4.0]], dtype="float32")
    semi_hard = float(TripletLoss(1.0, "semi_hard").call(labels, embeddings))
    batch_hard = float(TripletLoss(1.0, "batch_hard").call(labels, embeddings))
    assert semi_hard == pytest.approx(0.75, abs=1e-6) and batch_hard == pytest.approx(1.375, abs=1e-6)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=lambda loss: getattr(loss, "mining", loss.name))
def test_each_loss_gradient_matches_finite_differences(loss):
    """The gradient the training step uses, against central differences of the loss itself (float64)."""
    float64_or_skip()
    rng = np.random.default_rng(11)
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    embeddings = rng.normal(size=(8, 4))
    direction = rng.normal(size=embeddings.shape)
    direction /= np.linalg.norm(direction)
    _, gradient = value_and_gradient(lambda tensor: loss.call(labels, tensor), embeddings)
    analytic = float(np.sum(gradient * direction))
    step = 1e-6
    # float64 tensors, as NumPy's float64 would become float32 on some backends.
    ahead = float(loss.call(labels, keras.ops.convert_to_tensor(embeddings + step * direction, "float64")))
    behind = float(loss.call(labels, keras.ops.convert_to_tensor(embeddings - step * direction, "float64")))
    assert abs(analytic) > 1e-4  # the batch is not at a flat spot: the check has something to compare
    assert (ahead - behind) / (2 * step) == pytest.approx(analytic, rel=1e-5, abs=1e-8)
