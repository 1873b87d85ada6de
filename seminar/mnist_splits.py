"""28x28 digit images (MNIST, and Fashion-MNIST through ``source``) split once, in NumPy, into
training, validation and test sets, and the accuracy of a classifier on them.

    data = mnist_splits.mnist_splits(flat=True)   # x: (n, 784) float32 in [0, 1]; y: (n,) int32
    log = TrainingLog(run, epochs=..., evaluate=mnist_splits.validation(data, predict))

The validation images are always the same 5000 of the 60000 training images (a fixed shuffle, not
the run's seed), so runs with different seeds are compared on the same held-out set. The 10000
test images are never used to choose anything; they are measured once, at the end.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

NUM_CLASSES = 10
SIDE = 28
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
                 validation_size: int = VALIDATION_SIZE, source=None) -> MnistSplits:
    """Load MNIST with ``datasets.mnist.load()`` (or ``source.load()``, a module of the ``datasets``
    package with the same interface, such as ``datasets.fashion_mnist``) and prepare it once.

    - pixels become float32 in [0, 1] (``pixel / 255``); with ``standardise`` they are then centred
      and scaled by the training images' mean and standard deviation (one number each);
    - ``validation_size`` training images are held out for choices (epochs, learning rate);
    - ``train_size`` keeps only that many of the remaining training images (the fast runs);
    - ``flat`` gives ``(n, 784)`` rows for the fully connected models, else ``(n, 28, 28, 1)``.
    """
    if source is None:
        from datasets import mnist as source

    (x_train, y_train), (x_test, y_test) = source.load()
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


def final_metrics(run, data: MnistSplits, log, predict) -> dict:
    """The end of a digit classifier's run: the trained model measured once on the 10000 test
    digits, the history written (``history.csv``), and the metrics for ``main`` to return, with the
    checker's evidence: the loss curve and the predicted class of every test digit (the checker
    scores them against the test labels it loads itself)."""
    from seminar import runtime

    predicted = predictions(predict, data.x_test)
    test_accuracy = float(np.mean(predicted == data.y_test))
    runtime.say(run, f"test accuracy {test_accuracy:.4f} on {len(data.x_test)} digits "
                     f"after {log.train_seconds:.1f} s of training")
    log.write_csv()
    return {"test_accuracy": test_accuracy, "val_accuracy": log.rows[-1]["val_accuracy"],
            **log.evidence(), **log.summary(data.num_train), "test_predictions": predicted}


# Set by the time-to-accuracy benchmark (benchmarks/mnist_speed.py), never by a lesson: the test
# accuracy is then also measured after every epoch, with the training clock stopped.
TEST_EACH_EPOCH_VARIABLE = "SEMINAR_TEST_EACH_EPOCH"


def validation(data: MnistSplits, predict):
    """The ``evaluate`` of a :class:`~seminar.training_log.TrainingLog`: the validation accuracy of
    ``predict(images) -> (batch, 10) scores`` after an epoch (and the test accuracy too when the
    benchmark asks for it through ``$SEMINAR_TEST_EACH_EPOCH``)."""

    def evaluate() -> dict:
        metrics = {"val_accuracy": accuracy(predict, data.x_val, data.y_val)}
        if os.environ.get(TEST_EACH_EPOCH_VARIABLE):
            metrics["test_accuracy"] = accuracy(predict, data.x_test, data.y_test)
        return metrics

    return evaluate
