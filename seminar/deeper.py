"""Fashion-MNIST plumbing for ``convnets/going_deeper``: the data, the LeNet-5 baseline trained on the
same images, the training both networks share, the side-by-side report and the pictures. The
exercise file keeps only the lesson: the Inception module and the deeper network built from it.

    data = deeper.fashion_splits(train_size=12000)      # pixels / 255, (n, 28, 28, 1) float32
    lenet = deeper.build_lenet()                        # the baseline, same data, same epochs
    lenet_log = deeper.train(run, lenet, data, "lenet", epochs=5, batch_size=128, learning_rate=3e-3)
    log = deeper.train(run, model, data, "inception", epochs=5, batch_size=128, learning_rate=3e-3)
    metrics = deeper.report(run, data, model, log, lenet, lenet_log)

Pixels are ``pixel / 255`` in [0, 1] and nothing else: the deeper network normalises inside (batch
normalisation after its first convolution), and the ``classify`` function main() returns takes
those same [0, 1] images, so the checker needs to know no statistics of the training set.
"""

from __future__ import annotations

import math
import pathlib

import numpy as np

from seminar import digit_plots, mnist_splits, plots, runtime
from seminar.mnist_splits import NUM_CLASSES, SIDE, VALIDATION_SIZE, MnistSplits
from seminar.training_log import TrainingLog

MEASURE_BATCH = 2000
LABELS = {"lenet": "LeNet-5", "inception": "Inception net"}  # how the report names each network


def class_names() -> tuple[str, ...]:
    from datasets import fashion_mnist

    return fashion_mnist.CLASS_NAMES


# ---------------------------------------------------------------------------------------- data


def fashion_splits(*, train_size: int | None = None,
                   validation_size: int = VALIDATION_SIZE) -> MnistSplits:
    """Fashion-MNIST split as MNIST is (``mnist_splits``, the same fixed shuffle): images ``(n, 28,
    28, 1)`` float32 ``pixel / 255``, labels int32 0..9; ``validation_size`` training images held out
    whatever the run's seed; ``train_size`` keeps only that many of the remaining ones (the fast
    run). The 10000 test images are measured once, at the end."""
    from datasets import fashion_mnist

    return mnist_splits.mnist_splits(source=fashion_mnist, train_size=train_size,
                                     validation_size=validation_size)


# ------------------------------------------------------------------------------ the baseline


def build_lenet() -> "keras.Model":  # noqa: F821  (keras is imported where it is used)
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


# ------------------------------------------------------------------------------ training


def train(run, model, data: MnistSplits, name: str, *, epochs: int, batch_size: int,
          learning_rate: float) -> TrainingLog:
    """Adam at ``learning_rate`` decayed to 0 along a cosine, batches of ``batch_size``,
    cross-entropy on the logits, by ``model.fit``; validation accuracy after each epoch. Both
    networks go through here: a like-for-like table. Returns the run's log (``name``: "lenet" or
    "inception", its TensorBoard folder)."""
    import keras

    steps = math.ceil(data.num_train / batch_size) * epochs
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    log = TrainingLog(run, epochs=epochs, name=name,
                      evaluate=mnist_splits.validation(data, model.predict_on_batch))
    runtime.say(run, f"Training {LABELS.get(name, name)} ({model.count_params()} parameters) for "
                     f"{epochs} epochs on {data.num_train} images")
    model.fit(data.x_train, data.y_train, batch_size=batch_size, epochs=epochs,
              callbacks=[log.keras_callback()], verbose=0 if run.quiet else 1)
    return log


# ------------------------------------------------------------------------------ report


def logits_function(model):
    """``classify(images) -> logits``: float32 images (n, 28, 28, 1) in [0, 1] to a (n, 10) array,
    in batches, without the training behaviour (dropout off, batch normalisation's moving stats)."""

    def classify(images):
        images = np.asarray(images, np.float32)
        return np.concatenate([np.asarray(model.predict_on_batch(images[s:s + MEASURE_BATCH]))
                               for s in range(0, len(images), MEASURE_BATCH)])

    return classify


def report(run, data: MnistSplits, model, log: TrainingLog, lenet, lenet_log: TrainingLog) -> dict:
    """Measure both networks once on the 10000 test images, print the table, draw the pictures and
    return main()'s metrics with the evidence: ``classify`` (and ``lenet_classify``) and the deeper
    network's loss curve."""
    classify, lenet_classify = logits_function(model), logits_function(lenet)
    predicted = mnist_splits.predictions(classify, data.x_test)
    lenet_predicted = mnist_splits.predictions(lenet_classify, data.x_test)
    accuracy = float(np.mean(predicted == data.y_test))
    lenet_accuracy = float(np.mean(lenet_predicted == data.y_test))

    def per_epoch(history: TrainingLog) -> dict:
        epochs = max(len(history.rows), 1)
        return {"epoch_seconds": history.train_seconds / epochs,
                "epoch_cpu_seconds": history.train_cpu_seconds / epochs,
                "val_accuracy": history.rows[-1]["val_accuracy"]}

    speed, lenet_speed = per_epoch(log), per_epoch(lenet_log)
    runtime.say(run, "")
    runtime.say(run, f"{'network':<16}{'test acc.':>10}{'val. acc.':>10}{'params':>9}{'epochs':>7}"
                     f"{'train imgs':>11}{'s/epoch':>9}{'CPU s/ep.':>10}")
    for r, net, acc, times in [(lenet_log, lenet, lenet_accuracy, lenet_speed),
                               (log, model, accuracy, speed)]:
        runtime.say(run, f"{LABELS.get(r.name, r.name):<16}{acc:>10.4f}{times['val_accuracy']:>10.4f}"
                         f"{net.count_params():>9}{len(r.rows):>7}{data.num_train:>11}"
                         f"{times['epoch_seconds']:>9.1f}{times['epoch_cpu_seconds']:>10.1f}")
    runtime.say(run, "(seconds per epoch: training only, the first epoch includes tracing the graph)")

    log.write_csv("history.csv")
    lenet_log.write_csv("lenet_history.csv")
    plot_curves(run, [lenet_log, log], data.num_train)
    digit_plots.plot_digits(run, data, predicted, names=class_names())
    plot_confusion(run, data.y_test, predicted, f"{LABELS.get(log.name, log.name)}: confusion matrix "
                                                f"on the 10000 test images (accuracy {accuracy:.4f})")
    plot_branches(run, model, data)

    return {
        "test_accuracy": accuracy,
        "lenet_test_accuracy": lenet_accuracy,
        "accuracy_gain": accuracy - lenet_accuracy,
        **speed,
        **{f"lenet_{key}": value for key, value in lenet_speed.items()},
        "params": int(model.count_params()),
        "lenet_params": int(lenet.count_params()),
        "epochs": len(log.rows),
        "train_size": data.num_train,
        # The evidence: the checker runs these on the test images it loads itself, and reads the
        # deeper network's loss curve (every batch's running mean, from Keras).
        "classify": classify,
        "lenet_classify": lenet_classify,
        **log.evidence(),
    }


# ------------------------------------------------------------------------------ pictures


def plot_curves(run, logs: list[TrainingLog], num_train: int,
                filename: str = "training_curves.png") -> pathlib.Path:
    """Validation accuracy of each network after each epoch, against epochs and against training
    seconds (a deeper network learns more per epoch, and pays for it per second)."""
    plt = plots.pyplot(run)
    from matplotlib.ticker import MaxNLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for log in logs:
        label = f"{LABELS.get(log.name, log.name)} ({num_train} images)"
        left.plot(log.column("epoch"), log.column("val_accuracy"), "o-", label=label)
        right.plot(log.column("train_seconds"), log.column("val_accuracy"), "o-", label=label)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel("epoch")
    right.set_xlabel("training seconds (wall clock)")
    for ax in (left, right):
        ax.set_ylabel("validation accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Fashion-MNIST: validation accuracy after each epoch")
    return plots.save(fig, run, filename)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(10, 10) counts: row = true class, column = predicted class."""
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    np.add.at(matrix, (np.asarray(labels, np.int64), np.asarray(predicted, np.int64)), 1)
    return matrix


def plot_confusion(run, labels, predicted, title: str, filename: str = "confusion_matrix.png"):
    plt = plots.pyplot(run)
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
    return plots.save(fig, run, filename)


def plot_branches(run, model, data: MnistSplits, filename: str = "inception_branches.png",
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
    plt = plots.pyplot(run)
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
    return plots.save(fig, run, filename)
