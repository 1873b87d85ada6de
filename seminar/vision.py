"""MNIST plumbing shared by the neural_nets and convnets chapters, so that each exercise file shows
only its model and its training loop.

    data = vision.mnist_splits(flat=True)            # float32 pixels, a validation split held out
    clock = vision.EpochClock(args, data)            # per-epoch training time, accuracies, history
    vision.plot_digits(args, data.x_test[:24], data.y_test[:24], predicted[:24])

Every figure the slides show is drawn here: sample digits with their predicted labels, the training
curves, a convolution's filters and the feature maps of one digit.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import pathlib
import time

import numpy as np

from seminar import plots, runtime

NUM_CLASSES = 10
SIDE = 28
# The validation images: always the same 5000 of the 60000 training images (a fixed shuffle, not
# the run's seed), so runs with different seeds are compared on the same held-out set. The 10000
# test images are never used to choose anything; they are measured once, at the end.
VALIDATION_SIZE = 5000
SPLIT_SEED = 20240601


@dataclasses.dataclass
class MnistSplits:
    """Training, validation and test images (float32) with their labels (int32, 0..9).

    Images are ``(n, 784)`` when ``flat`` else ``(n, 28, 28, 1)``; ``scale`` tells how raw pixels
    were mapped (``pixel / 255`` or standardised with the training mean and deviation).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    scale: str
    pixel_mean: float = 0.0  # what was subtracted from pixel / 255 (0 unless standardised)
    pixel_std: float = 1.0  # what it was then divided by

    @property
    def num_train(self) -> int:
        return int(self.x_train.shape[0])

    def as_pixels(self, images: np.ndarray) -> np.ndarray:
        """Undo the scaling for display: ``(n, 28, 28)`` images with values in [0, 1]."""
        images = np.asarray(images, dtype=np.float32).reshape(-1, SIDE, SIDE)
        return np.clip(images * self.pixel_std + self.pixel_mean, 0.0, 1.0)


def mnist_splits(*, flat: bool = False, standardise: bool = False, train_size: int | None = None,
                 validation_size: int = VALIDATION_SIZE) -> MnistSplits:
    """Load MNIST with ``datasets.mnist.load()`` and prepare it once, in NumPy.

    - pixels become float32 in [0, 1] (``pixel / 255``); with ``standardise`` they are then centred
      and scaled by the training images' mean and standard deviation (one number each);
    - ``validation_size`` training images are held out for choices (epochs, learning rate);
    - ``train_size`` keeps only that many of the remaining training images (the fast runs);
    - ``flat`` gives ``(n, 784)`` rows for the fully connected models, else ``(n, 28, 28, 1)``.
    """
    from datasets import mnist

    (x_train, y_train), (x_test, y_test) = mnist.load()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x_train))
    val_index, train_index = order[:validation_size], order[validation_size:]
    if train_size is not None:
        if not 1 <= train_size <= len(train_index):
            raise ValueError(f"train_size must be between 1 and {len(train_index)}, got {train_size}")
        train_index = train_index[:train_size]
    shape = (-1, SIDE * SIDE) if flat else (-1, SIDE, SIDE, 1)

    def images(raw):
        return (raw.astype(np.float32) / 255.0).reshape(shape)

    x_tr, x_val, x_te = images(x_train[train_index]), images(x_train[val_index]), images(x_test)
    scale = "pixel / 255"
    mean, std = 0.0, 1.0
    if standardise:
        mean, std = float(x_tr.mean()), float(x_tr.std())
        x_tr, x_val, x_te = [((x - mean) / std).astype(np.float32) for x in (x_tr, x_val, x_te)]
        scale = f"standardised: (pixel / 255 - {mean:.4f}) / {std:.4f}"
    return MnistSplits(x_tr, y_train[train_index].astype(np.int32), x_val,
                       y_train[val_index].astype(np.int32), x_te, y_test.astype(np.int32), scale,
                       mean, std)


def add_benchmark_flag(parser: argparse.ArgumentParser) -> None:
    """``--test-each-epoch``: also measure test accuracy after every epoch (the clock is stopped
    meanwhile). Only the time-to-accuracy benchmark uses it; nothing is chosen with it."""
    parser.add_argument("--test-each-epoch", action="store_true",
                        help="also measure test accuracy after each epoch (for benchmarks/mnist_speed.py)")


def accuracy(predict, images: np.ndarray, labels: np.ndarray, batch_size: int = 2000) -> float:
    """Fraction of ``images`` whose highest score from ``predict(batch) -> (batch, 10)`` is the
    label. Works for a hand-written inference function and for a Keras model alike."""
    correct = 0
    for start in range(0, len(images), batch_size):
        scores = np.asarray(predict(images[start:start + batch_size]))
        correct += int(np.sum(np.argmax(scores, axis=1) == labels[start:start + batch_size]))
    return correct / len(images)


def predictions(predict, images: np.ndarray, batch_size: int = 2000) -> np.ndarray:
    """Predicted class of every image: ``(n,)`` int."""
    return np.concatenate([np.argmax(np.asarray(predict(images[s:s + batch_size])), axis=1)
                           for s in range(0, len(images), batch_size)])


class EpochClock:
    """Times the training epochs and keeps one row of history per epoch.

    ``start()`` before an epoch's first step, ``stop()`` after its last (evaluation does not
    count), then ``end_epoch(loss=..., train_accuracy=...)`` measures validation accuracy, and test
    accuracy too with ``--test-each-epoch``, and prints one line unless ``--quiet``. The history
    is written to ``history.csv`` in the output folder by :meth:`write_csv`.
    """

    def __init__(self, args: argparse.Namespace, data: MnistSplits, predict=None):
        self.args = args
        self.data = data
        self.predict = predict
        self.rows: list[dict] = []
        self.train_seconds = 0.0
        self._started: float | None = None
        self._cpu_started: float | None = None
        self.train_cpu_seconds = 0.0

    def start(self) -> None:
        self._started = time.perf_counter()
        self._cpu_started = time.process_time()

    def stop(self) -> float:
        elapsed = time.perf_counter() - self._started
        self.train_seconds += elapsed
        self.train_cpu_seconds += time.process_time() - self._cpu_started
        self._started = None
        return elapsed

    def end_epoch(self, epoch_seconds: float, predict=None, **values) -> dict:
        """Record an epoch: its training seconds, the given values (loss, train accuracy), the
        validation accuracy and, with ``--test-each-epoch``, the test accuracy."""
        predict = predict or self.predict
        row = {"epoch": len(self.rows) + 1, "epoch_seconds": epoch_seconds,
               "train_seconds": self.train_seconds}
        row.update({k: float(v) for k, v in values.items() if v is not None})
        if "val_accuracy" not in row:
            row["val_accuracy"] = accuracy(predict, self.data.x_val, self.data.y_val)
        if getattr(self.args, "test_each_epoch", False) and "test_accuracy" not in row:
            row["test_accuracy"] = accuracy(predict, self.data.x_test, self.data.y_test)
        self.rows.append(row)
        return row

    def column(self, name: str) -> list[float]:
        return [row[name] for row in self.rows if name in row]

    def write_csv(self, filename: str = "history.csv") -> pathlib.Path:
        path = pathlib.Path(self.args.output_dir) / filename
        names = list(dict.fromkeys(k for row in self.rows for k in row))
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=names)
            writer.writeheader()
            writer.writerows(self.rows)
        return path

    def summary(self, epochs: int) -> dict:
        """Speed metrics for ``main``'s result: training seconds and examples per second."""
        return {"train_seconds": self.train_seconds,
                "train_cpu_seconds": self.train_cpu_seconds,  # all threads: above wall time when both cores work
                "examples_per_second": self.data.num_train * epochs / max(self.train_seconds, 1e-9),
                "epoch_seconds": self.train_seconds / max(epochs, 1)}


class ProgressBar:
    """Keras's progress bar for a hand-written loop: ``Epoch 3/10`` then ``412/550 ━━━━ loss: 0.31``.

    ``update(steps_done, losses)`` is cheap to call every step: the list of batch losses (tensors)
    is averaged, which waits for TensorFlow, only when the bar is redrawn, about ten times a second.
    Silent with ``--quiet``.
    """

    def __init__(self, args: argparse.Namespace, steps: int, epoch: int, epochs: int):
        import keras

        self.quiet = bool(getattr(args, "quiet", False))
        self.steps = steps
        self._last = 0.0
        if not self.quiet:
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
            self.bar = keras.utils.Progbar(steps, stateful_metrics=["loss"])

    def update(self, steps_done: int, losses=None) -> None:
        if self.quiet:
            return
        now = time.perf_counter()
        if now - self._last < 0.1 and steps_done < self.steps:
            return
        self._last = now
        values = [("loss", mean_of(losses))] if losses else None
        self.bar.update(steps_done, values, finalize=steps_done >= self.steps)


def mean_of(losses) -> float:
    """The mean of a list of scalar tensors (batch losses), as a Python float."""
    import tensorflow as tf

    return float(tf.reduce_mean(tf.stack(losses)))


def keras_clock_callback(clock: EpochClock):
    """A Keras callback that drives ``clock`` inside ``model.fit``: it times each epoch without the
    validation pass, and puts ``val_accuracy`` (and ``test_accuracy``) into the logs that the
    progress bar prints."""
    import keras

    class ClockCallback(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._epoch_seconds = 0.0
            clock.start()

        def on_test_begin(self, logs=None):  # fit's own validation pass: not training time
            if clock._started is not None:
                self._epoch_seconds += clock.stop()

        def on_epoch_end(self, epoch, logs=None):
            if clock._started is not None:
                self._epoch_seconds += clock.stop()
            logs = logs if logs is not None else {}
            row = clock.end_epoch(self._epoch_seconds, predict=self.model.predict_on_batch,
                                  loss=logs.get("loss"), train_accuracy=logs.get("accuracy"),
                                  val_accuracy=logs.get("val_accuracy"))
            logs.setdefault("val_accuracy", row["val_accuracy"])
            if "test_accuracy" in row:
                logs["test_accuracy"] = row["test_accuracy"]

    return ClockCallback()


# ----------------------------------------------------------------------------------- pictures


def plot_digits(args, data: MnistSplits, predicted: np.ndarray, filename: str = "sample_predictions.png",
                first: int = 16, mistakes: int = 8, columns: int = 8) -> pathlib.Path:
    """The ``first`` test digits, then up to ``mistakes`` misclassified ones, each titled with its
    predicted label (mistakes in red, with the true label). ``predicted`` holds a class for every
    test digit."""
    plt = plots.pyplot(args)
    predicted = np.asarray(predicted)
    wrong = np.flatnonzero(predicted != data.y_test)
    shown = np.concatenate([np.arange(first), wrong[wrong >= first][:mistakes]]).astype(int)
    pixels = data.as_pixels(data.x_test[shown])
    rows = int(np.ceil(len(shown) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.5 * rows), squeeze=False)
    for position, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if position >= len(shown):
            continue
        index = shown[position]
        ax.imshow(pixels[position], cmap="gray_r", vmin=0.0, vmax=1.0)
        right = predicted[index] == data.y_test[index]
        title = f"{predicted[index]}" if right else f"{predicted[index]} (is {data.y_test[index]})"
        ax.set_title(title, fontsize=9, color="black" if right else "red")
    fig.suptitle(f"Predicted labels: the first {first} test digits, then mistakes in red "
                 f"({len(wrong)} of {len(predicted)} test digits are wrong)")
    return plots.save(fig, args, filename)


def plot_curves(args, clock: EpochClock, filename: str = "training_curves.png") -> pathlib.Path:
    """Training loss, and training / validation accuracy, per epoch."""
    plt = plots.pyplot(args)
    epochs = clock.column("epoch")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(epochs, clock.column("loss"), "o-", label="training loss (mean over the epoch)")
    from matplotlib.ticker import MaxNLocator

    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel("epoch")
    left.set_ylabel("cross-entropy")
    left.set_yscale("log")
    left.legend(fontsize=8)
    for name, label in [("train_accuracy", "training (mean over the epoch)"),
                        ("val_accuracy", "validation (after the epoch)"),
                        ("test_accuracy", "test (benchmark only)")]:
        values = clock.column(name)
        if values:
            right.plot(epochs[:len(values)], values, "o-", label=label)
    right.set_xlabel("epoch")
    right.set_ylabel("accuracy")
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    fig.suptitle("Training curves")
    return plots.save(fig, args, filename)


def plot_filters(args, kernel: np.ndarray, filename: str = "conv1_filters.png",
                 title: str = "First convolution's filters") -> pathlib.Path:
    """Each filter of a first convolution, kernel shape ``(height, width, 1, filters)``, as an
    image: red for positive weights, blue for negative, on one shared scale."""
    plt = plots.pyplot(args)
    kernel = np.asarray(kernel)
    filters = kernel.shape[-1]
    columns = min(filters, 8)
    rows = int(np.ceil(filters / columns))
    limit = float(np.abs(kernel).max()) or 1.0
    fig, axes = plt.subplots(rows, columns, figsize=(1.2 * columns, 1.3 * rows + 0.4), squeeze=False)
    for index, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if index < filters:
            ax.imshow(kernel[:, :, 0, index], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(str(index), fontsize=8)
    fig.suptitle(title)
    return plots.save(fig, args, filename)


def plot_feature_maps(args, pixels: np.ndarray, maps: list[tuple[str, np.ndarray]],
                      filename: str = "feature_maps.png") -> pathlib.Path:
    """One digit, then for each named layer its output channels ``(height, width, channels)``."""
    plt = plots.pyplot(args)
    columns = max([m.shape[-1] for _, m in maps] + [1])
    columns = min(columns, 16)
    fig, axes = plt.subplots(len(maps) + 1, columns, figsize=(1.0 * columns, 1.25 * (len(maps) + 1)),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(np.asarray(pixels).reshape(SIDE, SIDE), cmap="gray_r", vmin=0.0, vmax=1.0)
    axes[0, 0].set_title("input", fontsize=8)
    for row, (name, values) in enumerate(maps, start=1):
        values = np.asarray(values)
        for channel in range(min(values.shape[-1], columns)):
            axes[row, channel].imshow(values[:, :, channel], cmap="viridis")
            axes[row, channel].set_title(f"{name} {channel}", fontsize=6)
    fig.suptitle("Feature maps of one test digit")
    return plots.save(fig, args, filename)


def end_of_epoch(args, clock: EpochClock, writer, epoch: int, epoch_seconds: float, losses) -> dict:
    """After a hand-written epoch: record it (validation accuracy, loss), print it, and log it to
    TensorBoard when ``writer`` is not None. Returns the epoch's row."""
    import tensorflow as tf

    row = clock.end_epoch(epoch_seconds, loss=mean_of(losses))
    runtime.say(args, f"  {epoch_seconds:.1f} s, loss {row['loss']:.4f}, "
                      f"validation accuracy {row['val_accuracy']:.4f}")
    if writer is not None:
        with writer.as_default():
            tf.summary.scalar("loss", row["loss"], step=epoch)
            tf.summary.scalar("val_accuracy", row["val_accuracy"], step=epoch)
    return row


def test_and_report(args, data: MnistSplits, clock: EpochClock, predict) -> dict:
    """Measure the trained model once on the 10000 test digits, write the history and the sample
    and curve pictures, and return the metrics for ``main`` to return."""
    predicted = predictions(predict, data.x_test)
    test_accuracy = float(np.mean(predicted == data.y_test))
    runtime.say(args, f"test accuracy {test_accuracy:.4f} on {len(data.x_test)} digits "
                      f"after {clock.train_seconds:.1f} s of training")
    clock.write_csv()
    plot_digits(args, data, predicted)
    plot_curves(args, clock)
    metrics = {"test_accuracy": test_accuracy, "val_accuracy": clock.rows[-1]["val_accuracy"],
               "final_loss": clock.rows[-1]["loss"], **clock.summary(args.epochs),
               # The evidence: the checker scores these predicted labels against the test labels
               # it loads itself, rather than trusting test_accuracy.
               "test_predictions": predicted}
    return metrics
