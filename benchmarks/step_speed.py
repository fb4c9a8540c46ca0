"""Training-step speed of the twin recipes with and without XLA and mixed precision, on this device.

    python benchmarks/step_speed.py                       # conv4 at 28 px, batch 128 (CPU recipe)
    python benchmarks/step_speed.py --encoder koch_105 --image-size 105 --batch-size 180   # faithful

Times the same step function the custom loop and `fit` use, on one fixed batch of real Omniglot
pairs (so the input pipeline is not measured), after a warm-up. The defaults of `TwinRecipe`
(`jit_compile=False`, `mixed_precision=False`) follow these numbers on CPU. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time

import keras
import tensorflow as tf

from siamese_kit.data import load_omniglot, pair_stream
from siamese_kit.devices import device_report
from siamese_kit.recipes import TwinRecipe, build_twin_model


def time_steps(recipe: TwinRecipe, batch, steps: int) -> float:
    """Returns milliseconds per training step (mean over `steps`, after two warm-up steps)."""
    model = build_twin_model(recipe)
    model.optimizer.build(model.trainable_variables)
    step = tf.function(model.train_step, jit_compile=recipe.jit_compile)
    for _ in range(2):
        float(step(batch)["loss"])
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(batch)["loss"]
    float(loss)
    return (time.perf_counter() - start) / steps * 1000.0


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="conv4")
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    print("command: python benchmarks/step_speed.py " + shlex.join(sys.argv[1:] if argv is None else argv))

    images = load_omniglot("images_evaluation", image_size=args.image_size)
    batch = next(iter(pair_stream(images, args.batch_size, seed=0, mode="random")))
    base = TwinRecipe(encoder=args.encoder, image_size=args.image_size, batch_size=args.batch_size,
                      feature_dim=4096 if args.encoder == "koch_105" else 256)
    results = {}
    for jit in (False, True):
        for mixed in (False, True):
            recipe = TwinRecipe(**{**base.__dict__, "jit_compile": jit, "mixed_precision": mixed})
            key = f"{'xla' if jit else 'no_xla'}_{'mixed' if mixed else 'float32'}_ms_per_step"
            results[key] = round(time_steps(recipe, batch, args.steps), 1)
            print(f"{key}: {results[key]}", flush=True)
    keras.mixed_precision.set_global_policy("float32")
    summary = {"encoder": args.encoder, "image_size": args.image_size, "batch_size": args.batch_size,
               **results, "device": device_report()}
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
