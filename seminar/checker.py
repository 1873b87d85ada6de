"""Run an exercise file (a student's skeleton or the solution) through its manifest thresholds.

The tests and ``python -m seminar check`` both call :func:`run_checks`, so a student's file is
judged exactly as the solution is in CI.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import linecache
import pathlib
import re
import sys
import tempfile
import time
import traceback
import types

import numpy as np

from seminar import diagnosis, feedback, measures, skeleton
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
    reported: float | None = None  # main()'s own number, when the checker measured the value itself

    def line(self) -> str:
        op, threshold = self.check.bound(self.full)
        if self.value is None:
            return f"[FAIL] {self.check.metric}: missing from the metrics main() returned"
        mark = "ok " if self.passed else "FAIL"
        text = f"[{mark}] {self.check.metric} = {self.value:.4g} (needs {op} {threshold:g})"
        if self.check.measure:
            text += ", measured by the checker"
            if self.reported is not None and not _close(self.reported, self.value):
                text += f" (main() reported {self.reported:.4g})"
        return text


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


@dataclasses.dataclass
class RunResult:
    exercise: Exercise
    path: pathlib.Path
    metrics: dict  # the plain numbers main() returned
    results: list[CheckResult]
    seconds: float = float("nan")  # main()'s wall time, TensorFlow already loaded
    findings: list = dataclasses.field(default_factory=list)  # diagnosis.Finding, likely causes
    stopped_before_training: bool = False  # a probe found a bug: main() was not run
    feedback: list = dataclasses.field(default_factory=list)  # lines against the solution's run
    loss_curve: list | None = None  # main()'s training loss curve, when it returned one
    loss_curve_unit: str = "step"  # what one point of the curve is: a "step" or an "epoch"

    @property
    def final_loss(self) -> float | None:
        """The training loss at the end: the mean of the last tenth of the curve (what the
        manifest's ``loss_at_most`` bounds)."""
        return diagnosis.final_loss(self.loss_curve)

    @property
    def passed(self) -> bool:
        return (bool(self.results) and all(r.passed for r in self.results)
                and not any(f.fatal for f in self.findings))


def _as_number(value) -> float | None:
    """A metric as a float; None for a missing or non-numeric value (which then fails its check)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def numeric_metrics(metrics: dict) -> dict[str, float]:
    """The plain numbers among what ``main()`` returned (not the evidence: arrays, models)."""
    numbers = {}
    for key, value in metrics.items():
        scalar = isinstance(value, (int, float)) or getattr(value, "shape", None) == ()
        if scalar and not isinstance(value, bool) and _as_number(value) is not None:
            numbers[key] = _as_number(value)
    return numbers


def evaluate(exercise: Exercise, metrics: dict, full: bool = False,
             measured: dict[str, float] | None = None) -> list[CheckResult]:
    """Compare the metrics with the exercise's thresholds (fast or full). A metric in ``measured``
    (computed by the checker from the evidence main() returned) is judged on that value; NaN fails."""
    if not isinstance(metrics, dict):
        raise TypeError(f"main() must return a dict of metrics, got {type(metrics).__name__}")
    measured = measured or {}
    results = []
    for check in exercise.checks:
        reported = _as_number(metrics.get(check.metric))
        value = measured.get(check.metric, None if check.measure else reported)
        if value is None:
            results.append(CheckResult(check, None, False, full, reported))
            continue
        results.append(CheckResult(check, value, check.passes(value, full), full, reported))
    return results


def measure_checks(exercise: Exercise, module: types.ModuleType, metrics: dict, seed: int,
                   full: bool) -> dict[str, float]:
    """Run the measures the exercise's checks name (see :mod:`seminar.measures`)."""
    if not isinstance(metrics, dict):
        raise TypeError(f"main() must return a dict of metrics, got {type(metrics).__name__}")
    context = measures.Context(module=module, metrics=metrics, seed=seed, full=full)
    return {check.metric: measures.run(check.measure, context)
            for check in exercise.checks if check.measure}


def run_checks(exercise: Exercise, path: pathlib.Path, *, seed: int | None = None,
               output_dir: pathlib.Path | None = None, full: bool = False,
               extra_args: tuple[str, ...] = (), quiet: bool = False,
               probes: bool = True) -> RunResult:
    """Load ``path``, probe its functions (the exercise's ``probes``; a bug found stops here), run
    its ``main`` with the exercise's fast settings (or the full run), evaluate the thresholds and
    read the training curve for likely causes. Exceptions from the student's code propagate."""
    module = load_module(path)
    seed = exercise.test_seed if seed is None else seed
    findings = []
    if probes and exercise.probes:
        findings = diagnosis.run_probes(exercise.probes, diagnosis.Context(module, seed))
        if any(f.fatal for f in findings):
            return RunResult(exercise, pathlib.Path(path), {}, [], float("nan"), findings, True)
    with tempfile.TemporaryDirectory(prefix="seminar-check-") as scratch:
        out = pathlib.Path(output_dir) if output_dir is not None else pathlib.Path(scratch)
        argv = [] if full else list(exercise.fast_args)
        argv += ["--seed", str(seed), "--output-dir", str(out), *extra_args]
        if quiet:
            argv.append("--quiet")
        started = time.perf_counter()
        metrics = module.main(argv)
        seconds = time.perf_counter() - started
        measured = measure_checks(exercise, module, metrics, seed, full)
        results = evaluate(exercise, metrics, full, measured)
        if probes:
            findings += after_training(exercise, module, metrics, seed, full)
        compared = [] if full or _curve(metrics) is None else feedback.compare(
            exercise, metrics, seconds, output_dir)
    return RunResult(exercise, pathlib.Path(path), numeric_metrics(metrics), results, seconds,
                     findings, feedback=compared, loss_curve=_curve(metrics),
                     loss_curve_unit=str(metrics.get("loss_curve_unit", "step")))


def _curve(metrics: dict) -> list[float] | None:
    """main()'s ``loss_curve`` as plain floats (None if missing or not numbers)."""
    try:
        return [float(v) for v in np.asarray(metrics["loss_curve"], dtype=np.float64).ravel()]
    except (KeyError, TypeError, ValueError):
        return None


def after_training(exercise: Exercise, module: types.ModuleType, metrics: dict, seed: int,
                   full: bool) -> list:
    """Likely causes read from what main() returned: its loss curve, and the exercise's
    ``after_probes``. The loss bound is the fast run's (a full run ends lower still)."""
    found = diagnosis.curve_findings(
        metrics, loss_at_most=exercise.loss_at_most, loss_reference=exercise.loss_reference,
        loss_cause=exercise.loss_cause,
        chance=exercise.chance, accuracy_key=exercise.chance_metric)
    if exercise.after_probes:
        found += diagnosis.run_probes(exercise.after_probes,
                                      diagnosis.Context(module, seed, metrics=metrics))
    return found


def is_unfilled_todo(error: BaseException) -> bool:
    """True for the ``NotImplementedError`` a skeleton raises where a TODO is not filled in (inside
    a ``tf.function`` TensorFlow prefixes the message with where the trace was, so look anywhere)."""
    return isinstance(error, NotImplementedError) and "TODO in " in str(error)


def todo_text(error: BaseException) -> str:
    """The skeleton's own message ("TODO in f() ..."), without TensorFlow's tracing prefix."""
    message = str(error)
    start = message.rfind("TODO in ")  # TensorFlow quotes the raising line first
    if start < 0:
        return message
    return message[start:].splitlines()[0].strip()


def todo_report(error: BaseException, path: pathlib.Path) -> str:
    """What ``check`` says about an unfilled TODO: the first one still open in the file, in file
    order (not whichever the run reached first), with its line and its task as the file words it."""
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    todo = skeleton.first_open(text)
    if todo is None:
        return todo_text(error)
    task = "\n".join("    " + line for line in todo.comment)
    return f"{todo.function}(), line {todo.line}:\n{task}"


_FILE_LINE = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


def student_lines(error: BaseException, path: pathlib.Path) -> list[int]:
    """The lines of the student's file that the error passed through, innermost last: from the
    traceback and from the error's message (TensorFlow quotes the user's code there for an error
    inside a ``tf.function``, where the traceback itself shows only its generated code)."""
    path = pathlib.Path(path).resolve()
    lines = [f.lineno for f in traceback.extract_tb(error.__traceback__) if _in_file(f.filename, path)]
    lines += [int(match.group("line")) for match in _FILE_LINE.finditer(str(error))
              if _in_file(match.group("file"), path)]
    return lines


def student_traceback(error: BaseException, path: pathlib.Path) -> str:
    """The traceback cut to the frames in the student's file (all frames if none is there), led by
    the innermost line of the student's file, also when TensorFlow hid it in its message."""
    path = pathlib.Path(path).resolve()
    frames = traceback.extract_tb(traceback_at_student_frame(error, path))
    own = [f for f in frames if _in_file(f.filename, path)]
    shown = traceback.StackSummary.from_list(own or frames).format()
    text = "".join(shown) + "".join(traceback.format_exception_only(type(error), error))
    lines = student_lines(error, path)
    if lines:
        source = linecache.getline(str(path), lines[-1]).strip()
        text = (f"In your file {path.name}, line {lines[-1]}:\n    {source}\n"
                f"{type(error).__name__}: {_error_line(error)}\n\nThe details:\n{text}")
    return text


def _error_line(error: BaseException) -> str:
    """The error's own sentence: its last non-empty line (TensorFlow puts the user's code first)."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _in_file(filename: str, path: pathlib.Path) -> bool:
    """Whether a frame's ``filename`` is the student's file ``path`` (resolved)."""
    try:
        return pathlib.Path(filename).resolve() == path
    except (OSError, ValueError):
        return False


def traceback_at_student_frame(error: BaseException, path: pathlib.Path):
    """The one place where a traceback is cut: after the last frame in the student's file (left
    whole if none is there), so that a debugger opens on the student's failing line rather than
    deep inside TensorFlow, and :func:`student_traceback` shows nothing beyond it."""
    path = pathlib.Path(path).resolve()
    last_own = None
    entry = error.__traceback__
    while entry is not None:
        if _in_file(entry.tb_frame.f_code.co_filename, path):
            last_own = entry
        entry = entry.tb_next
    if last_own is not None:
        last_own.tb_next = None
    return error.__traceback__
