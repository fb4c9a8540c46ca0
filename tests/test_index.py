"""EmbeddingIndex: exact search against brute force, the HNSW graph's recall, saving, and bad input."""

import numpy as np
import pytest

from siamese_kit.search import index as index_module
from siamese_kit.search.index import EmbeddingIndex


def clustered(count, dim=16, clusters=50, seed=0):
    """Embedding-like vectors: clusters in an 8-D space mapped into `dim`-D, plus a little noise (a
    trained tower's embeddings fill few of their dimensions). The centres and map are shared by every
    seed, so queries come from the gallery's distribution."""
    structure = np.random.default_rng(99)
    centres = structure.normal(size=(clusters, 8)) * 3
    mapping = structure.normal(size=(8, dim)) / np.sqrt(8)
    rng = np.random.default_rng(seed)
    points = centres[rng.integers(0, clusters, count)] + rng.normal(size=(count, 8))
    return (points @ mapping + 0.05 * rng.normal(size=(count, dim))).astype(np.float32)


def brute_force(gallery, queries, k):
    d = np.linalg.norm(queries[:, None, :].astype(np.float64) - gallery[None, :, :], axis=-1)
    rows = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, rows, axis=1), rows


def test_exact_search_returns_the_true_nearest_with_euclidean_distances():
    gallery, queries = clustered(700), clustered(300, seed=1)  # 300 queries: more than one block of 256
    distances, rows = EmbeddingIndex(gallery, kind="exact").search(queries, k=7)
    expected_distances, expected_rows = brute_force(gallery, queries, 7)
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-4, atol=1e-4)
    everything, _ = EmbeddingIndex(gallery[:5], kind="exact").search(queries[:2], k=5)  # k = gallery size
    assert everything.shape == (2, 5) and (np.diff(everything, axis=1) >= 0).all()


def test_hnsw_finds_almost_every_true_neighbour_and_auto_chooses_by_size(monkeypatch):
    gallery, queries = clustered(20_000, dim=32), clustered(200, dim=32, seed=1)
    graph = EmbeddingIndex(gallery, kind="hnsw")
    _, found = graph.search(queries, k=10)
    _, truth = EmbeddingIndex(gallery, kind="exact").search(queries, k=10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)])
    assert recall >= 0.95, recall
    assert EmbeddingIndex(gallery[:100]).kind == "exact"
    monkeypatch.setattr(index_module, "EXACT_BELOW", 50)
    assert EmbeddingIndex(gallery[:100]).kind == "hnsw"
    monkeypatch.setattr(index_module, "_faiss", lambda: None)
    assert EmbeddingIndex(gallery[:100]).kind == "exact"  # without faiss: slower, never wrong
    with pytest.raises(ImportError, match="kind='hnsw' needs faiss; pip install faiss-cpu"):
        EmbeddingIndex(gallery[:100], kind="hnsw")


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_a_saved_index_loads_and_answers_the_same(tmp_path, kind):
    gallery, queries = clustered(2_000), clustered(20, seed=2)
    index = EmbeddingIndex(gallery, kind=kind, search_effort=64)
    index.save(tmp_path / "index")
    again = EmbeddingIndex.load(tmp_path / "index")
    assert again.kind == kind and len(again) == 2_000 and again.settings == index.settings
    for a, b in zip(index.search(queries, 5), again.search(queries, 5)):
        np.testing.assert_array_equal(a, b)
    assert not list((tmp_path / "index").glob(".tmp-*"))


def test_damaged_or_missing_index_files_are_named(tmp_path):
    EmbeddingIndex(clustered(50), kind="exact").save(tmp_path / "index")
    np.save(tmp_path / "index" / "embeddings.npy", clustered(40))  # another tool's half-finished save
    with pytest.raises(ValueError, match=r"the files in .*index disagree \(index.json says 50 x 16\)"):
        EmbeddingIndex.load(tmp_path / "index")
    with pytest.raises(FileNotFoundError, match=r"nowhere.index.json not found; save an index there"):
        EmbeddingIndex.load(tmp_path / "nowhere")


def test_bad_input_is_refused_naming_the_problem():
    gallery = clustered(30)
    with pytest.raises(ValueError, match="kind must be one of 'auto', 'exact', 'hnsw', got 'ivf'"):
        EmbeddingIndex(gallery, kind="ivf")
    broken = gallery.copy()
    broken[3, 2] = np.nan
    with pytest.raises(ValueError, match="embeddings hold NaN or Inf"):
        EmbeddingIndex(broken)
    with pytest.raises(ValueError, match=r"non-empty \[N, D\] array, got shape \(30,\)"):
        EmbeddingIndex(gallery[:, 0])
    index = EmbeddingIndex(gallery)
    with pytest.raises(ValueError, match="queries are 8-D but the gallery is 16-D"):
        index.search(gallery[:, :8])
    with pytest.raises(ValueError, match="k must be between 1 and the gallery's 30 embeddings, got 31"):
        index.search(gallery[:2], k=31)


def test_the_index_benchmark_reports_every_field_on_a_small_run(capsys):
    from support import load_benchmark

    benchmark = load_benchmark("index")
    summary = benchmark.main(["--vectors", "20000", "--dim", "32", "--queries", "100", "--search-efforts", "16", "64"])
    assert capsys.readouterr().out.splitlines()[-1] == __import__("json").dumps(summary)
    for key in ("vectors", "neighbour_recall_at_10", "speedup_vs_exact", "build_seconds", "memory_mb"):
        assert key in summary
    assert summary["vectors"] == 20000 and summary["search_effort_chosen_on"] == "validation queries"
    # The effort is the first whose validation recall reached the 0.95 target (or the last tried).
    runs = summary["validation_runs"]
    reached = [run["search_effort"] for run in runs if run["neighbour_recall_at_10"] >= 0.95]
    assert summary["hnsw"]["search_effort"] == (reached[0] if reached else 64)
    assert [run["search_effort"] for run in runs] == ([16] if reached == [16] else [16, 64])
    # Fresh test queries, searched at that effort, find about as many of the true 10 nearest.
    assert summary["neighbour_recall_at_10"] >= 0.92, summary["neighbour_recall_at_10"]
    assert abs(summary["neighbour_recall_at_10"] - runs[-1]["neighbour_recall_at_10"]) < 0.05


def test_the_index_benchmark_counts_shared_neighbours():
    from support import load_benchmark

    recall_at = load_benchmark("index").recall_at
    truth = np.array([[1, 2, 9], [7, 8, 9]])
    assert recall_at(np.array([[1, 2, 3], [4, 5, 6]]), truth) == pytest.approx((2 / 3 + 0) / 2)
    # Only the first k found count, and order within them does not.
    assert recall_at(np.array([[9, 2, 1, 7], [9, 8, 7, 0]]), truth) == 1.0
