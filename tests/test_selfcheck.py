"""The exercises' self-checks accept the reference solutions and catch the classic mistakes, each with
a message that names the cause."""

from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import make_imageset
from keras import ops

from siamese_kit import selfcheck
from siamese_kit.losses import ContrastiveLoss

SOLUTIONS = Path(__file__).resolve().parents[1] / "notebooks" / "solutions" / "exercises_solutions.ipynb"


@pytest.fixture(scope="module")
def solutions():
    """The functions defined in the solutions notebook, run from its own cells (one source of truth)."""
    namespace = {}
    for cell in nbformat.read(SOLUTIONS, as_version=4).cells:
        if cell.cell_type == "code":
            exec(compile(cell.source, f"{SOLUTIONS.name}:{cell.get('id')}", "exec"), namespace)
    return namespace


def _fails(check, function, *words, **kwargs):
    with pytest.raises(AssertionError) as caught:
        check(function, **kwargs)
    message = str(caught.value)
    for word in words:
        assert word in message, message
    return message


# -- the reference solutions pass ---------------------------------------------------------------------


def test_the_reference_solutions_pass_every_check_and_say_so(solutions, capsys):
    capsys.readouterr()
    assert selfcheck.check_pair_sampler(solutions["sample_pairs"]) is True
    assert selfcheck.check_euclidean_distance(solutions["euclidean_distance"]) is True
    assert selfcheck.check_contrastive_loss(solutions["contrastive_loss"], margin=2.0) is True
    assert selfcheck.check_contrastive_loss(solutions["contrastive_loss"], margin=0.7, seed=3) is True
    assert selfcheck.check_one_shot_choice(solutions["nearest_candidate"]) is True
    assert selfcheck.check_threshold(solutions["most_accurate_threshold"]) is True
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 6 and all(line.startswith("✓ ") for line in lines)


def test_the_pair_sampler_check_works_on_a_real_sized_imageset_too(solutions):
    imageset = make_imageset(num_classes=10, per_class=30, seed=4)
    assert selfcheck.check_pair_sampler(solutions["sample_pairs"], imageset, num_pairs=400, seed=7)


def test_the_reference_loss_is_the_toolkits_contrastive_loss():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 50).astype("float32")
    distances = rng.uniform(0, 3, 50).astype("float32")
    mean = float(ops.convert_to_numpy(ContrastiveLoss(margin=2.0)(labels, distances)))
    assert selfcheck.reference_contrastive_loss(labels, distances, 2.0).mean() == pytest.approx(mean, rel=1e-6)


# -- contrastive loss ---------------------------------------------------------------------------------


def loss_from(formula):
    return lambda y, d, margin: formula(np.asarray(y, float), np.asarray(d, float), margin)


@pytest.mark.parametrize("formula, words", [
    (lambda y, d, m: 0.5 * ((1 - y) * d**2 + y * np.maximum(m - d, 0) ** 2), ["swapped", "1 = same"]),
    (lambda y, d, m: 0.5 * (y * d**2 + (1 - y) * (m - d) ** 2), ["not clamped", "max(margin - d, 0)"]),
    (lambda y, d, m: 0.5 * (y * d + (1 - y) * np.maximum(m - d, 0) ** 2), ["not squared in the same-class"]),
    (lambda y, d, m: 0.5 * (y * d**2 + (1 - y) * np.maximum(m - d, 0)), ["margin term is not squared"]),
    (lambda y, d, m: 0.5 * (y * d**2 + (1 - y) * np.maximum(m - d**2, 0) ** 2), ["squared distance with the margin"]),
    (lambda y, d, m: y * d**2 + (1 - y) * np.maximum(m - d, 0) ** 2, ["1/2 factor"]),
    (lambda y, d, m: 0.5 * (y * d**2 + (1 - y) * np.maximum(2.0 - d, 0) ** 2), ["margin argument is ignored", "2"]),
], ids=["swapped-labels", "no-clamp", "unsquared-distance", "unsquared-hinge", "hinge-on-squared-distance",
        "no-half", "hard-coded-margin"])
def test_the_contrastive_check_names_the_mistake(formula, words):
    message = _fails(selfcheck.check_contrastive_loss, loss_from(formula), "expected loss", *words)
    assert "pair " in message and "distance" in message


def test_the_contrastive_check_accepts_a_mean_and_tensors_and_catches_a_wrong_mean():
    right = loss_from(lambda y, d, m: 0.5 * (y * d**2 + (1 - y) * np.maximum(m - d, 0) ** 2))
    assert selfcheck.check_contrastive_loss(lambda y, d, m: np.mean(right(y, d, m)))
    assert selfcheck.check_contrastive_loss(lambda y, d, m: ContrastiveLoss(margin=m)(y, d))
    swapped_mean = loss_from(lambda y, d, m: np.mean(0.5 * ((1 - y) * d**2 + y * np.maximum(m - d, 0) ** 2)))
    _fails(selfcheck.check_contrastive_loss, swapped_mean, "mean loss", "swapped")
    _fails(selfcheck.check_contrastive_loss, lambda y, d, m: right(y, d, m)[:-1], "shape")
    _fails(selfcheck.check_contrastive_loss, lambda y, d, m: None, "return")


# -- Euclidean distance -------------------------------------------------------------------------------


@pytest.mark.parametrize("function, words", [
    (lambda a, b: ((a - b) ** 2).sum(-1), ["squared distance"]),
    (lambda a, b: np.abs(a - b).sum(-1), ["L1"]),
    (lambda a, b: np.sqrt(((a - b) ** 2).sum(0)), ["axis=0"]),
    (lambda a, b: np.sqrt((a - b) ** 2), ["last axis"]),
    (lambda a, b: np.sqrt(((a - b) ** 2).mean(-1)), ["averaged"]),
    (lambda a, b: np.sqrt(((a - b) ** 2).sum()), ["one number for the whole batch"]),
], ids=["squared", "l1", "wrong-axis", "no-sum", "mean", "scalar"])
def test_the_distance_check_names_the_mistake(function, words):
    _fails(selfcheck.check_euclidean_distance, function, "expected distances", *words)


# -- pair sampler ---------------------------------------------------------------------------------------


def random_pairs(imageset, num_pairs, seed):
    """Two different random images per pair, labelled right, but without choosing the kind of pair."""
    rng = np.random.default_rng(seed)
    pairs = np.array([rng.choice(len(imageset), size=2, replace=False) for _ in range(num_pairs)])
    return pairs[:, 0], pairs[:, 1], (imageset.labels[pairs[:, 0]] == imageset.labels[pairs[:, 1]]).astype(int)


def test_the_pair_sampler_check_catches_each_broken_sampler(solutions):
    reference = solutions["sample_pairs"]
    _fails(selfcheck.check_pair_sampler, random_pairs, "same pairs", "half")

    def flipped(imageset, n, seed):
        a, b, y = reference(imageset, n, seed)
        return a, b, 1 - y

    _fails(selfcheck.check_pair_sampler, flipped, "flipped", "1 = same")

    def off_by_one(imageset, n, seed):
        a, b, y = reference(imageset, n, seed)
        a = a.copy()
        a[np.argmax(a)] = len(imageset)  # one past the last image
        return a, b, y

    _fails(selfcheck.check_pair_sampler, off_by_one, "valid indices 0..", "index_a")

    def negative(imageset, n, seed):
        a, b, y = reference(imageset, n, seed)
        return a, b - len(imageset) - 1, y

    _fails(selfcheck.check_pair_sampler, negative, "index_b")

    def same_image_twice(imageset, n, seed):
        a, b, y = reference(imageset, n, seed)
        b = np.where(y == 1, a, b)
        return a, b, y

    _fails(selfcheck.check_pair_sampler, same_image_twice, "twice")

    def some_wrong_labels(imageset, n, seed):
        a, b, y = reference(imageset, n, seed)
        y = y.copy()
        y[3] = 1 - y[3]
        return a, b, y

    message = _fails(selfcheck.check_pair_sampler, some_wrong_labels, "pair 3", "1 of")
    assert "flipped" not in message

    unseeded = np.random.default_rng()
    _fails(selfcheck.check_pair_sampler, lambda s, n, seed: reference(s, n, int(unseeded.integers(1 << 30))), "same seed")
    _fails(selfcheck.check_pair_sampler, lambda s, n, seed: reference(s, n, 0), "seeds 0 and 1")
    _fails(selfcheck.check_pair_sampler, lambda s, n, seed: reference(s, n, seed)[:2], "three arrays")
    _fails(selfcheck.check_pair_sampler, lambda s, n, seed: (*reference(s, n, seed)[:2], ["same"] * n), "whole numbers")
    _fails(selfcheck.check_pair_sampler, lambda s, n, seed: (*reference(s, n, seed)[:2], np.full(n, 0.5)), "whole numbers")
    _fails(selfcheck.check_pair_sampler, lambda s, n, seed: tuple(x[:-1] for x in reference(s, n, seed)), "shape")


def test_the_pair_sampler_check_catches_a_sampler_stuck_on_two_classes(solutions):
    imageset = make_imageset(num_classes=10, per_class=20, seed=2)
    reference = solutions["sample_pairs"]

    def two_classes(imageset, n, seed):
        keep = np.flatnonzero(imageset.labels < 2)
        a, b, y = reference(imageset.subset(keep), n, seed)
        return keep[a], keep[b], y

    _fails(selfcheck.check_pair_sampler, two_classes, "only 2 of the 10 classes", imageset=imageset)


# -- threshold and one-shot choice ----------------------------------------------------------------------


def test_the_threshold_check_catches_a_reversed_comparison_and_a_fixed_half(solutions):
    reference = solutions["most_accurate_threshold"]
    flipped_kind = {"distance": "similarity", "similarity": "distance"}
    _fails(selfcheck.check_threshold, lambda s, y, kind: reference(s, y, flipped_kind[kind]), "wrong way")
    _fails(selfcheck.check_threshold, lambda s, y, kind: 0.5, "fixed 0.5")
    _fails(selfcheck.check_threshold, lambda s, y, kind: float(np.median(s)), "accuracy is")
    _fails(selfcheck.check_threshold, lambda s, y, kind: [0.5, 0.6], "one threshold")
    _fails(selfcheck.check_threshold, lambda s, y, kind: float("nan"), "finite")


def test_the_one_shot_check_catches_the_farthest_candidate_and_the_wrong_axis(solutions):
    reference = solutions["nearest_candidate"]

    def distances(support, query):
        return np.sqrt(((query[:, None] - support[None]) ** 2).sum(-1))

    _fails(selfcheck.check_one_shot_choice, lambda s, q: distances(s, q).argmax(-1), "farthest", "argmin")
    _fails(selfcheck.check_one_shot_choice, lambda s, q: distances(s, q).argmin(0), "axis")
    _fails(selfcheck.check_one_shot_choice, lambda s, q: (reference(s, q) + 1) % len(s), "queries differ")


# -- bad arguments to the checks themselves ---------------------------------------------------------------


@pytest.mark.parametrize("call, words", [
    (lambda: selfcheck.check_contrastive_loss(np.zeros(3)), ["student_fn", "function itself"]),
    (lambda: selfcheck.check_contrastive_loss(lambda y, d, m: d, margin=0), ["margin", "> 0"]),
    (lambda: selfcheck.check_pair_sampler(lambda s, n, seed: None, num_pairs=10), ["num_pairs", ">= 40"]),
    (lambda: selfcheck.check_pair_sampler(lambda s, n, seed: None, imageset=np.zeros((4, 8, 8))), ["imageset", "ImageSet"]),
    (lambda: selfcheck.check_threshold(lambda s, y, k: 0.5, seed="0"), ["seed", "int"]),
])
def test_bad_arguments_to_a_check_name_the_argument(call, words):
    with pytest.raises(TypeError) as caught:
        call()
    for word in words:
        assert word in str(caught.value)
