"""How images reach training: streams that sample indices in-graph and gather images from one tensor.

- `pairs.py` (pair streams and fixed pair sets), `episodes.py` (N-way K-shot episodes),
  `balanced.py` (P classes x K images for batch losses), `augment.py` (affine distortions),
  `seeds.py` (hashed seeds, so the same seed gives the same stream and no two draws collide).

The public names are handed on by `siamese_kit.data`.
"""
