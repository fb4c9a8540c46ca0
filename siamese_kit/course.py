"""Models the notebooks share, so a class running them in order trains each one once.

Notebook 02 trains the contrastive MNIST twin and 04 the one-shot Omniglot tower; both save what they
trained under `runs/course/` beside the notebooks. 05-07 (the twin) and 08 (the tower) load it when it
is there and was trained the way they need (same size of run, same recipe settings), and train it
themselves only when it is not, saving it for the next notebook:

    runs/course/NAME_SIZE.keras   the model (`keras.saving.load_model(..., safe_mode=True)`)
    runs/course/NAME_SIZE.json    the settings it was trained with, who trained it and how long

The settings file is written after the model, so a model without one (a kill mid-save) is never
used. Delete the folder, or set `SIAMESE_KIT_RETRAIN=1`, to make every notebook train its own.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ._files import replace_atomically, write_json

COURSE_FOLDER = Path("runs") / "course"
RETRAIN_VARIABLE = "SIAMESE_KIT_RETRAIN"


@dataclass(frozen=True)
class CourseModel:
    """A shared course model and where it came from.

    Args:
        model: the Keras model.
        path: its `.keras` file.
        settings: the settings it was trained with (as saved).
        loaded: True when it was read from `path`, False when it was trained just now.
        note: one line for the notebook's output: where the model came from and, when it was trained
            here, why.
    """

    model: object
    path: Path
    settings: dict
    loaded: bool
    note: str


def recipe_settings(recipe, **extra) -> dict:
    """The settings that make a recipe's model what it is, to save beside it and to ask for again.

    The training length and the evaluation sizes are left out: the quick, class and full sizes
    already keep apart, and a notebook that evaluates on fewer pairs can still use the model.

    Args:
        recipe: a recipe dataclass (`ContrastiveRecipe`, `OneShotRecipe`, ...).
        **extra: settings the recipe does not hold (the background set a notebook trains on).

    Returns:
        A JSON-ready dict.
    """
    settings = {name: value for name, value in dataclasses.asdict(recipe).items()
                if name != "iterations" and not name.startswith("eval_")}
    return json.loads(json.dumps({**settings, **extra}))


def course_paths(name: str, size: str, folder: Path | str = COURSE_FOLDER) -> tuple[Path, Path]:
    """The model and settings files of one shared model.

    Args:
        name: the model's name (`"contrastive_mnist"`, `"one_shot_omniglot"`).
        size: the notebooks' SIZE (`"quick"`, `"class"`, `"full"`): each size keeps its own model.
        folder: the course folder, relative to the notebooks.

    Returns:
        `(model_path, settings_path)`.
    """
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"course model name must be letters, digits and underscores, got {name!r}.")
    if not size or not size.isalnum():
        raise ValueError(f"course model size must be a word such as 'class', got {size!r}.")
    stem = Path(folder) / f"{name}_{size}"
    return stem.with_suffix(".keras"), stem.with_suffix(".json")


def save_course_model(model, name: str, size: str, settings: dict, trained_by: str, seconds: float,
                      folder: Path | str = COURSE_FOLDER) -> Path:
    """Save a trained model for the notebooks after this one.

    Args:
        model: the trained Keras model (serialisable: the toolkit's models are).
        name: the model's name.
        size: the notebooks' SIZE.
        settings: JSON-ready settings it was trained with; a later notebook loads it only when the
            settings it asks for are equal.
        trained_by: who trained it (`"notebook 02"`).
        seconds: how long training took, so a notebook that loads it can say what it saved.
        folder: the course folder.

    Returns:
        The `.keras` path.
    """
    model_path, settings_path = course_paths(name, size, folder)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    # The old settings go first: between the two writes no settings file claims the new model.
    settings_path.unlink(missing_ok=True)
    replace_atomically(model_path, model.save)
    write_json(settings_path, {"settings": settings, "trained_by": trained_by, "seconds": round(float(seconds), 1),
                               "saved": time.strftime("%Y-%m-%d %H:%M")})
    return model_path


def _saved_record(model_path: Path, settings_path: Path, settings: dict) -> tuple[dict | None, str | None]:
    """`(record, None)` when the saved model may be used, else `(None, why not)`."""
    settings = json.loads(json.dumps(settings))  # as the file holds them: tuples read back as lists
    if os.environ.get(RETRAIN_VARIABLE, "") not in ("", "0"):
        return None, f"{RETRAIN_VARIABLE} is set"
    if not model_path.exists():
        return None, f"no saved model at {model_path}"
    try:
        record = json.loads(settings_path.read_text())
        saved = record["settings"]
        differing = sorted(key for key in settings if saved.get(key) != settings[key])
    except FileNotFoundError:
        return None, f"{model_path} has no settings file beside it"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        return None, f"{settings_path} is unreadable ({error})"
    if differing:
        wanted = ", ".join(f"{key}={settings[key]!r} (saved: {saved.get(key)!r})" for key in differing)
        return None, f"the saved model was trained differently: {wanted}"
    return record, None


def course_model(name: str, size: str, settings: dict, train: Callable[[], object], trained_by: str,
                 folder: Path | str = COURSE_FOLDER) -> CourseModel:
    """Load the shared model when it was trained as `settings` say, else train it and save it.

    Args:
        name: the model's name.
        size: the notebooks' SIZE.
        settings: the settings this notebook needs (each must equal the saved one).
        train: a function of no arguments returning the trained model, called only when needed.
        trained_by: who trains it here (`"notebook 05"`), recorded when it is saved.
        folder: the course folder.

    Returns:
        A `CourseModel`; its `note` says whether it was loaded (and what that saved) or trained.
    """
    import keras

    model_path, settings_path = course_paths(name, size, folder)
    record, reason = _saved_record(model_path, settings_path, settings)
    if record is not None:
        try:
            model = keras.saving.load_model(model_path, safe_mode=True)
        except Exception as error:  # a damaged or foreign file: training again loses nothing
            reason = f"{model_path} could not be loaded ({type(error).__name__}: {error})"
        else:
            note = (f"loaded {model_path} (trained by {record.get('trained_by', '?')} in "
                    f"{float(record.get('seconds', 0)):.0f} s, {record.get('saved', '?')}): no training here")
            return CourseModel(model, model_path, record["settings"], True, note)
    start = time.perf_counter()
    model = train()
    seconds = time.perf_counter() - start
    save_course_model(model, name, size, settings, trained_by, seconds, folder)
    note = f"trained here in {seconds:.0f} s ({reason}); saved to {model_path} for the next notebooks"
    return CourseModel(model, model_path, settings, False, note)
