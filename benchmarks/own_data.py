"""Your own images, measured: train a recipe with its defaults on a class-folder tree and print the
report's headline numbers (the test part of the run's own split) as one JSON line.

    python benchmarks/own_data.py export omniglot-evaluation --to /tmp/omniglot_evaluation
    python benchmarks/own_data.py run --data /tmp/omniglot_evaluation --image-size 28 28      # open set
    python benchmarks/own_data.py export mnist --to /tmp/mnist_png
    python benchmarks/own_data.py run --data /tmp/mnist_png --split images                    # closed set

`export` writes a dataset the project has as a user's folder would hold it: one folder of PNGs per
class (Omniglot's 659 evaluation characters as `<alphabet>_<character>/`, MNIST's 70,000 digits as
`<digit>/`). `run` is `siamese-kit train --data ...` timed, with the summary printed last.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from siamese_kit.data import DataSource, ImageSet, load_dataset, load_omniglot
from siamese_kit.recipes.own_data import RECIPES, run_own_data
from siamese_kit.runs import SplitSpec


def export(dataset: str, to: Path) -> dict:
    """Writes `dataset` as one folder of PNGs per class; refuses to write into a non-empty folder."""
    if to.exists() and any(to.iterdir()):
        raise SystemExit(f"{to} is not empty; export into a new folder.")
    if dataset == "omniglot-evaluation":
        imageset = load_omniglot("images_evaluation")
        names = [name.replace("/", "_") for name in imageset.class_names]
    else:
        train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
        imageset = ImageSet(np.concatenate([train.images, test.images]), np.concatenate([train.labels, test.labels]),
                            train.class_names, name="mnist")
        names = list(imageset.class_names)
    counts = np.zeros(len(names), int)
    for pixels, label in zip(imageset.images, imageset.labels):
        folder = to / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[..., 0]).save(folder / f"{counts[label]:05d}.png")
        counts[label] += 1
    return {"exported": dataset, "to": str(to), "classes": int((counts > 0).sum()), "images": int(counts.sum())}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    exporter = commands.add_parser("export", help="write a dataset the project has as class folders of PNGs")
    exporter.add_argument("dataset", choices=["omniglot-evaluation", "mnist"])
    exporter.add_argument("--to", type=Path, required=True)
    runner = commands.add_parser("run", help="train with the defaults and print the report's headline")
    runner.add_argument("--data", required=True)
    runner.add_argument("--recipe", choices=RECIPES, default="contrastive")
    runner.add_argument("--split", choices=["classes", "images"], default="classes")
    runner.add_argument("--image-size", type=int, nargs=2, default=None, metavar=("H", "W"))
    runner.add_argument("--color", choices=["gray", "rgb"], default="gray")
    runner.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    runner.add_argument("--out", type=Path, default=Path("runs/own_data"))
    args = parser.parse_args(argv)
    print("command: python benchmarks/own_data.py " + shlex.join(sys.argv[1:] if argv is None else argv))
    if args.command == "export":
        summary = export(args.dataset, args.to)
        print(json.dumps(summary))
        return summary
    settings = {}
    for item in args.overrides:
        key, _, value = item.partition("=")
        settings[key] = json.loads(value)
    start = time.perf_counter()
    data = DataSource(args.data, tuple(args.image_size) if args.image_size else None, args.color)
    summary = run_own_data(data, args.recipe, settings, args.out, split=SplitSpec(args.split))
    summary["wall_seconds"] = round(time.perf_counter() - start, 1)
    summary.pop("settings")
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
