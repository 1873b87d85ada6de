"""Generate the student skeletons (``CHAPTER/NAME_exo.py``) from the solutions, so that the two
cannot drift apart: each marked block of a solution (see :mod:`seminar.grader.markers`) becomes
its task as a TODO comment and a one-line ``raise NotImplementedError``; everything else is copied
unchanged.
"""

from __future__ import annotations

from seminar.grader.markers import CONTINUATION, MarkerError, blocks, todo_message


def build(solution_text: str, exercise_id: str, source_name: str = "solution") -> str:
    """Return the skeleton for a solution's source text."""
    lines = solution_text.splitlines()
    found = blocks(solution_text, source_name)
    if not found:
        raise MarkerError(f"{source_name}: no '# SOLUTION:' block, so the skeleton would have no TODO")
    out: list[str] = []
    position = 0
    for block in found:
        out += lines[position:block.begin]
        out.append(f"{block.indent}# TODO: {block.task}")
        index = block.begin + 1
        while index < block.end and CONTINUATION.match(lines[index]):
            out.append(f"{block.indent}#   {CONTINUATION.match(lines[index]).group('text')}".rstrip())
            index += 1
        out.append(f"{block.indent}raise NotImplementedError"
                   f"({todo_message(block.function, exercise_id)!r})")
        position = block.end + 1
    out += lines[position:]
    return "\n".join(out) + "\n"
