"""Test-time levers for distance models: embeddings averaged over fixed distortions of each image, and
several independently trained towers used as one."""

from __future__ import annotations

import numpy as np

from .._checks import positive_int


class EmbeddingEnsemble:
    """One or more trained distance towers, each embedding every image as seen through a few fixed
    distortions, as one model for the one-shot and retrieval evaluations.

    Test-time augmentation: with `views=V`, a tower embeds each image as it is and under V fixed affine
    distortions (the same V transforms for every image, drawn once from `seed`), and the V + 1
    embeddings are averaged, so a one-shot decision rests less on one drawing's exact placement.
    Ensembles: with several towers, each tower's (averaged) embedding is scaled by 1/sqrt(T) and the
    T are concatenated: the squared distance between two images is then the mean of the towers'
    squared distances, and a prototype is still the mean of its class's embeddings. (Averaging the
    towers' embeddings would mix unrelated spaces: towers trained apart share no axes.)

    Transductive prototypes: with `transductive=True`, a trial's or episode's unlabelled queries refine
    its class prototypes once by soft k-means (Ren et al. 2018): each query joins every prototype with
    weight softmax(-d^2 / tau) over the classes, tau the queries' mean squared distance to their nearest
    prototype (so the weights do not depend on the embedding's scale), and each prototype becomes the
    weighted mean of its support images (weight 1) and the queries. It uses the other queries of the
    same trial set, which a person shown one test image at a time does not have: report it apart.

    Centred on the support: with `centre=True`, every trial's support and query embeddings are moved by the
    mean of that trial's support embeddings and scaled to unit length before prototypes and distances are
    taken, so what all the candidates share (an alphabet's common strokes, in Lake's within-alphabet runs)
    stops counting and the directions that tell them apart decide. It reads only the support images, which
    every query is shown with: each query is still scored alone (inductive).

    It offers what the evaluations use (`embed`, `score_kind`), so `evaluate_lake_runs`,
    `episode_hits` and `retrieval_metrics` take it in place of a model.

    Args:
        towers: a trained model with `embed` and `score_kind == "distance"` (`PrototypeModel`,
            `EmbeddingModel`, a contrastive `SiameseModel`), or a list of them taking the same images.
        views: distorted views per image besides the image itself; 0 for none.
        distortion: the distortion the views are drawn from; default `AffineDistortion()` (Koch et
            al.'s training distortions).
        seed: which V distortions.
        transductive: refine prototypes with the queries of each trial set (see above).
        centre: centre each trial on its support mean and scale to unit length (see above).

    Raises:
        ValueError: for no tower, a tower that scores by similarity (a twin classifier's head does not
            compare embeddings by distance), or a negative `views`.

    Example:
        >>> steady = EmbeddingEnsemble([tower_a, tower_b], views=4)
        >>> evaluate_lake_runs(steady, runs).accuracy
    """

    score_kind = "distance"

    def __init__(self, towers, views: int = 0, distortion=None, seed: int = 0, transductive: bool = False,
                 centre: bool = False):
        towers = list(towers) if isinstance(towers, (list, tuple)) else [towers]
        if not towers:
            raise ValueError("EmbeddingEnsemble: pass at least one trained tower.")
        for number, tower in enumerate(towers):
            if getattr(tower, "score_kind", None) != "distance" or not callable(getattr(tower, "embed", None)):
                raise ValueError(
                    f"EmbeddingEnsemble: tower {number} ({type(tower).__name__}) must embed images and compare them "
                    "by distance (score_kind 'distance'); a twin classifier's head is not a distance."
                )
        if isinstance(views, bool) or not isinstance(views, (int, np.integer)) or views < 0:
            raise ValueError(f"EmbeddingEnsemble: views must be an integer >= 0, got {views!r}.")
        self.towers = towers
        self.views = int(views)
        if distortion is None:
            from ..data.streams.augment import AffineDistortion

            distortion = AffineDistortion()
        self.distortion = distortion
        self.seed = int(seed)
        self.transductive = bool(transductive)
        self.centre = bool(centre)

    def support_space(self, support: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The support and query embeddings centred on each trial's support mean and scaled to unit length
        (with `centre`), else unchanged.

        Args:
            support: `[..., ways, shots, D]`.
            queries: `[..., Q, D]`, with the same leading axes.

        Returns:
            `(support, queries)`, float64 when centred.
        """
        if not self.centre:
            return support, queries
        support, queries = np.asarray(support, np.float64), np.asarray(queries, np.float64)
        mean = support.mean(axis=(-3, -2))
        support = support - mean[..., None, None, :]
        queries = queries - mean[..., None, :]

        def unit(vectors):
            return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)

        return unit(support), unit(queries)

    def refine_prototypes(self, prototypes: np.ndarray, support: np.ndarray, queries: np.ndarray) -> np.ndarray:
        """One soft k-means step of the prototypes over the queries (with `transductive`), else unchanged.

        Args:
            prototypes: float64 `[..., ways, D]`, the mean of each class's support embeddings.
            support: `[..., ways, shots, D]`.
            queries: `[..., Q, D]`, with the same leading axes.

        Returns:
            float64 `[..., ways, D]`.
        """
        if not self.transductive:
            return prototypes
        queries = np.asarray(queries, np.float64)
        squared = np.sum((queries[..., :, None, :] - prototypes[..., None, :, :]) ** 2, axis=-1)  # [..., Q, ways]
        scale = np.maximum(squared.min(axis=-1).mean(axis=-1, keepdims=True)[..., None], 1e-12)
        logits = -squared / scale
        weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
        weights /= weights.sum(axis=-1, keepdims=True)
        shots = support.shape[-2]
        weighted_queries = np.einsum("...qc,...qd->...cd", weights, queries)
        return (prototypes * shots + weighted_queries) / (shots + weights.sum(axis=-2)[..., None])

    def _view_transforms(self, height: int, width: int):
        """The V fixed transforms, `[V, 8]`: one per view, the same for every image."""
        import tensorflow as tf

        from ..data.streams.seeds import batch_key, derived_key

        return tf.concat([self.distortion.transforms(1, height, width, derived_key(batch_key(self.seed, view),
                                                                                   "test-time view"))
                          for view in range(self.views)], axis=0)

    def views_of(self, images, batch_size: int = 512):
        """Yields each view of all the images, the images themselves first: what `embed` averages over.

        Args:
            images: pixel array `[N, H, W, C]` (0..255) or an `ImageSet`.
            batch_size: images per transform call.

        Yields:
            float32 `[N, H, W, C]` arrays, `views + 1` of them (the same fixed transform for every image).
        """
        import tensorflow as tf

        images = np.asarray(getattr(images, "images", images), dtype=np.float32)
        yield images
        if not self.views:
            return
        transforms = self._view_transforms(images.shape[1], images.shape[2])
        for view in range(self.views):
            parts = []
            for start in range(0, len(images), batch_size):
                block = tf.constant(images[start:start + batch_size], tf.float32)
                parts.append(tf.raw_ops.ImageProjectiveTransformV3(
                    images=block, transforms=tf.repeat(transforms[view:view + 1], len(block), axis=0),
                    output_shape=tf.shape(block)[1:3], fill_value=0.0, interpolation="BILINEAR",
                    fill_mode="NEAREST").numpy())
            yield np.concatenate(parts)

    def embed(self, images, batch_size: int = 512) -> np.ndarray:
        """Embeds images through every tower and view.

        Args:
            images: pixel array `[N, H, W, C]` (0..255) or an `ImageSet`.
            batch_size: images per encoder call.

        Returns:
            float32 `[N, T * D]` (towers of D-dimensional embeddings; D may differ between towers).
        """
        batch_size = positive_int(batch_size, "EmbeddingEnsemble.embed: batch_size", example="512")
        images = np.asarray(getattr(images, "images", images), dtype=np.float32)
        scale = 1.0 / np.sqrt(len(self.towers))
        per_tower = []
        for tower in self.towers:
            views = [tower.embed(view, batch_size=batch_size) for view in self.views_of(images, batch_size)]
            per_tower.append(np.mean(views, axis=0) * scale)
        return np.concatenate(per_tower, axis=1).astype(np.float32)
