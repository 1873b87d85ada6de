"""The curriculum checks every exercise generically, rustlings-style: the manifest and the files
agree, every skeleton is generated from its solution and has TODOs, every unfilled skeleton fails
with a NotImplementedError naming its TODO, and every solution reaches its fast thresholds."""

import ast

import pytest

from seminar import checker, manifest, skeleton

COURSE = manifest.load()
IDS = [e.id for e in COURSE.exercises]
HEADER_FIELDS = ("Title:", "Chapter:", "Teaches:", "Run time:", "Task:")


def by_id(exercise_id):
    return COURSE.get(exercise_id)


def test_manifest_lists_chapters_in_course_order(course):
    assert [c.id for c in course.chapters] == [
        "intro", "sgd", "neural_nets", "convnets", "deep_features", "autoencoders", "rnn", "reinforcement"]
    order = [c.id for c in course.chapters]
    chapter_positions = [order.index(e.chapter) for e in course.exercises]
    assert chapter_positions == sorted(chapter_positions), "exercises must follow the chapter order"


@pytest.mark.parametrize("exercise_id", IDS)
def test_manifest_paths_follow_the_layout(exercise_id):
    exercise = by_id(exercise_id)
    assert exercise.exercise == f"{exercise.chapter}/{exercise.name}_exo.py"
    assert exercise.solution == f"solutions/{exercise.chapter}/{exercise.name}.py"
    assert exercise.exercise_path.is_file(), f"missing skeleton {exercise.exercise}"
    assert exercise.solution_path.is_file(), f"missing solution {exercise.solution}"
    assert exercise.test_seed in exercise.seeds_tried
    for check in exercise.checks:
        assert check.reference.strip(), f"{exercise_id}: {check.metric} needs a reference"


def test_every_exercise_file_is_in_the_manifest(course):
    root = manifest.REPO_ROOT
    listed = {e.exercise for e in course.exercises} | {e.solution for e in course.exercises}
    on_disk = {p.relative_to(root).as_posix() for p in root.glob("*/*_exo.py")}
    on_disk |= {p.relative_to(root).as_posix() for p in (root / "solutions").glob("*/*.py")
                if p.name != "__init__.py"}
    assert on_disk - listed == set(), "files on disk that the manifest does not list"


@pytest.mark.parametrize("exercise_id", IDS)
def test_skeleton_is_generated_from_its_solution(exercise_id):
    exercise = by_id(exercise_id)
    wanted = skeleton.build(exercise.solution_path.read_text(), exercise.id, exercise.solution)
    assert exercise.exercise_path.read_text() == wanted, (
        f"{exercise.exercise} is out of date with {exercise.solution}: run `python -m seminar build`")


# A student opening an exercise sees the lesson first: the plumbing lives in seminar/.
FIRST_TODO_WITHIN = 80
EXERCISE_LINES_AT_MOST = 250


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_lesson_comes_first_and_the_file_stays_short(exercise_id):
    exercise = by_id(exercise_id)
    text = exercise.exercise_path.read_text()
    first = skeleton.todos(text)[0]
    assert first.line <= FIRST_TODO_WITHIN, (
        f"{exercise.exercise}: the first TODO is at line {first.line}; move plumbing into the "
        f"chapter's module in seminar/ so that it comes within {FIRST_TODO_WITHIN} lines")
    lines = len(text.splitlines())
    assert lines <= EXERCISE_LINES_AT_MOST, (
        f"{exercise.exercise} has {lines} lines (at most {EXERCISE_LINES_AT_MOST})")


@pytest.mark.parametrize("exercise_id", IDS)
def test_files_have_a_header_todos_and_no_work_at_import(exercise_id):
    exercise = by_id(exercise_id)
    solution_text = exercise.solution_path.read_text()
    skeleton_text = exercise.exercise_path.read_text()
    assert "# TODO" not in solution_text, "a solution carries explanations, not TODO comments"
    todos = skeleton.todos(skeleton_text)
    assert todos, "a skeleton without a TODO teaches nothing"
    tree = ast.parse(skeleton_text)
    header = ast.get_docstring(tree) or ""
    for field in HEADER_FIELDS:
        assert field in header, f"the header lacks {field!r}"
    assert f"python -m seminar check {exercise.id}" in header
    # Only imports, definitions, constants and the __main__ guard at top level.
    for node in tree.body:
        allowed = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign,
                   ast.AnnAssign, ast.If, ast.Expr)
        assert isinstance(node, allowed), f"line {node.lineno}: top-level {type(node).__name__}"
        if isinstance(node, ast.Expr):
            assert isinstance(node.value, ast.Constant), f"line {node.lineno}: a call at import time"
        if isinstance(node, ast.If):
            assert "__main__" in ast.unparse(node.test), f"line {node.lineno}: top-level if"
    for todo in todos:
        assert todo.function != "<module>"


@pytest.mark.slow
@pytest.mark.parametrize("exercise_id", IDS)
def test_unfilled_skeleton_fails_with_its_todo(exercise_id, tmp_path):
    exercise = by_id(exercise_id)
    with pytest.raises(NotImplementedError) as raised:
        checker.run_checks(exercise, exercise.exercise_path, output_dir=tmp_path, quiet=True)
    assert checker.is_unfilled_todo(raised.value)
    functions = {t.function for t in skeleton.todos(exercise.exercise_path.read_text())}
    assert any(f"TODO in {name}()" in str(raised.value) for name in functions)
    assert f"python -m seminar hint {exercise.id}" in str(raised.value)


@pytest.mark.slow
@pytest.mark.parametrize("exercise_id", IDS)
def test_solution_reaches_its_fast_thresholds(exercise_id, solution_run):
    result, _ = solution_run(exercise_id)
    report = "\n".join(r.line() for r in result.results)
    assert result.passed, f"{exercise_id} on seed {result.exercise.test_seed}:\n{report}"


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_reference_curve_matches_the_solutions_run(exercise_id, solution_run):
    """A student's loss curve is compared with the solution's, kept by `python -m seminar curves`:
    it must be there, and be the curve the solution draws today (same length and unit)."""
    from seminar import feedback

    result, _ = solution_run(exercise_id)
    reference = feedback.load_reference(result.exercise)
    if result.loss_curve is None:
        assert reference is None, "a reference curve for a solution that returns none: delete it"
        return
    assert reference is not None, "no reference curve: run `python -m seminar curves " + exercise_id + "`"
    assert reference["unit"] == result.loss_curve_unit
    assert len(reference["loss_curve"]) == len(result.loss_curve), (
        "the solution's curve changed length: run `python -m seminar curves " + exercise_id + "`")
    assert reference["seed"] == result.exercise.test_seed


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


@pytest.mark.parametrize("exercise_id", IDS)
def test_files_open_as_notebooks(exercise_id):
    """`# %%` cell markers (jupytext's percent format): cells in VS Code and Jupyter."""
    exercise = by_id(exercise_id)
    text = exercise.exercise_path.read_text()
    assert text.count("\n# %%") >= 2, "split the file into cells with `# %%` markers"


def test_unfilled_todo_inside_a_tf_function_is_still_recognised():
    import tensorflow as tf

    @tf.function
    def train_step(x):
        raise NotImplementedError("TODO in train_step(): Compute the loss. (for a hint: ...)")

    with pytest.raises(NotImplementedError) as raised:
        train_step(tf.constant(1.0))
    assert checker.is_unfilled_todo(raised.value)
    assert checker.todo_text(raised.value) == "TODO in train_step(): Compute the loss. (for a hint: ...)"
