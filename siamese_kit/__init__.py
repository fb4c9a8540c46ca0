"""siamese_kit: twin (Siamese) networks in Keras 3 on TensorFlow, from raw files to one-shot tests.

Pair label convention everywhere: 1 = same class, 0 = different class.

Importing the package is cheap: the names below are loaded from their modules on first use, and
TensorFlow (whoever imports it first) loads without its start-up chatter.
"""

from ._lazy import lazy_exports
from ._quiet import install_quiet_import

__version__ = "0.1.0"

install_quiet_import()

__all__ = [
    "AffineDistortion", "ImageSet", "fixed_pairs", "load_dataset", "load_omniglot", "pair_stream",
    "CentroidDecoder", "EuclideanDistance", "TwinClassifierHead", "ContrastiveLoss",
    "MultiSimilarityLoss", "SupervisedContrastiveLoss", "TripletLoss",
    "SiameseModel", "conv4", "embed", "get_encoder", "koch_105", "lenet_28",
]
__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(["AffineDistortion", "ImageSet", "fixed_pairs", "load_dataset", "load_omniglot",
                     "pair_stream"], ".data"),
    **dict.fromkeys(["CentroidDecoder", "EuclideanDistance", "TwinClassifierHead"], ".layers"),
    **dict.fromkeys(["ContrastiveLoss", "MultiSimilarityLoss", "SupervisedContrastiveLoss", "TripletLoss"],
                    ".losses"),
    **dict.fromkeys(["SiameseModel", "conv4", "embed", "get_encoder", "koch_105", "lenet_28"], ".models"),
})
