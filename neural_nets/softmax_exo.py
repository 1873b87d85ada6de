# %% [markdown]
"""
Title: Softmax regression on MNIST: logits, softmax cross-entropy, mini-batch SGD

Chapter: neural_nets (seminar slides 19-27)

Teaches: multinomial logistic regression written by hand: the weights as tf.Variables, the logits
    x W + b, the softmax cross-entropy computed from logits, and a mini-batch SGD step with
    tf.GradientTape inside a tf.function, over a shuffled tf.data pipeline of 28x28 digits.

Run time: about 12 s (4 s with --fast), plus a few seconds to load TensorFlow and MNIST.

Task: fill in the three functions marked TODO: the inference function, the loss and the training
step. The model must classify at least 90% of the 10000 test digits after the fast run (one
epoch), 92% after the full run. Check your work with

    python -m seminar check neural_nets/softmax
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import math

import numpy as np
import tensorflow as tf

from seminar import digit_plots, mnist_splits, plots, runtime, shapes
from seminar.training_log import TrainingLog

# %% Settings

NUM_PIXELS = 28 * 28
NUM_CLASSES = 10
# Plain SGD, as on the slides. Pixels are in [0, 1], so a step of 0.5 on the mean loss of 100
# digits is stable; decaying it to 0 along a cosine lets the accuracy settle instead of wandering.
LEARNING_RATE = 0.5
BATCH_SIZE = 100
EPOCHS = 10
EPOCHS_FAST = 1  # one pass over the 55000 training digits is enough for the fast check


# %% The model
# scores = x W + b, p(class | x) = softmax(scores)


def inference(images: tf.Tensor, weights: tf.Variable, bias: tf.Variable) -> tf.Tensor:
    """Return the logits (unnormalised class scores) of a linear model of the pixels.

    ``images`` is (batch, 784), ``weights`` (784, 10), ``bias`` (10,); the result is (batch, 10).
    The softmax is not applied here: the loss and the prediction (argmax) both work on logits.
    """
    # TODO: Return the logits, (batch, 10): each class's score is a weighted sum of the
    #   784 pixels plus that class's bias. No softmax here.
    raise NotImplementedError('TODO in inference() (for a hint: python -m seminar hint neural_nets/softmax)')


def cross_entropy(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Mean softmax cross-entropy between ``logits`` (batch, 10) and integer ``labels`` (batch,).

    Compute it from the logits with TensorFlow's fused op rather than as -log(softmax(...)): the
    fused op is stable when a score is large, where the softmax rounds to 0 or 1.
    """
    # TODO: Return one number: the softmax cross-entropy of each image's logits against its
    #   label (a class number), averaged over the batch; stable for large scores.
    raise NotImplementedError('TODO in cross_entropy() (for a hint: python -m seminar hint neural_nets/softmax)')


@tf.function
def train_step(images, labels, weights, bias, learning_rate) -> tf.Tensor:
    """One SGD step on a batch: update ``weights`` and ``bias`` in place; return the batch loss."""
    # TODO: Compute the batch loss with the two functions above, its gradient with respect
    #   to both variables, and move each variable one step of size learning_rate against its
    #   gradient, in place. Return the loss.
    raise NotImplementedError('TODO in train_step() (for a hint: python -m seminar hint neural_nets/softmax)')


def cosine_learning_rate(step: int, total_steps: int) -> float:
    """The step size at ``step``: LEARNING_RATE at the start, 0 at ``total_steps``."""
    return LEARNING_RATE * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))


# %% Plot


def plot_weights(run, weights: np.ndarray):
    """Each class's 784 weights drawn as a 28x28 image: the "template" the class is scored by."""
    plt = plots.pyplot(run)
    fig, axes = plt.subplots(1, NUM_CLASSES, figsize=(13, 1.8))
    limit = float(np.abs(weights).max())
    for digit, ax in enumerate(axes):
        ax.imshow(weights[:, digit].reshape(28, 28), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(str(digit))
        ax.axis("off")
    fig.suptitle("Weights of each class (red: ink there raises the score, blue: lowers it)")
    return plots.save(fig, run, "class_weights.png")


# %% Main


def main(argv=None) -> dict:
    args = runtime.parse_args(runtime.make_parser(
        "neural_nets/softmax", __doc__, epochs=EPOCHS, fast_epochs=EPOCHS_FAST,
        batch_size=BATCH_SIZE), argv)
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)

    data = mnist_splits.mnist_splits(flat=True)  # x: (n, 784) float32 in [0, 1]; y: (n,) int32
    # No .prefetch(): a step of this model takes well under a millisecond, so a background thread
    # that prepares the next batch only competes for the CPU (measured: slower on 2 cores).
    dataset = (tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
               .shuffle(data.num_train, seed=args.seed, reshuffle_each_iteration=True)
               .batch(args.batch_size))

    # Zeros are a fine start for a linear model (the loss is convex); a network needs random ones.
    weights = tf.Variable(tf.zeros((NUM_PIXELS, NUM_CLASSES)), name="weights")  # (784, 10)
    bias = tf.Variable(tf.zeros((NUM_CLASSES,)), name="bias")  # (10,)
    shapes.require("inference() for 3 images", inference(data.x_val[:3], weights, bias),
                   (3, NUM_CLASSES))

    def predict(images):
        return inference(tf.constant(images), weights, bias)

    log = TrainingLog(run, epochs=args.epochs, evaluate=mnist_splits.validation(data, predict))
    total_steps = math.ceil(data.num_train / args.batch_size) * args.epochs
    step = 0
    for epoch in range(args.epochs):
        losses = []
        for images, labels in log.batches(dataset):
            rate = tf.constant(cosine_learning_rate(step, total_steps), dtype=tf.float32)
            losses.append(train_step(images, labels, weights, bias, rate))
            step += 1
        log.epoch(epoch, loss=losses)

    plot_weights(run, weights.numpy())
    metrics = mnist_splits.final_metrics(run, data, log, predict)  # the 10000 test digits, once
    digit_plots.final_pictures(run, data, log, metrics["test_predictions"])
    return metrics


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
