# %% [markdown]
"""
Title: word2vec: skip-gram with negative sampling, and king - man + woman = queen

Chapter: rnn (seminar slides 78-80)

Teaches: learning word vectors from co-occurrence alone: the (centre, context) pairs of a window,
    negative samples drawn from the unigram distribution raised to the power 3/4, the logistic
    loss on dot products between two embedding tables, trained in a tf.GradientTape step; then
    analogies answered by vector arithmetic and cosine nearest neighbour.

Run time: about 50 s (12 s with --fast) on 2 CPU cores, plus a few seconds to load TensorFlow.

Task: fill in the five functions marked TODO: the skip-gram pairs of a sentence, the noise
distribution, the negative-sampling loss, the training step, and the analogy answer. The
corpus is generated (datasets/word_corpus.py): no sentence states that queen is to king what woman
is to man, yet the vectors must answer most held-out analogy questions (family, capitals,
comparatives, superlatives). --corpus FILE trains on your own text and --analogies FILE asks your
own questions (the questions-words.txt format). Before training, the check runs each function on
small inputs of its own and names what differs from its docstring. Check your work with

    python -m seminar check rnn/word2vec
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import keras
import numpy as np
import tensorflow as tf

from seminar import embeddings, runtime
from seminar.training_log import TrainingLog

# %% Settings

# Chosen on the generated corpus's validation questions, never on the test ones.
DIMENSION = 50  # numbers per word vector (--dimension); 16 was enough here, real text needs more
# Context words on each side (--window). A generated sentence is a shuffled bag of words around one
# planted word, so any window sees its attributes: a wider one only costs time.
WINDOW = 3
NEGATIVES = 5  # noise words per (centre, context) pair
NOISE_POWER = 0.75  # the unigram distribution to the power 3/4 (Mikolov et al. 2013)
LEARNING_RATE = 5e-3  # Adam, decayed to 0 along a cosine over the run
BATCH_SIZE = 4096  # (centre, context) pairs per step: fewer, larger steps learn less per epoch
EPOCHS = 5  # one epoch (the fast run) already answers the questions; more lower the loss further
EPOCHS_FAST = 1


# %% Training pairs and noise words


def skipgram_pairs(sentence: np.ndarray, window: int) -> np.ndarray:
    """The skip-gram training pairs of one sentence of word ids (n,): int array (pairs, 2)."""
    # TODO: Every (centre, context) pair of word ids: each position i with each other position j
    #   at most `window` words away on either side (j != i, the sentence's ends respected); shape
    #   (number of pairs, 2), in any order.
    raise NotImplementedError('TODO in skipgram_pairs() (for a hint: python -m seminar hint rnn/word2vec)')


def noise_distribution(counts: np.ndarray) -> np.ndarray:
    """The probability (vocabulary,) of drawing each word as a negative sample, from the word
    counts (vocabulary,)."""
    # TODO: A probability per word, summing to 1, proportional to its count to the power
    #   NOISE_POWER (3/4): rare words are drawn more often than their frequency, frequent ones less.
    raise NotImplementedError('TODO in noise_distribution() (for a hint: python -m seminar hint rnn/word2vec)')


# %% The model: two tables, a centre vector v_w and a context vector u_w per word


def sgns_loss(centre: tf.Tensor, context: tf.Tensor, noise: tf.Tensor) -> tf.Tensor:
    """The negative-sampling loss, averaged over a batch: centre vectors v_c (batch, dim), the
    context vectors u_o of their true context words (batch, dim) and those of the noise words u_k
    (batch, negatives, dim). A scalar."""
    # TODO: Per pair, minus the log-probability that the true context word is real,
    #   sigmoid(u_o . v_c), minus the log-probabilities that the noise words are noise,
    #   sigmoid(-u_k . v_c), summed over k. The mean over the batch, finite for large dot products.
    raise NotImplementedError('TODO in sgns_loss() (for a hint: python -m seminar hint rnn/word2vec)')


def train_step(centres, contexts, negatives, centre_table, context_table, optimizer) -> tf.Tensor:
    """One optimizer step on a batch: word ids of the centres (batch,), of their contexts (batch,)
    and of the noise words (batch, NEGATIVES); the tables are tf.Variables (vocabulary, dim).
    Return the batch loss. (main() runs it as one TensorFlow graph, through tf.function.)"""
    # TODO: One optimizer step on both tables for this batch, on the loss sgns_loss gives for the
    #   centre rows of centre_table and the context and noise rows of context_table (recorded for
    #   gradients). Return that loss, the loss before the step.
    raise NotImplementedError('TODO in train_step() (for a hint: python -m seminar hint rnn/word2vec)')


# %% Analogies: a is to b as c is to d


def answer_analogies(vectors: np.ndarray, questions: np.ndarray) -> np.ndarray:
    """For word vectors (vocabulary, dim) and questions (n, 3) of word ids [a, b, c], the id (n,)
    of the word d that answers "a is to b as c is to ?"."""
    # TODO: With every vector scaled to unit length, d is the word whose vector has the largest
    #   cosine with b - a + c, among all words except a, b and c themselves. Return integer ids (n,).
    raise NotImplementedError('TODO in answer_analogies() (for a hint: python -m seminar hint rnn/word2vec)')


# %% Main


def main(argv=None) -> dict:
    parser = runtime.make_parser("rnn/word2vec", __doc__, epochs=EPOCHS, fast_epochs=EPOCHS_FAST,
                                 batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE)
    embeddings.add_flags(parser, window=WINDOW, dimension=DIMENSION)
    args = runtime.parse_args(parser, argv)
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)
    text = embeddings.load_text(run, corpus=args.corpus, analogies=args.analogies,
                                corpus_seed=args.corpus_seed)  # sentences (lists of words), questions
    vocabulary = embeddings.build_vocabulary(text.sentences, args.min_count)
    pairs = embeddings.all_pairs(vocabulary.encode(text.sentences), args.window, skipgram_pairs)
    noise = embeddings.noise_probabilities(noise_distribution(vocabulary.counts), len(vocabulary))
    runtime.say(run, f"Vocabulary: {len(vocabulary)} words; {len(pairs)} (centre, context) pairs "
                     f"per epoch; {NEGATIVES} noise words per pair")

    # word2vec's initialisation: small random centre vectors, context vectors at zero.
    size = (len(vocabulary), args.dimension)
    centre_table = tf.Variable(tf.random.uniform(size, -0.5, 0.5) / args.dimension, name="centre")
    context_table = tf.Variable(tf.zeros(size), name="context")

    batches = embeddings.Batches(pairs, noise, args.batch_size, NEGATIVES, args.seed)
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, len(batches) * args.epochs)
    optimizer = keras.optimizers.Adam(schedule)
    # Adam's moment estimates made now, not in the compiled step: a tf.function creates variables
    # on its first trace only, and a train_step you decorate with @tf.function is traced by the check.
    optimizer.build([centre_table, context_table])
    step = tf.function(lambda centres, contexts, negatives: train_step(
        centres, contexts, negatives, centre_table, context_table, optimizer))  # one graph
    log = TrainingLog(run, epochs=args.epochs)
    for epoch in range(args.epochs):
        losses = []
        for centres, contexts, negatives in log.batches(batches):
            losses.append(step(centres, contexts, negatives))
        log.epoch(epoch, loss=losses)

    # The word vectors are the centre table's rows (the evidence the checker measures).
    return embeddings.report(run, text, vocabulary, centre_table.numpy(), answer_analogies, log)


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
