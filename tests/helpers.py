"""Helpers shared by several test files (``from helpers import ...``: pytest puts tests/ on the
import path)."""

import re

from seminar.grader import markers


def filled_skeleton(exercise) -> str:
    """The skeleton with each TODO replaced by the body of the matching solution block: what a
    student who fills every TODO correctly ends up with."""
    solution_lines = exercise.solution_path.read_text().splitlines()
    bodies, inside = [], None
    for line in solution_lines:
        if markers.BEGIN.match(line):
            inside = []
        elif markers.END.match(line):
            bodies.append([line for line in inside if not markers.CONTINUATION.match(line)])
            inside = None
        elif inside is not None:
            inside.append(line)
    out, index = [], 0
    for line in exercise.exercise_path.read_text().splitlines():
        if markers.TODO.match(line) or (markers.CONTINUATION.match(line) and out and out[-1] is None):
            out.append(None)  # dropped: the TODO comment and its continuation lines
        elif re.match(r"^\s*raise NotImplementedError\(['\"]TODO in ", line):
            out.append(None)
            out.extend(bodies[index])
            index += 1
        else:
            out.append(line)
    assert index == len(bodies)
    return "\n".join(line for line in out if line is not None) + "\n"



# ---------------------------------------------------------------------------- grading


def grading_of(exercise_id: str):
    """The grading module of an exercise (``grading/CHAPTER/NAME.py``), as the checker loads it."""
    from seminar import manifest
    from seminar.grader import grading

    return grading.load(manifest.load().get(exercise_id)).module


def context_for(exercise_id: str, module=None, seed: int = 0, **evidence):
    """A grading Context as the checker builds it once main() has returned ``evidence`` (before
    training, with no evidence, when a probe runs)."""
    import types

    from seminar import manifest
    from seminar.grader import grading

    return grading.Context(manifest.load().get(exercise_id), module or types.ModuleType("exercise"),
                           seed, metrics=evidence or None)


def measure(exercise_id: str, metric: str, seed: int = 0, **evidence) -> float:
    """What the checker measures as ``metric`` of ``exercise_id`` from main()'s ``evidence``."""
    from seminar import manifest
    from seminar.grader import grading

    measures = grading.load(manifest.load().get(exercise_id)).measures
    return measures[metric](context_for(exercise_id, seed=seed, **evidence))


def probe(exercise_id: str, module, seed: int = 0) -> list:
    """The findings of an exercise's probes on ``module`` (a student's file, loaded)."""
    from seminar import manifest
    from seminar.grader import grading

    exercise = manifest.load().get(exercise_id)
    return grading.run_probes(grading.load(exercise), grading.Context(exercise, module, seed))


def variant_file(exercise_id: str, name: str, folder):
    """The correct variant ``name`` of an exercise (its overlay), written into ``folder``."""
    from seminar import manifest
    from seminar.tools import overlays

    exercise = manifest.load().get(exercise_id)
    (variant,) = [o for o in overlays.load(exercise_id) if o.kind == "variant" and o.name == name]
    return overlays.write(variant, exercise.solution_path, folder)
