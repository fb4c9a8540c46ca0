"""pixel_tensor: the stream's copy of the pixels, made once, aligned, and independent of the array."""

import numpy as np
import tensorflow as tf

from siamese_kit.data.streams.pairs import pixel_tensor


def test_the_tensor_holds_the_same_pixels_and_is_a_copy():
    images = np.random.default_rng(0).integers(0, 256, size=(50, 8, 8, 1), dtype=np.uint8)
    tensor = pixel_tensor(images)
    assert tensor.dtype == tf.uint8 and tuple(tensor.shape) == images.shape
    np.testing.assert_array_equal(tensor.numpy(), images)
    images[0] = 0  # later changes to the array do not reach the stream's copy
    assert int(tf.reduce_sum(tf.cast(tensor[0], tf.int32))) != 0


def test_read_only_unaligned_and_strided_arrays_work():
    data = np.arange(1, 200, dtype=np.int32).tobytes()
    read_only = np.frombuffer(data[4:4 + 35 * 4], dtype=np.int32).reshape(7, 5)
    assert not read_only.flags.writeable
    strided = np.linspace(0, 1, 60, dtype=np.float32).reshape(4, 3, 5)[:, ::2]
    for array in (read_only, strided, np.zeros((0, 3), np.uint8)):
        tensor = pixel_tensor(array)
        np.testing.assert_array_equal(tensor.numpy(), array)
        if array.size:
            # Ops read it as any tensor (a misaligned buffer would abort TensorFlow here).
            np.testing.assert_array_equal(tf.gather(tensor, [1, 0]).numpy(), array[[1, 0]])


def _memory_mb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def test_a_stream_over_many_images_holds_one_copy_of_the_pixels_at_its_peak():
    import pytest

    from siamese_kit.data import ImageSet, pair_stream

    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # resets this process's peak RSS (VmHWM) to its current RSS
    except OSError:
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak RSS")
    labels = np.arange(200_000) % 10
    images = np.broadcast_to(labels.astype(np.uint8)[:, None, None, None], (200_000, 28, 28, 1)).copy()
    imageset = ImageSet(images, labels)
    data_mb = images.nbytes / 2**20
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    before = _memory_mb("VmRSS")
    features, _ = next(iter(pair_stream(imageset, 64, seed=0)))
    grown = _memory_mb("VmHWM") - before
    # One copy of the pixels for the stream; tf.constant and tf.data's graph rewrites would each
    # have added another full copy at the peak.
    assert data_mb * 0.9 < grown < data_mb * 1.5, (grown, data_mb)
    assert features["image_a"].shape == (64, 28, 28, 1)
