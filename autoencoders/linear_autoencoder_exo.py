# %% [markdown]
"""
Title: A linear autoencoder finds the principal subspace (PCA)

Chapter: autoencoders (seminar slide 55)

Teaches: with a linear encoder and a linear decoder (no hidden layer, no activation) trained on
    centred images, the best reconstruction of a k-number code is PCA's: the decoder's k directions
    come to span the top-k principal subspace, though they are not the principal components
    themselves (any invertible mixing of the code reconstructs as well); gradient descent gets
    there, at a speed set by the gap between the k-th and the (k+1)-th eigenvalues.

Run time: about 30 s (14 s with --fast) on 2 CPU cores, plus a few seconds to load TensorFlow and
    MNIST.

Task: fill in the three functions marked TODO: the initial weights, the reconstruction and the
training step. After the fast run the decoder's span must lie within a few degrees of the top-12
principal subspace and the test error be within 1% of PCA's. Check your work with

    python -m seminar check autoencoders/linear_autoencoder

Why centred images. A linear autoencoder reconstructs x as x W_enc W_dec, a point of the span of the
decoder's k rows. On images centred by the mean training image, the error is smallest when that
span is the top-k principal subspace of the centred images (the span of the k leading eigenvectors
of their covariance): this is PCA, and gradient descent reaches it (the other stationary points are
saddles). On raw images, without biases, the best span would instead follow the eigenvectors of the
uncentred second moments, pulled towards the mean image: not PCA's subspace. Biases b_enc and b_dec
would learn the centring themselves (in a trial, with biases on raw images, the decoder's span came
as close to PCA's in as many steps). Here main() centres the images instead, so the reconstruction
of an image x is mean + ((x - mean) W_enc) W_dec.
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import math

import keras
import tensorflow as tf

from seminar import autoencoding, runtime, shapes
from seminar.training_log import TrainingLog

# %% Settings

NUM_PIXELS = 28 * 28
# k = 12: the eigenvalue gap after the 12th component (1.066 -> 0.906, 18%) is among the widest for
# k between 8 and 16, so the 12-dimensional principal subspace is well defined and quick to find.
CODE_SIZE = 12
INIT_STDDEV = 0.01
# Adam at 1e-2 decayed to 0 along a cosine over the run, on batches of 512 centred images: the
# gradient's noise keeps the decoder's span a few degrees off PCA's until the rate decays.
LEARNING_RATE = 1e-2
BATCH_SIZE = 512
STEPS = 6000  # about 56 passes over the 55000 training images (18.6 with --fast)
STEPS_FAST = 2000


# %% The linear autoencoder
# code = x W_enc (batch, k), reconstruction = code W_dec (batch, 784)


def init_weights(code_size: int, seed: int) -> tuple[tf.Variable, tf.Variable]:
    """Return the encoder's matrix W_enc (784, code_size) and the decoder's W_dec (code_size, 784),
    as tf.Variables drawn from a normal distribution of standard deviation INIT_STDDEV.

    Not zeros: at W_enc = W_dec = 0 the gradients are zero too (each is a product with the other
    matrix) and training would never start."""
    generator = tf.random.Generator.from_seed(seed)
    # TODO: Two trainable variables of shapes (784, code_size) and (code_size, 784), small
    #   random normal values (standard deviation INIT_STDDEV) drawn from generator.
    raise NotImplementedError('TODO in init_weights() (for a hint: python -m seminar hint autoencoders/linear_autoencoder)')


def reconstruct_centred(centred: tf.Tensor, w_enc, w_dec) -> tf.Tensor:
    """Reconstruct centred images (batch, 784) through the linear code (batch, code_size): the
    reconstruction (batch, 784), centred too (its values are not confined to [0, 1])."""
    # TODO: Encode to (batch, code_size) with w_enc, decode back to (batch, 784) with w_dec:
    #   linear maps only, no bias and no activation.
    raise NotImplementedError('TODO in reconstruct_centred() (for a hint: python -m seminar hint autoencoders/linear_autoencoder)')


def train_step(centred, w_enc, w_dec, optimizer) -> tf.Tensor:
    """One optimizer step on both matrices for a batch of centred images (batch, 784). Return the
    batch loss (a scalar, as it was before the step): the squared reconstruction error averaged
    over the images and the pixels. main() runs it compiled, as a TensorFlow graph (tf.function)."""
    # TODO: Measure how far the batch's reconstructions are from the centred batch itself, then
    #   take one optimizer step that moves both matrices.
    raise NotImplementedError('TODO in train_step() (for a hint: python -m seminar hint autoencoders/linear_autoencoder)')


# %% Main


def main(argv=None) -> dict:
    parser = runtime.make_parser("autoencoders/linear_autoencoder", __doc__, batch_size=BATCH_SIZE,
                                 learning_rate=LEARNING_RATE)
    parser.add_argument("--steps", type=runtime.positive_int, default=None,
                        help=f"training steps (default {STEPS}, {STEPS_FAST} with --fast)")
    args = runtime.parse_args(parser, argv)
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)
    steps = args.steps or (STEPS_FAST if args.fast else STEPS)
    data = autoencoding.load_mnist(run)

    pca = autoencoding.fit_pca(data.x_train, CODE_SIZE)  # with TensorFlow: the optimum to reach
    mean = pca.mean  # the mean training image (784,)
    centred_train = data.x_train - mean
    w_enc, w_dec = init_weights(CODE_SIZE, args.seed)
    shapes.require("init_weights' encoder matrix", w_enc, (NUM_PIXELS, CODE_SIZE))
    shapes.require("init_weights' decoder matrix", w_dec, (CODE_SIZE, NUM_PIXELS))
    shapes.require("reconstruct_centred's output for 3 images",
                   reconstruct_centred(centred_train[:3], w_enc, w_dec), (3, NUM_PIXELS))

    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, steps)
    optimizer = keras.optimizers.Adam(schedule)
    # train_step as one compiled graph for these matrices and this optimizer: a tf.function of a
    # closure over them.
    step = tf.function(lambda centred: train_step(centred, w_enc, w_dec, optimizer))
    batches = autoencoding.training_batches(centred_train, args.batch_size, args.seed)
    steps_per_epoch = autoencoding.steps_per_pass(data.num_train, args.batch_size)
    # After each epoch the log measures how far the decoder's span and the error are from PCA's.
    log = TrainingLog(run, epochs=math.ceil(steps / steps_per_epoch),
                      evaluate=autoencoding.distance_to_pca(pca, w_enc, w_dec))
    runtime.say(run, f"{steps} steps of Adam on batches of {args.batch_size} centred images, "
                     f"code size {CODE_SIZE}")
    for epoch in range(log.epochs):
        losses = []
        # A pass over the images, or what is left of `steps` in the last epoch.
        for centred in log.batches(batches.take(steps - epoch * steps_per_epoch)):
            losses.append(step(centred))
        log.epoch(epoch, loss=losses)

    def encode(images):  # (n, 784) -> codes (n, CODE_SIZE)
        return tf.matmul(images - mean, w_enc).numpy()

    def decode(codes):  # (n, CODE_SIZE) -> images (n, 784)
        return (tf.matmul(codes, w_dec) + mean).numpy()

    metrics = autoencoding.report(run, data, encode, decode, CODE_SIZE, log,
                                  name="linear autoencoder", pca=pca)
    angle = metrics["largest_angle_degrees"]
    runtime.say(run, f"Largest principal angle between the decoder's span and PCA's: {angle:.3f} degrees")
    autoencoding.plot_directions(run, w_dec.numpy(), pca, angle)
    autoencoding.plot_subspace_curves(run, log)
    # More evidence: the decoder's directions, and the mean it reconstructs around.
    return {**metrics, "decoder_weights": w_dec.numpy(), "mean": mean}


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
