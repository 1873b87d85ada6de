"""`python -m seminar seeds`: the seed sweep behind every threshold."""

import csv

import pytest

from seminar import manifest
from seminar.tools import cli, sweep


def test_seed_lists_are_read_as_written():
    assert sweep.parse_seeds("0-3") == [0, 1, 2, 3]
    assert sweep.parse_seeds("3,5,8") == [3, 5, 8]
    assert sweep.parse_seeds("0-2, 100, 1") == [0, 1, 2, 100]
    for bad in ["", "-1", "5-2", "a", "1-b", ","]:
        with pytest.raises(ValueError, match="--seeds"):
            sweep.parse_seeds(bad)


def test_a_bad_seed_list_is_a_usage_error(capsys):
    assert cli.main(["seeds", "intro/hello_world", "--seeds", "9-1"]) == 2
    assert "--seeds" in capsys.readouterr().err


@pytest.mark.slow
def test_a_sweep_prints_a_row_per_seed_and_writes_its_table(tmp_path, capsys):
    status = cli.main(["seeds", "intro/hello_world", "--seeds", "0-2", "--jobs", "2",
                            "--csv-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    assert "failures: 0 of 3" in out and "worst 1, median 1" in out
    table = tmp_path / "intro__hello_world__fast.csv"
    lines = table.read_text().splitlines()
    rows = list(csv.reader([line for line in lines if not line.startswith("#")]))
    assert rows[0][0] == "seed" and rows[0][-2:] == ["seconds", "verdict"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    assert all(r[-1] == "PASS" for r in rows[1:])
    assert any(line.startswith("# machine: ") for line in lines)
    summary = (tmp_path / "SUMMARY.md").read_text()
    assert "## intro hello_world fast" in summary and "failures: 0 of 3" in summary


@pytest.mark.slow
def test_a_failing_seed_is_counted_and_exits_1(tmp_path, capsys, monkeypatch):
    """The student's unfilled skeleton on two seeds: two failures, each saying why."""
    status = cli.main(["seeds", "intro/hello_world", "--exo", "--seeds", "0-1",
                            "--csv-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 1
    assert "failures: 2 of 2" in out and "FAIL (todo)" in out
    assert (tmp_path / "intro__hello_world__fast__exo.csv").is_file()


@pytest.mark.parametrize("mode, seeds", [("fast", 20), ("full", 5)])
def test_the_committed_sweeps_cover_every_exercise_and_every_row_passes(course, mode, seeds):
    """`make seeds` has been run with today's thresholds: a table per exercise and mode, in
    benchmarks/seeds/, whose header names the manifest's current thresholds and whose rows all pass."""
    folder = manifest.REPO_ROOT / "benchmarks" / "seeds"
    for exercise in course.exercises:
        path = folder / f"{exercise.chapter}__{exercise.name}__{mode}.csv"
        assert path.is_file(), f"no sweep table {path.name}: run make seeds"
        lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
        header, rows = next(csv.reader([lines[0]])), list(csv.reader(lines[1:]))
        for check in exercise.checks:
            op, threshold = check.bound(full=mode == "full")
            assert f"{check.metric} ({op} {threshold:g})" in header, \
                f"{path.name} was measured against another threshold: run make seeds again"
        assert len(rows) >= seeds, f"{path.name}: {len(rows)} seeds, at least {seeds} wanted"
        assert [int(r[0]) for r in rows][:seeds] == list(range(seeds))
        failing = [r[0] for r in rows if r[-1] != "PASS"]
        assert failing == [], f"{path.name}: seeds {failing} fail"


@pytest.mark.slow
def test_a_variant_file_is_swept_under_its_own_name(tmp_path, capsys):
    """`--file` sweeps another solution of one exercise (benchmarks/variants/), in a table of its own."""
    variant = tmp_path / "hello_world_again.py"
    variant.write_text((manifest.REPO_ROOT / "solutions" / "intro" / "hello_world.py").read_text())
    status = cli.main(["seeds", "intro/hello_world", "--file", str(variant), "--seeds", "0",
                            "--csv-dir", str(tmp_path)])
    assert status == 0
    assert "fast (hello_world_again.py)" in capsys.readouterr().out
    assert (tmp_path / "intro__hello_world__fast__hello_world_again.csv").is_file()
    assert cli.main(["seeds", "intro/hello_world", "intro/math_ops", "--file", str(variant)]) == 2
    assert cli.main(["seeds", "intro/hello_world", "--file", str(tmp_path / "missing.py")]) == 2
    assert "--file" in capsys.readouterr().err


# ------------------------------------------------------------------ the seeds on a dask cluster

KILL_WORKER = """
    import os as _os, signal as _signal, pathlib as _pathlib
    _marker = _pathlib.Path(__file__).with_suffix(f".killed-{args.seed}")
    if args.seed == 2 or (args.seed == 1 and not _marker.exists()):
        _marker.touch()
        _os.kill(_os.getppid(), _signal.SIGKILL)  # the dask worker that runs this seed dies
        _os._exit(1)
"""


@pytest.mark.slow
def test_a_dead_worker_costs_only_its_seed_which_is_tried_once_more(tmp_path, capsys):
    """hello_world's solution, except that its run kills the dask worker running it: on seed 1 the
    first time only (the seed runs again on a fresh worker and passes), on seed 2 every time (the
    seed is reported after one retry)."""
    solution = (manifest.REPO_ROOT / "solutions" / "intro" / "hello_world.py").read_text()
    anchor = "    runtime.set_seed(args.seed)\n"
    assert solution.count(anchor) == 1
    killer = tmp_path / "hello_world_killer.py"
    killer.write_text(solution.replace(anchor, anchor + KILL_WORKER))
    table = sweep.sweep(manifest.load().get("intro/hello_world"), [1, 2], variant=killer, jobs=2)
    out = capsys.readouterr().out
    assert "seed 1: the worker running it died; running it once more" in out
    assert [(r.seed, r.outcome.passed, r.outcome.kind) for r in table.rows] == [
        (1, True, "ran"), (2, False, "lost")]
    assert "died twice" in table.rows[1].outcome.message and "FAIL (lost)" in out


def committed_rows(exercise, mode="fast"):
    path = manifest.REPO_ROOT / "benchmarks" / "seeds" / f"{exercise.chapter}__{exercise.name}__{mode}.csv"
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return {row[0]: row for row in csv.reader(lines[1:])}


@pytest.mark.slow
def test_a_cluster_of_ones_own_gives_the_committed_table_for_the_same_seeds(tmp_path):
    """`seeds --scheduler ADDRESS` on a cluster started apart (here a local one, as `dask scheduler`
    and `dask worker` would be on lab machines): the CSV rows are the committed table's rows (whose
    runs predate dask), cell for cell but the seconds. The engine changes where a seed runs, not
    what it gives."""
    from distributed import LocalCluster

    exercise = manifest.load().get("sgd/linear_regression")
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster:
        assert cli.main(["seeds", exercise.id, "--seeds", "0,7", "--scheduler", cluster.scheduler_address,
                         "--csv-dir", str(tmp_path)]) == 0
    written = (tmp_path / "sgd__linear_regression__fast.csv").read_text().splitlines()
    lines = [line for line in written if line and not line.startswith("#")]
    committed = committed_rows(exercise)
    seconds = next(csv.reader(lines[:1])).index("seconds")
    rows = list(csv.reader(lines[1:]))
    assert [row[0] for row in rows] == ["0", "7"]
    for row in rows:
        expected = committed[row[0]]
        assert row[:seconds] + row[seconds + 1:] == expected[:seconds] + expected[seconds + 1:], (row, expected)


def test_an_unreachable_scheduler_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.setattr(sweep.Engine, "CONNECT_SECONDS", 1)
    assert cli.main(["seeds", "intro/hello_world", "--scheduler", "tcp://127.0.0.1:9",
                     "--seeds", "0"]) == 2
    err = capsys.readouterr().err
    assert "--scheduler tcp://127.0.0.1:9" in err and "dask scheduler" in err
