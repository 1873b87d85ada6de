"""How a checked run compares with the solution's: the training loss against the reference curve,
the time taken, and a picture of both curves in the output folder.

The reference curves are the solutions' own fast runs on the test seed, kept in
``benchmarks/curves/CHAPTER/NAME.json`` by ``python -m seminar curves`` (maintainers run it after
changing a solution). A run whose ``main()`` returns no ``loss_curve`` gets no comparison.
"""

from __future__ import annotations

import json
import pathlib
import platform

import numpy as np

from seminar.manifest import REPO_ROOT, Exercise

CURVES_DIR = REPO_ROOT / "benchmarks" / "curves"
# "reached" = within this factor of the reference's final loss (the mean of its last tenth), the
# curves smoothed over a tenth of their length
REACHED_FACTOR = 1.10


def reference_path(exercise: Exercise) -> pathlib.Path:
    return CURVES_DIR / exercise.chapter / f"{exercise.name}.json"


def load_reference(exercise: Exercise) -> dict | None:
    try:
        data = json.loads(reference_path(exercise).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data.get("loss_curve"), list) and data["loss_curve"] else None


def write_reference(exercise: Exercise, curve, unit: str, seconds: float, seed: int) -> pathlib.Path:
    path = reference_path(exercise)
    path.parent.mkdir(parents=True, exist_ok=True)
    values = [round(float(v), 6) for v in np.asarray(curve, dtype=np.float64).ravel()]
    data = {"exercise": exercise.id, "seed": seed, "fast": True, "unit": unit,
            "seconds": round(seconds, 2),
            "machine": machine_name(),
            "loss_curve": values}
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path


def machine_name() -> str:
    """The processor's model and core count, e.g. "Intel Xeon ... @ 2.10GHz, 2 cores"."""
    import os

    model = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = " ".join(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count() or 1} cores"


def _tail_mean(values: np.ndarray) -> float:
    return float(values[-max(1, values.size // 10):].mean())


def _reached(values: np.ndarray, level: float) -> int | None:
    """The first point (1-based) where a running mean over a tenth of the curve gets to ``level``."""
    window = max(1, values.size // 10)
    smooth = np.convolve(values, np.ones(window) / window, mode="valid")
    hits = np.flatnonzero(smooth <= level)
    return int(hits[0]) + window if hits.size else None


def compare(exercise: Exercise, metrics: dict, seconds: float,
            output_dir: pathlib.Path | None) -> list[str]:
    """Lines comparing a run's loss curve and time with the reference, and the picture of both
    curves written to ``output_dir/learning_curve_vs_reference.png`` (when a folder is given)."""
    reference = load_reference(exercise)
    curve = metrics.get("loss_curve")
    if reference is None or curve is None:
        return []
    mine = np.asarray(curve, dtype=np.float64).ravel()
    theirs = np.asarray(reference["loss_curve"], dtype=np.float64)
    if mine.size == 0 or not np.all(np.isfinite(mine)):
        return []
    unit = str(metrics.get("loss_curve_unit", "step"))
    level = _tail_mean(theirs) * REACHED_FACTOR
    mine_at, theirs_at = _reached(mine, level), _reached(theirs, level)
    if mine.size == theirs.size and np.allclose(mine, theirs, rtol=1e-4, atol=1e-6):
        reached = (f"your training loss follows the solution's {unit} for {unit}, to the end "
                   f"({_tail_mean(theirs):.4g}): the same computation from the same seed")
    elif mine_at is None:
        reached = (f"your training loss ended at {_tail_mean(mine):.4g}, above the solution's "
                   f"{_tail_mean(theirs):.4g}")
    else:
        reached = (f"your training loss came within {100 * (REACHED_FACTOR - 1):.0f}% of the "
                   f"solution's final loss ({_tail_mean(theirs):.4g}) at {unit} {mine_at} of "
                   f"{mine.size}; the solution did at {unit} {theirs_at} of {theirs.size}")
    lines = [reached, f"main() took {seconds:.0f} s; the solution {reference['seconds']:.0f} s on "
                      f"{reference.get('machine', 'the maintainers machine')}"]
    if output_dir is not None:
        path = _plot(exercise, mine, theirs, unit, pathlib.Path(output_dir))
        if path is not None:
            lines.append(f"your curve over the solution's: {_relative(path)}")
    return lines


def _relative(path: pathlib.Path) -> str:
    try:
        return str(path.resolve().relative_to(pathlib.Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _plot(exercise: Exercise, mine: np.ndarray, theirs: np.ndarray, unit: str,
          output_dir: pathlib.Path) -> pathlib.Path | None:
    from seminar import plots

    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(np.arange(1, theirs.size + 1), theirs, color="0.6", lw=1, label="the solution (test seed)")
    ax.plot(np.arange(1, mine.size + 1), mine, color="C3", lw=1, label="your run")
    positive = np.concatenate([mine, theirs])
    if np.all(positive > 0) and positive.max() / positive.min() > 20:
        ax.set_yscale("log")
    ax.set_xlabel(unit)
    ax.set_ylabel("training loss")
    ax.set_title(f"{exercise.id}: your training loss and the solution's")
    ax.legend()
    path = output_dir / "learning_curve_vs_reference.png"
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100, bbox_inches="tight")
    except OSError:
        return None
    finally:
        plt.close(fig)
    return path
