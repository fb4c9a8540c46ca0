"""Which device TensorFlow will train on, in words, and the `tf.distribute` strategy to train with."""

from __future__ import annotations

import contextlib
import json
import os
import platform

from ._checks import positive_int

STRATEGY_KINDS = ("auto", "mirrored", "multi_worker", "default")


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


def cpu_replicas(count: int) -> list[str]:
    """Splits the CPU into `count` logical devices, so `MirroredStrategy` runs `count` replicas on it.

    Meant for trying and testing distributed training on a machine without several GPUs: the
    replicas share the same cores, so it is not faster. TensorFlow fixes its devices when it first
    runs an op, so call this at the top of a fresh process, before any tensor is made.

    Args:
        count: logical CPU devices wanted, 1 or more.

    Returns:
        the logical CPU devices' names, e.g. `["/device:CPU:0", "/device:CPU:1"]`.

    Raises:
        ValueError: if `count` is not a positive integer.
        RuntimeError: if TensorFlow already started with another number of CPU devices.

    Example:
        >>> cpu_replicas(2)                       # first thing in the process
        >>> with strategy("mirrored").scope():     # 2 replicas, one per logical CPU
        ...     model = build_contrastive_model(recipe, (28, 28, 1), 10)
    """
    count = positive_int(count, "cpu_replicas: count", example="2")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError as error:
        existing = tf.config.list_logical_devices("CPU")
        if len(existing) != count:
            raise RuntimeError(
                f"cpu_replicas: TensorFlow already started with {len(existing)} CPU device(s), so "
                f"it cannot split the CPU into {count} now; call cpu_replicas({count}) at the top of "
                "a fresh process, before any tensor is made."
            ) from error
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def cluster_size() -> int:
    """Workers named in the `TF_CONFIG` environment variable, the cluster `MultiWorkerMirroredStrategy` joins.

    Returns:
        the number of tasks in `TF_CONFIG`'s cluster (chief and workers), 0 when `TF_CONFIG` is unset.

    Raises:
        ValueError: if `TF_CONFIG` is set but is not the JSON TensorFlow expects.
    """
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return 0
    try:
        cluster = json.loads(text)["cluster"]
        return sum(len(cluster.get(role, [])) for role in ("chief", "worker"))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(
            "TF_CONFIG must be JSON like '{\"cluster\": {\"worker\": [\"host1:12345\", \"host2:12345\"]}, "
            f"\"task\": {{\"type\": \"worker\", \"index\": 0}}}}', got {text[:120]!r} ({error})."
        ) from None


def strategy(kind: str = "auto"):
    """The `tf.distribute` strategy to build, compile and train a model under.

    Build and compile the model inside `strategy(...).scope()`, then train as usual:
    `model.fit(pair_stream(...))` or `train_loop` split each batch of the stream (the global batch)
    across the replicas, and the step sums their gradients, so a step matches one device's step
    on the same batch.

    Args:
        kind: `"auto"` picks `MultiWorkerMirroredStrategy` when `TF_CONFIG` names 2 or more
            workers, else `MirroredStrategy` over every GPU when there are 2 or more, over the
            logical CPUs when `cpu_replicas` split the CPU, and TensorFlow's single-device default
            otherwise; `"mirrored"` is `MirroredStrategy` over all GPUs (all logical CPUs when there
            is none), even with one device; `"multi_worker"` is `MultiWorkerMirroredStrategy` over
            the cluster `TF_CONFIG` names (one worker, this process, without it); `"default"` is the
            strategy in effect (the single-device default outside any scope).

    Returns:
        a `tf.distribute.Strategy`; `num_replicas_in_sync` says how many replicas it trains on.

    Raises:
        ValueError: if `kind` is not one of `STRATEGY_KINDS`, or `TF_CONFIG` is not valid JSON.

    A multi-worker strategy joins the other workers while it is made: every worker runs the same
    program, and each calls this first, before any tensor is made (TensorFlow configures its
    collective ops once, when it starts); the call waits until all workers have started.
    """
    if kind not in STRATEGY_KINDS:
        raise ValueError(f"strategy: kind must be one of {STRATEGY_KINDS}, got {kind!r}.")
    import tensorflow as tf

    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "multi_worker" or (kind == "auto" and cluster_size() > 1):
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    if kind == "auto" and len(devices) < 2:
        return tf.distribute.get_strategy()
    return tf.distribute.MirroredStrategy([device.name for device in devices])


def on_tensorflow() -> bool:
    """Whether Keras runs on the TensorFlow backend (`KERAS_BACKEND`), where `tf.distribute` applies.

    Returns:
        True on TensorFlow; False on JAX and PyTorch.
    """
    import keras

    return keras.backend.backend() == "tensorflow"


def model_strategy(model):
    """The `tf.distribute` strategy a model was built under; None on JAX and PyTorch (one device).

    Args:
        model: a Keras model.

    Returns:
        `model.distribute_strategy` on TensorFlow, else None.
    """
    return model.distribute_strategy if on_tensorflow() else None


def strategy_scope(model):
    """The scope to create a model's variables in (optimizer slots, for instance): its strategy's on
    TensorFlow, none on JAX and PyTorch.

    Args:
        model: a Keras model.

    Returns:
        a context manager.
    """
    strategy_in_use = model_strategy(model)
    return contextlib.nullcontext() if strategy_in_use is None else strategy_in_use.scope()
