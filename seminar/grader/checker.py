"""Judge an exercise file (a student's skeleton, the solution, a variant) in this process: probe its
functions, run its ``main()`` with the exercise's fast settings, measure each checked metric from
the evidence ``main()`` returns, compare with the thresholds of ``exercises.toml`` and read the
training for likely causes.

``python -m seminar check`` runs this in a child process (:mod:`seminar.grader.isolation`), so that
nothing the checked file does can fake or hide the verdict; the tests call :func:`run_checks`
directly. Both give an :class:`Outcome`.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import linecache
import math
import pathlib
import re
import sys
import tempfile
import time
import traceback
import types

import numpy as np

from seminar.grader import feedback, grading, markers
from seminar.grader.findings import Finding, curve_findings, final_loss
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
    value: float | None  # None when the metric could not be had
    passed: bool
    full: bool
    reported: float | None = None  # main()'s own number, beside the checker's measure

    def line(self) -> str:
        op, threshold = self.check.bound(self.full)
        if self.value is None:
            return f"[FAIL] {self.check.metric}: missing from the metrics main() returned"
        mark = "ok " if self.passed else "FAIL"
        text = (f"[{mark}] {self.check.metric} = {self.value:.4g} (needs {op} {threshold:g}), "
                f"measured by the checker")
        if self.reported is not None and not _close(self.reported, self.value):
            text += f" (main() reported {self.reported:.4g})"
        return text


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


@dataclasses.dataclass
class Outcome:
    """What became of one check, run here or in a child process.

    ``kind`` is one of: "ran" (main() returned; ``results`` hold the verdict, or a probe stopped
    the check before training), "todo" (a TODO is not filled in), "error" (the code raised),
    "dataset" (data could not be had), "evidence" (main() returned what cannot be judged), "exit"
    (the code ended the process), "usage" (the script refused a flag), "crash" (the process died
    from a signal), "timeout" (stopped at the time limit), "tensorflow" (TensorFlow failed to
    load).
    """

    kind: str
    message: str = ""
    traceback: str = ""
    metrics: dict = dataclasses.field(default_factory=dict)  # the plain numbers main() returned
    results: list = dataclasses.field(default_factory=list)  # CheckResult, one per check
    seconds: float = float("nan")  # main()'s wall time, TensorFlow already loaded
    wall_seconds: float = float("nan")  # the whole child process, when there was one
    prepare_seconds: float = 0.0  # of which preparing data and models (not the student's time)
    probes: list = dataclasses.field(default_factory=list)  # the names of the probes that ran
    findings: list = dataclasses.field(default_factory=list)  # Finding: likely causes
    stopped_before_training: bool = False  # a probe found a bug: main() did not run
    feedback: list = dataclasses.field(default_factory=list)  # lines against the solution's run
    loss_curve: list | None = None  # main()'s training loss curve, when it returned one
    loss_curve_unit: str = "step"  # what one point of the curve is: a "step" or an "epoch"

    @property
    def final_loss(self) -> float | None:
        """The training loss at the end: the mean of the last tenth of the curve (what the
        manifest's ``loss_at_most`` bounds)."""
        return final_loss(self.loss_curve)

    @property
    def passed(self) -> bool:
        return (self.kind == "ran" and bool(self.results) and all(r.passed for r in self.results)
                and not any(f.fatal for f in self.findings))

    def report(self) -> dict:
        """What a child process sends back (JSON): the measured values, not the verdict, which
        the parent makes itself from the thresholds."""
        return {"kind": self.kind, "message": self.message, "traceback": self.traceback,
                "metrics": self.metrics, "seconds": self.seconds, "probes": self.probes,
                "measured": {r.check.metric: r.value for r in self.results if r.value is not None},
                "findings": [f.as_dict() for f in self.findings],
                "stopped_before_training": self.stopped_before_training,
                "feedback": self.feedback, "loss_curve": self.loss_curve,
                "loss_curve_unit": self.loss_curve_unit}

    @classmethod
    def from_report(cls, exercise: Exercise, report: dict, full: bool) -> "Outcome":
        outcome = cls(**{key: report[key] for key in (
            "kind", "message", "traceback", "metrics", "seconds", "probes",
            "stopped_before_training", "feedback", "loss_curve", "loss_curve_unit")
            if key in report})
        outcome.findings = [Finding.from_dict(f) for f in report.get("findings", [])]
        if outcome.kind == "ran" and not outcome.stopped_before_training:
            outcome.results = evaluate(exercise, outcome.metrics, full, report.get("measured", {}))
        return outcome


def _as_number(value) -> float | None:
    """A metric as a float; None for a missing or non-numeric value."""
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


def evaluate(exercise: Exercise, metrics: dict, full: bool, measured: dict) -> list[CheckResult]:
    """Compare the values the checker measured with the exercise's thresholds (fast or full);
    ``metrics`` gives main()'s own numbers for comparison. A missing or NaN value fails."""
    results = []
    for check in exercise.checks:
        value = _as_number(measured.get(check.metric))
        passed = value is not None and not math.isnan(value) and check.passes(value, full)
        results.append(CheckResult(check, value, passed, full, _as_number(metrics.get(check.metric))))
    return results


def run_checks(exercise: Exercise, path: pathlib.Path, *, seed: int | None = None,
               output_dir: pathlib.Path | None = None, full: bool = False,
               extra_args: tuple[str, ...] = (), quiet: bool = False,
               probes: bool = True) -> Outcome:
    """Load ``path``, run the probes of the exercise's grading module (a bug found stops here), run
    its ``main`` with the exercise's fast settings (or the full run), measure the checked metrics,
    evaluate the thresholds and read the training for likely causes. Exceptions from the student's
    code propagate."""
    module = load_module(path)
    seed = exercise.test_seed if seed is None else seed
    graded = grading.load(exercise)
    outcome = Outcome("ran", probes=graded.probe_names if probes else [])
    if probes:
        outcome.findings = grading.run_probes(graded, grading.Context(exercise, module, seed, full))
        if any(f.fatal for f in outcome.findings):
            outcome.stopped_before_training = True
            return outcome
    with tempfile.TemporaryDirectory(prefix="seminar-check-") as scratch:
        out = pathlib.Path(output_dir) if output_dir is not None else pathlib.Path(scratch)
        argv = [] if full else list(exercise.fast_args)
        argv += ["--seed", str(seed), "--output-dir", str(out), *extra_args]
        if quiet:
            argv.append("--quiet")
        started = time.perf_counter()
        metrics = module.main(argv)
        outcome.seconds = time.perf_counter() - started
        try:
            outcome.loss_curve = required_curve(exercise, metrics)
            context = grading.Context(exercise, module, seed, full, metrics=metrics)
            outcome.results = evaluate(exercise, metrics, full, grading.measure(graded, context))
            outcome.metrics = numeric_metrics(metrics)
            outcome.loss_curve_unit = str(metrics.get("loss_curve_unit", "step"))
            if probes:
                outcome.findings += curve_findings(
                    metrics, loss_at_most=exercise.loss_at_most,
                    loss_reference=exercise.loss_reference, loss_cause=exercise.loss_cause,
                    chance=exercise.chance, accuracy_key=exercise.chance_metric)
                outcome.findings += grading.run_after(
                    graded, grading.Context(exercise, module, seed, full, metrics=metrics))
        except grading.EvidenceError as error:  # what main() returned cannot be judged
            return Outcome("evidence", seconds=outcome.seconds, probes=outcome.probes, message=(
                f"The checker cannot judge what main() returned: {error}.\nmain() must end by "
                f"returning the dict the original skeleton's main() returns (python -m seminar "
                f"reset {exercise.id} puts the skeleton back, keeping a backup of your file)."))
        if not full and outcome.loss_curve is not None:
            outcome.feedback = feedback.compare(exercise, metrics, outcome.seconds, output_dir)
    return outcome


def required_curve(exercise: Exercise, metrics) -> list[float] | None:
    """main()'s ``loss_curve`` as plain floats; None when it returned none and the exercise bounds
    no training loss. Evidence a check needs is required: when the exercise bounds the final
    training loss (``loss_at_most``), a missing, empty or non-numeric curve raises
    :class:`~seminar.grader.grading.EvidenceError`, as does a curve of something else than numbers
    and a ``main()`` that returns no dict at all."""
    if not isinstance(metrics, dict):
        raise grading.EvidenceError(f"it returned {type(metrics).__name__}, not a dict of metrics")
    if "loss_curve" not in metrics:
        if exercise.loss_at_most is None:
            return None
        raise grading.EvidenceError(
            "'loss_curve' is missing: main() must return the training loss it recorded, one value "
            "per step (or per epoch), under 'loss_curve', for the checker to bound the final "
            f"training loss (at most {exercise.loss_at_most:g})")
    try:
        curve = [float(v) for v in np.asarray(metrics["loss_curve"], dtype=np.float64).ravel()]
    except (TypeError, ValueError):
        raise grading.EvidenceError("'loss_curve' must be a list or array of numbers, the training "
                                    "loss per step") from None
    if not curve and exercise.loss_at_most is not None:
        raise grading.EvidenceError("'loss_curve' is empty: the training loss of each step must be "
                                    "recorded in it")
    return curve


# ---------------------------------------------------------------------------- the student's errors


def verdict_from_text(exercise: Exercise, path: pathlib.Path) -> Outcome | None:
    """The verdict when the file's text alone decides it, without TensorFlow; None otherwise.

    Two cases, each giving the message a full check would give: the file does not parse (the
    check would stop at the same ``SyntaxError`` on import), or its first open TODO (the
    skeleton's ``raise`` right under the TODO comment) is certain to raise when its function runs,
    since the raise stands in the function's own body with no ``return`` or ``raise`` before it.
    The probes call every function that has a TODO (``tests/test_curriculum.py`` checks it for
    every TODO of every exercise), so such a file cannot pass."""
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None  # the child process reports what is wrong with the file
    try:
        tree = compile(text, str(pathlib.Path(path).resolve()), "exec", ast.PyCF_ONLY_AST)
    except SyntaxError as error:
        return Outcome("error", message=f"{type(error).__name__}: {error}",
                       traceback=student_traceback(error, path))
    except ValueError:  # a NUL byte: Python's import says the same
        return None
    todo = markers.first_open(text)
    if todo is None or not _raises_at(tree, todo.function, todo.line + len(todo.comment)):
        return None
    return Outcome("todo", message=todo_report(NotImplementedError(), path))


def _raises_at(tree: ast.AST, function: str, line: int) -> bool:
    """Whether the ``raise`` on ``line`` stands directly in the body of a function named
    ``function`` with no statement before it that could leave the function (a ``return``, a
    ``raise``, a ``yield``, at any depth outside nested definitions)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
            for statement in node.body:
                if isinstance(statement, ast.Raise) and statement.lineno == line:
                    return True
                if _may_leave(statement):
                    break
    return False


def _may_leave(statement: ast.stmt) -> bool:
    leaving = (ast.Return, ast.Raise, ast.Yield, ast.YieldFrom, ast.Await)
    nested = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    stack = [statement]
    while stack:
        node = stack.pop()
        if isinstance(node, leaving):
            return True
        stack.extend(child for child in ast.iter_child_nodes(node) if not isinstance(child, nested))
    return False


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
    todo = markers.first_open(text)
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
    if isinstance(error, SyntaxError) and error.filename and error.lineno \
            and _in_file(error.filename, path):  # the position is in the error, not a frame
        lines.append(int(error.lineno))
    return lines


def student_traceback(error: BaseException, path: pathlib.Path) -> str:
    """What ``check`` shows of an error: the innermost line of the student's file (from the
    traceback, from the position a ``SyntaxError`` names, or from the message TensorFlow writes for
    an error inside a ``tf.function``), the error's own sentence, its likely cause when the error
    is a known first-day mistake (:data:`KNOWN_ERRORS`), then the traceback cut to the frames in
    the student's file. The checker's, TensorFlow's and Keras's frames are shown only when none of
    the student's file is involved at all."""
    path = pathlib.Path(path).resolve()
    frames = traceback.extract_tb(traceback_at_student_frame(error, path))
    own = [f for f in frames if _in_file(f.filename, path)]
    lines = student_lines(error, path)
    if own or not lines:
        details = "".join(traceback.StackSummary.from_list(own or frames).format())
    else:  # only TensorFlow's generated code ran the student's lines: its message says where
        details = "".join(f'  File "{path}", line {line}\n' for line in dict.fromkeys(lines))
    details += "".join(traceback.format_exception_only(type(error), error))
    head = ""
    if lines:
        source = linecache.getline(str(path), lines[-1]).strip()
        head = (f"In your file {path.name}, line {lines[-1]}:\n    {source}\n"
                f"{type(error).__name__}: {_error_line(error)}\n")
    cause = likely_cause(error)
    if cause is not None:
        head += f"Likely cause: {cause[0]}\n  What to do: {cause[1]}\n"
    return f"{head}\nThe details:\n{details}" if head else details


def _error_line(error: BaseException) -> str:
    """The error's own sentence: its last non-empty line (TensorFlow puts the user's code first,
    and inside a ``tf.function`` repeats the error's type before it: not shown twice)."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    line = lines[-1].strip() if lines else ""
    return line.removeprefix(f"{type(error).__name__}: ")


# The errors TensorFlow and Keras raise for the usual first-day mistakes, and the likely cause of
# each: (pattern found in the message, cause, what to do). The first pattern that matches wins, so
# the more specific come first. tests/test_robustness.py provokes each one from a real mistake.
KNOWN_ERRORS = (
    (r"No gradients provided for any variable",
     "the loss does not depend on the variables as the tape saw it: the forward pass ran before "
     "or outside the `with tf.GradientTape() as tape:` block, or the loss went through NumPy "
     "(.numpy(), np.* functions), which the tape cannot follow",
     "compute the predictions and the loss inside the `with` block, with TensorFlow operations"),
    (r"non-persistent GradientTape can only be used to compute one set of gradients",
     "tape.gradient was called twice on one tape",
     "get every gradient from one call (tape.gradient(loss, [v1, v2, ...])), or use one tape per "
     "loss (two `with` blocks, or tf.GradientTape(persistent=True))"),
    (r"optimizer can only be called for the variables it was originally built with",
     "one optimizer is applied to two different sets of variables (for example a generator's and "
     "a discriminator's)",
     "give each model its own optimizer"),
    (r"only supports singleton tf\.Variables created on the first call",
     "a variable is created inside a tf.function (a tf.Variable, a layer, a model or an optimizer "
     "made in the step)",
     "create variables, layers, models and optimizers once, outside the function that trains"),
    (r"has no attribute 'numpy'|numpy\(\) is only available when eager execution",
     ".numpy() called inside a tf.function, where a tensor has no value yet",
     "keep the computation in TensorFlow operations inside the step; call .numpy() on what the "
     "step returns"),
    (r"does not support item assignment",
     "a tensor is assigned into (t[i] = ...), but tensors cannot be changed",
     "build a new tensor (tf.where, tf.concat, tf.one_hot, tf.tensor_scatter_nd_update) or keep "
     "the values in a tf.Variable and use .assign"),
    (r"label value of -?\d+ which is outside the valid range|indices\[[\d,]+\] = -?\d+ is not in "
     r"\[0, \d+\)",
     "a label or an index is not a class number from 0 to (number of classes - 1) (or a row "
     "number of the table it picks from)",
     "the output layer needs one unit per class, and labels 0, 1, ...; check the labels' values "
     "(or the indices) against the output size"),
    (r"Arguments `target` and `output` must have the same (rank|shape)|labels\.shape\.rank` must "
     r"equal|logits and labels must (be broadcastable|have the same)",
     "labels and predictions do not have matching forms: class numbers, shape (n,), go with a "
     "sparse cross-entropy; one-hot rows, shape (n, classes), with a categorical one",
     "print the labels' and the logits' shapes and pick the loss that fits them"),
    (r"expected min_ndim=4, found ndim=3|expected ndim=4, found ndim=3",
     "a convolution layer got images without their channel axis",
     "images for Conv2D are (batch, height, width, channels): reshape to (-1, 28, 28, 1)"),
    (r"Expected shape \(None, \d+\), but input has incompatible shape",
     "the model's input shape does not match the data it is given (images not flattened, or the "
     "other way round)",
     "compare the data's shape with the model's Input shape"),
    (r"was expected to be a \w+ tensor but is a \w+ tensor|Cannot convert .* to EagerTensor of "
     r"dtype",
     "two tensors of different types meet in one operation (NumPy makes float64 by default, "
     "TensorFlow's weights are float32; integers and floats do not mix either)",
     "convert with tf.cast(x, tf.float32), or make the arrays with dtype=np.float32"),
    (r"Matrix size-incompatible|Incompatible shapes|Dimensions must be equal|required broadcastable",
     "two tensors' shapes do not fit together in one operation",
     "print the operands' shapes on the line shown; a weight matrix the wrong way round, a "
     "missing reshape, or a batch of another size are the usual reasons"),
)


def likely_cause(error: BaseException) -> tuple[str, str] | None:
    """``(cause, what to do)`` for an error in :data:`KNOWN_ERRORS`, or None."""
    message = str(error)
    for pattern, cause, fix in KNOWN_ERRORS:
        if re.search(pattern, message):
            return cause, fix
    return None


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
