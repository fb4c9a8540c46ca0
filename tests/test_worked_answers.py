"""Every exercise of the lessons is answered somewhere: self-checked, or worked in worked_answers.ipynb.

Each exercise in the summary of notebooks/NN_*.ipynb starts with its number and exactly one tag:
`N. *(self-checked)*` (the learner writes a function and a `check_` function of
`siamese_kit.selfcheck` checks it; solutions in notebooks/solutions/exercises_solutions.ipynb) or
`N. *(worked answer)*` (answered in notebooks/solutions/worked_answers.ipynb under a heading
"NN · Exercise K: short title"). These tests read the notebooks; they execute nothing.
"""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WORKED = ROOT / "notebooks" / "solutions" / "worked_answers.ipynb"

SELF_CHECKED, WORKED_ANSWER = "self-checked", "worked answer"
# A numbered list item at the start of a line, and one that carries a tag right after its number.
ITEM = re.compile(r"^(\d+)\.\s", re.M)
TAG = re.compile(r"(\d+)\.\s+\*\((self-checked|worked answer)\)\*")
# A worked answer's heading: "## 01 · Exercise 2: how often are random pairs the same?"
HEADING = re.compile(r"^#{1,6}\s+(\d{2}) · Exercise (\d+): \S")
CHECK = re.compile(r"\bcheck_\w+")


def _markdown(path):
    return [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"]


def _items(source):
    """The numbered list items of a markdown cell, each as its text up to the next item or paragraph."""
    starts = [match.start() for match in ITEM.finditer(source)]
    for start, end in zip(starts, starts[1:] + [len(source)]):
        # An item ends at a blank line followed by unindented text (a new paragraph).
        yield re.split(r"\n[ \t]*\n(?=\S)", source[start:end], maxsplit=1)[0]


def tagged_exercises():
    """`(notebook "NN", exercise K, tag, text)` of every tagged exercise of the lessons, in order."""
    found = []
    for path in LESSONS:
        for source in _markdown(path):
            for item in _items(source):
                tag = TAG.match(item)
                if tag:
                    found.append((path.name[:2], int(tag.group(1)), tag.group(2), item))
    return found


def worked_headings():
    """`{(notebook "NN", exercise K): heading line}` of worked_answers.ipynb."""
    headings = {}
    for source in _markdown(WORKED):
        for line in source.splitlines():
            match = HEADING.match(line)
            if match:
                headings.setdefault((match.group(1), int(match.group(2))), line)
    return headings


@pytest.fixture(scope="module")
def exercises():
    found = tagged_exercises()
    if not found:
        pytest.skip(
            "no lesson notebook tags its exercises yet: each exercise should start with "
            "'N. *(self-checked)*' or 'N. *(worked answer)*' right after its number"
        )
    return found


def test_the_worked_answers_notebook_is_there():
    assert LESSONS, "no notebooks/NN_*.ipynb found"
    assert WORKED.is_file(), f"{WORKED.relative_to(ROOT)} is missing"
    assert worked_headings(), "worked_answers.ipynb has no heading of the form 'NN · Exercise K: title'"


def test_every_exercise_is_tagged_once(exercises):
    untagged = []
    for path in LESSONS:
        for source in _markdown(path):
            if "**Exercises.**" not in source:
                continue
            for item in _items(source.split("**Exercises.**", 1)[1]):
                if not TAG.match(item):
                    untagged.append(f"{path.name[:2]} · Exercise {ITEM.match(item).group(1)}: {item[:70]!r}")
    assert not untagged, "exercises without a tag (*(self-checked)* or *(worked answer)*):\n" + "\n".join(untagged)
    numbers = [(notebook, number) for notebook, number, _, _ in exercises]
    repeated = sorted({n for n in numbers if numbers.count(n) > 1})
    assert not repeated, f"exercise numbers tagged more than once: {repeated}"


def test_every_worked_answer_exercise_has_a_heading_in_worked_answers(exercises):
    headings = worked_headings()
    missing = [f"{notebook} · Exercise {number}" for notebook, number, tag, _ in exercises
               if tag == WORKED_ANSWER and (notebook, number) not in headings]
    assert not missing, f"no heading for these worked answers in {WORKED.name}: {missing}"


def test_no_worked_answer_is_left_for_an_exercise_that_is_not_one(exercises):
    # A heading for an exercise that is now self-checked, renumbered or gone would answer the wrong question.
    worked = {(notebook, number) for notebook, number, tag, _ in exercises if tag == WORKED_ANSWER}
    stale = [line for key, line in sorted(worked_headings().items()) if key not in worked]
    assert not stale, f"{WORKED.name} answers exercises that are not tagged *(worked answer)*: {stale}"


def test_every_self_checked_exercise_names_its_check(exercises):
    unchecked = [f"{notebook} · Exercise {number}: {text[:70]!r}" for notebook, number, tag, text in exercises
                 if tag == SELF_CHECKED and not CHECK.search(text)]
    assert not unchecked, "self-checked exercises that name no check_ function:\n" + "\n".join(unchecked)


def test_at_least_half_of_the_exercises_are_self_checked(exercises):
    self_checked = sum(tag == SELF_CHECKED for _, _, tag, _ in exercises)
    assert 2 * self_checked >= len(exercises), f"{self_checked} of {len(exercises)} exercises are self-checked"
