"""Helpers shared by the test suite and the root conftest (importable as `support`: see pyproject's
pytest `pythonpath`)."""

import json
import os
import re
from pathlib import Path


def in_ci() -> bool:
    """Whether this is a CI run (any true-ish CI value), where missing data must fail, never skip."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


# Each notebook names the datasets it reads in its install cell: `for dataset in ("omniglot",):`.
_NOTEBOOK_DATASETS = re.compile(r"for dataset in \(([^)]*)\)")


def notebook_datasets(path: Path) -> tuple[str, ...]:
    """The datasets a notebook reads, as its install cell lists them."""
    cells = json.loads(Path(path).read_text(encoding="utf-8")).get("cells", [])
    source = "\n".join("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code")
    found = _NOTEBOOK_DATASETS.search(source)
    return tuple(re.findall(r"['\"](\w+)['\"]", found.group(1))) if found else ()


def load_benchmark(name: str):
    """A script of `benchmarks/` imported as a module (they are scripts, not a package), e.g. `"index"`."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
