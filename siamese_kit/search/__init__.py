"""Using a trained twin on new images: verify a pair, identify against a gallery, embed a folder;
and the index that finds a query's nearest gallery embeddings."""

from .gallery import Gallery, Verifier, embed_folder
from .index import EmbeddingIndex

__all__ = ["EmbeddingIndex", "Gallery", "Verifier", "embed_folder"]
