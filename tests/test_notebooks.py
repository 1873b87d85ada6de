"""Exercises and solutions as notebooks, executed in a real Jupyter kernel (``nbclient`` and
``ipykernel``), as a student in Jupyter, VS Code's notebook view or a hosted notebook runs them:
the ``.py`` file opened through jupytext's percent format, then "Run All".

What a student expects there, and what these tests hold:

- the header is a markdown cell, every ``# %%`` section a cell;
- "Run All" on a skeleton stops at the first unfilled TODO, with the same one-line message as the
  command line;
- "Run All" on a filled exercise or a solution ends with the fast run (the last cell), its metrics
  printed and its pictures shown inline (and written to the output folder too);
- ``from seminar.tools import check; check(ID)`` in a cell gives the command line's verdict.

The kernels start with TensorFlow's import each (about 5 s), so the tests are slow.
"""

import os
import pathlib
import re

import pytest

try:
    import jupytext
    import nbclient
except ImportError as error:  # a clear failure, not a skip: CI must run these
    raise ImportError(f"{error}. The notebook tests need the development requirements: "
                      f"pip install -r requirements-dev.txt (make test installs them)") from error

from seminar import manifest
from seminar.grader import markers

from helpers import filled_skeleton

pytestmark = pytest.mark.slow
COURSE = manifest.load()
CELL_TIMEOUT = 600  # seconds: a fast run of the heaviest notebook here takes well under a minute


def execute(path: pathlib.Path, output_dir: pathlib.Path, extra_cells: list[str] = ()):
    """The notebook jupytext makes of ``path``, run top to bottom in a fresh kernel (the working
    folder: the file's own). Returns the executed notebook; a cell that raises raises
    ``nbclient.exceptions.CellExecutionError`` after the cells before it ran."""
    notebook = jupytext.read(path)
    for source in extra_cells:
        notebook.cells.append(jupytext.reads(f"# %%\n{source}\n", fmt="py:percent").cells[0])
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    # The kernel inherits this process's environment: plots go to a scratch folder, and the
    # kernel picks its own (inline) plotting backend, as in a notebook a student opens.
    saved = os.environ.pop("MPLBACKEND", None)
    previous_output = os.environ.get("SEMINAR_OUTPUT_DIR")
    os.environ["SEMINAR_OUTPUT_DIR"] = str(output_dir)
    try:
        client.execute()
    finally:
        if saved is not None:
            os.environ["MPLBACKEND"] = saved
        if previous_output is None:
            os.environ.pop("SEMINAR_OUTPUT_DIR", None)
        else:
            os.environ["SEMINAR_OUTPUT_DIR"] = previous_output
    return notebook


def printed(notebook) -> str:
    """Everything the cells printed, in order."""
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.get("outputs", []) if output.get("output_type") == "stream")


def images(notebook) -> int:
    """How many pictures the cells showed inline."""
    return sum("image/png" in output.get("data", {}) for cell in notebook.cells
               if cell.cell_type == "code" for output in cell.get("outputs", []))


@pytest.mark.parametrize("exercise_id", [e.id for e in COURSE.exercises])
def test_every_file_opens_with_its_header_as_text(exercise_id):
    exercise = COURSE.get(exercise_id)
    for path in (exercise.exercise_path, exercise.solution_path):
        notebook = jupytext.read(path)
        first = notebook.cells[0]
        assert first.cell_type == "markdown", f"{path}: the header should be a markdown cell"
        assert first.source.lstrip().startswith("Title:"), first.source[:80]
        assert f"python -m seminar check {exercise.id}" in first.source
        assert "__main__" in notebook.cells[-1].source, "the run cell comes last"
        # A section title that jupytext would read as cell metadata ("# %% The model: x = ...")
        # shows cut short in the notebook: formulas go on the line below the marker.
        garbled = [cell.source.splitlines()[0] for cell in notebook.cells
                   if "incorrectly_encoded_metadata" in cell.metadata]
        assert not garbled, f"{path}: titles read as metadata: {garbled}"


def test_a_skeleton_stops_at_its_first_todo(tmp_path):
    exercise = COURSE.get("intro/hello_world")
    with pytest.raises(nbclient.exceptions.CellExecutionError) as raised:
        execute(exercise.exercise_path, tmp_path)
    message = str(raised.value)
    assert "NotImplementedError" in message
    # The command line's one-line message, naming the first function main() calls that is a TODO.
    todos = [todo.function for todo in markers.todos(exercise.exercise_path.read_text())]
    named = re.search(r"TODO in (\w+)\(\) \(for a hint: python -m seminar hint intro/hello_world\)", message)
    assert named and named.group(1) in todos, message[-500:]
    assert "__main__" in message, "Run All stops at the last cell, the fast run, not before"


def test_a_filled_exercise_runs_and_checks_itself_from_a_cell(tmp_path):
    exercise = COURSE.get("sgd/linear_regression")
    filled = tmp_path / "sgd" / "linear_regression_exo.py"
    filled.parent.mkdir()
    filled.write_text(filled_skeleton(exercise))
    notebook = execute(filled, tmp_path / "outputs", extra_cells=[
        "from seminar.tools import check",
        f"passed = check({exercise.id!r}, path={str(filled)!r}, record=False)",
        "assert passed",
    ])
    text = printed(notebook)
    assert "sgd_coef_rel_error" in text  # the fast run of the last cell printed its metrics
    assert "PASS sgd/linear_regression" in text and "[ok ] sgd_coef_rel_error" in text
    assert images(notebook) >= 2  # the fitted lines and the losses, inline
    assert (tmp_path / "outputs" / "sgd" / "linear_regression" / "fitted_lines.png").is_file()


@pytest.mark.parametrize("exercise_id, expected", [
    ("intro/math_ops", "fraction_correct"),  # TensorFlow basics
    ("convnets/one_conv", "test_accuracy"),  # a Keras model and model.fit
    ("reinforcement/q_learning_frozen_lake", "success_rate"),  # a reinforcement loop
])
def test_a_solution_runs_all_cells_to_its_fast_run(exercise_id, expected, tmp_path):
    exercise = COURSE.get(exercise_id)
    notebook = execute(exercise.solution_path, tmp_path)
    text = printed(notebook)
    assert expected in text, text[-2000:]
    assert images(notebook) >= 1
    assert any((tmp_path / exercise_id).glob("*.png")), "pictures also go to the output folder"
