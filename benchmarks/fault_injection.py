"""Fault injection: kill a training run at random steps, resume it, and feed the toolkit bad input.

    python benchmarks/fault_injection.py                  # 4 kills in a 60-step run, checkpoint every 8
    python benchmarks/fault_injection.py --kills 6 --seed 1

Part 1 trains a tiny twin classifier (conv4, 28 px synthetic characters, Koch's distortions on, the
custom loop with a `Checkpointer`) in a child process and SIGKILLs it at seeded random steps, sometimes
in the middle of a save; each time it is started again with resume=True until it finishes. The end is
compared with an uninterrupted run of the same seed: final weights and loss curve must be identical.
`steps_lost_max` is the most steps any kill cost (done but not yet checkpointed).

Part 2 runs the bad-input table of `tests/test_bad_inputs.py` (loaders, streams, models, checkpoints,
notebook helpers, the CLI), imported by path so the tests and this benchmark use one table: each
input must be refused with the expected error type and message, leaving every file as it was.

The last line is JSON: `kills`, `resumed`, `steps_lost_max`, `bad_inputs_tried`,
`bad_inputs_refused_cleanly`, `files_changed` (must be 0), and details.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"


# ------------------------------------------------------------------ the child: one (resumable) run


def child(out: Path, steps: int, every: int, seed: int) -> None:
    """Trains (or resumes) the tiny run in `out`, printing `step N` after every step, then a JSON
    line with the restored step, a digest of the final weights and the loss curve."""
    from dataclasses import asdict

    import numpy as np

    from siamese_kit.checkpoint import Checkpointer
    from siamese_kit.data import AffineDistortion, ImageSet, pair_stream
    from siamese_kit.recipes import TwinRecipe, build_twin_model
    from siamese_kit.training import TrainingMonitor, train_loop

    rng = np.random.default_rng(123)
    labels = np.repeat(np.arange(8), 6)
    images = rng.integers(0, 60, (len(labels), 28, 28, 1)).astype(np.uint8)
    for label in range(8):
        images[labels == label, 3 * label : 3 * label + 3, 4:24, 0] = 255
    train_set = ImageSet(images, labels, name="synthetic characters")
    recipe = TwinRecipe(width=4, growth=2, feature_dim=8, iterations=steps, batch_size=8, seed=seed,
                        calibration_groups=0, distortions=True)
    model = build_twin_model(recipe)
    augment = AffineDistortion()

    class Printing(TrainingMonitor):
        def update(self, step, loss):
            super().update(step, loss)
            print(f"step {step}", flush=True)

    checkpoint = Checkpointer(out / "checkpoints", every=every, resume=True, config=asdict(recipe))
    result = train_loop(
        model, lambda start: pair_stream(train_set, recipe.batch_size, seed=seed, mode="random", augment=augment,
                                         start_batch=start),
        steps, monitor=Printing(steps, recipe.batch_size, record_every=1), checkpoint=checkpoint,
    )
    digest = hashlib.sha256()
    for weights in model.get_weights() + [np.asarray(v) for v in model.optimizer.variables]:
        digest.update(np.ascontiguousarray(weights).tobytes())
    print(json.dumps({"resumed_from": result["resumed_from"], "steps_done": result["steps_done"],
                      "digest": digest.hexdigest(), "losses": result["history"]["loss"]}), flush=True)


def _start(out: Path, args) -> subprocess.Popen:
    command = [sys.executable, __file__, "--child", str(out), "--steps", str(args.steps), "--every",
               str(args.every), "--seed", str(args.seed)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)


def _finish(process: subprocess.Popen) -> dict:
    lines = process.stdout.read().splitlines()
    if process.wait() != 0:
        raise RuntimeError(f"the training child failed (exit {process.returncode})")
    return json.loads(lines[-1])


def kill_and_resume(args, work: Path) -> dict:
    """Runs the reference, then the run killed at seeded random steps until it finishes."""
    import numpy as np

    reference = _finish(_start(work / "reference", args))
    rng = np.random.default_rng(args.seed)
    targets = sorted(rng.choice(np.arange(args.every + 1, args.steps), size=args.kills, replace=False).tolist())
    out, kills, lost, restored = work / "killed", [], [], []
    pending = None  # the step the previous kill happened at, until the next start says what survived
    for target in targets + [None]:
        process = _start(out, args)
        killed_at = None
        for line in process.stdout:
            if line.startswith("step "):
                step = int(line.split()[1])
                if pending is not None:
                    # The first step of a resumed run is the one after the checkpoint it restored.
                    restored.append(step - 1)
                    lost.append(pending - (step - 1))
                    pending = None
                if target is not None and step >= target:
                    process.send_signal(signal.SIGKILL)
                    killed_at = step
                    break
            else:
                final = json.loads(line)
        process.wait()
        process.stdout.close()
        if killed_at is not None:
            kills.append(killed_at)
            pending = killed_at
    if pending is not None:  # killed after its last step: the final start only restored
        restored.append(final["resumed_from"])
        lost.append(pending - final["resumed_from"])
    return {
        "kills": len(kills),
        "kill_steps": kills,
        "restored_steps": restored,
        "resumed": sum(1 for step in restored if step > 0),
        "steps_lost": lost,
        "steps_lost_max": max(lost, default=0),
        "final_weights_identical": final["digest"] == reference["digest"],
        "final_loss_curve_identical": final["losses"] == reference["losses"],
        "final_steps_done": final["steps_done"],
    }


# ------------------------------------------------------------------ bad inputs


def load_bad_input_table():
    """`tests/test_bad_inputs.py`, imported by path (with `tests/` on sys.path for its conftest)."""
    sys.path.insert(0, str(TESTS))
    spec = importlib.util.spec_from_file_location("bad_input_table", TESTS / "test_bad_inputs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def bad_inputs(work: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    table = load_bad_input_table()
    root = table.prepare_inputs(work / "bad_inputs")
    results = [table.run_row(row, root) for row in table.BAD_INPUTS]
    return {
        "bad_inputs_tried": len(results),
        "bad_inputs_refused_cleanly": sum(r["refused_cleanly"] for r in results),
        "files_changed": sum(len(r["files_changed"]) for r in results),
        "not_refused_cleanly": [{k: r[k] for k in ("name", "error", "message", "files_changed")}
                                for r in results if not r["refused_cleanly"]],
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=4, help="kill-and-resume cycles")
    parser.add_argument("--steps", type=int, default=60, help="steps of the tiny run")
    parser.add_argument("--every", type=int, default=8, help="checkpoint every this many steps")
    parser.add_argument("--seed", type=int, default=0, help="seeds the run and the kill steps")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child, args.steps, args.every, args.seed)
        return {}
    if not 1 <= args.kills <= args.steps - args.every - 1:
        parser.error(f"--kills must be between 1 and {args.steps - args.every - 1} for these --steps and --every")
    print("command: python benchmarks/fault_injection.py " + shlex.join(sys.argv[1:] if argv is None else argv),
          flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fault-injection-") as work:
        work = Path(work)
        resumes = kill_and_resume(args, work)
        print(f"kills at steps {resumes['kill_steps']}, restored at {resumes['restored_steps']}; final weights "
              f"identical to the uninterrupted run: {resumes['final_weights_identical']}", flush=True)
        refusals = bad_inputs(work)
        print(f"bad inputs refused cleanly: {refusals['bad_inputs_refused_cleanly']}/{refusals['bad_inputs_tried']}",
              flush=True)
    from siamese_kit.devices import device_report

    summary = {
        "kills": resumes["kills"],
        "resumed": resumes["resumed"],
        "steps_lost_max": resumes["steps_lost_max"],
        "bad_inputs_tried": refusals["bad_inputs_tried"],
        "bad_inputs_refused_cleanly": refusals["bad_inputs_refused_cleanly"],
        "files_changed": refusals["files_changed"],
        "final_weights_identical": resumes["final_weights_identical"],
        "final_loss_curve_identical": resumes["final_loss_curve_identical"],
        "kill_steps": resumes["kill_steps"],
        "restored_steps": resumes["restored_steps"],
        "steps_lost": resumes["steps_lost"],
        "steps": args.steps,
        "checkpoint_every": args.every,
        "seed": args.seed,
        "not_refused_cleanly": refusals["not_refused_cleanly"],
        "seconds": round(time.perf_counter() - start, 1),
        "device": device_report(),
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
