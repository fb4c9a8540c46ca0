"""Distance layer, centroid decoder and contrastive loss against hand-computed values."""

import numpy as np
import pytest

from siamese_kit.layers import CentroidDecoder, EuclideanDistance
from siamese_kit.losses import ContrastiveLoss

from support import value_and_gradient


def test_euclidean_distance_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 3)).astype("float32"), rng.normal(size=(5, 3)).astype("float32")
    got = np.asarray(EuclideanDistance()([a, b]))
    np.testing.assert_allclose(got, np.linalg.norm(a - b, axis=1), rtol=1e-5)


def test_contrastive_loss_matches_the_formula_by_hand():
    loss = ContrastiveLoss(margin=2.0)
    # same pair at d=0.5: 0.25; different at d=1.5: (2-1.5)^2 = 0.25; different at d=3: 0.
    value = float(loss(np.array([1.0, 0.0, 0.0]), np.array([0.5, 1.5, 3.0], dtype="float32")))
    assert value == pytest.approx((0.25 + 0.25 + 0.0) / (2 * 3))


def test_contrastive_loss_label_convention_one_means_same():
    loss = ContrastiveLoss(margin=1.0)
    close = np.array([0.0], dtype="float32")
    assert float(loss(np.array([1.0]), close)) == pytest.approx(0.0)
    assert float(loss(np.array([0.0]), close)) == pytest.approx(0.5)


def test_contrastive_loss_refuses_bad_margin_and_round_trips_config():
    with pytest.raises(ValueError, match="margin"):
        ContrastiveLoss(margin=0)
    assert ContrastiveLoss.from_config(ContrastiveLoss(margin=1.5).get_config()).margin == 1.5


def test_centroid_decoder_first_update_sets_then_moving_average():
    decoder = CentroidDecoder(3, momentum=0.5)
    decoder.update(np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 4.0]], "float32"), np.array([0, 0, 1]))
    np.testing.assert_allclose(np.asarray(decoder.centroids)[:2], [[2.0, 0.0], [0.0, 4.0]])
    decoder.update(np.array([[4.0, 0.0]], "float32"), np.array([0]))
    np.testing.assert_allclose(np.asarray(decoder.centroids)[0], [3.0, 0.0])  # 0.5*2 + 0.5*4
    np.testing.assert_allclose(np.asarray(decoder.centroids)[1], [0.0, 4.0])  # untouched


def test_centroid_decoder_predicts_nearest_and_never_an_unseen_class():
    decoder = CentroidDecoder(3)
    decoder.set_centroids(np.array([[0.0, 0.0], [10.0, 0.0]], "float32"), np.array([0, 1]))
    distances = np.asarray(decoder(np.array([[9.0, 0.0], [0.0, 0.1]], "float32")))
    assert np.isinf(distances[:, 2]).all()
    np.testing.assert_allclose(distances[0, :2], [9.0, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(decoder.predict_classes(np.array([[9.0, 0.0], [0.0, 0.1]], "float32"))), [1, 0])


def test_centroid_decoder_argument_errors():
    with pytest.raises(ValueError, match="num_classes"):
        CentroidDecoder(0)
    with pytest.raises(ValueError, match="momentum"):
        CentroidDecoder(3, momentum=1.0)


def test_a_collapsed_different_pair_is_still_pushed_apart():
    # Two embeddings 1e-6 apart: a floor under the squared distance (max(sum, 1e-9)) gave them a
    # gradient of exactly 0, so the contrastive loss could never separate them.
    second = np.array([[1e-6, 0.0]], np.float32)
    loss, gradient = value_and_gradient(
        lambda first: ContrastiveLoss(margin=2.0)(np.array([0.0], np.float32), EuclideanDistance()([first, second])),
        np.array([[0.0, 0.0]], np.float32))
    assert loss == pytest.approx(2.0, abs=1e-5)
    assert gradient[0, 0] > 0.5  # a descent step moves `first` away from `second` (towards -x)
    assert np.all(np.isfinite(gradient))


def test_identical_embeddings_have_a_finite_gradient_and_a_tiny_distance():
    point = np.array([[0.3, -0.2]], np.float32)
    distance, gradient = value_and_gradient(lambda first: EuclideanDistance()([first, point])[0], point)
    assert distance == pytest.approx(1e-6, rel=1e-3)
    assert np.all(np.isfinite(gradient))


def test_distance_is_float32_under_mixed_precision():
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = EuclideanDistance()
        a = np.zeros((2, 4), np.float16)
        b = np.full((2, 4), 200.0, np.float16)  # squared distance 160,000: past float16's 65,504
        distance = layer([keras.ops.convert_to_tensor(a), keras.ops.convert_to_tensor(b)])
        same = layer([keras.ops.convert_to_tensor(a), keras.ops.convert_to_tensor(a)])
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert keras.backend.standardize_dtype(distance.dtype) == "float32"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(distance), [400.0, 400.0], rtol=1e-6)
    assert float(same[0]) > 0  # the epsilon survives: float16 would have rounded it to 0
