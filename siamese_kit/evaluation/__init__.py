"""Evaluation from embeddings computed once: verification (pairs, thresholds, ROC), identification
(nearest centroid) and retrieval (neighbours, precision@1, mAP@R).

Pair label convention: 1 = same class, 0 = different class.
"""

from .identification import CentroidReport, centroid_accuracy, confusion_matrix, per_class_accuracy
from .retrieval import RetrievalReport, nearest_neighbours, retrieval_metrics
from .verification import (
    AcceptRate,
    RocCurve,
    ThresholdReport,
    best_accuracy_threshold,
    best_threshold,
    calibrate_twin_head,
    embedding_pair_scores,
    equal_error_rate,
    fit_logistic,
    hardest_mistakes,
    pair_accuracy,
    pair_scores,
    predict_same,
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
]
