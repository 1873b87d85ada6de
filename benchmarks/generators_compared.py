"""The chapter's generators side by side, measured in one run (not a test).

    python benchmarks/generators_compared.py            # full runs of the three solutions, seed 0
    python benchmarks/generators_compared.py --fast     # their fast runs (a smoke test)

Runs, one after the other in this process, the full runs of autoencoders/gmmn (the pixel GMMN),
autoencoders/gmmn_autoencoder (GMMN+AE) and autoencoders/gan, then draws 100 real test digits and
100 samples of each (the same seed for all) side by side in ``docs/images/generators_compared.png``
and prints a Markdown table: the digit judge's FID, inception score and classes on 2000 samples of
each, drawn here on the checker's seed (``measures.SAMPLE_SEED_OFFSET``), the training seconds and
``main()``'s seconds, with the machine, its load and the date. The table also goes to
``outputs/benchmarks/generators_compared/generators_compared.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import sys
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

EXERCISES = [("pixel GMMN", "autoencoders/gmmn"), ("GMMN+AE", "autoencoders/gmmn_autoencoder"),
             ("GAN", "autoencoders/gan")]
IMAGE = REPO_ROOT / "docs" / "images" / "generators_compared.png"
OUTPUT = REPO_ROOT / "outputs" / "benchmarks" / "generators_compared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="the fast runs (a smoke test; no image)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import seminar  # noqa: F401  (TensorFlow's environment defaults)
    from seminar import generative, judge, manifest, runtime
    from seminar.grader import checker, measures
    from seminar.mnist_splits import mnist_splits
    from seminar.tools.sweep import machine_description

    course = manifest.load()
    started_at = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()[0]
    judge_model = judge.load_judge()
    test = mnist_splits(flat=True).x_test
    grid_seed = args.seed + generative.GRID_SEED_OFFSET
    panels = [("real test digits", test[:100])]
    real = judge.figures(judge_model, test[:judge.SAMPLES])
    rows = [("real test digits (2000)", real, None, None)]
    for label, exercise_id in EXERCISES:
        module = checker.load_module(course.get(exercise_id).solution_path)
        argv = ["--seed", str(args.seed), "--quiet", "--output-dir", str(OUTPUT / exercise_id.split("/")[1])]
        print(f"{exercise_id}: {'fast' if args.fast else 'full'} run, seed {args.seed}", flush=True)
        began = time.perf_counter()
        result = module.main(argv + (["--fast"] if args.fast else []))
        seconds = time.perf_counter() - began
        generate = result["generate"]
        figures = judge.figures(judge_model, generate(judge.SAMPLES, args.seed + measures.SAMPLE_SEED_OFFSET))
        training = result["train_seconds"] + result.get("autoencoder_seconds", 0.0)
        rows.append((label, figures, training, seconds))
        panels.append((f"{label}: FID {figures['fid']:.1f}, {training:.0f} s", generate(100, grid_seed)))
        print(f"  FID {figures['fid']:.2f}, IS {figures['inception_score']:.2f}, "
              f"classes {figures['classes']}, {seconds:.0f} s", flush=True)

    machine = machine_description("this run")
    when = f"{started_at:%Y-%m-%d}, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    lines = [f"{'Fast' if args.fast else 'Full'} runs, seed {args.seed}, one after the other in one "
             f"process; the judge on 2000 samples drawn on the checker's seed. {machine}; {when}.", "",
             "| Samples | FID | Inception score | Classes | Training (s) | `main()` (s) |",
             "|---|---|---|---|---|---|"]
    for label, figures, training, seconds in rows:
        timing = ("-", "-") if training is None else (f"{training:.0f}", f"{seconds:.0f}")
        lines.append(f"| {label} | {figures['fid']:.1f} | {figures['inception_score']:.2f} | "
                     f"{figures['classes']} | {timing[0]} | {timing[1]} |")
    table = "\n".join(lines)
    print(table)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "generators_compared.md").write_text(table + "\n")
    if not args.fast:
        run = runtime.RunContext(IMAGE.parent, quiet=True)
        generative.plot_beside(run, panels, IMAGE.name,
                               f"Full runs, seed {args.seed}, {started_at:%Y-%m-%d}: 100 samples each "
                               f"(training seconds on {machine.split(';')[0].split(',')[0]})")
        print(f"wrote {IMAGE.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
