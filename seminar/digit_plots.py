"""The pictures of a digit classifier's run that the slides show: sample digits with their
predicted labels, the training curves, a convolution's filters and the feature maps of one digit.
Every picture goes to a PNG file in the run's output folder (``plots.save``).
"""

from __future__ import annotations

import pathlib

import numpy as np

from seminar import plots
from seminar.mnist_splits import SIDE, MnistSplits
from seminar.training_log import TrainingLog


def final_pictures(run, data: MnistSplits, log: TrainingLog, predicted: np.ndarray) -> None:
    """The pictures every digit classifier's run ends with: sample test digits with their
    predicted classes (``predicted``, one per test digit) and the training curves."""
    plot_digits(run, data, predicted)
    plot_curves(run, log)


def plot_digits(run, data: MnistSplits, predicted: np.ndarray, filename: str = "sample_predictions.png",
                first: int = 16, mistakes: int = 8, columns: int = 8,
                names: list[str] | None = None) -> pathlib.Path:
    """The ``first`` test images, then up to ``mistakes`` misclassified ones, each titled with its
    predicted class (mistakes in red, with the true class). ``predicted`` holds a class for every
    test image; ``names`` names the classes (Fashion-MNIST's clothes), digits by default."""
    plt = plots.pyplot(run)
    predicted = np.asarray(predicted)
    names = names or [str(k) for k in range(10)]
    wrong = np.flatnonzero(predicted != data.y_test)
    shown = np.concatenate([np.arange(first), wrong[wrong >= first][:mistakes]]).astype(int)
    pixels = data.as_pixels(data.x_test[shown])
    rows = int(np.ceil(len(shown) / columns))
    wide = max(len(name) for name in names) > 2  # words need room: smaller titles, larger cells
    fig, axes = plt.subplots(rows, columns, squeeze=False,
                             figsize=((1.5 if wide else 1.3) * columns, (1.8 if wide else 1.5) * rows))
    for position, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if position >= len(shown):
            continue
        index = shown[position]
        ax.imshow(pixels[position], cmap="gray_r", vmin=0.0, vmax=1.0)
        right = predicted[index] == data.y_test[index]
        title = names[predicted[index]] if right else \
            f"{names[predicted[index]]}{chr(10) if wide else ' '}(is {names[data.y_test[index]]})"
        ax.set_title(title, fontsize=7 if wide else 9, color="black" if right else "red")
    fig.suptitle(f"Predicted classes: the first {first} test images, then mistakes in red "
                 f"({len(wrong)} of {len(predicted)} test images are wrong)", fontsize=10)
    return plots.save(fig, run, filename)


def plot_curves(run, log: TrainingLog, filename: str = "training_curves.png") -> pathlib.Path:
    """Training loss, and training / validation accuracy, per epoch."""
    plt = plots.pyplot(run)
    epochs = log.column("epoch")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(epochs, log.column("loss"), "o-", label="training loss (mean over the epoch)")
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
        values = log.column(name)
        if values:
            right.plot(epochs[:len(values)], values, "o-", label=label)
    right.set_xlabel("epoch")
    right.set_ylabel("accuracy")
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    fig.suptitle("Training curves")
    return plots.save(fig, run, filename)


def plot_filters(run, kernel: np.ndarray, filename: str = "conv1_filters.png",
                 title: str = "First convolution's filters") -> pathlib.Path:
    """Each filter of a first convolution, kernel shape ``(height, width, 1, filters)``, as an
    image: red for positive weights, blue for negative, on one shared scale."""
    plt = plots.pyplot(run)
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
    return plots.save(fig, run, filename)


def plot_feature_maps(run, pixels: np.ndarray, maps: list[tuple[str, np.ndarray]],
                      filename: str = "feature_maps.png") -> pathlib.Path:
    """One digit, then for each named layer its output channels ``(height, width, channels)``."""
    plt = plots.pyplot(run)
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
    return plots.save(fig, run, filename)
