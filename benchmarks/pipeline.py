"""Input pipeline, training feed, memory and one-shot evaluation speed, against the tutorials' ways.

    python benchmarks/pipeline.py                  # the full run (a few minutes on 2 CPU cores)
    python benchmarks/pipeline.py --quick          # a short run, for tests
    python benchmarks/pipeline.py --out benchmarks/results/pipeline_cpu2.json
    python benchmarks/pipeline.py --memory-probe stream --copies 4    # one memory probe on its own

On MNIST (train, N = 60,000 images) and Lake's 20 one-shot runs, in one run:

(a) pairs per second from `pair_stream` (batches of 64), from a Python generator that builds each
    batch the way the MATLAB tutorial's getTwinBatch does (per pair: a coin flip, a class lookup,
    two images copied into a numpy batch; wrapped in `tf.data.Dataset.from_generator`), and from
    keras.io's `make_pairs` (one positive and one negative pair per image, all 2N pairs built in
    numpy first; its time is building them plus iterating them in batches). Every source is drained
    the way `fit` drains a dataset, inside a `tf.function`, reading every image of every batch.
    The generator is timed twice: as MATLAB writes it (the class list and each class's images are
    looked up again for every pair, `generator_pairs_per_s`) and with those lookups made once
    (`generator_tables_pairs_per_s`), the best a per-pair Python loop can do.
(b) training steps per second of the contrastive recipe fed by the stream, against the same model
    fed one pre-built batch repeated (the upper bound: no input work at all). One model is built and
    warmed up by `fit` on each feed; then `fit`'s compiled step (`model.train_function`, which pulls
    the batch inside the graph) runs on the two feeds in alternating turns of a few steps, so both
    share whatever else loads the machine. The same procedure on the in-memory batch against itself
    is reported as a control: how far noise alone moves the ratio on this machine.
(c) peak resident memory (VmHWM) of a fresh process that loads the training set (N or 4N images,
    4N = MNIST train tiled 4 times), builds a pair stream and runs training steps, and of one that
    builds keras.io's pairs for N images and trains on them. Each process first reads its own
    baseline: its peak with TensorFlow, Keras and siamese_kit imported and nothing loaded. Beside
    the data's size it reports how much the peak above baseline grows from N to 4N (the data grows
    4x) and the extra peak per extra MB of data (1 would be the data alone; the stream keeps one
    tensor copy of the pixels beside the ImageSet's numpy array, so about 2 is expected).
(d) one-shot evaluation time over Lake's 20 runs: `evaluate_lake_runs` (each image embedded once,
    the head scores embeddings) against calling the full twin on every (test, candidate) pair, one
    call per trial (20 pairs: one test image against its run's 20 candidates), 20 x 20 x 20 = 8,000
    pairs in 400 calls (and, as a stronger baseline, one call per run holding its 400 pairs). The
    twin is `TwinRecipe`'s conv4 at 28 px with random weights (the head's
    drawn wider than at initialisation, so that scores spread out and the choices compared are not
    decided by float ties). Both ways must choose the same candidates.

Prints `command: ...` first and a JSON summary as the last line; writes nothing unless `--out` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BATCH_SIZE = 64
PROBES = ("stream", "make_pairs")

FULL = dict(stream_batches=4000, generator_batches=20, tables_batches=300, make_pairs_images=None,
            warmup=20, steps=300, block=5, probe_steps=20, probe_images=None, lake_runs=20)
QUICK = dict(stream_batches=300, generator_batches=3, tables_batches=20, make_pairs_images=4000,
             warmup=3, steps=10, block=5, probe_steps=3, probe_images=15000, lake_runs=1)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (VmHWM), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss is in kilobytes on Linux (bytes on macOS, where /proc is missing).
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def load_train(copies: int = 1, images: int | None = None):
    """MNIST train (its first `images` images when given), tiled `copies` times, as an ImageSet."""
    from siamese_kit.data import ImageSet, load_dataset

    train = load_dataset("mnist", split="train")
    if images is None and copies == 1:
        return train
    pixels = np.concatenate([train.images[:images]] * copies)
    labels = np.concatenate([train.labels[:images]] * copies)
    del train  # the tiled copy is the data now; the loaded one is freed, as a user's would be
    return ImageSet(pixels, labels, class_names=tuple(str(d) for d in range(10)), name=f"mnist/train x{copies}")


# (a) pair sources ---------------------------------------------------------------------------------


def twin_batches(images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int, hoisted: bool):
    """Endless `(features, pair_label)` batches, built pair by pair in Python as getTwinBatch does.

    For each pair a coin flip picks a same-class pair (a random class, two distinct images of it) or
    a different-class pair (two distinct classes, one image of each); the images are copied into
    numpy batch arrays. As in MATLAB, the class list (`unique`) and the images of the chosen classes
    (`find`) are looked up again for every pair, unless `hoisted` computes them once beforehand.
    Pair label: 1 = same class, 0 = different.
    """
    rng = np.random.default_rng(seed)
    if hoisted:
        known_classes = np.unique(labels)
        tables = {c: np.flatnonzero(labels == c) for c in known_classes}
    while True:
        first = np.zeros((batch_size, *images.shape[1:]), np.uint8)
        second = np.zeros_like(first)
        pair_label = np.zeros(batch_size, np.float32)
        for i in range(batch_size):
            classes = known_classes if hoisted else np.unique(labels)
            members = tables.__getitem__ if hoisted else (lambda c: np.flatnonzero(labels == c))
            if rng.random() < 0.5:
                pool = members(classes[rng.integers(len(classes))])
                a, b = pool[rng.choice(len(pool), 2, replace=False)]
                pair_label[i] = 1
            else:
                c1, c2 = classes[rng.choice(len(classes), 2, replace=False)]
                pool1, pool2 = members(c1), members(c2)
                a, b = pool1[rng.integers(len(pool1))], pool2[rng.integers(len(pool2))]
            first[i], second[i] = images[a], images[b]
        yield {"image_a": first, "image_b": second}, pair_label


def generator_stream(imageset, batch_size: int, seed: int = 0, hoisted: bool = False):
    """`twin_batches` as a `tf.data.Dataset` (`from_generator`), prefetched like the stream."""
    import tensorflow as tf

    shape = (batch_size, *imageset.image_shape)
    signature = ({"image_a": tf.TensorSpec(shape, tf.uint8), "image_b": tf.TensorSpec(shape, tf.uint8)},
                 tf.TensorSpec((batch_size,), tf.float32))
    return tf.data.Dataset.from_generator(
        lambda: twin_batches(imageset.images, imageset.labels, batch_size, seed, hoisted),
        output_signature=signature,
    ).prefetch(tf.data.AUTOTUNE)


def make_pairs(images: np.ndarray, labels: np.ndarray, seed: int = 0):
    """keras.io's `make_pairs`: for every image one same-class and one different-class partner.

    Returns:
        `(pairs, pair_label)`: uint8 `[2N, 2, H, W, C]` (every pair's two images copied) and float32
        `[2N]`, 1 = same class, 0 = different (siamese-kit's convention).
    """
    rng = random.Random(seed)
    num_classes = int(labels.max()) + 1
    members = [np.flatnonzero(labels == c) for c in range(num_classes)]
    pairs, pair_label = [], []
    for first in range(len(images)):
        label = labels[first]
        pairs.append([images[first], images[rng.choice(members[label])]])
        pair_label.append(1)
        other = rng.randint(0, num_classes - 1)
        while other == label:
            other = rng.randint(0, num_classes - 1)
        pairs.append([images[first], images[rng.choice(members[other])]])
        pair_label.append(0)
    return np.array(pairs), np.array(pair_label, dtype=np.float32)


def make_pairs_dataset(pairs: np.ndarray, pair_label: np.ndarray, batch_size: int):
    """The materialised pairs as a batched dataset, as keras.io feeds `fit` with `[x_1, x_2]`."""
    import tensorflow as tf

    features = {"image_a": pairs[:, 0], "image_b": pairs[:, 1]}
    return tf.data.Dataset.from_tensor_slices((features, pair_label)).batch(batch_size)


def drain(dataset, batches: int, warmup: int = 0) -> float:
    """Seconds to pull `batches` batches after `warmup` ones, inside a `tf.function` as `fit` does.

    Each batch's images are all read (their maximum is taken), so nothing is left unmade.
    """
    import tensorflow as tf

    iterator = iter(dataset)

    @tf.function
    def pull(count):
        checksum = tf.constant(0, tf.int32)
        for _ in tf.range(count):
            features, _ = next(iterator)
            checksum += tf.cast(tf.reduce_max(features["image_a"]), tf.int32)
            checksum += tf.cast(tf.reduce_max(features["image_b"]), tf.int32)
        return checksum

    pull(tf.constant(max(warmup, 1))).numpy()  # traces the function and fills the buffers
    start = time.perf_counter()
    pull(tf.constant(batches)).numpy()
    return time.perf_counter() - start


def measure_pair_sources(train, settings: dict) -> dict:
    """(a): pairs per second of the stream, the getTwinBatch generator (both ways) and make_pairs."""
    from siamese_kit.data import pair_stream

    results = {}
    stream = pair_stream(train, BATCH_SIZE, seed=0, mode="random")
    seconds = drain(stream, settings["stream_batches"], warmup=50)
    results["stream_pairs_per_s"] = settings["stream_batches"] * BATCH_SIZE / seconds
    for key, hoisted, batches in (("generator_pairs_per_s", False, settings["generator_batches"]),
                                  ("generator_tables_pairs_per_s", True, settings["tables_batches"])):
        seconds = drain(generator_stream(train, BATCH_SIZE, hoisted=hoisted), batches, warmup=1)
        results[key] = batches * BATCH_SIZE / seconds
    images, labels = train.images, train.labels
    if settings["make_pairs_images"]:
        images, labels = images[: settings["make_pairs_images"]], labels[: settings["make_pairs_images"]]
    start = time.perf_counter()
    pairs, pair_label = make_pairs(images, labels)
    dataset = make_pairs_dataset(pairs, pair_label, BATCH_SIZE)
    batches = -(-len(pairs) // BATCH_SIZE)
    built = time.perf_counter() - start
    iterated = drain(dataset.repeat(), batches, warmup=0)
    results["make_pairs_pairs_per_s"] = len(pairs) / (built + iterated)
    results["make_pairs_images"] = len(images)
    results["make_pairs_build_s"] = built
    results["make_pairs_iterate_s"] = iterated
    return results


# (b) training feed --------------------------------------------------------------------------------


def _alternate(model, iterators: dict, steps: int, block: int) -> dict:
    """Wall and CPU seconds per block of `block` steps, for each feed, the feeds taking turns.

    Each turn runs `model.train_function` (the compiled step `fit` runs, pulling its batch from the
    iterator inside the graph) once untimed, so the previous feed's last step does not spill into
    this one's time, then `block` timed steps. Turns go A B B A A B ... so drifts cancel.
    """
    wall = {name: [] for name in iterators}
    cpu = {name: [] for name in iterators}
    for number in range(-(-steps // block)):
        order = list(iterators) if number % 2 == 0 else list(iterators)[::-1]
        for name in order:
            float(model.train_function(iterators[name])["loss"])
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            for _ in range(block):
                logs = model.train_function(iterators[name])
            float(logs["loss"])
            wall[name].append(time.perf_counter() - wall_start)
            cpu[name].append(time.process_time() - cpu_start)
    return {"wall": {k: np.array(v) for k, v in wall.items()}, "cpu": {k: np.array(v) for k, v in cpu.items()}}


def measure_training_feed(train, settings: dict) -> dict:
    """(b): steps per second of the contrastive recipe fed by the stream and by one repeated batch.

    One model trains on both feeds in turn, so both run the very same traced step and share whatever
    else loads the machine; the same procedure on the in-memory batch against itself (a control)
    shows how far the machine's noise alone moves the ratio.
    """
    import tensorflow as tf

    from siamese_kit.data import pair_stream
    from siamese_kit.recipes import ContrastiveRecipe, build_contrastive_model

    warmup, steps, block = settings["warmup"], settings["steps"], settings["block"]
    recipe = ContrastiveRecipe(iterations=warmup + 4 * steps, batch_size=BATCH_SIZE)
    stream = pair_stream(train, BATCH_SIZE, seed=recipe.seed, mode="alternate")
    batch = next(iter(stream))

    def in_memory():
        return tf.data.Dataset.from_tensors(batch).repeat()

    model = build_contrastive_model(recipe, train.image_shape, train.num_classes)
    # fit builds the optimizer and metrics and traces the step (its first `warmup` steps, untimed).
    model.fit(stream, steps_per_epoch=warmup, epochs=1, verbose=0, shuffle=False)
    model.fit(in_memory(), steps_per_epoch=warmup, epochs=1, verbose=0, shuffle=False)
    timed = _alternate(model, {"stream": iter(stream), "in_memory": iter(in_memory())}, steps, block)
    control = _alternate(model, {"a": iter(in_memory()), "b": iter(in_memory())}, steps, block)
    wall, cpu = timed["wall"], timed["cpu"]
    done = len(wall["stream"]) * block
    block_ratios = wall["in_memory"] / wall["stream"]
    return {
        "train_ratio_vs_in_memory": wall["in_memory"].sum() / wall["stream"].sum(),
        "stream_steps_per_s": done / wall["stream"].sum(),
        "in_memory_steps_per_s": done / wall["in_memory"].sum(),
        "train_ratio_median_of_turns": float(np.median(block_ratios)),
        "train_cpu_ratio_vs_in_memory": cpu["in_memory"].sum() / cpu["stream"].sum(),
        "train_ratio_control_in_memory_vs_itself": control["wall"]["b"].sum() / control["wall"]["a"].sum(),
        "train_steps_timed": (f"{done} steps per feed after {warmup} warm-up steps, in turns of {block} "
                              "(each turn after one untimed step), the feeds alternating"),
    }


# (c) memory ---------------------------------------------------------------------------------------


def memory_probe(kind: str, copies: int, steps: int, images: int | None) -> dict:
    """Runs in a fresh process: reads the baseline, loads, builds a feed, trains, reports peak RSS."""
    import keras  # noqa: F401
    import tensorflow as tf  # noqa: F401

    from siamese_kit.data import pair_stream
    from siamese_kit.recipes import ContrastiveRecipe, build_contrastive_model

    result = {"probe": kind, "copies": copies, "baseline_mb": peak_rss_mb()}
    train = load_train(copies, images)
    result["images"] = len(train)
    result["data_mb"] = train.images.nbytes / 2**20
    if kind == "stream":
        dataset = pair_stream(train, BATCH_SIZE, seed=0)
    else:
        pairs, pair_label = make_pairs(train.images, train.labels)
        result["pairs_mb"] = pairs.nbytes / 2**20
        dataset = make_pairs_dataset(pairs, pair_label, BATCH_SIZE).repeat()
    model = build_contrastive_model(ContrastiveRecipe(iterations=steps), train.image_shape, train.num_classes)
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def run_memory_probes(settings: dict) -> dict:
    """(c): the three probes, each in its own fresh process, run side by side (memory is per process)."""
    plan = {"N": ("stream", 1), "4N": ("stream", 4), "keras.io": ("make_pairs", 1)}
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    running = {}
    for name, (kind, copies) in plan.items():
        command = [sys.executable, __file__, "--memory-probe", kind, "--copies", str(copies),
                   "--probe-steps", str(settings["probe_steps"])]
        if settings["probe_images"]:
            command += ["--probe-images", str(settings["probe_images"])]
        running[name] = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    probes = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=900)
        if process.returncode != 0:
            raise RuntimeError(f"memory probe {name} failed:\n{err[-3000:]}")
        probes[name] = json.loads(out.strip().splitlines()[-1])
    above = {name: probe["peak_rss_mb"] - probe["baseline_mb"] for name, probe in probes.items()}
    data_n, data_4n = probes["N"]["data_mb"], probes["4N"]["data_mb"]
    return {
        "N": round(probes["N"]["peak_rss_mb"], 1),
        "4N": round(probes["4N"]["peak_rss_mb"], 1),
        "keras.io": round(probes["keras.io"]["peak_rss_mb"], 1),
        "baseline": round(probes["N"]["baseline_mb"], 1),
        "data_N": round(data_n, 1),
        "data_4N": round(data_4n, 1),
        "keras.io_pairs": round(probes["keras.io"]["pairs_mb"], 1),
        "images_N": probes["N"]["images"],
        "above_baseline": {name: round(value, 1) for name, value in above.items()},
        "data_growth": round(data_4n / data_n, 2),
        "above_baseline_growth": round(above["4N"] / above["N"], 2),
        "extra_peak_per_extra_data_mb": round((above["4N"] - above["N"]) / (data_4n - data_n), 2),
        "grows_no_faster_than_data": bool(above["4N"] <= (data_4n / data_n) * above["N"]),
    }


# (d) one-shot evaluation --------------------------------------------------------------------------


def pair_call_choices(model, runs, per_run: bool = False) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The naive evaluation: the full twin on every (test, candidate) pair.

    One call per trial (a test image against its run's candidates), or with `per_run` one call per
    run holding all its pairs.
    """
    choices, scores = [], []
    for run in runs:
        queries = len(run.query_images)
        if per_run:
            first = np.repeat(run.query_images, run.ways, axis=0)
            second = np.tile(run.support_images, (queries, 1, 1, 1))
            run_scores = np.asarray(model((first, second), training=False)).reshape(queries, run.ways)
        else:
            run_scores = np.stack([
                np.asarray(model((np.repeat(query[np.newaxis], run.ways, axis=0), run.support_images),
                                 training=False))
                for query in run.query_images
            ])
        scores.append(run_scores)
        choices.append(np.argmax(run_scores, axis=-1))
    return choices, scores


def measure_one_shot(settings: dict) -> dict:
    """(d): Lake's runs evaluated embed-once and by calling the twin on every pair."""
    import keras

    from siamese_kit.data import load_lake_runs
    from siamese_kit.evaluation import evaluate_lake_runs
    from siamese_kit.recipes import TwinRecipe, build_twin_model

    runs = load_lake_runs(image_size=28)[: settings["lake_runs"]]
    model = build_twin_model(TwinRecipe(image_size=28))
    kernel = model.head.dense.kernel
    kernel.assign(keras.random.normal(kernel.shape, stddev=0.3, seed=1))
    evaluate_lake_runs(model, runs[:1])  # warm-up: first calls build and trace
    pair_call_choices(model, runs[:1])
    pair_call_choices(model, runs[:1], per_run=True)
    start = time.perf_counter()
    report = evaluate_lake_runs(model, runs)
    embed_once = time.perf_counter() - start
    start = time.perf_counter()
    choices, scores = pair_call_choices(model, runs)
    pair_calls = time.perf_counter() - start
    start = time.perf_counter()
    run_choices, run_scores = pair_call_choices(model, runs, per_run=True)
    run_calls = time.perf_counter() - start
    trials = sum(len(run.query_images) for run in runs)
    pairs = sum(len(run.query_images) * run.ways for run in runs)
    per_trial = sum(int((a == b).sum()) for a, b in zip(choices, report.choices))
    per_run = sum(int((a == b).sum()) for a, b in zip(run_choices, report.choices))
    difference = max(float(np.abs(a - b).max()) for a, b in zip(scores + run_scores, report.scores * 2))
    return {
        "eval_speedup_embed_once": pair_calls / embed_once,
        "eval_embed_once_s": embed_once,
        "eval_pair_calls_s": pair_calls,
        "eval_pair_calls": f"{pairs} pairs through the full twin in {trials} calls (one per trial)",
        "eval_speedup_vs_one_call_per_run": run_calls / embed_once,
        "eval_runs": len(runs),
        "eval_same_choices": per_trial == per_run == trials,
        "eval_choices_agreeing": f"{per_trial}/{trials} (one call per trial), {per_run}/{trials} (one call per run)",
        "eval_max_score_difference": difference,
    }


# --------------------------------------------------------------------------------------------------


def _rounded(summary: dict) -> dict:
    def tidy(value):
        if isinstance(value, np.floating):
            value = float(value)
        if isinstance(value, float):
            if 0 < abs(value) < 1e-3:
                return float(f"{value:.3g}")
            return round(value, 4) if abs(value) < 100 else round(value, 1)
        if isinstance(value, list):
            return [tidy(v) for v in value]
        return value

    return {key: tidy(value) for key, value in summary.items()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run (for tests); its numbers are rough")
    parser.add_argument("--out", type=Path, help="also write the JSON summary to this file")
    parser.add_argument("--memory-probe", choices=PROBES, help="run one memory probe and exit")
    parser.add_argument("--copies", type=int, default=1, help="memory probe: tile the training set this many times")
    parser.add_argument("--probe-steps", type=int, default=20, help="memory probe: training steps to run")
    parser.add_argument("--probe-images", type=int, help="memory probe: use the first this many MNIST images")
    args = parser.parse_args(argv)
    if args.copies < 1:
        parser.error(f"--copies must be 1 or more, got {args.copies}")
    if args.probe_steps < 1:
        parser.error(f"--probe-steps must be 1 or more, got {args.probe_steps}")
    arguments = sys.argv[1:] if argv is None else list(argv)
    command = "python benchmarks/pipeline.py " + shlex.join(arguments)
    if args.memory_probe:
        result = memory_probe(args.memory_probe, args.copies, args.probe_steps, args.probe_images)
        print(json.dumps(result))
        return result
    print(f"command: {command}", flush=True)
    settings = QUICK if args.quick else FULL
    started = time.perf_counter()

    # Memory first, while this process is idle, so the probes neither disturb nor feel the timings.
    peak = run_memory_probes(settings)
    print(f"[{time.perf_counter() - started:.0f}s] peak RSS MB: {peak}", flush=True)

    from siamese_kit.devices import device_report

    train = load_train()
    sources = measure_pair_sources(train, settings)
    print(f"[{time.perf_counter() - started:.0f}s] pair sources: {_rounded(sources)}", flush=True)
    training = measure_training_feed(train, settings)
    print(f"[{time.perf_counter() - started:.0f}s] training feed: {_rounded(training)}", flush=True)
    one_shot = measure_one_shot(settings)
    print(f"[{time.perf_counter() - started:.0f}s] one-shot: {_rounded(one_shot)}", flush=True)

    summary = _rounded({
        "command": command,
        "stream_pairs_per_s": sources.pop("stream_pairs_per_s"),
        "generator_pairs_per_s": sources.pop("generator_pairs_per_s"),
        "make_pairs_pairs_per_s": sources.pop("make_pairs_pairs_per_s"),
        "train_ratio_vs_in_memory": training.pop("train_ratio_vs_in_memory"),
        "peak_rss_mb": peak,
        "eval_speedup_embed_once": one_shot.pop("eval_speedup_embed_once"),
        "device": device_report(),
        **sources,
        **training,
        **one_shot,
        "batch_size": BATCH_SIZE,
        "images_N": len(train),
        "quick": args.quick,
    })
    summary["stream_vs_generator"] = round(summary["stream_pairs_per_s"] / summary["generator_pairs_per_s"], 1)
    summary["stream_vs_generator_tables"] = round(
        summary["stream_pairs_per_s"] / summary["generator_tables_pairs_per_s"], 1)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
