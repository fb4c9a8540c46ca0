"""Open-set runs that know when they are guessing: the step kept on validation against a fixed-length run.

A class-folder tree of 10 classes split by classes (the default) leaves 6 training, 2 validation and 2
test classes. Trained long on six classes, a twin tells those six apart ever better and the unseen ones
worse. This script writes such a tree from MNIST's training digits (one folder of PNGs per digit, as a
user's folder would hold them), then for each split seed trains the same recipe twice, the same
steps and seed: once keeping the step with the best validation ROC AUC measured while training (the
default for an open split) and once keeping the last step (the fixed-length model), and reports both
runs' test ROC AUC on the same test classes.

    python benchmarks/open_set_keep_best.py                       # twin, 1,500 steps, split seeds 0 1 2
    python benchmarks/open_set_keep_best.py --recipe contrastive --split-seeds 0

Prints one JSON object (and writes it with --json): per seed, each run's test ROC AUC with its class-
bootstrap interval, pair accuracy, the step kept and the validation curve; and the mean paired gain.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from siamese_kit.data import DataSource, load_dataset
from siamese_kit.recipes.own_data import RECIPES, run_own_data
from siamese_kit.runs import SplitSpec
from siamese_kit.training import TrainingMonitor


def write_digit_tree(root: Path, per_class: int, seed: int = 0) -> Path:
    """`root/digit<d>/<i>.png`: `per_class` MNIST training images of each digit, drawn with `seed`."""
    train = load_dataset("mnist", "train")
    rng = np.random.default_rng(seed)
    for digit in range(10):
        folder = root / f"digit{digit}"
        folder.mkdir(parents=True, exist_ok=True)
        for i, index in enumerate(rng.choice(np.flatnonzero(train.labels == digit), per_class, replace=False)):
            Image.fromarray(train.images[index, ..., 0]).save(folder / f"{i:04d}.png")
    return root


def one_run(data: DataSource, recipe: str, settings: dict, split_seed: int, keep: str, out: Path) -> dict:
    """One `run_own_data` run, silent, and the numbers this comparison reads from its summary."""
    monitor = None if recipe == "contrastive" else TrainingMonitor(settings["iterations"], 1)
    summary = run_own_data(data, recipe, settings, out, split=SplitSpec("classes", seed=split_seed), monitor=monitor,
                           keep=keep)
    watched = summary["validation"]
    return {"keep": keep, "test_roc_auc": summary["roc_auc"], "test_roc_auc_95": summary["intervals_95"]["roc_auc"],
            "test_pair_accuracy": summary["pair_accuracy"], "kept_step": watched["kept_step"],
            "best_validation_roc_auc": watched["best_score"], "validation_steps": watched["steps"],
            "validation_roc_auc": watched["scores"], "test_classes": summary["counts"]["test"]["classes"],
            "seconds": summary["seconds"]}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", choices=RECIPES, default="twin")
    parser.add_argument("--iterations", type=int, default=1500)
    parser.add_argument("--per-class", type=int, default=100, help="images of each digit in the tree")
    parser.add_argument("--split-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args(argv)
    command = "python benchmarks/open_set_keep_best.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    print(f"command: {command}", flush=True)
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        tree = write_digit_tree(Path(scratch) / "digits", args.per_class)
        data = DataSource(str(tree))
        settings = {"iterations": args.iterations}
        for split_seed in args.split_seeds:
            runs = {keep: one_run(data, args.recipe, settings, split_seed, keep, Path(scratch) / f"{split_seed}-{keep}")
                    for keep in ("best", "last")}
            row = {"split_seed": split_seed, **runs,
                   "test_roc_auc_gain": round(runs["best"]["test_roc_auc"] - runs["last"]["test_roc_auc"], 4)}
            print(json.dumps({key: row[key] for key in ("split_seed", "test_roc_auc_gain")}
                             | {f"{keep}_test_roc_auc": runs[keep]["test_roc_auc"] for keep in runs}
                             | {"kept_step": runs["best"]["kept_step"]}), flush=True)
            rows.append(row)
    gains = np.array([row["test_roc_auc_gain"] for row in rows])
    result = {
        "command": command, "recipe": args.recipe, "iterations": args.iterations, "per_class": args.per_class,
        "data": "10 MNIST training digits as class folders; open split by classes (6 train / 2 validation / 2 test)",
        "runs": rows,
        "mean_test_roc_auc": {keep: round(float(np.mean([row[keep]["test_roc_auc"] for row in rows])), 4)
                              for keep in ("best", "last")},
        "mean_gain": round(float(gains.mean()), 4), "gains": gains.tolist(),
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps({key: value for key, value in result.items() if key != "runs"}))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
