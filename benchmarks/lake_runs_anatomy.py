"""How Lake's 20 runs are built, against within-alphabet episodes: who drew each run's images, and how
raw pixels score on both (the task's difficulty with no learning at all).

    python benchmarks/lake_runs_anatomy.py

Each run image is found among the evaluation set's files by its pixels, and the drawer is read from
the file name (`<id>_<drawer>.png`). Raw pixels score the nearest candidate in pixel space on Lake's 400
trials and on 1,000 seeded 20-way 1-shot episodes drawn within one alphabet (each drawing from any of
the 20 drawers). The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shlex
import sys

import numpy as np


class RawPixels:
    """Pixels as the embedding: the nearest candidate in pixel space wins."""

    score_kind = "distance"

    def embed(self, images):
        images = getattr(images, "images", images)
        return np.asarray(images, dtype="float32").reshape(len(images), -1)


def drawers_of_runs(evaluation, runs) -> list[dict]:
    """Per run, the drawers of its training (candidate) and test images, found by their pixels."""
    where = {hashlib.sha256(image.tobytes()).hexdigest(): path for image, path in zip(evaluation.images, evaluation.paths)}

    def drawers(images):
        found = [where.get(hashlib.sha256(image.tobytes()).hexdigest()) for image in images]
        return sorted({re.search(r"_(\d+)\.png\b", path).group(1) if path else "not found" for path in found})

    return [{"run": number + 1, "training_drawers": drawers(run.support_images), "test_drawers": drawers(run.query_images)}
            for number, run in enumerate(runs)]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print("command: python benchmarks/lake_runs_anatomy.py " + shlex.join(sys.argv[1:] if argv is None else argv))
    import siamese_kit  # noqa: F401  first: it loads TensorFlow without its start-up chatter
    from siamese_kit.data import fixed_episodes, load_lake_runs, load_omniglot
    from siamese_kit.evaluation import episode_hits, evaluate_lake_runs
    from siamese_kit.stats import accuracy_interval

    runs = load_lake_runs(image_size=None)
    per_run = drawers_of_runs(load_omniglot("images_evaluation", image_size=None), runs)
    for line in per_run:
        print(json.dumps(line))
    evaluation = load_omniglot("images_evaluation", image_size=28)
    small_runs = load_lake_runs(image_size=28)
    episodes = fixed_episodes(evaluation, args.episodes, ways=20, shots=1, queries=1, seed=args.seed, within_group=True)
    accuracy, half_width = accuracy_interval(episode_hits(RawPixels(), evaluation, episodes))
    summary = {
        "runs_with_one_training_drawer": sum(len(line["training_drawers"]) == 1 for line in per_run),
        "runs_with_one_test_drawer": sum(len(line["test_drawers"]) == 1 for line in per_run),
        "runs_sharing_a_drawer": sum(bool(set(line["training_drawers"]) & set(line["test_drawers"])) for line in per_run),
        "raw_pixels_lake20": round(evaluate_lake_runs(RawPixels(), small_runs).accuracy, 4),
        "raw_pixels_20way_1shot_within_alphabet": round(accuracy, 4),
        "raw_pixels_20way_1shot_interval": round(half_width, 4),
        "episodes": args.episodes, "image_size": 28,
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
