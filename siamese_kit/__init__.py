"""siamese_kit: twin (Siamese) networks in Keras 3 on TensorFlow, from raw files to one-shot tests.

Pair label convention everywhere: 1 = same class, 0 = different class.
"""

import os

# TensorFlow's start-up chatter (CUDA probing on CPU-only machines logs errors that are harmless)
# buries the messages learners need; set TF_CPP_MIN_LOG_LEVEL yourself to see it again.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"

from .data import AffineDistortion, ImageSet, fixed_pairs, load_dataset, load_omniglot, pair_stream
from .layers import CentroidDecoder, EuclideanDistance, TwinClassifierHead
from .losses import ContrastiveLoss
from .models import SiameseModel, conv4, embed, get_encoder, koch_105, lenet_28
