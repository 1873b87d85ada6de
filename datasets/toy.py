"""The small datasets of the SGD chapter: made here, nothing to download."""

from __future__ import annotations

import numpy as np

# The seminar's 17-point linear regression data.
LINEAR_X = (3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182, 7.59, 2.167, 7.042, 10.791, 5.313,
            7.997, 5.654, 9.27, 3.1)
LINEAR_Y = (1.7, 2.76, 2.09, 3.19, 1.694, 1.573, 3.366, 2.596, 2.53, 1.221, 2.827, 3.465, 1.65,
            2.904, 2.42, 2.94, 1.3)


def linear_regression_points() -> tuple[np.ndarray, np.ndarray]:
    """Return ``(x, y)``, two float32 arrays of shape (17,)."""
    return np.array(LINEAR_X, dtype=np.float32), np.array(LINEAR_Y, dtype=np.float32)


def unit_square(num_points: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points drawn uniformly in the unit square, labelled 1 above the line ``x + y = 1``.

    Returns ``(points, labels)``: float32 of shape (num_points, 2) and float32 0/1 of shape
    (num_points,). The same seed gives the same points; use different seeds for train and test.
    """
    if num_points < 1:
        raise ValueError(f"num_points must be at least 1, got {num_points}")
    rng = np.random.default_rng(seed)
    points = rng.uniform(0.0, 1.0, size=(num_points, 2)).astype(np.float32)
    labels = (points.sum(axis=1) > 1.0).astype(np.float32)
    return points, labels
