"""The word2vec exercise (rnn/word2vec): the student-facing functions of the solution on tiny inputs
against hand computations, a run on a text file and a questions file the test writes itself
(rare and unknown words skipped and counted), and the checker's analogy measure on hand-made
evidence."""

import pathlib
import types

import numpy as np
import pytest
import tensorflow as tf

from datasets import word_corpus
from helpers import context_for, grading_of, measure, variant_file
from seminar import embeddings
from seminar.grader import checker, grading
from seminar.grader.grading import EvidenceError

SOLUTION = pathlib.Path(__file__).resolve().parent.parent / "solutions" / "rnn" / "word2vec.py"


@pytest.fixture(scope="module")
def w2v():
    return checker.load_module(SOLUTION)


# ------------------------------------------------------------------------- the lesson's functions


def test_skipgram_pairs_of_a_five_word_sentence(w2v):
    sentence = np.array([10, 11, 12, 13, 14], dtype=np.int32)
    pairs = np.asarray(w2v.skipgram_pairs(sentence, 2))
    assert pairs.shape == (14, 2)
    expected = {(10, 11), (10, 12),
                (11, 10), (11, 12), (11, 13),
                (12, 10), (12, 11), (12, 13), (12, 14),
                (13, 11), (13, 12), (13, 14),
                (14, 12), (14, 13)}
    assert sorted(map(tuple, pairs.tolist())) == sorted(expected)
    # A window wider than the sentence pairs every word with every other one.
    assert len(np.asarray(w2v.skipgram_pairs(sentence[:3], 5))) == 6


def test_all_pairs_refuses_a_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \(number of pairs, 2\)"):
        embeddings.all_pairs([np.arange(4)], 2, lambda ids, window: np.zeros(6))


def test_noise_distribution_is_the_unigram_to_the_three_quarters(w2v):
    counts = np.array([16, 1, 81, 0], dtype=np.int64)  # 16^0.75 = 8, 1, 81^0.75 = 27, 0
    p = np.asarray(w2v.noise_distribution(counts), dtype=np.float64)
    np.testing.assert_allclose(p, [8 / 36, 1 / 36, 27 / 36, 0.0], rtol=1e-6)
    assert p.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="summing to 1"):
        embeddings.noise_probabilities(counts / 10, 4)


def test_sgns_loss_matches_numpy(w2v):
    rng = np.random.default_rng(0)
    v, u_o, u_k = (rng.normal(size=s).astype(np.float32) for s in ((6, 4), (6, 4), (6, 3, 4)))
    u_o[0] *= 30  # a large dot product: the loss must stay finite

    def log_sigmoid(x):
        return -np.logaddexp(0.0, -x)

    positive = np.sum(v.astype(np.float64) * u_o, axis=1)
    negative = np.einsum("bd,bkd->bk", v.astype(np.float64), u_k)
    expected = np.mean(-log_sigmoid(positive) - log_sigmoid(-negative).sum(axis=1))
    loss = w2v.sgns_loss(tf.constant(v), tf.constant(u_o), tf.constant(u_k))
    assert loss.shape == ()
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_train_step_moves_both_tables_and_lowers_the_loss(w2v):
    import keras

    tf.random.set_seed(0)
    centre = tf.Variable(tf.random.uniform((8, 4), -0.1, 0.1))
    context = tf.Variable(tf.zeros((8, 4)))
    optimizer = keras.optimizers.Adam(0.05)
    centres, contexts = tf.constant([0, 1, 2, 3]), tf.constant([4, 5, 6, 7])
    negatives = tf.constant([[5, 6], [6, 7], [7, 4], [4, 5]])
    first = float(w2v.train_step(centres, contexts, negatives, centre, context, optimizer))
    assert first == pytest.approx(3 * np.log(2.0), rel=1e-4)  # context vectors start at zero
    assert np.abs(context.numpy()).sum() > 0
    before = centre.numpy().copy()
    for _ in range(20):
        last = float(w2v.train_step(centres, contexts, negatives, centre, context, optimizer))
    assert not np.allclose(centre.numpy(), before)
    assert last < first


def test_analogy_answer_excludes_the_query_words(w2v):
    # c itself is nearer to b - a + c (cosine 0.79) than the answer d (0.71).
    vectors = np.array([[2.0, 0.0, 0.0],     # 0: a (lengths do not matter: cosines)
                        [1.0, 1.0, 0.0],     # 1: b
                        [0.0, 0.0, 1.0],     # 2: c, nearest to b - a + c
                        [0.0, 1.0, 0.2],     # 3: d, the answer
                        [-1.0, 0.0, 0.0]],   # 4: far from everything
                       dtype=np.float32)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    target = unit[1] - unit[0] + unit[2]
    cosines = unit @ target / np.linalg.norm(target)
    assert cosines[2] > cosines[3] > cosines[4]
    answers = np.asarray(w2v.answer_analogies(vectors, np.array([[0, 1, 2], [1, 0, 3]])))
    assert answers.shape == (2,)
    assert int(answers[0]) == 3


# ------------------------------------------------------------------------- a text of one's own


def _write_text_and_questions(folder: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    rng = np.random.default_rng(0)
    pairs = [("king", "queen"), ("man", "woman"), ("boy", "girl")]
    filler = ["the", "a", "of", "and", "walked", "saw"]
    lines = []
    for number in range(300):
        male, female = pairs[number % 3]
        word, gender = (male, "he") if number % 2 else (female, "she")
        words = [word, gender, *rng.choice(filler, size=4)]
        lines.append(" ".join(rng.permutation(words)) + ".")
    lines.append("Once upon a time a dragon slept. The dragon woke.")  # "dragon": seen twice only
    text = folder / "text.txt"
    text.write_text("\n".join(lines) + "\n")
    questions = folder / "questions.txt"
    questions.write_text(": family\nman woman king queen\nboy girl man woman\nking queen boy girl\n"
                         ": odd\nhe she dragon slept\nking queen unicorn x\nhe she man woman\n")
    return text, questions


@pytest.mark.slow
def test_main_on_a_text_file_counts_the_skipped_questions(w2v, tmp_path):
    text, questions = _write_text_and_questions(tmp_path)
    metrics = w2v.main(["--corpus", str(text), "--analogies", str(questions), "--epochs", "1",
                        "--batch-size", "256", "--output-dir", str(tmp_path / "out"), "--quiet"])
    assert metrics["questions_total"] == 6
    # "dragon" (seen twice) and "slept" (once) are rarer than --min-count 5; "unicorn", "x" unseen.
    assert metrics["questions_answered"] == 4
    assert 0.0 <= metrics["analogy_accuracy"] <= 1.0
    assert set(metrics) >= {"accuracy_family", "accuracy_odd", "final_loss"}
    assert "validation_accuracy" not in metrics  # only the generated corpus has tuning questions
    vocabulary, vectors = metrics["vocabulary"], metrics["embeddings"]
    assert "dragon" not in vocabulary and "king" in vocabulary
    assert vectors.shape == (len(vocabulary), w2v.DIMENSION)
    assert (tmp_path / "out" / "loss_curve.png").exists()
    # With every word kept, the question about the dragon is answered too.
    metrics = w2v.main(["--corpus", str(text), "--analogies", str(questions), "--epochs", "1",
                        "--min-count", "1", "--output-dir", str(tmp_path / "out2"), "--quiet"])
    assert metrics["questions_answered"] == 5


@pytest.mark.slow
def test_same_seed_same_vectors(w2v, tmp_path):
    text, questions = _write_text_and_questions(tmp_path)

    def run(seed):
        return w2v.main(["--corpus", str(text), "--analogies", str(questions), "--epochs", "2",
                         "--batch-size", "128", "--seed", str(seed), "--quiet",
                         "--output-dir", str(tmp_path / "out")])["embeddings"]

    first = run(3)
    np.testing.assert_array_equal(run(3), first)
    assert not np.array_equal(run(4), first)


def test_questions_words_format_is_read(tmp_path):
    _, questions = _write_text_and_questions(tmp_path)
    sections = word_corpus.read_analogies(questions)
    assert list(sections) == ["family", "odd"]
    assert sections["odd"][0] == ("he", "she", "dragon", "slept")


# ------------------------------------------------------------------------- the checker's measure


def planted_embeddings():
    """Vectors in which every planted relation holds exactly: a word is the sum of a one-hot for
    its pair (or triple) and a one-hot for its role (male / female, country / capital, base /
    comparative / superlative), so b - a + c is d itself; filler words get random vectors."""
    rows = {}
    dims = iter(range(1000))
    for pairs, roles in (([(m, f) for m, f, *_ in word_corpus.GENDER_PAIRS], 2),
                         ([(c, k) for c, k, _ in word_corpus.CAPITALS], 2),
                         (word_corpus.ADJECTIVES, 3)):
        role_dims = [next(dims) for _ in range(roles)]
        for group in pairs:
            group_dim = next(dims)
            for word, role_dim in zip(group, role_dims):
                rows[word] = (group_dim, role_dim)
    size = next(dims)
    words = list(rows)
    vectors = np.zeros((len(words) + 50, size), np.float32)
    for i, word in enumerate(words):
        vectors[i, list(rows[word])] = 1.0
    vectors[len(words):] = np.random.default_rng(0).normal(size=(50, size)) * 0.3
    return vectors, words + [f"filler{i}" for i in range(50)]


GRADING = grading_of("rnn/word2vec")


def analogies(**evidence) -> float:
    return measure("rnn/word2vec", "analogy_accuracy", **evidence)


def lesson_functions(module) -> float:
    return GRADING.measure_lesson_functions(context_for("rnn/word2vec", module))


def test_measure_gives_one_for_planted_embeddings_and_less_when_rows_are_wrong():
    vectors, words = planted_embeddings()
    assert analogies(embeddings=vectors, vocabulary=words) == 1.0
    # Rows in another order than the vocabulary: the relations are gone.
    shuffled = vectors[np.random.default_rng(1).permutation(len(vectors))]
    assert analogies(embeddings=shuffled, vocabulary=words) < 0.2
    # A word missing from the vocabulary: its questions count as wrong, the rest stay right.
    test = word_corpus.generate(seed=0, sentences=1).test_questions
    flat = [q for items in test.values() for q in items]
    missing = sum("paris" in q for q in flat)
    keep = [i for i, w in enumerate(words) if w != "paris"]
    accuracy = analogies(embeddings=vectors[keep], vocabulary=[words[i] for i in keep])
    assert accuracy == pytest.approx(1.0 - missing / len(flat))


def test_lesson_probes_pass_for_the_solution_and_catch_a_missing_exclusion(w2v):
    assert lesson_functions(w2v) == 1.0

    def without_exclusion(vectors, questions):
        unit = embeddings.normalised(vectors)
        target = unit[questions[:, 1]] - unit[questions[:, 0]] + unit[questions[:, 2]]
        return np.argmax(target @ unit.T, axis=1)

    def unfinished(*args):
        raise NotImplementedError("TODO")

    broken = types.SimpleNamespace(skipgram_pairs=w2v.skipgram_pairs, noise_distribution=unfinished,
                                   sgns_loss=w2v.sgns_loss, answer_analogies=without_exclusion)
    assert lesson_functions(broken) == 0.5


@pytest.mark.parametrize("metrics, message", [
    ({"vocabulary": ["a", "b"]}, "must return 'embeddings'"),
    ({"embeddings": np.zeros(4), "vocabulary": ["a", "b", "c", "d"]}, r"shape \(4,\), expected"),
    ({"embeddings": np.ones((3, 2))}, "must return 'vocabulary'"),
    ({"embeddings": np.ones((3, 2)), "vocabulary": ["a", "b"]}, "name each of the 3 rows"),
    ({"embeddings": np.ones((2, 2)), "vocabulary": ["a", "a"]}, "2 words, 1 distinct"),
    ({"embeddings": np.full((2, 2), np.nan), "vocabulary": ["a", "b"]}, "NaN"),
])
def test_measure_refuses_bad_evidence(metrics, message):
    with pytest.raises(EvidenceError, match=message):
        analogies(**metrics)


# ------------------------------------------------------------------------- the check's probes
#
# The probes (grading/rnn/word2vec.py) run before training; the bug zoo (its overlays) plants
# mistakes in the solution and checks that each is named. Here: the solution and the variant pass
# them on several seeds, and their fixed cases tell every known mistake apart.


@pytest.mark.slow
@pytest.mark.parametrize("variant", [None, "embedding_layers"], ids=["solution", "variant"])
def test_the_probes_pass_correct_code(variant, tmp_path):
    path = SOLUTION if variant is None else variant_file("rnn/word2vec", variant, tmp_path)
    module = checker.load_module(path)
    exercise = context_for("rnn/word2vec").exercise
    for seed in range(3):
        assert grading.run_probes(grading.load(exercise), grading.Context(exercise, module, seed)) == []


def test_the_analogy_case_tells_every_mistake_apart():
    vectors, questions = GRADING._analogy_case()
    right = GRADING.reference_analogies(vectors, questions)
    for cause, answers in GRADING.analogy_mistakes(vectors, questions).items():
        assert np.sum(answers != right) >= 2, cause
    # The right answer leads the next word clearly: float32 code cannot tie with it.
    unit = vectors.astype(np.float64) / np.linalg.norm(vectors, axis=1, keepdims=True)
    target = unit[questions[:, 1]] - unit[questions[:, 0]] + unit[questions[:, 2]]
    cosines = (target @ unit.T) / np.linalg.norm(target, axis=1, keepdims=True)
    cosines[np.arange(len(questions))[:, None], questions] = -np.inf
    best_two = np.sort(cosines, axis=1)[:, -2:]
    assert np.min(best_two[:, 1] - best_two[:, 0]) > 0.02
    # It agrees with the checker's own measure of 3CosAdd.
    words = [f"w{i}" for i in range(len(vectors))]
    sections = {"all": [tuple(words[i] for i in (*q, d)) for q, d in zip(questions, right)]}
    assert GRADING.analogy_accuracy(vectors, words, sections) == 1.0


def test_the_step_case_tells_every_table_mix_up_apart():
    centre, context, centres, contexts, noise = GRADING._step_case()
    right = GRADING.reference_sgns(centre[centres], context[contexts], context[noise])
    values = [right, *GRADING.step_mistakes(centre, context, centres, contexts, noise).values()]
    for value in values[1:]:
        assert abs(value - right) > 0.05 * right
    gaps = np.abs(np.subtract.outer(values, values))[np.triu_indices(len(values), 1)]
    assert gaps.min() > 0.005 * right


def test_the_loss_reference_and_its_gradient_match_tensorflow():
    rng = np.random.default_rng(3)
    v, u_o, u_k = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=(4, 2, 3))
    tensors = [tf.constant(a) for a in (v, u_o, u_k)]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        positive = tf.reduce_sum(tensors[0] * tensors[1], axis=-1)
        negative = tf.einsum("bd,bkd->bk", tensors[0], tensors[2])
        loss = tf.reduce_mean(tf.math.softplus(-positive) + tf.reduce_sum(tf.math.softplus(negative), axis=-1))
    assert GRADING.reference_sgns(v, u_o, u_k) == pytest.approx(float(loss), rel=1e-12)
    for got, want in zip(GRADING.reference_sgns_gradients(v, u_o, u_k), tape.gradient(loss, tensors)):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-10)


def test_the_pairs_probe_names_a_window_wider_than_the_sentence():
    def no_clipping(sentence, window):  # a negative start index wraps around
        rows = [(sentence[i], w) for i in range(len(sentence))
                for k, w in enumerate(sentence[i - window:i + window + 1]) if k != window]
        return np.array(rows).reshape(-1, 2)

    module = types.SimpleNamespace(skipgram_pairs=no_clipping)
    found = GRADING.probe_pairs(context_for("rnn/word2vec", module))
    assert len(found) == 1 and found[0].fatal and "wraps around" in found[0].fix
