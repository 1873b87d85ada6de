"""Find a solution's code in the text a student sees: the TODO comments, the ``raise`` messages,
the hints. An exercise that prints its answer teaches transcription; the tests hold every exercise
to "no line of a solution block in its TODOs, at most one in all its hints together".

Lines are compared as token sequences "up to names and spacing": a name that is not an attribute
(``images``, ``tf``) becomes ``N``, attributes (``.matmul``), keywords, numbers, strings and
operators stay. So ``tf.matmul(x, w) + b`` in a hint matches the solution's
``tf.matmul(images, weights) + bias``. Lines of fewer than :data:`MIN_TOKENS` tokens
(``return loss``) say nothing and are not compared.
"""

from __future__ import annotations

import keyword
import re

from seminar.grader import markers

MIN_TOKENS = 6
_TOKEN = re.compile(r"""[A-Za-z_]\w*|\d+(?:\.\d*)?(?:e-?\d+)?|"[^"]*"|'[^']*'|\*\*|//|==|!=|<=|>=|->|\S""")


def tokens(text: str) -> list[str]:
    """``text`` as normalised tokens: names that are not attributes become ``N``."""
    out: list[str] = []
    for token in _TOKEN.findall(text):
        is_name = token[0].isalpha() or token[0] == "_"
        if is_name and not keyword.iskeyword(token) and (not out or out[-1] != "."):
            out.append("N")
        else:
            out.append(token)
    return out


def solution_lines(solution_text: str) -> list[str]:
    """The code lines inside the ``# SOLUTION:`` blocks (not their task comments, not comments)."""
    lines, inside = [], False
    for line in solution_text.splitlines():
        if markers.BEGIN.match(line):
            inside = True
            continue
        if markers.END.match(line):
            inside = False
            continue
        stripped = line.strip()
        if inside and stripped and not stripped.startswith("#"):
            code = stripped.split("  #")[0].strip()
            if len(tokens(code)) >= MIN_TOKENS:
                lines.append(code)
    return lines


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def _forms(line: str) -> list[list[str]]:
    """The token sequences that count as showing ``line``: the line itself, and the expression it
    computes (after ``return``, or right of an assignment), which is the answer without its name."""
    forms = [tokens(line)]
    expression = re.sub(r"^return\s+", "", line)
    assignment = re.match(r"^[\w\[\], .]+?\s*(?:[-+*/]?=)\s*(?!=)(.+)$", expression)
    if assignment:
        expression = assignment.group(1)
    if expression != line:
        forms.append(tokens(expression))
    return [form for form in forms if len(form) >= MIN_TOKENS]


def lines_shown(solution_text: str, text: str) -> list[str]:
    """The solution's code lines that ``text`` shows (up to names and spacing)."""
    shown = tokens(text)
    return [line for line in solution_lines(solution_text)
            if any(_contains(shown, form) for form in _forms(line))]


def todo_texts(skeleton_text: str) -> str:
    """Everything a skeleton says in its TODOs: the task comments and the ``raise`` messages."""
    parts = []
    for todo in markers.todos(skeleton_text):
        parts.extend(line.lstrip("#").strip() for line in todo.comment)
    parts.extend(re.findall(r'NotImplementedError\((.*)\)', skeleton_text))
    return "\n".join(parts)
