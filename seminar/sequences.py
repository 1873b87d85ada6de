"""The rnn chapter's plumbing for ``rnn/rnn_mnist``, so that the exercise file shows only the
recurrence, the LSTM model and the training loop:

    data = sequences.load_mnist(run)             # images (n, 28, 28): 28 rows of 28 pixels in [0, 1]
    batches = sequences.training_batches(data, args.batch_size, args.seed)
    classify = sequences.logits_function(model)  # float32 images (n, 28, 28) -> logits (n, 10)
    log = TrainingLog(run, epochs=args.epochs, evaluate=sequences.validation(data, classify))
    metrics = sequences.report(run, data, {"rnn": (label, model, log), "lstm": (...)})

An image is read as a sequence (slide 85): step t sees row t, a vector of 28 pixels, from the top
row (t = 1) to the bottom one (t = 28). Pixels are ``raw / 255`` (float32 in [0, 1]), nothing else:
the functions ``main()`` returns for the checker take images scaled that way.

Here too: the comparison table of the two models, the pictures (a digit read row by row, the hidden
state's trajectory over the 28 steps, both models' training curves) and the measures the checker
runs on the evidence ``main()`` returns (``measure_*``, at the end).
"""

from __future__ import annotations

import dataclasses
import math
import pathlib

import numpy as np

from seminar import mnist_splits, plots, runtime
from seminar.mnist_splits import NUM_CLASSES, SIDE, MnistSplits  # SIDE: 28 rows of 28 pixels
from seminar.training_log import TrainingLog

EVAL_BATCH = 2000  # images per call of a classify function when measuring


# ----------------------------------------------------------------------------------- data


def load_mnist(run=None, train_size: int | None = None) -> MnistSplits:
    """MNIST as sequences of rows: ``x_train`` (55000, 28, 28), ``x_val`` (5000, 28, 28), ``x_test``
    (10000, 28, 28), float32 pixels ``raw / 255`` in [0, 1]; labels int32 (``mnist_splits``, the
    same validation digits as every chapter). ``train_size`` keeps fewer training digits."""
    data = mnist_splits.mnist_splits(train_size=train_size)
    data = dataclasses.replace(data, **{name: getattr(data, name).reshape(-1, SIDE, SIDE)
                                        for name in ("x_train", "x_val", "x_test")})
    if run is not None:
        runtime.say(run, f"MNIST as sequences: {data.num_train} training, {len(data.x_val)} "
                         f"validation and {len(data.x_test)} test digits, each {SIDE} steps (rows) "
                         f"of {SIDE} pixels in [0, 1]")
    return data


def training_batches(data: MnistSplits, batch_size: int, seed: int):
    """A ``tf.data.Dataset`` of shuffled ``(images (batch, 28, 28), labels (batch,))``, one pass
    over the training digits per iteration, reshuffled at each pass (from ``seed``)."""
    import tensorflow as tf

    dataset = (tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
               .shuffle(data.num_train, seed=seed, reshuffle_each_iteration=True)
               .batch(batch_size))
    return dataset.prefetch(tf.data.AUTOTUNE)


def steps_per_pass(num_images: int, batch_size: int) -> int:
    """Batches in one pass over the training images (the last one may be smaller)."""
    return math.ceil(num_images / batch_size)


def logits_function(model):
    """``model`` as a function from float32 images (n, 28, 28) in [0, 1] (NumPy or tensor) to a
    NumPy array of logits (n, 10), traced once by ``tf.function`` for every batch size."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((None, SIDE, SIDE), tf.float32)])
    def logits(images):
        return model(images, training=False)

    def classify(images):
        return logits(tf.convert_to_tensor(np.asarray(images, np.float32))).numpy()

    return classify


def count_params(model) -> int:
    """The number of trainable numbers of a (built) Keras model."""
    return int(sum(np.prod(v.shape) for v in model.trainable_variables))


# ----------------------------------------------------------------------------------- accuracy


def classify_outputs(classify, images: np.ndarray, *, name: str = "classify",
                     error: type = ValueError, batch_size: int = EVAL_BATCH):
    """Yield ``(start, logits)`` batch by batch: ``classify(images[start:start + batch_size])`` as
    float64 (batch, 10), refusing anything else (not callable, not numbers, another shape, NaN)
    with ``error`` saying what was expected."""
    if not callable(classify):
        raise error(f"{name} must be a function from float32 images (n, 28, 28) in [0, 1] to "
                    f"logits (n, {NUM_CLASSES}), got {type(classify).__name__}")
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        try:
            output = np.asarray(classify(batch), dtype=np.float64)
        except (TypeError, ValueError) as problem:
            raise error(f"{name} must return an array or tensor of numbers, logits (n, {NUM_CLASSES}); "
                        f"its output for {len(batch)} images is not one: {problem}") from problem
        if output.shape != (len(batch), NUM_CLASSES):
            raise error(f"{name} must return logits of shape (n, {NUM_CLASSES}) for images (n, 28, 28): "
                        f"for n = {len(batch)} images it returned shape {output.shape}")
        if not np.all(np.isfinite(output)):
            raise error(f"{name} returned NaN or infinite logits (did the training diverge?)")
        yield start, output


def accuracy_and_loss(classify, images: np.ndarray, labels: np.ndarray, *, name: str = "classify",
                      error: type = ValueError) -> tuple[float, float]:
    """The fraction of ``images`` whose largest logit is the label, and the mean cross-entropy of
    the softmax of the logits (both computed here in float64)."""
    correct, total_loss = 0, 0.0
    for start, logits in classify_outputs(classify, images, name=name, error=error):
        truth = np.asarray(labels[start:start + len(logits)], np.int64)
        correct += int(np.sum(np.argmax(logits, axis=1) == truth))
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        total_loss -= float(np.sum(log_probabilities[np.arange(len(truth)), truth]))
    return correct / len(images), total_loss / len(images)


# ----------------------------------------------------------------------------------- training


def validation(data: MnistSplits, classify, name: str = "classify"):
    """The ``evaluate`` of a :class:`~seminar.training_log.TrainingLog`: the cross-entropy and the
    accuracy of ``classify`` (images -> logits) on the 5000 validation digits after an epoch."""

    def evaluate() -> dict:
        accuracy, loss = accuracy_and_loss(classify, data.x_val, data.y_val, name=name)
        return {"val_loss": loss, "val_accuracy": accuracy}

    return evaluate


# ----------------------------------------------------------------------------------- pictures


def plot_reading(run, pixels: np.ndarray, label: int, probabilities: np.ndarray | None = None,
                 steps=(1, 4, 8, 12, 16, 20, 24, 28), filename: str = "reading_rows.png") -> pathlib.Path:
    """One digit as the network reads it: panel t shows the rows read so far (1..t) in black on
    white, the current row framed in red, the rows still to come dimmed. With ``probabilities``
    (28, 10), the softmax of the classifier applied to h_t, each panel says what the network
    would answer after t rows."""
    plt = plots.pyplot(run)
    pixels = np.asarray(pixels, np.float32).reshape(SIDE, SIDE)
    fig, axes = plt.subplots(1, len(steps), figsize=(1.45 * len(steps), 2.3), squeeze=False)
    for ax, t in zip(axes[0], steps):
        shown = pixels.copy()
        shown[t:] *= 0.15  # rows not read yet: faint
        ax.imshow(shown, cmap="gray_r", vmin=0.0, vmax=1.0)
        ax.add_patch(plt.Rectangle((-0.5, t - 1.5), SIDE, 1.0, fill=False, edgecolor="red", linewidth=1.2))
        ax.set_xticks([])
        ax.set_yticks([])
        title = f"t = {t}"
        if probabilities is not None:
            guess = int(np.argmax(probabilities[t - 1]))
            title += f"\nsays {guess} ({probabilities[t - 1, guess]:.0%})"
        ax.set_title(title, fontsize=8)
    fig.suptitle(f"A digit {label} read as a sequence: step t sees row t (28 pixels)"
                 + (", and what the hand-written RNN answers from h_t" if probabilities is not None else ""),
                 fontsize=9)
    return plots.save(fig, run, filename)


def plot_hidden_states(run, pixels: np.ndarray, states: np.ndarray, labels: np.ndarray,
                       initial_state: np.ndarray | None = None,
                       filename: str = "hidden_states.png") -> pathlib.Path:
    """The hidden state over the 28 steps. ``states`` (k, 28, units) for k digits of different
    classes (``labels`` (k,), ``pixels`` (k, 28, 28)). Left: the first digit; middle: its states as
    a heat map, units x steps (units sorted by their last value), above the ink of the row read at
    each step; right: the states of all k digits projected on their first two principal
    components (computed here), one path per digit from h_0 to h_28."""
    plt = plots.pyplot(run)
    states = np.asarray(states, np.float64)
    k, steps, units = states.shape
    fig = plt.figure(figsize=(15, 5.2), layout="constrained")
    grid = fig.add_gridspec(2, 3, width_ratios=[1, 1.6, 2.2], height_ratios=[4, 1])
    left, middle, ink = fig.add_subplot(grid[:, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, 1])
    right = fig.add_subplot(grid[:, 2])
    digit = np.asarray(pixels[0], np.float64).reshape(SIDE, SIDE)
    left.imshow(digit, cmap="gray_r", vmin=0.0, vmax=1.0)
    left.set_title(f"a test digit {labels[0]}", fontsize=9)
    left.set_xticks([])
    left.set_ylabel("row = time step")
    order = np.argsort(states[0, -1])
    image = middle.imshow(states[0][:, order].T, aspect="auto", cmap="RdBu_r", vmin=-1.0, vmax=1.0,
                          extent=(0.5, steps + 0.5, units - 0.5, -0.5), interpolation="nearest")
    fig.colorbar(image, ax=middle, fraction=0.05, label="h_t")
    middle.set_ylabel("hidden unit (sorted by h_28)")
    middle.set_title(f"its hidden state h_t (tanh, in [-1, 1]), {units} units", fontsize=9)
    middle.set_xticks([])
    ink.bar(np.arange(1, steps + 1), digit.sum(axis=1)[:steps], color="0.3", width=0.8)
    ink.set_xlim(0.5, steps + 0.5)
    ink.set_xlabel("step t (row read)")
    ink.set_ylabel("ink in row t", fontsize=8)

    flat = states.reshape(-1, units)
    mean = flat.mean(axis=0)
    _, singular, right_vectors = np.linalg.svd(flat - mean, full_matrices=False)
    axes_2d = right_vectors[:2]
    explained = singular[:2] ** 2 / max(float(np.sum(singular ** 2)), 1e-12)
    colours = plt.get_cmap("tab10")
    start = None
    for index in range(k):
        path = (states[index] - mean) @ axes_2d.T
        if initial_state is not None:
            start = (np.asarray(initial_state, np.float64) - mean) @ axes_2d.T
            path = np.vstack([start, path])
        colour = colours(int(labels[index]) % 10)
        right.plot(path[:, 0], path[:, 1], "-", color=colour, alpha=0.75, linewidth=1.2)
        right.plot(path[1:, 0], path[1:, 1], ".", color=colour, markersize=3)
        right.plot(path[-1, 0], path[-1, 1], "o", color=colour, markersize=11)
        right.annotate(str(labels[index]), path[-1], fontsize=9, weight="bold", ha="center",
                       va="center", color="white")
    if start is not None:
        right.plot(start[0], start[1], "k*", markersize=12, label="h_0 (all ones)")
        right.legend(fontsize=8, loc="best")
    right.set_xlabel(f"principal component 1 ({explained[0]:.0%} of the variance)")
    right.set_ylabel(f"principal component 2 ({explained[1]:.0%})")
    right.set_title("h_0 ... h_28 of one digit per class (big dot: h_28, what the classifier sees);\n"
                    "the blank top rows send every digit along the same path at first", fontsize=9)
    right.grid(alpha=0.3)
    fig.suptitle("The hand-written RNN's hidden state while it reads digits row by row")
    return plots.save(fig, run, filename)


def plot_curves(run, logs: dict[str, tuple[str, TrainingLog]],
                filename: str = "training_curves.png") -> pathlib.Path:
    """Validation accuracy (left) and loss (right, with the training loss dashed) per epoch, the
    models on the same axes. ``logs`` maps a name to ``(label, log)``."""
    plt = plots.pyplot(run)
    from matplotlib.ticker import MaxNLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for index, (label, log) in enumerate(logs.values()):
        epochs = log.column("epoch")
        colour = f"C{index}"
        left.plot(epochs, log.column("val_accuracy"), "o-", color=colour, label=label)
        right.plot(epochs, log.column("val_loss"), "o-", color=colour, label=f"{label}: validation")
        right.plot(epochs, log.column("loss"), "--", color=colour, alpha=0.7,
                   label=f"{label}: training (mean over the epoch)")
    for ax, ylabel in [(left, "validation accuracy"), (right, "cross-entropy")]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    right.set_yscale("log")
    fig.suptitle("Training curves: 5000 validation digits after each epoch")
    return plots.save(fig, run, filename)


# ----------------------------------------------------------------------------------- report


def report(run, data: MnistSplits, models: dict[str, tuple[str, object, TrainingLog]]) -> dict:
    """Measure each model once on the 10000 test digits, print the comparison table, write the
    history (``history.csv``, a column ``model``) and the training curves, and return the metrics:
    per model ``<name>_test_accuracy``, ``<name>_params`` (trainable numbers),
    ``<name>_epoch_seconds`` (mean training wall seconds per epoch, the first one with its tracing
    included) and ``<name>_epoch_cpu_seconds``, with the evidence the checker measures itself from,
    ``<name>_classify``: float32 images (n, 28, 28) in [0, 1] -> logits (n, 10). ``models`` maps a
    name to ``(label, trained Keras model, its TrainingLog)``."""
    import pandas as pd

    metrics, table = {}, []
    for name, (label, model, log) in models.items():
        classify = logits_function(model)
        test_accuracy, test_loss = accuracy_and_loss(classify, data.x_test, data.y_test,
                                                     name=f"the {label}")
        epochs = max(len(log.rows), 1)
        seconds, cpu = log.train_seconds / epochs, log.train_cpu_seconds / epochs
        params = count_params(model)
        table.append((label, test_accuracy, test_loss, params, seconds, cpu))
        metrics.update({f"{name}_test_accuracy": test_accuracy, f"{name}_test_loss": test_loss,
                        f"{name}_params": params, f"{name}_epoch_seconds": seconds,
                        f"{name}_epoch_cpu_seconds": cpu,
                        # The evidence: the checker measures this function on the test digits it
                        # loads itself.
                        f"{name}_classify": classify})
    width = max(len(row[0]) for row in table)
    runtime.say(run, f"\n{'model':<{width}}  test accuracy  test loss  parameters  s per epoch (CPU s)")
    for label, test_accuracy, test_loss, params, seconds, cpu in table:
        runtime.say(run, f"{label:<{width}}  {test_accuracy:13.4f}  {test_loss:9.4f}  {params:10,d}  "
                         f"{seconds:6.1f} ({cpu:.1f})")
    history = pd.concat([log.table().assign(model=name) for name, (_, _, log) in models.items()])
    history.to_csv(run.path("history.csv"), index=False)
    plot_curves(run, {name: (label, log) for name, (label, _, log) in models.items()})
    metrics["epochs"] = max(len(log.rows) for _, _, log in models.values())
    return metrics


def digits_of_each_class(data: MnistSplits) -> np.ndarray:
    """The index of the first test digit of each class 0..9, in class order."""
    return np.array([int(np.flatnonzero(data.y_test == c)[0]) for c in range(NUM_CLASSES)])
