"""What the lessons import: runtime flags and seeding (:mod:`~seminar.runtime`), the training log,
plots, and each chapter's data and pictures. Two subpackages sit above it: the grader
(:mod:`seminar.grader`) and the course tools (:mod:`seminar.tools`, the command line
``python -m seminar``); nothing here imports either.

Importing this package sets TensorFlow's environment defaults, so every exercise imports it before
TensorFlow. Each default is only a default: a value already in the environment wins.
"""

import contextlib
import importlib.abc
import importlib.util
import os
import sys
import tempfile

TF_ENVIRONMENT_DEFAULTS = {
    # Hide TensorFlow's C++ log lines (on a machine without a GPU they include an alarming but
    # harmless "failed call to cuInit"). Python errors still raise; set it to 0 when debugging TF.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    # oneDNN kernels: a LeNet epoch measured 10 s with them against 22 s without on a 2-core CPU.
    "TF_ENABLE_ONEDNN_OPTS": "1",
}

for _name, _value in TF_ENVIRONMENT_DEFAULTS.items():
    os.environ.setdefault(_name, _value)



# Where TensorFlow's start-up notices go when an exercise runs directly (kept until the next run:
# if TensorFlow crashes while loading, what it printed is there).
TENSORFLOW_IMPORT_LOG = os.path.join(tempfile.gettempdir(), "seminar-tensorflow-import.log")


@contextlib.contextmanager
def _standard_error_to_log():
    """Send what compiled code writes to the standard error (file descriptor 2) to
    :data:`TENSORFLOW_IMPORT_LOG` while the block runs; if the block raises, print it, then
    re-raise. When the log cannot be written, nothing is hidden."""
    try:
        log = open(TENSORFLOW_IMPORT_LOG, "w+b")
    except OSError:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Import TensorFlow with its start-up notices out of sight. Its native libraries log, twice,
    before TF_CPP_MIN_LOG_LEVEL is read ("All log messages before absl::InitializeLog()...", "oneDNN
    custom operations are on", "Could not find cuda drivers"): noise a student takes for an error.
    Python errors are untouched; if the import fails, the notices are printed after all. Nothing
    happens until something imports tensorflow (the command line never does). If TensorFlow
    crashes the process while loading, what it printed is in :data:`TENSORFLOW_IMPORT_LOG`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: look the module up the normal way, then wrap its loading
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            with _standard_error_to_log():
                load(module)

        spec.loader.exec_module = exec_module
        return spec


_QUIET_IMPORT = _QuietTensorFlowImport()
if os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "0" and "tensorflow" not in sys.modules:
    sys.meta_path.insert(0, _QUIET_IMPORT)


def loud_tensorflow_import() -> None:
    """Let TensorFlow import with its notices on the standard error again (the isolated check
    sends them to a log of its own, which it shows if the import fails)."""
    if _QUIET_IMPORT in sys.meta_path:
        sys.meta_path.remove(_QUIET_IMPORT)


__all__ = ["TF_ENVIRONMENT_DEFAULTS", "loud_tensorflow_import"]
