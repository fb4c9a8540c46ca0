"""Data: loaders that produce an `ImageSet`, pair streams over it, and checksummed dataset fetches.

Names load from their modules on first use, so fetching or locating data (`siamese-kit data where`)
never waits for TensorFlow; the streams and distortions import it when they are used.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["DataError", "ImageSet"], ".imageset"),
    **dict.fromkeys(["ChecksumError", "data_home", "fetch_all", "fetch_dataset", "fetch_mnist", "load_dataset",
                     "missing_datasets"],
                    ".fetch"),
    "AffineDistortion": ".augment",
    **dict.fromkeys(["DataSource", "conform", "load_source"], ".source"),
    **dict.fromkeys(["batch_key", "derived_key", "derived_seed"], ".seeds"),
    **dict.fromkeys(["PAIR_MODES", "PairSet", "fixed_pairs", "pair_stream"], ".pairs"),
    **dict.fromkeys(["load_idx", "load_tfds", "read_idx"], ".sources"),
    **dict.fromkeys(["FolderContents", "IMAGE_SUFFIXES", "load_image_folder", "read_image_files", "read_image_folder"], ".folders"),
    **dict.fromkeys(["OMNIGLOT_SPLITS", "fetch_omniglot", "load_omniglot", "load_omniglot_tfds", "omniglot_dir"],
                    ".omniglot"),
    **dict.fromkeys(["EpisodeSet", "episode_stream", "fixed_episodes"], ".episodes"),
    "class_balanced_stream": ".balanced",
    **dict.fromkeys(["OneShotRun", "load_lake_runs"], ".lake"),
    **dict.fromkeys(["load_vinyals_split", "merged_omniglot", "vinyals_split"], ".vinyals"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
