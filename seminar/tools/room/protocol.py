"""What a room accepts: the fields of a join and of a record, with their limits. The server refuses
anything else (:func:`record` and :func:`join` raise :class:`Invalid` with a sentence saying
what is wrong); the client builds what passes. Standard library only: the student's side imports
it too.
"""

from __future__ import annotations

import math
import re
import unicodedata

MAX_BODY = 16 * 1024  # bytes of a request's body; a record is a few hundred
MAX_NAME = 40  # characters of a student's name
MAX_CAUSE = 200  # characters of a failing check's cause
MAX_METRICS = 16  # metrics in one record
MAX_HINTS = 1000
MAX_AGE = 7 * 24 * 3600.0  # a record kept on a laptop for a week is still sent
MAX_SEQ = 2 ** 53
METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,39}")
# What a check's outcome can be (seminar.grader.checker.Outcome.kind).
KINDS = ("ran", "todo", "error", "dataset", "evidence", "exit", "usage", "crash", "timeout",
         "tensorflow")
RECORD_FIELDS = {"seq", "exercise", "passed", "kind", "cause", "metrics", "hints", "age"}


class Invalid(ValueError):
    """A request the room refuses; the message says what is wrong with it."""


def clean_text(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, without control or formatting characters (a
    right-to-left override would turn what is shown around): what the client sends as a cause."""
    text = unicodedata.normalize("NFC", str(text))
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _bad_character(text: str) -> str | None:
    for character in text:
        category = unicodedata.category(character)
        if category[0] == "C" or category in ("Zl", "Zp") or (category == "Zs" and character != " "):
            return f"U+{ord(character):04X}"
    return None


def name(value) -> str:
    """A student's name as shown: 1 to 40 characters, letters, digits, punctuation and single
    spaces (any script), no control or invisible formatting characters."""
    if not isinstance(value, str):
        raise Invalid("name must be a string")
    value = unicodedata.normalize("NFC", value).strip()
    if not value:
        raise Invalid("the name is empty: give one, e.g. --name 'Ada L.'")
    if len(value) > MAX_NAME:
        raise Invalid(f"the name is {len(value)} characters long: give at most {MAX_NAME}")
    bad = _bad_character(value)
    if bad is not None:
        raise Invalid(f"the name holds a control or invisible character ({bad}): use letters, "
                      f"digits, spaces and punctuation")
    if "  " in value:
        raise Invalid("the name has two spaces in a row: use single spaces")
    return value


def normal_code(value: str) -> str:
    """A room code as typed (any case, with spaces or dashes) in the form it is compared in."""
    return re.sub(r"[\s-]", "", str(value)).upper()


def join(data) -> tuple[str, str]:
    """``(code, name)`` from a join request's JSON."""
    if not isinstance(data, dict):
        raise Invalid("the body must be a JSON object: {\"code\": ..., \"name\": ...}")
    unknown = set(data) - {"code", "name"}
    if unknown:
        raise Invalid(f"unknown field(s): {', '.join(sorted(unknown))}")
    code = data.get("code")
    if not isinstance(code, str) or not 1 <= len(code) <= 32:
        raise Invalid("code must be a string, the room's code")
    return normal_code(code), name(data.get("name"))


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def record(data, exercises) -> dict:
    """A record's fields, checked: ``exercises`` is the set of known exercise ids."""
    if not isinstance(data, dict):
        raise Invalid("the body must be a JSON object: one record")
    missing = RECORD_FIELDS - set(data)
    unknown = set(data) - RECORD_FIELDS
    if missing:
        raise Invalid(f"missing field(s): {', '.join(sorted(missing))}")
    if unknown:
        raise Invalid(f"unknown field(s): {', '.join(sorted(unknown))}")
    seq, exercise, passed = data["seq"], data["exercise"], data["passed"]
    if type(seq) is not int or not 1 <= seq <= MAX_SEQ:
        raise Invalid("seq must be a whole number from 1")
    if not isinstance(exercise, str) or exercise not in exercises:
        shown = exercise[:60] if isinstance(exercise, str) else type(exercise).__name__
        raise Invalid(f"unknown exercise {shown!r}: the room knows the exercises of its "
                      f"exercises.toml")
    if type(passed) is not bool:
        raise Invalid("passed must be true or false")
    if data["kind"] not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}")
    if passed and data["kind"] != "ran":
        raise Invalid("a passing record is of kind ran")
    cause = data["cause"]
    if cause is not None:
        if not isinstance(cause, str) or len(cause) > MAX_CAUSE:
            raise Invalid(f"cause must be null or a string of at most {MAX_CAUSE} characters")
        bad = _bad_character(cause)
        if bad is not None:
            raise Invalid(f"cause holds a control or invisible character ({bad})")
        cause = cause.strip() or None
    metrics = data["metrics"]
    if not isinstance(metrics, dict) or len(metrics) > MAX_METRICS:
        raise Invalid(f"metrics must be an object of at most {MAX_METRICS} metrics")
    for key, value in metrics.items():
        if not METRIC_NAME.fullmatch(key):
            raise Invalid(f"metric name {key[:40]!r}: letters, digits, _ . - (at most 40)")
        if not _number(value):
            raise Invalid(f"metric {key}: its value must be a finite number")
    hints = data["hints"]
    if type(hints) is not int or not 0 <= hints <= MAX_HINTS:
        raise Invalid(f"hints must be a whole number from 0 to {MAX_HINTS}")
    age = data["age"]
    if not _number(age) or not 0 <= age <= MAX_AGE:
        raise Invalid(f"age must be a number of seconds from 0 to {MAX_AGE:.0f}")
    return {"seq": seq, "exercise": exercise, "passed": passed, "kind": data["kind"],
            "cause": cause, "metrics": {k: float(v) for k, v in metrics.items()}, "hints": hints,
            "age": float(age)}
