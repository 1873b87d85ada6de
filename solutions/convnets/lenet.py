# %% [markdown]
"""
Title: LeNet-5 on MNIST with Keras

Chapter: convnets (seminar slides 41-48)

Teaches: LeNet-5 built from Keras layers (two 5x5 convolutions with max pooling, then three dense
    layers), compiled and trained with model.fit; what its first convolution learns (its filters)
    and what each convolution makes of one digit (feature maps, read through a second Keras model
    that shares the layers).

Run time: about 55 s on 2 CPU cores (20 s with --fast), plus a few seconds to load TensorFlow and
    MNIST.

Task: fill in the two functions marked TODO: the LeNet-5 model and the model that returns the
feature maps. The network must classify at least 98% of the 10000 test digits after the fast run
(two epochs), 98.8% after the full run. Check your work with

    python -m seminar check convnets/lenet
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
# Adam at 2e-3 decayed to 0 along a cosine. Pixels are standardised (mean 0, deviation 1 over the
# training images): inputs centred on 0 make the first steps better conditioned.
LEARNING_RATE = 2e-3
BATCH_SIZE = 128
# Label smoothing (the target is 0.91 for the true class, 0.01 for the others) keeps the logits
# from growing without end once the training digits are all right.
LABEL_SMOOTHING = 0.1
EPOCHS = 6
EPOCHS_FAST = 2


# %% The model


def build_lenet() -> keras.Model:
    """LeNet-5 for 28x28x1 digits, with today's ReLU and max pooling:

    conv 6 filters 5x5 ("same" padding: 28x28x6) -> max pool 2x2 (14x14x6)
    -> conv 16 filters 5x5 ("valid": 10x10x16) -> max pool 2x2 (5x5x16) -> flatten (400)
    -> dense 120 ReLU -> dense 84 ReLU -> dense 10 (logits, no activation).

    Name the two convolutions "conv1" and "conv2": the plots look them up by name.
    """
    layers = keras.layers
    # SOLUTION: Return LeNet-5 as a sequential model of 28x28x1 images: two stages of a ReLU
    #   convolution and a 2x2 max pooling (28x28x6 -> 14x14x6, then 10x10x16 -> 5x5x16), then the
    #   400 flattened values through dense layers of 120 and 84 ReLU units to 10 logits.
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(6, 5, padding="same", activation="relu", name="conv1"),  # 28x28x6
        layers.MaxPooling2D(2),  # 14x14x6
        layers.Conv2D(16, 5, activation="relu", name="conv2"),  # 10x10x16
        layers.MaxPooling2D(2),  # 5x5x16
        layers.Flatten(),  # 400
        layers.Dense(120, activation="relu"),
        layers.Dense(84, activation="relu"),
        layers.Dense(NUM_CLASSES),  # logits
    ], name="lenet5")
    # END SOLUTION


def feature_map_model(model: keras.Model) -> keras.Model:
    """A model with the same input as ``model`` whose outputs are the outputs of the layers named
    "conv1" and "conv2" (after their ReLU): a list of two arrays (batch, 28, 28, 6), (batch, 10, 10, 16).
    It shares the trained layers, so nothing is trained again."""
    # SOLUTION: Return a model with the same inputs as ``model`` whose two outputs are those of
    #   its layers "conv1" and "conv2": no new layer, nothing to train.
    return keras.Model(inputs=model.inputs,
                       outputs=[model.get_layer(name).output for name in ("conv1", "conv2")])
    # END SOLUTION


# %% Main


def main(argv=None) -> dict:
    args = runtime.parse_args(runtime.make_parser(
        "convnets/lenet", __doc__, epochs=EPOCHS, fast_epochs=EPOCHS_FAST,
        batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE), argv)
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)

    data = mnist_splits.mnist_splits(standardise=True)  # x: (n, 28, 28, 1) float32; y: (n,) int32
    model = build_lenet()
    shapes.require("the model's output for 3 images", model(data.x_val[:3]), (3, NUM_CLASSES))
    if not args.quiet:
        model.summary()
    steps_per_epoch = math.ceil(data.num_train / args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, steps_per_epoch * args.epochs)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True,
                                                            label_smoothing=LABEL_SMOOTHING),
                  metrics=["accuracy"])

    log = TrainingLog(run, epochs=args.epochs,
                      evaluate=mnist_splits.validation(data, model.predict_on_batch))
    one_hot = keras.utils.to_categorical(data.y_train, NUM_CLASSES)  # label smoothing needs rows
    model.fit(data.x_train, one_hot, batch_size=args.batch_size, epochs=args.epochs,
              callbacks=[log.keras_callback()], verbose=0 if args.quiet else 1)

    metrics = mnist_splits.final_metrics(run, data, log, model.predict_on_batch)  # test digits, once
    digit_plots.final_pictures(run, data, log, metrics["test_predictions"])
    digit_plots.plot_filters(run, model.get_layer("conv1").kernel.numpy(), "conv1_filters.png",
                             "LeNet-5: the 6 filters of the first convolution")
    maps = feature_map_model(model).predict_on_batch(data.x_test[:1])
    if len(maps) != 2:
        raise ValueError(f"feature_map_model must have two outputs (conv1, conv2), got {len(maps)}")
    digit_plots.plot_feature_maps(run, data.as_pixels(data.x_test[:1]),
                                  [("conv1", np.asarray(maps[0])[0]), ("conv2", np.asarray(maps[1])[0])])
    return metrics


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
