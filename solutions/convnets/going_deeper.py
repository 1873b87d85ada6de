# %% [markdown]
"""
Title: Going deeper on Fashion-MNIST: an Inception-style network with batch normalisation

Chapter: convnets (seminar slides 41-42)

Teaches: the parts of GoogLeNet-style networks built with the Keras functional API: convolution +
    batch normalisation + ReLU blocks, an Inception module (parallel 1x1, 3x3, 5x5 and pooling
    branches with 1x1 reductions, concatenated on channels), global average pooling instead of a
    large dense layer, dropout; compared side by side with LeNet-5 on the same clothes (test
    accuracy, parameters, seconds per epoch).

Run time: about 2 minutes on 2 CPU cores (20 s with --fast), plus a few seconds to load TensorFlow
    and Fashion-MNIST.

Task: fill in the three functions marked TODO: the convolution block, the Inception module and the
deeper network. LeNet-5 stalls near 0.90 on Fashion-MNIST; the deeper network, with fewer
parameters, must beat it on the same images and epochs. The trained network is saved to
<output-dir>/going_deeper.keras. Check your work with

    python -m seminar check convnets/going_deeper
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import keras

from seminar import deeper, runtime, shapes

# %% Settings

NUM_CLASSES = 10
STEM_FILTERS = (16, 32)  # two 3x3 conv blocks, each followed by 2x2 max pooling: 28x28 -> 7x7
# Filters of an Inception module's branches: (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj).
INCEPTION_1 = (24, 24, 32, 8, 16, 16)  # 7x7x32 -> 7x7x88
INCEPTION_2 = (32, 32, 48, 8, 16, 24)  # 7x7x88 -> 7x7x120
# Batch normalisation keeps moving averages of each channel's mean and variance for test time.
# Keras's default momentum (0.99) needs several hundred steps to forget their initial values, more
# than a short run takes; 0.9 forgets them within a few dozen.
BN_MOMENTUM = 0.9
DROPOUT = 0.3
LEARNING_RATE = 3e-3  # Adam, decayed to 0 along a cosine (the same for LeNet-5)
BATCH_SIZE = 128
EPOCHS = 5
EPOCHS_FAST = 2
TRAIN_SIZE_FAST = 16000  # of the 55000 training images (5000 more are held out for validation)

layers = keras.layers


# %% The parts


def conv_block(x, filters: int, size: int):
    """A size x size convolution with ``filters`` filters, batch normalisation (moving averages of
    momentum BN_MOMENTUM), then ReLU; the spatial size is kept (x: (batch, h, w, c) -> (batch, h,
    w, filters)), and no output is negative."""
    # SOLUTION: Return (batch, h, w, filters): a convolution that keeps h x w (a bias is useless
    #   before the normalisation), each channel normalised over the batch, rectified last.
    x = layers.Conv2D(filters, size, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    return layers.Activation("relu")(x)
    # END SOLUTION


def inception_module(x, filters: tuple):
    """An Inception module (slide 41): four branches side by side on the same input x (batch, h, w,
    c), their outputs concatenated on the channel axis: (batch, h, w, f1 + f3 + f5 + fpool).

    ``filters = (f1, f3_reduce, f3, f5_reduce, f5, fpool)``. Every convolution is a conv_block:
    1x1 (f1); 1x1 (f3_reduce) then 3x3 (f3); 1x1 (f5_reduce) then 5x5 (f5); 3x3 max pooling of
    stride 1, then 1x1 (fpool).
    """
    f1, f3_reduce, f3, f5_reduce, f5, fpool = filters
    # SOLUTION: Build the four branches, each reading the same x and keeping h x w (the pooling
    #   too), then stack their outputs so that the channels add up to f1 + f3 + f5 + fpool.
    branch_1 = conv_block(x, f1, 1)
    branch_3 = conv_block(conv_block(x, f3_reduce, 1), f3, 3)
    branch_5 = conv_block(conv_block(x, f5_reduce, 1), f5, 5)
    pooled = layers.MaxPooling2D(3, strides=1, padding="same")(x)
    branch_pool = conv_block(pooled, fpool, 1)
    return layers.Concatenate(axis=-1)([branch_1, branch_3, branch_5, branch_pool])
    # END SOLUTION


def build_deeper() -> keras.Model:
    """Images (batch, 28, 28, 1) with pixels already in [0, 1] (divided by 255 when the data is
    loaded, not by the model) -> logits (batch, 10):

    stem: conv_block STEM_FILTERS[0] 3x3 -> max pool 2x2 -> conv_block STEM_FILTERS[1] 3x3 -> max
    pool 2x2 (7x7x32) -> inception_module INCEPTION_1 (7x7x88) -> inception_module INCEPTION_2
    (7x7x120) -> global average pooling named "features" (120) -> dropout DROPOUT -> dense logits.
    """
    # SOLUTION: The functional model of the docstring, (batch, 28, 28, 1) -> (batch, 10): only the
    #   stem's poolings shrink the maps; "features" averages each of the 120 channels over the 7x7
    #   positions; the logits have no activation.
    inputs = keras.Input(shape=(28, 28, 1))
    x = conv_block(inputs, STEM_FILTERS[0], 3)  # 28x28x16
    x = layers.MaxPooling2D(2)(x)  # 14x14x16
    x = conv_block(x, STEM_FILTERS[1], 3)  # 14x14x32
    x = layers.MaxPooling2D(2)(x)  # 7x7x32
    x = inception_module(x, INCEPTION_1)  # 7x7x88
    x = inception_module(x, INCEPTION_2)  # 7x7x120
    x = layers.GlobalAveragePooling2D(name="features")(x)  # 120
    x = layers.Dropout(DROPOUT)(x)
    logits = layers.Dense(NUM_CLASSES)(x)
    return keras.Model(inputs, logits, name="deeper")
    # END SOLUTION


# %% Main


def main(argv=None) -> dict:
    parser = runtime.make_parser("convnets/going_deeper", __doc__, epochs=EPOCHS,
                                 fast_epochs=EPOCHS_FAST, batch_size=BATCH_SIZE,
                                 learning_rate=LEARNING_RATE)
    parser.add_argument("--train-size", type=runtime.positive_int, default=None,
                        help=f"training images (default all 55000, {TRAIN_SIZE_FAST} with --fast)")
    args = runtime.parse_args(parser, argv)
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)

    # Images (n, 28, 28, 1) float32, pixel / 255 in [0, 1]; labels (n,) int32 0..9.
    data = deeper.fashion_splits(train_size=args.train_size or (TRAIN_SIZE_FAST if args.fast else None))
    runtime.say(run, f"Fashion-MNIST: {data.num_train} training, {len(data.x_val)} validation, "
                     f"{len(data.x_test)} test images; pixels {data.scale}")

    model = build_deeper()
    shapes.require("the network's logits for 3 images", model(data.x_val[:3]), (3, 10))
    if not args.quiet:
        model.summary(line_length=100)

    # The baseline first: LeNet-5 on the same images, epochs and learning-rate schedule.
    settings = dict(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate)
    lenet = deeper.build_lenet()
    lenet_log = deeper.train(run, lenet, data, "lenet", **settings)
    log = deeper.train(run, model, data, "inception", **settings)

    path = run.path("going_deeper.keras")
    model.save(path)
    runtime.say(run, f"Saved the trained network to {path}")
    return deeper.report(run, data, model, log, lenet, lenet_log)


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
