# %% [markdown]
"""
Variant of solutions/convnets/one_conv.py (see benchmarks/variants/README.md): the model built
with the Keras functional API instead of keras.Sequential, the feature maps flattened by a
Reshape layer; the loss given to compile as a plain function (keras.losses.
sparse_categorical_crossentropy with from_logits=True) and the accuracy as a metric object.

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
# 16 filters of 5x5: 8 stayed under 0.98 after 3 epochs (0.979 on the test digits); 32 gained
# 0.1-0.2% for twice the time per epoch.
FILTERS = 16
KERNEL_SIZE = 5
# Adam at 3e-3, decayed to 0 along a cosine over the run; pixels standardised as for LeNet. On the
# validation digits after the fast run's 2 epochs: 0.982-0.984 at 3e-3 against 0.980-0.981 at 2e-3.
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
    # The functional API: each layer called on the previous one's output.
    images = keras.Input(shape=(28, 28, 1), name="images")
    maps = layers.Conv2D(filters=FILTERS, kernel_size=(KERNEL_SIZE, KERNEL_SIZE), padding="same",
                         activation=keras.activations.relu, name="conv1")(images)  # 28x28xFILTERS
    pooled = layers.MaxPool2D(pool_size=(2, 2), strides=(2, 2))(maps)  # 14x14xFILTERS
    features = layers.Reshape((14 * 14 * FILTERS,))(pooled)
    logits = layers.Dense(NUM_CLASSES, name="logits")(features)
    return keras.Model(inputs=images, outputs=logits, name="one_conv_functional")


def compile_model(model: keras.Model, learning_rate) -> None:
    """Compile ``model`` for integer labels: the Adam optimizer with ``learning_rate`` (a number or
    a Keras schedule), the softmax cross-entropy computed from logits, and the accuracy metric."""
    # A loss function of (labels, predictions) works as well as a loss object; Keras averages it.
    def cross_entropy(labels, logits):
        return keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=cross_entropy,
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])


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

    metrics = digit_plots.final_report(run, data, log, model.predict_on_batch)
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
