"""Helpers shared by the test suite and the root conftest (importable as `support`: see pyproject's
pytest `pythonpath`)."""

import json
import os
import re
from pathlib import Path


def in_ci() -> bool:
    """Whether this is a CI run (any true-ish CI value), where missing data must fail, never skip."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


# Each notebook names the datasets it reads in its install cell: `for dataset in ("omniglot",):`.
_NOTEBOOK_DATASETS = re.compile(r"for dataset in \(([^)]*)\)")


def notebook_datasets(path: Path) -> tuple[str, ...]:
    """The datasets a notebook reads, as its install cell lists them."""
    cells = json.loads(Path(path).read_text(encoding="utf-8")).get("cells", [])
    source = "\n".join("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code")
    found = _NOTEBOOK_DATASETS.search(source)
    return tuple(re.findall(r"['\"](\w+)['\"]", found.group(1))) if found else ()


def load_benchmark(name: str):
    """A script of `benchmarks/` imported as a module (they are scripts, not a package), e.g. `"index"`."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def keras_backend() -> str:
    """The Keras backend this test process runs on (`KERAS_BACKEND`; TensorFlow by default)."""
    import keras

    return keras.backend.backend()


def tensorflow_only(reason: str):
    """A pytest mark skipping a test on the JAX and PyTorch backends, for a piece that is TensorFlow's
    alone (`tf.function` traces, `tf.distribute`), with the reason shown."""
    import pytest

    return pytest.mark.skipif(keras_backend() != "tensorflow", reason=f"TensorFlow backend only: {reason}")


def value_and_gradient(function, point):
    """`function(point)`, a scalar, and its gradient with respect to `point`, on the Keras backend in
    use (TensorFlow's tape, `jax.grad` or PyTorch's autograd), so a gradient test runs on all three.

    Returns:
        `(value, gradient)`: a float and a numpy array shaped like `point`.
    """
    import numpy as np

    backend = keras_backend()
    if backend == "jax":
        import jax

        value, gradient = jax.value_and_grad(function)(jax.numpy.asarray(point))
    elif backend == "torch":
        import torch

        tensor = torch.tensor(np.asarray(point), requires_grad=True)
        value = function(tensor)
        (gradient,) = torch.autograd.grad(value, tensor)
        value, gradient = value.detach(), gradient.detach()
    else:
        import tensorflow as tf

        tensor = tf.constant(point)
        with tf.GradientTape() as tape:
            tape.watch(tensor)
            value = function(tensor)
        gradient = tape.gradient(value, tensor)
    return float(np.asarray(value)), np.asarray(gradient)


def float64_or_skip():
    """Skips a test that needs float64 arithmetic where the backend does not keep it: JAX computes in
    float32 unless `jax_enable_x64` is set before it starts, and Keras's PyTorch backend returns
    float32 from `ops.matmul` and `ops.maximum` of float64 tensors (Keras 3.15)."""
    import pytest

    if keras_backend() != "tensorflow":
        pytest.skip(f"float64 is not kept on the {keras_backend()} backend; the float64 check runs on TensorFlow")
