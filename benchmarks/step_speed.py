"""Training-step speed of the twin recipes with and without XLA and mixed precision, on this device.

    python benchmarks/step_speed.py                       # conv4 at 28 px, batch 128 (CPU recipe)
    python benchmarks/step_speed.py --encoder koch_105 --image-size 105 --batch-size 180   # faithful

Times the same step function the custom loop and `fit` use, on one fixed batch of real Omniglot
pairs (so the input pipeline is not measured), after a warm-up. The defaults of `TwinRecipe`
(`jit_compile=False`, `mixed_precision=False`) follow these numbers on CPU.

Then it times what surrounds the step, where per-step host work shows: `train_loop` itself on the
same repeated batch (the twin recipe, and a small LeNet contrastive twin whose step is short enough
for per-step overhead to matter), `embed` over the evaluation images, and `episode_accuracy` over
1,000 fixed 20-way episodes. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time

import keras
import tensorflow as tf

from siamese_kit.data import fixed_episodes, load_omniglot, pair_stream
from siamese_kit.devices import device_report
from siamese_kit.evaluation import episode_accuracy
from siamese_kit.recipes import ContrastiveRecipe, TwinRecipe, build_contrastive_model, build_twin_model
from siamese_kit.training import TrainingMonitor, train_loop


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


class _StepClock(TrainingMonitor):
    """Notes when each step is reported, so the loop's rate is read between two reported steps."""

    def __init__(self, total_steps: int):
        super().__init__(total_steps, 1)
        self.reported_at: dict[int, float] = {}

    def update(self, step: int, loss: float) -> None:
        super().update(step, loss)
        self.reported_at[step] = time.perf_counter()


def time_loop(model, batch, steps: int, warm_up: int = 10) -> float:
    """Returns milliseconds per step of `train_loop` on a repeated batch, after `warm_up` steps.

    Measured from the report of step `warm_up` to the report of the last step, so tracing and the
    first steps are left out, and a loop that reports in bursts is timed from burst to burst.
    """
    clock = _StepClock(warm_up + steps)
    train_loop(model, tf.data.Dataset.from_tensors(batch).repeat(), warm_up + steps, monitor=clock)
    return (clock.reported_at[warm_up + steps] - clock.reported_at[warm_up]) / steps * 1000.0


def time_embed(model, images) -> float:
    """Returns images embedded per second by `model.embed`, after one warm-up call."""
    model.embed(images[:512])
    start = time.perf_counter()
    model.embed(images)
    return len(images) / (time.perf_counter() - start)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="conv4")
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--loop-steps", type=int, default=100, help="train_loop steps timed (after 10 warm-up)")
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

    loop = {}
    loop["twin_loop_ms_per_step"] = time_loop(build_twin_model(base), batch, args.loop_steps)
    digits = pair_stream(images, 64, seed=0, mode="alternate")
    small = build_contrastive_model(ContrastiveRecipe(iterations=10 + args.loop_steps), images.image_shape,
                                    images.num_classes)
    loop["lenet_loop_ms_per_step"] = time_loop(small, next(iter(digits)), args.loop_steps)
    loop["embed_images_per_second"] = time_embed(small, images.images)
    episodes = fixed_episodes(images, 1000, ways=20, shots=1, queries=1, seed=0, within_group=True)
    embeddings = small.embed(images)
    start = time.perf_counter()
    episode_accuracy(small, images, episodes, embeddings)
    loop["episode_accuracy_ms_per_1000"] = (time.perf_counter() - start) * 1000.0
    for key, value in loop.items():
        results[key] = round(value, 1)
        print(f"{key}: {results[key]}", flush=True)
    summary = {"encoder": args.encoder, "image_size": args.image_size, "batch_size": args.batch_size,
               **results, "device": device_report()}
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
