"""pixel_tensor: the stream's copy of the pixels, made once, aligned, and independent of the array."""

import numpy as np
import tensorflow as tf

from siamese_kit.data.pairs import pixel_tensor


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
