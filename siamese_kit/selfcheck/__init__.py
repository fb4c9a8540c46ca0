"""Self-checks for the notebooks' exercises: write a function, pass it in, read what is wrong.

Each check runs a student's function on small random inputs, compares it with the toolkit's own
implementation and either prints a line starting with "✓" and returns True, or raises
`AssertionError` whose message names the input that failed, the expected and the returned values, and
the most likely cause (swapped pair labels, a squared distance, a missing clamp, ...).

    from siamese_kit.selfcheck import check_contrastive_loss

    def my_loss(pair_labels, distances, margin):
        ...
    check_contrastive_loss(my_loss)

Pair label convention, as everywhere in siamese-kit: 1 = same class, 0 = different class.
Reference solutions live in `notebooks/solutions/exercises_solutions.ipynb`.
"""

from .distances import (
    check_class_centroids,
    check_euclidean_distance,
    reference_class_centroids,
    reference_euclidean_distance,
)
from .evaluation import (
    check_accuracy_at_threshold,
    check_map_at_r,
    check_one_shot_choice,
    check_precision_at_1,
    check_roc_point,
    check_threshold,
    reference_accuracy_at_threshold,
    reference_map_at_r,
    reference_precision_at_1,
    reference_roc_point,
)
from .losses import (
    check_binary_cross_entropy,
    check_contrastive_loss,
    check_prototypical_loss,
    check_twin_head,
    reference_binary_cross_entropy,
    reference_contrastive_loss,
    reference_prototypical_loss,
    reference_twin_head,
)
from .predictions import score_prediction
from .sampling import check_pair_sampler
from .triplets import check_semi_hard_triplet_loss, reference_semi_hard_triplet_loss
from .verification import check_true_accept_rate, reference_true_accept_rate

__all__ = [
    "score_prediction",
    "check_accuracy_at_threshold",
    "check_binary_cross_entropy",
    "check_class_centroids",
    "check_contrastive_loss",
    "check_euclidean_distance",
    "check_map_at_r",
    "check_one_shot_choice",
    "check_pair_sampler",
    "check_precision_at_1",
    "check_prototypical_loss",
    "check_roc_point",
    "check_semi_hard_triplet_loss",
    "check_threshold",
    "check_true_accept_rate",
    "check_twin_head",
    "reference_accuracy_at_threshold",
    "reference_binary_cross_entropy",
    "reference_class_centroids",
    "reference_contrastive_loss",
    "reference_euclidean_distance",
    "reference_map_at_r",
    "reference_precision_at_1",
    "reference_prototypical_loss",
    "reference_roc_point",
    "reference_semi_hard_triplet_loss",
    "reference_true_accept_rate",
    "reference_twin_head",
]
