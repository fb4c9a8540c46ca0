"""One-shot evaluation: Lake's 20 runs and N-way K-shot episodes, each image embedded once.

A trial shows one query image and `ways` candidate classes (each with K support images) and asks which
class the query belongs to. Every image goes through the encoder once; the decision is then made on the
embeddings alone:

- a twin classifier (`TwinClassifierHead`, score = probability of "same") scores the query against every
  support image with its head and picks the class with the highest mean score over its K shots;
- a distance model (contrastive twin or `PrototypeModel`) picks the class whose prototype (mean of its K
  shot embeddings) is nearest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from keras import ops

from .data.episodes import EpisodeSet
from .data.imageset import ImageSet
from .data.lake import OneShotRun


def class_scores(model, support_embeddings: np.ndarray, query_embeddings: np.ndarray) -> np.ndarray:
    """Scores of every query against every class from embeddings.

    Args:
        model: a `SiameseModel` (its head decides) or a model with `score_kind == "distance"`.
        support_embeddings: `[ways, shots, D]`.
        query_embeddings: `[Q, D]`.

    Returns:
        float32 `[Q, ways]`: distances to the class prototypes (`model.score_kind == "distance"`) or
        the head's mean probability of "same" over each class's shots (`"similarity"`).
    """
    support_embeddings = np.asarray(support_embeddings, dtype=np.float32)
    query_embeddings = np.asarray(query_embeddings, dtype=np.float32)
    ways, shots, dim = support_embeddings.shape
    if model.score_kind == "distance":
        prototypes = support_embeddings.mean(axis=1)
        difference = query_embeddings[:, None, :] - prototypes[None, :, :]
        return np.sqrt(np.square(difference).sum(-1)).astype(np.float32)
    flat_support = support_embeddings.reshape(ways * shots, dim)
    queries = len(query_embeddings)
    first = np.repeat(query_embeddings, ways * shots, axis=0)
    second = np.tile(flat_support, (queries, 1))
    scores = ops.convert_to_numpy(model.head([first, second]))
    return np.asarray(scores, dtype=np.float32).reshape(queries, ways, shots).mean(axis=-1)


def choose(scores: np.ndarray, score_kind: str) -> np.ndarray:
    """The chosen class of each query: nearest for distances, highest for similarities.

    Args:
        scores: `[..., ways]`.
        score_kind: `"distance"` or `"similarity"`.

    Returns:
        int array of shape `scores.shape[:-1]`.
    """
    if score_kind == "distance":
        return np.argmin(scores, axis=-1)
    if score_kind == "similarity":
        return np.argmax(scores, axis=-1)
    raise ValueError(f"score_kind must be 'distance' or 'similarity', got {score_kind!r}.")


@dataclass(frozen=True)
class LakeReport:
    """Results on Lake's runs.

    Attributes:
        accuracy: share of all trials (400 for the 20 runs) answered right.
        run_accuracy: accuracy of each run, in run order.
        choices: per run, int `[Q]` the chosen training image of each test image.
        scores: per run, float `[Q, ways]` the scores behind the choices.
    """

    accuracy: float
    run_accuracy: list[float]
    choices: list[np.ndarray]
    scores: list[np.ndarray]


def evaluate_lake_runs(model, runs: list[OneShotRun]) -> LakeReport:
    """Lake's within-alphabet one-shot benchmark: each test image against its run's 20 training images.

    Args:
        model: a trained `SiameseModel` or `PrototypeModel` whose encoder takes the runs' image size.
        runs: from `siamese_kit.data.load_lake_runs(image_size=...)`.

    Returns:
        LakeReport (accuracy over all trials, per run, choices and scores).
    """
    choices, all_scores, hits = [], [], []
    for run in runs:
        embeddings = model.embed(np.concatenate([run.support_images, run.query_images]))
        support, query = embeddings[: run.ways], embeddings[run.ways :]
        scores = class_scores(model, support[:, None, :], query)
        chosen = choose(scores, model.score_kind)
        choices.append(chosen)
        all_scores.append(scores)
        hits.append(chosen == run.answers)
    return LakeReport(
        accuracy=float(np.mean(np.concatenate(hits))),
        run_accuracy=[float(np.mean(h)) for h in hits],
        choices=choices,
        scores=all_scores,
    )


def episode_accuracy(model, imageset: ImageSet, episodes: EpisodeSet, embeddings: np.ndarray | None = None) -> float:
    """Accuracy over every query of a fixed episode set, from embeddings computed once.

    Args:
        model: a trained `SiameseModel` or `PrototypeModel`.
        imageset: the images the episodes index.
        episodes: from `siamese_kit.data.fixed_episodes`.
        embeddings: `[N, D]` embeddings of `imageset`, if already computed.

    Returns:
        share of queries assigned to their own class.
    """
    if embeddings is None:
        embeddings = model.embed(imageset)
    hits = []
    for support_index, query_index in zip(episodes.support_index, episodes.query_index):
        queries = embeddings[query_index.reshape(-1)]
        scores = class_scores(model, embeddings[support_index], queries)
        truth = np.repeat(np.arange(episodes.ways), query_index.shape[1])
        hits.append(choose(scores, model.score_kind) == truth)
    return float(np.mean(np.concatenate(hits)))
