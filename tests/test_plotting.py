"""Tests of siamese_kit.plotting on small synthetic ImageSets, drawn with the Agg backend."""

import io

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere, so no test needs a display

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from siamese_kit.data.imageset import ImageSet  # noqa: E402
from siamese_kit.plotting import (  # noqa: E402
    CORRECT_COLOUR,
    WRONG_COLOUR,
    class_mean_grid,
    confusion_matrix_plot,
    embedding_scatter,
    image_grid,
    mistakes_grid,
    pair_grid,
    pair_set_grid,
    retrieval_grid,
    roc_curve_plot,
    training_curves,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def small_set(channels=1, classes=3, per_class=5, size=8):
    """Every image is unique (its index is in pixel [0, 0]), so a drawn image identifies its source."""
    rng = np.random.default_rng(0)
    count = classes * per_class
    images = rng.integers(0, 256, (count, size, size, channels), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(count)
    labels = np.repeat(np.arange(classes), per_class)
    return ImageSet(images, labels, class_names=[f"class {c}" for c in range(classes)], name="tiny")


def displayed(ax):
    return np.asarray(ax.images[0].get_array())


def source_index(imageset, picture):
    """Index of the ImageSet image drawn as `picture` (squeezed grey or RGB)."""
    drawn = imageset.images[..., 0] if imageset.images.shape[-1] == 1 else imageset.images
    matches = [i for i, image in enumerate(drawn) if np.array_equal(image, picture)]
    assert len(matches) == 1
    return matches[0]


def render(figure):
    """Draws the figure in full, so layout and text errors surface too."""
    figure.savefig(io.BytesIO(), format="png", dpi=40)


# --------------------------------------------------------------------------------------- image grids


def test_image_grid_rows_show_images_of_their_class():
    imageset = small_set()
    figure = image_grid(imageset, per_class=4, seed=1)
    assert isinstance(figure, Figure)
    axes = np.array(figure.axes).reshape(3, 4)
    for row, label in zip(axes, range(3)):
        assert row[0].get_ylabel() == f"class {label}"
        shown = [source_index(imageset, displayed(ax)) for ax in row]
        assert all(imageset.labels[i] == label for i in shown)
        assert len(set(shown)) == 4  # drawn without replacement
        assert row[0].images[0].cmap.name == "gray"
    render(figure)


def test_image_grid_is_reproducible_and_respects_classes_and_small_classes():
    imageset = small_set()
    first = image_grid(imageset, per_class=3, seed=7)
    second = image_grid(imageset, per_class=3, seed=7)
    for a, b in zip(first.axes, second.axes):
        np.testing.assert_array_equal(displayed(a), displayed(b))

    figure = image_grid(imageset.subset(np.arange(13)), per_class=7, classes=["class 2", 0])
    axes = np.array(figure.axes).reshape(2, 5)  # no class has 7 images: 5 columns
    assert [row[0].get_ylabel() for row in axes] == ["class 2", "class 0"]
    assert [len(ax.images) for ax in axes[0]] == [1, 1, 1, 0, 0]  # class 2 kept only 3 images
    assert {imageset.labels[source_index(imageset, displayed(ax))] for ax in axes[0][:3]} == {2}
    assert {imageset.labels[source_index(imageset, displayed(ax))] for ax in axes[1]} == {0}


def test_image_grid_defaults_to_first_ten_classes_and_rejects_unknown_class():
    imageset = small_set(classes=12, per_class=2)
    figure = image_grid(imageset, per_class=2)
    assert len(figure.axes) == 20
    with pytest.raises(ValueError, match="classes"):
        image_grid(imageset, classes=["no such class"])
    with pytest.raises(ValueError, match="per_class"):
        image_grid(imageset, per_class=0)


def test_image_grid_shows_rgb_as_is():
    imageset = small_set(channels=3)
    figure = image_grid(imageset, per_class=2)
    picture = displayed(figure.axes[0])
    assert picture.shape == (8, 8, 3)
    assert imageset.labels[source_index(imageset, picture)] == 0


def test_class_mean_grid_shows_means_with_counts():
    imageset = small_set()
    figure = class_mean_grid(imageset)
    means = imageset.class_means()
    assert len(figure.axes) == 3
    for label, ax in enumerate(figure.axes):
        np.testing.assert_allclose(displayed(ax), means[label, ..., 0])
        assert "class" in ax.get_title() and "n=5" in ax.get_title()
        assert ax.images[0].get_clim() == (0, 255)  # fixed scale, not stretched per image
    assert figure._suptitle.get_text() == "Class means"
    render(figure)


# --------------------------------------------------------------------------------------- pair grids


def pair_arrays():
    imageset = small_set()
    a = imageset.images[[0, 1, 5, 10]]
    b = imageset.images[[2, 7, 6, 11]]
    targets = np.array([1, 0, 1, 1])
    return imageset, a, b, targets


def test_pair_grid_titles_and_joined_images():
    _, a, b, targets = pair_arrays()
    figure = pair_grid(a, b, targets, scores=[0.123, 1.5, 0.2, 0.3], columns=3)
    assert len(figure.axes) == 6  # 2 rows of 3, last two blank
    first = figure.axes[0]
    assert "Target: same" in first.get_title()
    assert "Distance: 0.12" in first.get_title()
    assert "Target: different" in figure.axes[1].get_title()
    assert "Predicted" not in first.get_title()
    picture = displayed(first)
    np.testing.assert_array_equal(picture[:, :8], a[0, ..., 0])
    np.testing.assert_array_equal(picture[:, -8:], b[0, ..., 0])
    assert picture.shape[1] > 16  # a separator between the two images
    assert not figure.axes[4].images and not figure.axes[5].images
    render(figure)


def test_pair_grid_marks_correct_and_wrong_differently():
    _, a, b, targets = pair_arrays()
    predictions = np.array([1, 1, 1, 0])  # pairs 1 and 3 are wrong
    figure = pair_grid(a, b, targets, predictions=predictions, scores=[0.9, 0.8, 0.7, 0.6],
                       score_name="score")
    right, wrong = figure.axes[0], figure.axes[1]
    assert "Predicted: same" in right.get_title() and "WRONG" not in right.get_title()
    assert "WRONG" in wrong.get_title() and "WRONG" in figure.axes[3].get_title()
    assert "Score: 0.90" in right.get_title()
    assert mcolors.same_color(right.title.get_color(), CORRECT_COLOUR)
    assert mcolors.same_color(wrong.title.get_color(), WRONG_COLOUR)
    assert not mcolors.same_color(right.title.get_color(), wrong.title.get_color())
    assert mcolors.same_color(wrong.spines["left"].get_edgecolor(), WRONG_COLOUR)
    assert wrong.spines["left"].get_visible()
    assert wrong.spines["left"].get_linewidth() > right.spines["left"].get_linewidth()


def test_pair_grid_accepts_float_pixels_and_boolean_predictions():
    _, a, b, targets = pair_arrays()
    figure = pair_grid(a.astype(np.float32), b.astype(np.float64), targets,
                       predictions=targets.astype(bool))
    assert all("WRONG" not in ax.get_title() for ax in figure.axes)


def test_pair_grid_rejects_bad_input_naming_the_argument():
    _, a, b, targets = pair_arrays()
    with pytest.raises(ValueError, match="targets"):
        pair_grid(a, b, targets[:3])
    with pytest.raises(ValueError, match="images_b"):
        pair_grid(a, b[:3], targets)
    with pytest.raises(ValueError, match="predictions"):
        pair_grid(a, b, targets, predictions=[0.2, 0.7, 0.1, 0.9])
    with pytest.raises(ValueError, match="scores"):
        pair_grid(a, b, targets, scores=[0.1])
    with pytest.raises(ValueError, match="images_a"):
        pair_grid(a[:, :, :, :1].reshape(4, 64), b, targets)


def test_pair_set_grid_takes_images_by_index():
    from siamese_kit.data.streams.pairs import PairSet

    imageset = small_set()
    pairs = PairSet(np.array([0, 3, 5, 9]), np.array([1, 12, 6, 14]), np.array([1, 0, 1, 0]))
    figure = pair_set_grid(imageset, pairs, predictions=[1, 0, 0, 0], scores=[0.1, 2.0, 1.5, 1.9],
                           count=3, title="pairs")
    assert len(figure.axes) == 3
    picture = displayed(figure.axes[1])
    np.testing.assert_array_equal(picture[:, :8], imageset.images[3, ..., 0])
    np.testing.assert_array_equal(picture[:, -8:], imageset.images[12, ..., 0])
    assert "WRONG" in figure.axes[2].get_title()
    assert figure._suptitle.get_text() == "pairs"
    with pytest.raises(ValueError, match="predictions"):
        pair_set_grid(imageset, pairs, predictions=[1, 0, 0], count=3)


# --------------------------------------------------------------------------------------- embeddings


def test_embedding_scatter_2d_uses_raw_coordinates():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(30, 2))
    labels = np.arange(30) % 3
    figure = embedding_scatter(points, labels, class_names=["a", "b", "c"])
    ax = figure.axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), points)
    assert "PC" not in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c"]
    render(figure)


def test_embedding_scatter_projects_with_pca_and_subsamples():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(200, 5)) * [5, 2, 1, 0.5, 0.1]
    labels = np.arange(200) % 4
    centroids = rng.normal(size=(4, 5))
    figure = embedding_scatter(points, labels, max_points=50, centroids=centroids)
    ax = figure.axes[0]
    assert "PC 1" in ax.get_xlabel() and "% var" in ax.get_xlabel()
    assert "PC 2" in ax.get_ylabel()
    assert len(ax.collections[0].get_offsets()) == 50
    assert len(ax.collections[1].get_offsets()) == 4  # centroids
    np.testing.assert_array_equal(ax.collections[1].get_edgecolor()[0][:3], [0, 0, 0])
    # The same seed draws the same subset.
    again = embedding_scatter(points, labels, max_points=50, centroids=centroids)
    np.testing.assert_allclose(again.axes[0].collections[0].get_offsets(),
                               ax.collections[0].get_offsets())
    # The first component follows the widest direction, here the first input dimension.
    offsets = np.asarray(ax.collections[0].get_offsets())
    assert np.var(offsets[:, 0]) > np.var(offsets[:, 1])


def test_embedding_scatter_draws_into_given_axes():
    figure = Figure()
    ax = figure.add_subplot()
    returned = embedding_scatter(np.eye(3, 2), [0, 1, 2], ax=ax)
    assert returned is figure
    assert len(ax.collections) == 1
    assert plt.get_fignums() == []  # nothing left open in pyplot


def test_embedding_scatter_rejects_bad_input():
    with pytest.raises(ValueError, match="embeddings"):
        embedding_scatter(np.zeros((5, 1)), np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="embeddings"):
        embedding_scatter(np.zeros(5), np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="labels"):
        embedding_scatter(np.zeros((5, 2)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="class_names"):
        embedding_scatter(np.zeros((5, 2)), np.arange(5), class_names=["a"])
    with pytest.raises(ValueError, match="centroids"):
        embedding_scatter(np.zeros((5, 3)), np.arange(5), centroids=np.zeros((5, 2)))


# --------------------------------------------------------------------------------------- curves


def test_training_curves_draws_loss_keys_by_default():
    history = {"loss": [1.0, 0.5, 0.25], "val_loss": [1.1, 0.7, 0.4], "accuracy": [0.5, 0.7, 0.8]}
    figure = training_curves(history)
    ax = figure.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"loss", "val_loss"}
    np.testing.assert_allclose(lines["loss"].get_ydata(), history["loss"])
    np.testing.assert_allclose(lines["val_loss"].get_xdata(), [1, 2, 3])
    assert lines["val_loss"].get_color() == lines["loss"].get_color()
    assert lines["val_loss"].get_linestyle() == "--"
    assert ax.get_xlabel() == "epoch"
    render(figure)


def test_training_curves_reads_history_objects_keys_and_draws_into_ax():
    class History:  # what keras.callbacks.History exposes
        history = {"loss": [3.0, 2.0], "accuracy": [0.1, 0.4]}

    figure = Figure()
    ax = figure.add_subplot()
    returned = training_curves(History(), keys=["accuracy"], ax=ax, x_label="step")
    assert returned is figure
    assert len(ax.get_lines()) == 1
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.1, 0.4])
    assert ax.get_xlabel() == "step"


def test_training_curves_with_keras_history():
    keras = pytest.importorskip("keras")
    history = keras.callbacks.History()
    history.history = {"loss": [0.9, 0.3]}
    figure = training_curves(history)
    np.testing.assert_allclose(figure.axes[0].get_lines()[0].get_ydata(), [0.9, 0.3])


def test_training_curves_rejects_missing_keys():
    with pytest.raises(ValueError, match="keys"):
        training_curves({"loss": [1.0]}, keys=["val_accuracy"])
    with pytest.raises(ValueError, match="loss"):
        training_curves({"accuracy": [1.0]})
    with pytest.raises(ValueError, match="history"):
        training_curves([1.0, 2.0])


# --------------------------------------------------------------------------------------- confusion


def test_confusion_matrix_shows_counts_and_scales_the_colours_to_the_mistakes():
    matrix = np.array([[980, 2, 0], [1, 975, 0], [0, 4, 990]])
    figure = confusion_matrix_plot(matrix, class_names=["x", "y", "z"])
    ax = figure.axes[0]
    shown = ax.images[0].get_array()
    assert shown.mask.tolist() == np.eye(3, dtype=bool).tolist()  # the diagonal is greyed, not coloured
    assert ax.images[0].get_clim() == (0.0, 4.0)  # the largest mistake, not the 990 right answers
    texts = {t.get_text(): t.get_color() for t in ax.texts}
    assert set(texts) == {"980", "975", "990", "2", "1", "4"}  # counts; an empty off-diagonal cell is blank
    assert texts["980"] == "0.45" and texts["2"] == "black" and texts["4"] == "white"
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
    render(figure)


def test_confusion_matrix_shares_of_each_row_and_ax():
    matrix = np.array([[4, 1], [0, 0]])
    figure = Figure()
    ax = figure.add_subplot()
    returned = confusion_matrix_plot(matrix, normalize=True, ax=ax)
    assert returned is figure
    np.testing.assert_allclose(np.asarray(displayed(ax)), [[0.8, 0.2], [0.0, 0.0]])  # no NaN for an empty row
    assert sorted(t.get_text() for t in ax.texts) == ["0.0%", "20.0%", "80.0%"]


def test_confusion_matrix_skips_cell_text_past_twenty_classes_and_rejects_bad_shapes():
    figure = confusion_matrix_plot(np.eye(25))
    assert len(figure.axes[0].texts) == 0
    with pytest.raises(ValueError, match="matrix"):
        confusion_matrix_plot(np.ones((2, 3)))
    with pytest.raises(ValueError, match="class_names"):
        confusion_matrix_plot(np.ones((2, 2)), class_names=["a"])


def test_figures_are_not_registered_with_pyplot():
    image_grid(small_set(), per_class=2)
    assert plt.get_fignums() == []


def test_training_curves_take_x_from_a_step_series():
    figure = training_curves({"step": [10, 20, 30], "loss": [0.5, 0.4, 0.3]}, x_label="step")
    line = figure.axes[0].lines[0]
    np.testing.assert_array_equal(line.get_xdata(), [10, 20, 30])
    assert figure.axes[0].get_xlabel() == "step"


# --------------------------------------------------------------------------------------- embedding thumbnails


def thumbnail_boxes(ax):
    from matplotlib.offsetbox import AnnotationBbox

    return [artist for artist in ax.artists if isinstance(artist, AnnotationBbox)]


def test_embedding_scatter_thumbnails_sit_on_their_own_points():
    imageset = small_set()  # 15 unique images, index in pixel [0, 0]
    rng = np.random.default_rng(2)
    points = rng.normal(size=(15, 2))
    figure = embedding_scatter(points, imageset.labels, images=imageset.images, thumbnails=4, seed=3)
    ax = figure.axes[0]
    boxes = thumbnail_boxes(ax)
    assert len(boxes) == 4
    assert len(ax.collections) == 1  # the scatter itself is unchanged
    shown = set()
    for box in boxes:
        picture = np.asarray(box.offsetbox.get_data())
        index = source_index(imageset, picture)
        shown.add(index)
        np.testing.assert_allclose(box.xy, points[index])  # drawn at its own embedding
        image_artist = box.offsetbox.get_children()[0]
        assert image_artist.get_cmap().name == "gray"
        assert image_artist.norm.vmin == 0 and image_artist.norm.vmax == 255
        colour = box.patch.get_edgecolor()
        assert mcolors.same_color(colour, plt.get_cmap("tab10")(imageset.labels[index]))
    assert len(shown) == 4  # four different points
    again = embedding_scatter(points, imageset.labels, images=imageset.images, thumbnails=4, seed=3)
    assert [tuple(b.xy) for b in thumbnail_boxes(again.axes[0])] == [tuple(b.xy) for b in boxes]
    render(figure)


def test_embedding_scatter_thumbnails_only_of_shown_points_in_the_pca_plane():
    imageset = small_set(channels=3, classes=4, per_class=10)
    rng = np.random.default_rng(4)
    points = rng.normal(size=(40, 6))
    figure = embedding_scatter(points, imageset.labels, images=imageset.images, thumbnails=50,
                               max_points=12)
    ax = figure.axes[0]
    offsets = np.asarray(ax.collections[0].get_offsets())
    boxes = thumbnail_boxes(ax)
    assert 1 <= len(boxes) <= 12  # no more than the points shown (fewer where they crowd)
    for box in boxes:
        assert np.min(np.abs(offsets - np.asarray(box.xy)).sum(axis=1)) < 1e-9
        assert np.asarray(box.offsetbox.get_data()).shape == (8, 8, 3)
    render(figure)


def test_thumbnails_never_cover_one_another():
    from siamese_kit.plotting.embeddings import _in_points, spaced_choice

    imageset = small_set(classes=5, per_class=60)
    rng = np.random.default_rng(6)
    points = rng.normal(size=(len(imageset), 2))  # 300 points: 40 thumbnails at random would overlap
    figure = embedding_scatter(points, imageset.labels, images=imageset.images, thumbnails=40, seed=1)
    ax = figure.axes[0]
    centres = _in_points(ax, np.array([box.xy for box in thumbnail_boxes(ax)]))
    assert 5 <= len(centres) <= 40
    gaps = np.hypot(*(centres[:, None] - centres[None]).transpose(2, 0, 1))
    assert gaps[~np.eye(len(centres), dtype=bool)].min() >= 26.0  # a thumbnail's side, in points
    # The greedy choice itself: spaced, bounded, seeded.
    xy = rng.uniform(0, 100, size=(500, 2))
    chosen = spaced_choice(xy, 30, 10.0, seed=2)
    assert len(chosen) == 30 and np.array_equal(chosen, spaced_choice(xy, 30, 10.0, seed=2))
    d = np.hypot(*(xy[chosen][:, None] - xy[chosen][None]).transpose(2, 0, 1))
    assert d[~np.eye(30, dtype=bool)].min() >= 10.0
    assert len(spaced_choice(np.zeros((9, 2)), 5, 1.0, seed=0)) == 1  # all on one spot: one picture


def test_embedding_scatter_without_thumbnails_draws_no_images_and_checks_images():
    imageset = small_set()
    points = np.random.default_rng(5).normal(size=(15, 2))
    figure = embedding_scatter(points, imageset.labels, images=imageset.images)
    assert thumbnail_boxes(figure.axes[0]) == []
    with pytest.raises(ValueError, match="images"):
        embedding_scatter(points, imageset.labels, images=imageset.images[:10], thumbnails=2)
    with pytest.raises(ValueError, match="images"):
        embedding_scatter(points, imageset.labels, thumbnails=2)
    with pytest.raises(ValueError, match="thumbnails"):
        embedding_scatter(points, imageset.labels, images=imageset.images, thumbnails=-1)


# --------------------------------------------------------------------------------------- ROC


def test_roc_curve_plot_draws_curve_diagonal_chosen_point_and_legend():
    fpr = np.array([0.0, 0.05, 0.1, 0.3, 1.0])
    tpr = np.array([0.0, 0.6, 0.85, 0.95, 1.0])
    figure = roc_curve_plot(fpr, tpr, chosen_point=(0.1, 0.85, 0.7312), auc=0.9375,
                            equal_error_rate=0.12)
    ax = figure.axes[0]
    curve, chance = ax.lines[0], ax.lines[1]
    np.testing.assert_allclose(curve.get_xdata(), fpr)
    np.testing.assert_allclose(curve.get_ydata(), tpr)
    np.testing.assert_allclose(chance.get_xdata(), [0, 1])
    np.testing.assert_allclose(chance.get_ydata(), [0, 1])
    assert chance.get_linestyle() == "--" and curve.get_linestyle() == "-"
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["threshold 0.73"]
    assert tuple(ax.texts[0].xy) == (0.1, 0.85)
    chosen = [line for line in ax.lines if line.get_label().startswith("chosen")]
    assert len(chosen) == 1
    np.testing.assert_allclose(chosen[0].get_xydata(), [[0.1, 0.85]])
    legend = " | ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "AUC = 0.938" in legend and "EER = 0.120" in legend and "chance" in legend
    eer = [line for line in ax.lines if line.get_label().startswith("EER")][0]
    np.testing.assert_allclose(eer.get_xydata(), [[0.12, 0.88]])
    assert ax.get_title() == "ROC curve"
    render(figure)


def test_roc_curve_plot_plain_and_into_given_axes():
    figure = Figure()
    ax = figure.add_subplot()
    returned = roc_curve_plot([0, 0.5, 1], [0, 0.7, 1], title=None, ax=ax)
    assert returned is figure
    assert len(ax.lines) == 2 and len(ax.texts) == 0
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["ROC", "chance"]
    assert ax.get_title() == ""
    assert plt.get_fignums() == []


def test_roc_curve_plot_rejects_bad_input_naming_the_argument():
    with pytest.raises(ValueError, match="true_positive_rate"):
        roc_curve_plot([0, 0.5, 1], [0, 1])
    with pytest.raises(ValueError, match="false_positive_rate"):
        roc_curve_plot([0, 1.5, 2], [0, 0.5, 1])
    with pytest.raises(ValueError, match="true_positive_rate"):
        roc_curve_plot([0, 0.5, 1], [0, np.nan, 1])
    with pytest.raises(ValueError, match="false_positive_rate"):
        roc_curve_plot([0.5], [0.5])
    with pytest.raises(ValueError, match="auc"):
        roc_curve_plot([0, 1], [0, 1], auc=1.2)
    with pytest.raises(ValueError, match="equal_error_rate"):
        roc_curve_plot([0, 1], [0, 1], equal_error_rate=-0.1)
    with pytest.raises(ValueError, match="chosen_point"):
        roc_curve_plot([0, 1], [0, 1], chosen_point=(0.1, 0.9))
    with pytest.raises(ValueError, match="chosen_point"):
        roc_curve_plot([0, 1], [0, 1], chosen_point=(0.1, 1.9, 0.5))


# --------------------------------------------------------------------------------------- mistakes


def mistake_arrays():
    imageset = small_set(classes=3, per_class=6)  # 18 unique images
    a = imageset.images[:9]
    b = imageset.images[9:]
    targets = np.array([1, 1, 1, 1, 0, 0, 0, 0, 1])
    # distance: same when < 1.0. Wrong: 1 (1.4), 3 (3.0), 5 (0.2), 6 (0.9), 8 (1.0, on the threshold).
    scores = np.array([0.1, 1.4, 0.5, 3.0, 2.0, 0.2, 0.9, 1.5, 1.0])
    return imageset, a, b, targets, scores


def test_mistakes_grid_shows_most_confident_mistakes_first_as_wrong():
    _, a, b, targets, scores = mistake_arrays()
    figure = mistakes_grid(a, b, targets, scores, threshold=1.0, score_kind="distance", count=4,
                           columns=2)
    assert len(figure.axes) == 4
    # |distance - 1.0|: pair 3 (2.0), pair 5 (0.8), pair 1 (0.4), pair 6 (0.1); pair 8 (0.0) left out.
    for ax, pair in zip(figure.axes, [3, 5, 1, 6]):
        picture = displayed(ax)
        np.testing.assert_array_equal(picture[:, :8], a[pair, ..., 0])
        np.testing.assert_array_equal(picture[:, -8:], b[pair, ..., 0])
        assert "WRONG" in ax.get_title()
        assert f"Distance: {scores[pair]:.2f}" in ax.get_title()
        assert mcolors.same_color(ax.spines["left"].get_edgecolor(), WRONG_COLOUR)
    assert "Target: same" in figure.axes[0].get_title()
    assert "Predicted: different" in figure.axes[0].get_title()
    assert "Target: different" in figure.axes[1].get_title()
    assert "Predicted: same" in figure.axes[1].get_title()
    assert "5 mistakes" in figure._suptitle.get_text()
    render(figure)


def test_mistakes_grid_with_similarities_and_all_mistakes_shown():
    _, a, b, targets, _ = mistake_arrays()
    similarity = np.array([0.9, 0.2, 0.8, 0.5, 0.1, 0.95, 0.6, 0.3, 0.7])
    # same when >= 0.5: pair 1 (0.2 same) wrong, pair 5 (0.95 diff) wrong, pair 6 (0.6 diff) wrong.
    figure = mistakes_grid(a, b, targets, similarity, threshold=0.5, score_kind="similarity",
                           title="hard pairs")
    assert len(figure.axes) == 3
    titles = [ax.get_title() for ax in figure.axes]
    assert [title.splitlines()[-1] for title in titles] == [
        "Similarity: 0.95", "Similarity: 0.20", "Similarity: 0.60"]
    assert all("WRONG" in title for title in titles)
    assert figure._suptitle.get_text() == "hard pairs"


def test_mistakes_grid_without_mistakes_says_so():
    _, a, b, targets, _ = mistake_arrays()
    perfect = np.where(targets == 1, 0.2, 2.0)
    figure = mistakes_grid(a, b, targets, perfect, threshold=1.0, score_kind="distance")
    assert len(figure.axes) == 1
    assert not figure.axes[0].images
    assert "No mistakes at threshold 1.00" in figure.axes[0].texts[0].get_text()
    render(figure)


def test_mistakes_grid_rejects_bad_input_naming_the_argument():
    _, a, b, targets, scores = mistake_arrays()
    with pytest.raises(ValueError, match="score_kind"):
        mistakes_grid(a, b, targets, scores, 1.0, "probability")
    with pytest.raises(ValueError, match="scores"):
        mistakes_grid(a, b, targets, scores[:3], 1.0, "distance")
    with pytest.raises(ValueError, match="targets"):
        mistakes_grid(a, b, scores, scores, 1.0, "distance")
    with pytest.raises(ValueError, match="images_b"):
        mistakes_grid(a, b[:4], targets, scores, 1.0, "distance")
    with pytest.raises(ValueError, match="count"):
        mistakes_grid(a, b, targets, scores, 1.0, "distance", count=0)
    with pytest.raises(ValueError, match="threshold"):
        mistakes_grid(a, b, targets, scores, np.nan, "distance")


# --------------------------------------------------------------------------------------- retrieval


def retrieval_arrays():
    imageset = small_set(classes=3, per_class=5)
    queries = imageset.images[[0, 5]]  # classes 0 and 1
    gallery = imageset.images[1:]  # gallery index g is image g + 1
    gallery_labels = imageset.labels[1:]
    neighbours = np.array([[0, 1, 9], [4, 5, 13]])  # images 1, 2, 10 and 5, 6, 14
    distances = np.array([[0.11, 0.25, 0.4], [0.05, 0.3, 0.9]])
    return imageset, queries, gallery, neighbours, imageset.labels[[0, 5]], gallery_labels, distances


def test_retrieval_grid_rows_show_query_then_neighbours_marked_by_class():
    imageset, queries, gallery, neighbours, query_labels, gallery_labels, distances = retrieval_arrays()
    figure = retrieval_grid(queries, gallery, neighbours, query_labels, gallery_labels, distances,
                            class_names=["zero", "one", "two"])
    axes = np.array(figure.axes).reshape(2, 4)
    assert [row[0].get_title() for row in axes] == ["query: zero", "query: one"]
    np.testing.assert_array_equal(displayed(axes[0, 0]), queries[0, ..., 0])
    for row in range(2):
        for rank in range(3):
            ax = axes[row, rank + 1]
            neighbour = neighbours[row, rank]
            np.testing.assert_array_equal(displayed(ax), gallery[neighbour, ..., 0])
            title = ax.get_title()
            name = ["zero", "one", "two"][gallery_labels[neighbour]]
            assert title.startswith(f"#{rank + 1} {name}")
            assert f"dist {distances[row, rank]:.2f}" in title
    right, wrong = axes[0, 1], axes[0, 3]  # gallery 9 is image 10, class 2
    assert "OTHER CLASS" not in right.get_title() and "OTHER CLASS" in wrong.get_title()
    assert mcolors.same_color(right.spines["left"].get_edgecolor(), CORRECT_COLOUR)
    assert mcolors.same_color(wrong.spines["left"].get_edgecolor(), WRONG_COLOUR)
    assert mcolors.same_color(wrong.title.get_color(), WRONG_COLOUR)
    assert wrong.spines["left"].get_linewidth() > right.spines["left"].get_linewidth()
    assert wrong.spines["left"].get_visible()
    # Query 1 (class 1): gallery 4 and 5 are images 5, 6 (class 1), gallery 13 is image 14 (class 2).
    assert ["OTHER CLASS" in ax.get_title() for ax in axes[1, 1:]] == [False, False, True]
    assert "4 of 6" in figure._suptitle.get_text()
    render(figure)


def test_retrieval_grid_without_distances_or_names_and_with_title():
    _, queries, gallery, neighbours, query_labels, gallery_labels, _ = retrieval_arrays()
    figure = retrieval_grid(queries[:1], gallery, neighbours[:1, :2], query_labels[:1],
                            gallery_labels, title="neighbours")
    assert len(figure.axes) == 3
    assert figure.axes[0].get_title() == "query: 0"
    assert figure.axes[1].get_title() == "#1 0"
    assert "dist" not in figure.axes[2].get_title()
    assert figure._suptitle.get_text() == "neighbours"


def test_retrieval_grid_rejects_bad_input_naming_the_argument():
    _, queries, gallery, neighbours, query_labels, gallery_labels, distances = retrieval_arrays()
    args = (queries, gallery)
    with pytest.raises(ValueError, match="neighbour_indices"):
        retrieval_grid(*args, neighbours[:1], query_labels, gallery_labels)
    with pytest.raises(ValueError, match="neighbour_indices"):
        retrieval_grid(*args, neighbours + 20, query_labels, gallery_labels)
    with pytest.raises(ValueError, match="neighbour_indices"):
        retrieval_grid(*args, neighbours.astype(float), query_labels, gallery_labels)
    with pytest.raises(ValueError, match="query_labels"):
        retrieval_grid(*args, neighbours, query_labels[:1], gallery_labels)
    with pytest.raises(ValueError, match="gallery_labels"):
        retrieval_grid(*args, neighbours, query_labels, gallery_labels[:5])
    with pytest.raises(ValueError, match="distances"):
        retrieval_grid(*args, neighbours, query_labels, gallery_labels, distances[:, :2])
    with pytest.raises(ValueError, match="class_names"):
        retrieval_grid(*args, neighbours, query_labels, gallery_labels, class_names=["a"])
    with pytest.raises(ValueError, match="gallery_images"):
        retrieval_grid(queries, gallery.reshape(14, 64), neighbours, query_labels, gallery_labels)


def test_roc_on_a_log_false_positive_axis_starts_at_the_smallest_measured_rate():
    fpr = np.array([0.0, 0.0005, 0.002, 0.01, 0.1, 1.0])
    tpr = np.array([0.0, 0.90, 0.97, 0.99, 0.999, 1.0])
    ax = roc_curve_plot(fpr, tpr, auc=0.999, log_false_positive_rate=True).axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlim()[0] == pytest.approx(0.00025)
    chance = ax.get_lines()[1]
    assert chance.get_label() == "chance" and (chance.get_xdata() > 0).all()  # nothing lost to log(0)
    assert roc_curve_plot(fpr, tpr).axes[0].get_xscale() == "linear"
