"""The bug zoo: planted bugs must fail their check with the cause named, and correct solutions
written differently must pass.

Each chapter's mutants are in ``tests/bug_zoo/CHAPTER.toml``: an exercise, a name, the text
replacements that plant the bug in the solution (each old text must occur exactly once, so a
mutant cannot silently stop applying when the solution changes), and the words the check's
diagnosis must contain. ``[[variants]]`` name correct solutions written another way
(``benchmarks/variants/``), which must pass the same check.
"""

from __future__ import annotations

import pathlib
import tomllib

import pytest

from seminar import checker, diagnosis, manifest

ZOO_DIR = pathlib.Path(__file__).resolve().parent / "bug_zoo"


def _zoo() -> tuple[list[dict], list[dict]]:
    mutants, variants = [], []
    for path in sorted(ZOO_DIR.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        mutants += data.get("mutants", [])
        variants += data.get("variants", [])
    return mutants, variants


MUTANTS, VARIANTS = _zoo()
COURSE = manifest.load()


def mutant_text(mutant: dict) -> str:
    exercise = COURSE.get(mutant["exercise"])
    text = exercise.solution_path.read_text(encoding="utf-8")
    for old, new in mutant["replace"]:
        count = text.count(old)
        assert count == 1, (f"mutant {mutant['name']!r}: {old!r} occurs {count} times in "
                            f"{exercise.solution}, not once: update the mutant")
        text = text.replace(old, new)
    return text


def verdict(exercise, path: pathlib.Path) -> tuple[bool, str]:
    """Whether the check passes, and what it says (likely causes, threshold lines, or the error)."""
    try:
        result = checker.run_checks(exercise, path, quiet=True)
    except Exception as error:  # noqa: BLE001  (a planted bug may raise: the error is its output)
        return False, checker.student_traceback(error, path)
    lines = [f.text() for f in result.findings] + [r.line() for r in result.results]
    return result.passed, "\n".join(lines)


def test_every_exercise_has_two_mutants_and_a_variant():
    for exercise in COURSE.exercises:
        mutants = [m for m in MUTANTS if m["exercise"] == exercise.id]
        variants = [v for v in VARIANTS if v["exercise"] == exercise.id]
        assert len(mutants) >= 2, f"{exercise.id}: plant at least two bugs in tests/bug_zoo/"
        assert variants, f"{exercise.id}: name a correct variant in tests/bug_zoo/"


@pytest.mark.slow
@pytest.mark.parametrize("mutant", MUTANTS, ids=[f"{m['exercise']}:{m['name']}" for m in MUTANTS])
def test_mutant_fails_with_its_cause_named(mutant, tmp_path):
    exercise = COURSE.get(mutant["exercise"])
    path = tmp_path / f"{exercise.name}_mutant.py"
    path.write_text(mutant_text(mutant), encoding="utf-8")
    passed, said = verdict(exercise, path)
    assert not passed, f"the planted bug {mutant['name']!r} passed its check:\n{said}"
    assert mutant["expect"].lower() in said.lower(), (
        f"the check did not name the cause {mutant['expect']!r} of {mutant['name']!r}; it said:\n{said}")


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS, ids=[v["file"] for v in VARIANTS])
def test_correct_variant_passes(variant):
    exercise = COURSE.get(variant["exercise"])
    path = manifest.REPO_ROOT / variant["file"]
    passed, said = verdict(exercise, path)
    assert passed, f"{variant['file']}, a correct solution written differently, failed:\n{said}"


def test_a_fatal_finding_fails_a_run_that_meets_its_threshold():
    exercise = COURSE.get("neural_nets/softmax")
    good = checker.CheckResult(exercise.checks[0], 0.95, True, False)
    run = checker.RunResult(exercise, exercise.solution_path, {}, [good])
    assert run.passed
    run.findings.append(diagnosis.Finding("softmax applied to the logits"))
    assert not run.passed
