"""Encoders and the twin model."""

from .encoders import ENCODERS, get_encoder, lenet_28
from .twin import SiameseModel, embed
