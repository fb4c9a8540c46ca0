"""benchmarks/metric_learning.py on a few MNIST images: every loss trains on 64-image steps and reports
the same fields; the index gives exact search's mAP@R."""

import json

import numpy as np
import pytest

from support import load_benchmark


def first(imageset, count):
    return imageset.subset(range(count))


def test_every_loss_reports_on_equal_terms(mnist, monkeypatch, tmp_path, capsys):
    train, test = mnist
    benchmark = load_benchmark("metric_learning")
    monkeypatch.setattr(benchmark, "load_data", lambda dataset, evaluate_on, seed: (first(train, 3000), first(test, 600), None))
    built, build = [], benchmark.build
    monkeypatch.setattr(benchmark, "build", lambda *args: built.append(build(*args)) or built[-1])
    out = tmp_path / "lines.jsonl"
    lines = benchmark.main(["--dataset", "mnist", "--iterations", "4", "--out", str(out)])
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert printed == lines == [json.loads(line) for line in out.read_text().splitlines()]
    *per_loss, summary = lines
    assert [line["loss"] for line in per_loss] == list(benchmark.LOSSES)
    test_set = first(test, 600)
    for line, model in zip(per_loss, built):
        assert line["steps"] == 4 and line["images_seen"] == 4 * 64 and line["dataset"] == "mnist"
        # Precision@1 recomputed from the trained model: each test image's nearest other image, by hand.
        embeddings = model.embed(test_set).astype(np.float64)
        distances = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)
        np.fill_diagonal(distances, np.inf)
        by_hand = np.mean(test_set.labels[distances.argmin(axis=1)] == test_set.labels)
        assert line["precision_at_1"] == pytest.approx(by_hand, abs=4e-3) and 0 < line["map_at_r"] <= 1  # 2 near-ties
        # 600 embeddings: the graph finds the true neighbours, so the metric is exact search's.
        assert line["map_at_r_hnsw"] == pytest.approx(line["map_at_r"], abs=2e-3)
        assert "lake20_accuracy" not in line  # MNIST has no Lake runs
    assert summary["summary"] and sorted(summary["ranking_by_map_at_r"]) == sorted(benchmark.LOSSES)
    assert summary["command"].startswith("python benchmarks/metric_learning.py --dataset mnist")


def test_every_loss_trains_on_steps_of_64_images(mnist):
    train, _ = mnist
    benchmark = load_benchmark("metric_learning")
    for loss_name in benchmark.LOSSES:
        element = next(iter(benchmark.stream_of(loss_name, first(train, 3000), 8, 8, None, seed=0)(0)))
        if loss_name == "contrastive":  # (pair features, pair labels): two images a pair
            count = 2 * len(element[0]["image_a"])
        elif loss_name == "prototypical":  # an episode: support and query images
            count = len(element["support"]) + len(element["query"])
        else:  # (images, class labels): P x K
            count = len(element[0])
        assert count == 64, (loss_name, count)
