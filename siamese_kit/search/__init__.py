"""Using a trained twin on new images: verify a pair, identify against a gallery (exact per-class
nearest distances through `ClassBalls`), embed a folder; and the index that finds a query's nearest
gallery embeddings."""

from .by_class import ClassBalls
from .gallery import Gallery, Verifier, embed_folder
from .gallery_cache import GalleryUpdate
from .index import EmbeddingIndex

__all__ = ["ClassBalls", "EmbeddingIndex", "Gallery", "GalleryUpdate", "Verifier", "embed_folder"]
