"""The hot paths before and after a change, timed in alternating turns on the same model and data.

    python benchmarks/loop_ab.py --before 853fb36     # that commit's code against this tree's

`train_loop`: one model per recipe (the conv4 twin at 28 px with 128 pairs, and the small LeNet
contrastive twin with 64 pairs) trains on one fixed repeated batch, so only the loop around the step
differs; each turn runs `--steps` steps through one loop and then the other. `embed` (the Omniglot
evaluation images through the conv4 tower) and `episode_accuracy` (1,000 fixed 20-way 1-shot
episodes) likewise, one after the other in each turn. The "before" functions are the files of that
commit, loaded beside this package. `--turns` turns after a warm-up, so load from other work falls on
both alike; it prints the median of each, and the JSON last.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from siamese_kit.data import fixed_episodes, load_omniglot, pair_stream
from siamese_kit.models import embed
from siamese_kit.evaluation import episode_accuracy
from siamese_kit.devices import device_report
from siamese_kit.recipes import ContrastiveRecipe, TwinRecipe, build_contrastive_model, build_twin_model
from siamese_kit.training import train_loop


def module_at(commit: str, path: str):
    """The module at `path` (e.g. `siamese_kit/training.py`) as it was at `commit`, bound to this package."""
    import importlib.util
    import tempfile

    source = subprocess.check_output(["git", "show", f"{commit}:{path}"], text=True)
    # A real file, so tf.function can read the loop's source as it does for the package's own.
    name = Path(path).stem
    where = Path(tempfile.mkdtemp()) / f"{name}_at_{commit}.py"
    where.write_text(source)
    package = ".".join(Path(path).parent.parts)
    spec = importlib.util.spec_from_file_location(f"{package}._{name}_at_{commit}", where)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = package
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def one_shot_module_at(commit: str):
    """One-shot scoring as it was at `commit`: `evaluation/one_shot.py`, or `oneshot.py` before it moved there."""
    try:
        return module_at(commit, "siamese_kit/evaluation/one_shot.py")
    except subprocess.CalledProcessError:
        return module_at(commit, "siamese_kit/oneshot.py")


def ms_per_step(loop, model, batch, steps: int) -> float:
    stream = tf.data.Dataset.from_tensors(batch).repeat()
    loop(model, stream, 5)  # traces this loop's step function once, as the timed call does
    start = time.perf_counter()
    loop(model, stream, steps)
    return (time.perf_counter() - start) / steps * 1000.0


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="commit whose train_loop is the 'before'")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--turns", type=int, default=5)
    args = parser.parse_args(argv)
    print("command: python benchmarks/loop_ab.py " + shlex.join(sys.argv[1:] if argv is None else argv))
    before_loop = module_at(args.before, "siamese_kit/training.py").train_loop
    before_embed = module_at(args.before, "siamese_kit/models/twin.py").embed
    before_episodes = one_shot_module_at(args.before).episode_accuracy
    images = load_omniglot("images_evaluation", image_size=28)
    results = {"before": args.before, "steps_per_turn": args.steps, "turns": args.turns}
    models = {
        "twin_conv4_128": (build_twin_model(TwinRecipe()), next(iter(pair_stream(images, 128, seed=0, mode="random")))),
        "lenet_64": (build_contrastive_model(ContrastiveRecipe(), images.image_shape, images.num_classes),
                     next(iter(pair_stream(images, 64, seed=0, mode="alternate")))),
    }
    for name, (model, batch) in models.items():
        times = {"before": [], "after": []}
        for _ in range(args.turns):
            times["before"].append(ms_per_step(before_loop, model, batch, args.steps))
            times["after"].append(ms_per_step(train_loop, model, batch, args.steps))
        for side in ("before", "after"):
            results[f"{name}_{side}_ms_per_step"] = round(float(np.median(times[side])), 1)
            print(f"{name} {side}: median {results[f'{name}_{side}_ms_per_step']} ms/step "
                  f"(turns: {', '.join(f'{t:.1f}' for t in times[side])})", flush=True)
    model = models["twin_conv4_128"][0]
    episodes = fixed_episodes(images, 1000, ways=20, shots=1, queries=1, seed=0, within_group=True)
    embeddings = model.embed(images)
    timed = {
        "embed_seconds": (lambda: before_embed(model.encoder, images), lambda: embed(model.encoder, images)),
        "episode_accuracy_seconds": (lambda: before_episodes(model, images, episodes, embeddings),
                                     lambda: episode_accuracy(model, images, episodes, embeddings)),
    }
    for name, (before, after) in timed.items():
        before(), after()  # warm-up: traces, caches
        times = {"before": [], "after": []}
        for _ in range(args.turns):
            for side, run in (("before", before), ("after", after)):
                start = time.perf_counter()
                run()
                times[side].append(time.perf_counter() - start)
        for side in ("before", "after"):
            results[f"{name}_{side}"] = round(float(np.median(times[side])), 3)
            print(f"{name} {side}: median {results[f'{name}_{side}']} (turns: "
                  f"{', '.join(f'{t:.3f}' for t in times[side])})", flush=True)
    results["evaluation_images"] = len(images)
    results["device"] = device_report()
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
