"""The drawing pad and draw-and-match, driven headlessly: strokes fed from Python take the same path as
mouse events, and a drawing that traces a candidate's own pixels ranks that candidate first."""

import math
from io import BytesIO

import keras
import numpy as np
import pytest
from PIL import Image, ImageDraw

from siamese_kit.data import DataError, load_lake_runs
from siamese_kit.layers import TwinClassifierHead
from siamese_kit.models import SiameseModel, conv4
from siamese_kit.evaluation import choose
from siamese_kit.widgets import DRAW_PROMPT, DrawAndMatch, DrawingPad


class RawPixels:
    """Pixels as the embedding: the candidate nearest in pixel space wins."""

    score_kind = "distance"

    def embed(self, images):
        images = getattr(images, "images", images)
        return np.asarray(images, dtype="float32").reshape(len(images), -1)


def scribbles(count=20, size=28, seed=0):
    """`count` different characters: random 3-segment polylines, black on white like Omniglot."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        picture = Image.new("L", (size, size), 255)
        points = [tuple(rng.uniform(4, size - 4, 2)) for _ in range(4)]
        ImageDraw.Draw(picture).line(points, fill=0, width=2)
        images.append(np.asarray(picture))
    return np.stack(images)[..., None].astype(np.uint8)


def test_tracing_a_candidate_ranks_it_first_with_a_pixel_model():
    candidates = scribbles()
    tool = DrawAndMatch(RawPixels(), candidates, top_k=3, pad_size=196, line_width=7)
    assert tool.pad.trace(candidates[0]) == sum(  # one stroke per run of ink in each row
        int(np.sum(np.diff(np.concatenate([[0], (row < 128).astype(int), [0]])) == 1)) for row in candidates[0][..., 0])
    # Every candidate is shown once, 10 to a row with 2 px gaps, twice as large.
    assert Image.open(BytesIO(tool.gallery.value)).size == (2 * (10 * 30 + 2), 2 * (2 * 30 + 2))
    for k in (0, 7, 13, 19):
        tool.pad.clear()
        tool.pad.trace(candidates[k])
        indices, scores = tool.matches()
        assert indices[0] == k
        assert indices[0] == choose(tool.scores, "distance")
        assert np.all(np.diff(scores) >= 0)  # nearest first
        assert "1. <b>candidate %d</b>" % (k + 1) in tool.ranking.value
        # What the model saw is close to the candidate itself, far from the runner-up.
        seen = tool.drawn_image().astype(float)
        assert np.abs(seen - candidates[k]).mean() < np.abs(seen - candidates[indices[1]]).mean()


def test_tracing_a_candidate_of_lakes_run_1_ranks_it_first(omniglot_dir_or_skip):
    run = load_lake_runs(image_size=28)[0]
    tool = DrawAndMatch(RawPixels(), run, top_k=5)
    for k in (0, 11):
        tool.pad.clear()
        tool.pad.trace(run.support_images[k])
        assert tool.matches()[0][0] == k
        assert f"1. <b>{run.support_files[k][:-4]}</b>" in tool.ranking.value


def frontend(pad, event, x, y):
    """A message as the ipycanvas frontend sends it when the mouse acts on the canvas."""
    pad.canvas._handle_frontend_event(None, {"event": event, "x": x, "y": y}, [])


def test_mouse_events_and_draw_stroke_take_the_same_path():
    by_mouse, by_python = DrawingPad(size=100), DrawingPad(size=100)
    frontend(by_mouse, "mouse_move", 5, 5)  # moving without a button held draws nothing
    frontend(by_mouse, "mouse_down", 10, 20)
    for x, y in ((30, 25), (50, 40), (70, 80)):
        frontend(by_mouse, "mouse_move", x, y)
    frontend(by_mouse, "mouse_up", 75, 85)
    by_python.draw_stroke([(10, 20), (30, 25), (50, 40), (70, 80), (75, 85)])
    assert by_mouse.strokes == by_python.strokes == [[(10, 20), (30, 25), (50, 40), (70, 80), (75, 85)]]
    assert np.array_equal(by_mouse.image((28, 28)), by_python.image((28, 28)))
    # Dragging out of the canvas ends the stroke at the edge; later moves draw nothing.
    frontend(by_mouse, "mouse_down", 90, 50)
    frontend(by_mouse, "mouse_out", 100.7, 50)
    frontend(by_mouse, "mouse_move", 20, 20)
    assert by_mouse.strokes[-1] == [(90, 50), (100, 50)] and len(by_mouse.strokes) == 2


def test_each_stroke_updates_the_ranking_and_clearing_resets_it():
    candidates = scribbles(count=6, seed=3)
    tool = DrawAndMatch(RawPixels(), candidates, top_k=2)
    assert tool.ranking.value == DRAW_PROMPT and tool.matches() is None
    tool.pad.draw_stroke([(30, 30)])  # a single tap leaves a dot
    assert "after 1 stroke:" in tool.ranking.value
    first = tool.scores.copy()
    assert tool.drawn_image().min() < 255
    tool.pad.draw_stroke([(20, 150), (190, 150)])
    assert "after 2 strokes:" in tool.ranking.value and not np.array_equal(first, tool.scores)
    tool.clear_button.click()
    assert tool.pad.is_empty and tool.matches() is None and tool.ranking.value == DRAW_PROMPT
    assert tool.drawn_image().min() == 255


@pytest.mark.parametrize("points, words", [
    ([], "non-empty list"),
    ("10,20", "non-empty list"),
    (5, "non-empty list"),
    ([(1, 2, 3)], "points[0]"),
    ([(10, 10), ("a", 1)], "points[1]"),
    ([(10, 10), (True, 1)], "points[1]"),
    ([(math.nan, 5)], "finite number in [0, 210]"),
    ([(10, 10), (-1, 5)], "outside the 210 x 210 pad"),
    ([(211, 5)], "outside"),
])
def test_bad_strokes_are_refused_and_change_nothing(points, words):
    pad = DrawingPad()
    pad.draw_stroke([(10, 10), (50, 50)])
    before = [list(s) for s in pad.strokes]
    with pytest.raises(ValueError) as caught:
        pad.draw_stroke(points)
    assert words in str(caught.value)
    assert pad.strokes == before


def test_dark_paper_candidates_get_light_strokes_and_a_twin_classifier_ranks_by_probability():
    keras.utils.set_random_seed(0)
    digits = 255 - scribbles(count=5, size=8, seed=1)  # white on black, like MNIST
    model = SiameseModel(conv4((8, 8, 1), feature_dim=6, width=4, pool_last=False), TwinClassifierHead(kernel_stddev=0.5))
    tool = DrawAndMatch(model, digits, top_k=5, line_width=40)
    tool.pad.draw_stroke([(20, 100), (190, 100)])
    drawn = tool.drawn_image()
    assert np.median(drawn) == 0 and drawn.max() > 200
    indices, scores = tool.matches()
    assert np.all(np.diff(scores) <= 0) and indices[0] == choose(tool.scores, "similarity")
    assert "P(same)" in tool.ranking.value


@pytest.mark.parametrize("make, words", [
    (lambda: DrawAndMatch(object(), scribbles(count=3)), "embed() and score_kind"),
    (lambda: DrawAndMatch(RawPixels(), scribbles(count=3).astype(float)), "uint8 array"),
    (lambda: DrawAndMatch(RawPixels(), scribbles(count=1)), "at least 2"),
    (lambda: DrawAndMatch(RawPixels(), scribbles(count=3), top_k=4), "top_k must be an int in 1..3"),
    (lambda: DrawAndMatch(RawPixels(), scribbles(count=3), names=["a"]), "1 names for 3 candidates"),
    (lambda: DrawingPad(size=8), "size must be an int >= 16"),
    (lambda: DrawingPad(line_width=0), "line_width"),
    (lambda: DrawingPad().image((0, 28)), "shape"),
    (lambda: DrawingPad().image((28, 28), ink=300), "ink"),
    (lambda: DrawingPad().trace(np.zeros((2, 8, 8, 1), np.uint8)), "trace: image must be"),
])
def test_bad_arguments_name_what_to_fix(make, words):
    with pytest.raises((ValueError, DataError)) as caught:
        make()
    assert words in str(caught.value)


def figure_texts(figure):
    from matplotlib.text import Text

    return [t.get_text() for t in figure.findobj(Text) if t.get_text()]


def test_snapshot_shows_the_drawing_and_its_ranking_and_marks_a_known_answer():
    from matplotlib.figure import Figure

    from siamese_kit.plotting import CORRECT_COLOUR, WRONG_COLOUR
    from siamese_kit.widgets import figure_png

    candidates = scribbles()
    tool = DrawAndMatch(RawPixels(), candidates, top_k=3, pad_size=196, line_width=7)
    empty = tool.snapshot()
    assert isinstance(empty, Figure) and empty.canvas.manager is None  # not kept by pyplot
    assert "nothing drawn yet" in figure_texts(empty)
    assert "the 20 candidates (candidate 1 to candidate 20, in reading order)" in figure_texts(empty)

    tool.pad.trace(candidates[7])
    indices, scores = tool.matches()
    figure = tool.snapshot()
    assert figure_png(figure)[:4] == b"\x89PNG"
    seen, *ranked = figure.axes
    assert len(ranked) == 3
    # What the model saw, exactly, then the candidates in the order matches() gives, with their scores.
    np.testing.assert_array_equal(seen.images[0].get_array(), tool.drawn_image()[..., 0])
    assert seen.get_title() == f"what the model sees\n({len(tool.pad.strokes)} strokes)"
    for rank, (ax, index, score) in enumerate(zip(ranked, indices, scores), start=1):
        np.testing.assert_array_equal(ax.images[0].get_array(), candidates[index][..., 0])
        assert ax.get_title() == f"#{rank} candidate {index + 1}\ndistance {score:.2f}"
    assert ranked[0].get_title().startswith("#1 candidate 8\n")  # the traced one wins
    assert "the 3 nearest of 20 candidates" in figure._suptitle.get_text()

    # With the answer known: framed green and marked, whether given by index or by name.
    right = tool.snapshot(answer="candidate 8")
    first = right.axes[1]
    assert first.get_title().endswith("RIGHT ANSWER") and first.title.get_color() == CORRECT_COLOUR
    assert first.spines["left"].get_edgecolor()[:3] == pytest.approx((0x1a / 255, 0x7f / 255, 0x37 / 255))
    assert right._suptitle.get_text().endswith("(right)")
    # An answer the drawing does not look like: the first choice is marked WRONG, the answer's rank said.
    far = int(np.argsort(tool.scores, kind="stable")[-1])
    wrong = tool.snapshot(answer=far)
    assert wrong.axes[1].get_title().endswith("WRONG") and wrong.axes[1].title.get_color() == WRONG_COLOUR
    assert not any("RIGHT ANSWER" in text for text in figure_texts(wrong))
    assert wrong._suptitle.get_text().endswith(f"(wrong: the answer, candidate {far + 1}, ranks #20)")

    # Another stroke changes the drawing, and the picture follows it.
    tool.pad.draw_stroke([(10, 180), (186, 180)])
    later = tool.snapshot()
    np.testing.assert_array_equal(later.axes[0].images[0].get_array(), tool.drawn_image()[..., 0])
    for ax, index in zip(later.axes[1:], tool.matches()[0]):
        np.testing.assert_array_equal(ax.images[0].get_array(), candidates[index][..., 0])

    for bad in (20, -1, "candidate 21", True, 2.0):
        with pytest.raises(ValueError, match="answer"):
            tool.snapshot(answer=bad)


def test_snapshot_of_a_twin_classifier_lists_probabilities_best_first():
    keras.utils.set_random_seed(0)
    digits = 255 - scribbles(count=5, size=8, seed=1)
    encoder = conv4((8, 8, 1), feature_dim=6, width=4, pool_last=False)
    tool = DrawAndMatch(SiameseModel(encoder, TwinClassifierHead(kernel_stddev=0.5)), digits, top_k=5, line_width=40)
    tool.pad.draw_stroke([(20, 100), (190, 100)])
    indices, scores = tool.matches()
    titles = [ax.get_title() for ax in tool.snapshot().axes[1:]]
    assert titles == [f"#{r} candidate {i + 1}\nP(same) {s:.2f}" for r, (i, s) in enumerate(zip(indices, scores), 1)]
    assert indices[0] == choose(tool.scores, "similarity")
