"""Using a trained twin: verify a pair of image files, identify images against a gallery of known
classes, embed a folder.

A `Verifier` and a `Gallery` read image files exactly as training read its data (size, colour,
padding, the run's `DataSource`) and decide with the threshold the run's report chose on validation
pairs, so a command-line answer agrees with the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._files import replace_atomically
from ..data.sources.folders import list_image_folder, read_folder_members, read_image_files, read_image_folder
from ..data.imageset import DataError, ImageSet
from ..runs import RunFolder
from ..scores import embedding_pair_scores, predict_same
from .by_class import ClassBalls
from .gallery_cache import cached_embeddings, save_npz

# Query-by-gallery score blocks for a twin head stay under this many embedding values per array.
_HEAD_BLOCK_VALUES = 4_000_000


@dataclass
class Verifier:
    """Says whether two images show the same class, with a run's model and threshold.

    Args:
        model: a trained model.
        threshold: the decision threshold (`predict_same` semantics).
        image_shape: `(H, W, C)` the model takes; files are read at this size.
        keep_aspect: pad rather than stretch, as the run's data was read.
        model_path: the model file, when it came from one (part of the gallery cache key).
    """

    model: object
    threshold: float
    image_shape: tuple[int, int, int]
    keep_aspect: bool = False
    model_path: Path | None = None

    @classmethod
    def from_run(cls, run: str | Path) -> "Verifier":
        """The run's model, with the threshold of its report (`siamese-kit evaluate RUN` writes it).

        Args:
            run: a run folder.

        Returns:
            Verifier.

        Raises:
            DataError: if the run has no model or no report yet, naming the command that makes it.
        """
        folder = RunFolder(run)
        info = folder.info()
        report = folder.path / "report.json"
        if not report.is_file():
            raise DataError(f"{folder.path} has no report.json, so no threshold yet; run "
                            f"`siamese-kit evaluate {folder.path}` first.")
        threshold = json.loads(report.read_text())["threshold"]
        return cls(folder.trained_model(), float(threshold), tuple(info["image_shape"]),
                   bool(info["data"].get("keep_aspect", False)), folder.model_path)

    def read(self, paths) -> np.ndarray:
        """Image files at the model's size and colour.

        Args:
            paths: file paths.

        Returns:
            uint8 `[N, H, W, C]`."""
        height, width, channels = self.image_shape
        return read_image_files(paths, (height, width), "rgb" if channels == 3 else "grayscale", self.keep_aspect)

    def verify(self, first: str | Path, second: str | Path) -> dict:
        """One pair's score and decision.

        Args:
            first: an image file.
            second: another image file.

        Returns:
            `{"score": float, "threshold": float, "same": bool}`.
        """
        embeddings = self.model.embed(self.read([first, second]))
        score = float(embedding_pair_scores(self.model, embeddings[:1], embeddings[1:])[0])
        same = bool(predict_same(np.array([score]), self.threshold, self.model.score_kind)[0])
        return {"score": round(score, 6), "threshold": round(self.threshold, 6), "same": same}


class Gallery:
    """Known classes as a folder (or `.zip`) of class folders, embedded once, to identify new images against.

    The embeddings are cached beside the run (`RUN/gallery-<hash>.npz`, see `gallery_cache`), keyed
    by the model file's digest and by each image's content, so only new or changed images are embedded
    again; `update` says what changed. A distance model ranks classes exactly through `ClassBalls`,
    measuring only the classes that can be among a query's best; a twin head scores every gallery image.

    Args:
        verifier: the model, threshold and reading options (`Verifier.from_run`).
        folder: the gallery: a folder or `.zip` with one subfolder per known class.
        cache_dir: where to keep the embeddings; None keeps nothing.

    Attributes:
        update: `GalleryUpdate`, what was added, changed, removed and embedded on opening.
    """

    def __init__(self, verifier: Verifier, folder: str | Path, cache_dir: str | Path | None = None):
        self.verifier = verifier
        self.folder = Path(folder).expanduser()
        height, width, channels = verifier.image_shape
        listing = list_image_folder(self.folder)
        self.members, self.labels = listing.members, listing.labels
        self.class_names, self.paths = listing.class_names, listing.paths
        reading = f"{height}x{width}x{channels} keep_aspect={verifier.keep_aspect}"
        self.embeddings, self.update = cached_embeddings(verifier.model.embed, self._read, self.members, self.folder,
                                                         cache_dir, verifier.model_path, reading)
        self._balls = None

    def _read(self, rows) -> np.ndarray:
        """The images at these positions of `members`, decoded as the run's data was read."""
        height, width, channels = self.verifier.image_shape
        return read_folder_members(self.folder, [self.members[row] for row in rows], (height, width),
                                   "rgb" if channels == 3 else "grayscale", self.verifier.keep_aspect)

    @property
    def imageset(self) -> ImageSet:
        """The gallery's images, decoded now (identify needs only the cached embeddings).

        Returns:
            ImageSet with labels, class names and paths."""
        images = self._read(range(len(self.members)))
        return ImageSet(images, self.labels, self.class_names, name=self.folder.name, paths=self.paths)

    def identify(self, queries, top_k: int = 5) -> list[dict]:
        """The best-matching known classes of each query image, ranked.

        Each class scores by its closest gallery image (smallest distance, or highest probability of
        "same" for a twin head). A query whose best class is not within the run's threshold is
        `"unknown"`.

        Args:
            queries: image file paths.
            top_k: classes listed per query.

        Returns:
            one dict per query: `{"query": PATH, "identity": NAME or "unknown",
            "matches": [{"class": NAME, "distance" or "score": D}, ...]}`.
        """
        model = self.verifier.model
        distance = model.score_kind == "distance"
        query_embeddings = model.embed(self.verifier.read(queries))
        labels = self.labels
        classes = np.unique(labels)
        if distance:
            by_class = self._nearest_by_class(query_embeddings, classes, top_k)
        else:
            scores = self._head_scores(query_embeddings)
            # Per class, its best gallery image: the one the head finds most alike.
            by_class = np.stack([scores[:, labels == c].max(axis=1) for c in classes], axis=1)
        order = np.argsort(by_class if distance else -by_class, axis=1, kind="stable")[:, :top_k]
        key = "distance" if distance else "score"
        answers = []
        for row, query in enumerate(queries):
            matches = [{"class": self.class_names[classes[c]], key: round(float(by_class[row, c]), 6)}
                       for c in order[row]]
            best = by_class[row, order[row, 0]]
            known = bool(predict_same(np.array([best]), self.verifier.threshold, model.score_kind)[0])
            answers.append({"query": str(query), "identity": matches[0]["class"] if known else "unknown",
                            "matches": matches})
        return answers

    def _nearest_by_class(self, query_embeddings: np.ndarray, classes: np.ndarray, top_k: int) -> np.ndarray:
        """`[Q, C]` exact distance of each query to each class's nearest gallery image, for every class
        that could be among its `top_k` best (inf for the others); see `ClassBalls`."""
        if self._balls is None:
            self._balls = ClassBalls(self.embeddings, self.labels)
        distances, _ = self._balls.nearest(query_embeddings, top_k)
        assert np.array_equal(self._balls.classes, classes)
        return distances

    def _head_scores(self, query_embeddings: np.ndarray) -> np.ndarray:
        model = self.verifier.model
        gallery, dim = len(self.embeddings), self.embeddings.shape[1]
        block = max(1, _HEAD_BLOCK_VALUES // max(1, gallery * dim))
        rows = []
        for start in range(0, len(query_embeddings), block):
            chunk = query_embeddings[start : start + block]
            first = np.repeat(chunk, gallery, axis=0)
            second = np.tile(self.embeddings, (len(chunk), 1))
            rows.append(embedding_pair_scores(model, first, second).reshape(len(chunk), gallery))
        return np.concatenate(rows)


def embed_folder(verifier: Verifier, folder: str | Path, out: str | Path | None = None,
                 projector: str | Path | None = None) -> dict:
    """Embeddings of every image of a folder of class folders, saved with their paths and classes, and/or
    written as TensorBoard projector files.

    Args:
        verifier: the model and reading options.
        folder: a folder (or zip) of class folders.
        out: the `.npz` to write: `embeddings [N, D]`, `paths [N]`, `labels [N]`, `class_names [K]`; or None.
        projector: a folder for TensorBoard's projector (`tensorboard_log.write_projector`: the embeddings,
            class and path of each image, a sprite of the images as the model saw them); or None.

    Returns:
        `{"images": N, "dimensions": D, "out": path or None, "projector": folder or None}`.

    Raises:
        DataError: when neither `out` nor `projector` is given, or `out` is not a `.npz` path.
    """
    if out is None and projector is None:
        raise DataError("embed: say where the embeddings go: --out FILE.npz, --projector DIR, or both.")
    if out is not None and Path(out).suffix != ".npz":
        raise DataError(f"--out must name a .npz file, got {out}.")
    height, width, channels = verifier.image_shape
    imageset = read_image_folder(folder, (height, width), "rgb" if channels == 3 else "grayscale",
                                 keep_aspect=verifier.keep_aspect).imageset
    embeddings = verifier.model.embed(imageset)
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(out, lambda path: save_npz(path, embeddings=embeddings, paths=np.array(imageset.paths),
                                                       labels=imageset.labels, class_names=np.array(imageset.class_names)))
    if projector is not None:
        from ..tensorboard_log import write_projector

        write_projector(projector, embeddings, imageset.images, imageset.labels, imageset.class_names, imageset.paths,
                        name=f"{Path(folder).name} embeddings")
    return {"images": len(imageset), "dimensions": int(embeddings.shape[1]),
            "out": None if out is None else str(out), "projector": None if projector is None else str(projector)}
