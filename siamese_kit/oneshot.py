"""The one-shot names where the notebooks first met them: `from siamese_kit.oneshot import choose` keeps
working. They live in `siamese_kit.evaluation` (one-shot scoring beside verification and retrieval) and
`siamese_kit.stats` (the intervals); new code imports them from there.
"""

from .evaluation.one_shot import (
    EPISODE_BLOCK_VALUES,
    LakeReport,
    choose,
    class_scores,
    episode_accuracy,
    episode_hits,
    evaluate_lake_runs,
)
from .stats import accuracy_interval, proportion_interval

__all__ = [
    "EPISODE_BLOCK_VALUES", "LakeReport", "accuracy_interval", "choose", "class_scores", "episode_accuracy",
    "episode_hits", "evaluate_lake_runs", "proportion_interval",
]
