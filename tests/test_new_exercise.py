"""The worked example of CONTRIBUTING.md: an exercise added with `python -m seminar new` alone, in a
copy of the repository, is picked up by everything a student, an instructor and CI use: `verify`
(every rule, and with --run the solution, the skeleton, its variant and its planted bugs), `check`,
`hint`, `list` and the README's course map. The copy stays in a scratch folder: the course itself
is left alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import repository_copy

pytestmark = pytest.mark.slow
EXERCISE = "playground/line_fit"


def seminar(repo, *args: str) -> subprocess.CompletedProcess:
    """``python -m seminar ARGS`` in the copy, as an instructor types it there."""
    env = dict(os.environ, PYTHONPATH=str(repo))
    return subprocess.run([sys.executable, "-m", "seminar", *args], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    copy = repository_copy(tmp_path_factory.mktemp("new-exercise"))
    made = seminar(copy, "new", EXERCISE, "--chapter-title", "A playground", "--slides", "98-99")
    assert made.returncode == 0, made.stdout + made.stderr
    for path in ("solutions/playground/line_fit.py", "grading/playground/line_fit.py",
                 "grading/playground/line_fit.overlays.toml", "docs/chapters/playground.md",
                 "playground/line_fit_exo.py"):
        assert (copy / path).is_file(), f"`seminar new` did not write {path}"
    return copy


def test_verify_lists_what_is_left_and_runs_its_checks(repo):
    result = seminar(repo, "verify", EXERCISE, "--run")
    out = result.stdout
    for rule in ("files:", "grading:", "overlays:", "lesson: header", "lesson: TODOs", "docs:"):
        assert any(line.startswith("  [ok ]") and rule in line for line in out.splitlines()), out
    # Left to do, and said so: the tryout and the seed sweeps.
    assert "record hints_needed" in out and "no fast sweep" in out and result.returncode == 1
    for case in ("the solution passes", "the skeleton stops at its first TODO",
                 "the variant 'by_hand' passes", "the planted bug 'gradient ascent' fails",
                 "the planted bug 'the squared errors summed' fails"):
        assert f"[ok ] {case}" in out, out


def test_check_hint_and_list_know_it(repo):
    todo = seminar(repo, "check", EXERCISE)
    assert todo.returncode == 1 and "Not done yet: train_step()" in todo.stdout, todo.stdout
    solved = seminar(repo, "check", EXERCISE, "--solution")
    assert solved.returncode == 0 and f"PASS {EXERCISE}" in solved.stdout, solved.stdout
    assert f"Hint 1/3 for {EXERCISE}" in seminar(repo, "hint", EXERCISE).stdout
    listed = seminar(repo, "list").stdout
    assert "A playground  (slides 98-99)" in listed and EXERCISE in listed


def test_the_course_map_and_the_build_check_include_it(repo):
    assert f"`{EXERCISE}`" in (repo / "README.md").read_text(encoding="utf-8")
    assert seminar(repo, "build", "--check").returncode == 0
