"""Fashion-MNIST plumbing for ``convnets/going_deeper``: the data, the LeNet-5 baseline trained on the
same images, the training loop both networks share, the side-by-side report, the pictures and the
checker's measure. The exercise file keeps only the lesson: the Inception module and the deeper
network built from it.

    data = deeper.fashion_splits(train_size=12000)      # pixels / 255, (n, 28, 28, 1) float32
    lenet, lenet_run = deeper.train_lenet(args, data)   # the baseline, same data, same epochs
    run = deeper.train(args, model, data, "deeper")     # compile + model.fit, timed per epoch
    metrics = deeper.report(args, data, model, run, lenet, lenet_run)

Pixels are ``pixel / 255`` in [0, 1] and nothing else: the deeper network normalises inside (batch
normalisation after its first convolution), and the ``classify`` function main() returns takes
those same [0, 1] images, so the checker needs to know no statistics of the training set.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import pathlib

import numpy as np

from seminar import plots, runtime, vision
from seminar.measures import Context, EvidenceError

NUM_CLASSES = 10
SIDE = 28
# The same fixed split as MNIST's (vision.SPLIT_SEED): 5000 of the 60000 training images held out
# for validation whatever the run's seed; the 10000 test images are measured once, at the end.
VALIDATION_SIZE = vision.VALIDATION_SIZE
SPLIT_SEED = vision.SPLIT_SEED
MEASURE_BATCH = 2000


def class_names() -> tuple[str, ...]:
    from datasets import fashion_mnist

    return fashion_mnist.CLASS_NAMES


# ---------------------------------------------------------------------------------------- data


def fashion_splits(*, train_size: int | None = None,
                   validation_size: int = VALIDATION_SIZE) -> vision.MnistSplits:
    """Fashion-MNIST as ``vision.MnistSplits``: images ``(n, 28, 28, 1)`` float32 ``pixel / 255``,
    labels int32 0..9; ``validation_size`` training images held out with a fixed shuffle;
    ``train_size`` keeps only that many of the remaining ones (the fast run)."""
    from datasets import fashion_mnist

    (x_train, y_train), (x_test, y_test) = fashion_mnist.load()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x_train))
    val_index, train_index = order[:validation_size], order[validation_size:]
    if train_size is not None:
        if not 1 <= train_size <= len(train_index):
            raise ValueError(f"train_size must be between 1 and {len(train_index)}, got {train_size}")
        train_index = train_index[:train_size]

    def images(raw):
        return (raw.astype(np.float32) / 255.0).reshape(-1, SIDE, SIDE, 1)

    return vision.MnistSplits(images(x_train[train_index]), y_train[train_index].astype(np.int32),
                              images(x_train[val_index]), y_train[val_index].astype(np.int32),
                              images(x_test), y_test.astype(np.int32), "pixel / 255")


# ------------------------------------------------------------------------------ the baseline


def build_lenet() -> "keras.Model":  # noqa: F821
    """LeNet-5 exactly as in convnets/lenet: conv 6@5x5 same -> pool -> conv 16@5x5 valid -> pool
    -> dense 120 -> dense 84 -> 10 logits, ReLU everywhere."""
    import keras

    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=(SIDE, SIDE, 1)),
        layers.Conv2D(6, 5, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(2),
        layers.Conv2D(16, 5, activation="relu", name="conv2"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(120, activation="relu"),
        layers.Dense(84, activation="relu"),
        layers.Dense(NUM_CLASSES),
    ], name="lenet5")


# ------------------------------------------------------------------------------ checks on the student's code


def check_conv_block(conv_block) -> None:
    """Call ``conv_block`` on a symbolic (None, 7, 7, 3) input with 5 filters of size 3: the
    output must be (None, 7, 7, 5)."""
    import keras

    output = conv_block(keras.Input(shape=(7, 7, 3)), 5, 3)
    if not hasattr(output, "shape") or tuple(output.shape) != (None, 7, 7, 5):
        got = getattr(output, "shape", type(output).__name__)
        raise ValueError(f"conv_block(x, 5, 3) on an input (None, 7, 7, 3) must return a tensor "
                         f"(None, 7, 7, 5) (the spatial size kept, 5 channels), got {got}")


def check_inception(inception_module, input_shape: tuple, filters: tuple) -> None:
    """Call ``inception_module`` on a symbolic input and check that it keeps the spatial size and
    that its channels are the sum of its four branches' (1x1, 3x3, 5x5 and pool projections)."""
    import keras

    f1, _, f3, _, f5, fpool = filters
    expected = (None, *input_shape[:2], f1 + f3 + f5 + fpool)
    output = inception_module(keras.Input(shape=input_shape), filters)
    if not hasattr(output, "shape") or tuple(output.shape) != expected:
        got = getattr(output, "shape", type(output).__name__)
        raise ValueError(f"inception_module on an input {(None, *input_shape)} with filters {filters} "
                         f"must return a tensor {expected} (the spatial size kept, the channels of the "
                         f"four branches {f1}+{f3}+{f5}+{fpool} concatenated), got {got}")


def check_classifier(model) -> None:
    """The deeper network must map (batch, 28, 28, 1) images to (batch, 10) logits and have a layer
    named "features" that gives one vector per image."""
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(f"build_deeper must return a keras.Model, got {type(model).__name__}")
    if tuple(model.input_shape) != (None, SIDE, SIDE, 1):
        raise ValueError(f"the model must take (batch, 28, 28, 1) images, got {model.input_shape}")
    if tuple(model.output_shape) != (None, NUM_CLASSES):
        raise ValueError(f"the model must output (batch, {NUM_CLASSES}) logits, got {model.output_shape}")
    if getattr(model.layers[-1], "activation", None) is keras.activations.softmax:
        raise ValueError("the last layer must return logits (no activation): the loss applies the "
                         "softmax itself")
    try:
        features = model.get_layer("features")
    except ValueError:
        raise ValueError('the model needs a layer named "features" (the global average pooling: one '
                         'vector per image, just before dropout and the logits)') from None
    if len(features.output.shape) != 2:
        raise ValueError(f'the "features" layer must give one vector per image (batch, channels), '
                         f"got {features.output.shape}")


# ------------------------------------------------------------------------------ training


@dataclasses.dataclass
class Run:
    """One trained network: its name, clock (per-epoch history and time), epochs and data size."""

    name: str
    clock: vision.EpochClock
    epochs: int
    num_train: int
    cpu_per_epoch: list

    def summary(self) -> dict:
        return {"epoch_seconds": self.clock.train_seconds / self.epochs,
                "epoch_cpu_seconds": self.clock.train_cpu_seconds / self.epochs}


def train(args: argparse.Namespace, model, data: vision.MnistSplits, name: str,
          epochs: int | None = None) -> Run:
    """Adam at ``args.learning_rate`` decayed to 0 along a cosine, batches of ``args.batch_size``,
    cross-entropy on the logits; ``model.fit`` with the epoch clock (validation accuracy after each
    epoch, training seconds without it). Both networks go through here: a like-for-like table."""
    import keras

    epochs = epochs or args.epochs
    steps = math.ceil(data.num_train / args.batch_size) * epochs
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    clock = vision.EpochClock(args, data)
    cpu_per_epoch: list[float] = []

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            row = clock.rows[-1]
            cpu_per_epoch.append(clock.train_cpu_seconds - sum(cpu_per_epoch))
            # On its own line: Keras's progress bar has not ended its line yet.
            runtime.say(args, f"\n  {name} epoch {epoch + 1}/{epochs}: {row['epoch_seconds']:.1f} s "
                              f"({cpu_per_epoch[-1]:.1f} CPU s), validation accuracy "
                              f"{row['val_accuracy']:.4f}")

    runtime.say(args, f"Training {name} ({model.count_params()} parameters) for {epochs} epochs on "
                      f"{data.num_train} images")
    model.fit(data.x_train, data.y_train, batch_size=args.batch_size, epochs=epochs,
              callbacks=[vision.keras_clock_callback(clock), Progress()],
              verbose=0 if args.quiet else 1)
    return Run(name, clock, epochs, data.num_train, cpu_per_epoch)


def train_lenet(args: argparse.Namespace, data: vision.MnistSplits):
    """The baseline: LeNet-5 with the same data, epochs, batch size and learning-rate schedule."""
    model = build_lenet()
    return model, train(args, model, data, "LeNet-5")


# ------------------------------------------------------------------------------ report


def logits_function(model):
    """``classify(images) -> logits``: float32 images (n, 28, 28, 1) in [0, 1] to a (n, 10) array,
    in batches, without the training behaviour (dropout off, batch normalisation's moving stats)."""

    def classify(images):
        images = np.asarray(images, np.float32)
        return np.concatenate([np.asarray(model.predict_on_batch(images[s:s + MEASURE_BATCH]))
                               for s in range(0, len(images), MEASURE_BATCH)])

    return classify


def report(args: argparse.Namespace, data: vision.MnistSplits, model, run: Run, lenet,
           lenet_run: Run) -> dict:
    """Measure both networks once on the 10000 test images, print the table, draw the pictures and
    return main()'s metrics with the evidence ``classify`` (and ``lenet_classify``)."""
    classify, lenet_classify = logits_function(model), logits_function(lenet)
    predicted = vision.predictions(classify, data.x_test)
    lenet_predicted = vision.predictions(lenet_classify, data.x_test)
    accuracy = float(np.mean(predicted == data.y_test))
    lenet_accuracy = float(np.mean(lenet_predicted == data.y_test))

    rows = [(lenet_run, lenet, lenet_accuracy), (run, model, accuracy)]
    runtime.say(args, "")
    runtime.say(args, f"{'network':<16}{'test acc.':>10}{'val. acc.':>10}{'params':>9}{'epochs':>7}"
                      f"{'train imgs':>11}{'s/epoch':>9}{'CPU s/ep.':>10}")
    for r, net, acc in rows:
        speed = r.summary()
        runtime.say(args, f"{r.name:<16}{acc:>10.4f}{r.clock.rows[-1]['val_accuracy']:>10.4f}"
                          f"{net.count_params():>9}{r.epochs:>7}{r.num_train:>11}"
                          f"{speed['epoch_seconds']:>9.1f}{speed['epoch_cpu_seconds']:>10.1f}")
    runtime.say(args, "(seconds per epoch: training only, the first epoch includes tracing the graph)")

    run.clock.write_csv("history.csv")
    lenet_run.clock.write_csv("lenet_history.csv")
    plot_curves(args, [lenet_run, run])
    plot_predictions(args, data, predicted)
    plot_confusion(args, data.y_test, predicted, f"{run.name}: confusion matrix on the 10000 test "
                                                 f"images (accuracy {accuracy:.4f})")
    plot_branches(args, model, data)

    speed, lenet_speed = run.summary(), lenet_run.summary()
    return {
        "test_accuracy": accuracy,
        "lenet_test_accuracy": lenet_accuracy,
        "accuracy_gain": accuracy - lenet_accuracy,
        "val_accuracy": run.clock.rows[-1]["val_accuracy"],
        "lenet_val_accuracy": lenet_run.clock.rows[-1]["val_accuracy"],
        "params": int(model.count_params()),
        "lenet_params": int(lenet.count_params()),
        "epoch_seconds": speed["epoch_seconds"],
        "lenet_epoch_seconds": lenet_speed["epoch_seconds"],
        "epoch_cpu_seconds": speed["epoch_cpu_seconds"],
        "lenet_epoch_cpu_seconds": lenet_speed["epoch_cpu_seconds"],
        "final_loss": run.clock.rows[-1]["loss"],
        "epochs": run.epochs,
        "train_size": run.num_train,
        # The evidence: the checker runs these on the test images it loads itself.
        "classify": classify,
        "lenet_classify": lenet_classify,
    }


# ------------------------------------------------------------------------------ pictures


def plot_curves(args, runs: list[Run], filename: str = "training_curves.png") -> pathlib.Path:
    """Validation accuracy of each network after each epoch, against epochs and against training
    seconds (a deeper network learns more per epoch, and pays for it per second)."""
    plt = plots.pyplot(args)
    from matplotlib.ticker import MaxNLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in runs:
        label = f"{r.name} ({r.num_train} images)"
        left.plot(r.clock.column("epoch"), r.clock.column("val_accuracy"), "o-", label=label)
        right.plot(r.clock.column("train_seconds"), r.clock.column("val_accuracy"), "o-", label=label)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel("epoch")
    right.set_xlabel("training seconds (wall clock)")
    for ax in (left, right):
        ax.set_ylabel("validation accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Fashion-MNIST: validation accuracy after each epoch")
    return plots.save(fig, args, filename)


def plot_predictions(args, data: vision.MnistSplits, predicted: np.ndarray,
                     filename: str = "sample_predictions.png", first: int = 16, mistakes: int = 8,
                     columns: int = 8) -> pathlib.Path:
    """The first test images, then some mistakes, each titled with its predicted class (mistakes
    in red with the true class)."""
    plt = plots.pyplot(args)
    names = class_names()
    wrong = np.flatnonzero(predicted != data.y_test)
    shown = np.concatenate([np.arange(first), wrong[wrong >= first][:mistakes]]).astype(int)
    rows = int(np.ceil(len(shown) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.5 * columns, 1.8 * rows), squeeze=False)
    for position, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if position >= len(shown):
            continue
        index = shown[position]
        ax.imshow(data.x_test[index, :, :, 0], cmap="gray_r", vmin=0.0, vmax=1.0)
        right = predicted[index] == data.y_test[index]
        title = names[predicted[index]] if right else \
            f"{names[predicted[index]]}\n(is {names[data.y_test[index]]})"
        ax.set_title(title, fontsize=7, color="black" if right else "red")
    fig.suptitle(f"Predicted classes: the first {first} test images, then mistakes in red "
                 f"({len(wrong)} of {len(predicted)} wrong)", fontsize=10)
    return plots.save(fig, args, filename)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(10, 10) counts: row = true class, column = predicted class."""
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    np.add.at(matrix, (np.asarray(labels, np.int64), np.asarray(predicted, np.int64)), 1)
    return matrix


def plot_confusion(args, labels, predicted, title: str, filename: str = "confusion_matrix.png"):
    plt = plots.pyplot(args)
    names = class_names()
    matrix = confusion_matrix(labels, predicted)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    # Colour by the off-diagonal counts so the confusions (not the correct answers) stand out.
    shown = matrix.astype(float)
    np.fill_diagonal(shown, np.nan)
    image = ax.imshow(shown, cmap="Reds")
    for i in range(NUM_CLASSES):
        for j in range(NUM_CLASSES):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                    color="black" if i != j else "tab:green")
    ax.set_xticks(range(NUM_CLASSES), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(NUM_CLASSES), names, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    fig.colorbar(image, ax=ax, label="mistakes (diagonal: correct, in green)")
    ax.set_title(title, fontsize=9)
    return plots.save(fig, args, filename)


def plot_branches(args, model, data: vision.MnistSplits, filename: str = "inception_branches.png",
                  channels: int = 6):
    """The four branches of the first Inception module (the inputs of its first Concatenate layer)
    for one test image: a few channels of each. Skipped (returns None) without a Concatenate."""
    import keras

    concat = next((layer for layer in model.layers if isinstance(layer, keras.layers.Concatenate)), None)
    if concat is None:
        return None
    branches = concat.input if isinstance(concat.input, (list, tuple)) else [concat.input]
    probe = keras.Model(model.inputs, list(branches))
    outputs = [np.asarray(o)[0] for o in probe.predict_on_batch(data.x_test[:1])]
    labels = ["1x1", "1x1 > 3x3", "1x1 > 5x5", "pool > 1x1"] if len(outputs) == 4 else \
        [f"branch {i + 1}" for i in range(len(outputs))]
    plt = plots.pyplot(args)
    fig, axes = plt.subplots(len(outputs), channels + 1, figsize=(1.3 * (channels + 1), 1.4 * len(outputs)),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for row, (label, values) in enumerate(zip(labels, outputs)):
        axes[row, 0].imshow(data.x_test[0, :, :, 0], cmap="gray_r", vmin=0.0, vmax=1.0)
        axes[row, 0].set_title(label, fontsize=8)
        for channel in range(min(channels, values.shape[-1])):
            axes[row, channel + 1].imshow(values[:, :, channel], cmap="viridis")
            axes[row, channel + 1].set_title(f"ch. {channel}", fontsize=6)
    fig.suptitle(f"The first Inception module's branches for one test image "
                 f"({values.shape[0]}x{values.shape[1]} maps, {channels} channels of each)", fontsize=9)
    return plots.save(fig, args, filename)


# ------------------------------------------------------------------------------ the checker's measure


def _classifier_accuracy(context: Context, key: str, what: str) -> float:
    from datasets import fashion_mnist

    classify = context.metrics.get(key)
    if classify is None:
        raise EvidenceError(f"main() must return {key!r}, {what}: a function from float32 images "
                            f"(n, 28, 28, 1) in [0, 1] to logits (n, 10) (it is in the original "
                            f"skeleton's main)")
    if not callable(classify):
        raise EvidenceError(f"main()'s {key!r} must be a function from images (n, 28, 28, 1) to "
                            f"logits (n, 10), got {type(classify).__name__}")
    (_, _), (x_test, y_test) = fashion_mnist.load()
    images = (x_test.astype(np.float32) / 255.0).reshape(-1, SIDE, SIDE, 1)
    correct = 0
    for start in range(0, len(images), MEASURE_BATCH):
        batch = images[start:start + MEASURE_BATCH]
        logits = np.asarray(classify(batch))
        if logits.shape != (len(batch), NUM_CLASSES):
            raise EvidenceError(f"main()'s {key!r} returned shape {logits.shape} for {len(batch)} "
                                f"images, expected ({len(batch)}, {NUM_CLASSES}) logits")
        correct += int(np.sum(np.argmax(logits, axis=1) == y_test[start:start + MEASURE_BATCH]))
    return correct / len(images)


def measure_fashion_test_accuracy(context: Context) -> float:
    """The deeper network's accuracy on the 10000 Fashion-MNIST test images, loaded here and fed
    to main()'s ``classify`` in batches of 2000."""
    return _classifier_accuracy(context, "classify", "the trained deeper network")


def measure_lenet_fashion_test_accuracy(context: Context) -> float:
    """The same for the LeNet-5 baseline (``lenet_classify``)."""
    return _classifier_accuracy(context, "lenet_classify", "the trained LeNet-5 baseline")


def measure_gain_over_lenet(context: Context) -> float:
    """The deeper network's test accuracy minus LeNet-5's, both measured here."""
    return measure_fashion_test_accuracy(context) - measure_lenet_fashion_test_accuracy(context)
