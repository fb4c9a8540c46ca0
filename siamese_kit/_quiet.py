"""TensorFlow loaded without its start-up chatter on the terminal or in notebook outputs.

On a machine without a GPU, TensorFlow's C++ side prints lines such as "All log messages before
absl::InitializeLog() is called are written to STDERR" and "Could not find cuda drivers" straight to
file descriptor 2 while it loads, whatever `TF_CPP_MIN_LOG_LEVEL` says. Learners read them as errors.
They are written below Python, so `sys.stderr` cannot catch them: the descriptor itself is pointed at
a temporary file while TensorFlow loads, and every line that is not known start-up noise is written
back afterwards, so a real warning is never lost.

`import siamese_kit` only installs an import hook (cheap: TensorFlow is not loaded then); whoever
imports TensorFlow first afterwards (siamese_kit itself, `import keras`, `import tensorflow`) loads it
through the hook, quietly. Set `SIAMESE_KIT_TF_NOISE=1` to see TensorFlow's start-up lines unchanged.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile

# Lines TensorFlow, XLA and absl print while loading on a CPU-only machine; nothing a user can act on.
STARTUP_NOISE = re.compile(
    r"absl::InitializeLog|cudart_stub|cuda_dnn|cuda_fft|cuda_blas|cuda drivers|Unable to register cu"
    r"|oneDNN custom operations|TF_ENABLE_ONEDNN_OPTS|This TensorFlow binary is optimized|rebuild TensorFlow"
    r"|computation placer already registered|cuInit|failed call to cuInit|TF-TRT Warning|^\s*$"
)


def is_startup_noise(line: str) -> bool:
    """Whether one line of stderr is TensorFlow start-up noise.

    Args:
        line: one line of text, with or without its newline.

    Returns:
        True for the known start-up lines (and blank lines), False for anything else.
    """
    return bool(STARTUP_NOISE.search(line))


def _wanted() -> bool:
    return os.environ.get("SIAMESE_KIT_TF_NOISE") != "1"


@contextlib.contextmanager
def _startup_noise_filtered():
    """Descriptor 2 goes to a temporary file inside the block; all but the noise is written back after."""
    # Run-time C++ logs too (a CPU-only machine logs "failed call to cuInit" as an error when the devices
    # are first listed); set TF_CPP_MIN_LOG_LEVEL yourself to see them.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (some embedded interpreters): nothing to silence
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True)
                    if not is_startup_noise(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def import_tensorflow_quietly():
    """Imports TensorFlow now (once per process) with its start-up noise dropped and anything else kept.

    Returns:
        the `tensorflow` module.
    """
    if "tensorflow" in sys.modules or not _wanted():
        import tensorflow

        return tensorflow
    with _startup_noise_filtered():
        import tensorflow
    return tensorflow


class _QuietLoader(importlib.abc.Loader):
    """Runs TensorFlow's own loader with its start-up noise filtered out."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with _startup_noise_filtered():
            self._loader.exec_module(module)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as the import system would, and hands it a loader that filters the noise."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        uninstall_quiet_import()  # once: the submodules load inside this import anyway
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None and _wanted():
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install_quiet_import() -> None:
    """Makes the first import of TensorFlow in this process, by anyone, a quiet one.

    Costs nothing until TensorFlow is imported, and does nothing where it is imported already.
    """
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietTensorFlowFinder())


def uninstall_quiet_import() -> None:
    """Removes the hook of `install_quiet_import` (TensorFlow then loads as it would without siamese_kit)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _QuietTensorFlowFinder)]
