# %% [markdown]
"""
A correct solution written differently from solutions/autoencoders/autoencoder.py, swept to show
that the thresholds do not depend on one implementation (see benchmarks/variants/README.md).

Title: A dense autoencoder on MNIST: encode to 32 numbers, decode back (a variant solution)

Chapter: autoencoders (seminar slides 52-54)

Teaches: an autoencoder predicts its input from its input through a bottleneck: an encoder f
    (784 -> 256 -> 32) and a decoder g (32 -> 256 -> 784, sigmoid pixels), two Keras networks
    trained together by mini-batch Adam on the mean squared error, in a tf.GradientTape step; it
    compresses better than PCA, the best linear code of the same size.

Run time: about 50 s (12 s with --fast) on 2 CPU cores, plus a few seconds to load TensorFlow and
    MNIST.

Task: fill in the three functions marked TODO: the encoder, the decoder and the training step. On
the 10000 test digits, the reconstruction error must fall far below that of the mean training
image after the fast run (four epochs), and below PCA's with 32 components after the full run.
Check your work with

    python -m seminar check autoencoders/autoencoder
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import keras
import tensorflow as tf

from seminar import autoencoding, runtime, shapes
from seminar.training_log import TrainingLog

# %% Settings

NUM_PIXELS = 28 * 28
CODE_SIZE = 32  # the bottleneck: each digit is squeezed into 32 numbers (784 / 32 = 24.5 times fewer)
HIDDEN_UNITS = 256
# Adam at 5e-3 decayed to 0 along a cosine over the run (3e-3 was 10% worse after four epochs).
LEARNING_RATE = 5e-3
BATCH_SIZE = 128
EPOCHS = 20
EPOCHS_FAST = 4


class TwoLayers(keras.Model):
    """x -> relu(x W1 + b1) W2 + b2, then ``output`` (an activation, or None)."""

    def __init__(self, inputs: int, hidden: int, outputs: int, output=None, **kwargs):
        super().__init__(**kwargs)
        glorot = keras.initializers.GlorotUniform()
        self.w1 = self.add_weight(shape=(inputs, hidden), initializer=glorot, name="w1")
        self.b1 = self.add_weight(shape=(hidden,), initializer="zeros", name="b1")
        self.w2 = self.add_weight(shape=(hidden, outputs), initializer=glorot, name="w2")
        self.b2 = self.add_weight(shape=(outputs,), initializer="zeros", name="b2")
        self.output_activation = output

    def call(self, x, training=False):
        hidden = tf.nn.relu(tf.matmul(x, self.w1) + self.b1)
        values = tf.matmul(hidden, self.w2) + self.b2
        return values if self.output_activation is None else self.output_activation(values)


# %% The autoencoder
# code = f(x), reconstruction = g(code)


def build_encoder(code_size: int) -> keras.Model:
    """f: images (batch, 784), pixels in [0, 1] -> codes (batch, code_size), any real numbers."""
    layers = keras.layers
    # Variant: a subclassed keras.Model holding its own weight matrices (Glorot-uniform), instead
    # of keras.Sequential and Dense layers.
    return TwoLayers(NUM_PIXELS, HIDDEN_UNITS, code_size, output=None, name="encoder")


def build_decoder(code_size: int) -> keras.Model:
    """g: codes (batch, code_size) -> reconstructed images (batch, 784), every pixel in (0, 1)."""
    layers = keras.layers
    return TwoLayers(code_size, HIDDEN_UNITS, NUM_PIXELS, output=tf.sigmoid, name="decoder")


def train_step(images, encoder, decoder, optimizer) -> tf.Tensor:
    """One optimizer step on a batch of images (batch, 784) for both networks. Return the batch
    loss (a scalar, as it was before the step): the squared reconstruction error averaged over
    the images and the pixels. main() runs it compiled, as a TensorFlow graph (tf.function)."""
    # Variant: the loss summed over pixels and averaged over images (784x the mean; Adam does not
    # mind the scale), the gradients taken for a dict of both networks' variables.
    with tf.GradientTape() as tape:
        reconstructions = decoder(encoder(images, training=True), training=True)
        per_image = tf.reduce_sum((reconstructions - images) ** 2, axis=1)
        loss = tf.reduce_mean(per_image)
    variables = {"f": encoder.trainable_variables, "g": decoder.trainable_variables}
    gradients = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(gradients["f"] + gradients["g"], variables["f"] + variables["g"]))
    return loss / NUM_PIXELS


# %% Main


def main(argv=None) -> dict:
    args = runtime.parse_args(runtime.make_parser(
        "autoencoders/autoencoder", __doc__, epochs=EPOCHS, fast_epochs=EPOCHS_FAST,
        batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE), argv)
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)
    data = autoencoding.load_mnist(run)  # x_train (55000, 784), x_val, x_test: pixels in [0, 1]

    encoder, decoder = build_encoder(CODE_SIZE), build_decoder(CODE_SIZE)
    codes = encoder(data.x_val[:3])
    shapes.require("the encoder's output for 3 images", codes, (3, CODE_SIZE))
    shapes.require("the decoder's output for 3 codes", decoder(codes), (3, NUM_PIXELS))
    if not args.quiet:
        encoder.summary()
        decoder.summary()

    def encode(images):  # f(x): float32 images (n, 784) -> codes (n, CODE_SIZE)
        return encoder(images, training=False).numpy()

    def decode(codes):  # g(code): codes (n, CODE_SIZE) -> images (n, 784)
        return decoder(codes, training=False).numpy()

    def reconstruct(images):
        return decode(encode(images))

    steps_per_epoch = autoencoding.steps_per_pass(data.num_train, args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, steps_per_epoch * args.epochs)
    optimizer = keras.optimizers.Adam(schedule)
    # train_step as one compiled graph for these networks and this optimizer: a tf.function of a
    # closure over them (Keras objects are not tf.function arguments).
    step = tf.function(lambda images: train_step(images, encoder, decoder, optimizer))
    batches = autoencoding.training_batches(data.x_train, args.batch_size, args.seed)
    log = TrainingLog(run, epochs=args.epochs, evaluate=autoencoding.validation(data.x_val, reconstruct))
    for epoch in range(args.epochs):
        losses = []
        for images in log.batches(batches):
            losses.append(step(images))
        log.epoch(epoch, loss=losses)

    return autoencoding.report(run, data, encode, decode, CODE_SIZE, log)


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
