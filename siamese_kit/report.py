"""The report a practitioner needs, on a run's test part: verification, identification, retrieval.

Every image of the test and validation parts goes through the encoder once; everything else is
computed from those embeddings.

- **Verification** (is this pair the same?): the threshold is chosen on validation pairs and used
  unchanged on test pairs: pair accuracy, ROC AUC, equal error rate, and the true accept rate at
  false accept rates 1e-2 and 1e-3 (what access control asks). Pairs are distinct (every pair of a
  small part, a draw without replacement of a large one; `distinct_pairs`), their counts are reported,
  a rate is called reliable only when ten distinct impostor pairs stand behind it, and AUC, EER and TAR
  carry 95% intervals from resampling the test classes (`stats.class_bootstrap`).
- **Identification** (which known class is it?): N-way K-shot episodes over the test classes, with
  the 95% confidence interval over episodes.
- **Retrieval** (what else looks like it?): leave-one-out nearest neighbours in embedding space,
  precision@1, recall@k and mAP@R, and per-class accuracy of the nearest neighbour.

`write_report` saves `report.json` and a self-contained `report.html` (pictures inline, no script,
nothing fetched), which opens offline.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from ._files import replace_atomically, write_json
from .data.streams.episodes import fixed_episodes
from .data.imageset import ImageSet
from .data.streams.pairs import distinct_pairs
from .data.streams.seeds import derived_seed
from .evaluation import (
    best_threshold,
    equal_error_rate,
    hardest_mistakes,
    nearest_neighbours,
    pair_scores,
    per_class_accuracy,
    predict_same,
    retrieval_metrics,
    roc_auc,
    roc_curve,
    true_accept_rate_at,
)
from .evaluation.one_shot import episode_hits
from .stats import MIN_CLASSES_TO_RESAMPLE, accuracy_interval, class_bootstrap
from .search.index import EXACT_BELOW, EmbeddingIndex

FALSE_ACCEPT_RATES = (1e-2, 1e-3)
BOOTSTRAP_RESAMPLES = 200
RECALL_KS = (1, 5, 10)


def build_report(model, test_set: ImageSet, validation_set: ImageSet, seed: int = 0, num_pairs: int = 10_000,
                 ways: int = 5, shots: int = 1, episodes: int = 600, margin: float | None = None) -> tuple[dict, dict]:
    """Measures a trained model on a test part, its threshold chosen on a validation part.

    Args:
        model: a trained `SiameseModel` or `PrototypeModel`.
        test_set: the test part (for an open-set split, classes never trained on).
        validation_set: the validation part, for the threshold.
        seed: seeds the pair sets and episodes.
        num_pairs: the pair budget of each part: up to half of it same-class pairs and half different, each
            pair distinct (all of a kind when it has fewer).
        ways: classes per identification episode (fewer when the test has fewer classes).
        shots: examples of each class per episode.
        episodes: identification episodes.
        margin: a contrastive model's margin: the threshold is searched within (0, margin].

    Returns:
        `(report, pictures)`: the JSON-ready report (keys `pair_accuracy` (the mean of the same-pair and
        different-pair accuracies), `threshold`, `roc_auc`, `equal_error_rate`, `true_accept_rate`,
        `intervals_95` (class-bootstrap intervals of the last three; None each with fewer than
        `stats.MIN_CLASSES_TO_RESAMPLE` test classes), `n_way_accuracy`, `precision_at_1`,
        `recall_at_k`, `map_at_r`, `retrieval_search` ("exact", or "hnsw" for a test part of `EXACT_BELOW` images
        or more), `per_class_accuracy`, `counts`) and the figures by file name, made lazily
        (`pictures[name]()` returns a matplotlib Figure).
    """
    from . import plotting

    score_kind = model.score_kind
    test_embeddings = model.embed(test_set)
    validation_embeddings = model.embed(validation_set)
    validation_pairs = distinct_pairs(validation_set, num_pairs, seed=derived_seed(seed, "report validation pairs"))
    # The threshold is chosen on as many different pairs as same ones, so it is not pulled towards "different".
    balanced = _balanced(validation_pairs.pair_label, derived_seed(seed, "report balanced validation"))
    threshold = best_threshold(pair_scores(model, validation_embeddings, validation_pairs)[balanced],
                               validation_pairs.pair_label[balanced], score_kind, margin=margin)
    test_pairs = distinct_pairs(test_set, num_pairs, seed=derived_seed(seed, "report test pairs"))
    scores = pair_scores(model, test_embeddings, test_pairs)
    labels = test_pairs.pair_label
    eer, _ = equal_error_rate(scores, labels, score_kind)
    accept = true_accept_rate_at(scores, labels, score_kind, FALSE_ACCEPT_RATES)
    called = predict_same(scores, threshold, score_kind)
    # The mean of the two kinds' accuracies: what half-same random pairs measured, whatever the counts.
    balanced_accuracy = 0.5 * (float(called[labels == 1].mean()) + float(1 - called[labels == 0].mean()))
    resampled = {"roc_auc": lambda s, l: roc_auc(s, l, score_kind),
                 "equal_error_rate": lambda s, l: equal_error_rate(s, l, score_kind)[0],
                 **{f"true_accept_rate_far_{rate:g}": lambda s, l, rate=rate: true_accept_rate_at(
                     s, l, score_kind, (rate,))[0].true_accept_rate for rate in FALSE_ACCEPT_RATES}}
    if int((test_set.class_counts() > 0).sum()) >= MIN_CLASSES_TO_RESAMPLE:
        intervals = {name: [round(low, 4), round(high, 4)] for name, (low, high) in class_bootstrap(
            resampled, scores, labels, test_set.labels[test_pairs.index_a], test_set.labels[test_pairs.index_b],
            resamples=BOOTSTRAP_RESAMPLES, seed=derived_seed(seed, "report class bootstrap")).items()}
    else:
        # Too few test classes to resample: no interval, rather than one of zero width.
        intervals = {name: None for name in resampled}

    classes_present = int((test_set.class_counts() >= shots + 1).sum())
    episode_ways = min(ways, classes_present)
    identification = {"ways": episode_ways, "shots": shots, "episodes": 0, "accuracy": None, "interval_95": None}
    if episode_ways >= 2:
        drawn = fixed_episodes(test_set, episodes, ways=episode_ways, shots=shots, queries=1, seed=seed,
                               within_group=False)
        accuracy, half_width = accuracy_interval(episode_hits(model, test_set, drawn, test_embeddings))
        identification.update(episodes=episodes, accuracy=round(accuracy, 4), interval_95=round(half_width, 4))

    # A large test part is searched through an HNSW graph (when faiss is installed): exact search
    # grows with the square of the images. The report says which search made its retrieval numbers.
    index = EmbeddingIndex(test_embeddings) if len(test_embeddings) >= EXACT_BELOW else None
    retrieval = retrieval_metrics(test_embeddings, test_set.labels, ks=RECALL_KS, index=index)
    neighbours, distances = nearest_neighbours(test_embeddings, test_embeddings, k=min(5, len(test_set) - 1),
                                               exclude_self=True)
    nearest_class = test_set.labels[neighbours[:, 0]]
    class_accuracy = per_class_accuracy(test_set.labels, nearest_class, test_set.num_classes)
    present = np.flatnonzero(test_set.class_counts() > 0)
    report = {
        "pair_accuracy": round(balanced_accuracy, 4),
        "threshold": round(float(threshold), 6),
        "score_kind": score_kind,
        "roc_auc": round(roc_auc(scores, labels, score_kind), 4),
        "equal_error_rate": round(float(eer), 4),
        "true_accept_rate": {
            f"far_{a.false_accept_rate:g}": {
                "true_accept_rate": round(a.true_accept_rate, 4),
                "false_accept_rate": round(a.achieved_false_accept_rate, 5),
                "threshold": round(a.threshold, 6) if np.isfinite(a.threshold) else None,
                "reliable": a.impostor_pairs * a.false_accept_rate >= 10,
            } for a in accept
        },
        "intervals_95": intervals,
        "n_way_accuracy": identification,
        "precision_at_1": round(retrieval.precision_at_1, 4),
        "recall_at_k": {str(k): round(v, 4) for k, v in retrieval.recall_at_k.items()},
        "map_at_r": round(retrieval.map_at_r, 4),
        "retrieval_search": "exact" if index is None else index.kind,
        "per_class_accuracy": {test_set.class_names[c]: round(float(class_accuracy[c]), 4) for c in present},
        "counts": {"test_images": len(test_set), "test_classes": len(present),
                   "validation_images": len(validation_set), "pairs": len(labels),
                   "genuine_pairs": int(labels.sum()), "impostor_pairs": int(len(labels) - labels.sum()),
                   "pair_budget": num_pairs},
    }
    curve = roc_curve(scores, labels, score_kind)
    chosen_fpr, chosen_tpr = float(called[labels == 0].mean()), float(called[labels == 1].mean())
    mistakes = hardest_mistakes(scores, labels, threshold, score_kind, count=10)
    # One query from each of up to six classes spread over the test part (its first images are usually one class).
    spread = present[np.unique(np.linspace(0, len(present) - 1, min(6, len(present))).round().astype(int))]
    queries = np.array([np.flatnonzero(test_set.labels == label)[0] for label in spread])
    pictures = {
        "scores.png": lambda: plotting.score_histograms(scores, labels, threshold, score_kind,
                                                        title="Test pairs: same and different, and the threshold"),
        "roc.png": lambda: plotting.roc_curve_plot(
            curve.false_positive_rate, curve.true_positive_rate, chosen_point=(chosen_fpr, chosen_tpr, threshold),
            auc=report["roc_auc"], equal_error_rate=report["equal_error_rate"], title="Verification on test pairs"),
        "mistakes.png": lambda: plotting.mistakes_grid(
            test_set.images[test_pairs.index_a], test_set.images[test_pairs.index_b], labels, scores,
            threshold, score_kind, count=10) if len(mistakes) else None,
        "retrieval.png": lambda: plotting.retrieval_grid(
            test_set.images[queries], test_set.images, neighbours[queries], test_set.labels[queries],
            test_set.labels, distances=distances[queries], class_names=test_set.class_names,
            title="Nearest test images (embedding distance)"),
        "embeddings.png": lambda: plotting.embedding_scatter(
            test_embeddings, test_set.labels, class_names=test_set.class_names, title="Test embeddings"),
        "per_class_accuracy.png": lambda: plotting.per_class_accuracy_plot(
            class_accuracy, test_set.class_names, counts=test_set.class_counts()),
    }
    return report, pictures


def add_validation_curve(report: dict, pictures: dict, watched: dict | None) -> None:
    """Adds what a run measured on its validation classes while training to a report and its pictures.

    Args:
        report: from `build_report` (gains `validation`).
        pictures: from `build_report` (gains `validation_curve.png`).
        watched: `ValidationWatch.summary()` (a run's `summary.json` holds it under `validation`), or None
            for a run that watched nothing: the report is left as it is.
    """
    if not watched or not watched.get("steps"):
        return
    from . import plotting

    report["validation"] = watched
    pictures["validation_curve.png"] = lambda: plotting.validation_curve(watched)


def _balanced(pair_labels: np.ndarray, seed: int) -> np.ndarray:
    """Indices of as many pairs of the larger kind as the smaller one has (a seeded draw), and all of the smaller."""
    same, different = np.flatnonzero(pair_labels == 1), np.flatnonzero(pair_labels == 0)
    keep = min(len(same), len(different))
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.choice(same, keep, replace=False), rng.choice(different, keep, replace=False)]))


def write_report(out_dir: str | Path, report: dict, pictures: dict, title: str) -> Path:
    """Writes `report.json` and a self-contained `report.html` (pictures inline, no script).

    Args:
        out_dir: the run folder.
        report: from `build_report`.
        pictures: from `build_report`.
        title: the page's heading (e.g. the data source).

    Returns:
        the path of report.html.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "report.json", report)
    images = {}
    for name, draw in pictures.items():
        figure = draw()
        if figure is None:
            continue
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        images[name] = base64.b64encode(buffer.getvalue()).decode("ascii")
    page = out_dir / "report.html"
    replace_atomically(page, lambda path: path.write_text(_html(report, images, title), encoding="utf-8"))
    return page


def _html(report: dict, images: dict, title: str) -> str:
    ident = report["n_way_accuracy"]
    counts, intervals = report["counts"], report["intervals_95"]

    def interval(name):
        if intervals[name] is None:
            return (f" (no interval: {counts['test_classes']} test classes are too few to resample; "
                    f"at least {MIN_CLASSES_TO_RESAMPLE})")
        low, high = intervals[name]
        return f" (95%, classes resampled: {low:.4f} to {high:.4f})"

    rows = [
        ("Test pairs, each counted once", f"{counts['genuine_pairs']:,} same-class, {counts['impostor_pairs']:,} "
                                          "different-class"),
        ("Pair accuracy (threshold from validation; mean of the two kinds)",
         f"{report['pair_accuracy']:.4f} at {report['threshold']:.4g}"),
        ("ROC AUC", f"{report['roc_auc']:.4f}{interval('roc_auc')}"),
        ("Equal error rate", f"{report['equal_error_rate']:.4f}{interval('equal_error_rate')}"),
    ]
    for key, value in report["true_accept_rate"].items():
        note = "" if value["reliable"] else " (too few impostor pairs to measure this rate; an optimistic bound)"
        rows.append((f"True accept rate at FAR {key[4:]}",
                     f"{value['true_accept_rate']:.4f}{interval('true_accept_rate_' + key)}{note}"))
    if ident["accuracy"] is not None:
        rows.append((f"{ident['ways']}-way {ident['shots']}-shot accuracy ({ident['episodes']} episodes)",
                     f"{ident['accuracy']:.4f} &plusmn; {ident['interval_95']:.4f} (95%)"))
    rows += [
        ("Precision@1", f"{report['precision_at_1']:.4f}"),
        ("Recall@k", ", ".join(f"k={k}: {v:.4f}" for k, v in report["recall_at_k"].items())),
        ("mAP@R", f"{report['map_at_r']:.4f}"),
        ("Test set", f"{report['counts']['test_images']} images of {report['counts']['test_classes']} classes"),
    ]
    if report.get("validation"):
        # Added by a run that watched its validation classes while training (`siamese_kit.validation`).
        rows.append(("Step kept (validation ROC AUC while training)", html.escape(report["validation"]["why"])))
    table = "\n".join(f"<tr><th>{html.escape(name)}</th><td>{value}</td></tr>" for name, value in rows)
    captions = {
        "scores.png": "Scores of the test pairs, same-class and different-class, and the threshold from validation.",
        "roc.png": "ROC curve of the test pairs, the chosen threshold marked.",
        "mistakes.png": "The test pairs the model gets most confidently wrong.",
        "retrieval.png": "Each test image and its nearest other test images.",
        "embeddings.png": "Test embeddings, coloured by class.",
        "per_class_accuracy.png": "Nearest-neighbour accuracy of each test class, worst first.",
        "validation_curve.png": "Validation ROC AUC measured while training, and the step the run kept.",
    }
    figures = "\n".join(
        f'<figure><img alt="{html.escape(captions.get(name, name))}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(captions.get(name, name))}</figcaption></figure>"
        for name, data in images.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse}}th,td{{border-bottom:1px solid #ccc;padding:.3em .8em;text-align:left}}
figure{{margin:1.5em 0}}img{{max-width:100%}}figcaption{{color:#555}}</style></head>
<body><h1>{html.escape(title)}</h1>
<table>{table}</table>
{figures}
<details><summary>report.json</summary><pre>{html.escape(json.dumps(report, indent=2))}</pre></details>
</body></html>
"""


__all__ = ["FALSE_ACCEPT_RATES", "add_validation_curve", "build_report", "write_report"]
