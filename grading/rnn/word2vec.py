"""Grading of rnn/word2vec.

The checker asks the generated corpus's 318 held-out analogy questions itself, with its own cosine
nearest neighbour of b - a + c on the vectors main() returns. Since skip-gram answers all of them
after one epoch, a second check calls the student's functions on inputs of the checker's (the pairs
of short sentences, the noise distribution of given counts, the loss with one large dot product,
analogies where a query word is nearer than the answer). The probes compare each function with a
NumPy reference and name the known mistake it matches (the window off by one, the 3/4 power
missing, the loss's sign flipped, the query words not excluded...).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from seminar.grader.references import log_sigmoid, sigmoid
from seminar.grader.toolkit import (Context, EvidenceError, Finding, as_array, run_steps,
                                    shape_finding, short, value_finding)


def reference_pairs(sentence, left: int, right: int | None = None, *, itself: bool = False) -> list:
    """Sorted (centre, context) pairs: every j with i - left <= j <= i + right, j != i (or j == i
    too with ``itself``)."""
    right = left if right is None else right
    n = len(sentence)
    return sorted((int(sentence[i]), int(sentence[j])) for i in range(n)
                  for j in range(max(0, i - left), min(n, i + right + 1)) if itself or j != i)


def _pairs_mistakes(sentence, window: int) -> dict:
    positions = np.arange(len(sentence))
    return {
        "skipgram_pairs() pairs each word with itself too (j == i): the centre word is not one of "
        "its own context words": reference_pairs(sentence, window, itself=True),
        "the window is off by one in skipgram_pairs(): it takes window - 1 words on each side, "
        "it must take `window` (|i - j| <= window)": reference_pairs(sentence, window - 1),
        "the window is off by one in skipgram_pairs(): it takes window + 1 words on each side, "
        "it must take `window` (|i - j| <= window)": reference_pairs(sentence, window + 1),
        "the window is off by one in skipgram_pairs(): `window` words before the centre but only "
        "window - 1 after it (a range stops one before its end)":
            reference_pairs(sentence, window, window - 1),
        "the window is off by one in skipgram_pairs(): window - 1 words before the centre but "
        "`window` after it": reference_pairs(sentence, window - 1, window),
        "skipgram_pairs() takes only the words after the centre: the context is on both sides":
            reference_pairs(sentence, 0, window),
        "skipgram_pairs() takes only the words before the centre: the context is on both sides":
            reference_pairs(sentence, window, 0),
        "skipgram_pairs() returns positions in the sentence (i, j) instead of the word ids "
        "(sentence[i], sentence[j])": reference_pairs(positions, window),
    }


def _pairs_finding(function, sentence: np.ndarray, window: int) -> Finding | None:
    want = reference_pairs(sentence, window)
    raw = function(sentence.copy(), window)
    got = np.asarray(as_array(raw))
    evidence_in = f"for the sentence {sentence.tolist()} and window {window}"
    if got.ndim == 2 and got.shape[0] == 2 and got.shape[1] == len(want) and len(want) != 2:
        return Finding("skipgram_pairs() returns one column per pair, (2, pairs), instead of one row "
                       "per pair, (pairs, 2)", f"{evidence_in} it returned shape {got.shape}",
                       "stack the pairs as rows, or transpose")
    if got.ndim != 2 or got.shape[1:] != (2,):
        return Finding("skipgram_pairs() returns an array of the wrong shape: one row (centre, "
                       "context) per pair, shape (pairs, 2)",
                       f"{evidence_in} it returned shape {got.shape}; expected ({len(want)}, 2)")
    if not np.all(got == np.round(got)):
        return Finding("skipgram_pairs() returns numbers that are not word ids (integers)",
                       f"{evidence_in} it returned {short(got)}")
    pairs = sorted((int(a), int(b)) for a, b in got.tolist())
    if pairs == want:
        return None
    for cause, value in _pairs_mistakes(sentence, window).items():
        if pairs == value:
            return Finding(cause, f"{evidence_in} it returned {len(pairs)} pairs, expected "
                                  f"{len(want)}: {want[:6]}{' ...' if len(want) > 6 else ''}")
    missing = sorted(set(want) - set(pairs))
    extra = sorted(set(pairs) - set(want))
    is_short = len(sentence) <= window
    return Finding("skipgram_pairs() does not give the pairs of the docstring: one (centre, context) "
                   "row for every two positions i != j of the sentence with |i - j| <= window"
                   + (" (here the window is wider than the sentence: a negative start index wraps "
                      "around in Python, an index past the end is cut)" if is_short else ""),
                   f"{evidence_in} it returned {len(pairs)} pairs, expected {len(want)}"
                   + (f"; missing {missing[:4]}" if missing else "")
                   + (f"; not expected {extra[:4]}" if extra else "")
                   + ("; some pairs twice" if not missing and not extra else ""),
                   "list the pairs of a short sentence by hand and compare; at the sentence's ends "
                   "a negative start index wraps around in Python")


def probe_pairs(context: Context) -> list[Finding]:
    """rnn/word2vec: skipgram_pairs of a 7-word sentence with window 2, and of a 3-word one with a
    window wider than the sentence, against the pairs listed here (any order)."""
    function = context.function("skipgram_pairs")
    ids = context.rng.choice(np.arange(20, 100), size=10, replace=False).astype(np.int32)
    for sentence, window in ((ids[:7], 2), (ids[7:], 5)):
        found = _pairs_finding(function, sentence, window)
        if found:
            return [found]
    return []


NOISE_COUNTS = np.array([16, 1, 81, 0, 256, 625], dtype=np.int64)  # to the power 3/4: 8 1 27 0 64 125


def probe_noise(context: Context) -> list[Finding]:
    """rnn/word2vec: noise_distribution of the counts (16, 1, 81, 0, 256, 625) must be
    (8, 1, 27, 0, 64, 125) / 225, the unigram distribution to the power 3/4."""
    got = context.function("noise_distribution")(NOISE_COUNTS.copy())
    counts = NOISE_COUNTS.astype(np.float64)
    powered = counts ** 0.75
    want = powered / powered.sum()
    cubed = counts ** 3
    found = value_finding("noise_distribution", got, want, rtol=1e-4, atol=1e-7, wrong={
        "noise_distribution() does not raise the counts to the power 3/4: it gives the plain unigram "
        "distribution, so frequent words are drawn as noise far too often": counts / counts.sum(),
        "noise_distribution() raises the counts to the power 3/4 but does not normalise them to "
        "sum to 1": powered,
        "noise_distribution() normalises the counts before the power 3/4, so the result does not "
        "sum to 1: raise them to the power first, then normalise": (counts / counts.sum()) ** 0.75,
        "noise_distribution() raises the counts to the power 3 (counts ** 3 / 4 is (counts ** 3) / 4: "
        "the power 3/4 needs parentheses)": cubed / cubed.sum(),
        "noise_distribution() raises the counts to the power 4/3 instead of 3/4":
            counts ** (4 / 3) / (counts ** (4 / 3)).sum(),
        "noise_distribution() gives every word the same probability: the counts must matter":
            np.full_like(counts, 1 / len(counts)),
    }, expected="count ** (3/4), normalised to sum to 1")
    return [found] if found else []


def reference_sgns(v, u_o, u_k, *, noise_sign: float = 1.0, reduce_noise=np.sum,
                   reduce_batch=np.mean) -> float:
    """The negative-sampling loss in float64: mean over the batch of -log sigmoid(u_o . v) - sum_k
    log sigmoid(-u_k . v) (``noise_sign=-1`` puts the noise words' sign the wrong way)."""
    positive = np.sum(v * u_o, axis=1)
    negative = np.einsum("bd,bkd->bk", v, u_k)
    per_pair = -log_sigmoid(positive) - reduce_noise(log_sigmoid(-noise_sign * negative), axis=1)
    return float(reduce_batch(per_pair))


def reference_sgns_gradients(v, u_o, u_k) -> list[np.ndarray]:
    """d loss / d (v, u_o, u_k) of :func:`reference_sgns`."""
    batch = len(v)
    positive = np.sum(v * u_o, axis=1)
    negative = np.einsum("bd,bkd->bk", v, u_k)
    d_positive = -sigmoid(-positive) / batch  # d/dx of -log sigmoid(x)
    d_negative = sigmoid(negative) / batch  # d/dx of -log sigmoid(-x)
    return [d_positive[:, None] * u_o + np.einsum("bk,bkd->bd", d_negative, u_k),
            d_positive[:, None] * v, d_negative[:, :, None] * v[:, None, :]]


def _loss_mistakes(v, u_o, u_k) -> dict:
    right = reference_sgns(v, u_o, u_k)
    positive = np.sum(v * u_o, axis=1)
    negative = np.einsum("bd,bkd->bk", v, u_k)
    return {
        "sgns_loss() returns minus the loss: minimising it is gradient ascent, pushing the true "
        "context words away and pulling the noise words in": -right,
        "the noise term of sgns_loss() has the wrong sign: a noise word must be scored as noise, "
        "log sigmoid of MINUS its dot product u_k . v_c": reference_sgns(v, u_o, u_k, noise_sign=-1.0),
        "sgns_loss() adds the noise words' log sigmoid(-u_k . v_c) instead of subtracting it: both "
        "log-probabilities enter with a minus sign":
            float(np.mean(-log_sigmoid(positive) + log_sigmoid(-negative).sum(axis=1))),
        "sgns_loss() averages the noise words' terms instead of summing them":
            reference_sgns(v, u_o, u_k, reduce_noise=np.mean),
        "sgns_loss() sums the losses of the batch instead of averaging them":
            reference_sgns(v, u_o, u_k, reduce_batch=np.sum),
        "sgns_loss() leaves out the noise words' term":
            float(np.mean(-log_sigmoid(positive))),
        "sgns_loss() leaves out the true context word's term":
            float(np.mean(-log_sigmoid(-negative).sum(axis=1))),
    }


def probe_loss(context: Context) -> list[Finding]:
    """rnn/word2vec: sgns_loss against NumPy on a batch of 6 with 5 noise words of dimension 4; then
    with dot products of +-150 (where log(sigmoid(x)) in two steps gives log 0); then its gradient,
    by tf.GradientTape, against the formula's."""
    sgns_loss = context.function("sgns_loss")
    rng = context.rng
    v, u_o = rng.normal(0.0, 0.7, (6, 4)), rng.normal(0.0, 0.7, (6, 4))
    u_k = rng.normal(0.0, 0.7, (6, 5, 4))
    got = sgns_loss(*(tf.constant(a, tf.float32) for a in (v, u_o, u_k)))
    found = value_finding("sgns_loss", got, reference_sgns(v, u_o, u_k), rtol=1e-4, atol=1e-5,
                          wrong=_loss_mistakes(v, u_o, u_k),
                          expected="the mean over the batch of -log sigmoid(u_o . v_c) - sum over k "
                                   "of log sigmoid(-u_k . v_c)")
    if found:
        return [found]

    # Large dot products: a true context word at -150 and a noise word at +150. The loss is about
    # 150 each; log(sigmoid(-150)) in two steps is log(0) = -inf in float32.
    large_v, large_o, large_k = v.copy(), u_o.copy(), u_k.copy()
    large_o[0] = -large_v[0] * 150.0 / np.dot(large_v[0], large_v[0])
    large_k[1, 0] = large_v[1] * 150.0 / np.dot(large_v[1], large_v[1])
    want = reference_sgns(large_v, large_o, large_k)
    got = as_array(sgns_loss(*(tf.constant(a, tf.float32) for a in (large_v, large_o, large_k))))
    if got.shape == () and not np.isfinite(got):
        return [Finding("sgns_loss() overflows for large dot products: log(sigmoid(x)) computed in two "
                        "steps is log(0) = -inf once sigmoid(x) rounds to 0",
                        f"with one dot product of -150 (true context) and one of +150 (noise word) "
                        f"it returned {float(got)}; expected {want:.4g}",
                        "use the fused, stable log-sigmoid of TensorFlow (or softplus)")]
    found = value_finding("sgns_loss", got, want, rtol=1e-3, atol=1e-3,
                          expected="the same formula, stable for dot products of +-150")
    if found:
        return [found]

    # Its gradient: TensorFlow must be able to differentiate it (no NumPy, no stop_gradient).
    tensors = [tf.constant(a, tf.float32) for a in (v, u_o, u_k)]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        loss = sgns_loss(*tensors)
    gradients = tape.gradient(loss, tensors)
    names = ("centre", "context", "noise")
    none = [n for n, g in zip(names, gradients) if g is None]
    if none:
        return [Finding(f"sgns_loss() cannot be differentiated by TensorFlow: no gradient with respect "
                        f"to {', '.join(none)}, so training would not move those vectors",
                        "tf.GradientTape returned None for " + ", ".join(none),
                        "compute the loss with TensorFlow ops on the tensors given (no .numpy(), no "
                        "NumPy, no tf.stop_gradient)")]
    for name, got_gradient, want_gradient in zip(names, gradients, reference_sgns_gradients(v, u_o, u_k)):
        found = value_finding("sgns_loss", got_gradient, want_gradient, rtol=1e-3, atol=1e-5)
        if found:
            return [Finding(f"the gradient of sgns_loss() with respect to the {name} vectors is wrong "
                            f"although its value is right: part of the computation is cut from the "
                            f"gradient (tf.stop_gradient, a NumPy step, a constant made from a value)",
                            found.evidence.replace("sgns_loss()", f"its gradient for {name}"))]
    return []


STEP_SEED = 31  # chosen once so that the loss of every table mix-up of step_mistakes() differs from


def _step_case(rng: np.random.Generator | None = None, vocabulary: int = 10, dimension: int = 4,
               batch: int = 6, negatives: int = 5):
    """Two small random tables (fixed: STEP_SEED) and a batch whose noise words differ from the
    pair's own words."""
    rng = np.random.default_rng(STEP_SEED) if rng is None else rng
    centre = rng.uniform(-1.0, 1.0, (vocabulary, dimension))
    context = rng.uniform(-1.0, 1.0, (vocabulary, dimension))
    centres = rng.choice(vocabulary, batch, replace=False)
    contexts = (centres + 1 + rng.integers(0, vocabulary - 1, batch)) % vocabulary
    noise = np.empty((batch, negatives), np.int64)
    for row in range(batch):
        allowed = np.setdiff1d(np.arange(vocabulary), [centres[row], contexts[row]])
        noise[row] = rng.choice(allowed, negatives, replace=False)
    return centre, context, centres, contexts, noise


def step_mistakes(centre, context, centres, contexts, noise) -> dict:
    """The first loss train_step would return with each table mix-up, the cause as the key
    (``centre`` and ``context`` are the tables' values, the rest word ids)."""
    v, u = centre, context
    return {
        "train_step() looks up the context and noise rows in the centre table: they come from the "
        "context table (two tables, v for centre words, u for context and noise words)":
            reference_sgns(v[centres], v[contexts], v[noise]),
        "train_step() looks up the context words in the centre table: they come from the context "
        "table, like the noise words": reference_sgns(v[centres], v[contexts], u[noise]),
        "train_step() looks up the noise words in the centre table: they come from the context table":
            reference_sgns(v[centres], u[contexts], v[noise]),
        "train_step() swaps the two tables: the centre rows come from centre_table, the context "
        "and noise rows from context_table": reference_sgns(u[centres], v[contexts], v[noise]),
        "train_step() looks up the centre words' rows where the context words' belong and the "
        "other way round (centres and contexts swapped)": reference_sgns(v[contexts], u[centres], u[noise]),
    }


STEP_STEPS = 40  # Adam steps of 0.05 on one batch: a working step more than halves the loss


STEP_TARGET = 0.5  # the loss after them, as a fraction of the first


def probe_step(context: Context) -> list[Finding]:
    """rnn/word2vec: train_step on two fixed random 10-word tables (tf.Variables) and one batch of 6
    pairs with 5 noise words, Adam(0.05): its first loss is sgns_loss of the right rows (the centre
    table for centres, the context table for contexts and noise words), both tables move, and 40
    steps more than halve the loss."""
    train_step = context.function("train_step")
    centre, context_values, centres, contexts, noise = _step_case()
    tables = {"centre_table": tf.Variable(centre, dtype=tf.float32, name="centre"),
              "context_table": tf.Variable(context_values, dtype=tf.float32, name="context")}
    optimizer = keras.optimizers.Adam(0.05)
    # Its moment estimates made here: a train_step decorated with @tf.function, already traced,
    # could not create them (as in main()).
    optimizer.build(list(tables.values()))
    batch = (tf.constant(centres, tf.int32), tf.constant(contexts, tf.int32), tf.constant(noise, tf.int32))

    before = {name: as_array(t).copy() for name, t in tables.items()}
    first = train_step(*batch, tables["centre_table"], tables["context_table"], optimizer)
    if first is None:
        return [Finding("train_step() returns nothing: it must return the batch loss",
                        "train_step(...) returned None")]
    after_one = {name: as_array(t).copy() for name, t in tables.items()}
    want = reference_sgns(centre[centres], context_values[contexts], context_values[noise])
    found = value_finding("train_step", first, want, rtol=1e-3, atol=1e-4,
                          wrong=step_mistakes(centre, context_values, centres, contexts, noise),
                          expected="the loss of this batch before the step: sgns_loss of the centre "
                                   "rows of centre_table and the context and noise rows of "
                                   "context_table")
    if found:
        return [found]

    moved = {name: float(np.max(np.abs(after_one[name] - before[name]))) for name in tables}
    still = [name for name, change in moved.items() if not change > 0]
    if len(still) == 2:
        return [Finding("no table changes in train_step(): the gradients are None or zero, or never "
                        "applied", "after one step both tables are where they started",
                        "compute the loss inside the `with tf.GradientTape()` block from rows looked up "
                        "in the variables themselves, then apply the gradients with the optimizer")]
    if still:
        return [Finding(f"train_step() never updates {still[0]}: its gradient is None or it is not "
                        f"given to the optimizer",
                        f"after one step {still[0]} is where it started; "
                        f"{[n for n in tables if n not in still][0]} moved by up to "
                        f"{max(moved.values()):.3g}",
                        "look the rows up inside the `with tf.GradientTape()` block (a lookup made "
                        "before it is not recorded) and give both tables to tape.gradient and to "
                        "optimizer.apply_gradients"
                        + ("; in main() the context table starts at zero, so without its update "
                           "nothing is learned" if still[0] == "context_table" else ""))]

    losses, _ = run_steps(lambda: train_step(*batch, tables["centre_table"], tables["context_table"],
                                             optimizer), tables, STEP_STEPS)
    losses = [float(as_array(first))] + losses
    bad = [i for i, loss in enumerate(losses) if not math.isfinite(loss)]
    if bad:
        return [Finding("the loss becomes NaN or infinite in train_step()",
                        f"loss at step {bad[0]}: {losses[bad[0]]} (before: "
                        f"{short(np.array(losses[:bad[0]]))})")]
    if losses[-1] > losses[0] * 1.05:
        return [Finding("gradient ascent in train_step(): the loss grows with the steps",
                        f"loss {losses[0]:.4g} at the start, {losses[-1]:.4g} after {len(losses) - 1} "
                        f"Adam steps of 0.05 on the same batch",
                        "the optimizer minimises what it is given: pass it the gradients of the loss "
                        "itself, not of its negative")]
    if losses[-1] > STEP_TARGET * losses[0]:
        return [Finding("train_step() does not lower the loss on a batch it sees again and again",
                        f"loss {losses[0]:.4g} at the start, {losses[-1]:.4g} after {len(losses) - 1} "
                        f"Adam steps of 0.05 (a working step goes below {STEP_TARGET * losses[0]:.4g})",
                        "check that the gradients of the loss go to the optimizer with their "
                        "variables, in the same order")]
    return []


# For "a is to b as c is to ?" with (a, b, c) = rows (0, 6, 7) or (2, 8, 9), b - a + c points exactly
# along a: only the exclusion of a itself finds another answer.
# Hand-made word vectors: for "a is to b as c is to ?" (rows 0, 1, 2) the query word c is nearer to
# b - a + c (cosine 0.79) than the answer, row 3 (0.71); for the question (1, 0, 3), the query rows
# 1 and 3 are nearer (0.90, 0.69) than the answer, row 4 (0.62).
PROBE_VECTORS = np.array([[2.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.2],
                          [0.3, 1.0, -0.3], [-1.0, 0.0, 0.0]], dtype=np.float32)
PROBE_QUESTIONS = np.array([[0, 1, 2], [1, 0, 3]])
PROBE_ANSWERS = np.array([3, 4])
ANALOGY_CRAFTED = np.array([[0.6, 0.8, 0.0], [0.6, -0.8, 0.0], [0.0, 0.8, 0.6], [0.0, -0.8, 0.6]])


ANALOGY_SEED = 2082  # chosen once so that every mistake of analogy_mistakes() shows, on 2 to 16


def _analogy_case():
    """Word vectors (30, 3) and questions (16, 3) where every known mistake answers differently
    from 3CosAdd: PROBE_VECTORS (a query word c nearer to b - a + c than the answer),
    the crafted rows above, then fixed random vectors of lengths between 0.3 and 3 (so that
    skipping the normalisation shows) and random questions."""
    rng = np.random.default_rng(ANALOGY_SEED)
    extra = rng.normal(size=(20, 3)) * rng.uniform(0.3, 3.0, (20, 1))
    vectors = np.concatenate([PROBE_VECTORS, ANALOGY_CRAFTED, extra]).astype(np.float32)
    more = np.stack([rng.choice(len(vectors), 3, replace=False) for _ in range(12)])
    questions = np.concatenate([PROBE_QUESTIONS, [[0, 6, 7], [2, 8, 9]], more])
    return vectors, questions.astype(np.int64)


def reference_analogies(vectors, questions, *, normalise: bool = True, exclude=(0, 1, 2),
                        signs=(-1.0, 1.0, 1.0)) -> np.ndarray:
    """3CosAdd in float64: the nearest word by cosine to b - a + c, the words of ``exclude`` (columns
    of the question) left out."""
    vectors = np.asarray(vectors, np.float64)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True) if normalise else vectors
    target = sum(s * unit[questions[:, k]] for k, s in enumerate(signs))
    scores = target @ unit.T
    rows = np.arange(len(questions))[:, None]
    if exclude:
        scores[rows, questions[:, list(exclude)]] = -np.inf
    return np.argmax(scores, axis=1)


def analogy_mistakes(vectors, questions) -> dict:
    return {
        "answer_analogies() does not exclude the query words a, b and c: b - a + c is often nearest "
        "to b or c themselves": reference_analogies(vectors, questions, exclude=()),
        "answer_analogies() excludes c but not a and b: all three query words must be left out":
            reference_analogies(vectors, questions, exclude=(2,)),
        "answer_analogies() excludes b and c but not a: all three query words must be left out":
            reference_analogies(vectors, questions, exclude=(1, 2)),
        "answer_analogies() does not scale the vectors to unit length: a raw dot product favours "
        "long vectors (frequent words), the cosine does not":
            reference_analogies(vectors, questions, normalise=False),
        "answer_analogies() reverses the offset: for \"a is to b as c is to ?\" the point is b - a + c, "
        "not a - b + c": reference_analogies(vectors, questions, signs=(1.0, -1.0, 1.0)),
    }


def probe_analogies(context: Context) -> list[Finding]:
    """rnn/word2vec: answer_analogies on 30 hand-made and fixed random vectors of dimension 3 and 16
    questions, against 3CosAdd in NumPy (the query words excluded)."""
    vectors, questions = _analogy_case()
    got = context.function("answer_analogies")(vectors.copy(), questions.copy())
    values = np.asarray(as_array(got))
    want = reference_analogies(vectors, questions)
    if values.shape != want.shape:
        return [shape_finding("answer_analogies", values, want.shape, what="array of word ids")]
    raw = np.asarray(got.numpy() if hasattr(got, "numpy") else got)
    if not np.issubdtype(raw.dtype, np.integer):
        if np.array_equal(values, want):
            return [Finding("answer_analogies() returns the right words as floats: word ids are "
                            "integers", f"it returned dtype {raw.dtype}",
                            "cast the result to an integer type (argmax gives integers already)")]
    if np.array_equal(values, want):
        return []
    wrong = np.flatnonzero(values != want)
    first = int(wrong[0])
    evidence = (f"{len(wrong)} of the {len(want)} questions answered differently; question "
                f"{first + 1}, (a, b, c) = {tuple(int(i) for i in questions[first])}: it answered "
                f"{values[first]:g}, the nearest word by cosine is {want[first]}")
    for cause, answers in analogy_mistakes(vectors, questions).items():
        if np.array_equal(values, answers):
            return [Finding(cause, evidence)]
    return [Finding("answer_analogies() does not give the word nearest by cosine to b - a + c among "
                    "all words but a, b and c", evidence,
                    "scale every vector to unit length, score every word by its dot product with "
                    "b - a + c, rule out the three query words, take the best")]


# ---------------------------------------------------------------------------- measures


def measure_analogy_accuracy(context: Context) -> float:
    """The share of the generated corpus's held-out test questions (all sections, 318 of them)
    that main()'s ``embeddings`` (vocabulary, dimension) answer right, the words of each row given
    by main()'s ``vocabulary``."""
    from datasets import word_corpus

    vectors = context.evidence("embeddings", (None, None))
    words = context.evidence_object("vocabulary", "the list of words (str) in the row order of "
                                                  "'embeddings'")
    if not isinstance(words, (list, tuple)) or not all(isinstance(w, str) for w in words):
        raise EvidenceError("main() must return 'vocabulary', the list of words (str) in the row "
                            "order of 'embeddings' (it is in the original skeleton's main)")
    if len(words) != len(vectors) or len(set(words)) != len(words):
        raise EvidenceError(f"main()'s 'vocabulary' must name each of the {len(vectors)} rows of "
                            f"'embeddings' once; it has {len(words)} words, {len(set(words))} "
                            f"distinct")
    if not np.issubdtype(vectors.dtype, np.number) or vectors.shape[1] < 1:
        raise EvidenceError(f"main()'s 'embeddings' must be a numeric array (vocabulary, "
                            f"dimension), got {vectors.dtype} of shape {vectors.shape}")
    if not np.all(np.isfinite(vectors)):
        raise EvidenceError("main()'s 'embeddings' contains NaN or infinite values")
    questions = word_corpus.generate(seed=0, sentences=1).test_questions
    return analogy_accuracy(vectors, list(words), questions)


QUESTION_BATCH = 256  # analogy questions answered at once (a (batch, vocabulary) score matrix)


def analogy_accuracy(vectors: np.ndarray, words: list[str], questions: dict) -> float:
    """3CosAdd accuracy over all ``questions`` (a dict section -> [(a, b, c, d)]): rows normalised,
    the word nearest by cosine to ``b - a + c`` other than a, b and c must be d; a question with a
    word missing from ``words`` counts as wrong."""
    vectors = np.asarray(vectors, np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms > 0, norms, 1.0)
    index = {w: i for i, w in enumerate(words)}
    flat = [q for items in questions.values() for q in items]
    known = np.array([[index[w] for w in q] for q in flat if all(w in index for w in q)],
                     dtype=np.int64).reshape(-1, 4)
    if not flat:
        return 0.0
    correct = 0
    for start in range(0, len(known), QUESTION_BATCH):
        batch = known[start:start + QUESTION_BATCH]
        target = unit[batch[:, 1]] - unit[batch[:, 0]] + unit[batch[:, 2]]
        scores = target @ unit.T
        rows = np.arange(len(batch))[:, None]
        scores[rows, batch[:, :3]] = -np.inf
        correct += int(np.sum(np.argmax(scores, axis=1) == batch[:, 3]))
    return correct / len(flat)


def _pairs_pass(module) -> bool:
    pairs = np.asarray(module.skipgram_pairs(np.array([10, 11, 12, 13, 14], np.int32), 2))
    expected = sorted((i, j) for i in range(10, 15) for j in range(10, 15)
                      if i != j and abs(i - j) <= 2)
    short_sentence = np.asarray(module.skipgram_pairs(np.array([7, 8, 9], np.int32), 5))
    return (pairs.shape == (14, 2) and sorted(map(tuple, pairs.tolist())) == expected
            and short_sentence.shape == (6, 2))


def _noise_passes(module) -> bool:
    p = np.asarray(module.noise_distribution(np.array([16, 1, 81, 0], np.int64)),
                   np.float64).reshape(-1)
    return p.shape == (4,) and np.allclose(p, np.array([8, 1, 27, 0]) / 36, rtol=1e-5, atol=1e-7)


def _loss_passes(module) -> bool:
    rng = np.random.default_rng(11)
    v, u_o, u_k = (rng.normal(size=s).astype(np.float32) for s in ((5, 3), (5, 3), (5, 4, 3)))
    u_o[0] *= 40  # a large dot product: log(sigmoid) must not underflow to log(0)
    positive = np.sum(v.astype(np.float64) * u_o, axis=1)
    negative = np.einsum("bd,bkd->bk", v.astype(np.float64), u_k)
    expected = np.mean(np.logaddexp(0.0, -positive) + np.logaddexp(0.0, negative).sum(axis=1))
    loss = np.asarray(module.sgns_loss(tf.constant(v), tf.constant(u_o), tf.constant(u_k)),
                      np.float64)
    return loss.shape == () and bool(np.isclose(loss, expected, rtol=1e-4))


def _analogies_pass(module) -> bool:
    answers = np.asarray(module.answer_analogies(PROBE_VECTORS.copy(),
                                                 PROBE_QUESTIONS.copy())).reshape(-1)
    return answers.shape == (2,) and np.array_equal(answers.astype(np.int64), PROBE_ANSWERS)


def measure_lesson_functions(context: Context) -> float:
    """The share of four checks that the exercise's own functions pass, on inputs chosen here: the
    skip-gram pairs of a five-word sentence (window 2) and of a three-word one (window 5), the
    noise distribution of counts (16, 1, 81, 0), the loss against NumPy (with one large dot
    product), and two analogies where a query word is nearer to b - a + c than the answer (on this
    generated corpus the trained vectors answer right even without excluding the query words, so
    only this check sees that mistake). A check that raises counts as failed."""
    passed = 0
    for check in (_pairs_pass, _noise_passes, _loss_passes, _analogies_pass):
        try:
            passed += bool(check(context.module))
        except Exception:  # noqa: BLE001  (a student's function may fail in any way: the probe fails)
            pass
    return passed / 4
