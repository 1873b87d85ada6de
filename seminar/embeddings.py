"""The word2vec exercise's plumbing, so that the exercise file shows only the lesson (the skip-gram
pairs, the noise distribution, the negative-sampling loss and step, the analogy answer):

    text = embeddings.load_text(run, corpus=args.corpus)  # the generated corpus, or --corpus FILE
    vocabulary = embeddings.build_vocabulary(text.sentences, args.min_count)
    pairs = embeddings.all_pairs(vocabulary.encode(text.sentences), args.window, skipgram_pairs)
    batches = embeddings.Batches(pairs, noise, args.batch_size, NEGATIVES, args.seed)
    metrics = embeddings.report(run, text, vocabulary, vectors, answer_analogies, log)

Here too: the analogy evaluation (questions whose words are not in the vocabulary are skipped and
counted), nearest neighbours, the pictures (the loss curve; the planted words projected on their
two principal directions, with arrows from each word to its partner).

An analogy question ``a b c d`` reads "a is to b as c is to d": the answer is the word whose vector
is nearest, by cosine, to ``b - a + c`` (the three vectors normalised first), the three query
words excluded ("3CosAdd", Mikolov et al. 2013).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import pathlib
import re

import numpy as np

from seminar import plots, runtime
from seminar.training_log import TrainingLog

DEFAULT_MIN_COUNT = 5  # real text: words seen fewer times get too few updates to mean anything
QUESTION_BATCH = 256  # analogy questions answered per call (a (batch, vocabulary) score matrix)
SHOWN_WORDS = ("king", "woman", "paris", "japan", "good", "strongest")
SHOWN_ANALOGIES = (("man", "king", "woman"), ("japan", "tokyo", "france"), ("good", "best", "strong"),
                   ("london", "england", "baghdad"))


def add_flags(parser: argparse.ArgumentParser, *, window: int, dimension: int) -> None:
    """The exercise's own flags: the text, the analogy questions, rare words, the model's size.

    The files of ``--corpus`` and ``--analogies`` are read and checked while the flags are parsed,
    so that a file that cannot serve (missing, a folder or a named pipe, no words, a malformed
    question) is a usage error naming the flag, before anything else runs; so is a text that
    ``--min-count`` would leave without two words to pair (checked once both flags are known:
    either may come first on the command line)."""
    parser.add_argument("--corpus", type=_corpus_flag, default=None, metavar="FILE",
                        help="train on this plain-text file instead of the generated corpus "
                             "(a sentence a line, or per . ! ?)")
    parser.add_argument("--analogies", type=_analogies_flag, default=None, metavar="FILE",
                        help="evaluate on this file in the questions-words.txt format (': section' "
                             "lines, then 'a b c d' lines) instead of the generated test questions")
    parser.add_argument("--corpus-seed", type=runtime.non_negative_int, default=0,
                        help="the generated corpus's seed (the check uses 0; --seed sets the "
                             "initialisation and the sampling)")
    parser.add_argument("--min-count", type=runtime.positive_int, default=DEFAULT_MIN_COUNT,
                        help="drop words seen fewer times than this from the vocabulary")
    parser.add_argument("--window", type=runtime.positive_int, default=window,
                        help="context words taken on each side of a centre word")
    parser.add_argument("--dimension", type=runtime.positive_int, default=dimension,
                        help="numbers per word vector")
    # parse_args calls parse_known_args: the parser's own, then --corpus and --min-count together.
    parse_flags = parser.parse_known_args

    def parse_known_args(args=None, namespace=None):
        known, rest = parse_flags(args, namespace)
        corpus = getattr(known, "corpus", None)
        if isinstance(corpus, TextFile):
            problem = vocabulary_problem(corpus.content, known.min_count)
            if problem is not None:
                parser.error(f"--corpus {corpus} with --min-count {known.min_count}: {problem}")
        return known, rest

    parser.parse_known_args = parse_known_args


@dataclasses.dataclass(frozen=True)
class TextFile:
    """A file named by ``--corpus`` or ``--analogies``, read once, while the flags are parsed: its
    path and what it holds (the sentences, or the questions by section). It stands for its path
    where one is expected (``str()``, ``open()``, ``pathlib.Path()``)."""

    path: pathlib.Path
    content: object = dataclasses.field(repr=False)  # a whole book, perhaps

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)


def _corpus_flag(value: str) -> TextFile:
    from datasets import word_corpus

    try:
        return TextFile(pathlib.Path(value), word_corpus.read_text(value))
    except ValueError as error:  # the reader's own sentence: what is wrong and what to give
        raise argparse.ArgumentTypeError(str(error)) from None


def _analogies_flag(value: str) -> TextFile:
    from datasets import word_corpus

    try:
        return TextFile(pathlib.Path(value), word_corpus.read_analogies(value))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def vocabulary_problem(sentences: list[list[str]], min_count: int) -> str | None:
    """Why word vectors cannot be trained on ``sentences`` keeping the words seen ``min_count``
    times or more, in one sentence, or None: fewer than two such words, or no sentence holding two
    of them (then there is no (centre, context) pair)."""
    counts = collections.Counter(word for sentence in sentences for word in sentence)
    kept = {word for word, count in counts.items() if count >= min_count}
    advice = "give a smaller --min-count or a longer text" if min_count > 1 else "give a longer text"
    if not kept:
        word, count = counts.most_common(1)[0] if counts else ("", 0)
        return (f"no word occurs {_times(min_count)} or more (the most frequent, {word!r}, "
                f"{_times(count)}); {advice}")
    if len(kept) == 1:
        return (f"only one word, {next(iter(kept))!r}, occurs {_times(min_count)} or more, and "
                f"word2vec needs two; {advice}")
    if not any(sum(word in kept for word in sentence) >= 2 for sentence in sentences):
        return (f"no sentence holds two words seen {_times(min_count)} or more, so there is no "
                f"(centre, context) pair to train on; give longer sentences"
                + (" or a smaller --min-count" if min_count > 1 else ""))
    return None


# ----------------------------------------------------------------------------------- text


@dataclasses.dataclass
class Text:
    sentences: list[list[str]]
    test_questions: dict[str, list[tuple[str, str, str, str]]]  # what the metrics are measured on
    validation_questions: dict | None  # the generated corpus's held-out tuning questions, else None
    name: str  # "the generated corpus (seed 0)" or the file's path
    generated: bool


def load_text(run, *, corpus: pathlib.Path | TextFile | None = None,
              analogies: pathlib.Path | TextFile | None = None, corpus_seed: int = 0) -> Text:
    """The generated corpus of ``datasets.word_corpus`` (seed ``corpus_seed``) with its test and
    validation questions, or the text file ``corpus``; the file ``analogies`` (the
    questions-words.txt format) replaces the questions. A file already read by the flags
    (:class:`TextFile`) is not read again."""
    from datasets import word_corpus

    if corpus is None:
        generated = word_corpus.generate(seed=corpus_seed)
        text = Text(generated.sentences, generated.test_questions, generated.validation_questions,
                    f"the generated corpus (seed {corpus_seed})", True)
    else:
        sentences = corpus.content if isinstance(corpus, TextFile) else word_corpus.read_text(corpus)
        text = Text(sentences, {}, None, str(corpus), False)
    if analogies is not None:
        text.test_questions = (analogies.content if isinstance(analogies, TextFile)
                               else word_corpus.read_analogies(analogies))
        text.validation_questions = None
    tokens = sum(len(s) for s in text.sentences)
    runtime.say(run, f"Text: {text.name}, {len(text.sentences)} sentences, {tokens} words")
    return text


@dataclasses.dataclass
class Vocabulary:
    words: list[str]  # row order of the embedding tables: most frequent first
    counts: np.ndarray  # (size,) int64: how often each word occurs
    index: dict[str, int]

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, sentences: list[list[str]]) -> list[np.ndarray]:
        """Each sentence as an int32 array of word ids, words not in the vocabulary dropped."""
        index = self.index
        return [np.array([index[w] for w in s if w in index], dtype=np.int32) for s in sentences]


def build_vocabulary(sentences: list[list[str]], min_count: int) -> Vocabulary:
    """The words seen at least ``min_count`` times, most frequent first (ties in alphabetical
    order, so the row order never depends on anything but the text)."""
    counts = collections.Counter(word for sentence in sentences for word in sentence)
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    if len(kept) < 2:
        raise ValueError(f"only {len(kept)} word(s) occur at least {min_count} times; give a longer "
                         f"text or a smaller --min-count")
    return Vocabulary(kept, np.array([counts[w] for w in kept], dtype=np.int64),
                      {w: i for i, w in enumerate(kept)})


def all_pairs(encoded: list[np.ndarray], window: int, pairs_of_sentence) -> np.ndarray:
    """The (centre, context) pairs of every sentence, from ``pairs_of_sentence(ids, window)``,
    checked and stacked into one int32 array (n, 2)."""
    chunks = []
    for ids in encoded:
        if len(ids) < 2:
            continue
        pairs = np.asarray(pairs_of_sentence(ids, window))
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise ValueError(f"skipgram_pairs must return an array of shape (number of pairs, 2) of "
                             f"(centre, context) word ids; for a sentence of {len(ids)} words and "
                             f"window {window} it returned shape {pairs.shape}")
        chunks.append(pairs)
    if not chunks:
        raise ValueError("no sentence has two words in the vocabulary: nothing to train on")
    pairs = np.concatenate(chunks).astype(np.int32)
    if pairs.min() < 0 or pairs.max() >= max(int(ids.max()) for ids in encoded if len(ids)) + 1:
        raise ValueError("skipgram_pairs returned ids that are not in the sentence it was given")
    return pairs


def noise_probabilities(probabilities, size: int) -> np.ndarray:
    """The noise distribution as the sampler needs it: float64 (size,), summing to 1 exactly. A
    ValueError says what was expected when it is not a probability distribution."""
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if p.shape != (size,):
        raise ValueError(f"noise_distribution must return one probability per vocabulary word, "
                         f"shape ({size},), got shape {np.shape(probabilities)}")
    if not np.all(np.isfinite(p)) or p.min() < 0 or abs(p.sum() - 1.0) > 1e-4:
        raise ValueError(f"noise_distribution must return non-negative probabilities summing to 1, "
                         f"got sum {p.sum():.6g}, minimum {p.min():.6g}")
    return p / p.sum()


class Batches:
    """The training batches of one pass: the pairs shuffled anew at each pass, cut into batches of
    ``batch_size`` (centre ids (b,), context ids (b,)), each with ``negatives`` noise words per pair
    (b, negatives) drawn from ``noise`` (vocabulary,) by a NumPy generator seeded from ``seed``.
    Every batch has the full size (the last, incomplete one of a pass is dropped), so the
    tf.function step is traced once."""

    def __init__(self, pairs: np.ndarray, noise: np.ndarray, batch_size: int, negatives: int, seed: int):
        self.pairs, self.batch_size, self.negatives = pairs, min(batch_size, len(pairs)), negatives
        self.cumulative = np.cumsum(noise)
        self.cumulative[-1] = 1.0
        self.rng = np.random.default_rng([seed, 2013])

    def __len__(self) -> int:
        return len(self.pairs) // self.batch_size

    def __iter__(self):
        import tensorflow as tf

        order = self.rng.permutation(len(self.pairs))
        size = self.batch_size
        for step in range(len(self)):
            pairs = self.pairs[order[step * size:(step + 1) * size]]
            uniform = self.rng.random((size, self.negatives))
            negatives = np.searchsorted(self.cumulative, uniform, side="right").astype(np.int32)
            yield tf.constant(pairs[:, 0]), tf.constant(pairs[:, 1]), tf.constant(negatives)


# ----------------------------------------------------------------------------------- evaluation


def _section_key(name: str) -> str:
    return "accuracy_" + (re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "questions")


def question_ids(questions, vocabulary_index: dict[str, int]) -> tuple[np.ndarray, int]:
    """The questions whose four words are all in the vocabulary, as ids (n, 4), and how many were
    skipped."""
    kept = [[vocabulary_index[w] for w in q] for q in questions if all(w in vocabulary_index for w in q)]
    return np.array(kept, dtype=np.int64).reshape(-1, 4), len(questions) - len(kept)


def answers(answer_analogies, vectors: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``answer_analogies(vectors, (n, 3) ids)`` in batches, checked: one word id per question."""
    out = []
    for start in range(0, len(ids), QUESTION_BATCH):
        batch = ids[start:start + QUESTION_BATCH, :3]
        predicted = np.asarray(answer_analogies(vectors, batch)).reshape(-1)
        if predicted.shape != (len(batch),) or not np.issubdtype(predicted.dtype, np.integer):
            raise ValueError(f"answer_analogies must return one word id (an integer) per question, "
                             f"shape ({len(batch)},) for {len(batch)} questions, got "
                             f"{np.asarray(predicted).dtype} of shape {predicted.shape}")
        out.append(predicted.astype(np.int64))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def evaluate(answer_analogies, vectors: np.ndarray, vocabulary: Vocabulary, questions: dict) -> dict:
    """Per section and overall: the questions answered (all four words known), skipped, and the
    accuracy on the answered ones (the usual convention of word2vec's compute-accuracy)."""
    result = {"sections": {}, "answered": 0, "total": 0, "correct": 0}
    for section, items in questions.items():
        ids, skipped = question_ids(items, vocabulary.index)
        correct = int(np.sum(answers(answer_analogies, vectors, ids) == ids[:, 3])) if len(ids) else 0
        result["sections"][section] = {"answered": len(ids), "total": len(items), "correct": correct}
        result["answered"] += len(ids)
        result["total"] += len(items)
        result["correct"] += correct
    return result


def _accuracy(part: dict) -> float:
    return part["correct"] / part["answered"] if part["answered"] else 0.0


def normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def nearest(vectors: np.ndarray, vocabulary: Vocabulary, query: np.ndarray, exclude=(), k: int = 5):
    """The ``k`` words whose vectors are nearest by cosine to ``query``, with their cosines."""
    unit = normalised(vectors)
    scores = unit @ (query / (np.linalg.norm(query) or 1.0))
    scores[list(exclude)] = -np.inf
    best = np.argsort(-scores)[:k]
    return [(vocabulary.words[i], float(scores[i])) for i in best]


def show_examples(run, vectors: np.ndarray, vocabulary: Vocabulary,
                  answer_analogies) -> None:
    """Print the nearest neighbours of a few words and a few analogies with their answers (the
    slide's, or, on another text, of its most frequent words)."""
    index = vocabulary.index
    words = [w for w in SHOWN_WORDS if w in index] or vocabulary.words[:4]
    unit = normalised(vectors)
    runtime.say(run, "Nearest neighbours (cosine):")
    for word in words:
        near = nearest(vectors, vocabulary, unit[index[word]], exclude=[index[word]])
        runtime.say(run, f"  {word:>10}: " + ", ".join(f"{w} {s:.2f}" for w, s in near))
    shown = [q for q in SHOWN_ANALOGIES if all(w in index for w in q)]
    if shown:
        ids = np.array([[index[w] for w in q] for q in shown])
        predicted = answers(answer_analogies, vectors, ids)
        runtime.say(run, "Analogies (b - a + c, the three query words excluded):")
        for (a, b, c), answer in zip(shown, predicted):
            runtime.say(run, f"  {b} - {a} + {c} = {vocabulary.words[int(answer)]}")


def report(run, text: Text, vocabulary: Vocabulary, vectors: np.ndarray, answer_analogies,
           log: TrainingLog) -> dict:
    """Print examples and accuracies, draw the pictures, and return the metrics with the evidence:
    the word vectors ``embeddings`` (vocabulary, dimension), ``vocabulary`` (its words in row
    order) and the training's loss curve (``log.evidence()``)."""
    vectors = np.asarray(vectors, np.float32)
    if vectors.shape[0] != len(vocabulary) or vectors.ndim != 2:
        raise ValueError(f"the word vectors must have shape ({len(vocabulary)}, dimension), one row per "
                         f"vocabulary word, got {vectors.shape}")
    show_examples(run, vectors, vocabulary, answer_analogies)
    metrics: dict = {}
    if text.validation_questions:
        validation = evaluate(answer_analogies, vectors, vocabulary, text.validation_questions)
        metrics["validation_accuracy"] = _accuracy(validation)
    if text.test_questions:
        test = evaluate(answer_analogies, vectors, vocabulary, text.test_questions)
        runtime.say(run, f"Analogy accuracy ({'held-out test questions' if text.generated else 'questions'},"
                          f" answered / total):")
        for section, part in test["sections"].items():
            runtime.say(run, f"  {section:>20}: {_accuracy(part):6.1%}  ({part['correct']} right of "
                              f"{part['answered']} answered; {part['total']} asked)")
            metrics[_section_key(section)] = _accuracy(part)
        runtime.say(run, f"  {'overall':>20}: {_accuracy(test):6.1%}  ({test['answered']} of "
                          f"{test['total']} questions answered, {test['total'] - test['answered']} "
                          f"skipped: a word not in the vocabulary)")
        metrics = {"analogy_accuracy": _accuracy(test), **metrics,
                   "questions_answered": test["answered"], "questions_total": test["total"]}
    metrics["vocabulary_size"] = len(vocabulary)
    metrics["train_seconds"] = log.train_seconds  # the training loop only (a timing, not reproducible)
    plot_loss(run, log)
    plot_offsets(run, vectors, vocabulary)
    return {**metrics, **log.evidence(), "embeddings": vectors, "vocabulary": list(vocabulary.words)}


# ----------------------------------------------------------------------------------- pictures


def plot_loss(run, log: TrainingLog, filename: str = "loss_curve.png", every: int = 20) -> pathlib.Path:
    """The training loss against epochs, each point the mean of ``every`` consecutive batches."""
    plt = plots.pyplot(run)
    fig, ax = plt.subplots(figsize=(7, 4))
    losses = np.asarray(log.loss_curve, np.float64)
    if losses.size:
        ends = list(range(every, losses.size, every)) + [losses.size]  # the last chunk may be short
        means = [losses[start:end].mean() for start, end in zip([0] + ends[:-1], ends)]
        ax.plot(np.array(ends) * len(log.rows) / losses.size, means, lw=1.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel("negative-sampling loss (mean per pair)")
    ax.set_title("Skip-gram with negative sampling: training loss")
    ax.grid(alpha=0.3)
    return plots.save(fig, run, filename)


def _planted_groups():
    """(title, arrows, the pairs whose mean offset is the x axis) per planted relation."""
    from datasets import word_corpus

    adjectives = word_corpus.ADJECTIVES
    gender = [(m, f) for m, f, *_ in word_corpus.GENDER_PAIRS]
    capitals = [(c, k) for c, k, _ in word_corpus.CAPITALS]
    return [
        ("gender: male -> female", gender, gender),
        ("country -> capital", capitals, capitals),
        ("base -> comparative -> superlative",
         [(b, c) for b, c, _ in adjectives] + [(c, s) for _, c, s in adjectives],
         [(b, s) for b, _, s in adjectives]),
    ]


def plot_offsets(run, vectors: np.ndarray, vocabulary: Vocabulary,
                 filename: str = "embedding_pca.png") -> pathlib.Path | None:
    """One panel per planted relation, its words' unit vectors projected on two directions: x, the
    relation's mean offset (e.g. the mean of queen - king, woman - man, ...), and y, the principal
    direction (PCA with NumPy) of the words once x is removed, the largest variation left. An
    arrow goes from each word to its partner: arrows parallel and of equal length are what makes
    ``b - a + c`` land on ``d``. Nothing is drawn for a text without the planted words."""
    index = vocabulary.index
    groups = []
    for title, arrows, axis_pairs in _planted_groups():
        arrows = [(a, b) for a, b in arrows if a in index and b in index]
        axis_pairs = [(a, b) for a, b in axis_pairs if a in index and b in index]
        if len(arrows) >= 2 and axis_pairs:
            groups.append((title, arrows, axis_pairs))
    if not groups:
        return None
    plt = plots.pyplot(run)
    unit = normalised(vectors)
    fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 5.5), squeeze=False)
    for ax, (title, arrows, axis_pairs) in zip(axes[0], groups):
        words = list(dict.fromkeys(w for pair in arrows for w in pair))
        points = unit[[index[w] for w in words]]
        x_axis = np.mean([unit[index[b]] - unit[index[a]] for a, b in axis_pairs], axis=0)
        x_axis /= np.linalg.norm(x_axis) or 1.0
        centred = points - points.mean(axis=0)
        rest = centred - np.outer(centred @ x_axis, x_axis)
        _, _, right = np.linalg.svd(rest, full_matrices=False)
        xy = dict(zip(words, np.stack([centred @ x_axis, centred @ right[0]], axis=1)))
        colours = plt.get_cmap("tab20")
        for number, (a, b) in enumerate(arrows):
            ax.annotate("", xy=xy[b], xytext=xy[a],
                        arrowprops=dict(arrowstyle="->", color=colours(number % 20), lw=1.3))
        for word, (x, y) in xy.items():
            ax.plot(x, y, "o", ms=3, color="0.3")
            ax.annotate(word, (x, y), fontsize=8, xytext=(3, 3), textcoords="offset points")
        ax.set_title(title)
        ax.set_xlabel("the mean offset of the relation")
        ax.set_ylabel("the main direction of variation left (PCA)")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Word vectors of the planted words (unit length): parallel arrows = a shared offset")
    return plots.save(fig, run, filename)
