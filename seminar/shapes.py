"""One check every lesson makes before it trains: the student's function returns the shape the
rest of the file relies on. A wrong shape stops the run at once with a sentence that says what was
expected, not minutes later inside a broadcast that silently gives the wrong answer."""

from __future__ import annotations

import numpy as np


def require(what: str, value, expected: tuple) -> None:
    """Raise a ValueError saying what was expected when ``value``'s shape is not ``expected``."""
    shape = tuple(getattr(value, "shape", np.shape(value)))
    if shape != tuple(expected):
        raise ValueError(f"{what} must have shape {tuple(expected)}, got {shape}")
