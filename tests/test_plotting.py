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
    pair_grid,
    pair_set_grid,
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
    from siamese_kit.data.pairs import PairSet

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


def test_confusion_matrix_normalised_rows_sum_to_one():
    matrix = np.array([[8, 2, 0], [1, 3, 0], [0, 0, 5]])
    figure = confusion_matrix_plot(matrix, class_names=["x", "y", "z"])
    ax = figure.axes[0]
    shown = displayed(ax)
    np.testing.assert_allclose(shown.sum(axis=1), 1.0)
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    cell_texts = [t.get_text() for t in ax.texts]
    assert len(cell_texts) == 9 and "0.80" in cell_texts and "0.75" in cell_texts
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
    render(figure)


def test_confusion_matrix_counts_empty_rows_and_ax():
    matrix = np.array([[4, 1], [0, 0]])
    figure = Figure()
    ax = figure.add_subplot()
    returned = confusion_matrix_plot(matrix, normalize=False, ax=ax)
    assert returned is figure
    np.testing.assert_array_equal(displayed(ax), matrix)
    assert sorted(t.get_text() for t in ax.texts) == ["0", "0", "1", "4"]
    normalised = displayed(confusion_matrix_plot(matrix).axes[0])
    np.testing.assert_allclose(normalised, [[0.8, 0.2], [0.0, 0.0]])  # no NaN for an empty row


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
