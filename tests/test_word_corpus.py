"""The generated word2vec corpus (datasets.word_corpus, for the word2vec exercise): the same
corpus for a seed, relations a co-occurrence model can learn but no sentence states, held-out
analogy questions, and the questions-words.txt format read and written."""

import os

import numpy as np
import pytest

from datasets import __main__ as datasets_cli
from datasets import word_corpus


@pytest.fixture(scope="module")
def corpus():
    return word_corpus.generate(seed=0, sentences=20_000)


@pytest.mark.slow
def test_same_seed_same_corpus_other_seed_other_corpus(corpus):
    assert word_corpus.generate(seed=0, sentences=20_000).sentences == corpus.sentences
    assert word_corpus.generate(seed=1, sentences=20_000).sentences != corpus.sentences


def test_every_planted_word_appears_often_and_sentences_vary(corpus):
    counts = {}
    for sentence in corpus.sentences:
        assert 8 <= len(sentence) <= 14
        for word in sentence:
            counts[word] = counts.get(word, 0) + 1
    planted = {w for q in corpus.test_questions.values() for question in q for w in question}
    assert min(counts[w] for w in planted) >= 100
    # No fixed template: the planted word sits anywhere in its sentence.
    positions = {sentence.index("queen") for sentence in corpus.sentences if "queen" in sentence}
    assert len(positions) >= 8


def test_no_sentence_states_a_relation(corpus):
    """A relation is learned from shared contexts: the two words of a pair never meet."""
    pairs = [(m, f) for m, f, *_ in word_corpus.GENDER_PAIRS] + [(c, k) for c, k, _ in word_corpus.CAPITALS]
    for sentence in corpus.sentences:
        words = set(sentence)
        assert not any(a in words and b in words for a, b in pairs)


def test_questions_are_split_once_and_held_out(corpus):
    other = word_corpus.generate(seed=5, sentences=10)
    assert other.test_questions == corpus.test_questions  # the split does not follow the run's seed
    for section in word_corpus.SECTIONS:
        validation = set(corpus.validation_questions[section])
        test = set(corpus.test_questions[section])
        assert validation and test and not validation & test


@pytest.mark.slow
def test_relations_are_learnable_from_co_occurrence():
    """Word vectors from a plain co-occurrence count (PPMI and SVD, in NumPy) answer most held-out
    analogies, far above chance (about 1 in 500): the corpus carries the relations."""
    corpus = word_corpus.generate(seed=0)
    vocab = {}
    for sentence in corpus.sentences:
        for word in sentence:
            vocab.setdefault(word, len(vocab))
    counts = np.zeros((len(vocab), len(vocab)))
    for sentence in corpus.sentences:
        ids = np.array([vocab[w] for w in sentence])
        for offset in range(1, 6):
            np.add.at(counts, (ids[:-offset], ids[offset:]), 1)
            np.add.at(counts, (ids[offset:], ids[:-offset]), 1)
    with np.errstate(divide="ignore"):
        pmi = np.log(counts * counts.sum() / np.outer(counts.sum(1), counts.sum(0)))
    ppmi = np.where(np.isfinite(pmi), np.maximum(pmi, 0.0), 0.0)
    u, s, _ = np.linalg.svd(ppmi)
    vectors = u[:, :50] * np.sqrt(s[:50])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    correct = total = 0
    for questions in corpus.test_questions.values():
        for a, b, c, d in questions:
            scores = vectors @ (vectors[vocab[b]] - vectors[vocab[a]] + vectors[vocab[c]])
            scores[[vocab[a], vocab[b], vocab[c]]] = -np.inf
            correct += int(np.argmax(scores) == vocab[d])
            total += 1
    assert correct / total > 0.4


def test_written_files_read_back(corpus, tmp_path):
    corpus_path, validation_path, test_path = word_corpus.write(corpus, tmp_path / "w2v")
    assert word_corpus.read_text(corpus_path) == corpus.sentences
    assert word_corpus.read_analogies(test_path) == corpus.test_questions
    assert word_corpus.read_analogies(validation_path) == corpus.validation_questions


def test_user_files_are_read_as_a_student_gives_them(tmp_path):
    text = tmp_path / "book.txt"
    text.write_text("The King met the Queen. She smiled!\nParis is the capital of France?\n\n")
    assert word_corpus.read_text(text) == [["the", "king", "met", "the", "queen"], ["she", "smiled"],
                                           ["paris", "is", "the", "capital", "of", "france"]]
    questions = tmp_path / "questions-words.txt"
    questions.write_text(": capital-common-countries\nAthens Greece Baghdad Iraq\n: family\nboy girl brother sister\n")
    assert word_corpus.read_analogies(questions) == {
        "capital-common-countries": [("athens", "greece", "baghdad", "iraq")],
        "family": [("boy", "girl", "brother", "sister")]}
    questions.write_text(": family\nboy girl brother\n")
    with pytest.raises(ValueError, match="line 2: an analogy line holds four words"):
        word_corpus.read_analogies(questions)
    (tmp_path / "empty.txt").write_text("...\n")
    with pytest.raises(ValueError, match="no words found"):
        word_corpus.read_text(tmp_path / "empty.txt")


def test_files_that_cannot_be_read_are_refused_in_one_sentence(tmp_path):
    """Neither reader opens a named pipe (it would wait for ever) nor reads a binary file."""
    pipe = tmp_path / "pipe.txt"
    os.mkfifo(pipe)
    binary = tmp_path / "utf16.txt"
    binary.write_text(": family\nboy girl brother sister\n", encoding="utf-16")
    for reader, give in ((word_corpus.read_text, "a plain-text file"),
                         (word_corpus.read_analogies, "a file in the questions-words.txt format")):
        for path, message in ((tmp_path / "nowhere.txt", f"{tmp_path / 'nowhere.txt'}: no such file"),
                              (tmp_path, f"{tmp_path} is a directory, not a regular file; give {give}"),
                              (pipe, f"{pipe} is a named pipe (FIFO), not a regular file; give {give}"),
                              (binary, f"{binary} is not a text file (it holds NUL bytes); give {give}")):
            with pytest.raises(word_corpus.TextFileError) as refused:
                reader(path)
            assert str(refused.value) == message


def test_a_byte_order_mark_and_bad_bytes_are_read_through(tmp_path):
    questions = tmp_path / "questions-words.txt"
    questions.write_bytes(b"\xef\xbb\xbf: family\nboy girl k\xf6nig queen\n")
    assert word_corpus.read_analogies(questions) == {"family": [("boy", "girl", "k\ufffdnig", "queen")]}


@pytest.mark.slow
def test_the_command_line_writes_the_corpus(tmp_path, capsys):
    assert datasets_cli.main(["corpus", "--to", str(tmp_path / "out"), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "seed 3" in out and "questions-test.txt" in out
    assert (tmp_path / "out" / "corpus.txt").stat().st_size > 100_000
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert datasets_cli.main(["corpus", "--to", str(blocker / "sub")]) == 2
    assert "cannot write" in capsys.readouterr().err
