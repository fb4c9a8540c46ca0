"""The `siamese-kit` commands that use a trained run: verify, identify, enrol, embed and export."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def add_serving_commands(commands, positive_int) -> None:
    """Adds the run-using commands to the `siamese-kit` parser.

    Args:
        commands: the parser's subparsers.
        positive_int: the argparse type for counts.
    """
    verify = commands.add_parser("verify", help="are two images the same class? one JSON line")
    verify.add_argument("run", type=Path, help="a run folder (after `siamese-kit evaluate RUN`)")
    verify.add_argument("first", type=Path, help="an image file")
    verify.add_argument("second", type=Path, help="another image file")

    identify = commands.add_parser("identify", help="which known class is each image? one JSON line per image")
    identify.add_argument("run", type=Path, help="a run folder (after `siamese-kit evaluate RUN`)")
    identify.add_argument("queries", type=Path, nargs="+", metavar="QUERY", help="image files")
    identify.add_argument("--gallery", type=Path, required=True,
                          help="the known classes: a folder or .zip of class folders (embedded once, cached in "
                               "RUN; new or changed images are embedded on the next call)")
    identify.add_argument("--top-k", type=positive_int, default=5, help="classes listed per image (default 5)")

    enrol = commands.add_parser("enrol", help="bring a gallery's cached embeddings up to date; say what was added, "
                                              "changed and removed")
    enrol.add_argument("run", type=Path, help="a run folder (after `siamese-kit evaluate RUN`)")
    enrol.add_argument("gallery", type=Path, help="a folder or .zip of class folders")

    embed = commands.add_parser("embed", help="embeddings of a folder of class folders, with their file paths")
    embed.add_argument("run", type=Path, help="a run folder")
    embed.add_argument("folder", type=Path, help="a folder or .zip of class folders")
    embed.add_argument("--out", type=Path, default=None, help="the .npz to write")
    embed.add_argument("--projector", type=Path, default=None, metavar="DIR",
                       help="also write TensorBoard projector files here (embeddings, classes and paths, a sprite "
                            "of the images): `tensorboard --logdir DIR`, then Projector")

    export = commands.add_parser("export", help="the tower and pair score for serving (SavedModel, ONNX or LiteRT), "
                                                "with decision.json, checked against the run's model")
    export.add_argument("run", type=Path, help="a run folder (after `siamese-kit evaluate RUN`)")
    export.add_argument("--format", required=True, choices=["saved_model", "onnx", "litert"],
                        help="saved_model (TensorFlow Serving), onnx (onnxruntime) or litert (.tflite)")
    export.add_argument("--out", type=Path, required=True, help="the folder to create (must not exist)")
    export.add_argument("--pairs", type=positive_int, default=10_000,
                        help="test pairs whose decisions the export must reproduce (default 10000)")


def _verify(args) -> int:
    from .search import Verifier

    print(json.dumps(Verifier.from_run(args.run).verify(args.first, args.second)))
    return 0


def _identify(args) -> int:
    from .search import Gallery, Verifier

    gallery = Gallery(Verifier.from_run(args.run), args.gallery, cache_dir=args.run)
    update = gallery.update
    if update.embedded:  # stdout stays one JSON line per query
        why = update.reason or f"{len(update.added)} added, {len(update.changed)} changed"
        print(f"gallery: embedded {update.embedded} images ({why}); {len(update.removed)} removed", file=sys.stderr)
    for answer in gallery.identify(args.queries, top_k=args.top_k):
        print(json.dumps(answer))
    return 0


def _enrol(args) -> int:
    from .search import Gallery, Verifier

    gallery = Gallery(Verifier.from_run(args.run), args.gallery, cache_dir=args.run)
    print(json.dumps({"gallery": str(args.gallery), "images": len(gallery.members),
                      "classes": len(gallery.class_names), **gallery.update.summary()}))
    return 0


def _embed(args) -> int:
    from .search import Verifier, embed_folder
    from .runs import RunFolder

    run = RunFolder(args.run)
    info = run.info()
    verifier = Verifier(run.trained_model(), float("nan"), tuple(info["image_shape"]),
                        bool(info["data"].get("keep_aspect", False)), run.model_path)
    print(json.dumps(embed_folder(verifier, args.folder, args.out, projector=args.projector)))
    return 0


def _export(args) -> int:
    from .export import export_run

    decision = export_run(args.run, args.format, args.out, num_pairs=args.pairs)
    print(json.dumps({"out": str(args.out), "format": decision["format"], "files": decision["files"],
                      "threshold": decision["threshold"], "same_when": decision["same_when"],
                      "check": decision["check"]}))
    return 0


SERVING_HANDLERS = {"verify": _verify, "identify": _identify, "enrol": _enrol, "embed": _embed, "export": _export}
