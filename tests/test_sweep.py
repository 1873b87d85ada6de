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
