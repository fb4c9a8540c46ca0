"""Five ways to train one embedding tower, compared on equal terms: contrastive pairs, the triplet loss with
semi-hard and batch-hard mining, multi-similarity, and prototypical episodes.

    python benchmarks/metric_learning.py --dataset omniglot
    python benchmarks/metric_learning.py --dataset mnist
    python benchmarks/metric_learning.py --dataset omniglot --evaluate-on validation

Every loss trains the same seeded `conv4` tower (64-D linear embedding, width 16) with Adam and a
cosine decay over the same number of steps, and every step shows the tower the same number of images
(64): 32 pairs, a P x K class-balanced batch, or an episode. Each loss keeps the toolkit's default
settings (contrastive margin 2, triplet margin 1, multi-similarity alpha 2, beta 50, base 0.5); none was
tuned on the test classes.

- Omniglot: trained on the 30 background alphabets (with Koch et al.'s affine distortions, P = 16
  characters x K = 4 drawings), tested on the 20 evaluation alphabets, which no loss sees: Lake's 20
  within-alphabet 20-way runs (with the 400 trials' 95% Wilson interval), and 5-way and 20-way 1-shot
  within-alphabet episodes (1,000 each, mean +- 95% interval).
- MNIST: trained on the 60,000 training digits (P = 8 digits x K = 8), tested on the 10,000 test
  digits: the same ten classes, so it measures how tightly each loss packs classes it knows.

Both report leave-one-out retrieval on the test images: precision@1 and mAP@R (Musgrave et al. 2020),
by exact search, and mAP@R again through an HNSW graph (`siamese_kit.search.EmbeddingIndex`) to show
the index keeps the metric. `--evaluate-on validation` holds out classes of the training data (five
background alphabets, or a tenth of the MNIST training images) and never touches the test data.

One JSON line is printed per loss, then a summary line; `--out` also writes them to a file.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

LOSSES = ("contrastive", "triplet_semi_hard", "triplet_batch_hard", "multi_similarity", "prototypical")
IMAGES_PER_STEP = 64
# (classes per batch, images per class) of a 64-image step: P x K batches and episodes alike.
LAYOUT = {"omniglot": (16, 4), "mnist": (8, 8)}


def load_data(dataset: str, evaluate_on: str, seed: int):
    """Training images, test images, and Lake's runs (Omniglot on the evaluation alphabets) or None."""
    from siamese_kit.data import load_dataset, load_lake_runs, load_omniglot

    if dataset == "omniglot":
        train_set = load_omniglot("images_background", image_size=28)
        if evaluate_on == "validation":
            train_set, test_set = train_set.split_groups(5, seed=1000 + seed)
            return train_set, test_set, None
        return train_set, load_omniglot("images_evaluation", image_size=28), load_lake_runs(image_size=28)
    train_set = load_dataset("mnist", split="train")
    if evaluate_on == "validation":
        train_set, test_set = train_set.split(0.1, seed=1000 + seed)
        return train_set, test_set, None
    return train_set, load_dataset("mnist", split="test"), None


def build(loss_name: str, recipe, channels: int):
    """The compiled model of one loss on the shared tower."""
    from siamese_kit.layers import EuclideanDistance
    from siamese_kit.losses import ContrastiveLoss, MultiSimilarityLoss, TripletLoss
    from siamese_kit.models import EmbeddingModel, PrototypeModel, SiameseModel
    from siamese_kit.recipes._common import compiled_on_tower  # the recipes' own seeded build, shared on purpose

    if loss_name == "contrastive":
        return compiled_on_tower(SiameseModel, recipe, channels, head=EuclideanDistance(),
                                 compile_loss=ContrastiveLoss(2.0))
    if loss_name == "prototypical":
        return compiled_on_tower(PrototypeModel, recipe, channels)
    loss = MultiSimilarityLoss() if loss_name == "multi_similarity" else \
        TripletLoss(1.0, mining=loss_name.removeprefix("triplet_"))
    return compiled_on_tower(EmbeddingModel, recipe, channels, loss=loss)


def stream_of(loss_name: str, train_set, classes: int, per_class: int, augment, seed: int):
    """`start -> dataset` of 64-image steps in the form each loss trains on."""
    from siamese_kit.data import class_balanced_stream, episode_stream, pair_stream

    if loss_name == "contrastive":
        return lambda start: pair_stream(train_set, IMAGES_PER_STEP // 2, seed=seed, mode="alternate",
                                         augment=augment, start_batch=start)
    if loss_name == "prototypical":
        # Half of each class's images are the support, half the queries.
        return lambda start: episode_stream(train_set, classes, per_class // 2, per_class // 2, seed=seed,
                                            within_group=False, augment=augment, start_episode=start)
    return lambda start: class_balanced_stream(train_set, classes, per_class, seed=seed, augment=augment,
                                               start_batch=start)


def evaluate(model, test_set, runs, seed: int, episodes: int) -> dict:
    """Retrieval on the test images, and on Omniglot Lake's runs and within-alphabet episodes."""
    from siamese_kit.data import fixed_episodes
    from siamese_kit.evaluation import retrieval_metrics
    from siamese_kit.evaluation import episode_hits, evaluate_lake_runs
    from siamese_kit.stats import accuracy_interval

    embeddings = model.embed(test_set)
    exact = retrieval_metrics(embeddings, test_set.labels, ks=(1,))
    graph = retrieval_metrics(embeddings, test_set.labels, ks=(1,), index="hnsw")
    results = {"precision_at_1": round(exact.precision_at_1, 4), "map_at_r": round(exact.map_at_r, 4),
               "map_at_r_hnsw": round(graph.map_at_r, 4)}
    if runs is not None:
        report = evaluate_lake_runs(model, runs)
        results["lake20_accuracy"] = round(report.accuracy, 4)
        results["lake20_interval"] = [round(bound, 4) for bound in report.interval()]
    if test_set.groups is not None:
        for ways in (5, 20):
            drawn = fixed_episodes(test_set, episodes, ways=ways, shots=1, queries=1, seed=seed, within_group=True)
            accuracy, half_width = accuracy_interval(episode_hits(model, test_set, drawn, embeddings))
            results[f"{ways}way_1shot"] = round(accuracy, 4)
            results[f"{ways}way_1shot_interval"] = round(half_width, 4)
    return results


def run_loss(loss_name: str, dataset: str, data, iterations: int, seed: int, episodes: int) -> dict:
    """Trains one loss's model and evaluates it: its JSON line."""
    from siamese_kit.data import AffineDistortion
    from siamese_kit.recipes import MetricRecipe
    from siamese_kit.training import TerminalMonitor, train_loop

    train_set, test_set, runs = data
    classes, per_class = LAYOUT[dataset]
    recipe = MetricRecipe(embedding_dim=64, width=16, iterations=iterations, learning_rate=1e-3, seed=seed)
    augment = AffineDistortion() if dataset == "omniglot" else None
    model = build(loss_name, recipe, train_set.image_shape[-1])
    start = time.perf_counter()
    monitor = TerminalMonitor(iterations, IMAGES_PER_STEP, record_every=max(1, iterations // 50), unit="images")
    trained = train_loop(model, stream_of(loss_name, train_set, classes, per_class, augment, seed), iterations,
                         monitor=monitor)
    train_seconds = time.perf_counter() - start
    return {"dataset": dataset, "loss": loss_name, **evaluate(model, test_set, runs, seed, episodes),
            "steps": trained["steps_done"], "images_seen": trained["steps_done"] * IMAGES_PER_STEP,
            "train_seconds": round(train_seconds, 1), "final_loss": round(float(trained["history"]["loss"][-1]), 4)}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(LAYOUT), default="omniglot")
    parser.add_argument("--losses", nargs="+", choices=LOSSES, default=list(LOSSES))
    parser.add_argument("--iterations", type=int, default=3000, help="training steps of 64 images, every loss")
    parser.add_argument("--episodes", type=int, default=1000, help="test episodes per size (Omniglot)")
    parser.add_argument("--evaluate-on", choices=["test", "validation"], default="test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="a .jsonl file for the lines printed")
    args = parser.parse_args(argv)

    command = "python benchmarks/metric_learning.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    print("command: " + command)
    from siamese_kit.devices import device_report

    data = load_data(args.dataset, args.evaluate_on, args.seed)
    lines = []
    for loss_name in args.losses:
        line = {**run_loss(loss_name, args.dataset, data, args.iterations, args.seed, args.episodes),
                "evaluated_on": args.evaluate_on}
        print(json.dumps(line), flush=True)
        lines.append(line)
    ranked = sorted(lines, key=lambda line: -line["map_at_r"])
    summary = {"summary": True, "dataset": args.dataset, "evaluated_on": args.evaluate_on,
               "best_map_at_r": ranked[0]["loss"], "ranking_by_map_at_r": [line["loss"] for line in ranked],
               "steps": args.iterations, "images_per_step": IMAGES_PER_STEP,
               "seconds": round(sum(line["train_seconds"] for line in lines), 1), "device": device_report(),
               "command": command}
    print(json.dumps(summary))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("".join(json.dumps(line) + "\n" for line in [*lines, summary]))
    return [*lines, summary]


if __name__ == "__main__":
    main()
