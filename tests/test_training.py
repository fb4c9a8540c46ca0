"""The custom loop shares fit's step; monitors record, draw and stop; classifier head and towers."""

import io
import re

import keras
import numpy as np
import pytest

from siamese_kit.data import pair_stream
from siamese_kit.layers import CentroidDecoder, EuclideanDistance, TwinClassifierHead
from siamese_kit.losses import ContrastiveLoss
from siamese_kit.models import SiameseModel, conv4, koch_105
from siamese_kit.training import InverseDecay, NotebookMonitor, TerminalMonitor, TrainingMonitor, train_loop

from conftest import make_imageset
from test_model import tiny_encoder


def contrastive_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = SiameseModel(tiny_encoder(), EuclideanDistance(), CentroidDecoder(4))
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss=ContrastiveLoss(2.0))
    return model


def test_train_loop_and_fit_run_the_same_step():
    imageset = make_imageset()
    looped, fitted = contrastive_model(), contrastive_model()
    result = train_loop(looped, pair_stream(imageset, 8, seed=1), steps=12)
    fitted.fit(pair_stream(imageset, 8, seed=1), steps_per_epoch=12, epochs=1, verbose=0, shuffle=False)
    assert result["steps_done"] == 12 and not result["stopped"]
    for a, b in zip(looped.get_weights(), fitted.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_monitor_records_the_mean_of_each_window_of_steps():
    imageset = make_imageset()
    monitor = TrainingMonitor(total_steps=60, pairs_per_step=8, record_every=10)
    train_loop(contrastive_model(), pair_stream(imageset, 8, seed=0), steps=60, monitor=monitor)
    every_step = TrainingMonitor(total_steps=60, pairs_per_step=8, record_every=1)
    train_loop(contrastive_model(), pair_stream(imageset, 8, seed=0), steps=60, monitor=every_step)
    assert monitor.steps == [10, 20, 30, 40, 50, 60] and every_step.steps == list(range(1, 61))
    # Each recorded point is the mean of its 10 steps' own losses, from an identical second run.
    np.testing.assert_allclose(monitor.losses, np.reshape(every_step.losses, (6, 10)).mean(axis=1), rtol=1e-6)
    # And the curve shows learning: the last window's loss is a tenth of the first's (measured ~0.06).
    assert monitor.losses[-1] < 0.1 * monitor.losses[0]


def test_stop_button_ends_training_cleanly_between_steps():
    imageset = make_imageset()
    monitor = NotebookMonitor(total_steps=100, pairs_per_step=8, record_every=1, plot_every=5)

    original_update = monitor.update

    def update_then_click(step, loss):
        original_update(step, loss)
        if step == 7:
            monitor.stop_button.click()  # what a user's click does, driven from Python

    monitor.update = update_then_click
    result = train_loop(contrastive_model(), pair_stream(imageset, 8), steps=100, monitor=monitor)
    assert result["stopped"] and result["steps_done"] == 7
    assert monitor.stop_button.disabled
    assert "stopped by request after step 7" in monitor.status.value
    # The live plot was redrawn in place (steps 5) and holds a PNG.
    assert monitor.redraws == 1 and monitor.plot.value[:4] == b"\x89PNG"
    assert len(monitor.losses) == 7


def test_terminal_monitor_prints_device_and_progress():
    imageset = make_imageset()
    out = io.StringIO()
    monitor = TerminalMonitor(total_steps=20, pairs_per_step=8, record_every=5, file=out)
    train_loop(contrastive_model(), pair_stream(imageset, 8), steps=20, monitor=monitor)
    text = out.getvalue()
    assert "training on CPU" in text or "training on GPU" in text
    assert "pairs_s=" in text and "loss=" in text and "training finished" in text


def test_train_loop_stops_on_nan_naming_the_step():
    imageset = make_imageset()
    model = SiameseModel(tiny_encoder(), EuclideanDistance())
    model.compile(optimizer=keras.optimizers.SGD(1e30), loss=ContrastiveLoss(2.0))
    with pytest.raises(FloatingPointError, match="at step"):
        train_loop(model, pair_stream(imageset, 8), steps=50)


def test_uncompiled_model_is_refused():
    with pytest.raises(ValueError, match="compile the model first"):
        train_loop(SiameseModel(tiny_encoder(), EuclideanDistance()), None, steps=1)


def test_twin_classifier_head_is_a_probability_of_same():
    head = TwinClassifierHead()
    a = np.zeros((3, 5), "float32")
    b = np.stack([np.zeros(5), np.ones(5), 2 * np.ones(5)]).astype("float32")
    probability = keras.ops.convert_to_numpy(head([a, b]))
    assert probability.shape == (3,) and np.all((probability > 0) & (probability < 1))
    kernel, bias = head.dense.get_weights()
    expected = 1 / (1 + np.exp(-(np.abs(a - b) @ kernel[:, 0] + bias[0])))
    np.testing.assert_allclose(probability, expected, rtol=1e-5)


@pytest.mark.parametrize("stddev", [0.01, 0.05])
def test_twin_classifier_head_weights_start_as_the_normal_they_name(stddev):
    # 4,096 weights (Koch's feature width): the sample std of N(0, s) is within 4.5 standard errors
    # (s / sqrt(2n), about 1.1% of s) of s, and the mean within 4.5 of s / sqrt(n).
    head = TwinClassifierHead(kernel_stddev=stddev)
    head.build([(None, 4096), (None, 4096)])
    kernel, bias = head.dense.get_weights()
    assert abs(kernel.std() - stddev) < 4.5 * stddev / np.sqrt(2 * kernel.size)
    assert abs(kernel.mean()) < 4.5 * stddev / np.sqrt(kernel.size)
    assert np.all(bias == 0)


def test_koch_105_follows_the_tutorial_tower():
    tower = koch_105()
    shapes = {layer.name: layer.output.shape[1:] for layer in tower.layers}
    assert shapes["conv1"] == (96, 96, 64) and shapes["conv4"] == (5, 5, 256)
    assert tower.output.shape[-1] == 4096
    assert tower.get_layer("sigmoid_features").activation.__name__ == "sigmoid"
    weights = tower.get_layer("conv2").get_weights()[0]  # 401,408 draws of N(0, 0.01)
    assert abs(float(weights.std()) - 0.01) < 4.5 * 0.01 / np.sqrt(2 * weights.size)
    assert abs(float(weights.mean())) < 4.5 * 0.01 / np.sqrt(weights.size)


def test_conv4_is_small_and_inverts_strokes():
    tower = conv4((28, 28, 1), feature_dim=64)
    assert tower.count_params() < 200_000
    white = np.full((1, 28, 28, 1), 255, np.uint8)
    rescale = keras.Model(tower.input, tower.get_layer("to_unit_range_inverted").output)
    assert float(np.max(keras.ops.convert_to_numpy(rescale(white)))) == 0.0


def test_inverse_decay_matches_caffe_inv_policy():
    schedule = InverseDecay(0.01, gamma=1e-4, power=0.75)
    assert float(schedule(0)) == pytest.approx(0.01)
    assert float(schedule(10_000)) == pytest.approx(0.01 * (1 + 1.0) ** -0.75, rel=1e-5)
    assert InverseDecay.from_config(schedule.get_config()).power == 0.75


def test_step_logger_on_fit_records_the_same_curve_as_train_loop():
    from siamese_kit.training import StepLogger

    imageset = make_imageset()
    logger = StepLogger(total_steps=20, pairs_per_step=8, every=5, print_every=0)
    contrastive_model().fit(pair_stream(imageset, 8, seed=3), steps_per_epoch=10, epochs=2, verbose=0,
                            shuffle=False, callbacks=[logger])
    monitor = TrainingMonitor(total_steps=20, pairs_per_step=8, record_every=5)
    train_loop(contrastive_model(), pair_stream(imageset, 8, seed=3), steps=20, monitor=monitor)
    assert logger.history()["step"] == [5, 10, 15, 20] == monitor.steps
    np.testing.assert_allclose(logger.history()["loss"], monitor.losses, rtol=1e-4)


def test_step_logger_prints_the_mean_of_the_recent_steps_as_the_curve_shows(capsys):
    from siamese_kit.training import StepLogger

    logger = StepLogger(total_steps=20, pairs_per_step=8, every=5, print_every=10)
    contrastive_model().fit(pair_stream(make_imageset(), 8, seed=3), steps_per_epoch=20, epochs=1, verbose=0,
                            shuffle=False, callbacks=[logger])
    printed = [float(line.split("loss ")[1].split()[0]) for line in capsys.readouterr().out.splitlines()]
    curve = logger.history()["loss"]           # means of 5 steps each: two of them per printed line
    np.testing.assert_allclose(printed, [np.mean(curve[0:2]), np.mean(curve[2:4])], atol=6e-5)  # printed to 4 places


def record_displays(monitor_module, monkeypatch, in_kernel=True):
    """What `IPython.display.display` is handed, with the kernel check answered `in_kernel`."""
    import IPython.display

    shown = []
    monkeypatch.setattr(monitor_module, "_in_ipython_kernel", lambda: in_kernel)
    monkeypatch.setattr(IPython.display, "display", lambda *objects, **kw: shown.append((objects, kw)))
    return shown


def png_size(data):
    import base64

    from PIL import Image

    png = base64.b64decode(data)
    assert png[:4] == b"\x89PNG"
    return Image.open(io.BytesIO(png)).size


def test_a_stopped_run_leaves_a_static_png_of_its_loss_curve_saying_so(monkeypatch):
    import siamese_kit.monitors as monitors

    shown = record_displays(monitors, monkeypatch)
    monitor = NotebookMonitor(total_steps=100, pairs_per_step=8, record_every=1, plot_every=50)
    original_update = monitor.update

    def update_then_click(step, loss):
        original_update(step, loss)
        if step == 7:
            monitor.stop_button.click()

    monitor.update = update_then_click
    train_loop(contrastive_model(), pair_stream(make_imageset(), 8), steps=100, monitor=monitor)
    # One plain image output (no widget), which an HTML page or GitHub shows without a kernel.
    assert len(shown) == 1
    (bundle,), options = shown[0]
    assert options == {"raw": True} and set(bundle) == {"image/png", "text/plain"}
    width, height = png_size(bundle["image/png"])
    assert width > 300 and height > 150
    title = bundle["text/plain"]
    assert title.startswith("Training stopped (by request after step 7): 7 of 100 steps")
    assert f"last recorded loss {monitor.losses[-1]:.4f}" in title and "pairs/s" in title
    # The picture's own title is that text, drawn over the curve of all 7 recorded steps.
    figure = monitor.loss_figure(title=monitor.summary("stopped by request after step 7"))
    ax = figure.axes[0]
    assert ax.get_title() == title
    assert list(ax.lines[0].get_xdata()) == [1, 2, 3, 4, 5, 6, 7] and ax.get_xlim() == (0, 100)


def test_a_finished_run_says_finished_and_outside_a_kernel_nothing_is_displayed(monkeypatch):
    import siamese_kit.monitors as monitors

    shown = record_displays(monitors, monkeypatch)
    monitor = NotebookMonitor(total_steps=6, pairs_per_step=4, record_every=2, plot_every=3, unit="episodes")
    train_loop(contrastive_model(), pair_stream(make_imageset(), 4), steps=6, monitor=monitor)
    (bundle,), _ = shown[0]
    assert bundle["text/plain"].startswith("Training finished: 6 of 6 steps\n")
    assert "episodes/s" in bundle["text/plain"] and "pairs" not in bundle["text/plain"]
    assert "episodes/s" in monitor.status.value and "pairs/s" not in monitor.status.value

    quiet = record_displays(monitors, monkeypatch, in_kernel=False)
    monitor = NotebookMonitor(total_steps=3, pairs_per_step=4)
    train_loop(contrastive_model(), pair_stream(make_imageset(), 4), steps=3, monitor=monitor)
    assert quiet == [] and "finished" in monitor.status.value
    assert not monitors._in_ipython_kernel()  # pytest runs no kernel


def test_the_speed_is_worded_in_the_unit_one_step_holds():
    monitor = TrainingMonitor(total_steps=10, pairs_per_step=20, unit="images")
    monitor.started_at -= 2.0  # two seconds ago
    monitor.load_state(None, 0)
    assert monitor.items_per_second(10) == pytest.approx(100, rel=0.05)
    assert monitor.pairs_per_second(10) == pytest.approx(monitor.items_per_second(10), rel=0.05)
    assert re.fullmatch(r"(9\d|10\d) images/s", monitor.speed_text(10))
    assert TrainingMonitor(10, 8).unit == "pairs"  # existing callers keep "pairs/s"
    out = io.StringIO()
    terminal = TerminalMonitor(total_steps=10, pairs_per_step=1, record_every=5, file=out, unit="episodes")
    train_loop(contrastive_model(), pair_stream(make_imageset(), 4), steps=10, monitor=terminal)
    assert "episodes_s=" in out.getvalue() and "pairs_s=" not in out.getvalue()
    with pytest.raises(ValueError, match="unit must name"):
        TrainingMonitor(10, 8, unit="")


def test_train_loop_reads_the_losses_in_bursts_not_after_every_step():
    class WhenReported(TrainingMonitor):
        """Notes how many steps the optimizer had taken when each step's loss reached the host."""

        def __init__(self, model):
            super().__init__(total_steps=12, pairs_per_step=8, record_every=5)
            self.model = model
            self.optimizer_steps = {}

        def update(self, step, loss):
            super().update(step, loss)
            self.optimizer_steps[step] = int(self.model.optimizer.iterations.numpy())

    model = contrastive_model()
    monitor = WhenReported(model)
    train_loop(model, pair_stream(make_imageset(), 8, seed=0), steps=12, monitor=monitor)
    # Steps 1-5 are read together after step 5 was queued, 6-10 after 10, then the last two.
    assert monitor.optimizer_steps == {**dict.fromkeys(range(1, 6), 5), **dict.fromkeys(range(6, 11), 10),
                                       11: 12, 12: 12}
    # Every step's own loss is still reported, in order.
    assert sorted(monitor.optimizer_steps) == list(range(1, 13)) and monitor.steps == [5, 10, 12]


def test_read_every_must_be_a_positive_integer():
    with pytest.raises(ValueError, match="train_loop: read_every must be a positive integer"):
        train_loop(contrastive_model(), pair_stream(make_imageset(), 8), steps=2, read_every=0)
