"""One Euclidean distance for the package: paired and pairwise forms agree, keep float32, never vanish."""

import re
from pathlib import Path

import numpy as np
import pytest
from keras import ops

from siamese_kit.distances import paired_distances, pairwise_distances, pairwise_squared_distances

from support import float64_or_skip, value_and_gradient

PACKAGE = Path(__file__).resolve().parents[1] / "siamese_kit"


def brute_force(queries, items):
    queries, items = np.asarray(queries, np.float64), np.asarray(items, np.float64)
    return np.sqrt(((queries[..., :, None, :] - items[..., None, :, :]) ** 2).sum(-1))


def test_pairwise_matches_a_float64_brute_force_and_paired_is_its_diagonal():
    rng = np.random.default_rng(0)
    queries, items = rng.normal(size=(7, 5)).astype("float32"), rng.normal(size=(7, 5)).astype("float32")
    pairwise = ops.convert_to_numpy(pairwise_distances(queries, items))
    np.testing.assert_allclose(pairwise, brute_force(queries, items), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(paired_distances(queries, items)), np.diag(pairwise),
                               rtol=1e-5, atol=1e-5)


def test_leading_axes_give_one_matrix_per_episode():
    float64_or_skip()
    rng = np.random.default_rng(1)
    queries, items = rng.normal(size=(3, 4, 6)), rng.normal(size=(3, 5, 6))
    together = ops.convert_to_numpy(pairwise_squared_distances(queries, items))
    assert together.shape == (3, 4, 5)
    for episode in range(3):
        np.testing.assert_allclose(together[episode], brute_force(queries[episode], items[episode]) ** 2, rtol=1e-9)


def test_duplicates_are_zero_apart_never_nan():
    points = np.array([[1e3, -2e3, 5.0], [1e3, -2e3, 5.0]], "float32")
    distances = ops.convert_to_numpy(pairwise_distances(points, points))
    assert np.all(np.isfinite(distances)) and np.all(distances >= 0)


def test_float64_stays_float64_and_half_precision_is_computed_in_float32():
    float64_or_skip()
    far = np.array([[0.0, 0.0]], "float16"), np.array([[300.0, 0.0]], "float16")  # squared: 90,000 > 65,504
    assert "float32" in str(pairwise_distances(*far).dtype)
    assert float(ops.convert_to_numpy(pairwise_distances(*far))[0, 0]) == pytest.approx(300.0)
    assert float(ops.convert_to_numpy(paired_distances(*far))[0]) == pytest.approx(300.0)
    exact = np.array([[1.0, 2.0]]), np.array([[1.0, 2.0 + 1e-9]])
    assert "float64" in str(pairwise_distances(*exact).dtype)
    # float32 would round 1e-9 away; float64 keeps it.
    assert float(ops.convert_to_numpy(pairwise_squared_distances(*exact))[0, 0]) == pytest.approx(1e-18, rel=0.1)


def test_the_paired_gradient_pushes_a_collapsed_pair_apart():
    second = np.array([[0.5, 0.5 + 1e-4]], np.float32)
    _, gradient = value_and_gradient(lambda first: paired_distances(first, second)[0],
                                     np.array([[0.5, 0.5]], np.float32))
    assert gradient[0, 1] < -0.5  # d(distance)/d(first) points away from second, nearly unit length


def test_every_module_that_measures_distance_calls_this_one():
    """The formula lives in distances.py alone: the layers, models, evaluation, one-shot scoring and
    widgets import it, and none of them writes a sum of squared differences or norms of its own."""
    users = ["layers.py", "models/prototype.py", "search/exact.py", "evaluation/one_shot.py", "widgets/_common.py"]
    own_formula = re.compile(r"square\(|linalg\.norm|\b(\w+) \* \1\b(?=, axis)")
    for name in users:
        source = (PACKAGE / name).read_text()
        assert re.search(r"from \.+distances import", source), f"{name} does not use siamese_kit.distances"
        assert not own_formula.search(source), f"{name} computes a distance of its own"
