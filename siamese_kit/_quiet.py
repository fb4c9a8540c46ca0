"""TensorFlow loaded without its start-up chatter on the terminal or in notebook outputs.

On a machine without a GPU, TensorFlow's C++ side prints lines such as "All log messages before
absl::InitializeLog() is called are written to STDERR" and "Could not find cuda drivers" straight to
file descriptor 2 while it loads, whatever `TF_CPP_MIN_LOG_LEVEL` says. Learners read them as errors.
They are written below Python, so `sys.stderr` cannot catch them: while TensorFlow loads, descriptor 2
is pointed at a pipe, and a small relay process copies every line that is not known start-up noise to
the real stderr as it arrives. A relay *process*, not a thread: when the import crashes the process
(TensorFlow aborts on a CPU without the instructions it was built for, with a message saying so), a
thread dies with it before it has read the last lines, while the relay still reads the pipe to its end
and the user sees the one message that explains the crash.

`TF_CPP_MIN_LOG_LEVEL=3` is set only for the import (when the user has not set it): TensorFlow reads it
once, on its first log line, which it prints while loading, so run-time C++ errors of no use on a
CPU-only machine (such as "failed call to cuInit" when the devices are first listed) stay hidden,
while the variable is not left behind for anything else the process starts.

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
import subprocess
import sys

# Lines TensorFlow, XLA and absl print while loading on a CPU-only machine; nothing a user can act on.
STARTUP_NOISE = re.compile(
    r"absl::InitializeLog|cudart_stub|cuda_dnn|cuda_fft|cuda_blas|cuda drivers|Unable to register cu"
    r"|oneDNN custom operations|TF_ENABLE_ONEDNN_OPTS|This TensorFlow binary is optimized|rebuild TensorFlow"
    r"|computation placer already registered|cuInit|failed call to cuInit|TF-TRT Warning|^\s*$"
)

# The relay: reads the pipe line by line, writes all but the noise to its stdout (the real stderr) at once.
_RELAY = (
    "import re, sys\n"
    "noise = re.compile(sys.argv[1])\n"
    "for line in sys.stdin.buffer:\n"
    "    if not noise.search(line.decode('utf-8', 'replace')):\n"
    "        sys.stdout.buffer.write(line)\n"
    "        sys.stdout.buffer.flush()\n"
)
# How long the import waits for the relay to write its last lines; a process TensorFlow started while
# loading can hold the pipe open longer, and the relay then finishes on its own.
_RELAY_DRAIN_SECONDS = 5.0


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
def _log_level_for_the_import():
    """`TF_CPP_MIN_LOG_LEVEL=3` inside the block unless the user chose a level; as it was afterwards."""
    chosen = "TF_CPP_MIN_LOG_LEVEL" in os.environ
    if not chosen:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    try:
        yield
    finally:
        if not chosen:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)


def _start_relay(real_stderr: int):
    """A relay process reading a new pipe; returns (the pipe's write end, the process), or None."""
    read_end, write_end = os.pipe()
    try:
        relay = subprocess.Popen([sys.executable, "-I", "-S", "-c", _RELAY, STARTUP_NOISE.pattern],
                                 stdin=read_end, stdout=real_stderr, stderr=real_stderr)
    except (OSError, ValueError):  # no interpreter to start (some embedded or frozen programs)
        os.close(write_end)
        return None
    finally:
        os.close(read_end)
    return write_end, relay


@contextlib.contextmanager
def _startup_noise_filtered():
    """Inside the block descriptor 2 writes through the relay, which drops the noise and keeps the rest."""
    with _log_level_for_the_import():
        sys.stderr.flush()
        try:
            real_stderr = os.dup(2)
        except OSError:  # no descriptor 2 (some embedded interpreters): nothing to filter
            yield
            return
        started = _start_relay(real_stderr)
        if started is None:  # unfiltered rather than silenced: a crash message must reach the user
            os.close(real_stderr)
            yield
            return
        write_end, relay = started
        os.dup2(write_end, 2)
        os.close(write_end)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(real_stderr, 2)  # the pipe's last write end in this process closes: the relay reads EOF
            os.close(real_stderr)
            with contextlib.suppress(subprocess.TimeoutExpired):
                relay.wait(timeout=_RELAY_DRAIN_SECONDS)


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
    """Runs TensorFlow's own loader with its start-up noise filtered out; all else is the loader's own."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):
        # is_package, get_resource_reader, get_filename, ...: whatever the wrapped loader answers.
        return getattr(self._loader, name)

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
