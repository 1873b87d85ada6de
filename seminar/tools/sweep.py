"""``python -m seminar seeds``: run an exercise on many seeds and tabulate how its checks fare.

The instructor's tool before a seminar (does every seed pass on this room's laptops?) and the
developer's tool for thresholds (the worst and median seed go into the manifest's ``reference``).
Each seed runs in its own process through :mod:`seminar.grader.isolation`, exactly as ``check`` runs it.
The seeds are spread by dask.distributed (:class:`Engine`): by default over a local cluster of ``jobs``
single-threaded workers (two on a 2-core machine: more only make each run slower), or over an
instructor's cluster (``--scheduler ADDRESS``: several lab machines that share the repository). A
worker that dies costs only the seed it was running: that seed is tried once more, then reported.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import importlib.metadata
import logging
import math
import os
import pathlib
import platform
import statistics
import tempfile

from seminar import manifest, runtime
from seminar.grader import isolation
from seminar.grader.checker import Outcome
from seminar.manifest import Exercise


def parse_seeds(text: str) -> list[int]:
    """``"0-19"``, ``"3,5,8"`` or ``"0-4,100"`` -> a sorted list of distinct seeds (>= 0)."""
    seeds: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                low, high = (int(v) for v in part.split("-", 1))
                if low > high:
                    raise ValueError
                seeds.update(range(low, high + 1))
            elif part:
                seeds.add(int(part))
    except ValueError:
        raise ValueError(f"--seeds {text!r}: write seeds like 0-19, 3,5,8 or 0-4,100") from None
    if not seeds or min(seeds) < 0:
        raise ValueError(f"--seeds {text!r}: give at least one seed, none negative")
    return sorted(seeds)


@dataclasses.dataclass
class Row:
    seed: int
    outcome: Outcome


@dataclasses.dataclass
class Table:
    exercise: Exercise
    full: bool
    student: bool
    rows: list[Row]
    variant: pathlib.Path | None = None  # another file written for this exercise, swept instead
    label: str = ""  # what names the variant in the CSV's name: "variant_NAME", or the file's stem

    @property
    def failures(self) -> int:
        return sum(not row.outcome.passed for row in self.rows)

    @property
    def mode(self) -> str:
        mode = "full" if self.full else "fast"
        if self.variant is not None:
            return f"{mode} ({self.variant.name})"
        return mode + (" (your file)" if self.student else "")


def margin(check, value: float, full: bool) -> float:
    """How far a value clears its threshold: positive passes, negative fails."""
    op, threshold = check.bound(full)
    return value - threshold if op == ">=" else threshold - value


def _cells(table: Table, row: Row) -> list[str]:
    outcome = row.outcome
    cells = [str(row.seed)]
    by_metric = {r.check.metric: r for r in outcome.results}
    for check in table.exercise.checks:
        result = by_metric.get(check.metric)
        if result is None or result.value is None:
            cells += ["-", "-"]
        else:
            cells += [f"{result.value:.4g}", f"{margin(check, result.value, table.full):+.4g}"]
    if table.exercise.loss_at_most is not None:
        loss = _loss(outcome)
        cells += ["-", "-"] if loss is None else [
            f"{loss:.4g}", f"{table.exercise.loss_at_most - loss:+.4g}"]
    cells.append("-" if math.isnan(outcome.seconds) else f"{outcome.seconds:.1f}")
    cells.append("PASS" if outcome.passed else f"FAIL ({outcome.kind})" if outcome.kind != "ran" else "FAIL")
    return cells


def _loss(outcome: Outcome) -> float | None:
    """The run's final training loss as a float (NaN when the child reported it as text)."""
    try:
        return None if outcome.final_loss is None else float(outcome.final_loss)
    except (TypeError, ValueError):
        return None


def _header(table: Table) -> list[str]:
    names = ["seed"]
    for check in table.exercise.checks:
        op, threshold = check.bound(table.full)
        names += [f"{check.metric} ({op} {threshold:g})", "margin"]
    if table.exercise.loss_at_most is not None:
        # the fast run's contract bound; a full run ends lower still
        names += [f"final training loss (<= {table.exercise.loss_at_most:g})", "margin"]
    return names + ["seconds", "verdict"]


def _print_row(widths: list[int], cells: list[str]) -> None:
    print("  ".join(cell.rjust(width) for cell, width in zip(cells, widths)), flush=True)


def summary_lines(table: Table) -> list[str]:
    """Worst and median of each metric (and of the time), and the failures."""
    lines = []
    for check in table.exercise.checks:
        values = [r.value for row in table.rows for r in row.outcome.results
                  if r.check.metric == check.metric and r.value is not None]
        if not values:
            lines.append(f"{check.metric}: no value")
            continue
        op, threshold = check.bound(table.full)
        worst = min(values) if op == ">=" else max(values)
        lines.append(f"{check.metric}: worst {worst:.4g}, median {statistics.median(values):.4g} "
                     f"(threshold {op} {threshold:g}, worst margin {margin(check, worst, table.full):+.4g})")
    losses = [_loss(row.outcome) for row in table.rows]
    losses = [loss for loss in losses if loss is not None]
    if table.exercise.loss_at_most is not None and losses:
        lines.append(f"final training loss: worst {max(losses):.4g}, median "
                     f"{statistics.median(losses):.4g} (bound <= {table.exercise.loss_at_most:g})")
    seconds = [row.outcome.seconds for row in table.rows if not math.isnan(row.outcome.seconds)]
    if seconds:
        lines.append(f"seconds (main(), after TensorFlow loads): median {statistics.median(seconds):.1f}, "
                     f"max {max(seconds):.1f}")
    lines.append(f"failures: {table.failures} of {len(table.rows)}")
    return lines


def run_seed(exercise_id: str, path: str, seed: int, full: bool, time_limit: float | None) -> dict:
    """One seed, on a dask worker: the check in a child process of its own, as ``check`` runs it.
    ``path`` is relative to the repository when the file is in it, so that a worker on another
    machine sharing the repository finds it at its own checkout. Returns the outcome's report (plain
    JSON data: the parent rebuilds the verdict from its own thresholds, as for a local child)."""
    exercise = manifest.load().get(exercise_id)
    file = manifest.REPO_ROOT / path
    with tempfile.TemporaryDirectory(prefix="seminar-seeds-") as scratch:
        outcome = isolation.run(exercise, file, seed=seed, full=full, output_dir=pathlib.Path(scratch),
                                quiet=True, time_limit=time_limit)
    return outcome.report()


def _shared_path(path: pathlib.Path) -> str:
    path = pathlib.Path(path).resolve()
    try:
        return str(path.relative_to(manifest.REPO_ROOT))
    except ValueError:  # a file outside the repository: the workers must see it at the same path
        return str(path)


class Engine:
    """Where the seeds run: dask.distributed, on a local cluster of ``jobs`` single-threaded worker
    processes (started here, stopped on leaving the ``with``), or on the cluster whose scheduler is
    at ``scheduler`` (``tcp://HOST:8786``; its workers must share this repository, at the same
    place or as an installed checkout, and should run one thread each: ``dask worker ADDRESS
    --nthreads 1``)."""

    CONNECT_SECONDS = 10  # to reach the scheduler of --scheduler

    def __init__(self, jobs: int = 2, scheduler: str | None = None):
        self.jobs, self.scheduler = jobs, scheduler
        self._stack = contextlib.ExitStack()
        self.client = None

    def __enter__(self) -> "Engine":
        import dask
        from distributed import Client, LocalCluster

        try:
            if self.scheduler is None:
                # A seed whose worker died is not tried again by the scheduler itself: run() does
                # it once, and then reports the seed. A worker holds only the seed it runs (no
                # queue of its own), so that its death costs no other seed.
                self._stack.enter_context(dask.config.set({
                    "distributed.scheduler.allowed-failures": 0,
                    "distributed.scheduler.worker-saturation": 1.0}))
                cluster = self._stack.enter_context(LocalCluster(
                    n_workers=self.jobs, threads_per_worker=1, processes=True,
                    dashboard_address=":0", silence_logs=logging.CRITICAL))  # deaths: said by run()
                self.client = self._stack.enter_context(Client(cluster))
            else:
                self.client = self._stack.enter_context(Client(self.scheduler, timeout=self.CONNECT_SECONDS))
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    @property
    def description(self) -> str:
        if self.scheduler is None:
            return f"{self.jobs} at a time"
        workers = self.client.scheduler_info().get("workers", {})
        threads = sum(w.get("nthreads", 1) for w in workers.values())
        return f"on the cluster at {self.scheduler} ({len(workers)} workers, {threads} at a time)"

    def run(self, exercise: Exercise, path: pathlib.Path, seeds: list[int], *, full: bool,
            time_limit: float | None):
        """Yield ``(seed, Outcome)`` in seed order, each as soon as it and those before it are done."""
        from distributed import KilledWorker

        def submit(seed: int, attempt: int):
            return self.client.submit(run_seed, exercise.id, _shared_path(path), seed, full, time_limit,
                                      pure=False, key=f"seminar-{exercise.name}-{seed}-{attempt}-"
                                                      f"{os.urandom(4).hex()}")

        futures = {seed: submit(seed, 1) for seed in seeds}
        for seed in seeds:
            try:
                report = futures[seed].result()
            except KilledWorker:
                print(f"  seed {seed}: the worker running it died; running it once more", flush=True)
                try:
                    report = submit(seed, 2).result()
                except KilledWorker as error:
                    yield seed, Outcome("lost", message=(
                        f"the worker running seed {seed} died twice ({error}): memory, or the "
                        f"machine went away? The seed's own run may be fine; sweep it again alone"))
                    continue
            yield seed, Outcome.from_report(exercise, report, full)


def sweep(exercise: Exercise, seeds: list[int], *, full: bool = False, student: bool = False,
          jobs: int = 2, time_limit: float | None = None,
          variant: pathlib.Path | None = None, label: str = "", engine: Engine | None = None) -> Table:
    """Run the solution (or the student's file, or ``variant``: another correct solution written
    differently) on every seed, print a row as each finishes, then the whole table in seed order
    and its summary. ``engine`` runs the seeds (default: a local cluster of ``jobs`` workers)."""
    path = variant or (exercise.exercise_path if student else exercise.solution_path)
    limit = time_limit if time_limit is not None else exercise.time_limit(full)
    table = Table(exercise, full, student, [], variant, label or (variant.stem if variant else ""))
    header = _header(table)
    widths = [max(len(h), 8) for h in header]
    with contextlib.ExitStack() as stack:
        if engine is None:
            engine = stack.enter_context(Engine(jobs))
        print(f"{exercise.id}: {table.mode} runs on {len(seeds)} seeds, {engine.description}"
              + (f", at most {limit:.0f} s each" if limit else ""), flush=True)
        _print_row(widths, header)
        for seed, outcome in engine.run(exercise, path, seeds, full=full, time_limit=limit):
            row = Row(seed, outcome)
            table.rows.append(row)
            _print_row(widths, _cells(table, row))
    for line in summary_lines(table):
        print("  " + line)
    return table


def default_csv_dir() -> pathlib.Path:
    return runtime.default_output_dir("seeds")


def csv_name(table: Table) -> str:
    suffix = f"__{table.label}" if table.variant is not None else ""
    return (f"{table.exercise.chapter}__{table.exercise.name}__{'full' if table.full else 'fast'}"
            f"{'__exo' if table.student else ''}{suffix}.csv")


def write_csv(table: Table, folder: pathlib.Path) -> pathlib.Path:
    """One row per seed (each metric, its margin, the seconds, the verdict), then the summary in
    ``#`` comment lines; written atomically. Also refreshes the folder's SUMMARY.md."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / csv_name(table)
    temporary = target.with_name(target.name + ".tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(_header(table))
        for row in table.rows:
            writer.writerow(_cells(table, row))
        for line in summary_lines(table):
            handle.write(f"# {line}\n")
        handle.write(f"# machine: {machine_description()}\n")
        handle.write(f"# date: {datetime.date.today().isoformat()}\n")
    os.replace(temporary, target)
    write_summary(folder)
    return target


def machine_description(included: str = "this sweep") -> str:
    """The processor, cores, memory, the load average (``included`` in it: what was running, such as
    the sweep itself) and the versions that decide the figures."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages * page_size / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        pass
    versions = []
    for package in ("tensorflow", "keras", "numpy", "gymnasium"):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    load = ""
    try:
        load = f", load average {os.getloadavg()[0]:.1f} at the end ({included} included)"
    except (OSError, AttributeError):
        pass
    return (f"{model}, {os.cpu_count()} cores{memory}{load}; {platform.system()}, Python "
            f"{platform.python_version()}, " + ", ".join(versions)
            + f", TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '')}")


def write_summary(folder: pathlib.Path) -> pathlib.Path:
    """``SUMMARY.md``: the summary and machine lines of every CSV table in the folder."""
    folder = pathlib.Path(folder)
    parts = ["# Seed sweeps (`python -m seminar seeds`)\n",
             "Written by `make seeds`; one CSV per exercise and mode beside this file. Each section "
             "below is copied from its CSV's closing lines.\n"]
    for path in sorted(folder.glob("*.csv")):
        lines = path.read_text(encoding="utf-8").splitlines()
        comments = [line[2:] for line in lines if line.startswith("# ")]
        rows = [line for line in lines[1:] if line and not line.startswith("#")]
        parts.append(f"## {path.stem.replace('__', ' ')}\n")
        parts.append(f"{len(rows)} seeds ([{path.name}]({path.name})).\n")
        parts.extend(f"- {line}" for line in comments)
        parts.append("")
    target = folder / "SUMMARY.md"
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text("\n".join(parts) + "\n", encoding="utf-8")
    os.replace(temporary, target)
    return target
