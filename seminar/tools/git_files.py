"""What git knows of the repository's files: used to tell a skeleton the student changed from one
as committed, so that no tool ever overwrites a student's work."""

from __future__ import annotations

import pathlib
import subprocess

from seminar.manifest import REPO_ROOT


def committed_text(path: pathlib.Path) -> str | None:
    """The file as committed in git's HEAD, or None (not committed, or no git)."""
    relative = path.resolve().relative_to(REPO_ROOT).as_posix()
    try:
        shown = subprocess.run(["git", "-C", str(REPO_ROOT), "show", f"HEAD:{relative}"],
                               capture_output=True, text=True, check=False)
    except OSError:
        return None
    return shown.stdout if shown.returncode == 0 else None
