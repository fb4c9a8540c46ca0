"""`EmbeddingIndex`: nearest embeddings of a gallery, exact for small galleries, approximate for large.

Exact search compares each query with every gallery embedding (one matrix product per block of
queries): right for thousands of images, too slow for millions. The approximate index is faiss's
HNSW graph (Malkov & Yashunin 2018), which visits a few thousand embeddings per query instead of all
of them; `benchmarks/index.py` measures what it keeps of exact search's answers and how much faster it
is. Distances are Euclidean (not squared) either way, so thresholds carry over from the evaluation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._files import replace_atomically, write_json
from .exact import exact_neighbours

KINDS = ("auto", "exact", "hnsw")
# Below this many embeddings "auto" searches exactly: a faiss graph saves little and costs a build.
EXACT_BELOW = 50_000
_FAISS_HINT = "pip install faiss-cpu (or pass kind='exact')"


def _faiss():
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def _as_matrix(values, what: str) -> np.ndarray:
    matrix = np.ascontiguousarray(values, dtype=np.float32)
    if matrix.ndim != 2 or len(matrix) == 0:
        raise ValueError(f"EmbeddingIndex: {what} must be a non-empty [N, D] array, got shape {matrix.shape}.")
    if not np.isfinite(matrix).all():
        raise ValueError(f"EmbeddingIndex: {what} hold NaN or Inf values; check the model that made them.")
    return matrix


class EmbeddingIndex:
    """Nearest-neighbour search over gallery embeddings.

    Args:
        embeddings: `[N, D]` gallery embeddings (their row numbers are what `search` returns).
        kind: `"exact"`, `"hnsw"` (faiss) or `"auto"`: exact below `EXACT_BELOW` embeddings, HNSW
            from there on when faiss is installed (exact otherwise: slower, never less right).
        neighbours: HNSW links per node (faiss's `M`); more costs memory and build time, gains recall.
        build_effort: HNSW `efConstruction`, the candidate list while building.
        search_effort: HNSW `efSearch`, the candidate list per query (at least `k`); raise it for
            recall, lower it for speed.

    Attributes:
        kind: `"exact"` or `"hnsw"`, what `"auto"` chose.

    Raises:
        ValueError: for embeddings that are not a finite `[N, D]` array or an unknown kind; an
            ImportError naming the fix for `kind="hnsw"` without faiss.

    Example:
        >>> index = EmbeddingIndex(gallery_embeddings)           # exact for a small gallery
        >>> distances, rows = index.search(query_embeddings, k=5)
        >>> index.save("runs/faces/index"); EmbeddingIndex.load("runs/faces/index")
    """

    def __init__(self, embeddings, kind: str = "auto", neighbours: int = 32, build_effort: int = 80,
                 search_effort: int = 128):
        if kind not in KINDS:
            raise ValueError(f"EmbeddingIndex: kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}.")
        self.embeddings = _as_matrix(embeddings, "embeddings")
        self.settings = {"neighbours": int(neighbours), "build_effort": int(build_effort),
                         "search_effort": int(search_effort)}
        faiss = _faiss()
        if kind == "hnsw" and faiss is None:
            raise ImportError(f"EmbeddingIndex: kind='hnsw' needs faiss; {_FAISS_HINT}.")
        if kind == "auto":
            kind = "hnsw" if faiss is not None and len(self.embeddings) >= EXACT_BELOW else "exact"
        self.kind = kind
        self._graph = self._build_graph(faiss) if kind == "hnsw" else None

    def _build_graph(self, faiss):
        graph = faiss.IndexHNSWFlat(self.dim, self.settings["neighbours"])
        graph.hnsw.efConstruction = self.settings["build_effort"]
        graph.hnsw.efSearch = self.settings["search_effort"]
        graph.add(self.embeddings)
        return graph

    def __len__(self) -> int:
        return len(self.embeddings)

    @property
    def dim(self) -> int:
        return self.embeddings.shape[1]

    def search(self, queries, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest gallery embeddings of each query, nearest first.

        Args:
            queries: `[Q, D]` embeddings from the same model as the gallery.
            k: neighbours per query (at most the gallery's size).

        Returns:
            `(distances, rows)`: float32 `[Q, k]` Euclidean distances and int64 `[Q, k]` gallery rows.
            An HNSW graph that reaches fewer than `k` embeddings fills the rest with row -1 and distance
            inf: mask `rows >= 0` before using a row.

        Raises:
            ValueError: for queries of another width than the gallery or a `k` out of range.
        """
        queries = _as_matrix(queries, "queries")
        if queries.shape[1] != self.dim:
            raise ValueError(f"EmbeddingIndex: queries are {queries.shape[1]}-D but the gallery is {self.dim}-D; "
                             "embed both with the same model.")
        if not 1 <= k <= len(self):
            raise ValueError(f"EmbeddingIndex: k must be between 1 and the gallery's {len(self)} embeddings, got {k}.")
        if self._graph is not None:
            self._graph.hnsw.efSearch = max(self.settings["search_effort"], k)
            squared, rows = self._graph.search(queries, k)
            distances = np.sqrt(np.maximum(squared, 0.0)).astype(np.float32)
            # A graph search can reach fewer than k nodes; faiss marks the rest with row -1, which as an
            # index would silently name the gallery's last embedding: give them an infinite distance.
            distances[rows < 0] = np.inf
            return distances, rows.astype(np.int64)
        rows, distances = exact_neighbours(queries, self.embeddings, k)
        return distances.astype(np.float32), rows

    def save(self, folder: str | Path) -> Path:
        """Writes the index to `folder` (`index.json`, `embeddings.npy`, and `hnsw.faiss` for a graph),
        each file replaced whole, so a reader never sees half of one.

        Args:
            folder: where to write; created if missing.

        Returns:
            the folder.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        replace_atomically(folder / "embeddings.npy", lambda path: np.save(path, self.embeddings, allow_pickle=False))
        if self._graph is not None:
            faiss = _faiss()
            replace_atomically(folder / "hnsw.faiss", lambda path: faiss.write_index(self._graph, str(path)))
        meta = {"kind": self.kind, "count": len(self), "dim": self.dim, **self.settings}
        write_json(folder / "index.json", meta)  # last, so it never describes files not yet written
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "EmbeddingIndex":
        """Reads an index written by `save`, without rebuilding its graph.

        Args:
            folder: the folder `save` wrote.

        Returns:
            EmbeddingIndex.

        Raises:
            FileNotFoundError: naming the missing file; ValueError when the files disagree (an index
                saved halfway by another tool) or the graph file is damaged or of another kind, naming
                the folder and the fix.
        """
        folder = Path(folder)
        meta_path = folder / "index.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"EmbeddingIndex: {meta_path} not found; save an index there with index.save(folder).")
        meta = json.loads(meta_path.read_text())
        index = cls.__new__(cls)
        index.embeddings = np.load(folder / "embeddings.npy", allow_pickle=False)
        index.settings = {key: meta[key] for key in ("neighbours", "build_effort", "search_effort")}
        index.kind = meta["kind"]
        index._graph = None
        if index.kind == "hnsw":
            faiss = _faiss()
            if faiss is None:
                raise ImportError(f"EmbeddingIndex: {folder} holds an HNSW graph, which needs faiss; {_FAISS_HINT}.")
            graph_path = folder / "hnsw.faiss"
            try:
                index._graph = faiss.read_index(str(graph_path))
            except RuntimeError as error:  # faiss's only exception type, for a missing or damaged file alike
                first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
                raise ValueError(f"EmbeddingIndex: {graph_path} cannot be read as an HNSW graph ({first_line[:200]}); "
                                 f"delete {folder} and save the index again (EmbeddingIndex(embeddings).save(folder)).") from None
            if not isinstance(index._graph, faiss.IndexHNSWFlat):
                raise ValueError(f"EmbeddingIndex: {graph_path} holds a {type(index._graph).__name__}, not the HNSW graph "
                                 f"siamese-kit writes; delete {folder} and save the index again.")
        count = index._graph.ntotal if index._graph is not None else len(index.embeddings)
        if index.embeddings.shape != (meta["count"], meta["dim"]) or count != meta["count"]:
            raise ValueError(f"EmbeddingIndex: the files in {folder} disagree (index.json says {meta['count']} x "
                             f"{meta['dim']}); save the index again.")
        return index
