"""The project's own files agree: pyproject.toml and environment.yml list the same dependencies."""

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _split(requirement: str) -> tuple[str, str]:
    requirement = requirement.split(";")[0].strip()
    name, spec = re.match(r"^([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", requirement).groups()
    return re.sub(r"[-_.]+", "-", name).lower(), spec.replace(" ", "")


# Extras the conda environment leaves to pip, each several GB: environment.yml's comment names the command.
NOT_IN_CONDA = {"backends"}


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for name, extra in project["optional-dependencies"].items():
        if name not in NOT_IN_CONDA:
            wanted += [r for r in extra if "python_version" not in r]
    return dict(_split(r) for r in wanted)


def environment_requirements() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        match = re.match(r"^\s+-\s+([^#\s][^#]*?)\s*$", line)
        if not match or match.group(1) in ("pip", "pip:", "-e ."):
            continue
        name, spec = _split(match.group(1))
        if name not in ("python", "conda-forge"):
            entries[name] = spec
    return entries


def test_environment_yml_matches_pyproject():
    assert environment_requirements() == pyproject_requirements()


def test_pyproject_declares_what_the_brief_requires():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "siamese-kit"
    assert project["scripts"]["siamese-kit"] == "siamese_kit.cli:main"
    assert project["requires-python"] == ">=3.10"
    names = set(pyproject_requirements())
    # tensorflow-datasets 4.9 imports importlib_resources without declaring it.
    for needed in ("tensorflow", "keras", "tensorflow-datasets", "importlib-resources", "matplotlib",
                   "numpy", "pillow", "tqdm", "ipywidgets", "pytest", "nbval", "jupyterlab"):
        assert needed in names, needed
    assert pyproject_requirements()["tensorflow"] == ">=2.16"
    # The lowest Keras whose replicated training matches one device (see pyproject.toml).
    assert pyproject_requirements()["keras"] == ">=3.10"


def test_the_floors_environment_pins_exactly_the_declared_floors():
    """constraints-floors.txt (what `make test-floors` installs) pins TensorFlow and Keras to the
    lowest versions pyproject.toml allows, so a passing floors run proves the floors true."""
    pins = dict(_split(line) for line in (ROOT / "constraints-floors.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#"))
    declared = pyproject_requirements()
    for name in ("tensorflow", "keras"):
        floor = declared[name].removeprefix(">=")
        assert pins[name].startswith("==" + floor), (name, pins[name], declared[name])
    assert "test-floors:" in (ROOT / "Makefile").read_text()
    assert "make test-floors" in (ROOT / ".ci" / "run").read_text()


def test_the_licence_is_an_spdx_string_that_current_setuptools_builds():
    document = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # A table (license = {text = ...}) is deprecated and stops building with setuptools after 2027-02-18.
    assert document["project"]["license"] == "MIT"
    assert "setuptools>=77" in document["build-system"]["requires"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
