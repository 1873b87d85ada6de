# %% [markdown]
"""
Title: One convolution and one max pooling in front of the classifier, with Keras layers

Chapter: convnets (seminar slides 36-40)

Teaches: a convolution (16 learned 5x5 filters slid over the image), ReLU, a 2x2 max pooling, then
    the softmax classifier of the previous chapter on the pooled feature maps; the same model written
    with Keras layers (the slide's "use a layers library"), compiled and trained with model.fit.

Run time: about 30 s on 2 CPU cores (15 s with --fast), plus a few seconds to load TensorFlow and
    MNIST.

Task: fill in the two functions marked TODO: the model and its compilation. It must classify at
least 97.5% of the 10000 test digits after the fast run (two epochs), 98% after the full run.
Check your work with

    python -m seminar check convnets/one_conv
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import math

import keras
import numpy as np

from seminar import digit_plots, mnist_splits, runtime, shapes
from seminar.training_log import TrainingLog

# %% Settings

NUM_CLASSES = 10
# 16 filters of 5x5: the fewest that clear 0.98; twice as many cost twice the time for little.
FILTERS = 16
KERNEL_SIZE = 5
# Adam at 3e-3, decayed to 0 along a cosine over the run; pixels standardised as for LeNet. A
# larger step than LeNet's: one convolution has fewer weights to disturb.
LEARNING_RATE = 3e-3
BATCH_SIZE = 128
EPOCHS = 4
EPOCHS_FAST = 2


# %% The model


def build_model() -> keras.Model:
    """conv (FILTERS filters of KERNEL_SIZE x KERNEL_SIZE, "same" padding, ReLU; 28x28xFILTERS)
    -> max pool 2x2 (14x14xFILTERS) -> flatten -> dense NUM_CLASSES logits (no activation).

    Name the convolution "conv1": the plots look it up by name.
    """
    layers = keras.layers
    # SOLUTION: Return a sequential model of 28x28x1 images: the convolution of the docstring
    #   (ReLU, named "conv1", 28x28 kept), the 2x2 max pooling, then one dense layer on the
    #   flattened maps giving NUM_CLASSES logits, with no activation.
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(FILTERS, KERNEL_SIZE, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(2),  # 14x14xFILTERS
        layers.Flatten(),  # 14 * 14 * FILTERS features
        layers.Dense(NUM_CLASSES),  # logits: the softmax regression of the previous chapter
    ], name="one_conv")
    # END SOLUTION


def compile_model(model: keras.Model, learning_rate) -> None:
    """Compile ``model`` for integer labels: the Adam optimizer with ``learning_rate`` (a number or
    a Keras schedule), the softmax cross-entropy computed from logits, and the accuracy metric."""
    # SOLUTION: Compile the model with Adam at learning_rate, the softmax cross-entropy of
    #   class numbers computed from the logits, and the accuracy metric.
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    # END SOLUTION


# %% Main


def main(argv=None) -> dict:
    args = runtime.parse_args(runtime.make_parser(
        "convnets/one_conv", __doc__, epochs=EPOCHS, fast_epochs=EPOCHS_FAST,
        batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE), argv)
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)

    data = mnist_splits.mnist_splits(standardise=True)  # x: (n, 28, 28, 1) float32; y: (n,) int32
    model = build_model()
    shapes.require("the model's output for 3 images", model(data.x_val[:3]), (3, NUM_CLASSES))
    if not args.quiet:
        model.summary()
    steps_per_epoch = math.ceil(data.num_train / args.batch_size)
    compile_model(model, keras.optimizers.schedules.CosineDecay(args.learning_rate,
                                                                steps_per_epoch * args.epochs))
    if model.optimizer is None:
        raise ValueError("compile_model must call model.compile(...)")

    log = TrainingLog(run, epochs=args.epochs,
                      evaluate=mnist_splits.validation(data, model.predict_on_batch))
    model.fit(data.x_train, data.y_train, batch_size=args.batch_size, epochs=args.epochs,
              callbacks=[log.keras_callback()], verbose=0 if args.quiet else 1)

    metrics = mnist_splits.final_metrics(run, data, log, model.predict_on_batch)  # test digits, once
    digit_plots.final_pictures(run, data, log, metrics["test_predictions"])
    conv = model.get_layer("conv1")
    digit_plots.plot_filters(run, conv.kernel.numpy(), "conv1_filters.png",
                             f"The {conv.filters} filters of the convolution")
    maps = keras.Model(model.inputs, conv.output).predict_on_batch(data.x_test[:1])
    digit_plots.plot_feature_maps(run, data.as_pixels(data.x_test[:1]),
                                  [("conv1", np.asarray(maps)[0])])
    return metrics


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
