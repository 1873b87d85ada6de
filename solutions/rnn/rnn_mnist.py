# %% [markdown]
"""
Title: A recurrent network reads MNIST row by row: a simple RNN by hand, then an LSTM

Chapter: rnn (seminar slides 72 and 81-86)

Teaches: an image as a sequence of 28 rows of 28 pixels (slide 85); the simple RNN's recurrence
    h_t = tanh(x_t W + h_{t-1} U + b) written by hand and unrolled over the 28 steps in a
    tf.function, the last state h_28 fed to a softmax classifier; then the same task with
    keras.layers.LSTM, and the two compared (accuracy, parameters, seconds per epoch).

Run time: about 60 s (15 s with --fast) on 2 idle CPU cores, plus a few seconds to load TensorFlow
    and MNIST; the LSTM takes four times as long per epoch as the simple RNN.

Task: fill in the two functions marked TODO: rnn_states, the recurrence of the simple RNN over
the rows of a batch of images, and build_lstm, the Keras LSTM classifier. Both networks are
trained for you and must classify the 10000 test digits well: the LSTM at least 98% after the full
run. Before training, the check compares your states with the recurrence computed in NumPy on a
few random inputs, and your LSTM model's output with what its docstring asks. Check your work with

    python -m seminar check rnn/rnn_mnist
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import keras
import tensorflow as tf

from seminar import runtime, sequences, shapes
from seminar.training_log import TrainingLog

# %% Settings

STEPS = 28  # time steps: the network reads one row of the image per step (slide 85)
ROW_SIZE = 28  # the input at each step: the row's 28 pixels
NUM_CLASSES = 10
RNN_UNITS = 128  # the hidden state h_t of the hand-written RNN: 128 numbers
LSTM_UNITS = 128
# Adam decayed to 0 along a cosine over the run, each model at its own step size, chosen on the
# validation digits; the gradient's global norm is clipped to 1, the usual guard of recurrent
# networks against the rare huge gradient through 28 steps.
RNN_LEARNING_RATE = 4e-3
LSTM_LEARNING_RATE = 6e-3
CLIP_NORM = 1.0
BATCH_SIZE = 128
EPOCHS = 6
EPOCHS_FAST = 2
TRAIN_SIZE_FAST = 30000  # --fast trains on the first 30000 of the 55000 training digits


# %% The simple RNN, by hand (slide 72)


def rnn_states(inputs, W, U, b, h0) -> tf.Tensor:
    """The simple RNN's hidden states while it reads ``inputs`` step by step.

    inputs (batch, steps, 28): x_t = inputs[:, t] is the row read at step t; W (28, units) weighs
    the input, U (units, units) the previous state, b (units,) is the bias; h0 (batch, units) is the
    state before the first step. Returns all the states h_1 ... h_steps: (batch, steps, units).
    """
    # SOLUTION: Starting from h0, apply slide 72's recurrence (in the header) once per step, in order:
    #   each state from that step's row and the state before it. Return h_1 ... h_steps (not h0)
    #   as one tensor (batch, steps, units); it must also work inside a tf.function.
    h = h0
    states = []
    for t in range(inputs.shape[1]):  # a Python loop: tf.function unrolls it into 28 steps
        h = tf.tanh(tf.matmul(inputs[:, t], W) + tf.matmul(h, U) + b)
        states.append(h)
    return tf.stack(states, axis=1)
    # END SOLUTION


class SimpleRNNClassifier(keras.Model):
    """Slide 72's RNN on MNIST: the recurrence reads the 28 rows, a dense layer turns the last
    state h_28 into 10 logits (softmax in the loss)."""

    def __init__(self, units: int):
        super().__init__(name="simple_rnn_by_hand")
        # Keras's SimpleRNN initialises its weights the same way: W Glorot-uniform, U orthogonal.
        self.W = self.add_weight(shape=(ROW_SIZE, units), initializer="glorot_uniform", name="W")
        self.U = self.add_weight(shape=(units, units), initializer="orthogonal", name="U")
        self.b = self.add_weight(shape=(units,), initializer="zeros", name="b")
        self.classifier = keras.layers.Dense(NUM_CLASSES, name="logits")

    def initial_state(self, batch_size) -> tf.Tensor:
        # Slide 72 starts h at (1, 1, ..., 1). The usual choice is zeros (Keras's SimpleRNN and
        # LSTM start there): a neutral start that says "no input yet" and adds nothing to the
        # first step. Ones work too: the network learns around its starting point (b can absorb
        # the constant h0 U added at the first step).
        return tf.ones((batch_size, self.U.shape[0]))

    def states(self, images) -> tf.Tensor:
        """images (batch, 28, 28) -> hidden states h_1 ... h_28: (batch, 28, units)."""
        return rnn_states(images, self.W, self.U, self.b, self.initial_state(tf.shape(images)[0]))

    def call(self, images):
        return self.classifier(self.states(images)[:, -1])  # logits from h_28


# %% The same task with an LSTM (Keras)


def build_lstm(units: int) -> keras.Model:
    """images (batch, 28, 28) -> logits (batch, 10): an LSTM reads the rows, a dense layer reads
    its last output."""
    # SOLUTION: A Keras model from images (batch, 28, 28), read as 28 steps of 28 inputs, to logits
    #   (batch, 10): an LSTM of `units` cells whose output after the last row alone feeds 10 linear
    #   units (no softmax: the loss takes logits).
    return keras.Sequential([
        keras.Input(shape=(STEPS, ROW_SIZE)),
        keras.layers.LSTM(units),  # (batch, units): h_28 only (return_sequences=False)
        keras.layers.Dense(NUM_CLASSES),  # logits
    ], name="lstm")
    # END SOLUTION


# %% Training: the same step and loop for both models


def train_step(images, labels, model: keras.Model, optimizer) -> tf.Tensor:
    """One optimizer step on a batch: images (batch, 28, 28), labels (batch,); the batch loss."""
    loss_function = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_function(labels, model(images, training=True))
    variables = model.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss


def train(name: str, model: keras.Model, learning_rate: float, data, args, run) -> TrainingLog:
    """Train ``model`` by Adam on the training digits, with the validation digits measured after
    each epoch; return its log (every batch loss: the loss curve the checker reads)."""
    steps_per_epoch = sequences.steps_per_pass(data.num_train, args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps_per_epoch * args.epochs)
    optimizer = keras.optimizers.Adam(schedule, global_clipnorm=CLIP_NORM)
    step = tf.function(lambda images, labels: train_step(images, labels, model, optimizer))
    batches = sequences.training_batches(data, args.batch_size, args.seed)
    held_out = sequences.validation(data, sequences.logits_function(model), f"the {name} model")
    log = TrainingLog(run, epochs=args.epochs, evaluate=held_out, name=name)
    for epoch in range(args.epochs):
        losses = []
        for images, labels in log.batches(batches):
            losses.append(step(images, labels))
        log.epoch(epoch, loss=losses)
    return log


# %% Main


def main(argv=None) -> dict:
    args = runtime.parse_args(runtime.make_parser(
        "rnn/rnn_mnist", __doc__, epochs=EPOCHS, fast_epochs=EPOCHS_FAST, batch_size=BATCH_SIZE), argv)
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)
    data = sequences.load_mnist(run, TRAIN_SIZE_FAST if args.fast else None)  # images (n, 28, 28)

    rnn = SimpleRNNClassifier(RNN_UNITS)
    shapes.require("rnn_states for 3 digits (through SimpleRNNClassifier.states)",
                   rnn.states(data.x_val[:3]), (3, STEPS, RNN_UNITS))
    shapes.require("the RNN's logits for 3 digits", rnn(data.x_val[:3]), (3, NUM_CLASSES))
    runtime.say(run, f"\nThe simple RNN, by hand: {sequences.count_params(rnn):,} parameters")
    rnn_log = train("rnn", rnn, RNN_LEARNING_RATE, data, args, run)

    lstm = build_lstm(LSTM_UNITS)
    shapes.require("the LSTM's logits for 3 digits", lstm(data.x_val[:3]), (3, NUM_CLASSES))
    if not args.quiet:
        lstm.summary()
    lstm_log = train("lstm", lstm, LSTM_LEARNING_RATE, data, args, run)

    # The pictures: a digit read row by row, and the hidden states of one digit of each class.
    shown = sequences.digits_of_each_class(data)
    states = rnn.states(data.x_test[shown])  # (10, 28, RNN_UNITS)
    answers = tf.nn.softmax(rnn.classifier(states)).numpy()  # what it would say after each row
    sequences.plot_reading(run, data.x_test[shown[2]], 2, answers[2])
    sequences.plot_hidden_states(run, data.x_test[shown], states.numpy(), data.y_test[shown],
                                 rnn.initial_state(1).numpy()[0])
    metrics = sequences.report(run, data, {"rnn": ("simple RNN (by hand)", rnn, rnn_log),
                                           "lstm": ("LSTM (Keras)", lstm, lstm_log)})
    # Every batch's training loss: the checker reads them for NaN, ascent or a stuck loss.
    return {**metrics, **rnn_log.evidence(), "lstm_loss_curve": lstm_log.loss_curve}


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
