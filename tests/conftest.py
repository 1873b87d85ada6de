"""Shared test set-up. The whole suite runs in one process: TensorFlow is imported once."""

import os
import pathlib
import pickle
import shutil
import subprocess
import sys
import tempfile

# Plots and logs of the scripts go to a scratch folder, never into the repository's outputs/.
os.environ.setdefault("SEMINAR_OUTPUT_DIR", tempfile.mkdtemp(prefix="seminar-test-outputs-"))
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # the suite also works without the editable install
    sys.path.insert(0, str(REPO_ROOT))

# After the environment and the import path are set (E402), TensorFlow's defaults before anything
# imports TensorFlow (F401: imported for that effect).
import seminar  # noqa: E402,F401
import pytest  # noqa: E402

from datasets import _download  # noqa: E402
from seminar import manifest  # noqa: E402
from seminar.grader import checker  # noqa: E402
from seminar.tools import progress as saved_progress  # noqa: E402


@pytest.fixture(scope="session")
def course() -> manifest.Manifest:
    return manifest.load()


_solution_runs: dict = {}
_shared_runs: list[pathlib.Path] = []  # where the runs are kept for every worker of this session


def run_solution(exercise_id: str, seed: int | None = None) -> tuple[checker.Outcome, pathlib.Path]:
    """Run a solution's fast mode once per (exercise, seed) in this test session and keep the result,
    so that several tests can look at one training run. Returns the result and the output folder.

    With ``make test``'s workers (pytest-xdist) the run is shared by all of them: the first worker
    to need it trains it under a file lock and keeps the outcome on disk; the others wait for it
    and read it, so no solution is trained twice in a session."""
    exercise = manifest.load().get(exercise_id)
    seed = exercise.test_seed if seed is None else seed
    key = (exercise_id, seed)
    if key not in _solution_runs:
        folder = _shared_runs[0] / f"{exercise.chapter}__{exercise.name}__{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        kept = folder / "outcome.pickle"
        with _download.exclusive(folder / "lock"):
            if kept.is_file():
                outcome = pickle.loads(kept.read_bytes())
            else:
                outcome = checker.run_checks(exercise, exercise.solution_path, seed=seed,
                                             output_dir=folder / "out", quiet=True)
                kept.write_bytes(pickle.dumps(outcome))
        _solution_runs[key] = (outcome, folder / "out")
    return _solution_runs[key]


@pytest.fixture(scope="session")
def solution_run(tmp_path_factory):
    """``solution_run(exercise_id, seed=None) -> (Outcome, output_dir)``, cached per session."""
    if not _shared_runs:
        base = tmp_path_factory.getbasetemp()  # pytest-N, or pytest-N/popen-gwK for a worker
        _shared_runs.append((base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "solution-runs")
    return run_solution


def pytest_collection_modifyitems(items):
    """A test that looks at a solution's training run is slow, whichever test trains it first (the
    run is cached, so the duration shows only on the first): ``pytest -m "not slow"`` leaves them
    all out.

    The tests that train come first, then the other slow ones, then the rest, each group in its
    usual order: spread over the cores (``make test``), the long runs start at once and the short
    tests fill the gaps at the end, instead of one long run finishing alone."""
    def tier(item) -> int:
        if "solution_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
            return 0
        if item.name.startswith("test_correct_variant_passes"):
            return 0
        return 1 if item.get_closest_marker("slow") else 2

    items[:] = sorted(items, key=tier)  # stable: the order within a tier is the files' order


# What a copy of the repository for the command-line tests leaves out.
COPY_IGNORED = shutil.ignore_patterns(".git", ".venv", "outputs", "__pycache__", ".pytest_cache",
                                      "*.egg-info", ".seminar-progress.json*", ".seminar-room.json*", "*.bak-*")


def git(repo: pathlib.Path, *args: str) -> None:
    """Run git in ``repo`` as a student would, with a name and an e-mail of its own."""
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=student",
                    "-c", "user.email=student@example.org", *args], check=True)


def repository_copy(parent: pathlib.Path) -> pathlib.Path:
    """A copy of the repository as it is on disk, in ``parent/seminar``, committed once in a git
    repository of its own: a student's clone, which the command-line tests may change freely."""
    copy = parent / "seminar"
    shutil.copytree(REPO_ROOT, copy, ignore=COPY_IGNORED)
    git(copy, "init", "-q")
    git(copy, "add", "-A")
    git(copy, "commit", "-q", "-m", "seminar")
    return copy


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """(test_datasets, test_data_faults) An empty cache and no data folder, whatever the machine's environment says."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(_download.CACHE_VARIABLE, str(cache))
    monkeypatch.delenv(_download.DATA_VARIABLE, raising=False)
    return cache


@pytest.fixture
def progress_file(tmp_path, monkeypatch):
    """(test_robustness, test_tool_inputs) The progress file moved to a scratch folder, and the
    once-per-process warnings reset."""
    path = tmp_path / ".seminar-progress.json"
    monkeypatch.setattr(saved_progress, "PROGRESS_PATH", path)
    monkeypatch.setattr(saved_progress, "_warned", set())
    return path
