"""The skeleton generator: markers in, TODOs out, malformed markers refused."""

import pytest

from seminar.grader import markers
from seminar.tools import skeleton

SOLUTION = '''"""Header."""
import math


def area(radius):
    """Area of a circle."""
    # SOLUTION: Return pi times the radius squared.
    #   Use math.pi.
    return math.pi * radius ** 2
    # END SOLUTION


def main(argv=None):
    return {"area": area(1.0)}
'''


def test_block_becomes_todo_and_raise():
    built = skeleton.build(SOLUTION, "demo/circle")
    assert "# TODO: Return pi times the radius squared." in built
    assert "#   Use math.pi." in built
    assert "math.pi * radius" not in built
    namespace = {}
    exec(compile(built, "skeleton", "exec"), namespace)  # importing the skeleton runs nothing
    with pytest.raises(NotImplementedError) as raised:
        namespace["main"]()
    # One short line: the function and the hint command; the task is in the comment above it.
    assert str(raised.value) == "TODO in area() (for a hint: python -m seminar hint demo/circle)"
    # Every function of the solution is still there, in the same order, with its signature.
    def signatures(text):
        return [line.strip() for line in text.splitlines() if line.lstrip().startswith("def ")]

    assert signatures(built) == signatures(SOLUTION)


def test_todos_are_listed_with_their_function():
    built = skeleton.build(SOLUTION, "demo/circle")
    todos = markers.todos(built)
    assert [(t.function, t.task) for t in todos] == [("area", "Return pi times the radius squared.")]
    assert todos[0].comment == ("# TODO: Return pi times the radius squared.", "#   Use math.pi.")
    assert todos[0].open and markers.first_open(built) == todos[0]
    filled = built.replace("    raise NotImplementedError", "    return 1.0  # ")
    assert not markers.todos(filled)[0].open and markers.first_open(filled) is None


@pytest.mark.parametrize("text, message", [
    ("x = 1\n", "no '# SOLUTION:' block"),
    ("# SOLUTION: at top level\nx = 1\n# END SOLUTION\n", "inside a function"),
    ("def f():\n    # SOLUTION: a\n    return 1\n", "no '# END SOLUTION'"),
    ("def f():\n    return 1\n    # END SOLUTION\n", "without a '# SOLUTION:'"),
    ("def f():\n    # SOLUTION: a\n    # SOLUTION: b\n    # END SOLUTION\n", "cannot nest"),
])
def test_malformed_markers_are_refused(text, message):
    with pytest.raises(markers.MarkerError, match=message):
        skeleton.build(text, "demo/bad")
