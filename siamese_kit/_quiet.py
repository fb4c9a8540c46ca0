"""TensorFlow imported without its start-up chatter on the terminal or in notebook outputs.

On a machine without a GPU, TensorFlow's C++ side prints lines such as "All log messages before
absl::InitializeLog() is called are written to STDERR" and "Could not find cuda drivers" straight to
file descriptor 2 while it loads, whatever `TF_CPP_MIN_LOG_LEVEL` says. Learners read them as errors.
They are written below Python, so `sys.stderr` cannot catch them: the descriptor itself is pointed at
a temporary file for the duration of the import, and every line that is not known start-up noise is
written back afterwards, so a real warning is never lost.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

# Lines TensorFlow, XLA and absl print while loading on a CPU-only machine; nothing a user can act on.
STARTUP_NOISE = re.compile(
    r"absl::InitializeLog|cudart_stub|cuda_dnn|cuda_fft|cuda_blas|cuda drivers|Unable to register cu"
    r"|oneDNN custom operations|TF_ENABLE_ONEDNN_OPTS|This TensorFlow binary is optimized|rebuild TensorFlow"
    r"|computation placer already registered|cuInit|failed call to cuInit|^\s*$"
)


def is_startup_noise(line: str) -> bool:
    """Whether one line of stderr is TensorFlow start-up noise.

    Args:
        line: one line of text, with or without its newline.

    Returns:
        True for the known start-up lines (and blank lines), False for anything else.
    """
    return bool(STARTUP_NOISE.search(line))


def import_tensorflow_quietly():
    """Imports TensorFlow (once per process) with its start-up noise dropped and anything else kept.

    Set `SIAMESE_KIT_TF_NOISE=1` to see TensorFlow's start-up lines unchanged.

    Returns:
        the `tensorflow` module.
    """
    if "tensorflow" in sys.modules or os.environ.get("SIAMESE_KIT_TF_NOISE") == "1":
        import tensorflow

        return tensorflow
    # Run-time C++ logs too (a CPU-only machine logs "failed call to cuInit" as an error when the devices
    # are first listed); set TF_CPP_MIN_LOG_LEVEL yourself to see them.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (some embedded interpreters): nothing to silence
        import tensorflow

        return tensorflow
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow
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
    return tensorflow
