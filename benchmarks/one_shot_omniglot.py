"""One-shot recognition on Omniglot: Lake et al.'s 20 within-alphabet 20-way runs, and N-way K-shot episodes.

Published within-alphabet 20-way accuracy (Lake, Salakhutdinov & Tenenbaum 2019, "The Omniglot
challenge"): with the 30 background alphabets, people 0.955, Koch et al.'s twin network 0.92, Bayesian
program learning 0.967; with the 5-alphabet "minimal" split, a simple convnet about 0.77 and a
prototypical network about 0.70.

    python benchmarks/one_shot_omniglot.py --background images_background
    python benchmarks/one_shot_omniglot.py --background images_background_small1
    python benchmarks/one_shot_omniglot.py --background images_background --evaluate-on validation --iterations 10000
    python benchmarks/one_shot_omniglot.py --split vinyals --train-on trainval --iterations 10000
    python benchmarks/one_shot_omniglot.py --background images_background_small1 --prototypical

The toolkit's recipe (`siamese_kit.recipes.OneShotRecipe`, its defaults chosen on validation alphabets
for issues 18 and 30) trains a `conv4` tower with batch-hard triplets on batches of 20 characters x 6
drawings mixed across alphabets, 90,000 steps, each character also turned by 90, 180 and 270 degrees as
new characters, Koch's affine distortions; at test time it averages each image's embedding over the
image and 8 fixed distortions, and still scores each test image alone (inductive). `--transductive true`
also refines each trial set's prototypes with its queries, reported under `transductive`; `--prototypical`
is the recipe before issue 30 (20-way within-alphabet episodes with the prototypical loss, 10,000 of
them, the tower alone). Every recipe field is a flag (`--iterations`, `--width`, `--tower resnet12`, ...).
The default scores all 400 trials of the 20 runs
and 1,000 seeded within-alphabet episodes per size (5/20-way, 1/5-shot, one query per class) from
images_evaluation. `--evaluate-on validation` never touches the runs or images_evaluation: it reports
episodes from background alphabets held out of training, for choosing settings (with the 30 background
alphabets, 5 of them; with a minimal split, it trains on all 5 of its alphabets and validates on the 25
background alphabets outside it).

`--split vinyals` is the few-shot literature's split instead, read from its published lists
(`siamese_kit.data.load_vinyals_split`): 1,028 characters to train on (`--train-on trainval` adds the 172
validation characters, for a final model), the 423 test characters to test on, each character in four
turns as four classes, episodes drawn across alphabets; `--evaluate-on validation` scores the 172 val
characters instead, for choosing settings. `--split random-characters` is a seeded per-character draw of
the same sizes: easier (test characters share alphabets with training ones) and not comparable with the
literature. The last line printed is a JSON summary.

    python benchmarks/one_shot_omniglot.py --split vinyals --iterations 10000 --transductive true \
        --evaluate-on validation
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import fields
from pathlib import Path

from siamese_kit.data import load_lake_runs, load_omniglot, load_vinyals_split, merged_omniglot, random_character_split
from siamese_kit.recipes import OneShotRecipe, run_one_shot
from siamese_kit.recipes.one_shot import validation_split

BACKGROUNDS = ("images_background", "images_background_small1", "images_background_small2")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["lake", "vinyals", "random-characters"], default="lake",
                        help="lake: train on --background, test on Lake's runs and images_evaluation; vinyals: the "
                             "published lists (train 1,028 / val 172 / test 423 characters, four turns each), "
                             "episodes across alphabets; random-characters: a seeded per-character draw of the "
                             "same sizes (easier, not comparable with the literature)")
    parser.add_argument("--train-on", choices=["train", "trainval"], default="train",
                        help="with --split vinyals: the part to train on (trainval = train + val, for a final model)")
    parser.add_argument("--score-only", type=Path, default=None, metavar="MODEL",
                        help="with --split vinyals: score this trained model.keras (no training) with --test-views "
                             "and --transductive as given, e.g. the tower alone with --test-views 0")
    parser.add_argument("--background", choices=BACKGROUNDS, default="images_background_small1",
                        help="the Omniglot split to train on (with --split lake)")
    for field in fields(OneShotRecipe):
        kind = {bool: json.loads, int: int, float: float}.get(type(field.default), str)
        parser.add_argument("--" + field.name.replace("_", "-"), type=kind, default=None)
    parser.add_argument("--prototypical", action="store_true",
                        help="start from the recipe before the levers (OneShotRecipe.prototypical(): the "
                             "prototypical loss on within-alphabet episodes, the tower alone); flags still override")
    parser.add_argument("--evaluate-on", choices=["evaluation", "validation"], default="evaluation")
    parser.add_argument("--validation-split-seed", type=int, default=None, metavar="N",
                        help="with --evaluate-on validation: the seed of the held-out alphabets' draw (default: "
                             "--seed), so towers of different seeds can share one validation split (an ensemble)")
    parser.add_argument("--out", type=Path, default=None, help="folder for model, pictures, summary")
    args = parser.parse_args(argv)

    print("command: python benchmarks/one_shot_omniglot.py " + shlex.join(sys.argv[1:] if argv is None else argv))
    changes = {f.name: getattr(args, f.name) for f in fields(OneShotRecipe) if getattr(args, f.name) is not None}
    if args.split == "vinyals":
        changes.setdefault("rotations", False)  # the published lists list each turn as a class
    recipe = OneShotRecipe.prototypical(**changes) if args.prototypical else OneShotRecipe(**changes)
    if args.split == "vinyals":
        return vinyals(args, recipe)
    if args.split == "random-characters":
        return random_characters(args, recipe)
    if args.evaluate_on == "evaluation":
        train_set = load_omniglot(args.background, image_size=recipe.image_size)
        eval_set = load_omniglot("images_evaluation", image_size=recipe.image_size)
        runs = load_lake_runs(image_size=recipe.image_size)
    else:
        # Held-out background alphabets; the 20 runs and images_evaluation stay unseen.
        split_seed = recipe.seed if args.validation_split_seed is None else args.validation_split_seed
        train_set, eval_set = validation_split(args.background, recipe.image_size, split_seed)
        runs = None
    summary = {"background": args.background, **run_one_shot(train_set, eval_set, recipe, runs=runs, out_dir=args.out)}
    summary["evaluated_on"] = f"{args.evaluate_on}: {len(set(eval_set.groups.tolist()))} alphabets"
    summary["split"] = (f"Lake: trained on {args.background}, tested on images_evaluation (Lake's 20 runs and "
                        "within-alphabet episodes)" if args.evaluate_on == "evaluation" else
                        f"validation: {args.background} with its held-out alphabets as the test")
    print(json.dumps(summary))
    return summary


def vinyals(args, recipe: OneShotRecipe) -> dict:
    """Trains on the published Vinyals lists and tests on their test part (or validates on val); its JSON."""
    if recipe.rotations:
        raise SystemExit("--split vinyals: the published lists already hold each character's four turns as classes; "
                         "drop --rotations true (the split trains with rotations=False).")
    if args.evaluate_on == "validation" and args.train_on == "trainval":
        raise SystemExit("--evaluate-on validation scores the val characters, which --train-on trainval trains on; "
                         "use --train-on train.")
    characters = merged_omniglot(recipe.image_size)
    test_part = "val" if args.evaluate_on == "validation" else "test"
    test_set = load_vinyals_split(test_part, characters=characters)
    if args.score_only is not None:
        return scored_only(args, recipe, test_set, test_part)
    train_set = load_vinyals_split(args.train_on, characters=characters)
    summary = {"split": (f"vinyals, as published: trained on {args.train_on} ({train_set.num_classes} classes), "
                         f"tested on {test_part} ({test_set.num_classes} classes), episodes across alphabets"),
               **run_one_shot(train_set, test_set, recipe, out_dir=args.out, episodes_within_group=False)}
    print(json.dumps(summary))
    return summary


def scored_only(args, recipe: OneShotRecipe, test_set, test_part: str) -> dict:
    """A trained tower scored on the split's `test_part` with the recipe's views and transduction; its JSON."""
    import keras

    from siamese_kit.models import EmbeddingModel, PrototypeModel  # noqa: F401  (registered for loading)
    from siamese_kit.recipes import score_one_shot

    model = keras.saving.load_model(args.score_only, safe_mode=True, compile=False)
    scores, _, _ = score_one_shot(model, test_set, None, recipe.test_views, recipe.transductive, recipe.seed,
                                  within_group=False)
    summary = {"split": f"vinyals, as published: {args.score_only} scored on {test_part} ({test_set.num_classes} "
                        "classes), episodes across alphabets",
               "scored_with": {"test_views": recipe.test_views, "transductive": recipe.transductive}, **scores}
    print(json.dumps(summary))
    return summary


def random_characters(args, recipe: OneShotRecipe) -> dict:
    """The per-character seeded draw of the Vinyals sizes: easier than the published split; its JSON."""
    train_set, test_set = random_character_split(merged_omniglot(recipe.image_size), seed=0, rotations=False)
    if args.evaluate_on == "validation":
        train_set, test_set = random_character_split(train_set, seed=1000 + recipe.seed, train_characters=1028,
                                                     rotations=False)
    test_set = test_set.with_rotated_classes()  # test classes come in four turns, as in the literature
    summary = {"split": (f"random characters ({args.evaluate_on}; easier than the published Vinyals split, not "
                         f"comparable with it): {len(set(train_set.labels.tolist()))} training characters"
                         f"{' (x4 turns)' if recipe.rotations else ''}, "
                         f"{len(set(test_set.labels.tolist()))} test classes (characters x4 turns, seed 0), "
                         "episodes across alphabets"),
               **run_one_shot(train_set, test_set, recipe, out_dir=args.out, episodes_within_group=False)}
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
