"""Where images come from: each source turns files, archives or a catalog name into an `ImageSet`.

- `folders.py` (class-per-folder trees and zips), `idx.py` (the MNIST format), `tfds.py` (TensorFlow
  Datasets), `spec.py` (`DataSource`: one way to name any of them), `archives.py` (every zip vetted).
- The known datasets: `mnist.py`, `omniglot.py`, `lake.py` (Lake's 20 runs), `vinyals.py`, named
  together in `catalog.py`; all of them fetch through `download.py`, which knows no dataset.

The public names are handed on by `siamese_kit.data`.
"""
