"""The README's generated parts (seminar/readme_tables.py): the course map and the threshold tables
come from exercises.toml and benchmarks/seeds/, and `python -m seminar build` keeps them so. Fast:
no TensorFlow, no training."""

import shutil

import pytest

from seminar import commands, readme_tables
from seminar.manifest import MANIFEST_PATH, load

MNIST_TABLE = "thresholds of the MNIST chapters"


@pytest.fixture
def readme_copy(tmp_path):
    copy = tmp_path / "README.md"
    shutil.copyfile(readme_tables.README_PATH, copy)
    return copy


def _inside(text: str, name: str) -> str:
    """The text between a part's markers."""
    start = text.index(readme_tables.begin_marker(name)) + len(readme_tables.begin_marker(name))
    return text[start:text.index(readme_tables.end_marker(name))]


def test_the_committed_readme_is_what_build_writes():
    stale = readme_tables.update_readme(readme_tables.README_PATH, check=True)
    assert stale == [], "the README's generated parts are out of date: run `python -m seminar build`"


def test_every_part_is_in_the_readme_once_and_every_threshold_is_shown():
    text = readme_tables.README_PATH.read_text(encoding="utf-8")
    for name in readme_tables.PARTS:
        assert text.count(readme_tables.begin_marker(name)) == 1
        assert text.count(readme_tables.end_marker(name)) == 1
    course_map = _inside(text, "course map")
    for exercise in load().exercises:
        assert f"`{exercise.id}`" in course_map
        for check in exercise.checks:
            assert readme_tables.threshold_text(check) in course_map


def test_a_hand_edit_inside_a_part_is_reported_then_undone_and_the_rest_kept(readme_copy):
    original = readme_copy.read_text(encoding="utf-8")
    table = _inside(original, MNIST_TABLE)
    line = next(row for row in table.splitlines() if row.startswith("| `neural_nets/softmax`"))
    edited = original.replace(line, line.replace("(>= 0.92)", "(>= 0.95)"))
    assert edited != original
    outside = "## Set-up\n"
    edited = edited.replace(outside, "## Set-up\n\nA note of mine, outside the generated parts.\n")
    readme_copy.write_text(edited, encoding="utf-8")

    stale = readme_tables.update_readme(readme_copy, check=True)
    assert len(stale) == 1 and MNIST_TABLE in stale[0] and "README.md" in stale[0]
    assert readme_copy.read_text(encoding="utf-8") == edited, "check writes nothing"

    assert readme_tables.update_readme(readme_copy, check=False) == stale
    rewritten = readme_copy.read_text(encoding="utf-8")
    assert rewritten == original.replace(outside, "## Set-up\n\nA note of mine, outside the generated parts.\n")
    assert readme_tables.update_readme(readme_copy, check=True) == []


def test_a_changed_threshold_in_the_manifest_changes_the_tables(tmp_path, readme_copy):
    text = MANIFEST_PATH.read_text(encoding="utf-8")
    start = text.index('\nid = "neural_nets/softmax"\n')
    at = text.index("\nfull_at_least = ", start)
    end = text.index("\n", at + 1)
    changed = tmp_path / "exercises.toml"
    changed.write_text(text[:at] + "\nfull_at_least = 0.925" + text[end:], encoding="utf-8")

    before = readme_tables.render_parts(load(MANIFEST_PATH))
    after = readme_tables.render_parts(load(changed))
    assert "test accuracy >= 0.9 (full run 0.925)" in after["course map"]
    assert "(>= 0.925)" in after[MNIST_TABLE] and "(>= 0.925)" not in before[MNIST_TABLE]
    assert {name for name in before if before[name] != after[name]} == {"course map", MNIST_TABLE}

    stale = readme_tables.update_readme(readme_copy, check=True, manifest_path=changed)
    assert [s.split(" (")[0] for s in stale] == ["README.md: course map", f"README.md: {MNIST_TABLE}"]


def test_the_tables_are_computed_from_the_sweep_csvs(tmp_path):
    """Worst and median come from the CSV's rows: change a seed's value and the table follows."""
    seeds = tmp_path / "seeds"
    shutil.copytree(readme_tables.SEEDS_DIR, seeds)
    softmax = load().get("neural_nets/softmax")
    path = readme_tables.sweep_path(softmax, False, seeds)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    cells = lines[1].split(",")
    cells[1] = "0.9011"  # seed 0's test accuracy: now the worst
    lines[1] = ",".join(cells)
    path.write_text("".join(lines), encoding="utf-8")
    table = readme_tables.render_parts(load(), seeds)[MNIST_TABLE]
    assert "| `neural_nets/softmax` | test_accuracy | 0.9011 / " in table


@pytest.mark.parametrize("damage", ["missing end", "missing begin", "twice", "unknown"])
def test_a_bad_marker_is_a_clear_error_naming_it(readme_copy, damage):
    text = readme_copy.read_text(encoding="utf-8")
    name = "thresholds of the autoencoders"
    begin, end = readme_tables.begin_marker(name), readme_tables.end_marker(name)
    if damage == "missing end":
        text, named = text.replace(end, ""), end
    elif damage == "missing begin":
        text, named = text.replace(begin, ""), begin
    elif damage == "twice":
        text, named = text + "\n" + begin + "\n", begin
    else:
        named = readme_tables.begin_marker("a table nobody renders")
        text += "\n" + named + "\n"
    readme_copy.write_text(text, encoding="utf-8")
    for check in (True, False):
        with pytest.raises(readme_tables.ReadmeError) as raised:
            readme_tables.update_readme(readme_copy, check=check)
        assert named in str(raised.value)
    assert readme_copy.read_text(encoding="utf-8") == text, "nothing is written on an error"


def test_build_check_reports_readme_drift_with_the_command_to_fix_it(readme_copy, monkeypatch, capsys):
    text = readme_copy.read_text(encoding="utf-8")
    row = next(r for r in _inside(text, "course map").splitlines() if "`sgd/binary_classif`" in r)
    readme_copy.write_text(text.replace(row, row.replace(">= 0.97", ">= 0.5")), encoding="utf-8")
    monkeypatch.setattr(readme_tables, "README_PATH", readme_copy)
    # One exercise's skeleton only, in check mode: nothing in the repository is written.
    status = commands.main(["build", "--check", "intro/hello_world"])
    out = capsys.readouterr().out
    assert status == 1
    assert "out of date: README.md: course map (line" in out
    assert out.rstrip().endswith("(run: python -m seminar build)")
