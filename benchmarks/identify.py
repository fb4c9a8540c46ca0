"""Identification at a million gallery embeddings: each query's best classes, as exact search gives them,
without searching the whole gallery.

    python benchmarks/identify.py                                # 1,000,000 x 64, two cases
    python benchmarks/identify.py --vectors 100000 --queries 200 # a short run
    python benchmarks/identify.py --out benchmarks/results/identify_cpu2.json

`siamese-kit identify` (`Gallery.identify`) ranks the known classes of a query by their nearest gallery
image; this measures what it calls, `siamese_kit.search.by_class.ClassBalls`, on embeddings alone (a
million image files would measure the disk and the model). Two galleries of embedding-like vectors
(those of `benchmarks/index.py`: clusters in a 16-D space mapped into `--dim`, one cluster a class, the
gallery sorted by class as a folder is read): ~1,000 images a class (1,000 classes) and ~100 a class
(10,000 classes). Queries are fresh draws of the same classes, never in the gallery.

For each gallery:
1. Exact: `class_minimum_distances`, every query against every embedding, one block of queries at a
   time, the per-class minimum of each block: the truth, and its queries per second.
2. `ClassBalls.nearest`: each class's centroid and radius bound its nearest distance from below; the
   `--top-k` classes of nearest centroid are measured exactly, and then only the classes whose bound is
   within the farthest of those. Its top-k classes (in order) are compared with exact search's on every
   query, its share of the gallery measured is counted, and its peak memory is sampled while it runs
   (resident set, every 5 ms).

Before `ClassBalls`, a query whose first 100 neighbours held too few classes made identify ask the
index for every gallery embedding: for 1,000 queries and 1,000,000 embeddings a float32 distance and an
int64 row each, 12 GB (`whole_gallery_search_would_return_mb`). Prints
`command: ...` first and the JSON summary last.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from index import embedding_like, resident_mb  # noqa: E402

from siamese_kit.search.by_class import ClassBalls, class_minimum_distances  # noqa: E402


class PeakMemory:
    """The largest resident set seen while the `with` block runs, sampled every 5 ms."""

    def __enter__(self):
        self.start_mb = self.peak_mb = resident_mb()
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while self._running:
            self.peak_mb = max(self.peak_mb, resident_mb())
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._running = False
        self._thread.join()
        self.peak_mb = max(self.peak_mb, resident_mb())


def top_classes(distances: np.ndarray, classes: np.ndarray, k: int) -> np.ndarray:
    return classes[np.argsort(distances, axis=1, kind="stable")[:, :k]]


def one_case(vectors_count: int, classes_count: int, dim: int, queries_count: int, top_k: int,
             baseline_mb: float, spread: float = 1.0) -> dict:
    vectors, labels = embedding_like(vectors_count, dim, seed=0, centres=classes_count, with_labels=True, spread=spread)
    order = np.argsort(labels, kind="stable")  # a gallery is read class by class
    vectors, labels = vectors[order], labels[order]
    del order
    queries, query_classes = embedding_like(queries_count, dim, seed=7, centres=classes_count, with_labels=True,
                                            spread=spread)
    per_class = np.bincount(labels, minlength=classes_count)
    print(f"{vectors_count:,} x {dim} in {classes_count:,} classes ({per_class.mean():.0f} a class, "
          f"{per_class.min()} to {per_class.max()})", flush=True)

    with PeakMemory() as exact_memory:
        start = time.perf_counter()
        truth, classes = class_minimum_distances(queries, vectors, labels)
        exact_seconds = time.perf_counter() - start
    print(f"exact per-class minimum: {queries_count / exact_seconds:,.1f} queries/s", flush=True)

    start = time.perf_counter()
    balls = ClassBalls(vectors, labels)
    build_seconds = time.perf_counter() - start
    print(f"class balls built in {build_seconds:.1f} s", flush=True)

    with PeakMemory() as memory:
        start = time.perf_counter()
        found, stats = balls.nearest(queries, top_k)
        seconds = time.perf_counter() - start
    found_classes = balls.classes
    assert np.array_equal(found_classes, classes)
    ours, exact = top_classes(found, classes, top_k), top_classes(truth, classes, top_k)
    same_order = (ours == exact).all(axis=1)
    same_set = np.array([set(a) == set(b) for a, b in zip(ours, exact)])
    reached = np.isfinite(found)
    difference = float(np.abs(found[reached] - truth[reached]).max())
    print(f"class balls: {queries_count / seconds:,.1f} queries/s, top-{top_k} equal to exact on "
          f"{same_order.sum()} of {queries_count} queries, {stats}", flush=True)
    vectors_mb = vectors.nbytes / 2**20
    return {
        "gallery": vectors_count, "classes": classes_count, "spread": spread, "images_per_class_mean": round(float(per_class.mean()), 1),
        "images_per_class_range": [int(per_class.min()), int(per_class.max())], "dim": dim,
        "queries": queries_count, "top_k": top_k,
        "queries_checked": queries_count,
        "top_k_equal_to_exact_in_order": int(same_order.sum()),
        "top_k_equal_to_exact_as_set": int(same_set.sum()),
        "top1_accuracy_exact": round(float(np.mean(exact[:, 0] == query_classes)), 4),
        "largest_distance_difference": round(difference, 6),
        **stats,
        "queries_per_s": round(queries_count / seconds, 1),
        "exact_queries_per_s": round(queries_count / exact_seconds, 1),
        "speedup_vs_exact": round(exact_seconds / seconds, 2),
        "class_balls_build_seconds": round(build_seconds, 1),
        "embeddings_mb": round(vectors_mb, 1),
        "peak_mb_above_embeddings": round(memory.peak_mb - baseline_mb - vectors_mb, 1),
        "peak_mb_added_while_identifying": round(memory.peak_mb - memory.start_mb, 1),
        "exact_peak_mb_added": round(exact_memory.peak_mb - exact_memory.start_mb, 1),
        "whole_gallery_search_would_return_mb": round(queries_count * vectors_count * (4 + 8) / 2**20, 1),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64, help="embedding width (the one-shot towers' is 64)")
    parser.add_argument("--classes", type=int, nargs="+", default=[1_000, 10_000],
                        help="one gallery per count: ~vectors/classes images a class")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--spread", type=float, default=1.0,
                        help="width of each class's cluster (centres spread 3): larger overlaps the classes more")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    print("command: python benchmarks/identify.py " + shlex.join(sys.argv[1:] if argv is None else argv), flush=True)
    baseline_mb = resident_mb()
    cases = []
    for classes in args.classes:
        cases.append(one_case(args.vectors, classes, args.dim, args.queries, args.top_k, baseline_mb, args.spread))
    summary = {"cases": cases, "cpus": os.cpu_count(), "numpy": np.__version__, "baseline_mb": round(baseline_mb, 1)}
    line = json.dumps(summary)
    if args.out is not None:
        args.out.write_text(line + "\n")
    print(line)
    return summary


if __name__ == "__main__":
    main()
