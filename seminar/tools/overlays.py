"""Overlays: a solution written differently, stated as what differs from the solution.

Each exercise ``CHAPTER/NAME`` may have one file ``grading/CHAPTER/NAME.overlays.toml`` holding
two kinds of overlays:

``[[variants]]``
    a correct solution written another way (another Keras API, another loss formulation...):
    its check must pass too, which shows that the thresholds are not tuned to one implementation.
``[[mutants]]``
    a planted bug: its check must fail, and say ``expect`` (words of the diagnosis).

An overlay says what to change in ``solutions/CHAPTER/NAME.py``, in two ways:

``replace = [[old, new], ...]``
    text replacements, applied first and in order. Each ``old`` must occur exactly once, so that
    an overlay cannot silently stop applying when the solution changes: it fails loudly instead.
``[variants.blocks]`` (or ``[mutants.blocks]``): ``function = '''code'''``
    the new code of a function's ``# SOLUTION:`` ... ``# END SOLUTION`` block. The whole block,
    markers included, gives way to the code, which is written without the function's indentation
    (it is re-indented to the ``# SOLUTION:`` line's). A block survives a rewording of the
    solution around it, where a replacement of its lines would not.

:func:`materialise` turns an overlay into the text of a runnable file, :func:`write` writes it.
Nothing here loads TensorFlow.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import textwrap
import tomllib

from seminar.grader import markers
from seminar.manifest import REPO_ROOT, shown_path

OVERLAYS_DIR = REPO_ROOT / "grading"

KINDS = ("variant", "mutant")
# The keys an overlay may have; anything else is a typo that would otherwise be silently ignored.
ALLOWED_KEYS = frozenset({"name", "about", "blocks", "replace", "expect"})
SLUG_LENGTH = 40


class OverlayError(ValueError):
    """An overlay file is malformed, or an overlay no longer fits its solution."""


@dataclasses.dataclass(frozen=True)
class Overlay:
    """One variant or mutant of an exercise's solution."""

    exercise: str  # "chapter/name"
    kind: str  # "variant" or "mutant"
    name: str
    about: str = ""  # what differs from the solution, in a sentence (Markdown)
    # function name -> the code that takes the place of that function's SOLUTION block. Left out
    # of the hash (a dict has none) so that an Overlay can still be a set member or a dict key.
    blocks: dict[str, str] = dataclasses.field(default_factory=dict, hash=False)
    replace: tuple[tuple[str, str], ...] = ()  # (old, new) pairs, applied in order
    expect: str = ""  # mutants: words the check's diagnosis must contain; variants: ""

    @property
    def slug(self) -> str:
        """The name as a file-name part: lowercase, runs of other characters as "_", <= 40 chars."""
        slug = re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_")
        return slug[:SLUG_LENGTH].strip("_")

    @property
    def source(self) -> str:
        """The overlay file and the overlay within it, as error messages name them."""
        return f"{shown_path(overlays_path(self.exercise))}: {self.kind} {self.name!r}"


def overlays_path(exercise_id: str) -> pathlib.Path:
    """``grading/CHAPTER/NAME.overlays.toml``, the overlay file of an exercise (it may not exist)."""
    chapter, slash, name = exercise_id.partition("/")
    if not (chapter and slash and name) or "/" in name:
        raise OverlayError(f"{exercise_id!r} is not an exercise id: write it as 'chapter/name'")
    return OVERLAYS_DIR / chapter / f"{name}.overlays.toml"


# ------------------------------------------------------------------------------------ loading


def load(exercise_id: str) -> list[Overlay]:
    """The overlays of an exercise, variants first, each kind in file order ([] without a file).

    Strict on purpose: a misspelt key or a mutant without ``expect`` would otherwise make a test
    that checks less than it seems to.
    """
    path = overlays_path(exercise_id)
    if not path.exists():
        return []
    shown = shown_path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise OverlayError(f"{shown}: not valid TOML ({error}): fix the syntax") from None
    unknown = sorted(set(data) - {f"{kind}s" for kind in KINDS})
    if unknown:
        raise OverlayError(f"{shown}: unknown top-level key(s) {unknown}: an overlay file holds only "
                           "[[variants]] and [[mutants]]")
    overlays = []
    for kind in KINDS:
        entries = data.get(f"{kind}s", [])
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise OverlayError(f"{shown}: '{kind}s' must be an array of tables: write each as [[{kind}s]]")
        names: set[str] = set()
        slugs: dict[str, str] = {}
        for number, entry in enumerate(entries, start=1):
            overlay = _parse_entry(exercise_id, kind, entry, shown, number)
            if overlay.name in names:
                raise OverlayError(f"{overlay.source}: a second {kind} of that name: rename one of them")
            if overlay.slug in slugs:
                # write() names files by the slug: two equal slugs would write the same file.
                raise OverlayError(f"{overlay.source}: its file name part {overlay.slug!r} is also "
                                   f"{slugs[overlay.slug]!r}'s: make the names differ in their first "
                                   f"{SLUG_LENGTH} letters and digits")
            names.add(overlay.name)
            slugs[overlay.slug] = overlay.name
            overlays.append(overlay)
    return overlays


def _parse_entry(exercise_id: str, kind: str, entry: dict, shown: str, number: int) -> Overlay:
    """One ``[[variants]]`` or ``[[mutants]]`` table (the number-th of its kind in the file
    ``shown``) as an Overlay."""
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise OverlayError(f"{shown}: {kind} number {number} has no name: give it name = \"...\" "
                           f"(unique among the {kind}s)")
    where = f"{shown}: {kind} {name!r}"
    unknown = sorted(set(entry) - ALLOWED_KEYS)
    if unknown:
        raise OverlayError(f"{where}: unknown key(s) {unknown}: the keys are {sorted(ALLOWED_KEYS)}")
    about = entry.get("about", "")
    if not isinstance(about, str):
        raise OverlayError(f"{where}: 'about' must be a string")
    expect = entry.get("expect")
    if kind == "mutant" and (not isinstance(expect, str) or not expect.strip()):
        raise OverlayError(f"{where}: a mutant needs expect = \"...\": the words its check must print")
    if kind == "variant" and expect is not None:
        raise OverlayError(f"{where}: a variant is correct, its check passes: remove 'expect'")
    blocks = entry.get("blocks", {})
    if not isinstance(blocks, dict) or not all(
            isinstance(function, str) and function.isidentifier() and isinstance(code, str)
            for function, code in blocks.items()):
        raise OverlayError(f"{where}: 'blocks' must be a table of function name = '''code'''")
    replace = entry.get("replace", [])
    if not isinstance(replace, list) or not all(
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(text, str) for text in pair)
            for pair in replace):
        raise OverlayError(f"{where}: 'replace' must be a list of [old, new] pairs of strings")
    if not blocks and not replace:
        raise OverlayError(f"{where}: it changes nothing: give it 'blocks', 'replace' or both")
    return Overlay(exercise=exercise_id, kind=kind, name=name, about=about, blocks=dict(blocks),
                   replace=tuple((old, new) for old, new in replace), expect=expect or "")


# ------------------------------------------------------------------------------ materialising


def _indented(code: str, indent: str) -> list[str]:
    """``code`` dedented then indented by ``indent``, as lines with their newline; blank stays blank."""
    return [f"{indent}{line}\n" if line.strip() else "\n" for line in textwrap.dedent(code).splitlines()]


def materialise(overlay: Overlay, solution_text: str) -> str:
    """The text of the solution with the overlay applied: replacements first, then blocks.

    Everything the overlay does not touch is kept byte for byte; the result ends with exactly one
    newline, like the solutions.
    """
    text = solution_text
    for number, (old, new) in enumerate(overlay.replace, start=1):
        # Counted in the text as the earlier pairs left it, the text this pair is applied to.
        count = text.count(old) if old else 0
        if count != 1:
            raise OverlayError(f"{overlay.source}: replace pair {number} (old text {_excerpt(old)}) occurs "
                               f"{count} times in the solution, not once: update the overlay to the "
                               "solution as it is now")
        text = text.replace(old, new)

    lines = text.splitlines(keepends=True)
    try:
        blocks = {block.function: block for block in markers.blocks(text)}
    except markers.MarkerError as error:
        raise OverlayError(f"{overlay.source}: the solution's SOLUTION markers are malformed "
                           f"({error}): fix the solution, or the replace pairs that touch them") from None
    missing = sorted(set(overlay.blocks) - set(blocks))
    if missing:
        raise OverlayError(f"{overlay.source}: no SOLUTION block in {', '.join(f'{f}()' for f in missing)}; "
                           f"the functions that have one: {', '.join(blocks) or 'none'}: update the "
                           "overlay's [blocks]")
    # From the bottom up, so that the line indices of the blocks still to replace stay valid.
    for function in sorted(overlay.blocks, key=lambda function: blocks[function].begin, reverse=True):
        block = blocks[function]
        lines[block.begin:block.end + 1] = _indented(overlay.blocks[function], block.indent)
    return "".join(lines).rstrip("\n") + "\n"


def _excerpt(text: str, length: int = 60) -> str:
    """The start of a text, quoted, for an error message."""
    return repr(text if len(text) <= length else text[:length] + "...")


def write(overlay: Overlay, solution_path: pathlib.Path, folder: pathlib.Path) -> pathlib.Path:
    """Materialise ``overlay`` on the solution at ``solution_path`` into ``folder``; return the file.

    The file is ``folder/NAME_{kind}_{slug}.py``: the exercise's name first, so that a traceback
    or a check's output says which exercise it is.
    """
    solution_text = pathlib.Path(solution_path).read_text(encoding="utf-8")
    exercise_name = overlay.exercise.rpartition("/")[2]
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{exercise_name}_{overlay.kind}_{overlay.slug}.py"
    path.write_text(materialise(overlay, solution_text), encoding="utf-8")
    return path
