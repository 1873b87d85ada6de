"""Time-to-accuracy benchmark of the MNIST chapters (not a test).

    python benchmarks/mnist_speed.py                 # full runs of the four solutions, seed 0
    python benchmarks/mnist_speed.py --only lenet    # one of them
    python benchmarks/mnist_speed.py --fast          # the fast runs (a smoke test, seconds)

For each solution it runs the full training (``main``, with ``$SEMINAR_TEST_EACH_EPOCH`` set so that
the training log also measures test accuracy after every epoch, with the clock stopped; the lessons
know nothing of it) and reports:

- the training time until the test accuracy first reaches the exercise's full-run threshold (from
  ``exercises.toml``), and the total training time;
- examples per second, and the median epoch time (the first epoch also traces the step function);
- the test accuracy reached at the end;
- the CPU time of training (all threads: about twice the training time when both cores work for
  it, about equal when another program holds one core);
- for the models made of matrix products and convolutions, the epoch time against a floor: the
  training FLOPs of one epoch (3x the forward pass's multiply-adds x 2) divided by the GFLOP/s of a
  large float32 matrix product measured in the same run.

It also prints the machine (CPU model, cores, TensorFlow version) and the load average before and
after, because on a shared machine other programs take CPU time from the benchmark. The table goes
to ``outputs/benchmarks/mnist_speed/`` as ``mnist_speed.csv`` and ``mnist_speed.md``.
"""

from __future__ import annotations

import argparse
import csv
import os
import pathlib
import platform
import statistics
import sys
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

# After the import path is set (E402), TensorFlow's defaults first (F401: imported for that effect).
import seminar  # noqa: E402,F401

from seminar import manifest, mnist_splits, runtime  # noqa: E402
from seminar.grader import checker, grading, measures  # noqa: E402

# The MNIST classifiers, by name: the exercises whose test accuracy the checker measures on the
# MNIST test digits (read from their grading modules, so that a new one is timed too).
SOLUTIONS = {exercise.name: exercise.id for exercise in manifest.load().exercises
             if grading.load(exercise).measures.get("test_accuracy") is measures.mnist_test_accuracy}
MATMUL_SIZE = 2048
MATMUL_REPEATS = 10


# ------------------------------------------------------------------------------------ machine


def cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


def machine_description() -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"),
        "gpu": len(tf.config.list_physical_devices("GPU")),
    }


def matmul_gflops(size: int = MATMUL_SIZE, repeats: int = MATMUL_REPEATS) -> tuple[float, float]:
    """Best and median GFLOP/s of a ``size`` x ``size`` float32 matrix product (2 n^3 FLOPs)."""
    import tensorflow as tf

    a = tf.random.stateless_normal((size, size), seed=(1, 2))
    b = tf.random.stateless_normal((size, size), seed=(3, 4))
    product = tf.function(lambda x, y: tf.matmul(x, y))
    product(a, b).numpy()  # trace and warm up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b).numpy()
        rates.append(2.0 * size ** 3 / (time.perf_counter() - start) / 1e9)
    return max(rates), statistics.median(rates)


# -------------------------------------------------------------------------------------- FLOPs


def keras_forward_flops(model) -> int:
    """Multiply-adds x 2 of one example's forward pass through the Conv2D and Dense layers (the
    pooling, activations and bias adds are a few percent more and are left out)."""
    import keras

    flops = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel_h, kernel_w, channels_in, channels_out = layer.kernel.shape
            _, out_h, out_w, _ = layer.output.shape
            flops += 2 * kernel_h * kernel_w * channels_in * channels_out * out_h * out_w
        elif isinstance(layer, keras.layers.Dense):
            fan_in, fan_out = layer.kernel.shape
            flops += 2 * fan_in * fan_out
    return int(flops)


def forward_flops(name: str, module) -> int | None:
    """None for softmax regression: its 16k multiply-adds per digit take microseconds, so its epoch
    time is all Python and TensorFlow overhead and a FLOP floor says nothing."""
    if name == "mlp":
        sizes = (module.NUM_PIXELS, *module.HIDDEN_UNITS, module.NUM_CLASSES)
        return int(sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:])))
    if name == "one_conv":
        return keras_forward_flops(module.build_model())
    if name == "lenet":
        return keras_forward_flops(module.build_lenet())
    return None


# ---------------------------------------------------------------------------------------- run


def read_history(path: pathlib.Path) -> list[dict]:
    """The training log's history.csv, one dict of floats per epoch (blank cells left out)."""
    import pandas as pd

    return [{k: float(v) for k, v in row.items() if pd.notna(v)}
            for row in pd.read_csv(path).to_dict("records")]


def benchmark_one(name: str, args, gflops: float) -> dict:
    import keras

    course = manifest.load()
    exercise = course.get(SOLUTIONS[name])
    check = next(c for c in exercise.checks if c.metric == "test_accuracy")
    _, threshold = check.bound(full=not args.fast)
    out = args.output_dir / name
    module = checker.load_module(exercise.solution_path)
    argv = ["--seed", str(args.seed), "--output-dir", str(out)]
    if args.fast:
        argv.append("--fast")
    if not args.verbose:
        argv.append("--quiet")
    keras.backend.clear_session()
    print(f"\n=== {exercise.id} ({'fast' if args.fast else 'full'} run, seed {args.seed}, "
          f"threshold {threshold:g}); load average {load_average()}", flush=True)
    os.environ[mnist_splits.TEST_EACH_EPOCH_VARIABLE] = "1"
    try:
        start = time.perf_counter()
        metrics = module.main(argv)
        wall = time.perf_counter() - start
    finally:
        del os.environ[mnist_splits.TEST_EACH_EPOCH_VARIABLE]
    history = read_history(out / "history.csv")
    reached = [row for row in history if row.get("test_accuracy", 0.0) >= threshold]
    epochs = len(history)
    epoch_times = [row["epoch_seconds"] for row in history]
    examples = metrics["examples_per_second"] * metrics["train_seconds"] / epochs
    flops = forward_flops(name, module)
    row = {
        "exercise": exercise.id,
        "threshold": threshold,
        "seconds_to_threshold": reached[0]["train_seconds"] if reached else None,
        "epoch_reached": int(reached[0]["epoch"]) if reached else None,
        "epochs": epochs,
        "train_seconds": metrics["train_seconds"],
        "train_cpu_seconds": metrics.get("train_cpu_seconds"),
        "median_epoch_seconds": statistics.median(epoch_times),
        "examples_per_second": metrics["examples_per_second"],
        "test_accuracy": metrics["test_accuracy"],
        "run_seconds": wall,
        "training_gflop_per_epoch": None,
        "floor_epoch_seconds": None,
        "epoch_over_floor": None,
    }
    if flops is not None:
        per_epoch = 3 * flops * examples / 1e9  # forward + two products per layer backward
        row["training_gflop_per_epoch"] = per_epoch
        row["floor_epoch_seconds"] = per_epoch / gflops
        row["epoch_over_floor"] = row["median_epoch_seconds"] / row["floor_epoch_seconds"]
    shown = (f"{row['seconds_to_threshold']:.1f} s (epoch {row['epoch_reached']})"
             if reached else "not reached")
    print(f"  test accuracy {row['test_accuracy']:.4f}; to {threshold:g}: {shown}; "
          f"{row['examples_per_second']:.0f} examples/s; median epoch {row['median_epoch_seconds']:.2f} s"
          + (f" (floor {row['floor_epoch_seconds']:.2f} s at {gflops:.0f} GFLOP/s)" if flops else ""),
          flush=True)
    return row


def fmt(value, digits=2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(rows: list[dict], machine: dict, gflops: tuple[float, float], loads: tuple[str, str],
                   args) -> str:
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}, "
        f"TensorFlow {machine['tensorflow']}, Keras {machine['keras']}, "
        f"TF_ENABLE_ONEDNN_OPTS={machine['onednn']}, {machine['gpu']} GPU. "
        f"Matrix product ({MATMUL_SIZE}x{MATMUL_SIZE} float32): {gflops[0]:.0f} GFLOP/s best, "
        f"{gflops[1]:.0f} median. Load average before / after: {loads[0]} / {loads[1]}. "
        f"{'Fast' if args.fast else 'Full'} runs, seed {args.seed}.",
        "",
        "| Exercise | Threshold | Time to threshold | Epochs (reached at) | Training time | Examples/s "
        "| Median epoch | Floor epoch | Epoch / floor | Training CPU time | Test accuracy |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        to = f"{r['seconds_to_threshold']:.1f} s" if r["seconds_to_threshold"] is not None else "not reached"
        floor = f"{r['floor_epoch_seconds']:.2f} s" if r["floor_epoch_seconds"] is not None else "-"
        ratio = f"{r['epoch_over_floor']:.1f}x" if r["epoch_over_floor"] is not None else "-"
        lines.append(
            f"| `{r['exercise']}` | {r['threshold']:g} | {to} | {r['epochs']} ({fmt(r['epoch_reached'])}) "
            f"| {r['train_seconds']:.1f} s | {r['examples_per_second']:.0f} | {r['median_epoch_seconds']:.2f} s "
            f"| {floor} | {ratio} | {fmt(r['train_cpu_seconds'], 1)} s | {r['test_accuracy']:.4f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(SOLUTIONS), default=list(SOLUTIONS),
                        help="which solutions to run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fast", action="store_true", help="the fast runs, against the fast thresholds")
    parser.add_argument("--output-dir", type=pathlib.Path, default=None,
                        help="default: outputs/benchmarks/mnist_speed")
    parser.add_argument("--verbose", action="store_true", help="show each run's progress bars")
    args = parser.parse_args(argv)
    args.output_dir = pathlib.Path(args.output_dir or runtime.default_output_dir("benchmarks/mnist_speed"))
    args.output_dir.mkdir(parents=True, exist_ok=True)

    machine = machine_description()
    load_before = load_average()
    print("Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()), flush=True)
    gflops = matmul_gflops()
    print(f"Matrix product {MATMUL_SIZE}x{MATMUL_SIZE} float32: {gflops[0]:.1f} GFLOP/s best, "
          f"{gflops[1]:.1f} median of {MATMUL_REPEATS}", flush=True)
    rows = [benchmark_one(name, args, gflops[0]) for name in args.only]
    loads = (load_before, load_average())

    csv_path = args.output_dir / "mnist_speed.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0].keys(), "matmul_gflops", "cpu", "cores",
                                                    "tensorflow", "load_before", "load_after"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "matmul_gflops": gflops[0], "cpu": machine["cpu"],
                             "cores": machine["cores"], "tensorflow": machine["tensorflow"],
                             "load_before": loads[0], "load_after": loads[1]})
    table = markdown_table(rows, machine, gflops, loads, args)
    (args.output_dir / "mnist_speed.md").write_text(table)
    print("\n" + table)
    print(f"Written: {csv_path} and {args.output_dir / 'mnist_speed.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
