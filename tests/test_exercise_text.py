"""What a student reads must teach, not hand over the answer: TODOs state the goal, hints escalate
and together show at most one line of the solution, the skeleton's ``raise`` is one short line.
Lines are compared "up to names and spacing" (seminar/answers.py)."""

from __future__ import annotations

import re

import pytest

from seminar import answers, manifest, skeleton

COURSE = manifest.load()
IDS = [e.id for e in COURSE.exercises]


@pytest.mark.parametrize("exercise_id", IDS)
def test_todos_state_the_goal_not_the_code(exercise_id):
    exercise = COURSE.get(exercise_id)
    shown = answers.lines_shown(exercise.solution_path.read_text(encoding="utf-8"),
                                answers.todo_texts(exercise.exercise_path.read_text(encoding="utf-8")))
    assert shown == [], f"the TODOs of {exercise.exercise} give these solution lines: {shown}"


@pytest.mark.parametrize("exercise_id", IDS)
def test_hints_together_show_at_most_one_solution_line(exercise_id):
    exercise = COURSE.get(exercise_id)
    solution = exercise.solution_path.read_text(encoding="utf-8")
    shown = sorted({line for hint in exercise.hints for line in answers.lines_shown(solution, hint)})
    assert len(shown) <= 1, f"the hints of {exercise_id} give {len(shown)} solution lines: {shown}"


@pytest.mark.parametrize("exercise_id", IDS)
def test_hints_escalate_and_the_tryout_is_recorded(exercise_id):
    exercise = COURSE.get(exercise_id)
    assert len(exercise.hints) >= 3, "hints go from the idea, to the API, to the tricky part"
    assert exercise.hints_needed is not None, "record hints_needed from a try as a new student"
    assert 0 <= exercise.hints_needed <= len(exercise.hints)


@pytest.mark.parametrize("exercise_id", IDS)
def test_todo_tasks_are_short_and_raises_one_line(exercise_id):
    exercise = COURSE.get(exercise_id)
    text = exercise.exercise_path.read_text(encoding="utf-8")
    for todo in skeleton.todos(text):
        assert len(todo.comment) <= 3, f"line {todo.line}: a TODO says its goal in 1-3 lines"
    raises = re.findall(r"raise NotImplementedError\((.*)\)", text)
    assert raises
    for message in raises:
        assert len(message) <= 110 and f"python -m seminar hint {exercise.id}" in message, message


def test_the_detector_finds_an_answer_up_to_names_and_spacing():
    solution = ("def f(images, weights, bias):\n"
                "    # SOLUTION: the logits\n"
                "    logits = tf.matmul(images, weights) + bias\n"
                "    return logits\n"
                "    # END SOLUTION\n")
    assert answers.lines_shown(solution, "Use tf.matmul( x,w )+b here.") == [
        "logits = tf.matmul(images, weights) + bias"]
    assert answers.lines_shown(solution, "Multiply with tf.matmul, then add the bias.") == []
    assert answers.lines_shown(solution, "tf.add(tf.matmul(x, w), b)") == []
