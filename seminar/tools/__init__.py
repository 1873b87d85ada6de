"""The course tools: the command line ``python -m seminar`` (:mod:`~seminar.tools.cli`), the
student's progress, skeleton generation, overlays (variants and planted bugs), seed sweeps, the
generated parts of the documentation, ``new`` and ``verify`` for instructors.

In a notebook, the command line's two everyday commands are functions::

    from seminar.tools import check, hint
    hint("sgd/linear_regression")    # the next hint, as `python -m seminar hint ID`
    check("sgd/linear_regression")   # the same verdict as `python -m seminar check ID`
"""

from __future__ import annotations

import pathlib


def check(exercise_id: str | None = None, *, path=None, seed: int | None = None,
          quiet: bool = False, record: bool = True) -> bool:
    """Check an exercise as ``python -m seminar check ID`` does, from a notebook cell or any Python
    code: the same child process, probes, thresholds, diagnosis and verdict, printed here; returns
    whether it passed. It reads the exercise's ``.py`` file (``path`` to check another file): in a
    notebook paired with it by jupytext, save the notebook first so the ``.py`` has your edits.
    ``exercise_id=None`` checks the next exercise not passing yet; ``record`` updates your
    progress (``python -m seminar list``)."""
    from seminar.tools import cli

    exercise = cli.chosen_exercise(exercise_id)
    if exercise is None:
        return True
    target = pathlib.Path(path) if path is not None else exercise.exercise_path
    cli.warn_if_notebook_is_newer(target)
    return cli.check_once(exercise, target, seed=seed, quiet=quiet, record=record) == 0


def hint(exercise_id: str) -> None:
    """Print the next hint of an exercise, as ``python -m seminar hint ID`` does."""
    from seminar.tools import cli

    cli.main(["hint", exercise_id])


__all__ = ["check", "hint"]
