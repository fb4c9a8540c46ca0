"""A run's model for serving: the tower and the pair score as SavedModel, ONNX or LiteRT files, with
`decision.json`, so a service that knows none of siamese-kit decides exactly as `siamese-kit verify` does.

    OUT/tower.<ext>     pixels float32 [N, H, W, C] (0..255, as read) -> embeddings float32 [N, D]
    OUT/score.<ext>     pairs of embeddings float32 [N, 2, D] -> scores float32 [N]
    OUT/decision.json   score kind, threshold and rule, image size, colour mode, preprocessing, and the
                        check made on export (embeddings and decisions against the .keras model)

The tower and the score are separate so a service embeds each image once (a gallery, a cache) and scores
pairs of stored embeddings. Every export is checked with the runtime it targets (TensorFlow for a
SavedModel, onnxruntime for ONNX, the LiteRT interpreter for LiteRT) on the run's own test pairs, and
lands in OUT only when it agrees; a failed check leaves nothing behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from . import __version__
from ._files import fsync_directory, write_json
from .data.imageset import DataError

EXPORT_FORMATS = {"saved_model": "", "onnx": ".onnx", "litert": ".tflite"}
# The largest difference allowed between an exported tower's embeddings and the .keras model's.
EMBEDDING_TOLERANCE = 1e-5
CHECK_PAIRS = 10_000
# Images per runtime call while checking: bounds memory whatever the test part's size.
CHECK_BATCH = 256
# What each format needs beyond TensorFlow, as the `export` extra installs it.
RUNTIME_PACKAGES = {"saved_model": (), "onnx": ("tf2onnx", "onnxruntime"), "litert": ()}


def serving_models(model):
    """The two models a service runs: the tower as `model.embed` computes it and the pair score as
    `embedding_pair_scores` does, each a plain Keras model with one input.

    Args:
        model: a trained `SiameseModel`, `EmbeddingModel` or `PrototypeModel`.

    Returns:
        `(tower, score)`: tower maps pixels `[N, H, W, C]` to embeddings `[N, D]` (unit length where the
        model's `embed` makes them so); score maps pairs `[N, 2, D]` to scores `[N]`.
    """
    import keras

    from .distances import l2_normalize, paired_distances

    encoder = model.encoder
    unit_length = bool(getattr(model, "unit_length", False))
    head = getattr(model, "head", None)

    class ServingTower(keras.Model):
        def call(self, images):
            embeddings = encoder(images, training=False)
            return l2_normalize(embeddings) if unit_length else embeddings

    class ServingScore(keras.Model):
        def call(self, pairs):
            first, second = pairs[:, 0], pairs[:, 1]
            scores = paired_distances(first, second) if head is None else head([first, second])
            return keras.ops.reshape(scores, (-1,))

    image_shape = tuple(encoder.input_shape[1:])
    tower, score = ServingTower(), ServingScore()
    # Built by one call each: Keras exports only models that have run.
    embeddings = tower(np.zeros((1, *image_shape), np.float32))
    score(np.zeros((1, 2, int(embeddings.shape[-1])), np.float32))
    return tower, score


def _write_format(model, export_format: str, path: Path, input_shape: tuple) -> None:
    """One serving model in one format at `path` (a folder for a SavedModel, else a file)."""
    import keras

    signature = [keras.InputSpec(shape=(None, *input_shape), dtype="float32")]
    if export_format == "onnx":
        with warnings.catch_warnings():
            # Keras's tf2onnx shim probes numpy for names numpy 2 has dropped; the probe warns, harmlessly.
            warnings.simplefilter("ignore", FutureWarning)
            model.export(str(path), format="onnx", verbose=False, input_signature=signature)
        return
    saved = path if export_format == "saved_model" else path.with_suffix(".savedmodel")
    model.export(str(saved), format="tf_saved_model", verbose=False, input_signature=signature)
    if export_format == "litert":
        import tensorflow as tf

        # The converter of every TensorFlow since 2.16, on the SavedModel just written.
        path.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert())
        shutil.rmtree(saved)


def runtime(export_format: str, path: str | Path):
    """A function that runs one exported model with the runtime its format targets.

    Args:
        export_format: `"saved_model"`, `"onnx"` or `"litert"`.
        path: the exported model (a folder for a SavedModel).

    Returns:
        a function from a float32 numpy batch to the model's float32 numpy output.

    Raises:
        DataError: when the runtime is not installed, naming the install command.
    """
    path = str(path)
    try:
        if export_format == "saved_model":
            import tensorflow as tf

            loaded = tf.saved_model.load(path)
            return lambda batch: np.asarray(loaded.serve(tf.constant(batch)), dtype=np.float32)
        if export_format == "onnx":
            import onnxruntime

            session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
            name = session.get_inputs()[0].name
            return lambda batch: np.asarray(session.run(None, {name: batch})[0], dtype=np.float32)
        return _litert_runner(path)
    except ImportError as error:
        raise DataError(f"running a {export_format} export needs {error.name}: pip install "
                        "'siamese-kit[export]'.") from None


def _litert_runner(path: str):
    """The LiteRT interpreter (ai-edge-litert, else TensorFlow's own) over batches of any size."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_path=path)
    source = interpreter.get_input_details()[0]["index"]
    target = interpreter.get_output_details()[0]["index"]

    def run(batch):
        interpreter.resize_tensor_input(source, batch.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(source, batch)
        interpreter.invoke()
        return np.array(interpreter.get_tensor(target), dtype=np.float32)

    return run


def _batched(run, array: np.ndarray) -> np.ndarray:
    return np.concatenate([run(np.ascontiguousarray(array[start : start + CHECK_BATCH], dtype=np.float32))
                           for start in range(0, len(array), CHECK_BATCH)])


def check_export(model, threshold: float, tower_run, score_run, test_set, num_pairs: int = CHECK_PAIRS,
                 seed: int = 0) -> dict:
    """Compares an exported tower and score, run by their runtime, with the `.keras` model on test pairs.

    Args:
        model: the trained model the export came from.
        threshold: the run's decision threshold.
        tower_run: the exported tower's runner (`runtime`).
        score_run: the exported score's runner.
        test_set: the run's test part.
        num_pairs: pairs to decide (half same-class, half different: `fixed_pairs`).
        seed: which pairs.

    Returns:
        `{"pairs", "images", "max_embedding_difference", "max_score_difference", "decisions_differing"}`.
    """
    from .data.streams.pairs import fixed_pairs
    from .scores import embedding_pair_scores, predict_same

    pairs = fixed_pairs(test_set, num_pairs, seed=seed)
    used, positions = np.unique(np.concatenate([pairs.index_a, pairs.index_b]), return_inverse=True)
    first, second = positions[: len(pairs)], positions[len(pairs) :]
    images = test_set.images[used].astype(np.float32)
    expected = model.embed(images)
    exported = _batched(tower_run, images)
    expected_scores = embedding_pair_scores(model, expected[first], expected[second])
    exported_scores = _batched(score_run, np.stack([exported[first], exported[second]], axis=1))
    expected_same = predict_same(expected_scores, threshold, model.score_kind)
    exported_same = predict_same(exported_scores, threshold, model.score_kind)
    return {"pairs": len(pairs), "images": len(used),
            "max_embedding_difference": float(np.max(np.abs(expected - exported))),
            "max_score_difference": float(np.max(np.abs(expected_scores - exported_scores))),
            "decisions_differing": int(np.sum(expected_same != exported_same))}


def _decision(model, export_format: str, threshold: float, image_shape, keep_aspect: bool, run: Path,
              check: dict) -> dict:
    suffix = EXPORT_FORMATS[export_format]
    height, width, channels = image_shape
    same_when = "score < threshold" if model.score_kind == "distance" else "score >= threshold"
    return {
        "format": export_format,
        "files": {"tower": f"tower{suffix}", "score": f"score{suffix}"},
        "tower": {"input": f"float32 [N, {height}, {width}, {channels}]: pixels 0..255 as read, not rescaled "
                           "(the tower scales them itself)", "output": "float32 [N, D]: embeddings"},
        "score": {"input": "float32 [N, 2, D]: the two embeddings of each pair", "output": "float32 [N]: scores"},
        "score_kind": model.score_kind,
        "threshold": float(threshold),
        "same_when": same_when,
        "image_size": [height, width],
        "color_mode": "rgb" if channels == 3 else "grayscale",
        "keep_aspect": keep_aspect,
        "preprocessing": ("decode the file; convert to " + ("RGB" if channels == 3 else "8-bit grey (PIL mode L)")
                          + f"; resize to {width}x{height} bilinearly"
                          + (", scaled to fit and padded with the mean colour of the image's border"
                             if keep_aspect else ", stretched") + "; float32, values 0..255"),
        "run": str(run),
        "siamese_kit_version": __version__,
        "check": {**check, "tolerance": EMBEDDING_TOLERANCE},
    }


def export_run(run: str | Path, export_format: str, out: str | Path, num_pairs: int = CHECK_PAIRS,
               seed: int = 0) -> dict:
    """Exports a run's tower and pair score in one format with `decision.json`, checked before it lands.

    Args:
        run: a run folder with its report (`siamese-kit evaluate RUN` chooses the threshold).
        export_format: `"saved_model"`, `"onnx"` or `"litert"`.
        out: the folder to create; it must not exist yet.
        num_pairs: test pairs whose decisions are compared.
        seed: which test pairs.

    Returns:
        the decision dict written to `OUT/decision.json` (its `check` holds the comparison).

    Raises:
        DataError: for an unknown format, an existing OUT, a run without a report, a backend other than
            TensorFlow, a missing runtime, or an export that does not agree with the `.keras` model
            (embeddings beyond `EMBEDDING_TOLERANCE` or any decision differing); OUT is then not created.
    """
    import keras

    from .devices import on_tensorflow
    from .runs import RunFolder
    from .search import Verifier

    if export_format not in EXPORT_FORMATS:
        raise DataError(f"export: format must be one of {', '.join(EXPORT_FORMATS)}, got {export_format!r}.")
    out = Path(out).expanduser()
    if out.exists():
        raise DataError(f"export: {out} already exists; nothing was written. Give a new --out, or remove it first.")
    if not on_tensorflow():
        raise DataError(f"export writes through TensorFlow's converters; run it with KERAS_BACKEND=tensorflow "
                        f"(now {keras.backend.backend()}). A .keras file from any backend loads there.")
    for package in RUNTIME_PACKAGES[export_format]:
        try:
            __import__(package)
        except ImportError:
            raise DataError(f"export --format {export_format} needs {package}: pip install "
                            "'siamese-kit[export]'.") from None
    verifier = Verifier.from_run(run)
    model = verifier.model
    test_set = RunFolder(run).load_parts()["test"]
    tower, score = serving_models(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        suffix = EXPORT_FORMATS[export_format]
        embedding_dim = int(model.encoder.output_shape[-1])
        _write_format(tower, export_format, staging / f"tower{suffix}", verifier.image_shape)
        _write_format(score, export_format, staging / f"score{suffix}", (2, embedding_dim))
        check = check_export(model, verifier.threshold, runtime(export_format, staging / f"tower{suffix}"),
                             runtime(export_format, staging / f"score{suffix}"), test_set, num_pairs, seed)
        if check["max_embedding_difference"] > EMBEDDING_TOLERANCE or check["decisions_differing"]:
            raise DataError(
                f"export: the {export_format} files disagree with {RunFolder(run).model_path} on the run's test part "
                f"({json.dumps(check)}; allowed: embeddings within {EMBEDDING_TOLERANCE}, no decision differing); "
                f"nothing was written to {out}. Try another --format, and report this with the versions "
                "`siamese-kit info` prints.")
        decision = _decision(model, export_format, verifier.threshold, verifier.image_shape, verifier.keep_aspect,
                             Path(run), check)
        write_json(staging / "decision.json", decision)
        staging.rename(out)
        fsync_directory(out.parent)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return decision


class ExportedVerifier:
    """Decides pairs with an export alone, as a service would: its runtime and `decision.json`, no `.keras`.

    Args:
        folder: an `export_run` output folder.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        decision_file = self.folder / "decision.json"
        if not decision_file.is_file():
            raise DataError(f"{self.folder} has no decision.json; make one with `siamese-kit export RUN --out DIR`.")
        self.decision = json.loads(decision_file.read_text())
        export_format, files = self.decision["format"], self.decision["files"]
        self._tower = runtime(export_format, self.folder / files["tower"])
        self._score = runtime(export_format, self.folder / files["score"])

    def verify(self, first: str | Path, second: str | Path) -> dict:
        """One pair's score and decision, read and decided as `decision.json` says.

        Args:
            first: an image file.
            second: another image file.

        Returns:
            `{"score": float, "threshold": float, "same": bool}`, as `Verifier.verify`.
        """
        from .data.sources.folders import read_image_files
        from .scores import predict_same

        decision = self.decision
        images = read_image_files([first, second], tuple(decision["image_size"]), decision["color_mode"],
                                  decision["keep_aspect"]).astype(np.float32)
        embeddings = self._tower(images)
        score = float(self._score(embeddings[None])[0])
        threshold = decision["threshold"]
        same = predict_same(np.array([score]), threshold, decision["score_kind"])[0]
        return {"score": round(score, 6), "threshold": round(threshold, 6), "same": bool(same)}


__all__ = ["CHECK_PAIRS", "EMBEDDING_TOLERANCE", "EXPORT_FORMATS", "ExportedVerifier", "check_export", "export_run",
           "runtime", "serving_models"]
