"""Data: loaders that produce an `ImageSet`, pair streams over it, and checksummed dataset fetches."""

from .imageset import DataError, ImageSet
from .fetch import ChecksumError, data_home, fetch_all, fetch_dataset, fetch_mnist, load_dataset
from .augment import AffineDistortion
from .pairs import PAIR_MODES, PairSet, fixed_pairs, pair_stream
from .sources import load_idx, load_image_folder, load_tfds, read_idx
from .omniglot import OMNIGLOT_SPLITS, fetch_omniglot, load_omniglot, load_omniglot_tfds, omniglot_dir
from .episodes import EpisodeSet, episode_stream, fixed_episodes
from .lake import OneShotRun, load_lake_runs
