"""What git knows of the repository's files: the solutions as committed, from which ``build`` tells
a skeleton made stale by a change to its solution from one a student edited."""

from __future__ import annotations

import pathlib
import subprocess

from seminar.manifest import REPO_ROOT


def committed_text(path: pathlib.Path) -> str | None:
    """The file as committed in git's HEAD, or None (not committed, outside the repository, not
    UTF-8, or no git)."""
    try:
        relative = pathlib.Path(path).resolve().relative_to(REPO_ROOT).as_posix()
        shown = subprocess.run(["git", "-C", str(REPO_ROOT), "show", f"HEAD:{relative}"],
                               capture_output=True, check=False)
        return shown.stdout.decode("utf-8") if shown.returncode == 0 else None
    except (OSError, ValueError):  # no git; a path outside the repository; not UTF-8
        return None
