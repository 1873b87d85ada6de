"""Helpers shared by several test files (``from helpers import ...``: pytest puts tests/ on the
import path)."""

import re

from seminar import skeleton


def filled_skeleton(exercise) -> str:
    """The skeleton with each TODO replaced by the body of the matching solution block: what a
    student who fills every TODO correctly ends up with."""
    solution_lines = exercise.solution_path.read_text().splitlines()
    bodies, inside = [], None
    for line in solution_lines:
        if skeleton.BEGIN.match(line):
            inside = []
        elif skeleton.END.match(line):
            bodies.append([l for l in inside if not skeleton.CONTINUATION.match(l)])
            inside = None
        elif inside is not None:
            inside.append(line)
    out, index = [], 0
    for line in exercise.exercise_path.read_text().splitlines():
        if skeleton.TODO.match(line) or (skeleton.CONTINUATION.match(line) and out and out[-1] is None):
            out.append(None)  # dropped: the TODO comment and its continuation lines
        elif re.match(r"^\s*raise NotImplementedError\(['\"]TODO in ", line):
            out.append(None)
            out.extend(bodies[index])
            index += 1
        else:
            out.append(line)
    assert index == len(bodies)
    return "\n".join(line for line in out if line is not None) + "\n"

