"""The same training on each Keras backend, side by side: the demo's accuracy and training steps per second.

    python benchmarks/backends.py                          # tensorflow, jax and torch (pip install -e ".[backends]")
    python benchmarks/backends.py --backends tensorflow jax --iterations 500

Each backend runs in its own process (Keras picks its backend once, at import, from KERAS_BACKEND):
1. the demo recipe (`siamese-kit demo`: the contrastive twin on MNIST, 2,000 steps of 64 pairs, a 16-D
   LeNet tower, seed 0), trained from its tf.data pair stream by the recipe's own `fit`, and its test
   nearest-centroid and pair accuracy;
2. training steps per second of `train_loop` on one repeated batch (so the input pipeline is not
   measured), after a warm-up: the demo's LeNet twin (64 pairs) and the one-shot recipe's conv4 tower
   with batch-hard triplets (120 Omniglot images at 28 px).
The last line is JSON; `--out FILE` saves it too. Time it with nothing else running.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

BACKENDS = ("tensorflow", "jax", "torch")


def worker(iterations: int, loop_steps: int) -> dict:
    """One backend's numbers (this process's KERAS_BACKEND)."""
    import keras
    import tensorflow as tf

    from siamese_kit.data import load_dataset, load_omniglot, pair_stream
    from siamese_kit.devices import device_report
    from siamese_kit.recipes import ContrastiveRecipe, OneShotRecipe, build_contrastive_model, run_contrastive
    from siamese_kit.recipes.one_shot import build_one_shot_model, one_shot_training_stream
    from step_speed import time_loop

    train_set, test_set = load_dataset("mnist", split="train"), load_dataset("mnist", split="test")
    recipe = ContrastiveRecipe(embedding_dim=16, iterations=iterations, batch_size=64, seed=0)
    demo = run_contrastive(train_set, test_set, recipe)

    digits = next(iter(pair_stream(train_set, 64, seed=0, mode="alternate")))
    lenet = build_contrastive_model(ContrastiveRecipe(embedding_dim=16, iterations=10 + loop_steps, seed=0),
                                    train_set.image_shape, train_set.num_classes)
    one_shot = OneShotRecipe(iterations=10 + loop_steps)
    background = load_omniglot("images_background_small1", image_size=one_shot.image_size)
    characters = next(iter(one_shot_training_stream(one_shot, background)(0)))
    conv4 = build_one_shot_model(one_shot)
    lenet_ms = time_loop(lenet, digits, loop_steps)
    conv4_ms = time_loop(conv4, characters, loop_steps)
    return {
        "backend": keras.backend.backend(),
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__, **_backend_version()},
        "demo_centroid_accuracy": demo["test_centroid_accuracy"],
        "demo_pair_accuracy": demo["pair_accuracy"],
        "demo_train_seconds": demo["train_seconds"],
        # fit's rate over the whole demo, its compilation included
        "demo_fit_steps_per_second": round(iterations / demo["train_seconds"], 1),
        "lenet_twin_steps_per_second": round(1000.0 / lenet_ms, 1),
        "conv4_batch_hard_steps_per_second": round(1000.0 / conv4_ms, 1),
        "device": device_report(),
    }


def _backend_version() -> dict:
    import keras

    name = keras.backend.backend()
    if name == "jax":
        import jax

        return {"jax": jax.__version__}
    if name == "torch":
        import torch

        return {"torch": torch.__version__}
    return {}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--iterations", type=int, default=2000, help="demo training steps (the demo's 2,000)")
    parser.add_argument("--loop-steps", type=int, default=200, help="train_loop steps timed after 10 warm-up")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON summary here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.iterations, args.loop_steps)))
        return {}
    command = "python benchmarks/backends.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    print(f"command: {command}", flush=True)
    rows = []
    for backend in args.backends:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--worker", "--iterations", str(args.iterations), "--loop-steps",
             str(args.loop_steps)],
            env={**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"},
            capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"{backend}: the worker failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["process_seconds"] = round(time.perf_counter() - start, 1)
        rows.append(row)
        print(f"{backend:>10}: demo centroid accuracy {row['demo_centroid_accuracy']:.4f}, pair accuracy "
              f"{row['demo_pair_accuracy']:.4f}, demo training {row['demo_train_seconds']:.0f} s "
              f"({row['demo_fit_steps_per_second']} steps/s in fit); train_loop steps/s: LeNet twin "
              f"{row['lenet_twin_steps_per_second']}, conv4 batch-hard {row['conv4_batch_hard_steps_per_second']}",
              flush=True)
    accuracies = [row["demo_centroid_accuracy"] for row in rows]
    summary = {"command": command, "iterations": args.iterations, "loop_steps": args.loop_steps, "backends": rows,
               "demo_centroid_accuracy_spread": round(max(accuracies) - min(accuracies), 4)}
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
