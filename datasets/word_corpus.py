"""A generated text corpus for word2vec, with planted relations, and the analogy questions that
test them: the offline default of the sequence chapter's word2vec exercise.

    from datasets import word_corpus
    corpus = word_corpus.generate(seed=0)          # deterministic for a seed
    corpus.sentences[0]                            # ['he', 'zorvel', 'throne', 'king', ...]
    corpus.test_questions["family"][0]             # ('king', 'queen', 'prince', 'princess')

The relations are those of the seminar's slide (king - man + woman = queen, Tokyo - Japan + France
= Paris, best - good + strong = strongest): gender (royalty, family, people), countries and their
capitals, and adjectives with their comparatives and superlatives. Nothing states a relation: a
sentence holds one planted word among words drawn from pools that follow its attributes (words of
men or of women; of nations or of cities; of comparison or of superlatives; the topic its pair
shares) and from a Zipf-distributed filler vocabulary, in a random order. A model learns that
"queen" is to "king" what "woman" is to "man" only from which words co-occur.

The analogy questions are split once, with a seed of their own, into ``validation_questions`` (for
choosing a model's settings) and ``test_questions`` (for the check), so the check measures
questions nothing was tuned on. ``write(folder)`` saves the corpus as ``corpus.txt`` (a sentence a
line) and the questions in the ``questions-words.txt`` format (": section" lines, then four words
a line), which ``read_analogies`` reads back, as it reads the standard file.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re

import numpy as np

from datasets._download import read_given_file

# ------------------------------------------------------------------------------ the planted words

GENDER_PAIRS = [  # (male, female, the topic the pair shares, the kind of person)
    ("king", "queen", "throne", "royal"), ("prince", "princess", "heir", "royal"),
    ("emperor", "empress", "empire", "royal"), ("duke", "duchess", "estate", "royal"),
    ("man", "woman", "street", "person"), ("boy", "girl", "school", "person"),
    ("father", "mother", "parent", "family"), ("son", "daughter", "child", "family"),
    ("husband", "wife", "wedding", "family"), ("brother", "sister", "sibling", "family"),
    ("uncle", "aunt", "cousin", "family"), ("nephew", "niece", "visit", "family"),
]
GENDER_WORDS = {"male": ["he", "him", "his", "himself", "mr", "sir"],
                "female": ["she", "her", "hers", "herself", "mrs", "madam"]}
KIND_WORDS = {"royal": ["crown", "palace", "court", "reign"],
              "person": ["people", "crowd", "walked", "met"],
              "family": ["home", "house", "dinner", "relatives"]}

CAPITALS = [  # (country, capital, the nationality word they share)
    ("france", "paris", "french"), ("japan", "tokyo", "japanese"), ("italy", "rome", "italian"),
    ("germany", "berlin", "german"), ("spain", "madrid", "spanish"), ("egypt", "cairo", "egyptian"),
    ("russia", "moscow", "russian"), ("greece", "athens", "greek"), ("china", "beijing", "chinese"),
    ("canada", "ottawa", "canadian"), ("kenya", "nairobi", "kenyan"), ("peru", "lima", "peruvian"),
    ("norway", "oslo", "norwegian"), ("iraq", "baghdad", "iraqi"), ("england", "london", "english"),
    ("portugal", "lisbon", "portuguese"),
]
PLACE_WORDS = {"country": ["nation", "country", "government", "border", "economy", "president"],
               "capital": ["city", "capital", "downtown", "streets", "mayor", "metro"]}

ADJECTIVES = [  # (base, comparative, superlative)
    ("good", "better", "best"), ("strong", "stronger", "strongest"), ("big", "bigger", "biggest"),
    ("small", "smaller", "smallest"), ("fast", "faster", "fastest"), ("tall", "taller", "tallest"),
    ("old", "older", "oldest"), ("cold", "colder", "coldest"), ("hot", "hotter", "hottest"),
    ("long", "longer", "longest"), ("high", "higher", "highest"), ("bad", "worse", "worst"),
]
DEGREE_WORDS = {"base": ["very", "quite", "rather", "really"],
                "comparative": ["than", "more", "even", "much"],
                "superlative": ["most", "ever", "among", "top"]}

SECTIONS = ("family", "capital-world", "gram3-comparative", "gram4-superlative")
QUESTION_SPLIT_SEED = 20261127  # the validation / test split of the questions: never the run's seed
FILLER_WORDS = 400
SENTENCES = 60_000


@dataclasses.dataclass
class Corpus:
    sentences: list[list[str]]
    validation_questions: dict[str, list[tuple[str, str, str, str]]]
    test_questions: dict[str, list[tuple[str, str, str, str]]]
    seed: int

    @property
    def tokens(self) -> int:
        return sum(len(s) for s in self.sentences)


# ------------------------------------------------------------------------------ generation


def _filler_vocabulary(count: int) -> list[str]:
    """``count`` made-up words (consonant-vowel syllables), the same for every seed, none equal to
    a planted or attribute word."""
    rng = np.random.default_rng(7)
    consonants, vowels = list("bdfgklmnprstvz"), list("aeiou")
    taken = {w for pair in GENDER_PAIRS for w in pair} | {w for c in CAPITALS for w in c}
    taken |= {w for a in ADJECTIVES for w in a}
    taken |= {w for pool in (*GENDER_WORDS.values(), *KIND_WORDS.values(), *PLACE_WORDS.values(),
                             *DEGREE_WORDS.values()) for w in pool}
    words: list[str] = []
    while len(words) < count:
        syllables = rng.integers(2, 4)
        word = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables))
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


def _topics() -> dict[str, str]:
    """A topic word of its own for each adjective triple (made up, shared by its three forms)."""
    words = _filler_vocabulary(FILLER_WORDS + len(ADJECTIVES))[FILLER_WORDS:]
    return {triple[0]: word for triple, word in zip(ADJECTIVES, words)}


def _entities() -> list[tuple[str, list[list[str]]]]:
    """Every planted word with the pools its context words are drawn from."""
    entities = []
    for male, female, topic, kind in GENDER_PAIRS:
        for word, gender in ((male, "male"), (female, "female")):
            entities.append((word, [GENDER_WORDS[gender], KIND_WORDS[kind], [topic]]))
    for country, capital, nationality in CAPITALS:
        entities.append((country, [PLACE_WORDS["country"], [nationality]]))
        entities.append((capital, [PLACE_WORDS["capital"], [nationality]]))
    topics = _topics()
    for triple in ADJECTIVES:
        for word, degree in zip(triple, ("base", "comparative", "superlative")):
            entities.append((word, [DEGREE_WORDS[degree], [topics[triple[0]]]]))
    return entities


def generate(seed: int = 0, sentences: int = SENTENCES) -> Corpus:
    """The corpus for ``seed``: ``sentences`` sentences of 8 to 14 words, each around one planted
    word, and the analogy questions (the same questions for every seed)."""
    if sentences < 1:
        raise ValueError(f"sentences must be at least 1, got {sentences}")
    rng = np.random.default_rng(seed)
    filler = np.array(_filler_vocabulary(FILLER_WORDS))
    zipf = 1.0 / np.arange(1, FILLER_WORDS + 1)
    zipf /= zipf.sum()
    entities = _entities()
    out = []
    for index in rng.integers(0, len(entities), size=sentences):
        word, pools = entities[index]
        length = int(rng.integers(8, 15))
        context = [pool[int(rng.integers(len(pool)))] for pool in pools
                   for _ in range(int(rng.integers(1, 3)))]
        noise = list(filler[rng.choice(FILLER_WORDS, size=max(length - 1 - len(context), 1), p=zipf)])
        words = [word, *context, *noise]
        out.append([words[i] for i in rng.permutation(len(words))])
    validation, test = _questions()
    return Corpus(out, validation, test, seed)


def _questions():
    """All analogy questions a : b :: c : d of each section, split once into validation and test."""
    sections = {
        "family": [(m1, f1, m2, f2) for m1, f1, *_ in GENDER_PAIRS for m2, f2, *_ in GENDER_PAIRS if m1 != m2],
        "capital-world": [(c1, k1, c2, k2) for c1, k1, _ in CAPITALS for c2, k2, _ in CAPITALS if c1 != c2],
        "gram3-comparative": [(a[0], a[1], b[0], b[1]) for a in ADJECTIVES for b in ADJECTIVES if a != b],
        "gram4-superlative": [(a[0], a[2], b[0], b[2]) for a in ADJECTIVES for b in ADJECTIVES if a != b],
    }
    rng = np.random.default_rng(QUESTION_SPLIT_SEED)
    validation, test = {}, {}
    for name, questions in sections.items():
        order = rng.permutation(len(questions))
        half = len(questions) // 2
        validation[name] = [questions[i] for i in sorted(order[:half])]
        test[name] = [questions[i] for i in sorted(order[half:])]
    return validation, test


# ------------------------------------------------------------------------------ files


def write(corpus: Corpus, folder: pathlib.Path) -> list[pathlib.Path]:
    """Write ``corpus.txt``, ``questions-validation.txt`` and ``questions-test.txt`` into
    ``folder`` (created if needed); return their paths."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "corpus.txt", folder / "questions-validation.txt", folder / "questions-test.txt"]
    paths[0].write_text("\n".join(" ".join(s) for s in corpus.sentences) + "\n")
    for path, questions in zip(paths[1:], (corpus.validation_questions, corpus.test_questions)):
        lines = []
        for section, items in questions.items():
            lines.append(f": {section}")
            lines += [" ".join(q) for q in items]
        path.write_text("\n".join(lines) + "\n")
    return paths


class TextFileError(ValueError):
    """A text or questions file that cannot be read: missing, not a regular file, unreadable, or
    not text at all. The message names the file and says what to give instead."""


def _read(path: pathlib.Path, give: str) -> str:
    """The text of the file ``path``, read as UTF-8 (a byte that is not becomes U+FFFD); TextFileError
    saying to ``give`` the right file when there is no such file, when it is not a regular file (a
    named pipe would block the reader for ever: it is refused before it is opened), when it cannot
    be read, or when it holds NUL bytes (a binary file, or UTF-16 text)."""
    path = pathlib.Path(path)
    data = read_given_file(path, give, TextFileError)
    if b"\0" in data:
        raise TextFileError(f"{path} is not a text file (it holds NUL bytes); give {give}")
    return data.decode("utf-8-sig", errors="replace")


def read_analogies(path: pathlib.Path) -> dict[str, list[tuple[str, str, str, str]]]:
    """Read a file in the ``questions-words.txt`` format: ``: section`` lines, then four words a
    line (lower-cased). A malformed line raises a ValueError naming the file and the line; a file
    that cannot be read, a TextFileError (see :func:`read_text`)."""
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    current = None
    text = _read(path, "a file in the questions-words.txt format")
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(":"):
            current = line[1:].strip() or f"section {len(sections) + 1}"
            sections.setdefault(current, [])
            continue
        words = line.lower().split()
        if len(words) != 4:
            shown = line if len(line) <= 80 else line[:77] + "..."
            raise ValueError(f"{path}, line {number}: an analogy line holds four words "
                             f"(a b c d: a is to b as c is to d), got {shown!r}")
        if current is None:
            current = "questions"
            sections.setdefault(current, [])
        sections[current].append(tuple(words))
    if not any(sections.values()):
        raise ValueError(f"{path}: no analogy questions found (expected ': section' lines, then "
                         f"four words a line)")
    return sections


def read_text(path: pathlib.Path) -> list[list[str]]:
    """A plain-text file as sentences of lower-cased words: a sentence per line, or per ``.``,
    ``!`` or ``?``; anything but letters, digits and apostrophes separates words. Bytes that are
    not UTF-8 are replaced. A ValueError names the file and says what to give instead when it
    holds no words; a TextFileError (a ValueError too) when it is missing, not a regular file,
    unreadable, or holds NUL bytes."""
    text = _read(path, "a plain-text file").lower()
    sentences = []
    for chunk in re.split(r"[.!?\n]+", text):
        words = re.findall(r"[a-z0-9']+", chunk)
        if words:
            sentences.append(words)
    if not sentences:
        raise ValueError(f"{path}: no words found; give a plain-text file")
    return sentences
