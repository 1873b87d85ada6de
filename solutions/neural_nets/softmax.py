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

from seminar import plots, runtime, vision

# %% Settings

NUM_PIXELS = 28 * 28
NUM_CLASSES = 10
# Plain SGD, as on the slides. Pixels are in [0, 1], so a step of 0.5 on the mean loss of 100
# digits is stable. With a constant step the held-out accuracy wandered between 0.915 and 0.925
# from one epoch to the next in trials; decaying the step to 0 along a cosine over the run lets it
# settle at the end (0.924-0.925 on seeds 0-2). Batches of 256 with a step of 1.0 did as well, no
# faster: here a step costs little, and fewer steps per epoch need more epochs.
LEARNING_RATE = 0.5
BATCH_SIZE = 100
EPOCHS = 10
EPOCHS_FAST = 1  # one pass over the 55000 training digits already gives about 0.915


# %% The model: scores = x W + b, p(class | x) = softmax(scores)


def inference(images: tf.Tensor, weights: tf.Variable, bias: tf.Variable) -> tf.Tensor:
    """Return the logits (unnormalised class scores) of a linear model of the pixels.

    ``images`` is (batch, 784), ``weights`` (784, 10), ``bias`` (10,); the result is (batch, 10).
    The softmax is not applied here: the loss and the prediction (argmax) both work on logits.
    """
    # SOLUTION: Return the logits, (batch, 10): each class's score is a weighted sum of the
    #   784 pixels plus that class's bias. No softmax here.
    return tf.matmul(images, weights) + bias
    # END SOLUTION


def cross_entropy(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Mean softmax cross-entropy between ``logits`` (batch, 10) and integer ``labels`` (batch,).

    Compute it from the logits with TensorFlow's fused op rather than as -log(softmax(...)): the
    fused op is stable when a score is large, where the softmax rounds to 0 or 1.
    """
    # SOLUTION: Return one number: the softmax cross-entropy of each image's logits against its
    #   label (a class number), averaged over the batch; stable for large scores.
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    # END SOLUTION


@tf.function
def train_step(images, labels, weights, bias, learning_rate) -> tf.Tensor:
    """One SGD step on a batch: update ``weights`` and ``bias`` in place; return the batch loss."""
    # SOLUTION: Compute the batch loss with the two functions above, its gradient with respect
    #   to both variables, and move each variable one step of size learning_rate against its
    #   gradient, in place. Return the loss.
    with tf.GradientTape() as tape:
        loss = cross_entropy(inference(images, weights, bias), labels)
    gradients = tape.gradient(loss, [weights, bias])
    for variable, gradient in zip([weights, bias], gradients):
        variable.assign_sub(learning_rate * gradient)
    return loss
    # END SOLUTION


def cosine_learning_rate(step: int, total_steps: int) -> float:
    """The step size at ``step``: LEARNING_RATE at the start, 0 at ``total_steps``."""
    return LEARNING_RATE * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))


# %% Plot


def plot_weights(args, weights: np.ndarray):
    """Each class's 784 weights drawn as a 28x28 image: the "template" the class is scored by."""
    plt = plots.pyplot(args)
    fig, axes = plt.subplots(1, NUM_CLASSES, figsize=(13, 1.8))
    limit = float(np.abs(weights).max())
    for digit, ax in enumerate(axes):
        ax.imshow(weights[:, digit].reshape(28, 28), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(str(digit))
        ax.axis("off")
    fig.suptitle("Weights of each class (red: ink there raises the score, blue: lowers it)")
    return plots.save(fig, args, "class_weights.png")


# %% Main


def main(argv=None) -> dict:
    parser = runtime.make_parser(__file__, __doc__, epochs=EPOCHS, fast_epochs=EPOCHS_FAST,
                                 batch_size=BATCH_SIZE)
    vision.add_benchmark_flag(parser)
    args = runtime.parse_args(parser, argv)

    data = vision.mnist_splits(flat=True)  # x: (n, 784) float32 in [0, 1]; y: (n,) int32
    runtime.say(args, f"MNIST: {data.num_train} training, {len(data.x_val)} validation, "
                      f"{len(data.x_test)} test digits")
    # No .prefetch(): a step of this model takes well under a millisecond, so a background thread
    # that prepares the next batch only competes for the CPU (measured: slower on 2 cores).
    dataset = (tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
               .shuffle(data.num_train, seed=args.seed, reshuffle_each_iteration=True)
               .batch(args.batch_size))

    # Zeros are a fine start for a linear model (the loss is convex); a network needs random ones.
    weights = tf.Variable(tf.zeros((NUM_PIXELS, NUM_CLASSES)), name="weights")  # (784, 10)
    bias = tf.Variable(tf.zeros((NUM_CLASSES,)), name="bias")  # (10,)
    scores = inference(tf.constant(data.x_val[:3]), weights, bias)
    if tuple(scores.shape) != (3, NUM_CLASSES):
        raise ValueError(f"inference must return logits of shape (batch, {NUM_CLASSES}), got {tuple(scores.shape)}")

    def predict(images):
        return inference(tf.constant(images), weights, bias)

    clock = vision.EpochClock(args, data, predict)
    writer = runtime.tensorboard_writer(args)
    steps_per_epoch = math.ceil(data.num_train / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    step = 0
    loss_curve = []  # every batch's loss: the checker reads it for NaN, ascent or a stuck loss
    for epoch in range(args.epochs):
        progress = vision.ProgressBar(args, steps_per_epoch, epoch, args.epochs)
        losses = []  # the batch losses, as tensors: reading each one would wait for every step
        clock.start()
        for batch, (images, labels) in enumerate(dataset, start=1):
            rate = tf.constant(cosine_learning_rate(step, total_steps), dtype=tf.float32)
            losses.append(train_step(images, labels, weights, bias, rate))
            step += 1
            progress.update(batch, losses)
        epoch_seconds = clock.stop()
        vision.end_of_epoch(args, clock, writer, epoch, epoch_seconds, losses)
        loss_curve += [float(loss) for loss in losses]

    metrics = vision.test_and_report(args, data, clock, predict)
    metrics["loss_curve"] = loss_curve
    plot_weights(args, weights.numpy())
    return metrics


if __name__ == "__main__":
    runtime.print_metrics(main())
