"""The bug zoo: planted bugs must fail their check with the cause named, and correct solutions
written differently must pass.

Both are overlays of the solution, in each exercise's ``grading/CHAPTER/NAME.overlays.toml``
(:mod:`seminar.tools.overlays`): a mutant is the text replacements that plant the bug (each old text
must occur exactly once, so a mutant cannot silently stop applying when the solution changes) and
the words the check's diagnosis must contain; a variant replaces SOLUTION blocks and settings.
"""

from __future__ import annotations

import pytest

from seminar import manifest
from seminar.grader import checker, findings
from seminar.tools import overlays, verify

COURSE = manifest.load()
OVERLAYS = [overlay for exercise in COURSE.exercises for overlay in overlays.load(exercise.id)]
MUTANTS = [overlay for overlay in OVERLAYS if overlay.kind == "mutant"]
VARIANTS = [overlay for overlay in OVERLAYS if overlay.kind == "variant"]


def verdict(exercise, path) -> tuple[bool, str]:
    """Whether the check passes, and what it says (likely causes, threshold lines, or the error)."""
    try:
        result = checker.run_checks(exercise, path, quiet=True)
    except Exception as error:  # noqa: BLE001  (a planted bug may raise: the error is its output)
        return False, checker.student_traceback(error, path)
    lines = [f.text() for f in result.findings] + [r.line() for r in result.results]
    return result.passed, "\n".join(lines)


@pytest.mark.parametrize("exercise_id", [e.id for e in COURSE.exercises])
def test_every_exercise_has_two_mutants_and_a_variant(exercise_id):
    problems = verify.overlay_problems(COURSE.get(exercise_id))
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("mutant", MUTANTS, ids=[f"{m.exercise}:{m.name}" for m in MUTANTS])
def test_mutant_fails_with_its_cause_named(mutant, tmp_path):
    exercise = COURSE.get(mutant.exercise)
    path = overlays.write(mutant, exercise.solution_path, tmp_path)
    passed, said = verdict(exercise, path)
    assert not passed, f"the planted bug {mutant.name!r} passed its check:\n{said}"
    assert mutant.expect.lower() in said.lower(), (
        f"the check did not name the cause {mutant.expect!r} of {mutant.name!r}; it said:\n{said}")


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS, ids=[f"{v.exercise}:{v.name}" for v in VARIANTS])
def test_correct_variant_passes(variant, tmp_path):
    exercise = COURSE.get(variant.exercise)
    path = overlays.write(variant, exercise.solution_path, tmp_path)
    passed, said = verdict(exercise, path)
    assert passed, f"{variant.name}, a correct solution of {exercise.id} written differently, failed:\n{said}"


def test_a_fatal_finding_fails_a_run_that_meets_its_threshold():
    exercise = COURSE.get("neural_nets/softmax")
    good = checker.CheckResult(exercise.checks[0], 0.95, True, False)
    run = checker.Outcome("ran", results=[good])
    assert run.passed
    run.findings.append(findings.Finding("softmax applied to the logits"))
    assert not run.passed
