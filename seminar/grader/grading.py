"""The grading of one exercise: the module ``grading/CHAPTER/NAME.py``, and what its functions get.

Everything that judges an exercise beyond its thresholds lives in that one module, found by the
exercise's id, its functions recognised by their names:

``probe_*(context)``
    run before training, in the order of the file: the student's functions called on small
    inputs of the checker's and compared with what their docstrings promise. Each returns a
    :class:`Finding`, a list of them, or None. A fatal finding stops the check: no need to wait
    for a training run that cannot succeed.
``measure_METRIC(context) -> float``
    one for each check of the exercise in ``exercises.toml`` (``metric = "METRIC"``): the metric
    computed by the checker itself from the evidence ``main()`` returned and from data it loads or
    draws itself, never taken from ``main()``'s own number.
``after_*(context)``
    run after training: what ``main()``'s evidence says of the run beyond the loss curve that
    every exercise gets read (see :func:`seminar.grader.findings.curve_findings`).

Every function gets the same :class:`Context`. The shared pieces are in
:mod:`seminar.grader.toolkit` (comparisons), :mod:`seminar.grader.references` (NumPy) and
:mod:`seminar.grader.measures` (measures several exercises use).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import pathlib
import sys
import types

import numpy as np

from seminar.grader.findings import Finding
from seminar.manifest import REPO_ROOT, Exercise

GRADING_DIR = REPO_ROOT / "grading"
PROBE_SEED_OFFSET = 10_000  # probes draw from seed + this: streams no training run uses


class EvidenceError(ValueError):
    """``main()`` did not return what a measure needs (a missing key, a wrong shape)."""


class GradingError(ValueError):
    """An exercise's grading module is missing or does not fit its manifest entry."""


@dataclasses.dataclass
class Context:
    """What a grading function may look at: the exercise (its manifest entry), the student's module,
    the seed of the run and whether it is the full run, and after training the dict ``main()``
    returned. Probes draw their inputs from :attr:`rng`, seeded from the run's seed alone, so a
    probe gives the same verdict run after run."""

    exercise: Exercise
    module: types.ModuleType
    seed: int = 0
    full: bool = False
    metrics: dict | None = None
    rng: np.random.Generator = dataclasses.field(init=False, repr=False)
    cache: dict = dataclasses.field(default_factory=dict, repr=False)  # shared by the measures

    def __post_init__(self):
        self.rng = self.generator()

    @property
    def probe_seed(self) -> int:
        """The seed of everything a probe draws: the run's seed plus 10000 (within 2**32)."""
        return (int(self.seed) + PROBE_SEED_OFFSET) % 2**32

    def generator(self, offset: int = 0) -> np.random.Generator:
        """A NumPy generator of its own, from :attr:`probe_seed` plus ``offset``."""
        return np.random.default_rng((self.probe_seed + offset) % 2**32)

    def seed_frameworks(self, offset: int = 0) -> None:
        """Seed Python's, NumPy's and Keras's global generators (which layers draw their initial
        weights from) from :attr:`probe_seed` plus ``offset``."""
        import keras

        keras.utils.set_random_seed((self.probe_seed + offset) % 2**32)

    def function(self, name: str):
        """The student's function ``name`` (an AttributeError names what is missing)."""
        value = getattr(self.module, name, None)
        if value is None:
            raise AttributeError(f"the exercise file has no {name}(): the checker calls it (it is "
                                 f"in the original skeleton)")
        return value

    def constant(self, name: str, default):
        """A setting of the student's file (``GAMMA``, ``CODE_SIZE``...), or ``default``."""
        return getattr(self.module, name, default)

    def evidence(self, key: str, shape: tuple | None = None) -> np.ndarray:
        """``metrics[key]`` as a NumPy array of the given shape (``None`` in a shape: any size)."""
        value = np.asarray(self.evidence_object(key))
        if shape is not None and (value.ndim != len(shape) or any(
                want is not None and got != want for got, want in zip(value.shape, shape))):
            raise EvidenceError(f"main()'s {key!r} has shape {value.shape}, expected "
                                f"{tuple('any' if s is None else s for s in shape)}")
        return value

    def evidence_object(self, key: str, described: str = ""):
        """``metrics[key]`` as it is; an :class:`EvidenceError` says what main() must return."""
        if not isinstance(self.metrics, dict) or key not in self.metrics:
            raise EvidenceError(f"main() must return {key!r} in its dict"
                                + (f", {described}," if described else "")
                                + " for the checker to measure the result itself (it is in the "
                                  "original skeleton's main)")
        return self.metrics[key]

    def evidence_function(self, key: str, described: str):
        """``metrics[key]``, which must be a function (``described`` says which)."""
        value = self.evidence_object(key, described)
        if not callable(value):
            raise EvidenceError(f"main()'s {key!r} must be {described}; got a "
                                f"{type(value).__name__}")
        return value


@dataclasses.dataclass(frozen=True)
class Grading:
    """An exercise's grading module and its functions, by kind."""

    path: pathlib.Path
    module: types.ModuleType
    probes: tuple  # ((name, function), ...) in file order, names without "probe_"
    measures: dict  # metric -> function
    after: tuple  # ((name, function), ...)

    @property
    def probe_names(self) -> list[str]:
        return [name for name, _ in self.probes]


def grading_path(exercise_id: str) -> pathlib.Path:
    """``grading/CHAPTER/NAME.py`` for the exercise ``CHAPTER/NAME``."""
    chapter, name = exercise_id.split("/")
    return GRADING_DIR / chapter / f"{name}.py"


_LOADED: dict[pathlib.Path, Grading] = {}


def load(exercise: Exercise) -> Grading:
    """The exercise's grading module, imported once per process, its functions sorted by kind.
    Every check of the manifest must have its measure there."""
    path = grading_path(exercise.id)
    if path in _LOADED:
        return _LOADED[path]
    if not path.is_file():
        raise GradingError(f"{exercise.id} has no grading module: {path.relative_to(REPO_ROOT)} "
                           f"(python -m seminar new writes one to start from)")
    name = "grading_" + exercise.id.replace("/", "__")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up here
    spec.loader.exec_module(module)
    functions = [(key, value) for key, value in vars(module).items()
                 if callable(value) and not key.startswith("_")]
    probes = tuple((key.removeprefix("probe_"), value) for key, value in functions
                   if key.startswith("probe_"))
    measures = {key.removeprefix("measure_"): value for key, value in functions
                if key.startswith("measure_")}
    after = tuple((key.removeprefix("after_"), value) for key, value in functions
                  if key.startswith("after_"))
    missing = [check.metric for check in exercise.checks if check.metric not in measures]
    if missing:
        raise GradingError(f"{path.relative_to(REPO_ROOT)} has no measure_{missing[0]}(context), "
                           f"which the check of {missing[0]!r} in exercises.toml needs")
    grading = Grading(path, module, probes, measures, after)
    _LOADED[path] = grading
    return grading


def _as_findings(found) -> list[Finding]:
    """What a probe returned (a Finding, a list of them with None for "nothing", or None) as a
    list of findings."""
    if found is None:
        return []
    if isinstance(found, Finding):
        return [found]
    return [f for f in found if f is not None]


def run_probes(grading: Grading, context: Context) -> list[Finding]:
    """Run the probes in order and return their findings, stopping at the first probe that finds a
    fatal one (the first broken function explains the rest). The student's errors propagate (a
    TODO not filled in, a shape error): they are reported as the check reports them. Keras is
    left as a fresh process has it, so that main() computes what a direct run of the file does."""
    findings: list[Finding] = []
    context.seed_frameworks()
    try:
        for _, probe in grading.probes:
            found = _as_findings(probe(context))
            findings.extend(found)
            if any(f.fatal for f in found):
                break
    finally:
        forget_keras_state()
    return findings


def run_after(grading: Grading, context: Context) -> list[Finding]:
    """The ``after_*`` readings of main()'s evidence, in order."""
    findings: list[Finding] = []
    for _, reading in grading.after:
        findings.extend(_as_findings(reading(context)))
    return findings


def measure(grading: Grading, context: Context) -> dict[str, float]:
    """Every check's metric, measured by its ``measure_METRIC`` from main()'s evidence."""
    if not isinstance(context.metrics, dict):
        raise EvidenceError(f"it returned {type(context.metrics).__name__}, not a dict of metrics")
    return {check.metric: float(grading.measures[check.metric](context))
            for check in context.exercise.checks}


def forget_keras_state() -> None:
    """Drop the models the probes built, their layer names and the random state they drew from
    (without this, a probe's draws shifted going_deeper's accuracy by 3e-4)."""
    if "keras" in sys.modules:
        import keras

        keras.backend.clear_session()
