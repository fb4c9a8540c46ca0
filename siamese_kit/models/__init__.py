"""Encoders and the twin model."""

from .encoders import ENCODERS, conv4, get_encoder, koch_105, lenet_28
from .twin import SiameseModel, embed
