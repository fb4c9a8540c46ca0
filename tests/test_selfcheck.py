"""The exercises' self-checks accept the reference solutions and catch the classic mistakes, each with
a message that names the cause."""

from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest
from conftest import make_imageset
from keras import ops

from siamese_kit import selfcheck
from siamese_kit.evaluation import pair_accuracy, retrieval_metrics, roc_curve, threshold_report
from siamese_kit.layers import CentroidDecoder, TwinClassifierHead
from siamese_kit.losses import ContrastiveLoss
from siamese_kit.distances import pairwise_squared_distances
from siamese_kit.models.prototype import PrototypeModel, class_prototypes

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
    (lambda y, d, m: 0.5 * ((1 - y) * d**2 + y * np.maximum(m - d, 0) ** 2), ["other convention", "same_label=0"]),
    (lambda y, d, m: 0.5 * (y * d**2 + (1 - y) * (m - d) ** 2), ["not clamped", "max(margin - d, 0)"]),
    (lambda y, d, m: 0.5 * (y * d + (1 - y) * np.maximum(m - d, 0) ** 2), ["not squared in the same-class"]),
    (lambda y, d, m: 0.5 * (y * d**2 + (1 - y) * np.maximum(m - d, 0)), ["margin term is not squared"]),
    (lambda y, d, m: 0.5 * (y * d**2 + (1 - y) * np.maximum(m - d**2, 0) ** 2), ["squared distance with the margin"]),
    (lambda y, d, m: y * d**2 + (1 - y) * np.maximum(m - d, 0) ** 2, ["no 1/2 factor", "half=False"]),
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
    _fails(selfcheck.check_contrastive_loss, swapped_mean, "mean loss", "other convention")
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


# == the checks of notebooks 02-07: centroids, the twin head, losses, decisions, retrieval ============
#
# Each is tried with a plain NumPy solution written here the way a student would write it (never the
# reference function itself), then with each classic mistake, whose message must name the cause.


def class_centroids(embeddings, labels, num_classes):
    return np.stack([embeddings[labels == c].mean(axis=0) for c in range(num_classes)])


def twin_head(embedding_a, embedding_b, weights, bias):
    logits = np.abs(embedding_a - embedding_b) @ weights + bias
    return 1.0 / (1.0 + np.exp(-logits))


def binary_cross_entropy(pair_labels, probabilities):
    p = np.clip(probabilities, 1e-7, 1 - 1e-7)
    return -(pair_labels * np.log(p) + (1 - pair_labels) * np.log(1 - p))


def prototypical_loss(support_embeddings, query_embeddings, query_labels, ways, squared=True, sign=-1.0,
                      prototype="mean", order="class-major", reduce=np.mean):
    """The right loss by default; each keyword swaps in one classic mistake."""
    dim = support_embeddings.shape[-1]
    if order == "class-major":
        shots = support_embeddings.reshape(ways, -1, dim)
    else:
        shots = support_embeddings.reshape(-1, ways, dim).transpose(1, 0, 2)
    prototypes = shots.mean(axis=1) if prototype == "mean" else shots[:, 0]
    distances = ((query_embeddings[:, None, :] - prototypes[None, :, :]) ** 2).sum(axis=-1)
    logits = sign * (distances if squared else np.sqrt(distances))
    logits = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return reduce(-log_probabilities[np.arange(len(query_labels)), query_labels])


def called_same(scores, threshold, score_kind):
    return scores < threshold if score_kind == "distance" else scores >= threshold


def roc_point(scores, pair_labels, threshold, score_kind):
    same = called_same(scores, threshold, score_kind)
    return same[pair_labels == 0].mean(), same[pair_labels == 1].mean()


def accuracy_at_threshold(scores, pair_labels, threshold, score_kind):
    return np.mean(called_same(scores, threshold, score_kind) == (pair_labels == 1))


def distance_matrix(embeddings):
    return np.sqrt(((embeddings[:, None, :] - embeddings[None, :, :]) ** 2).sum(axis=-1))


def precision_at_1(embeddings, labels):
    distances = distance_matrix(embeddings)
    np.fill_diagonal(distances, np.inf)
    return np.mean(labels[distances.argmin(axis=1)] == labels)


def map_at_r(embeddings, labels, exclude_self=True, divide_by="R", fixed_k=None, skip_alone=True):
    """The right mAP@R by default; each keyword swaps in one classic mistake."""
    distances = distance_matrix(embeddings)
    if exclude_self:
        np.fill_diagonal(distances, np.inf)
    precisions = []
    for i in range(len(labels)):
        r = np.sum(labels == labels[i]) - 1
        if r == 0 and skip_alone:
            continue
        depth = fixed_k or r
        relevant = labels[np.argsort(distances[i], kind="stable")[:depth]] == labels[i]
        precision = np.cumsum(relevant) / np.arange(1, depth + 1)
        divisor = {"R": r, "hits": relevant.sum(), "k": depth}[divide_by]
        precisions.append(np.sum(precision * relevant) / divisor if divisor else 0.0)
    return np.mean(precisions)


NEW_CHECKS = {
    selfcheck.check_class_centroids: class_centroids,
    selfcheck.check_twin_head: twin_head,
    selfcheck.check_binary_cross_entropy: binary_cross_entropy,
    selfcheck.check_prototypical_loss: prototypical_loss,
    selfcheck.check_roc_point: roc_point,
    selfcheck.check_accuracy_at_threshold: accuracy_at_threshold,
    selfcheck.check_precision_at_1: precision_at_1,
    selfcheck.check_map_at_r: map_at_r,
}


def test_plain_numpy_solutions_pass_the_new_checks_and_say_so(capsys):
    capsys.readouterr()
    for check, solution in NEW_CHECKS.items():
        assert check(solution) is True
        assert check(solution, seed=5) is True
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 * len(NEW_CHECKS) and all(line.startswith("✓ ") for line in lines)


def test_the_notebooks_solutions_pass_the_new_checks(solutions):
    names = {
        selfcheck.check_class_centroids: "class_centroids",
        selfcheck.check_twin_head: "twin_head",
        selfcheck.check_binary_cross_entropy: "binary_cross_entropy",
        selfcheck.check_prototypical_loss: "prototypical_loss",
        selfcheck.check_roc_point: "roc_point",
        selfcheck.check_accuracy_at_threshold: "accuracy_at_threshold",
        selfcheck.check_precision_at_1: "precision_at_1",
        selfcheck.check_map_at_r: "map_at_r",
    }
    assert set(names) == set(NEW_CHECKS)
    for check, name in names.items():
        assert check(solutions[name]) is True


def test_the_new_checks_accept_tensorflow_and_keras_answers():
    def keras_centroids(embeddings, labels, num_classes):
        sums = ops.segment_sum(embeddings, labels, num_segments=num_classes)
        counts = ops.segment_sum(ops.ones_like(embeddings[:, :1]), labels, num_segments=num_classes)
        return sums / counts

    def keras_head(a, b, weights, bias):
        return ops.sigmoid(ops.sum(ops.abs(a - b) * weights, axis=-1) + bias)

    def keras_prototypical(support, queries, labels, ways):
        logits = -pairwise_squared_distances(queries, class_prototypes(support, ways))
        return ops.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))

    assert selfcheck.check_class_centroids(keras_centroids)
    assert selfcheck.check_twin_head(keras_head)
    assert selfcheck.check_binary_cross_entropy(lambda y, p: ops.binary_crossentropy(y, p))
    assert selfcheck.check_prototypical_loss(keras_prototypical)
    assert selfcheck.check_roc_point(lambda s, y, t, kind: ops.convert_to_tensor(roc_point(s, y, t, kind)))
    assert selfcheck.check_accuracy_at_threshold(lambda s, y, t, kind: pair_accuracy(s, y, t, kind))
    assert selfcheck.check_precision_at_1(lambda e, y: retrieval_metrics(e, y, ks=(1,)).precision_at_1)
    assert selfcheck.check_map_at_r(lambda e, y: retrieval_metrics(e, y, ks=(1,)).map_at_r)


def test_every_public_name_is_exported_from_the_package():
    import importlib

    import siamese_kit.selfcheck as package

    from pathlib import Path

    defined = {}
    # Every module of the package, so a new one cannot be left out of its exports.
    for part in sorted(p.stem for p in Path(package.__file__).parent.glob("[!_]*.py")):
        module = importlib.import_module(f"siamese_kit.selfcheck.{part}")
        defined.update({n: f for n, f in vars(module).items() if n.startswith(("check_", "reference_", "score_"))})
    assert sorted(package.__all__) == sorted(defined)
    for name, function in defined.items():
        assert getattr(package, name) is function and callable(function), name
    from siamese_kit.selfcheck import check_contrastive_loss, check_map_at_r  # noqa: F401  the documented import


# -- the references agree with the toolkit's own code -------------------------------------------------------


def test_the_centroid_reference_is_the_centroid_decoders_set_centroids():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 6, 40)
    labels[labels == 4] = 3  # class 4 has no embedding: both give it zeros
    embeddings = rng.normal(size=(40, 5)).astype("float32")
    decoder = CentroidDecoder(6)
    decoder.set_centroids(embeddings, labels)
    expected = selfcheck.reference_class_centroids(embeddings, labels, 6)
    np.testing.assert_allclose(ops.convert_to_numpy(decoder.centroids), expected, rtol=1e-5, atol=1e-6)
    assert not expected[4].any()


def test_the_twin_head_reference_is_the_twin_classifier_head():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 7, 12)).astype("float32")
    weights, bias = rng.normal(size=12).astype("float32"), -0.4
    head = TwinClassifierHead()
    head.build([a.shape, b.shape])
    head.dense.set_weights([weights[:, None], np.array([bias], "float32")])
    np.testing.assert_allclose(ops.convert_to_numpy(head([a, b])),
                               selfcheck.reference_twin_head(a, b, weights, bias), rtol=1e-5, atol=1e-6)


def test_the_cross_entropy_reference_is_keras_binary_crossentropy_even_at_0_and_1():
    labels = np.array([1, 0, 1, 0, 1, 0, 1, 0], "float32")
    probabilities = np.array([0.0, 0.0, 1.0, 1.0, 1e-13, 0.3, 0.8, 0.55], "float32")
    keras_losses = ops.convert_to_numpy(ops.binary_crossentropy(labels, probabilities))
    # Keras clips in float32, where 1 - 1e-7 is 0.99999988, hence the tolerance at p = 1.
    np.testing.assert_allclose(keras_losses, selfcheck.reference_binary_cross_entropy(labels, probabilities),
                               rtol=0.02, atol=1e-6)
    assert np.all(np.isfinite(selfcheck.reference_binary_cross_entropy(labels, probabilities)))


def test_the_prototypical_reference_is_the_prototype_models_loss():
    rng = np.random.default_rng(2)
    ways, shots, dim = 4, 3, 6
    support = rng.normal(size=(ways * shots, dim)).astype("float32")
    queries = rng.normal(size=(10, dim)).astype("float32")
    labels = rng.integers(0, ways, 10)
    prototypes = selfcheck.reference_class_centroids(support, np.repeat(np.arange(ways), shots), ways)
    np.testing.assert_allclose(ops.convert_to_numpy(class_prototypes(support, ways)), prototypes, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(pairwise_squared_distances(queries, class_prototypes(support, ways))),
                               ((queries[:, None] - prototypes[None]) ** 2).sum(-1), rtol=1e-4, atol=1e-4)
    # An identity tower: the episode's "images" are already embeddings.
    model = PrototypeModel(keras.Sequential([keras.Input((dim,)), keras.layers.Identity()]))
    model.compile(optimizer="adam")  # Keras's own test step reports the loss of a compiled model
    episode = {"support": support, "query": queries, "query_labels": labels, "classes": np.arange(ways)}
    logs = model.test_step(episode)
    assert float(logs["loss"]) == pytest.approx(
        selfcheck.reference_prototypical_loss(support, queries, labels, ways), rel=1e-5)


@pytest.mark.parametrize("score_kind", ["distance", "similarity"])
def test_the_roc_point_and_accuracy_references_are_the_toolkits(score_kind):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 60)
    scores = np.round(rng.uniform(0, 2, 60), 1)  # ties on purpose: the thresholds must treat them alike
    curve = roc_curve(scores, labels, score_kind)
    for fpr, tpr, threshold in zip(curve.false_positive_rate, curve.true_positive_rate, curve.thresholds):
        assert selfcheck.reference_roc_point(scores, labels, threshold, score_kind) == pytest.approx((fpr, tpr))
    for threshold in np.concatenate([np.unique(scores), [0.55, 5.0, -1.0]]):
        report = threshold_report(scores, labels, threshold, score_kind)
        assert selfcheck.reference_roc_point(scores, labels, threshold, score_kind) == pytest.approx(
            (report.false_positive_rate, report.true_positive_rate))
        accuracy = selfcheck.reference_accuracy_at_threshold(scores, labels, threshold, score_kind)
        assert accuracy == pytest.approx(report.accuracy)
        assert accuracy == pytest.approx(pair_accuracy(scores, labels, threshold, score_kind))
    with pytest.raises(ValueError, match="score_kind"):
        selfcheck.reference_roc_point(scores, labels, 1.0, "probability")


@pytest.mark.parametrize("duplicates", [False, True], ids=["distinct", "tied-duplicates"])
def test_the_retrieval_references_are_retrieval_metrics(duplicates):
    rng = np.random.default_rng(4)
    labels = np.repeat(np.arange(7), [5, 1, 3, 6, 1, 2, 4])  # two classes with a single image
    embeddings = rng.normal(size=(len(labels), 3)) + labels[:, None] * 0.4
    if duplicates:
        # Exact copies tie every distance to them: both sides must rank the lower index first.
        embeddings[[3, 9, 15]] = embeddings[[12, 2, 20]]
    report = retrieval_metrics(embeddings, labels, ks=(1,))
    assert selfcheck.reference_precision_at_1(embeddings, labels) == pytest.approx(report.precision_at_1, abs=1e-12)
    assert selfcheck.reference_map_at_r(embeddings, labels) == pytest.approx(report.map_at_r, abs=1e-12)


# -- each classic mistake is named ---------------------------------------------------------------------------


@pytest.mark.parametrize("function, cause", [
    (lambda e, y, n: np.stack([e[y == c].sum(axis=0) for c in range(n)]), "summed each class's embeddings"),
    (lambda e, y, n: np.stack([e[y == c].mean(axis=0) for c in range(n)], axis=1),
     r"centroids are columns, shape \[D, num_classes\]"),
    (lambda e, y, n: np.tile(e.mean(axis=0), (n, 1)), "mean of the whole batch"),
    (lambda e, y, n: np.stack([e[y == c].mean(axis=0) for c in range(1, n + 1)]), "class indices start at 0"),
    (lambda e, y, n: np.stack([e[y == c].mean(axis=0) for c in range(n - 1)]), "class indices start at 0"),
    (lambda e, y, n: np.stack([e[y == c].mean() for c in range(n)]), "averaged over the embedding axis too"),
], ids=["sum", "transposed", "whole-batch", "classes-1-to-n", "one-class-short", "scalar-per-class"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the mean of a class with no embedding
def test_the_centroid_check_names_the_mistake(function, cause):
    with pytest.raises(AssertionError, match=cause) as caught:
        selfcheck.check_class_centroids(function)
    assert "check_class_centroids" in str(caught.value) and "num_classes=" in str(caught.value)


@pytest.mark.parametrize("function, cause", [
    (lambda a, b, w, bias: 1 / (1 + np.exp(-((a - b) @ w + bias))), "absolute value is missing"),
    (lambda a, b, w, bias: 1 / (1 + np.exp(-((a - b) ** 2 @ w + bias))), "squared the difference"),
    (lambda a, b, w, bias: np.abs(a - b) @ w + bias, "sigmoid is missing"),
    (lambda a, b, w, bias: 1 / (1 + np.exp(-((a * b) @ w + bias))), r"multiplied the embeddings \(a \* b\)"),
    (lambda a, b, w, bias: 1 / (1 + np.exp(-(np.abs(a - b) @ w))), "bias is missing"),
    (lambda a, b, w, bias: twin_head(a, b, w[:, None], bias), r"one probability per pair, shape \[B\]"),
], ids=["signed-difference", "squared-difference", "logits", "product", "no-bias", "column"])
def test_the_twin_head_check_names_the_mistake(function, cause):
    with pytest.raises(AssertionError, match=cause) as caught:
        selfcheck.check_twin_head(function)
    assert "check_twin_head" in str(caught.value)


@pytest.mark.parametrize("function, cause", [
    (lambda y, p: -((1 - y) * np.log(p) + y * np.log(1 - p)), "pair labels are swapped"),
    (lambda y, p: y * np.log(p) + (1 - y) * np.log(1 - p), "minus sign is missing"),
    (lambda y, p: np.mean(binary_cross_entropy(y, p)), "you returned the mean over the pairs"),
    (lambda y, p: -(y * np.log(p) + (1 - y) * np.log(1 - p)), r"log\(0\) is -inf"),
    (lambda y, p: -(y * np.log10(np.clip(p, 1e-7, 1)) + (1 - y) * np.log10(np.clip(1 - p, 1e-7, 1))), "log10"),
    (lambda y, p: binary_cross_entropy(y, np.clip(p, 1e-3, 1 - 1e-3)), "clipped too far from 0 and 1"),
], ids=["swapped-labels", "no-minus", "mean", "no-clipping", "log10", "eps-too-large"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log(0)
def test_the_cross_entropy_check_names_the_mistake(function, cause):
    with pytest.raises(AssertionError, match=cause) as caught:
        selfcheck.check_binary_cross_entropy(function)
    assert "check_binary_cross_entropy" in str(caught.value) and "expected" in str(caught.value)


def test_the_cross_entropy_check_accepts_any_eps_up_to_1e_6():
    for eps in (1e-6, 1e-7, 1e-12):
        def clipped(y, p, eps=eps):
            p = np.clip(p.astype("float64"), eps, 1 - eps)
            return -(y * np.log(p) + (1 - y) * np.log(1 - p))

        assert selfcheck.check_binary_cross_entropy(clipped)
    # Adding eps inside the logs (log(p + eps)) is finite too.
    assert selfcheck.check_binary_cross_entropy(lambda y, p: -(y * np.log(p + 1e-7) + (1 - y) * np.log(1 - p + 1e-7)))
    with pytest.raises(AssertionError, match="clipped too far"):
        selfcheck.check_binary_cross_entropy(lambda y, p: clipped(y, p, eps=1e-5))


@pytest.mark.parametrize("mistake, cause", [
    ({"squared": False}, "distance is not squared"),
    ({"sign": 1.0}, "sign of the logits is wrong"),
    ({"prototype": "first"}, "prototype is the first shot"),
    ({"reduce": np.sum}, "summed the losses over the queries"),
    ({"order": "shot-major"}, "shots are grouped the wrong way"),
    ({"reduce": lambda losses: losses}, "one loss per query"),
], ids=["unsquared", "sign", "first-shot", "sum", "shot-major", "per-query"])
def test_the_prototypical_check_names_the_mistake(mistake, cause):
    with pytest.raises(AssertionError, match=cause) as caught:
        selfcheck.check_prototypical_loss(lambda s, q, y, ways: prototypical_loss(s, q, y, ways, **mistake))
    message = str(caught.value)
    assert "check_prototypical_loss" in message and "-way" in message
    if mistake.get("prototype") or mistake.get("order"):
        assert "5-shot" in message  # with one shot per class these mistakes change nothing


def reversed_kind(score_kind):
    return "similarity" if score_kind == "distance" else "distance"


@pytest.mark.parametrize("function, cause", [
    (lambda s, y, t, kind: roc_point(s, y, t, kind)[::-1], "two rates are swapped"),
    (lambda s, y, t, kind: (np.sum(called_same(s, t, kind) & (y == 0)) / len(y),
                            np.sum(called_same(s, t, kind) & (y == 1)) / len(y)), "divided by all pairs"),
    (lambda s, y, t, kind: roc_point(s, y, t, reversed_kind(kind)), "comparison points the wrong way"),
    (lambda s, y, t, kind: roc_point(s, y, t + 1e-6 if kind == "distance" else t - 1e-6, kind),
     "equal to the threshold"),
    (lambda s, y, t, kind: (np.mean(y[called_same(s, t, kind)] == 0), np.mean(y[called_same(s, t, kind)] == 1)),
     "divided by the pairs called same"),
], ids=["swapped-rates", "all-pairs", "reversed", "boundary", "precision"])
def test_the_roc_point_check_names_the_mistake(function, cause):
    with pytest.raises(AssertionError, match=cause) as caught:
        selfcheck.check_roc_point(function)
    assert "check_roc_point" in str(caught.value) and "expected (false_positive_rate" in str(caught.value)


@pytest.mark.parametrize("function, cause", [
    (lambda s, y, t, kind: accuracy_at_threshold(s, y, t, reversed_kind(kind)), "comparison points the wrong way"),
    (lambda s, y, t, kind: np.sum(called_same(s, t, kind) & (y == 1)) / len(y), "counted only the same pairs"),
    (lambda s, y, t, kind: np.mean(called_same(s, t, kind)[y == 1]), "counted only the same pairs"),
    (lambda s, y, t, kind: accuracy_at_threshold(s, y, t + 1e-6 if kind == "distance" else t - 1e-6, kind),
     "equal to the threshold"),
    (lambda s, y, t, kind: np.sum(called_same(s, t, kind) == (y == 1)), "number of right calls"),
], ids=["reversed", "same-pairs-only", "same-pairs-recall", "boundary", "count"])
def test_the_accuracy_check_names_the_mistake(function, cause):
    with pytest.raises(AssertionError, match=cause) as caught:
        selfcheck.check_accuracy_at_threshold(function)
    assert "check_accuracy_at_threshold" in str(caught.value) and "expected accuracy" in str(caught.value)


def test_the_precision_at_1_check_names_the_mistake():
    def itself_included(embeddings, labels):
        return np.mean(labels[distance_matrix(embeddings).argmin(axis=1)] == labels)

    def farthest(embeddings, labels):
        return np.mean(labels[distance_matrix(embeddings).argmax(axis=1)] == labels)

    with pytest.raises(AssertionError, match="found itself") as caught:
        selfcheck.check_precision_at_1(itself_included)
    assert "got 1.0000" in str(caught.value)
    with pytest.raises(AssertionError, match=r"farthest image \(argmax\)"):
        selfcheck.check_precision_at_1(farthest)
    with pytest.raises(AssertionError, match="share of hits"):
        selfcheck.check_precision_at_1(lambda e, y: y[distance_matrix(e).argmin(axis=1)] == y)


@pytest.mark.parametrize("mistake, cause", [
    ({"exclude_self": False}, "query itself is among the ranked images"),
    ({"divide_by": "hits"}, "divided by the number of hits"),
    ({"fixed_k": 5, "divide_by": "k"}, "fixed number k of neighbours"),
    ({"fixed_k": 10, "divide_by": "R"}, "fixed number k of neighbours"),
    ({"skip_alone": False}, "alone in its class"),
], ids=["query-included", "divide-by-hits", "fixed-k", "fixed-k-divided-by-r", "single-image-counted"])
def test_the_map_at_r_check_names_the_mistake(mistake, cause):
    with pytest.raises(AssertionError, match=cause) as caught:
        selfcheck.check_map_at_r(lambda e, y: map_at_r(e, y, **mistake))
    assert "check_map_at_r" in str(caught.value) and "expected mAP@R" in str(caught.value)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0 / 0
def test_the_map_at_r_check_explains_a_nan_from_a_class_with_one_image():
    def divide_by_zero(embeddings, labels):
        distances = distance_matrix(embeddings)
        np.fill_diagonal(distances, np.inf)
        precisions = []
        for i in range(len(labels)):
            r = np.sum(labels == labels[i]) - 1
            relevant = labels[np.argsort(distances[i])[:r]] == labels[i]
            precisions.append(np.sum(np.cumsum(relevant) / np.arange(1, r + 1) * relevant) / r)
        return np.mean(precisions)

    with pytest.raises(AssertionError, match=r"R = 0, and 0 / 0 is nan"):
        selfcheck.check_map_at_r(divide_by_zero)


# -- bad arguments and answers that are not numbers -------------------------------------------------------------


@pytest.mark.parametrize("check", list(NEW_CHECKS), ids=lambda check: check.__name__)
def test_the_new_checks_reject_bad_arguments(check):
    for not_a_function in (np.zeros(3), "my_function", None):
        with pytest.raises(TypeError, match=r"student_fn must be a function.*function itself"):
            check(not_a_function)
    for seed in ("0", 1.5, True, None):
        with pytest.raises(TypeError, match="seed must be an int"):
            check(NEW_CHECKS[check], seed=seed)


@pytest.mark.parametrize("check", list(NEW_CHECKS), ids=lambda check: check.__name__)
def test_the_new_checks_catch_a_missing_return(check):
    with pytest.raises(AssertionError, match="forget the `return`"):
        check(lambda *args: None)


# --------------------------------------------------------------------------- true accept rate (09)


def true_accept_rate(distances, pair_labels, false_accept_rate):
    """A plain solution: every threshold just above a distance, the best one within the rate."""
    genuine, impostor = distances[pair_labels == 1], distances[pair_labels == 0]
    best = 0.0
    for threshold in np.sort(distances):
        threshold = np.nextafter(threshold, np.inf)
        if np.mean(impostor < threshold) <= false_accept_rate:
            best = max(best, np.mean(genuine < threshold))
    return best


def test_the_true_accept_rate_check_accepts_a_plain_solution_and_agrees_with_the_toolkit():
    from siamese_kit.evaluation import true_accept_rate_at

    assert selfcheck.check_true_accept_rate(true_accept_rate)
    rng = np.random.default_rng(5)
    labels = np.repeat([1, 0], [50, 300])
    distances = np.concatenate([rng.gamma(2, 0.3, 50), 0.5 + rng.gamma(3, 0.3, 300)])
    for rate in (0.01, 0.05, 0.2):
        toolkit, = true_accept_rate_at(distances, labels, "distance", (rate,))
        assert selfcheck.reference_true_accept_rate(distances, labels, rate) == pytest.approx(toolkit.true_accept_rate)


def _over_all_pairs(d, y, rate):
    best = 0.0
    for t in np.nextafter(np.sort(d), np.inf):
        if np.mean((d < t) & (y == 0)) <= rate:
            best = max(best, np.mean(d[y == 1] < t))
    return best


def _returns_the_threshold(d, y, rate):
    # In float64 on every NumPy: NumPy 1 compares a float32 array with a float64 scalar in float32, which
    # rounds `nextafter(t)` back to t and counts other impostors than NumPy 2 does.
    d = np.asarray(d, np.float64)
    return max(np.nextafter(t, np.inf) for t in d if np.mean(d[y == 0] < np.nextafter(t, np.inf)) <= rate)


@pytest.mark.parametrize("function, cause", [
    (_over_all_pairs, "divides by all pairs"),
    (lambda d, y, rate: true_accept_rate(d, y, rate * 0.999), "may be reached"),
    (lambda d, y, rate: true_accept_rate(d, 1 - y, rate), "swapped"),
    (lambda d, y, rate: _returns_the_threshold(d, y, rate), "returned the threshold"),
], ids=["all-pairs", "strict", "swapped", "threshold"])
def test_the_true_accept_rate_check_names_the_mistake(function, cause):
    with pytest.raises(AssertionError, match=cause) as caught:
        selfcheck.check_true_accept_rate(function)
    assert "check_true_accept_rate" in str(caught.value) and "expected a true accept rate" in str(caught.value)


# --------------------------------------------------------------------------- semi-hard triplet loss (10)


def semi_hard_triplet_loss(labels, embeddings, margin, squared=False, nearest=False, fallback="farthest",
                           clamp=True, self_positive=False):
    """A plain loop over (anchor, positive) pairs; the keyword arguments make the usual mistakes."""
    d = np.sqrt(((embeddings[:, None, :].astype(np.float64) - embeddings[None]) ** 2).sum(-1))
    d = d**2 if squared else d
    losses = []
    for a in range(len(labels)):
        negatives = d[a][labels != labels[a]]
        for p in range(len(labels)):
            if labels[p] != labels[a] or (p == a and not self_positive) or len(negatives) == 0:
                continue
            farther = negatives[negatives > d[a, p]]
            if nearest:
                n = negatives.min()
            elif len(farther):
                n = farther.min()
            elif fallback is None:
                continue
            else:
                n = negatives.max() if fallback == "farthest" else negatives.min()
            losses.append(max(d[a, p] - n + margin, 0) if clamp else d[a, p] - n + margin)
    return np.mean(losses)


def test_the_semi_hard_triplet_check_accepts_a_plain_solution_and_agrees_with_the_toolkit():
    assert selfcheck.check_semi_hard_triplet_loss(semi_hard_triplet_loss)
    assert selfcheck.check_semi_hard_triplet_loss(semi_hard_triplet_loss, margin=1.0, seed=3)
    rng = np.random.default_rng(2)
    labels, embeddings = rng.integers(0, 4, 16), rng.normal(size=(16, 3)).astype(np.float32)
    assert selfcheck.reference_semi_hard_triplet_loss(labels, embeddings, 0.7) == pytest.approx(
        semi_hard_triplet_loss(labels, embeddings, 0.7), rel=1e-5)


@pytest.mark.parametrize("function, cause", [
    (lambda l, e, m: semi_hard_triplet_loss(l, e, m, nearest=True), "batch-hard's negative"),
    (lambda l, e, m: semi_hard_triplet_loss(l, e, m, fallback=None), "were left out"),
    (lambda l, e, m: semi_hard_triplet_loss(l, e, m, fallback="nearest"), "used the nearest negative"),
    (lambda l, e, m: semi_hard_triplet_loss(l, e, m, squared=True), "squared"),
    (lambda l, e, m: semi_hard_triplet_loss(l, e, m, clamp=False), "not clamped"),
    (lambda l, e, m: semi_hard_triplet_loss(l, e, m, self_positive=True), "its own positive"),
    (lambda l, e, m: semi_hard_triplet_loss(l, e, 0.5), "margin argument is ignored"),
], ids=["hardest", "no-fallback", "nearest-fallback", "squared", "no-clamp", "self", "fixed-margin"])
def test_the_semi_hard_triplet_check_names_the_mistake(function, cause):
    with pytest.raises(AssertionError, match=cause) as caught:
        selfcheck.check_semi_hard_triplet_loss(function)
    assert "check_semi_hard_triplet_loss, batch" in str(caught.value) and "expected loss" in str(caught.value)


def test_the_semi_hard_triplet_check_rejects_bad_arguments_and_a_missing_return():
    with pytest.raises(TypeError, match="margin must be a number > 0"):
        selfcheck.check_semi_hard_triplet_loss(semi_hard_triplet_loss, margin=0)
    with pytest.raises(TypeError, match="student_fn must be a function"):
        selfcheck.check_semi_hard_triplet_loss(1.0)
    with pytest.raises(AssertionError, match="forget the `return`"):
        selfcheck.check_semi_hard_triplet_loss(lambda *args: None)


def test_the_contrastive_check_accepts_each_tutorials_convention_when_declared():
    hadsell = loss_from(lambda y, d, m: 0.5 * ((1 - y) * d**2 + y * np.maximum(m - d, 0) ** 2))  # 0 = similar
    keras_io = loss_from(lambda y, d, m: y * d**2 + (1 - y) * np.maximum(m - d, 0) ** 2)        # no 1/2
    assert selfcheck.check_contrastive_loss(hadsell, same_label=0)
    assert selfcheck.check_contrastive_loss(keras_io, half=False)
    assert selfcheck.check_contrastive_loss(
        loss_from(lambda y, d, m: (1 - y) * d**2 + y * np.maximum(m - d, 0) ** 2), same_label=0, half=False)
    # Declared one way, written the other: the message says which convention the loss follows.
    right = loss_from(lambda y, d, m: 0.5 * (y * d**2 + (1 - y) * np.maximum(m - d, 0) ** 2))
    _fails(selfcheck.check_contrastive_loss, right, "other convention", "declare yours with same_label=1", same_label=0)
    _fails(selfcheck.check_contrastive_loss, right, "1/2 factor", "declared half=False", half=False)
    with pytest.raises(TypeError, match="same_label must be 1"):
        selfcheck.check_contrastive_loss(right, same_label=2)
    with pytest.raises(TypeError, match="half must be True or False"):
        selfcheck.check_contrastive_loss(right, half="yes")


def test_a_prediction_is_scored_with_its_reasoning_and_never_raises_for_being_wrong(capsys):
    assert selfcheck.score_prediction("the untrained loss", 0.7, 0.6931, 0.05, "ln 2: a head that knows nothing.")
    assert "✓ the untrained loss: you predicted 0.7, measured 0.6931" in capsys.readouterr().out
    assert selfcheck.score_prediction("chance", 0.5, 0.05, 0.01, "one in twenty.") is False
    assert "✗ chance: you predicted 0.5, measured 0.05, over by 0.45. one in twenty." in capsys.readouterr().out
    assert selfcheck.score_prediction("chance", None, 0.05, 0.01, "one in twenty.") is None
    assert "no prediction written; measured 0.05. one in twenty." in capsys.readouterr().out
    for bad in ("0.5", float("nan"), True):
        with pytest.raises(TypeError, match="must be a number"):
            selfcheck.score_prediction("chance", bad, 0.05, 0.01, "")
    with pytest.raises(TypeError, match="tolerance must be >= 0"):
        selfcheck.score_prediction("chance", 0.1, 0.05, -1, "")
