"""Using a trained twin on new images: verify a pair, identify against a gallery, embed a folder."""

from .gallery import Gallery, Verifier, embed_folder

__all__ = ["Gallery", "Verifier", "embed_folder"]
