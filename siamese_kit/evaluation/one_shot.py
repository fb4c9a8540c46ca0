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

from ..data.imageset import ImageSet
from ..data.sources.lake import OneShotRun
from ..data.streams.episodes import EpisodeSet
from ..distances import pairwise_distances
from ..scores import check_score_kind
from ..stats import proportion_interval

# Embedding values per pair array when a block of episodes is scored at once (32 MB in float32).
EPISODE_BLOCK_VALUES = 8_000_000


def class_scores(model, support_embeddings: np.ndarray, query_embeddings: np.ndarray) -> np.ndarray:
    """Scores of every query against every class from embeddings, for one trial set or many at once.

    Args:
        model: a `SiameseModel` (its head decides) or a model with `score_kind == "distance"`.
        support_embeddings: `[..., ways, shots, D]` (leading axes: one set per episode or run).
        query_embeddings: `[..., Q, D]`, with the same leading axes.

    Returns:
        float32 `[..., Q, ways]`: distances to the class prototypes (`model.score_kind ==
        "distance"`) or the head's mean probability of "same" over each class's shots
        (`"similarity"`).
    """
    support_embeddings = np.asarray(support_embeddings, dtype=np.float32)
    query_embeddings = np.asarray(query_embeddings, dtype=np.float32)
    *lead, ways, shots, dim = support_embeddings.shape
    if model.score_kind == "distance":
        move = getattr(model, "support_space", None)  # an EmbeddingEnsemble centred on each trial's support
        if move is not None:
            support_embeddings, query_embeddings = move(support_embeddings, query_embeddings)
        # float64, so near-equal candidates are told apart as exactly as the embeddings allow.
        prototypes = support_embeddings.mean(axis=-2, dtype=np.float64)
        refine = getattr(model, "refine_prototypes", None)  # an EmbeddingEnsemble's transductive step
        if refine is not None:
            prototypes = refine(prototypes, support_embeddings, query_embeddings)
        distances = pairwise_distances(query_embeddings.astype(np.float64), prototypes)
        return ops.convert_to_numpy(distances).astype(np.float32)
    # Every query against every shot of every class, through the head in one call.
    queries = query_embeddings.shape[-2]
    grid = (*lead, queries, ways * shots, dim)
    first = np.broadcast_to(query_embeddings[..., :, None, :], grid).reshape(-1, dim)
    second = np.broadcast_to(support_embeddings.reshape(*lead, 1, ways * shots, dim), grid).reshape(-1, dim)
    scores = np.asarray(ops.convert_to_numpy(model.head([first, second])), dtype=np.float32)
    return scores.reshape(*lead, queries, ways, shots).mean(axis=-1)


def choose(scores: np.ndarray, score_kind: str) -> np.ndarray:
    """The chosen class of each query: nearest for distances, highest for similarities.

    Args:
        scores: `[..., ways]`.
        score_kind: `"distance"` or `"similarity"`.

    Returns:
        int array of shape `scores.shape[:-1]`.
    """
    check_score_kind(score_kind, "choose")
    return np.argmin(scores, axis=-1) if score_kind == "distance" else np.argmax(scores, axis=-1)


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

    def interval(self) -> tuple[float, float]:
        """The 95% Wilson interval of `accuracy` over the report's trials (`proportion_interval`).

        Returns:
            `(low, high)`.
        """
        trials = sum(len(chosen) for chosen in self.choices)
        return proportion_interval(int(round(self.accuracy * trials)), trials)


def evaluate_lake_runs(model, runs: list[OneShotRun]) -> LakeReport:
    """Lake's within-alphabet one-shot benchmark: each test image against its run's 20 training images.

    Every image of every run goes through the encoder in one `embed` call; the runs' decisions are
    then made together.

    Args:
        model: a trained `SiameseModel` or `PrototypeModel` whose encoder takes the runs' image size.
        runs: from `siamese_kit.data.load_lake_runs(image_size=...)`.

    Returns:
        LakeReport (accuracy over all trials, per run, choices and scores).
    """
    embeddings = model.embed(np.concatenate([np.concatenate([r.support_images, r.query_images]) for r in runs]))
    choices, all_scores, hits = [], [], []
    start = 0
    for run in runs:
        support = embeddings[start : start + run.ways]
        query = embeddings[start + run.ways : start + run.ways + len(run.query_images)]
        start += run.ways + len(run.query_images)
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


def episode_hits(model, imageset: ImageSet, episodes: EpisodeSet, embeddings: np.ndarray | None = None) -> np.ndarray:
    """Whether each query of a fixed episode set is assigned its own class, from embeddings computed once.

    The episodes are scored together, a block at a time: a twin classifier's head takes every query
    paired with every shot, two `[pairs, D]` arrays, so a block holds at most about 8 million
    embedding values per array (32 MB in float32) whatever the episode size and embedding width.

    Args:
        model: a trained `SiameseModel` or `PrototypeModel`.
        imageset: the images the episodes index.
        episodes: from `siamese_kit.data.fixed_episodes`.
        embeddings: `[N, D]` embeddings of `imageset`, if already computed.

    Returns:
        bool `[episodes, ways * queries]`.
    """
    if embeddings is None:
        embeddings = model.embed(imageset)
    count, ways, queries_per_class = episodes.query_index.shape
    truth = np.repeat(np.arange(ways), queries_per_class)
    values_per_episode = ways * queries_per_class * ways * episodes.shots * embeddings.shape[-1]
    block = max(1, EPISODE_BLOCK_VALUES // values_per_episode)
    hits = []
    for start in range(0, count, block):
        support = embeddings[episodes.support_index[start : start + block]]
        queries = embeddings[episodes.query_index[start : start + block].reshape(len(support), -1)]
        hits.append(choose(class_scores(model, support, queries), model.score_kind) == truth)
    return np.concatenate(hits)


def episode_accuracy(model, imageset: ImageSet, episodes: EpisodeSet, embeddings: np.ndarray | None = None) -> float:
    """Accuracy over every query of a fixed episode set (`episode_hits`, averaged).

    Args:
        model, imageset, episodes, embeddings: as for `episode_hits`.

    Returns:
        share of queries assigned to their own class.
    """
    return float(np.mean(episode_hits(model, imageset, episodes, embeddings)))
