"""``python -m seminar new CHAPTER/NAME [--like OTHER/ID]``: the files of a new exercise, from a
working template, so that adding an exercise starts from something that already runs, checks and
fails its planted bugs, and ``python -m seminar verify ID`` then lists what is left to do.

Written (never over an existing file):

- ``solutions/CHAPTER/NAME.py``: the solution, with its SOLUTION blocks;
- its entry in ``exercises.toml``, after the chapter's last exercise (and the chapter's entry
  when the chapter is new);
- ``grading/CHAPTER/NAME.py``: its probes and the measure of every check;
- ``grading/CHAPTER/NAME.overlays.toml``: a correct variant and two planted bugs;
- ``docs/chapters/CHAPTER.md`` when the chapter is new;

then the skeleton ``CHAPTER/NAME_exo.py`` and the documentation's generated parts, as
``python -m seminar build`` makes them. Without ``--like`` the exercise is the template's (a line
fitted by gradient descent); with ``--like OTHER/ID`` every file starts as a copy of that
exercise's, its id replaced.
"""

from __future__ import annotations

import pathlib
import re
import string

from seminar.manifest import (MANIFEST_PATH, REPO_ROOT, Chapter, Manifest, ManifestError, load,
                              shown_path)

TEMPLATES = pathlib.Path(__file__).resolve().parent / "templates"


class ScaffoldError(ValueError):
    """The exercise cannot be added as asked (it exists, or its id is malformed)."""


def _render(template: str, **fields: str) -> str:
    return string.Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(fields)


def _entry_text(manifest_text: str, exercise_id: str) -> str:
    """The manifest's own text of an exercise's entry: from its ``[[exercises]]`` line to the next
    entry (its checks included), without the comment lines that introduce the next chapter."""
    lines = manifest_text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == f'id = "{exercise_id}"') - 1
    end = start + 1
    while end < len(lines) and lines[end].strip() not in ("[[exercises]]", "[[chapters]]"):
        end += 1
    while lines[end - 1].startswith("#") or not lines[end - 1].strip():
        end -= 1
    return "\n" + "".join(lines[start:end])


def _insert_entry(manifest_text: str, course: Manifest, chapter: str, entry: str) -> str:
    """The manifest with ``entry`` after the chapter's last exercise (at the end for a chapter
    that has none yet)."""
    exercises = course.in_chapter(chapter)
    if not exercises:
        return manifest_text.rstrip("\n") + "\n" + entry
    last = _entry_text(manifest_text, exercises[-1].id)
    at = manifest_text.index(last) + len(last)
    return manifest_text[:at] + "\n" + entry.rstrip("\n") + "\n" + manifest_text[at:]


def _chapter_entry(chapter: str, title: str, slides: str) -> str:
    return f'\n[[chapters]]\nid = "{chapter}"\ntitle = "{title}"\nslides = "{slides}"\n'


def _with_chapter(manifest_text: str, entry: str) -> str:
    """The manifest with a chapter's entry after the last ``[[chapters]]`` entry."""
    lines = manifest_text.splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if line.strip() == "[[chapters]]")
    end = last + 1
    while end < len(lines) and lines[end].strip() and not lines[end].startswith("["):
        end += 1
    return "".join(lines[:end]) + entry + "".join(lines[end:])


def new_exercise(exercise_id: str, *, like: str | None = None, title: str | None = None,
                 chapter_title: str | None = None, slides: str | None = None,
                 say=print) -> list[pathlib.Path]:
    """Write the files of the exercise ``exercise_id`` (see the module's docstring); return them."""
    from seminar.grader.grading import grading_path
    from seminar.tools import overlays

    if exercise_id.count("/") != 1 or not all(p.isidentifier() for p in exercise_id.split("/")):
        raise ScaffoldError(f"{exercise_id!r}: an exercise id is CHAPTER/NAME, both Python names "
                            f"(letters, digits and underscores)")
    course = load(MANIFEST_PATH)
    if exercise_id in {e.id for e in course.exercises}:
        raise ScaffoldError(f"{exercise_id} is already in exercises.toml")
    chapter, name = exercise_id.split("/")
    solution = REPO_ROOT / "solutions" / chapter / f"{name}.py"
    grading = grading_path(exercise_id)
    overlay_file = overlays.overlays_path(exercise_id)
    page = REPO_ROOT / "docs" / "chapters" / f"{chapter}.md"
    new_chapter = chapter not in {c.id for c in course.chapters}
    targets = [solution, grading, overlay_file] + ([page] if new_chapter else [])
    existing = [shown_path(path) for path in targets if path.exists()]
    if existing:
        raise ScaffoldError(f"{', '.join(existing)} already exist(s): nothing written (remove or "
                            f"move them first)")
    title = title or f"{name.replace('_', ' ').capitalize()}"
    slides = slides or "?"
    known = {c.id: c for c in course.chapters}
    slides_of_chapter = known[chapter].slides if chapter in known else slides

    manifest_text = MANIFEST_PATH.read_text(encoding="utf-8")
    if like is None:
        fields = dict(id=exercise_id, chapter=chapter, name=name, title=title,
                      slides=slides_of_chapter)
        texts = {solution: _render("solution.py", **fields),
                 grading: _render("grading.py", **fields),
                 overlay_file: _render("overlays.toml", **fields)}
        entry = _render("exercise.toml", **fields)
    else:
        model = course.get(like)

        def renamed(text: str) -> str:  # the model's id, and its paths, become the new exercise's
            text = text.replace(model.id, exercise_id)
            return re.sub(rf"\b{re.escape(model.chapter)}/{re.escape(model.name)}\b", exercise_id,
                          text)

        texts = {solution: renamed(model.solution_path.read_text(encoding="utf-8")),
                 grading: renamed(grading_path(model.id).read_text(encoding="utf-8")),
                 overlay_file: renamed(overlays.overlays_path(model.id).read_text(encoding="utf-8"))}
        entry = renamed(_entry_text(manifest_text, model.id))
        entry = re.sub(r'^title = ".*"$', f'title = "{title}"', entry, count=1, flags=re.M)
        # Not tried by a new student, not swept yet: verify asks for both.
        entry = re.sub(r"^hints_needed = .*\n", "", entry, flags=re.M)
        entry = re.sub(r"^seeds_tried = .*$", "seeds_tried = [0]", entry, count=1, flags=re.M)
    if new_chapter:
        from seminar.tools import docs

        described = Chapter(chapter, chapter_title or chapter.replace("_", " ").capitalize(), slides)
        manifest_text = _with_chapter(manifest_text, _chapter_entry(
            described.id, described.title, described.slides))
        texts[page] = docs.chapter_page_template(described)
    manifest_text = _insert_entry(manifest_text, course, chapter, entry)
    written = []
    for path, text in texts.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as handle:  # never over an existing file
            handle.write(text)
        written.append(path)
    MANIFEST_PATH.write_text(manifest_text, encoding="utf-8")
    load.cache_clear()
    try:
        load(MANIFEST_PATH).get(exercise_id)
    except ManifestError as error:
        raise ScaffoldError(f"the new entry of exercises.toml does not parse ({error}): fix it "
                            f"there") from None
    written.append(MANIFEST_PATH)
    for path in written:
        say(f"wrote {shown_path(path)}")
    return written
