"""Seeds derived by hashing, never by addition, so two runs' seeds never share a draw.

A stream draws batch `n` of seed `s` with the stateless key `[s, n]`. Keys made by adding to it
(`[s + 1, n + 1]` for a second draw, `s + 7919` for the augmentation) collide across runs: seed 1 at
batch 5 then draws what seed 0 drew at batch 4 for another purpose. Here every further draw folds a
purpose code into the batch's key (`tf.random.experimental.stateless_fold_in`, a counter-based hash),
and seeds made in Python for fixed pair sets go through NumPy's `SeedSequence`, so distinct
(seed, batch, purpose) triples give unrelated keys.
"""

from __future__ import annotations

import zlib

import numpy as np
import tensorflow as tf

# Fixed codes, one per kind of draw made from a batch's key; changing one changes every stream.
PURPOSES = {
    "episode classes": 1,
    "episode images": 2,
    "augment first": 3,
    "augment second": 4,
    "distortion scale": 5,
    "distortion shift": 6,
    "balanced classes": 7,
    "balanced images": 8,
    "test-time view": 9,
    "support tuning view": 10,
    "balanced group": 11,
}


def batch_key(seed, number):
    """The stateless key `[seed, number]` of element `number` of a stream seeded with `seed`.

    Args:
        seed: int (or int tensor), the stream's seed.
        number: int (or int tensor), the batch or episode number.

    Returns:
        int64 tensor `[2]`.
    """
    return tf.stack([tf.cast(seed, tf.int64), tf.cast(number, tf.int64)])


def derived_key(key, purpose: str):
    """A key for another draw from the same batch, unrelated to any batch's own key.

    Args:
        key: int64 tensor `[2]`, a batch key (or a key derived from one).
        purpose: one of `PURPOSES`.

    Returns:
        int64 tensor `[2]`.

    Raises:
        KeyError: for an unknown purpose.
    """
    return tf.random.experimental.stateless_fold_in(tf.cast(key, tf.int64), PURPOSES[purpose])


def derived_seed(seed: int, purpose: str) -> int:
    """A Python int seed for another seeded thing of the same run (a validation pair set, ...).

    Args:
        seed: the run's seed.
        purpose: words naming what it seeds, e.g. `"validation pairs"`.

    Returns:
        int in [0, 2**31), the same for the same `(seed, purpose)`.
    """
    code = zlib.crc32(purpose.encode("utf-8"))
    return int(np.random.SeedSequence(entropy=int(seed), spawn_key=(code,)).generate_state(1)[0] >> 1)
