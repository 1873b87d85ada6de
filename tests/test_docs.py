"""The documentation: its generated parts (seminar/tools/docs.py) and its links. The README's course
map and each chapter page's exercise and threshold tables come from exercises.toml and
benchmarks/seeds/, and `python -m seminar build` keeps them so; every relative link resolves, to a
file and to a heading; the README stays short. Fast: no TensorFlow, no training."""

import pathlib
import re
import shutil

import pytest

from seminar.manifest import MANIFEST_PATH, REPO_ROOT, load
from seminar.tools import cli, docs

NEURAL_NETS = "docs/chapters/neural_nets.md"
AUTOENCODERS = "docs/chapters/autoencoders.md"


@pytest.fixture
def docs_copy(tmp_path):
    """A copy of the README and of docs/, to damage and rewrite."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copyfile(REPO_ROOT / "README.md", root / "README.md")
    shutil.copytree(REPO_ROOT / "docs", root / "docs")
    return root


def _inside(text: str, name: str) -> str:
    """The text between a part's markers."""
    start = text.index(docs.begin_marker(name)) + len(docs.begin_marker(name))
    return text[start:text.index(docs.end_marker(name))]


def _manifest_with(tmp_path, text: str) -> pathlib.Path:
    path = tmp_path / "exercises.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ generated parts


def test_the_committed_docs_are_what_build_writes():
    stale = docs.stale_parts()
    assert stale == [], "generated parts out of date or pages missing: run `python -m seminar build`"


def test_every_part_is_in_its_file_once_and_every_exercise_and_threshold_is_shown():
    course = load()
    pages = docs.render_pages(course)
    assert set(pages) == {"README.md"} | {f"docs/chapters/{c.id}.md" for c in course.chapters}
    for relative, parts in pages.items():
        text = (REPO_ROOT / relative).read_text(encoding="utf-8")
        for name in parts:
            assert text.count(docs.begin_marker(name)) == 1, (relative, name)
            assert text.count(docs.end_marker(name)) == 1, (relative, name)
    course_map = _inside((REPO_ROOT / "README.md").read_text(encoding="utf-8"), "course map")
    for chapter in course.chapters:
        assert f"]({docs.chapter_page(chapter.id)})" in course_map
    for exercise in course.exercises:
        assert f"`{exercise.id}`" in course_map
        page = (REPO_ROOT / docs.chapter_page(exercise.chapter)).read_text(encoding="utf-8")
        exercises, thresholds = _inside(page, "exercises"), _inside(page, "thresholds")
        assert f"| `{exercise.id}` |" in exercises and f"| `{exercise.id}` |" in thresholds
        for check in exercise.checks:
            assert docs.threshold_text(check) in exercises
            assert f"| {check.metric} |" in thresholds


def test_a_hand_edit_inside_a_part_is_reported_then_undone_and_the_rest_kept(docs_copy):
    page = docs_copy / NEURAL_NETS
    original = page.read_text(encoding="utf-8")
    line = next(row for row in _inside(original, "thresholds").splitlines()
                if row.startswith("| `neural_nets/softmax`"))
    edited = original.replace(line, line.replace("(>= 0.92)", "(>= 0.95)"))
    assert edited != original
    outside, note = "## What the checks measure\n", "## What the checks measure\n\nA note of mine.\n"
    edited = edited.replace(outside, note)
    page.write_text(edited, encoding="utf-8")

    stale = docs.update(check=True, root=docs_copy)
    assert len(stale) == 1 and stale[0].startswith(f"{NEURAL_NETS}: thresholds (line ")
    assert page.read_text(encoding="utf-8") == edited, "check writes nothing"

    assert docs.update(root=docs_copy) == stale
    assert page.read_text(encoding="utf-8") == original.replace(outside, note)
    assert docs.update(check=True, root=docs_copy) == []


def test_a_changed_threshold_in_the_manifest_changes_its_chapter_page(tmp_path, docs_copy):
    text = MANIFEST_PATH.read_text(encoding="utf-8")
    start = text.index('\nid = "neural_nets/softmax"\n')
    at = text.index("\nfull_at_least = ", start)
    end = text.index("\n", at + 1)
    changed = _manifest_with(tmp_path, text[:at] + "\nfull_at_least = 0.925" + text[end:])

    before, after = docs.render_pages(load(MANIFEST_PATH)), docs.render_pages(load(changed))
    assert "test accuracy >= 0.9 (full run 0.925)" in after[NEURAL_NETS]["exercises"]
    assert "(>= 0.925)" in after[NEURAL_NETS]["thresholds"]
    assert "(>= 0.925)" not in before[NEURAL_NETS]["thresholds"]
    differing = {(page, name) for page in before for name in before[page]
                 if before[page][name] != after[page][name]}
    assert differing == {(NEURAL_NETS, "exercises"), (NEURAL_NETS, "thresholds")}

    stale = docs.update(check=True, root=docs_copy, manifest_path=changed)
    assert [s.split(" (")[0] for s in stale] == [f"{NEURAL_NETS}: exercises", f"{NEURAL_NETS}: thresholds"]


def test_the_tables_are_computed_from_the_sweep_csvs(tmp_path):
    """Worst and median come from the CSV's rows: change a seed's value and the table follows."""
    seeds = tmp_path / "seeds"
    shutil.copytree(docs.SEEDS_DIR, seeds)
    softmax = load().get("neural_nets/softmax")
    path = docs.sweep_path(softmax, False, seeds)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    cells = lines[1].split(",")
    cells[1] = "0.9011"  # seed 0's test accuracy: now the worst
    lines[1] = ",".join(cells)
    path.write_text("".join(lines), encoding="utf-8")
    table = docs.render_pages(load(), seeds)[NEURAL_NETS]["thresholds"]
    assert "| `neural_nets/softmax` | test_accuracy | 0.9011 / " in table


def test_the_sweeps_machine_date_and_seconds_come_from_the_csvs():
    table = docs.render_pages()[AUTOENCODERS]["thresholds"]
    assert "seconds of `main()`" in table and "final training loss" in table
    notes = docs.read_sweep_notes(load().get("autoencoders/gan"), False, docs.SEEDS_DIR)
    assert notes["date"][0] in table
    assert notes["machine"][0].split(", load average")[0] in table


def test_a_new_exercise_and_a_new_chapter_need_no_edit_here(tmp_path, docs_copy):
    """The parts follow the manifest: a new exercise shows in its chapter's tables, not swept yet;
    a new chapter's page is reported missing, never a crash, and the template fills in."""
    text = MANIFEST_PATH.read_text(encoding="utf-8")
    start = text.index('[[exercises]]\nid = "neural_nets/mlp"')
    end = text.index("[[exercises]]", start + 1)
    mlp = text[start:end]
    text += "\n" + mlp.replace('id = "neural_nets/mlp"', 'id = "neural_nets/mlp_again"')
    text += '\n[[chapters]]\nid = "attention"\ntitle = "Attention"\nslides = "98-99"\n\n'
    text += mlp.replace('id = "neural_nets/mlp"', 'id = "attention/transformer"')
    changed = _manifest_with(tmp_path, text)
    course = load(changed)

    pages = docs.render_pages(course)
    assert "`neural_nets/mlp_again`" in pages[NEURAL_NETS]["exercises"]
    assert "| `neural_nets/mlp_again` | test_accuracy | not swept yet (>= 0.97) |" in pages[NEURAL_NETS]["thresholds"]
    assert ("[Attention](docs/chapters/attention.md) | 98-99 | `attention/transformer` |"
            in pages["README.md"]["course map"])

    report = docs.update(check=True, root=docs_copy, manifest_path=changed)
    missing = [entry for entry in report if isinstance(entry, docs.MissingPage)]
    assert len(missing) == 1 and missing[0].startswith("docs/chapters/attention.md: no such page")
    assert "chapter_page_template('attention')" in missing[0]
    assert docs.update(root=docs_copy, manifest_path=changed) == report, "the other files are written"
    assert not (docs_copy / "docs/chapters/attention.md").exists(), "a page is a person's to write"

    page = docs.chapter_page_template("attention", course)
    assert page.startswith("# Attention\n") and "Slides 98-99" in page
    (docs_copy / "docs/chapters/attention.md").write_text(page, encoding="utf-8")
    written = docs.update(root=docs_copy, manifest_path=changed)
    assert [s.split(" (")[0] for s in written] == ["docs/chapters/attention.md: exercises",
                                                   "docs/chapters/attention.md: thresholds"]
    assert docs.update(check=True, root=docs_copy, manifest_path=changed) == []
    filled = (docs_copy / "docs/chapters/attention.md").read_text(encoding="utf-8")
    assert "| `attention/transformer` |" in _inside(filled, "thresholds")


def test_the_template_is_every_chapter_pages_start(course):
    """Every committed chapter page keeps the template's headings, so `seminar new` pages and the
    written ones read alike."""
    for chapter in course.chapters:
        template = docs.chapter_page_template(chapter)
        page = (REPO_ROOT / docs.chapter_page(chapter.id)).read_text(encoding="utf-8")
        assert page.startswith(template.split("\n")[0] + "\n")
        for heading in ("## Exercises", "## Thresholds and timings"):
            assert f"\n{heading}\n" in template and f"\n{heading}\n" in page
    with pytest.raises(docs.ReadmeError, match="no chapter 'nowhere'"):
        docs.chapter_page_template("nowhere")


@pytest.mark.parametrize("relative", ["README.md", AUTOENCODERS])
@pytest.mark.parametrize("damage", ["missing end", "missing begin", "twice", "unknown"])
def test_a_bad_marker_is_a_clear_error_naming_it_and_nothing_is_written(docs_copy, relative, damage):
    page = docs_copy / relative
    text = page.read_text(encoding="utf-8")
    name = "course map" if relative == "README.md" else "thresholds"
    begin, end = docs.begin_marker(name), docs.end_marker(name)
    if damage == "missing end":
        text, named = text.replace(end, ""), end
    elif damage == "missing begin":
        text, named = text.replace(begin, ""), begin
    elif damage == "twice":
        text, named = text + "\n" + begin + "\n", begin
    else:
        named = docs.begin_marker("a table nobody renders")
        text += "\n" + named + "\n"
    page.write_text(text, encoding="utf-8")
    # Another file out of date too: it must not be written either.
    other = docs_copy / (NEURAL_NETS if relative == "README.md" else "README.md")
    other_text = other.read_text(encoding="utf-8").replace("| ", "|  ", 1)
    other.write_text(other_text, encoding="utf-8")
    for check in (True, False):
        with pytest.raises(docs.ReadmeError) as raised:
            docs.update(check=check, root=docs_copy)
        assert named in str(raised.value) and relative in str(raised.value)
    assert page.read_text(encoding="utf-8") == text, "nothing is written on an error"
    assert other.read_text(encoding="utf-8") == other_text


def test_build_check_reports_drift_with_the_command_to_fix_it(docs_copy, monkeypatch, capsys):
    readme = docs_copy / "README.md"
    text = readme.read_text(encoding="utf-8")
    row = next(r for r in _inside(text, "course map").splitlines() if "`sgd/binary_classif`" in r)
    readme.write_text(text.replace(row, row.replace("14-18", "14-19")), encoding="utf-8")
    (docs_copy / "docs/chapters/rnn.md").unlink()
    monkeypatch.setattr(docs, "ROOT", docs_copy)
    # One exercise's skeleton only, in check mode: nothing in the repository is written.
    status = cli.main(["build", "--check", "intro/hello_world"])
    out = capsys.readouterr().out
    assert status == 1
    assert "out of date: README.md: course map (line" in out
    assert "missing: docs/chapters/rnn.md: no such page" in out
    assert out.rstrip().endswith("(run: python -m seminar build)")
    assert not (docs_copy / "docs/chapters/rnn.md").exists()


# ------------------------------------------------------------------------------------ links


LINKED_FILES = sorted(
    [REPO_ROOT / "README.md", REPO_ROOT / "CONTRIBUTING.md"]
    + list((REPO_ROOT / "docs").rglob("*.md")) + list((REPO_ROOT / "benchmarks").glob("*.md")))

_FENCE = re.compile(r"^(```|~~~)")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")


def _prose_lines(text: str):
    """The lines outside fenced code blocks, with inline code spans blanked (links there are
    examples, not links)."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text (links to their text, code without its
    backticks), lowercased, punctuation other than hyphens and underscores dropped, spaces to
    hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: pathlib.Path) -> set[str]:
    """Every anchor of a Markdown file: its headings' slugs (a repeated one gets -1, -2, ... as on
    GitHub) and explicit <a id=...> anchors."""
    found, seen = set(), {}
    for _, line in _prose_lines(path.read_text(encoding="utf-8")):
        heading = _HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            found.add(base if count == 0 else f"{base}-{count}")
            seen[base] = count + 1
        found.update(_HTML_ANCHOR.findall(line))
    return found


def links(path: pathlib.Path) -> list[tuple[int, str]]:
    """The relative links of a Markdown file, (line number, target), outside code."""
    found = []
    for number, line in _prose_lines(path.read_text(encoding="utf-8")):
        line = re.sub(r"`[^`]*`", "``", line)
        for target in _LINK.findall(line):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, mailto: ...
                found.append((number, target))
    return found


def test_the_slugs_follow_githubs_rules():
    assert slug("Going deeper and deep features: what the checks measure") == \
        "going-deeper-and-deep-features-what-the-checks-measure"
    assert slug("Speed of the MNIST chapters (benchmark)") == "speed-of-the-mnist-chapters-benchmark"
    assert slug("The README's generated parts") == "the-readmes-generated-parts"
    assert slug("Going deeper (`convnets/going_deeper`)") == "going-deeper-convnetsgoing_deeper"
    assert slug("See [the data](docs/data.md) first") == "see-the-data-first"


@pytest.mark.parametrize("path", LINKED_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_relative_link_resolves_to_a_file_and_a_heading(path):
    broken = []
    for number, target in links(path):
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(REPO_ROOT)}, line {number}: ({target})"
        if not linked.exists():
            broken.append(f"{where}: no such file")
        elif anchor and linked.is_file() and anchor not in anchors(linked):
            broken.append(f"{where}: no heading with the anchor #{anchor} in "
                          f"{linked.relative_to(REPO_ROOT) if linked.is_relative_to(REPO_ROOT) else linked}")
    assert broken == [], "broken links:\n" + "\n".join(broken)


def test_the_link_check_finds_broken_links(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## A section\n\n[ok](#a-section) [bad](#nowhere) `[code](none.md)`\n"
                    "```\n[in a block](none.md)\n```\n[gone](none.md) [web](https://example.org)\n",
                    encoding="utf-8")
    assert [t for _, t in links(page)] == ["#a-section", "#nowhere", "none.md"]
    assert anchors(page) == {"title", "a-section"}


# ------------------------------------------------------------------------------------ the README


def test_the_readme_is_short():
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines: move detail into docs/"


def test_the_readmes_first_code_block_has_the_two_commands():
    first_block = (REPO_ROOT / "README.md").read_text(encoding="utf-8").split("```")[1]
    assert "make demo" in first_block and "make test" in first_block


def test_the_readme_links_every_page_of_docs():
    """The README links each page of docs/ (the chapter pages through the course map),
    CONTRIBUTING.md and the benchmark's results."""
    linked = {(REPO_ROOT / target.partition("#")[0]).resolve()
              for _, target in links(REPO_ROOT / "README.md") if target.partition("#")[0]}
    pages = set((REPO_ROOT / "docs").rglob("*.md")) | {REPO_ROOT / "CONTRIBUTING.md",
                                                       REPO_ROOT / "benchmarks" / "RESULTS.md"}
    assert sorted(str(p.relative_to(REPO_ROOT)) for p in pages - linked) == []
