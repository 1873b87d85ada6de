"""The curriculum checks every exercise generically, rustlings-style: every rule of `python -m
seminar verify` holds for every exercise (seminar/tools/verify.py states them), every unfilled
skeleton fails with a NotImplementedError naming its TODO, and every solution reaches its fast
thresholds."""

import pytest

from seminar import manifest
from seminar.grader import checker, markers
from seminar.tools import verify

COURSE = manifest.load()
IDS = [e.id for e in COURSE.exercises]


def by_id(exercise_id):
    return COURSE.get(exercise_id)


@pytest.mark.parametrize("rule", verify.RULES, ids=[rule.check.__name__ for rule in verify.RULES])
@pytest.mark.parametrize("exercise_id", IDS)
def test_every_exercise_follows_every_rule(exercise_id, rule):
    """The rules of `python -m seminar verify ID`, on every exercise: the files, the grading
    module, the overlays, the manifest entry, the lesson's text, the measured figures, the docs."""
    found = rule.check(by_id(exercise_id))
    assert not found, f"{exercise_id}, {rule.name}:\n" + "\n".join(f"- {p}" for p in found)


def test_exercises_follow_the_chapter_order(course):
    order = [c.id for c in course.chapters]
    chapter_positions = [order.index(e.chapter) for e in course.exercises]
    assert chapter_positions == sorted(chapter_positions), "exercises must follow the chapter order"


def test_every_exercise_file_is_in_the_manifest(course):
    root = manifest.REPO_ROOT
    listed = {e.exercise for e in course.exercises} | {e.solution for e in course.exercises}
    on_disk = {p.relative_to(root).as_posix() for p in root.glob("*/*_exo.py")}
    on_disk |= {p.relative_to(root).as_posix() for p in (root / "solutions").glob("*/*.py")
                if p.name != "__init__.py"}
    on_disk |= {f"solutions/{p.relative_to(root / 'grading').with_suffix('').as_posix()}.py"
                for p in (root / "grading").glob("*/*.py")}
    assert on_disk - listed == set(), "files on disk that the manifest does not list"


@pytest.mark.slow
@pytest.mark.parametrize("exercise_id", IDS)
def test_unfilled_skeleton_fails_with_its_todo(exercise_id, tmp_path):
    exercise = by_id(exercise_id)
    with pytest.raises(NotImplementedError) as raised:
        checker.run_checks(exercise, exercise.exercise_path, output_dir=tmp_path, quiet=True)
    assert checker.is_unfilled_todo(raised.value)
    functions = {t.function for t in markers.todos(exercise.exercise_path.read_text())}
    assert any(f"TODO in {name}()" in str(raised.value) for name in functions)
    assert f"python -m seminar hint {exercise.id}" in str(raised.value)


@pytest.mark.slow
@pytest.mark.parametrize("exercise_id", IDS)
def test_solution_reaches_its_fast_thresholds(exercise_id, solution_run):
    result, _ = solution_run(exercise_id)
    report = "\n".join(r.line() for r in result.results)
    assert result.passed, f"{exercise_id} on seed {by_id(exercise_id).test_seed}:\n{report}"


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_fast_run_draws_its_pictures(exercise_id, solution_run):
    """Every picture the slides talk about is drawn to a file (the manifest's `pictures`)."""
    _, output_dir = solution_run(exercise_id)
    for name in by_id(exercise_id).pictures:
        path = output_dir / name
        assert path.is_file() and path.stat().st_size > 1000, f"{exercise_id}: {name} missing or empty"


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_reference_curve_matches_the_solutions_run(exercise_id, solution_run):
    """A student's loss curve is compared with the solution's, kept by `python -m seminar curves`:
    it must be there, and be the curve the solution draws today (same length and unit)."""
    from seminar.grader import feedback

    result, _ = solution_run(exercise_id)
    reference = feedback.load_reference(by_id(exercise_id))
    if result.loss_curve is None:
        assert reference is None, "a reference curve for a solution that returns none: delete it"
        return
    assert reference is not None, "no reference curve: run `python -m seminar curves " + exercise_id + "`"
    assert reference["unit"] == result.loss_curve_unit
    assert len(reference["loss_curve"]) == len(result.loss_curve), (
        "the solution's curve changed length: run `python -m seminar curves " + exercise_id + "`")
    assert reference["seed"] == by_id(exercise_id).test_seed


def test_readme_course_map_lists_every_exercise(course):
    readme = (manifest.REPO_ROOT / "README.md").read_text()
    missing = [e.id for e in course.exercises if f"`{e.id}`" not in readme]
    assert missing == [], "add these to the README's course map"


def test_makefile_and_ci_run_the_readme_commands():
    root = manifest.REPO_ROOT
    readme = (root / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block
    assert "make test" in (root / ".ci" / "run").read_text()


def test_unfilled_todo_inside_a_tf_function_is_still_recognised():
    import tensorflow as tf

    @tf.function
    def train_step(x):
        raise NotImplementedError("TODO in train_step(): Compute the loss. (for a hint: ...)")

    with pytest.raises(NotImplementedError) as raised:
        train_step(tf.constant(1.0))
    assert checker.is_unfilled_todo(raised.value)
    assert checker.todo_text(raised.value) == "TODO in train_step(): Compute the loss. (for a hint: ...)"


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_probes_call_every_function_that_has_a_todo(exercise_id, tmp_path):
    """What lets `check` answer "Not done yet" from the file's text alone, without TensorFlow
    (checker.verdict_from_text): a file whose TODO still raises cannot pass, because the probes
    call every function that has a TODO. Each TODO in turn is left open in the solution."""
    from seminar.grader import grading

    exercise = by_id(exercise_id)
    solution = exercise.solution_path.read_text(encoding="utf-8")
    lines = solution.splitlines(keepends=True)
    for block in markers.blocks(solution):
        raise_line = (f'{block.indent}raise NotImplementedError('
                      f'"{markers.todo_message(block.function, exercise.id)}")\n')
        path = tmp_path / f"{block.function}_open.py"
        path.write_text("".join(lines[:block.begin] + [raise_line] + lines[block.end + 1:]),
                        encoding="utf-8")
        module = checker.load_module(path)
        with pytest.raises(NotImplementedError, match=f"TODO in {block.function}"):
            grading.run_probes(grading.load(exercise),
                               grading.Context(exercise, module, exercise.test_seed, False))
