"""Ready for the classroom: every notebook opens with what it teaches, what it assumes and how long it
runs, installs itself only where siamese-kit is missing, ends with a summary and exercises, and
`make docs` renders them all to HTML for students who cannot run them."""

import json
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


# The notebooks whose headline numbers benchmarks/teaching_ranges.py gives a range over seeds for.
SEED_RANGES = ("02", "03", "04", "09", "10")


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_each_lesson_opens_with_its_aims_and_times_and_ends_with_exercises(path):
    cells = nbformat.read(path, as_version=4).cells
    opening = cells[0].source
    assert cells[0].cell_type == "markdown" and opening.startswith(f"# {path.name[:2]} ·")
    for words in ("**What this notebook teaches.**", "**Assumes:**", "**Run time on 2 CPU cores:**"):
        assert words in opening, (path.name, words)
    runtime = opening.split("**Run time on 2 CPU cores:**", 1)[1].split("\n\n", 1)[0]
    trains = any(c.cell_type == "code" and "SIAMESE_KIT_SIZE" in c.source and "{\"quick\":" in c.source.replace("'", '"')
                 for c in cells)
    if trains:
        assert "quick size" in runtime and "class size" in runtime and "full size" in runtime, runtime
        # The class size is the default a student runs: its time is a number, never a placeholder.
        assert re.search(r"class size[^;]*?\s(about )?\d+([.,]\d+)? (s|seconds|min|minutes)\b", runtime), runtime
    else:
        assert re.search(r"\d+ (s|seconds|min|minutes)\b", runtime), runtime
    assert "TIME" not in runtime

    # A summary, then (for the training notebooks) the summary line's code cell and what a run of another
    # seed should show, then the exercises.
    assert any(c.cell_type == "markdown" and c.source.startswith("## Summary") for c in cells[-4:]), path.name
    if path.name[:2] in SEED_RANGES:
        expected = cells[-2]
        assert expected.cell_type == "markdown" and expected.source.startswith("**What you should see.**"), path.name
        assert "docs/teaching.md#what-you-should-see" in expected.source
        assert "\n## What you should see\n" in (ROOT / "docs" / "teaching.md").read_text()
    summary = cells[-1].source
    assert cells[-1].cell_type == "markdown" and "**Exercises.**" in summary
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
        # Read offline: nothing fetched from a CDN, no widget left to render blank.
        assert offline_problems(page) == [], path.name
        assert "widget-view+json" not in page and "widget-state+json" not in page, path.name


# What would make a page reach for the network when opened: a script or stylesheet from anywhere, or
# one of the CDNs nbconvert's default page loads require.js, MathJax, the widget renderer and mermaid from.
NETWORK = re.compile(
    r"<script[^>]*\bsrc=|<link[^>]*\bhref=[\"']?https?:|https?://cdn|unpkg|cdnjs|jsdelivr|@import|url\([\"']?https?:",
    re.I,
)


def offline_problems(page):
    return sorted({match.group(0) for match in NETWORK.finditer(page)})


def test_pages_read_offline_with_mathml_formulas_and_no_widgets(tmp_path):
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    from siamese_kit.docs_build import WIDGET_VIEW, main

    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
    notebook = new_notebook(cells=[
        new_markdown_cell(
            "# Offline\n\nThe distance $d = \\lVert f_1 - f_2 \\rVert_2$ of a pair, and its loss\n\n"
            "$$L = \\frac{1}{2N}\\sum_i y_i d_i^2$$\n\n"
            "A GPU hour costs $5 and a day $100; `echo $HOME` is code."
        ),
        new_code_cell("explorer", outputs=[
            new_output("display_data", data={
                WIDGET_VIEW: {"model_id": "5f1e0c", "version_major": 2, "version_minor": 0},
                "text/plain": "VBox(children=(HTML(value='<h4>Compare two images</h4>'),))",
            }),
            new_output("display_data", data={"image/png": png, "text/plain": "<Figure size 800x600 with 9 Axes>"}),
            new_output("display_data", data={
                WIDGET_VIEW: {"model_id": "77aa01", "version_major": 2, "version_minor": 0},
                "text/plain": "Training monitor: 40 of 40 steps",
            }),
        ]),
    ])
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {"5f1e0c": {"model_name": "VBoxModel"}}, "version_major": 2, "version_minor": 0}}
    source = tmp_path / "offline.ipynb"
    source.write_text(json.dumps(notebook), encoding="utf-8")

    assert main([str(tmp_path / "html"), str(source)]) == 0
    page = (tmp_path / "html" / "offline.html").read_text(encoding="utf-8")

    # Both formulas are MathML, drawn by the browser: no LaTeX left for a script to typeset.
    inline = re.search(r'<math display="inline"[^>]*>(.*?)</math>', page, re.S)
    block = re.search(r'<math display="block"[^>]*>(.*?)</math>', page, re.S)
    assert inline and "<mi>d</mi>" in inline.group(1) and "‖" in inline.group(1) and "<msub>" in inline.group(1)
    assert block and "<mfrac>" in block.group(1) and "∑" in block.group(1) and "<msubsup>" in block.group(1)
    assert page.count("<math") == 2
    assert "\\lVert" not in page and "\\frac" not in page and "$$" not in page
    # Dollars that are not formulas stay as they were written.
    assert "costs $5 and a day $100;" in page and "<code>echo $HOME</code>" in page

    # The picture stays; the widget views, their state and their repr go; nothing is fetched.
    assert f"data:image/png;base64,{png}" in page
    for gone in ("widget-view+json", "widget-state+json", "5f1e0c", "VBox(children", "VBoxModel"):
        assert gone not in page, gone
    assert "Training monitor: 40 of 40 steps" in page  # a widget's own readable text is kept
    assert offline_problems(page) == []
    assert "<script" not in page


def test_the_docs_build_imports_no_tensorflow():
    # Loaded from its file, without the package's __init__ (which loads TensorFlow for the models).
    code = (
        "import importlib.util, sys; "
        "spec = importlib.util.spec_from_file_location('docs_build', sys.argv[1]); "
        "spec.loader.exec_module(importlib.util.module_from_spec(spec)); "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(ROOT / "siamese_kit" / "docs_build.py")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
