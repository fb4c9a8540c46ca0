"""Test-time levers of one-shot recognition measured on validation alphabets: views averaged per image
(test-time augmentation), several towers as one, and transductive prototypes, each against the plain
tower on the same episodes.

    python benchmarks/one_shot_omniglot.py --background images_background --evaluate-on validation \
        --iterations 10000 --out runs/validation_seed0
    python benchmarks/one_shot_levers.py --model runs/validation_seed0/model.keras --views 0 2 4 8
    python benchmarks/one_shot_levers.py --model runs/validation_seed0/model.keras --views 0 8 --transductive
    python benchmarks/one_shot_levers.py --model runs/validation_seed0/model.keras --views 0 8 --centre
    python benchmarks/one_shot_levers.py --model runs/validation_seed0/model.keras --views 0 --fine-tune-steps 5 20

The towers must have been trained with `--evaluate-on validation` on the same background: the
alphabets held out there (the same seeded choice, rebuilt here) are the only images scored, so
neither Lake's runs nor images_evaluation are touched, and a lever chosen here is chosen honestly.
For each setting: within-alphabet episodes (1,000 per size by default, one query per class) with the
mean and its 95% interval over episodes, and the paired difference from the plain tower (the first
`--views` value with the first model alone) on the very same episodes, with its own 95% interval. The
last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from siamese_kit.stats import mean_interval

SIZES = ((20, 1), (5, 1))


def validation_set(background: str, image_size: int, seed: int):
    """The alphabets `one_shot_omniglot.py --evaluate-on validation` held out for a recipe seed."""
    from siamese_kit.recipes.one_shot import validation_split

    return validation_split(background, image_size, seed)[1]


def check_recorded_split(model_path: Path, eval_set) -> None:
    """Refuses a tower whose recorded split is not the one about to be scored: one trained on a validation
    alphabet, validated on other alphabets, or with no record of its split at all."""
    from siamese_kit.recipes.one_shot import group_names_of

    summary = Path(model_path).with_name("summary.json")
    fix = ("train it with `python benchmarks/one_shot_omniglot.py --background BACKGROUND --evaluate-on validation "
           "--out FOLDER` (same --background and --seed as here) and pass FOLDER/model.keras")
    if not summary.is_file():
        raise SystemExit(f"{model_path}: no summary.json beside it records which alphabets it trained on; {fix}.")
    groups = json.loads(summary.read_text()).get("groups") or {}
    validation = group_names_of(eval_set)
    seen = sorted(set(groups.get("trained_on", [])) & set(validation))
    if seen or groups.get("evaluated_on") != validation:
        raise SystemExit(f"{model_path}: its split is not this one (trained on {len(groups.get('trained_on', []))} "
                         f"alphabets{', among them the validation alphabets ' + ', '.join(seen) if seen else ''}; "
                         f"validated on {groups.get('evaluated_on')}, here {validation}); {fix}.")


def per_episode(model, eval_set, episodes, embeddings=None) -> np.ndarray:
    """Accuracy of each episode, `[episodes]` (`embeddings`: `model.embed(eval_set)` when already computed)."""
    from siamese_kit.evaluation import episode_hits

    hits = episode_hits(model, eval_set, episodes, embeddings)
    return np.asarray(hits, np.float64).reshape(len(hits), -1).mean(axis=1)


def fine_tuned(tower, eval_set, args, ways: int, shots: int) -> list[dict]:
    """Support-set fine-tuning of the first tower against the tower as it is, on the same (fewer) episodes."""
    from siamese_kit.data import fixed_episodes
    from siamese_kit.models import SupportFineTuning

    drawn = fixed_episodes(eval_set, args.fine_tune_episodes, ways=ways, shots=shots, queries=1, seed=args.seed,
                           within_group=True)
    plain = per_episode(tower, eval_set, drawn)
    lines = []
    for steps in [0, *args.fine_tune_steps]:
        if steps:
            hits = SupportFineTuning(tower, steps=steps, learning_rate=args.fine_tune_rate).episode_hits(eval_set, drawn)
            accuracy = hits.astype(np.float64).mean(axis=1)
        else:
            accuracy = plain
        mean, half = mean_interval(accuracy)
        gain, gain_half = mean_interval(accuracy - plain) if steps else (0.0, 0.0)
        line = {"episodes": f"{ways}way_{shots}shot", "episodes_scored": len(accuracy), "towers": 1, "models": [0],
                "fine_tune_steps": steps, "fine_tune_rate": args.fine_tune_rate, "accuracy": round(mean, 4),
                "interval": round(half, 4), "gain_over_plain": round(gain, 4), "gain_interval": round(gain_half, 4)}
        print(json.dumps(line), flush=True)
        lines.append(line)
    return lines


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, nargs="+", required=True,
                        help="model.keras files of towers trained with --evaluate-on validation")
    parser.add_argument("--background", default="images_background")
    parser.add_argument("--recipe-seed", type=int, default=0, help="the --seed the towers' validation split used")
    parser.add_argument("--views", type=int, nargs="+", default=[0, 4], help="test-time views to try")
    parser.add_argument("--each", action="store_true",
                        help="also score every model alone (a paired comparison of towers trained differently)")
    parser.add_argument("--ensemble", type=int, nargs="+", default=None, metavar="I",
                        help="which models (numbered from 0 in --model order) form the ensemble that is scored "
                             "(default: all of them), e.g. two short towers against the first model's long one")
    parser.add_argument("--transductive", action="store_true",
                        help="also score every setting with prototypes refined by the episode's queries")
    parser.add_argument("--centre", action="store_true",
                        help="also score every setting centred on each episode's support mean, at unit length "
                             "(inductive: reads the support only)")
    parser.add_argument("--fine-tune-steps", type=int, nargs="*", default=[],
                        help="support-set fine-tuning: gradient steps per episode to try (SupportFineTuning)")
    parser.add_argument("--fine-tune-episodes", type=int, default=200,
                        help="episodes per size for fine-tuning (each tunes the tower afresh, so fewer)")
    parser.add_argument("--fine-tune-rate", type=float, default=1e-3, help="fine-tuning step size")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="episode seed")
    parser.add_argument("--out", type=Path, default=None, help="a .json file for the summary")
    args = parser.parse_args(argv)

    command = "python benchmarks/one_shot_levers.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    print("command: " + command)
    import siamese_kit  # noqa: F401  first: it loads TensorFlow without its start-up chatter

    import keras
    from siamese_kit.data import fixed_episodes
    # The model classes register themselves with Keras on import, so load_model can rebuild them.
    from siamese_kit.models import EmbeddingEnsemble, EmbeddingModel, PrototypeModel, SiameseModel  # noqa: F401

    # Only embedded, never trained further: the optimizer state is not needed.
    towers = [keras.saving.load_model(path, safe_mode=True, compile=False) for path in args.model]
    image_size = int(towers[0].encoder.input_shape[1])
    eval_set = validation_set(args.background, image_size, args.recipe_seed)
    for path in args.model:
        check_recorded_split(path, eval_set)
    # Which towers each setting uses: the first alone, each of the others alone (--each), all of them.
    groups = [[0]] + ([[number] for number in range(1, len(towers))] if args.each else [])
    together = list(range(len(towers))) if args.ensemble is None else args.ensemble
    if len(towers) > 1 and (any(not 0 <= number < len(towers) for number in together) or len(set(together)) < 2):
        raise SystemExit(f"--ensemble {together}: name at least two different models, numbered 0 to {len(towers) - 1}.")
    groups += [together] if len(towers) > 1 else []
    settings = [(group, views, refined, centred) for refined in ([False, True] if args.transductive else [False])
                for centred in ([False, True] if args.centre else [False])
                for group in groups for views in args.views]
    results = []
    embedded = {}
    for ways, shots in SIZES:
        drawn = fixed_episodes(eval_set, args.episodes, ways=ways, shots=shots, queries=1, seed=args.seed,
                               within_group=True)
        baseline = None
        for group, views, refined, centred in settings:
            scorer = EmbeddingEnsemble([towers[number] for number in group], views=views, transductive=refined,
                                       centre=centred)
            # Transduction and centring act on the embeddings only: each tower and view set embeds once.
            if (tuple(group), views) not in embedded:
                embedded[tuple(group), views] = scorer.embed(eval_set)
            accuracy = per_episode(scorer, eval_set, drawn, embedded[tuple(group), views])
            baseline = accuracy if baseline is None else baseline
            mean, half = mean_interval(accuracy)
            gain, gain_half = mean_interval(accuracy - baseline) if accuracy is not baseline else (0.0, 0.0)
            line = {"episodes": f"{ways}way_{shots}shot", "towers": len(group), "models": group, "views": views,
                    "transductive": refined, "centred": centred,
                    "accuracy": round(mean, 4), "interval": round(half, 4),
                    "gain_over_plain": round(gain, 4), "gain_interval": round(gain_half, 4)}
            print(json.dumps(line), flush=True)
            results.append(line)
        if args.fine_tune_steps:
            results += fine_tuned(towers[0], eval_set, args, ways, shots)
    summary = {"validation_alphabets": sorted(set(eval_set.group_names[g] for g in np.unique(eval_set.groups))),
               "models": [str(path) for path in args.model], "episodes_per_size": args.episodes,
               "results": results, "command": command}
    print(json.dumps(summary))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
    return summary


if __name__ == "__main__":
    main()
