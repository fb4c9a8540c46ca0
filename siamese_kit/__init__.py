"""siamese_kit: twin (Siamese) networks in Keras 3 on TensorFlow, from raw files to one-shot tests.

Pair label convention everywhere: 1 = same class, 0 = different class.
"""

from ._quiet import import_tensorflow_quietly

__version__ = "0.1.0"

# Before anything else loads TensorFlow: its start-up chatter buries the messages learners need.
import_tensorflow_quietly()

from .data import AffineDistortion, ImageSet, fixed_pairs, load_dataset, load_omniglot, pair_stream
from .layers import CentroidDecoder, EuclideanDistance, TwinClassifierHead
from .losses import ContrastiveLoss
from .models import SiameseModel, conv4, embed, get_encoder, koch_105, lenet_28
