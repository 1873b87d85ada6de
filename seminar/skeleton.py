"""Generate the student skeletons (``*_exo.py``) from the solutions, so the two cannot drift apart.

A solution marks each part the student writes::

    def closed_form(x, y):
        \"\"\"Docstring the student sees too.\"\"\"
        # SOLUTION: Solve the normal equations (X^T X) beta = X^T y.
        #   Continuation lines of the task start with "#" and three spaces.
        xtx = tf.matmul(x, x, transpose_a=True)
        return tf.linalg.solve(xtx, tf.matmul(x, y, transpose_a=True))
        # END SOLUTION

and the skeleton gets, in the same place::

        # TODO: Solve the normal equations (X^T X) beta = X^T y.
        #   Continuation lines of the task start with "#" and three spaces.
        raise NotImplementedError("TODO in closed_form() (for a hint: python -m seminar hint ID)")

A task says what the code must achieve, with shapes and constraints, not the call that does it:
the hints (``python -m seminar hint ID``) escalate from the idea to the API to the tricky part,
and ``check`` prints the task of the first TODO still open.

Everything outside the marked blocks is copied unchanged: headers, imports, plotting, ``main``.
Blocks must sit inside a function, so that nothing raises at import time.
"""

from __future__ import annotations

import dataclasses
import re

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# SOLUTION:\s*(?P<task>.+?)\s*$")
CONTINUATION = re.compile(r"^[ \t]*#   (?P<text>.*?)\s*$")
END = re.compile(r"^[ \t]*# END SOLUTION\s*$")
DEF = re.compile(r"^(?P<indent>[ \t]*)(?:async\s+)?def\s+(?P<name>\w+)\s*\(")
TODO = re.compile(r"^(?P<indent>[ \t]*)# TODO:\s*(?P<task>.+?)\s*$")


class SkeletonError(ValueError):
    """A solution's markers are malformed."""


@dataclasses.dataclass(frozen=True)
class Todo:
    function: str  # the function the student edits
    task: str  # the first line of the task
    line: int  # 1-based line number of the "# TODO:" line in the skeleton
    comment: tuple[str, ...] = ()  # the whole task: the TODO line and its continuation lines
    open: bool = False  # the skeleton's raise is still there under it (not filled in yet)


def _enclosing_function(lines: list[str], index: int, indent: str) -> str | None:
    """Name of the innermost ``def`` above ``lines[index]`` that is less indented than ``indent``."""
    for line in reversed(lines[:index]):
        match = DEF.match(line)
        if match and len(match.group("indent")) < len(indent):
            return match.group("name")
    return None


def todo_message(function: str, exercise_id: str) -> str:
    return f"TODO in {function}() (for a hint: python -m seminar hint {exercise_id})"


def build(solution_text: str, exercise_id: str, source_name: str = "solution") -> str:
    """Return the skeleton for a solution's source text."""
    lines = solution_text.splitlines()
    out: list[str] = []
    index = 0
    blocks = 0
    while index < len(lines):
        line = lines[index]
        begin = BEGIN.match(line)
        if END.match(line):
            raise SkeletonError(f"{source_name}:{index + 1}: '# END SOLUTION' without a '# SOLUTION:' above it")
        if not begin:
            out.append(line)
            index += 1
            continue
        indent, task = begin.group("indent"), begin.group("task")
        function = _enclosing_function(lines, index, indent)
        if not indent or function is None:
            raise SkeletonError(f"{source_name}:{index + 1}: a SOLUTION block must be inside a function")
        out.append(f"{indent}# TODO: {task}")
        index += 1
        while index < len(lines) and CONTINUATION.match(lines[index]) and not END.match(lines[index]):
            text = CONTINUATION.match(lines[index]).group("text")
            out.append(f"{indent}#   {text}".rstrip())
            index += 1
        out.append(f"{indent}raise NotImplementedError({todo_message(function, exercise_id)!r})")
        while index < len(lines) and not END.match(lines[index]):
            if BEGIN.match(lines[index]):
                raise SkeletonError(f"{source_name}:{index + 1}: SOLUTION blocks cannot nest")
            index += 1
        if index == len(lines):
            raise SkeletonError(f"{source_name}: the block opened at line {len(out)} has no '# END SOLUTION'")
        index += 1  # skip the END line
        blocks += 1
    if blocks == 0:
        raise SkeletonError(f"{source_name}: no '# SOLUTION:' block, so the skeleton would have no TODO")
    return "\n".join(out) + "\n"


def todos(skeleton_text: str) -> list[Todo]:
    """The TODOs of a skeleton (or of a student's file), in file order, each with its whole
    comment and whether it is still open (the skeleton's ``raise`` right under it)."""
    lines = skeleton_text.splitlines()
    found = []
    for index, line in enumerate(lines):
        match = TODO.match(line)
        if match:
            function = _enclosing_function(lines, index, match.group("indent")) or "<module>"
            comment = [line.strip()]
            after = index + 1
            while after < len(lines) and CONTINUATION.match(lines[after]):
                comment.append(lines[after].strip())
                after += 1
            still_open = after < len(lines) and "NotImplementedError" in lines[after] \
                and "TODO in " in lines[after]
            found.append(Todo(function=function, task=match.group("task"), line=index + 1,
                              comment=tuple(comment), open=still_open))
    return found


def first_open(text: str) -> Todo | None:
    """The first TODO in file order that is not filled in yet, or None."""
    return next((todo for todo in todos(text) if todo.open), None)
