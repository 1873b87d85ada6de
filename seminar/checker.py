"""Run an exercise file (a student's skeleton or the solution) through its manifest thresholds.

The tests and ``python -m seminar check`` both call :func:`run_checks`, so a student's file is
judged exactly as the solution is in CI.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import pathlib
import sys
import tempfile
import traceback
import types

from seminar.manifest import Check, Exercise

_loaded = 0


def load_module(path: pathlib.Path) -> types.ModuleType:
    """Import a script by path under a fresh, unique module name (nothing runs: scripts keep their
    work in ``main``). Loading the same file twice gives two independent modules."""
    global _loaded
    _loaded += 1
    path = pathlib.Path(path).resolve()
    name = f"_seminar_loaded_{_loaded}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    if not callable(getattr(module, "main", None)):
        raise AttributeError(f"{path} has no main(argv=None) function")
    return module


@dataclasses.dataclass
class CheckResult:
    check: Check
    value: float | None  # None when the metric is missing from what main returned
    passed: bool
    full: bool

    def line(self) -> str:
        op, threshold = self.check.bound(self.full)
        if self.value is None:
            return f"{self.check.metric}: missing from the metrics main() returned"
        mark = "ok " if self.passed else "FAIL"
        return f"[{mark}] {self.check.metric} = {self.value:.4g} (needs {op} {threshold:g})"


@dataclasses.dataclass
class RunResult:
    exercise: Exercise
    path: pathlib.Path
    metrics: dict
    results: list[CheckResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def evaluate(exercise: Exercise, metrics: dict, full: bool = False) -> list[CheckResult]:
    """Compare ``metrics`` with the exercise's thresholds (fast or full)."""
    if not isinstance(metrics, dict):
        raise TypeError(f"main() must return a dict of metrics, got {type(metrics).__name__}")
    results = []
    for check in exercise.checks:
        value = metrics.get(check.metric)
        if value is None:
            results.append(CheckResult(check, None, False, full))
            continue
        value = float(value)
        results.append(CheckResult(check, value, check.passes(value, full), full))
    return results


def run_checks(exercise: Exercise, path: pathlib.Path, *, seed: int | None = None,
               output_dir: pathlib.Path | None = None, full: bool = False,
               extra_args: tuple[str, ...] = (), quiet: bool = False) -> RunResult:
    """Load ``path``, run its ``main`` with the exercise's fast settings (or the full run), and
    evaluate the thresholds. Exceptions from the student's code propagate to the caller."""
    module = load_module(path)
    seed = exercise.test_seed if seed is None else seed
    with tempfile.TemporaryDirectory(prefix="seminar-check-") as scratch:
        out = pathlib.Path(output_dir) if output_dir is not None else pathlib.Path(scratch)
        argv = [] if full else list(exercise.fast_args)
        argv += ["--seed", str(seed), "--output-dir", str(out), *extra_args]
        if quiet:
            argv.append("--quiet")
        metrics = module.main(argv)
    return RunResult(exercise, pathlib.Path(path), metrics, evaluate(exercise, metrics, full))


def is_unfilled_todo(error: BaseException) -> bool:
    """True for the ``NotImplementedError`` a skeleton raises where a TODO is not filled in (inside
    a ``tf.function`` TensorFlow prefixes the message with where the trace was, so look anywhere)."""
    return isinstance(error, NotImplementedError) and "TODO in " in str(error)


def todo_text(error: BaseException) -> str:
    """The skeleton's own message ("TODO in f(): ..."), without TensorFlow's tracing prefix."""
    message = str(error)
    start = message.rfind("TODO in ")  # TensorFlow quotes the raising line first
    if start < 0:
        return message
    return message[start:].splitlines()[0].strip()


def student_traceback(error: BaseException, path: pathlib.Path) -> str:
    """The traceback cut to the frames in the student's file (all frames if none is there)."""
    path = pathlib.Path(path).resolve()
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if pathlib.Path(f.filename).resolve() == path]
    shown = traceback.StackSummary.from_list(own or frames).format()
    return "".join(shown) + "".join(traceback.format_exception_only(type(error), error))
