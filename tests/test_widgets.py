"""The pair explorer driven from Python, as a user's clicks and drags would drive it."""

import re

import keras
import numpy as np
import pytest
from conftest import make_imageset

from siamese_kit.evaluation import pair_accuracy, predict_same
from siamese_kit.layers import EuclideanDistance, TwinClassifierHead
from siamese_kit.models import SiameseModel, conv4
from siamese_kit.models.prototype import PrototypeModel
from siamese_kit.widgets import PairExplorer, image_png, score_pairs


def tiny_encoder(seed=0):
    keras.utils.set_random_seed(seed)
    return conv4((8, 8, 1), feature_dim=6, width=4, pool_last=False)


@pytest.fixture(scope="module")
def imageset():
    return make_imageset(num_classes=4, per_class=8)


@pytest.fixture(scope="module", params=["distance", "similarity", "prototype"])
def model(request):
    if request.param == "distance":
        return SiameseModel(tiny_encoder(), EuclideanDistance())
    if request.param == "similarity":
        return SiameseModel(tiny_encoder(), TwinClassifierHead(kernel_stddev=0.5))
    return PrototypeModel(tiny_encoder())


def shown_accuracy(explorer):
    match = re.search(r"accuracy ([0-9.]+)%.*\((\d+)/(\d+) pairs\)", explorer.accuracy.value)
    assert match, explorer.accuracy.value
    return int(match.group(2)) / int(match.group(3))


def test_sliding_the_threshold_updates_the_shown_accuracy_and_grid(model, imageset):
    explorer = PairExplorer(model, imageset, num_pairs=60, grid_pairs=4, top_k=3)
    labels = explorer.pairs.pair_label
    scores = explorer.pair_scores
    assert shown_accuracy(explorer) == pytest.approx(pair_accuracy(scores, labels, explorer.threshold.value, model.score_kind))
    # Everything "same" at one end of the range, everything "different" at the other.
    all_same = explorer.threshold.max if model.score_kind == "distance" else explorer.threshold.min
    explorer.threshold.value = all_same
    same_fraction = np.mean(predict_same(scores, all_same, model.score_kind))
    assert shown_accuracy(explorer) == pytest.approx(
        pair_accuracy(scores, labels, all_same, model.score_kind)
    )
    assert same_fraction == 1.0
    all_same_grid = bytes(explorer.grid.value)
    # The other end calls every pair different: the accuracy is the share of different pairs.
    explorer.threshold.value = explorer.threshold.min if model.score_kind == "distance" else explorer.threshold.max
    assert shown_accuracy(explorer) == pytest.approx(np.mean(labels == 0))
    # The grid's first pairs alternate same and different, so the two ends mark different tiles WRONG.
    assert bytes(explorer.grid.value) != all_same_grid and all_same_grid[:4] == b"\x89PNG"


def test_the_default_threshold_is_the_best_on_the_pairs_and_says_it_is_optimistic(imageset):
    model = SiameseModel(tiny_encoder(), EuclideanDistance())
    explorer = PairExplorer(model, imageset, num_pairs=60)
    best = max(
        explorer.accuracy_at(t) for t in np.linspace(explorer.threshold.min, explorer.threshold.max, 400)
    )
    assert explorer.accuracy_at(explorer.threshold.value) >= best - 1e-9
    assert "optimistic" in explorer.accuracy.value
    given = PairExplorer(model, imageset, num_pairs=60, threshold=float(np.median(explorer.pair_scores)))
    assert given.threshold.value == pytest.approx(float(np.median(explorer.pair_scores)), abs=given.threshold.step)
    assert "optimistic" not in given.accuracy.value


def test_picking_two_images_shows_the_models_own_score_and_decision(model, imageset):
    explorer = PairExplorer(model, imageset, num_pairs=40, top_k=3)
    explorer.class_a.value, explorer.index_a.value = 1, 2
    explorer.class_b.value, explorer.index_b.value = 3, 5
    first = int(np.flatnonzero(imageset.labels == 1)[2])
    second = int(np.flatnonzero(imageset.labels == 3)[5])
    pair = (imageset.images[[first]].astype("float32"), imageset.images[[second]].astype("float32"))
    if isinstance(model, SiameseModel):
        expected = float(keras.ops.convert_to_numpy(model(pair))[0])
    else:
        a, b = model.embed(pair[0]), model.embed(pair[1])
        expected = float(np.sqrt(np.square(a - b).sum()))
    shown = float(re.search(r"<b>([-0-9.]+)</b>", explorer.decision.value).group(1))
    assert shown == pytest.approx(expected, abs=1.5e-3)
    same = bool(predict_same([expected], explorer.threshold.value, model.score_kind)[0])
    assert f"predicted: <b>{'same' if same else 'different'}</b>" in explorer.decision.value
    assert "truth: different" in explorer.decision.value
    assert explorer.image_a.value == image_png(imageset.images[first])


def test_an_index_past_the_class_is_clamped_and_the_direct_call_names_the_class(imageset):
    explorer = PairExplorer(SiameseModel(tiny_encoder(), EuclideanDistance()), imageset, num_pairs=20)
    explorer.index_a.value = 7
    assert explorer.index_a.max == 7
    with pytest.raises(ValueError, match=r"'class2' has 8 images; index 8 is out of range"):
        explorer.image_index(2, 8)


def test_ranking_matches_brute_force_over_every_other_image(model, imageset):
    explorer = PairExplorer(model, imageset, num_pairs=20, top_k=5)
    query = explorer.image_index(2, 3)
    scores = np.array([
        score_pairs(model, explorer.embeddings[[query]], explorer.embeddings[[other]])[0] if other != query else np.nan
        for other in range(len(imageset))
    ])
    order = [i for i in np.argsort(scores if model.score_kind == "distance" else -scores, kind="stable") if i != query][:5]
    indices, ranked_scores = explorer.rank(query)
    assert query not in indices
    # Each shown score is that image's own score, and they are the best five there are (an untrained
    # classifier head scores near 0.5, where one-pair and batched calls may order near-ties apart).
    np.testing.assert_allclose(ranked_scores, scores[indices], atol=1e-6)
    np.testing.assert_allclose(ranked_scores, scores[order], atol=1e-6)
    if model.score_kind == "distance":
        np.testing.assert_array_equal(indices, order)
    explorer.query_class.value, explorer.query_index.value = 2, 3
    hits = int(np.sum(imageset.labels[indices] == 2))
    assert explorer.ranking_text.value.startswith(f"{hits} of the 5 nearest")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"model": "not a model"}, r"needs a trained siamese_kit model .* got str"),
        ({"imageset": np.zeros((4, 8, 8, 1))}, r"imageset must be an ImageSet, got ndarray"),
        ({"top_k": 0}, r"grid_pairs and top_k must be >= 1"),
        ({"top_k": 32}, r"top_k=32 but the ImageSet has only 32 images; lower top_k"),
    ],
)
def test_bad_arguments_are_named(imageset, kwargs, message):
    arguments = {"model": SiameseModel(tiny_encoder(), EuclideanDistance()), "imageset": imageset, **kwargs}
    with pytest.raises(ValueError, match=message):
        PairExplorer(**arguments)


def figure_texts(figure):
    """Every piece of text a figure draws: titles of figures, subfigures and axes, labels, notes."""
    from matplotlib.text import Text

    return [t.get_text() for t in figure.findobj(Text) if t.get_text()]


def expected_decision(explorer, model, first, second):
    """The decision line worked out here, from the model's own score, not the explorer's wording."""
    score = float(score_pairs(model, explorer.embeddings[[first]], explorer.embeddings[[second]])[0])
    threshold = explorer.threshold.value
    same = bool(predict_same([score], threshold, model.score_kind)[0])
    truth = explorer.imageset.labels[first] == explorer.imageset.labels[second]
    word = "distance" if model.score_kind == "distance" else "P(same)"
    return (f"{word} {score:.3f} | threshold {threshold:.3f} | predicted {'same' if same else 'different'} | "
            f"truth {'same' if truth else 'different'} | {'RIGHT' if same == truth else 'WRONG'}")


def test_decision_text_is_plain_and_agrees_with_the_widget_and_the_score(model, imageset):
    explorer = PairExplorer(model, imageset, num_pairs=40, top_k=3)
    explorer.class_a.value, explorer.index_a.value = 0, 1
    explorer.class_b.value, explorer.index_b.value = 2, 4
    first, second = explorer.image_index(0, 1), explorer.image_index(2, 4)
    text = explorer.decision_text
    assert "<" not in text and ">" not in text and "&" not in text
    assert text == expected_decision(explorer, model, first, second)
    shown = re.search(r"<b>([-0-9.]+)</b>", explorer.decision.value).group(1)
    assert text.split(" | ")[0].endswith(" " + shown)
    assert text.split(" | ")[-1] in explorer.decision.value  # RIGHT or WRONG, as the widget says
    # Moving the threshold to the end that flips the prediction: the text follows.
    was_same = "predicted same" in text
    calls_all_same = explorer.threshold.max if model.score_kind == "distance" else explorer.threshold.min
    calls_none_same = explorer.threshold.min if model.score_kind == "distance" else explorer.threshold.max
    explorer.threshold.value = calls_none_same if was_same else calls_all_same
    after = explorer.decision_text
    assert after == expected_decision(explorer, model, first, second)
    assert ("predicted same" in after) != was_same
    assert after.endswith("RIGHT" if was_same else "WRONG")  # the truth is "different"


def test_snapshot_is_a_picture_of_the_current_decision_threshold_and_ranking(model, imageset):
    from matplotlib.figure import Figure

    from siamese_kit.plotting import CORRECT_COLOUR, WRONG_COLOUR
    from siamese_kit.widgets import figure_png

    explorer = PairExplorer(model, imageset, num_pairs=40, top_k=4)
    explorer.class_a.value, explorer.index_a.value = 1, 2
    explorer.class_b.value, explorer.index_b.value = 3, 5
    explorer.query_class.value, explorer.query_index.value = 2, 3
    first, second = explorer.image_index(1, 2), explorer.image_index(3, 5)

    def picture():
        figure = explorer.snapshot()
        # Made without pyplot (no figure manager), so a notebook shows it once and nothing leaks.
        assert isinstance(figure, Figure) and figure.canvas.manager is None
        assert figure_png(figure)[:4] == b"\x89PNG"  # it really draws, subfigures and all
        return figure

    def compare_title(figure):
        return figure.subfigs[0].subfigs[0]._suptitle

    figure = picture()
    decision = expected_decision(explorer, model, first, second)
    title = compare_title(figure)
    assert title.get_text() == decision.replace(" | predicted", "\npredicted")
    assert title.get_color() == (CORRECT_COLOUR if decision.endswith("RIGHT") else WRONG_COLOUR)
    texts = figure_texts(figure)
    assert "A: class1 #2    B: class3 #5" in texts

    # The accuracy curve: the threshold is marked at the pair set's accuracy there.
    threshold = explorer.threshold.value
    accuracy = pair_accuracy(explorer.pair_scores, explorer.pairs.pair_label, threshold, model.score_kind)
    curve = figure.subfigs[0].subfigs[1].axes[0]
    assert curve.get_title().startswith(f"accuracy {accuracy:.1%} (")
    assert f"at threshold {threshold:.3f}" in curve.get_title()
    marker = curve.lines[-1]
    assert marker.get_xdata()[0] == threshold and marker.get_ydata()[0] == pytest.approx(accuracy)
    xs, ys = curve.lines[0].get_data()
    assert xs[0] == explorer.threshold.min and xs[-1] == explorer.threshold.max
    for t in xs[::50]:
        assert ys[list(xs).index(t)] == pytest.approx(
            pair_accuracy(explorer.pair_scores, explorer.pairs.pair_label, t, model.score_kind))

    # The ranking: the query, then the explorer's own top 4, best first, framed by class.
    query = explorer.image_index(2, 3)
    indices, _ = explorer.rank(query)
    rank_axes = figure.subfigs[1].axes
    assert rank_axes[0].get_title() == "query: class2"
    for rank, (ax, index) in enumerate(zip(rank_axes[1:], indices), start=1):
        name = imageset.class_names[imageset.labels[index]]
        assert ax.get_title().startswith(f"#{rank} {name}\n")
        np.testing.assert_array_equal(ax.images[0].get_array(), imageset.images[index][..., 0])
        assert ("OTHER CLASS" in ax.get_title()) == (imageset.labels[index] != 2)

    # A new threshold: everything "same" at one end; the title, the verdict and the marker follow.
    explorer.threshold.value = explorer.threshold.max if model.score_kind == "distance" else explorer.threshold.min
    moved = picture()
    decision = expected_decision(explorer, model, first, second)
    assert "predicted same" in decision and "truth different" in decision and decision.endswith("WRONG")
    assert compare_title(moved).get_text() == decision.replace(" | predicted", "\npredicted")
    assert compare_title(moved).get_color() == WRONG_COLOUR
    assert "Predicted: same (WRONG)" in moved.subfigs[0].subfigs[0].axes[0].get_title()
    assert moved.subfigs[0].subfigs[1].axes[0].lines[-1].get_xdata()[0] == explorer.threshold.value

    # A new pair of one class: the truth changes, and so does the picture.
    explorer.class_b.value, explorer.index_b.value = 1, 6
    second = explorer.image_index(1, 6)
    repicked = picture()
    decision = expected_decision(explorer, model, first, second)
    assert "truth same" in decision and decision.endswith("RIGHT")
    assert compare_title(repicked).get_text() == decision.replace(" | predicted", "\npredicted")
    assert "A: class1 #2    B: class1 #6" in figure_texts(repicked)


def test_widgets_say_what_they_are_where_they_cannot_render(model, imageset, monkeypatch):
    import IPython.display

    from siamese_kit.training import NotebookMonitor
    from siamese_kit.widgets import PairExplorer

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda data, raw=False: shown.append((data, raw)))
    PairExplorer(model, imageset)._ipython_display_()
    NotebookMonitor(10, 4)._ipython_display_()
    for data, raw in shown:
        assert raw and "application/vnd.jupyter.widget-view+json" in data  # the live widget, where it runs
        assert not data["text/plain"].startswith(("VBox(", "HBox("))      # and a sentence, not a repr, elsewhere
    assert shown[0][0]["text/plain"].startswith("Pair explorer:") and shown[1][0]["text/plain"].startswith("Training monitor:")


def test_the_slider_moves_a_line_across_the_score_histograms(model, imageset):
    explorer = PairExplorer(model, imageset, num_pairs=40, grid_pairs=6)
    before = explorer.histogram.value
    explorer.threshold.value = explorer.threshold.min + 2 * explorer.threshold.step
    assert explorer.histogram.value[:4] == b"\x89PNG" and explorer.histogram.value != before
    figure = explorer.snapshot(with_grid=True)
    histogram = figure.subfigs[0].subfigs[1].axes[1]
    lines = [line.get_xdata()[0] for line in histogram.get_lines()]
    assert lines == [pytest.approx(explorer.threshold.value)]  # the threshold, drawn over the two kinds
    assert len(histogram.patches) > 0
    grid = figure.subfigs[2]
    assert len([ax for ax in grid.axes if ax.get_title().startswith("Target:")]) == 6
    assert grid._suptitle.get_text().startswith("The first 6 pairs at threshold")
    assert len(explorer.snapshot().subfigs) == 2  # without the grid: compare + threshold, and rank
