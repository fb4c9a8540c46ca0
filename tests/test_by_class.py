"""Per-class nearest distances for identification: exact for each query's best classes, memory bounded by
a block, and far fewer distances than searching everything; HNSW's missing results (-1) never read as a
gallery row."""

import numpy as np
import pytest

from siamese_kit.search import EmbeddingIndex
from siamese_kit.search.by_class import ClassBalls, class_minimum_distances
from siamese_kit.search import by_class


def clustered(classes, per_class, dim=8, seed=0, spread=0.6):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)).astype(np.float32) * 2
    labels = np.repeat(np.arange(classes), per_class)
    return (centres[labels] + spread * rng.normal(size=(len(labels), dim))).astype(np.float32), labels


def brute_force(queries, embeddings, labels):
    distances = np.linalg.norm(queries[:, None, :].astype(np.float64) - embeddings[None, :, :], axis=2)
    return np.stack([distances[:, labels == c].min(axis=1) for c in np.unique(labels)], axis=1)


def top_classes(distances, k):
    return np.argsort(distances, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("classes, per_class, spread", [(40, 3, 0.6), (12, 300, 0.6), (30, 20, 3.0)])
def test_the_best_classes_and_their_distances_equal_exact_search(classes, per_class, spread):
    embeddings, labels = clustered(classes, per_class, spread=spread)
    queries, _ = clustered(classes, 2, seed=1, spread=spread)
    shuffle = np.random.default_rng(2).permutation(len(labels))  # a gallery not sorted by class
    truth = brute_force(queries, embeddings, labels)
    distances, stats = ClassBalls(embeddings[shuffle], labels[shuffle]).nearest(queries, 5)
    np.testing.assert_array_equal(top_classes(distances, 5), top_classes(truth, 5))
    measured = np.isfinite(distances)
    np.testing.assert_allclose(distances[measured], truth[measured], rtol=1e-4, atol=1e-4)
    # Whatever was not measured is farther than the query's 5th best class.
    fifth = np.sort(truth, axis=1)[:, 4:5]
    assert (truth[~measured] >= np.broadcast_to(fifth, truth.shape)[~measured]).all()
    if classes >= 8 * 5 and spread < 1:  # many well-separated classes: most of the gallery is never measured
        assert stats["share_of_gallery_measured"] < 0.5, stats


def test_memory_is_bounded_by_the_block_not_the_gallery(monkeypatch):
    embeddings, labels = clustered(classes=6, per_class=50)
    queries, _ = clustered(classes=6, per_class=10, seed=2)
    shapes = []
    real = by_class.numpy_pairwise_distances
    monkeypatch.setattr(by_class, "numpy_pairwise_distances",
                        lambda q, g, n=None: shapes.append((len(q), len(g))) or real(q, g, n))
    distances, _ = ClassBalls(embeddings, labels, block_values=120).nearest(queries, 2)
    assert shapes and max(q * g for q, g in shapes) <= 120  # never queries x gallery (60 x 300)
    np.testing.assert_array_equal(top_classes(distances, 2), top_classes(brute_force(queries, embeddings, labels), 2))

    blocks = []
    real_block = by_class.block_distances
    monkeypatch.setattr(by_class, "block_distances", lambda q, g, n: blocks.append(len(q) * len(g)) or real_block(q, g, n))
    class_minimum_distances(queries, embeddings, labels, block_values=1500)
    assert blocks and max(blocks) <= 1500


def test_bad_input_is_refused_naming_the_fix():
    embeddings, labels = clustered(classes=3, per_class=4)
    with pytest.raises(ValueError, match="one label per gallery row"):
        ClassBalls(embeddings, labels[:-1])
    with pytest.raises(ValueError, match="same model"):
        ClassBalls(embeddings, labels).nearest(np.zeros((2, 5), np.float32), 1)


def test_an_hnsw_graph_that_reaches_fewer_than_k_gives_inf_distances():
    # faiss marks results a graph walk did not reach with row -1, which as an index would name the
    # gallery's last embedding.
    embeddings, _ = clustered(classes=3, per_class=4)
    index = EmbeddingIndex(embeddings, kind="exact")

    class Graph:  # faiss's answer when the walk reached 2 of the 3 asked for
        hnsw = type("Settings", (), {"efSearch": 0})()

        def search(self, queries, k):
            return np.array([[0.0, 4.0, 3e38]], np.float32), np.array([[5, 7, -1]])

    index._graph = Graph()
    distances, rows = index.search(embeddings[:1], 3)
    assert rows.tolist() == [[5, 7, -1]] and distances[0, 2] == np.inf and distances[0, 1] == 2.0


def test_the_identify_benchmark_agrees_with_exact_search_on_every_query(capsys):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import identify

    summary = identify.main(["--vectors", "6000", "--queries", "40", "--classes", "10", "300"])
    for case in summary["cases"]:
        assert case["top_k_equal_to_exact_in_order"] == case["queries_checked"] == 40
        assert case["largest_distance_difference"] < 1e-3 and 0 < case["share_of_gallery_measured"] <= 1
    assert capsys.readouterr().out.startswith("command: python benchmarks/identify.py")
