"""Evaluation from embeddings computed once: verification (pairs, thresholds, ROC), calibration,
identification (nearest centroid), retrieval (neighbours, precision@1, mAP@R) and one-shot
(N-way K-shot episodes, Lake's runs). Intervals: `siamese_kit.stats`.

Pair label convention: 1 = same class, 0 = different class.
"""

from ..scores import embedding_pair_scores, predict_same
from .calibration import calibrate_twin_head, fit_logistic
from .one_shot import LakeReport, choose, class_scores, episode_accuracy, episode_hits, evaluate_lake_runs
from .identification import CentroidReport, centroid_accuracy, confusion_matrix, per_class_accuracy
from .retrieval import RetrievalReport, nearest_neighbours, retrieval_metrics
from .verification import (
    AcceptRate,
    RocCurve,
    ThresholdReport,
    best_accuracy_threshold,
    best_threshold,
    equal_error_rate,
    hardest_mistakes,
    pair_accuracy,
    pair_scores,
    roc_auc,
    roc_curve,
    threshold_report,
    true_accept_rate_at,
)

__all__ = [
    "AcceptRate", "true_accept_rate_at", "CentroidReport", "RetrievalReport", "RocCurve", "ThresholdReport", "best_accuracy_threshold", "best_threshold",
    "calibrate_twin_head", "embedding_pair_scores", "centroid_accuracy", "confusion_matrix", "equal_error_rate", "fit_logistic",
    "hardest_mistakes", "nearest_neighbours", "pair_accuracy", "pair_scores", "per_class_accuracy",
    "predict_same", "retrieval_metrics", "roc_auc", "roc_curve", "threshold_report",
    "LakeReport", "choose", "class_scores", "episode_accuracy", "episode_hits", "evaluate_lake_runs",
]
