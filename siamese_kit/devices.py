"""Which device TensorFlow will train on, in words."""

from __future__ import annotations

import os
import platform


def device_report() -> str:
    """A one-line description of the device TensorFlow uses: the GPU's name when it sees one, else CPU.

    Returns:
        for example `"GPU: NVIDIA H100 80GB HBM3 (1 GPU)"` or `"CPU: x86_64, 2 cores (no GPU visible)"`.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        name = details.get("device_name", gpus[0].name)
        return f"GPU: {name} ({len(gpus)} GPU{'s' if len(gpus) > 1 else ''})"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"CPU: {platform.machine()}, {cores} cores (no GPU visible)"
