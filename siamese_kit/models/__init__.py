"""Encoders, the twin model and the prototype (episode-trained) model."""

from .encoders import ENCODERS, conv4, get_encoder, koch_105, lenet_28
from .twin import SiameseModel, embed
from .prototype import PrototypeModel
