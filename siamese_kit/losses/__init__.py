"""Losses for twin networks and embedding models.

Pair losses take pair labels (1 = same class, 0 = different class) and a distance: `ContrastiveLoss`.
Batch losses take the batch's class labels `[B]` and its embeddings `[B, D]`, and find their pairs and
triplets inside the batch: `TripletLoss` (batch-all, batch-hard or semi-hard mining),
`MultiSimilarityLoss`, `SupervisedContrastiveLoss`. The prototypical loss lives with its model
(`siamese_kit.models.PrototypeModel`).
"""

from ._batch import DISTANCES
from .contrastive import ContrastiveLoss
from .multi_similarity import MultiSimilarityLoss
from .supervised_contrastive import SupervisedContrastiveLoss
from .triplet import MINING, TripletLoss

__all__ = ["DISTANCES", "ContrastiveLoss", "MINING", "MultiSimilarityLoss", "SupervisedContrastiveLoss", "TripletLoss"]
