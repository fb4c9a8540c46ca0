"""What a student should see: each notebook's headline numbers over several training seeds at class size.

A student whose run prints 0.842 where the committed notebook says 0.860 wants to know whether that is
normal. This script runs each training notebook top to bottom with `SIAMESE_KIT_SEED` set (the seed of
the tower's weights and of the training stream; the data splits and the test pairs and episodes stay
fixed), reads the JSON summary line the notebook prints at the end, and reports each headline number's
range over the seeds. Seed 0 is what the committed notebooks ran; `--committed` reads it from their
saved outputs instead of running it again.

    python benchmarks/teaching_ranges.py --seeds 1 2 3 4 --committed \\
        --json benchmarks/results/teaching_ranges_cpu2.json

Each run executes in its own temporary folder (a copy of the notebook alone), so no run reuses another's
saved models or run folders. With --json the file is rewritten after every run, and runs already in it
are not repeated: an interrupted sweep continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# The numbers docs/teaching.md gives a range for, by notebook (dotted keys reach into nested summaries).
HEADLINES = {
    "02": ["centroid_accuracy", "pair_accuracy_10k", "open_set.twin_pair_accuracy", "open_set.twin_roc_auc",
           "open_set.softmax_pair_accuracy", "open_set.softmax_roc_auc"],
    "03": ["pair_accuracy_10k", "pair_accuracy_10k_before_calibration", "roc_auc"],
    "04": ["lake20_accuracy", "episodes_5way_1shot", "episodes_20way_1shot"],
    "09": ["roc_auc", "pair_accuracy", "n_way_accuracy", "identify_top1"],
    "10": ["semi_hard_twenty_way", "semi_hard_map_at_r", "batch_hard_twenty_way",
           "batch_hard_on_sphere_twenty_way"],
}


def notebook_path(number: str) -> Path:
    """The notebook file whose name starts with `number_`."""
    found = sorted(NOTEBOOKS.glob(f"{number}_*.ipynb"))
    if len(found) != 1:
        raise SystemExit(f"teaching_ranges: expected one notebook {number}_*.ipynb in {NOTEBOOKS}, found {found}")
    return found[0]


def summary_of(notebook: dict, number: str) -> dict:
    """The last printed JSON object carrying `"notebook": number` in an executed notebook."""
    found = None
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            for line in (text if isinstance(text, str) else "".join(text)).splitlines():
                if line.startswith("{") and f'"notebook": "{number}"' in line:
                    found = json.loads(line)
    if found is None:
        raise ValueError(f"notebook {number} printed no JSON summary line")
    return found


def lookup(summary: dict, dotted: str):
    value = summary
    for part in dotted.split("."):
        value = value[part]
    return value


def run_notebook(number: str, seed: int, size: str) -> tuple[dict, float]:
    """Executes notebook `number` with `seed` in a temporary folder; returns its summary and seconds."""
    source = notebook_path(number)
    with tempfile.TemporaryDirectory(prefix=f"ranges_{number}_{seed}_") as folder:
        copy = Path(folder) / source.name
        shutil.copy(source, copy)
        environment = {**os.environ, "SIAMESE_KIT_SEED": str(seed), "SIAMESE_KIT_SIZE": size}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                        "--ExecutePreprocessor.timeout=3600", str(copy)], check=True, env=environment,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seconds = time.perf_counter() - start
        return summary_of(json.loads(copy.read_text()), number), seconds


def ranges(runs: dict) -> dict:
    """Per notebook and headline: values by seed, min, max, mean."""
    table = {}
    for number, keys in HEADLINES.items():
        by_seed = runs.get(number, {})
        if not by_seed:
            continue
        table[number] = {}
        for key in keys:
            values = {seed: lookup(run["summary"], key) for seed, run in sorted(by_seed.items(), key=lambda x: int(x[0]))}
            numbers = list(values.values())
            table[number][key] = {"by_seed": values, "min": min(numbers), "max": max(numbers),
                                  "mean": round(sum(numbers) / len(numbers), 4), "seeds": len(numbers)}
    return table


def markdown_table(table: dict) -> str:
    """The ranges as the table docs/teaching.md carries: notebook, number, seed 0, range, mean, seeds."""
    lines = ["| notebook | number | seed 0 (committed) | range over the seeds | mean | seeds |", "|---|---|---|---|---|---|"]
    for number, keys in table.items():
        for key, row in keys.items():
            committed = row["by_seed"].get("0")
            lines.append(f"| {number} | `{key}` | {committed if committed is not None else '-'} | "
                         f"{row['min']:.4f} to {row['max']:.4f} | {row['mean']:.4f} | {row['seeds']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", nargs="+", default=list(HEADLINES), choices=list(HEADLINES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--size", default="class", choices=["quick", "class", "full"])
    parser.add_argument("--committed", action="store_true",
                        help="read seed 0 from the committed notebooks' outputs (class size) instead of running it")
    parser.add_argument("--json", type=Path, help="write (and resume from) this file")
    parser.add_argument("--markdown", action="store_true",
                        help="print the --json file's ranges as docs/teaching.md's table and run nothing")
    args = parser.parse_args(argv)
    if args.markdown:
        if not args.json or not args.json.exists():
            raise SystemExit("teaching_ranges: --markdown reads the file given with --json; there is none")
        print(markdown_table(ranges(json.loads(args.json.read_text())["runs"])))
        return 0

    record = {"command": "python benchmarks/" + " ".join(shlex.quote(a) for a in [Path(__file__).name, *(argv or sys.argv[1:])]),
              "size": args.size, "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores", "runs": {}}
    if args.json and args.json.exists():
        record["runs"] = json.loads(args.json.read_text()).get("runs", {})
    if args.committed:
        for number in args.notebooks:
            summary = summary_of(json.loads(notebook_path(number).read_text()), number)
            if summary.get("size") != "class" or summary.get("seed", 0) != 0:
                raise SystemExit(f"teaching_ranges: committed notebook {number} ran size {summary.get('size')!r}, "
                                 f"seed {summary.get('seed')!r}; --committed needs a class-size run with seed 0")
            record["runs"].setdefault(number, {})["0"] = {"summary": summary, "seconds": None, "from": "committed"}
    # Seeds outside, notebooks inside: an interrupted sweep still has every notebook at some seeds.
    for seed in args.seeds:
        for number in args.notebooks:
            if str(seed) in record["runs"].get(number, {}):
                continue
            summary, seconds = run_notebook(number, seed, args.size)
            if summary.get("seed") != seed or summary.get("size") != args.size:
                raise SystemExit(f"teaching_ranges: notebook {number} reported seed {summary.get('seed')!r}, size "
                                 f"{summary.get('size')!r}; it does not read SIAMESE_KIT_SEED / SIAMESE_KIT_SIZE")
            record["runs"].setdefault(number, {})[str(seed)] = {"summary": summary, "seconds": round(seconds)}
            print(f"notebook {number}, seed {seed}: {seconds:.0f} s", file=sys.stderr, flush=True)
            record["ranges"] = ranges(record["runs"])
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                temporary = args.json.with_suffix(".tmp")
                temporary.write_text(json.dumps(record, indent=1) + "\n")
                temporary.replace(args.json)
    record["ranges"] = ranges(record["runs"])
    if args.json:
        args.json.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["ranges"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
