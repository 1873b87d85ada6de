"""``python -m seminar verify ID``: every rule an exercise must follow, checked on that exercise, as a
checklist. The test suite runs the same rules on every exercise (tests/test_curriculum.py), so a
contributor learns what is missing here, with what to do, rather than from a failing test.

Each rule is a function ``rule(exercise) -> list[str]``: the problems it found, each a sentence
that says what to do; an empty list when the rule holds. :data:`RULES` lists them in the order of
the checklist. ``--run`` also runs the checks themselves (slow): the solution passes, the skeleton
stops at its first TODO, every mutant fails with its cause named, every variant passes.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import pathlib
import re

from seminar.grader import markers
from seminar.manifest import REPO_ROOT, Exercise, shown_path
from seminar.tools import answers, overlays, skeleton

HEADER_FIELDS = ("Title:", "Chapter:", "Teaches:", "Run time:", "Task:")
FIRST_TODO_WITHIN = 80  # a student opening an exercise sees the lesson first
EXERCISE_LINES_AT_MOST = 250
TODO_LINES_AT_MOST = 3  # a TODO states its goal in one to three lines
RAISE_AT_MOST = 110  # characters of a skeleton's raise message
FAST_SEEDS_AT_LEAST = 20  # a threshold comes from a sweep of 20 seeds (the fast run)
CURVES_DIR = REPO_ROOT / "benchmarks" / "curves"
SEEDS_DIR = REPO_ROOT / "benchmarks" / "seeds"
DOCS_DIR = REPO_ROOT / "docs"


# ---------------------------------------------------------------------------- the files


def file_problems(exercise: Exercise) -> list[str]:
    """The solution, its generated skeleton (up to date), the grading module and the overlays."""
    problems = []
    if not exercise.solution_path.is_file():
        return [f"no solution {exercise.solution}: write it (python -m seminar new {exercise.id} "
                f"starts one)"]
    solution = exercise.solution_path.read_text(encoding="utf-8")
    try:
        wanted = skeleton.build(solution, exercise.id, exercise.solution)
    except markers.MarkerError as error:
        return [f"the solution's markers are malformed: {error}"]
    if not exercise.exercise_path.is_file() or \
            exercise.exercise_path.read_text(encoding="utf-8") != wanted:
        problems.append(f"{exercise.exercise} is missing or out of date with its solution: run "
                        f"python -m seminar build {exercise.id}")
    from seminar.grader.grading import grading_path

    if not grading_path(exercise.id).is_file():
        problems.append(f"no grading module {shown_path(grading_path(exercise.id))}: write its "
                        f"probes and a measure_METRIC per check (python -m seminar new writes one)")
    return problems


def grading_problems(exercise: Exercise) -> list[str]:
    """The grading module loads, measures every check and probes the student's functions."""
    from seminar.grader import grading

    try:
        graded = grading.load(exercise)
    except grading.GradingError as error:
        return [str(error)]
    except Exception as error:  # noqa: BLE001  (whatever breaks the import is the problem)
        return [f"{shown_path(grading.grading_path(exercise.id))} does not import: "
                f"{type(error).__name__}: {error}"]
    if not graded.probes:
        return [f"{shown_path(graded.path)} has no probe_*(context): probe the student's functions "
                f"on small inputs before training, so that a bug is named in seconds"]
    return []


def overlay_problems(exercise: Exercise) -> list[str]:
    """At least two planted bugs and one correct variant, each still applying to the solution."""
    path = shown_path(overlays.overlays_path(exercise.id))
    try:
        loaded = overlays.load(exercise.id)
    except overlays.OverlayError as error:
        return [str(error)]
    problems = []
    mutants = [o for o in loaded if o.kind == "mutant"]
    if len(mutants) < 2:
        problems.append(f"{path}: plant at least two bugs ([[mutants]] with the words their check "
                        f"must say); it has {len(mutants)}")
    if not any(o.kind == "variant" for o in loaded):
        problems.append(f"{path}: add a correct solution written differently ([[variants]]): it "
                        f"shows the thresholds are not tuned to one implementation")
    if exercise.solution_path.is_file():
        solution = exercise.solution_path.read_text(encoding="utf-8")
        for overlay in loaded:
            try:
                overlays.materialise(overlay, solution)
            except overlays.OverlayError as error:
                problems.append(str(error))
    return problems


# ---------------------------------------------------------------------------- the manifest entry


def manifest_problems(exercise: Exercise) -> list[str]:
    """Hints that escalate, the tryout recorded, thresholds from a sweep of 20 seeds."""
    problems = []
    if len(exercise.hints) < 3:
        problems.append("give at least three hints: the idea, the API names, the tricky part")
    if exercise.hints_needed is None:
        problems.append("record hints_needed: how many hints a first try as a new student took")
    elif not 0 <= exercise.hints_needed <= len(exercise.hints):
        problems.append(f"hints_needed = {exercise.hints_needed} is not between 0 and the number "
                        f"of hints")
    if len(exercise.seeds_tried) < FAST_SEEDS_AT_LEAST:
        problems.append(f"seeds_tried lists {len(exercise.seeds_tried)} seeds: set the fast "
                        f"thresholds from a sweep of {FAST_SEEDS_AT_LEAST} (python -m seminar seeds "
                        f"{exercise.id} --seeds 0-19)")
    if exercise.test_seed not in exercise.seeds_tried:
        problems.append(f"test_seed {exercise.test_seed} is not among seeds_tried")
    if not exercise.pictures:
        problems.append("list in `pictures` the files its fast run draws: every picture the slides "
                        "talk about is drawn to a file")
    if exercise.check_seconds is None:
        problems.append("set check_seconds: the slowest fast run of the sweep (the check's time "
                        "limit is four times it)")
    if exercise.loss_at_most is not None and "worst" not in exercise.loss_reference:
        problems.append("loss_reference must quote the sweep's worst and median final loss")
    return problems


# ---------------------------------------------------------------------------- the lesson's text


def header_problems(exercise: Exercise) -> list[str]:
    """The header (a notebook's first text cell), the cells, nothing run at import."""
    if not exercise.exercise_path.is_file():
        return []
    text = exercise.exercise_path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    header = ast.get_docstring(tree) or ""
    problems = [f"the header lacks {field!r}" for field in HEADER_FIELDS if field not in header]
    if f"python -m seminar check {exercise.id}" not in header:
        problems.append(f"the header's task ends with the command: python -m seminar check "
                        f"{exercise.id}")
    if not text.startswith("# %% [markdown]"):
        problems.append("start the file with '# %% [markdown]' above the docstring: the header "
                        "opens as a notebook's text cell")
    if text.count("\n# %%") < 2:
        problems.append("split the file into cells with '# %%' markers at its sections")
    for node in tree.body:  # only imports, definitions, constants and the __main__ guard
        if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant):
            problems.append(f"line {node.lineno}: a call at import time; move it into main()")
        elif isinstance(node, ast.If) and "__main__" not in ast.unparse(node.test):
            problems.append(f"line {node.lineno}: a top-level if; move it into main()")
        elif not isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef,
                                   ast.Assign, ast.AnnAssign, ast.If, ast.Expr)):
            problems.append(f"line {node.lineno}: top-level {type(node).__name__}; move it into "
                            f"main()")
    for name in ("__file__", "sys.argv"):
        if re.search(rf"(?<![\w.]){re.escape(name)}\b", text):
            problems.append(f"the lesson uses {name}, which a notebook does not have: main() takes "
                            f"argv and the exercise id")
    return problems


def todo_problems(exercise: Exercise) -> list[str]:
    """The TODOs: inside functions, short, stating the goal (no line of the solution), the first
    one near the top, the file short; the hints give at most one solution line in all."""
    if not (exercise.exercise_path.is_file() and exercise.solution_path.is_file()):
        return []
    text = exercise.exercise_path.read_text(encoding="utf-8")
    solution = exercise.solution_path.read_text(encoding="utf-8")
    problems = []
    if "# TODO" in solution:
        problems.append(f"{exercise.solution} carries a '# TODO' comment: a solution explains, the "
                        f"skeleton's TODOs are generated from its SOLUTION blocks")
    todos = markers.todos(text)
    if not todos:
        return problems + ["the skeleton has no TODO: mark what the student writes with SOLUTION "
                           "blocks"]
    if todos[0].line > FIRST_TODO_WITHIN:
        problems.append(f"the first TODO is at line {todos[0].line}: move plumbing into the "
                        f"chapter's module in seminar/ so that it comes within {FIRST_TODO_WITHIN}")
    lines = len(text.splitlines())
    if lines > EXERCISE_LINES_AT_MOST:
        problems.append(f"{exercise.exercise} has {lines} lines (at most {EXERCISE_LINES_AT_MOST})")
    for todo in todos:
        if len(todo.comment) > TODO_LINES_AT_MOST:
            problems.append(f"line {todo.line}: a TODO states its goal in 1-{TODO_LINES_AT_MOST} "
                            f"lines")
    for message in re.findall(r"raise NotImplementedError\((.*)\)", text):
        if len(message) > RAISE_AT_MOST or f"python -m seminar hint {exercise.id}" not in message:
            problems.append(f"a raise of the skeleton is not one short line naming the hint "
                            f"command: {message[:60]}...")
    shown = answers.lines_shown(solution, answers.todo_texts(text))
    if shown:
        problems.append(f"the TODOs give these solution lines: {shown}; say the goal, not the code")
    in_hints = sorted({line for hint in exercise.hints for line in answers.lines_shown(solution, hint)})
    if len(in_hints) > 1:
        problems.append(f"the hints give {len(in_hints)} solution lines: {in_hints}; at most one "
                        f"in all of them")
    return problems


# ---------------------------------------------------------------------------- measured figures


_NUMBER = r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?"
# How a reference quotes its sweep: "fast run, seeds 0-19: worst 0.979, median 0.9923; full run..."
_QUOTED = re.compile(rf"fast run, seeds [^:;]*: worst (?P<worst>{_NUMBER})[^;]*?median "
                     rf"(?P<median>{_NUMBER})")


def sweep_figures(exercise: Exercise, full: bool = False) -> dict[str, tuple[float, float]] | None:
    """The worst and median of each checked metric in the committed sweep (benchmarks/seeds/),
    or None when there is no sweep."""
    import pandas as pd

    path = SEEDS_DIR / f"{exercise.id.replace('/', '__')}__{'full' if full else 'fast'}.csv"
    if not path.is_file():
        return None
    table = pd.read_csv(path, comment="#")
    figures = {}
    for check in exercise.checks:
        columns = [c for c in table.columns if c.split(" (")[0] == check.metric]
        if columns:
            values = pd.to_numeric(table[columns[0]], errors="coerce")
            worst = values.min() if check.bound()[0] == ">=" else values.max()
            figures[check.metric] = (float(worst), float(values.median()))
    return figures


def _same(quoted: str, value: float) -> bool:
    try:
        return math.isclose(float(quoted), value, rel_tol=2e-3, abs_tol=1e-12)
    except ValueError:
        return False


def figure_problems(exercise: Exercise) -> list[str]:
    """The committed seed sweeps, each check's reference quoting the fast sweep's worst and median
    as they are, and the solution's reference curve (a student's curve is drawn over it)."""
    problems = []
    for full, command in ((False, "--seeds 0-19"), (True, "--full --seeds 0-4")):
        figures = sweep_figures(exercise, full)
        if figures is None:
            problems.append(f"no {'full' if full else 'fast'} sweep in benchmarks/seeds/: python "
                            f"-m seminar seeds {exercise.id} {command} --csv-dir benchmarks/seeds")
            continue
        for check in exercise.checks:
            if check.metric not in figures:
                problems.append(f"the {'full' if full else 'fast'} sweep has no column for "
                                f"{check.metric!r}: sweep again")
            elif not full:
                worst, median = figures[check.metric]
                quoted = _QUOTED.search(check.reference)
                if not (quoted and _same(quoted["worst"], worst) and _same(quoted["median"], median)):
                    problems.append(f"the reference of {check.metric!r} must quote the fast sweep "
                                    f"as it is: \"fast run, seeds ...: worst {worst:.4g}, median "
                                    f"{median:.4g}\"")
    if exercise.loss_at_most is not None and \
            not (CURVES_DIR / exercise.chapter / f"{exercise.name}.json").is_file():
        problems.append(f"no reference curve: python -m seminar curves {exercise.id} (on an idle "
                        f"machine)")
    return problems


def docs_problems(exercise: Exercise) -> list[str]:
    """The chapter's page, with its generated parts up to date."""
    page = DOCS_DIR / "chapters" / f"{exercise.chapter}.md"
    if not page.is_file():
        return [f"no chapter page {shown_path(page)}: write what the chapter's checks measure "
                f"(python -m seminar new writes a start)"]
    from seminar.tools import docs

    try:
        stale = docs.stale_parts()
    except docs.ReadmeError as error:
        return [str(error)]
    own = ("README.md:", f"docs/chapters/{exercise.chapter}.md:")
    return [f"{name.split(' (')[0]} is out of date: run python -m seminar build" for name in stale
            if name.startswith(own) and not isinstance(name, docs.MissingPage)]


@dataclasses.dataclass(frozen=True)
class Rule:
    name: str
    check: object  # Exercise -> list[str]


RULES = (
    Rule("files: the solution, its skeleton up to date, the grading module", file_problems),
    Rule("grading: probes before training, a measure for every check", grading_problems),
    Rule("overlays: two planted bugs and a correct variant, all applying", overlay_problems),
    Rule("manifest: hints, the tryout, thresholds from a 20-seed sweep", manifest_problems),
    Rule("lesson: header, notebook cells, nothing run at import", header_problems),
    Rule("lesson: TODOs that state the goal, near the top; hints that do not give it away",
         todo_problems),
    Rule("figures: the committed seed sweeps and the reference curve", figure_problems),
    Rule("docs: the chapter's page, generated parts up to date", docs_problems),
)


def problems(exercise: Exercise) -> dict[str, list[str]]:
    """Every rule's problems for one exercise, by rule name."""
    return {rule.name: rule.check(exercise) for rule in RULES}


def print_checklist(exercise: Exercise, say=print) -> int:
    """The checklist of one exercise; returns how many rules failed."""
    say(f"Verifying {exercise.id}:")
    failed = 0
    for name, found in problems(exercise).items():
        say(f"  [{'ok ' if not found else ' ! '}] {name}")
        for problem in found:
            say(f"        - {problem}")
        failed += bool(found)
    return failed


def run_checks(exercise: Exercise, say=print, time_limit: float | None = None) -> int:
    """The slow part: the checks themselves, each in its own process as ``check`` runs it. Returns
    how many did not behave as they must."""
    import tempfile

    from seminar.grader import isolation

    wrong = 0

    def verdict(path: pathlib.Path, must_pass: bool, expect: str = "") -> str:
        outcome = isolation.run(exercise, path, time_limit=time_limit)
        said = "\n".join([outcome.message, *(f.text() for f in outcome.findings),
                          *(r.line() for r in outcome.results)])
        if must_pass:
            return "" if outcome.passed else f"failed: {said.strip()[:300]}"
        if outcome.passed:
            return "passed, but it must fail"
        if expect and expect.lower() not in said.lower():
            return f"failed without saying {expect!r}: {said.strip()[:300]}"
        return ""

    with tempfile.TemporaryDirectory(prefix="seminar-verify-") as scratch:
        cases = [("the solution passes", exercise.solution_path, True, "")]
        cases.append(("the skeleton stops at its first TODO", exercise.exercise_path, False, "TODO"))
        for overlay in overlays.load(exercise.id):
            path = overlays.write(overlay, exercise.solution_path, pathlib.Path(scratch))
            if overlay.kind == "variant":
                cases.append((f"the variant {overlay.name!r} passes", path, True, ""))
            else:
                cases.append((f"the planted bug {overlay.name!r} fails, saying {overlay.expect!r}",
                              path, False, overlay.expect))
        for name, path, must_pass, expect in cases:
            problem = verdict(path, must_pass, expect)
            say(f"  [{'ok ' if not problem else ' ! '}] {name}")
            if problem:
                say(f"        - {problem}")
                wrong += 1
    return wrong
