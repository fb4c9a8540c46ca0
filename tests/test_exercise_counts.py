"""The exercise counts and the self-check table in README.md and docs/teaching.md, read from the notebooks
and from siamese_kit.selfcheck, so the docs cannot drift from what students find."""

import json
import re
from pathlib import Path

import siamese_kit.selfcheck as selfcheck

ROOT = Path(__file__).resolve().parents[1]


def exercises():
    """`(notebook, kind)` of every numbered exercise in the lessons' "**Exercises.**" cells."""
    found = []
    for path in sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            text = "".join(cell["source"])
            if cell["cell_type"] == "markdown" and "**Exercises.**" in text:
                listed = text.split("**Exercises.**", 1)[1]
                numbered = re.findall(r"^\d+\. (.*)", listed, re.M)
                kinds = [re.match(r"\*\((self-checked|worked answer)\)\*", item) for item in numbered]
                assert all(kinds), f"{path.name}: an exercise says neither (self-checked) nor (worked answer)"
                found += [(path.name[:2], kind.group(1)) for kind in kinds]
    return found


def test_the_readme_and_the_teachers_guide_count_the_exercises_the_notebooks_hold():
    found = exercises()
    total, checked = len(found), sum(kind == "self-checked" for _, kind in found)
    assert {notebook for notebook, _ in found} == {f"{n:02d}" for n in range(1, 11)}  # every lesson has some
    readme = (ROOT / "README.md").read_text()
    assert f"exercises: {total} in all, {checked} self-checked" in readme
    assert f"the other {total - checked} with worked" in readme
    assert f"There are {total} exercises, {checked} of them self-checked." in (ROOT / "docs" / "teaching.md").read_text()


def test_the_teachers_guide_lists_every_self_check():
    table = (ROOT / "docs" / "teaching.md").read_text()
    checks = [name for name in selfcheck.__all__ if name.startswith("check_")]
    missing = [name for name in checks if f"`{name}(" not in table]
    assert not missing, f"docs/teaching.md's self-check table lacks {missing}"
