"""Ready for the classroom: every notebook opens with what it teaches, what it assumes and how long it
runs, installs itself only where siamese-kit is missing, ends with a summary and exercises, and
`make docs` renders them all to HTML for students who cannot run them."""

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NOTEBOOKS = LESSONS + sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))


def test_the_course_has_its_notebooks():
    assert [p.name[:2] for p in LESSONS] == [f"{n:02d}" for n in range(1, len(LESSONS) + 1)]
    assert len(LESSONS) >= 8 and (ROOT / "notebooks" / "solutions" / "exercises_solutions.ipynb") in NOTEBOOKS


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_each_lesson_opens_with_its_aims_and_times_and_ends_with_exercises(path):
    cells = nbformat.read(path, as_version=4).cells
    opening = cells[0].source
    assert cells[0].cell_type == "markdown" and opening.startswith(f"# {path.name[:2]} ·")
    for words in ("**What this notebook teaches.**", "**Assumes:**", "**Run time on 2 CPU cores:**"):
        assert words in opening, (path.name, words)
    runtime = opening.split("**Run time on 2 CPU cores:**", 1)[1].split("\n\n", 1)[0]
    assert "quick mode" in runtime and "full mode" in runtime
    # The quick time is a measurement, never a placeholder.
    assert re.search(r"quick mode[^;]*?\s(about )?\d+ (s|seconds|min)\b", runtime), runtime
    assert "TIME" not in runtime

    summary = cells[-1].source
    assert cells[-1].cell_type == "markdown" and summary.startswith("## Summary")
    exercises = summary.split("**Exercises.**", 1)[1]
    numbered = re.findall(r"^(\d)\. ", exercises, flags=re.M)
    assert numbered == [str(n) for n in range(1, len(numbered) + 1)] and 2 <= len(numbered) <= 4, numbered


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_first_code_cell_installs_only_where_siamese_kit_is_missing(path, monkeypatch):
    cell = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert 'SIAMESE_KIT_SOURCE = "git+https://github.com/' in cell.source and "placeholder" in cell.source

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    exec(compile(cell.source, f"{path.name}: install cell", "exec"), {})
    assert calls == [], "siamese_kit is installed here, so the cell must not run pip"

    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises((ImportError, RuntimeError)):
        # Where the package is missing the cell runs pip (recorded here, not run) and then, for the
        # notebooks that read data, fetches it; the fake missing package makes that import fail.
        monkeypatch.setitem(sys.modules, "siamese_kit.data", None)
        exec(compile(cell.source, f"{path.name}: install cell", "exec"), {})
        raise RuntimeError("no data to fetch")
    assert len(calls) == 1 and calls[0][0][:4] == [sys.executable, "-m", "pip", "install"]


def test_make_docs_renders_every_notebook_to_html(tmp_path):
    out = tmp_path / "html"
    venv = Path(sys.prefix)
    # -o: the environment running this test is already installed; make must not reinstall it.
    done = subprocess.run(
        ["make", "-s", "docs", f"DOCS_DIR={out}", f"VENV={venv}", "-o", f"{venv}/.installed"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    pages = {p.stem: p.read_text(encoding="utf-8") for p in out.glob("*.html")}
    assert sorted(pages) == sorted(p.stem for p in NOTEBOOKS)
    for path in NOTEBOOKS:
        page = pages[path.stem]
        title = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0].lstrip("# ").strip()
        assert title.split(" ", 1)[-1][:20] in page.replace("&#183;", "·"), path.name
        if path in LESSONS:
            # The committed outputs travel with the page: at least one picture or printed result.
            assert "data:image/png;base64," in page or "jp-OutputArea-output" in page, path.name
