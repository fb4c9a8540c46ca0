"""The gallery index at a million embeddings: how much of exact search the HNSW graph keeps, and how much
faster it answers.

    python benchmarks/index.py                                   # 1,000,000 x 128 (about 10 minutes on 2 cores)
    python benchmarks/index.py --vectors 100000 --queries 500    # a short run
    python benchmarks/index.py --out benchmarks/results/index_cpu2.json

The vectors are embedding-like: 5,000 cluster centres in a 16-D space, each vector a centre plus
spread, mapped into 128-D by one fixed random matrix, plus a little noise in all 128 dimensions
(embeddings of a trained tower fill few of their dimensions, and each class gathers round a centre).
Queries are fresh draws of the same kind, never in the index.

1. Exact search (`EmbeddingIndex(kind="exact")`: one NumPy matrix product per block of queries
   against all vectors) answers every query: the true 10 nearest, and its queries per second.
2. The HNSW graph (`EmbeddingIndex(kind="hnsw")`, faiss) is built; its build time and the memory it
   adds to the process (resident set growth, and faiss's own serialised size) are measured.
3. Its search effort (`efSearch`) is chosen on the *validation* queries: the smallest of
   `--search-efforts` whose neighbour recall@10 there reaches `--target-recall`. Recall@10 and queries per
   second are then reported on the separate *test* queries, against exact search on the same ones.

neighbour recall@10 = |graph's 10 nearest & true 10 nearest| / 10, averaged over queries (not the
retrieval recall@k of `retrieval_metrics`, which asks whether any of the k nearest shares the query's
class). Both searches use the same threads (faiss and NumPy's BLAS each use every core). Prints
`command: ...` first and the JSON summary last.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from siamese_kit.search.index import EmbeddingIndex  # noqa: E402


def embedding_like(count: int, dim: int, seed: int, centres: int = 5000, latent: int = 16,
                   with_labels: bool = False, spread: float = 1.0):
    """`count` vectors clustered in a `latent`-D space, mapped into `dim`-D (see the module doc); with
    `with_labels`, also the cluster (class) of each vector. `spread` scales each cluster's width
    (the centres have spread 3)."""
    structure = np.random.default_rng(12345)  # the same centres and map for the index and the queries
    centre_points = structure.normal(size=(centres, latent)).astype(np.float32) * 3.0
    mapping = structure.normal(size=(latent, dim)).astype(np.float32) / np.sqrt(latent)
    rng = np.random.default_rng(seed)
    vectors = np.empty((count, dim), np.float32)
    labels = np.empty(count, np.int64)
    for start in range(0, count, 100_000):  # in chunks, so the temporaries stay small
        n = min(100_000, count - start)
        labels[start:start + n] = rng.integers(0, centres, n)
        points = centre_points[labels[start:start + n]] + spread * rng.normal(size=(n, latent)).astype(np.float32)
        vectors[start:start + n] = points @ mapping + 0.05 * rng.normal(size=(n, dim)).astype(np.float32)
    return (vectors, labels) if with_labels else vectors


def resident_mb() -> float:
    """This process's resident memory now, in MB (Linux `/proc/self/status`)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    return float(np.mean([len(set(a[:k]) & set(b)) / k for a, b in zip(found, truth)]))


def timed_search(index: EmbeddingIndex, queries: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    _, rows = index.search(queries, k)
    return rows, len(queries) / (time.perf_counter() - start)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=1000, help="test queries (and as many validation ones)")
    parser.add_argument("--neighbours", type=int, default=32, help="HNSW links per node (faiss M)")
    parser.add_argument("--build-effort", type=int, default=80, help="HNSW efConstruction")
    parser.add_argument("--search-efforts", type=int, nargs="+", default=[16, 24, 32, 48, 64, 96, 128, 192, 256])
    parser.add_argument("--target-recall", type=float, default=0.95)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    print("command: python benchmarks/index.py " + shlex.join(sys.argv[1:] if argv is None else argv), flush=True)
    k = 10

    vectors = embedding_like(args.vectors, args.dim, seed=0)
    validation, test = embedding_like(args.queries, args.dim, seed=1), embedding_like(args.queries, args.dim, seed=2)
    exact = EmbeddingIndex(vectors, kind="exact")
    validation_truth, _ = timed_search(exact, validation, k)
    test_truth, exact_qps = timed_search(exact, test, k)
    print(f"exact search: {exact_qps:,.0f} queries/s", flush=True)

    before = resident_mb()
    start = time.perf_counter()
    graph = EmbeddingIndex(vectors, kind="hnsw", neighbours=args.neighbours, build_effort=args.build_effort)
    build_seconds = time.perf_counter() - start
    added_mb = resident_mb() - before
    import faiss

    serialised_mb = faiss.serialize_index(graph._graph).nbytes / 2**20
    print(f"HNSW built in {build_seconds:.1f} s, +{added_mb:,.0f} MB resident", flush=True)

    chosen, validation_runs = None, []
    for effort in args.search_efforts:
        graph.settings["search_effort"] = effort
        rows, qps = timed_search(graph, validation, k)
        validation_runs.append({"search_effort": effort,
                                "neighbour_recall_at_10": round(recall_at(rows, validation_truth), 4),
                                "queries_per_s": round(qps, 1)})
        print(f"validation: efSearch {effort}: {validation_runs[-1]}", flush=True)
        if validation_runs[-1]["neighbour_recall_at_10"] >= args.target_recall:
            chosen = effort
            break
    chosen = chosen or args.search_efforts[-1]
    graph.settings["search_effort"] = chosen
    rows, graph_qps = timed_search(graph, test, k)
    summary = {
        "vectors": args.vectors, "dim": args.dim, "test_queries": args.queries,
        "neighbour_recall_at_10": round(recall_at(rows, test_truth), 4),
        "queries_per_s": round(graph_qps, 1), "exact_queries_per_s": round(exact_qps, 1),
        "speedup_vs_exact": round(graph_qps / exact_qps, 1),
        "build_seconds": round(build_seconds, 1),
        "memory_mb": round(added_mb, 1), "index_bytes_mb": round(serialised_mb, 1),
        "vectors_mb": round(vectors.nbytes / 2**20, 1),
        "hnsw": {"neighbours": args.neighbours, "build_effort": args.build_effort, "search_effort": chosen},
        "search_effort_chosen_on": "validation queries", "validation_runs": validation_runs,
        "threads": faiss.omp_get_max_threads(), "cpus": os.cpu_count(),
        "faiss": faiss.__version__, "numpy": np.__version__,
    }
    if args.out is not None:
        args.out.write_text(json.dumps(summary) + "\n")
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
