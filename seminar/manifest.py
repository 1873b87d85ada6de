"""The exercise manifest: one file, ``exercises.toml``, says what every exercise is.

Tests, the student command line and the skeleton builder all read it through :func:`load`, so an
exercise's files, hints, metrics, thresholds and fast settings are written down exactly once.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def shown_path(path: pathlib.Path) -> str:
    """A path as the student would type it: relative to the repository when inside it."""
    try:
        return str(pathlib.Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


MANIFEST_PATH = REPO_ROOT / "exercises.toml"


class ManifestError(ValueError):
    """The manifest is malformed or names something that does not exist."""


# What an exercise may need prepared before its check (``needs`` in exercises.toml), in the order
# they are prepared (seminar/prepare.py): the data it loads, then the models trained from them.
NEEDS = {
    "mnist": "the MNIST digits (datasets.mnist), downloaded once",
    "fashion_mnist": "the Fashion-MNIST clothes (datasets.fashion_mnist), downloaded once",
    "word_corpus": "the generated word2vec corpus (datasets.word_corpus)",
    "toy": "the SGD chapter's small datasets (datasets.toy)",
    "judge": "the digit judge of the GMMN and the GAN (seminar.judge), trained once from MNIST",
    "pretrained": "the deep-features chapter's pretrained network (seminar.pretrained), trained once "
                  "from Fashion-MNIST",
}


def check_needs(needs, where: str) -> tuple[str, ...]:
    """``needs`` as a tuple of names from :data:`NEEDS`; a clear :class:`ManifestError` for
    anything else (not a list of strings, an unknown name, a name listed twice)."""
    if isinstance(needs, str) or not isinstance(needs, (list, tuple)) \
            or not all(isinstance(name, str) for name in needs):
        raise ManifestError(f"{where}: needs must be a list of names, e.g. needs = [\"mnist\"] "
                            f"(known: {', '.join(NEEDS)})")
    for name in needs:
        if name not in NEEDS:
            raise ManifestError(f"{where}: unknown need {name!r} (known: {', '.join(NEEDS)})")
    if len(set(needs)) != len(needs):
        raise ManifestError(f"{where}: a need is listed twice in {list(needs)}")
    return tuple(needs)


@dataclasses.dataclass(frozen=True)
class Check:
    """One threshold an exercise's metrics must meet.

    ``at_least``/``at_most`` hold in the fast run (tests and ``check``); ``full_at_least``/
    ``full_at_most`` in the full run, defaulting to the fast value.
    """

    metric: str
    reference: str
    # The metric in a few words for the course map ("test accuracy"), Markdown; the map writes the
    # comparison and the fast and full values after it (seminar/tools/docs.py).
    label: str = ""
    at_least: float | None = None
    at_most: float | None = None
    full_at_least: float | None = None
    full_at_most: float | None = None

    def bound(self, full: bool = False) -> tuple[str, float]:
        """Return ``(">=" or "<=", threshold)`` for the fast or the full run."""
        if self.at_least is not None:
            value = self.full_at_least if (full and self.full_at_least is not None) else self.at_least
            return ">=", value
        value = self.full_at_most if (full and self.full_at_most is not None) else self.at_most
        return "<=", value

    def passes(self, value: float, full: bool = False) -> bool:
        op, threshold = self.bound(full)
        return value >= threshold if op == ">=" else value <= threshold


@dataclasses.dataclass(frozen=True)
class Exercise:
    id: str  # "chapter/name", e.g. "sgd/linear_regression"
    title: str
    hints: tuple[str, ...]
    checks: tuple[Check, ...]
    fast_args: tuple[str, ...] = ()
    seeds_tried: tuple[int, ...] = (0,)
    test_seed: int = 0
    # The fast run's slowest measured time (seconds after TensorFlow loads), from `seminar seeds`.
    check_seconds: float | None = None
    # The training loss a working model ends below (a contract: above it the check fails), and
    # the accuracy of guessing, for "the loss falls but the accuracy stays at chance".
    loss_at_most: float | None = None
    loss_reference: str = ""
    loss_cause: str = ""  # the likely cause of a loss above the bound, when not the usual one
    chance: float | None = None
    chance_metric: str | None = None
    # How many hints a first try as a new student needed (skeleton, README and hints only).
    hints_needed: int | None = None
    # What the exercise teaches in one line of Markdown: the course map's column.
    teaches: str = ""
    # The pictures (file names) its fast run draws into the output folder.
    pictures: tuple[str, ...] = ()
    # What must be ready before its check (names from NEEDS): the data it loads, the models it uses.
    needs: tuple[str, ...] = ()

    def time_limit(self, full: bool = False) -> float | None:
        """How long a check may run before it is stopped as hung: a few times the solution's
        measured time, at least a minute. No limit for full runs (they may be asked for more)."""
        if full:
            return None
        return max(60.0, 4.0 * (self.check_seconds or 30.0))

    @property
    def chapter(self) -> str:
        return self.id.split("/")[0]

    @property
    def name(self) -> str:
        return self.id.split("/")[1]

    @property
    def exercise(self) -> str:
        """The student's skeleton, relative to the repository: ``CHAPTER/NAME_exo.py``."""
        return f"{self.chapter}/{self.name}_exo.py"

    @property
    def solution(self) -> str:
        """The solution, relative to the repository: ``solutions/CHAPTER/NAME.py``."""
        return f"solutions/{self.chapter}/{self.name}.py"

    @property
    def exercise_path(self) -> pathlib.Path:
        return REPO_ROOT / self.exercise

    @property
    def solution_path(self) -> pathlib.Path:
        return REPO_ROOT / self.solution


@dataclasses.dataclass(frozen=True)
class Chapter:
    id: str
    title: str
    slides: str


@dataclasses.dataclass(frozen=True)
class Manifest:
    chapters: tuple[Chapter, ...]
    exercises: tuple[Exercise, ...]

    def get(self, exercise_id: str) -> Exercise:
        """Return the exercise ``exercise_id``; a clear error lists the known ids otherwise."""
        cleaned = exercise_id.strip().strip("/").removesuffix(".py").removesuffix("_exo")
        for exercise in self.exercises:
            if exercise.id == cleaned:
                return exercise
        known = ", ".join(e.id for e in self.exercises)
        raise ManifestError(f"unknown exercise {exercise_id!r}; the exercises are: {known}")

    def in_chapter(self, chapter_id: str) -> list[Exercise]:
        return [e for e in self.exercises if e.chapter == chapter_id]


def _require(entry: dict, key: str, where: str):
    if key not in entry:
        raise ManifestError(f"{where}: missing key {key!r}")
    return entry[key]


def _require_line(entry: dict, key: str, where: str) -> str:
    """A required field holding one non-empty line of text (it goes into a Markdown table)."""
    value = _require(entry, key, where)
    if not isinstance(value, str) or not value.strip() or "\n" in value:
        raise ManifestError(f"{where}: {key!r} must be one non-empty line of text")
    return value


def _reject_unknown(entry: dict, known: set[str], where: str) -> None:
    unknown = set(entry) - known
    if unknown:
        raise ManifestError(f"{where}: unknown keys {sorted(unknown)} (known: {', '.join(sorted(known))})")


def _parse_check(entry: dict, where: str) -> Check:
    bounds = [k for k in ("at_least", "at_most") if k in entry]
    if len(bounds) != 1:
        raise ManifestError(f"{where}: a check needs exactly one of at_least / at_most")
    _reject_unknown(entry, {f.name for f in dataclasses.fields(Check)}, where)
    for key in ("metric", "reference"):
        _require(entry, key, where)
    _require_line(entry, "label", where)
    return Check(**{k: (v if k in ("metric", "reference", "label") else float(v))
                    for k, v in entry.items()})


def parse(data: dict) -> Manifest:
    """Build a :class:`Manifest` from the parsed TOML, checking every field it needs."""
    chapters = []
    for entry in data.get("chapters", []):
        where = f"chapter {entry.get('id', '(without an id)')}"
        _reject_unknown(entry, {f.name for f in dataclasses.fields(Chapter)}, where)
        chapters.append(Chapter(id=_require(entry, "id", where), title=_require_line(entry, "title", where),
                                slides=_require_line(entry, "slides", where)))
    chapters = tuple(chapters)
    chapter_ids = [c.id for c in chapters]
    exercises = []
    for entry in data.get("exercises", []):
        exercise_id = _require(entry, "id", "exercise")
        where = f"exercise {exercise_id}"
        if exercise_id.count("/") != 1 or not all(part.isidentifier()
                                                  for part in exercise_id.split("/")):
            raise ManifestError(f"{where}: ids look like 'chapter/name', both parts Python names "
                                f"(letters, digits and underscores)")
        if exercise_id.split("/")[0] not in chapter_ids:
            raise ManifestError(f"{where}: its chapter is not listed under [[chapters]]")
        _reject_unknown(entry, {f.name for f in dataclasses.fields(Exercise)}, where)
        checks = tuple(_parse_check(c, f"{where}, check {i}")
                       for i, c in enumerate(_require(entry, "checks", where)))
        hints = tuple(_require(entry, "hints", where))
        if not checks or not hints:
            raise ManifestError(f"{where}: needs at least one check and one hint")
        exercises.append(Exercise(
            id=exercise_id,
            title=_require(entry, "title", where),
            hints=hints,
            checks=checks,
            fast_args=tuple(entry.get("fast_args", ())),
            seeds_tried=tuple(entry.get("seeds_tried", (0,))),
            test_seed=int(entry.get("test_seed", 0)),
            check_seconds=float(entry["check_seconds"]) if "check_seconds" in entry else None,
            loss_at_most=float(entry["loss_at_most"]) if "loss_at_most" in entry else None,
            loss_reference=entry.get("loss_reference", ""),
            loss_cause=entry.get("loss_cause", ""),
            chance=float(entry["chance"]) if "chance" in entry else None,
            chance_metric=entry.get("chance_metric"),
            hints_needed=int(entry["hints_needed"]) if "hints_needed" in entry else None,
            teaches=_require_line(entry, "teaches", where),
            pictures=tuple(entry.get("pictures", ())),
            needs=check_needs(entry.get("needs", []), where),
        ))
    ids = [e.id for e in exercises]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ManifestError(f"exercise ids listed twice: {sorted(duplicates)}")
    return Manifest(chapters=chapters, exercises=tuple(exercises))


@functools.lru_cache(maxsize=None)
def load(path: pathlib.Path = MANIFEST_PATH) -> Manifest:
    """Read and check the manifest (cached: it does not change while a program runs)."""
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"no manifest at {path}: run from a full clone of the repository") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{path} is not valid TOML: {error}") from None
    return parse(data)
