"""Recipe B: a twin classifier on Omniglot with binary cross-entropy (the MATLAB twin-network example).

Published: 89.2% mean pair accuracy over 5 mini-batches of 150 pairs from the evaluation alphabets,
after 10,000 steps of 180 pairs with koch_105 at 105 px (a GPU recipe).

    python benchmarks/twin_omniglot.py                        # the toolkit's CPU recipe (conv4, 28 px)
    python benchmarks/twin_omniglot.py --faithful             # koch_105, 105 px, 10,000 x 180 (GPU)
    python benchmarks/twin_omniglot.py --evaluate-on validation   # for choosing settings

Training uses images_background. `--evaluate-on validation` holds out 5 background alphabets and
scores pairs from them, so settings are chosen without looking at images_evaluation; the default
scores 5 x 150 pairs and a 10,000-pair set from images_evaluation. The last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import fields
from pathlib import Path

from siamese_kit.data import load_omniglot
from siamese_kit.recipes import TwinRecipe, run_twin


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faithful", action="store_true", help="the MATLAB example's recipe")
    for field in fields(TwinRecipe):
        kind = {bool: json.loads, int: int, float: float}.get(type(field.default), str)
        parser.add_argument("--" + field.name.replace("_", "-"), type=kind, default=None)
    parser.add_argument("--evaluate-on", choices=["evaluation", "validation"], default="evaluation")
    parser.add_argument("--out", type=Path, default=None, help="folder for model, pictures, summary")
    args = parser.parse_args(argv)

    print("command: python benchmarks/twin_omniglot.py " + shlex.join(sys.argv[1:] if argv is None else argv))
    changes = {f.name: getattr(args, f.name) for f in fields(TwinRecipe) if getattr(args, f.name) is not None}
    recipe = TwinRecipe.faithful(**changes) if args.faithful else TwinRecipe(**changes)
    train_set = load_omniglot("images_background", image_size=recipe.image_size)
    if args.evaluate_on == "evaluation":
        eval_set = load_omniglot("images_evaluation", image_size=recipe.image_size)
    else:
        train_set, eval_set = train_set.split_groups(5, seed=1000 + recipe.seed)
    summary = run_twin(train_set, eval_set, recipe, out_dir=args.out)
    summary["evaluated_on"] = f"{args.evaluate_on}: {len(set(eval_set.groups.tolist()))} alphabets"
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
