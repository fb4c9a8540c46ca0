"""TensorFlow loads without its start-up chatter, and nothing else printed meanwhile is lost."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from siamese_kit._quiet import is_startup_noise

QUIET = Path(__file__).resolve().parents[1] / "siamese_kit" / "_quiet.py"


def _clean_env():
    env = dict(os.environ)
    for name in ("TF_CPP_MIN_LOG_LEVEL", "SIAMESE_KIT_TF_NOISE"):
        env.pop(name, None)
    return env


def test_importing_the_package_prints_no_tensorflow_noise():
    done = subprocess.run([sys.executable, "-c", "import siamese_kit, keras; print('ok')"],
                          capture_output=True, text=True, timeout=120, env=_clean_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert done.stderr == "", done.stderr


def test_without_the_package_tensorflow_is_noisy_here():
    # The control: the lines the package removes are really printed by this TensorFlow (if a future
    # TensorFlow stops printing them, this test says so and the filter can go).
    done = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True, text=True,
                          timeout=120, env=_clean_env())
    noisy = [line for line in done.stderr.splitlines() if line.strip()]
    assert noisy and all(is_startup_noise(line) for line in noisy), done.stderr


def test_lines_that_are_not_noise_are_written_back():
    # A module that prints a real warning to file descriptor 2 while TensorFlow loads.
    code = (
        "import os, sys, importlib.abc, importlib.machinery, importlib.util\n"
        "class Loader(importlib.abc.Loader):\n"
        "    def create_module(self, spec): return None\n"
        "    def exec_module(self, module):\n"
        "        os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called\\n')\n"
        "        os.write(2, b'UserWarning: your data folder is read-only\\n')\n"
        "class Meta(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'tensorflow': return importlib.machinery.ModuleSpec(name, Loader())\n"
        "sys.meta_path.insert(0, Meta())\n"
        # The module alone, by path: the package's own import would load the real TensorFlow first.
        f"spec = importlib.util.spec_from_file_location('quiet', {str(QUIET)!r})\n"
        "quiet = importlib.util.module_from_spec(spec); spec.loader.exec_module(quiet)\n"
        "quiet.import_tensorflow_quietly()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env=_clean_env())
    assert done.returncode == 0, done.stderr
    assert done.stderr == "UserWarning: your data folder is read-only\n"


def test_noise_filter_keeps_real_messages():
    assert is_startup_noise("I0000 00:00:1795 cudart_stub.cc:31] Could not find cuda drivers on your machine")
    assert not is_startup_noise("ValueError: images have shape (32, 32, 3)")
    assert not is_startup_noise("UserWarning: your data folder is read-only")


def _stand_in_tensorflow(folder: Path, body: str) -> dict:
    """A package named `tensorflow` in `folder` whose import runs `body`; the environment that finds it first."""
    package = folder / "tensorflow"
    package.mkdir()
    (package / "__init__.py").write_text("import os, sys\n" + body)
    env = _clean_env()
    env["PYTHONPATH"] = os.pathsep.join([str(folder), str(QUIET.parents[1])])
    return env


def test_a_crash_while_tensorflow_loads_keeps_its_message(tmp_path):
    # What TensorFlow does on a CPU without the instructions it was built for: one line, then abort().
    env = _stand_in_tensorflow(tmp_path, (
        "os.write(2, b'I0000 cudart_stub.cc:31] Could not find cuda drivers on your machine\\n')\n"
        "os.write(2, b'The TensorFlow library was compiled to use AVX instructions, but these aren\\'t "
        "available on your machine.\\n')\n"
        "os.abort()\n"))
    done = subprocess.run([sys.executable, "-c", "import siamese_kit, tensorflow"], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == -signal.SIGABRT
    assert "compiled to use AVX instructions" in done.stderr  # the one line that explains the crash
    assert "cuda drivers" not in done.stderr


def test_the_log_level_is_set_for_the_import_only(tmp_path):
    env = _stand_in_tensorflow(tmp_path, "level_during_import = os.environ.get('TF_CPP_MIN_LOG_LEVEL')\n")
    code = ("import os, siamese_kit, tensorflow\n"
            "print(tensorflow.level_during_import, os.environ.get('TF_CPP_MIN_LOG_LEVEL'))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "None"]
    # A level the user chose is theirs, during the import and after it.
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**env, "TF_CPP_MIN_LOG_LEVEL": "1"})
    assert done.stdout.split() == ["1", "1"]


def test_the_quiet_loader_answers_as_the_loader_it_wraps():
    import importlib.machinery

    from siamese_kit._quiet import _QuietLoader

    spec = importlib.machinery.PathFinder.find_spec("json")
    quiet = _QuietLoader(spec.loader)
    assert quiet.is_package("json") is True
    assert quiet.get_filename("json") == spec.loader.get_filename("json")
    with pytest.raises(AttributeError):
        quiet.no_such_attribute
