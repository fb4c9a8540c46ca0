"""Data, in two rooms with `ImageSet` between them.

- `sources/`: where images come from. Image folders and zips, IDX files, TFDS, the source spec that
  names any of them, safe archives, and the datasets siamese-kit knows by name (MNIST, Omniglot, Lake's
  runs, the Vinyals split) with the one downloader that fetches them, checksummed.
- `streams/`: how images reach training. Pair, episode and class-balanced streams sampled in-graph,
  the affine distortions, and the hashed seeds that keep every draw reproducible.

Every name is handed on here, so `from siamese_kit.data import pair_stream, load_omniglot` works
whatever room it lives in. Names load from their modules on first use, so fetching or locating data
(`siamese-kit data where`) never waits for TensorFlow; the streams import it when they are used.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["DataError", "ImageSet"], ".imageset"),
    # sources/: where images come from
    **dict.fromkeys(["ChecksumError", "data_home"], ".sources.download"),
    "fetch_mnist": ".sources.mnist",
    **dict.fromkeys(["fetch_all", "fetch_dataset", "load_dataset", "missing_datasets"], ".sources.catalog"),
    **dict.fromkeys(["DataSource", "conform", "load_source"], ".sources.spec"),
    **dict.fromkeys(["load_idx", "read_idx"], ".sources.idx"),
    "load_tfds": ".sources.tfds",
    **dict.fromkeys(["FolderContents", "IMAGE_SUFFIXES", "load_image_folder", "read_image_files", "read_image_folder"],
                    ".sources.folders"),
    **dict.fromkeys(["OMNIGLOT_SPLITS", "fetch_omniglot", "load_omniglot", "load_omniglot_tfds", "omniglot_dir"],
                    ".sources.omniglot"),
    **dict.fromkeys(["OneShotRun", "load_lake_runs"], ".sources.lake"),
    **dict.fromkeys(["load_vinyals_split", "merged_omniglot", "random_character_split", "vinyals_classes"],
                    ".sources.vinyals"),
    # streams/: how they reach training
    **dict.fromkeys(["PAIR_MODES", "PairSet", "distinct_pairs", "fixed_pairs", "pair_stream"], ".streams.pairs"),
    **dict.fromkeys(["EpisodeSet", "episode_stream", "fixed_episodes"], ".streams.episodes"),
    "class_balanced_stream": ".streams.balanced",
    "AffineDistortion": ".streams.augment",
    **dict.fromkeys(["batch_key", "derived_key", "derived_seed"], ".streams.seeds"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
