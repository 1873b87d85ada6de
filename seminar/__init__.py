"""The seminar's shared harness: runtime flags, seeding, plots, the exercise manifest and the
student command line (``python -m seminar``).

In a notebook, the command line's two everyday commands are functions::

    from seminar import check, hint
    hint("sgd/linear_regression")    # the next hint, as `python -m seminar hint ID`
    check("sgd/linear_regression")   # the same verdict as `python -m seminar check ID`

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

def check(exercise_id: str | None = None, *, path=None, seed: int | None = None,
          quiet: bool = False, record: bool = True) -> bool:
    """Check an exercise as ``python -m seminar check ID`` does, from a notebook cell or any Python
    code: the same child process, probes, thresholds, diagnosis and verdict, printed here; returns
    whether it passed. It reads the exercise's ``.py`` file (``path`` to check another file): in a
    notebook paired with it by jupytext, save the notebook first so the ``.py`` has your edits.
    ``exercise_id=None`` checks the next exercise not passing yet; ``record`` updates your
    progress (``python -m seminar list``)."""
    import pathlib

    from seminar import commands

    exercise = commands.chosen_exercise(exercise_id)
    if exercise is None:
        print("Every exercise passes. Well done!")
        return True
    target = pathlib.Path(path) if path is not None else exercise.exercise_path
    commands.warn_if_notebook_is_newer(target)
    return commands.check_once(exercise, target, seed=seed, quiet=quiet, record=record) == 0


def hint(exercise_id: str) -> None:
    """Print the next hint of an exercise, as ``python -m seminar hint ID`` does."""
    from seminar import commands

    commands.main(["hint", exercise_id])


__all__ = ["TF_ENVIRONMENT_DEFAULTS", "check", "hint"]
