"""The deep-features chapter's plumbing (``deep_features/classif_deep_features``), so that the
exercise file shows only the lesson: the feature extractor, the classifiers on its features, the
fine-tuned network and the submission's table.

    board = transfer.Leaderboard(run, game.test_ids, submission_frame)
    features = transfer.standardised_features(run, extractor, game, fast=args.fast, seed=args.seed)
    log = transfer.train(run, "deep features: MLP", model, features.train, game.y_train,
                         epochs=30, learning_rate=1e-3)      # model.fit, reported to a TrainingLog
    board.submit("deep features: MLP", model, features.test)  # submissions/<name>.csv, scored
    board.report()                                            # the leaderboard, read for you

Every model is trained alike (Adam on the cross-entropy of its logits, batches of 64) and scored
alike: its softmax probabilities go through the lesson's ``submission_frame`` into a CSV file that
the competition's scorer (:mod:`seminar.kaggle`, which alone reads the withheld labels) scores.
Real use, ``--images DIR``: :func:`classify_folder`.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from seminar import kaggle, plots, runtime
from seminar.training_log import TrainingLog

BATCH_SIZE = 64  # every model of the chapter: 1000 labelled images make 16 steps an epoch
PREDICT_BATCH = 500


def add_flags(parser) -> None:
    """The exercise's own flags: the labels per class, and the real use on a folder of images."""
    parser.add_argument("--labels-per-class", type=runtime.positive_int,
                        default=kaggle.LABELS_PER_CLASS, help="labelled training images per digit")
    parser.add_argument("--images", type=pathlib.Path, default=None, metavar="DIR",
                        help="real use: DIR/<class>/ training images, DIR/test/ images to predict")
    parser.add_argument("--labels", type=pathlib.Path, default=None,
                        help="with --images: a CSV id,label to score the submission against")
    parser.add_argument("--weights", choices=["imagenet", "none"], default="imagenet",
                        help="with --images: Inception v3's weights (none: an offline test only)")
    parser.add_argument("--image-size", type=runtime.positive_int, default=299,
                        help="with --images: the side images are resized to (at least 75)")


def slug(name: str) -> str:
    """A file and folder name for a method's name: "deep features: MLP" -> "deep_features_mlp"."""
    return "_".join(filter(None, "".join(c if c.isalnum() else "_" for c in name.lower()).split("_")))


# ------------------------------------------------------------------------------ training


def train(run, name: str, model, x: np.ndarray, y: np.ndarray, epochs: int, learning_rate: float,
          num_classes: int = kaggle.NUM_CLASSES, batch_size: int = BATCH_SIZE) -> TrainingLog:
    """Minimise the cross-entropy of the model's logits (n, num_classes) with Adam, by
    ``model.fit``, each epoch reported to a :class:`TrainingLog` (TensorBoard folder: the name's
    slug); print one line at the end. Returns the log."""
    import keras

    if tuple(model.output_shape) != (None, num_classes):
        raise ValueError(f"{name}: the model must output (batch, {num_classes}) logits, got "
                         f"{model.output_shape}")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    log = TrainingLog(run, epochs=epochs, name=slug(name))
    model.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=[log.keras_callback()],
              verbose=0)
    last = log.rows[-1]
    runtime.say(run, f"  {name}: {epochs} epochs, training loss {last['loss']:.4f}, training "
                     f"accuracy {last['train_accuracy']:.4f}")
    return log


def probabilities(model, x: np.ndarray) -> np.ndarray:
    """Softmax of the model's logits, computed by batches in inference mode, as NumPy."""
    import keras

    return keras.ops.convert_to_numpy(keras.ops.softmax(
        model.predict(x, batch_size=PREDICT_BATCH, verbose=0)))


# ------------------------------------------------------------------------------ deep features


@dataclasses.dataclass
class Features:
    train: np.ndarray  # (n, features) of the labelled images, standardised
    test: np.ndarray  # (m, features) of the test images, standardised alike
    standardise: object  # the keras.layers.Normalization that did it (for the fine-tuned head)


def standardised_features(run, extractor, game: kaggle.Competition, *, fast: bool,
                          seed: int) -> Features:
    """The extractor's features of the labelled and the test images, checked, drawn (PCA, and
    t-SNE unless ``fast``) beside the raw pixels, then each feature standardised: mean 0 and
    deviation 1 over the labelled images (the classifiers train faster and better on them)."""
    import keras

    train_features = extractor.predict(game.x_train, batch_size=PREDICT_BATCH, verbose=0)
    test_features = extractor.predict(game.x_test, batch_size=PREDICT_BATCH, verbose=0)
    if train_features.ndim != 2 or len(train_features) != len(game.x_train):
        from seminar import pretrained

        raise ValueError(f"feature_extractor must give (n, {pretrained.FEATURES}) features, got "
                         f"{train_features.shape}")
    plot_maps(run, game.x_train, train_features, game.y_train, fast=fast, seed=seed)
    standardise = keras.layers.Normalization(name="standardise")
    standardise.adapt(train_features)
    train_z, test_z = (keras.ops.convert_to_numpy(standardise(f))
                       for f in (train_features, test_features))
    return Features(train_z, test_z, standardise)


def plot_maps(run, pixels: np.ndarray, features: np.ndarray, labels: np.ndarray, *, fast: bool,
              seed: int, filename: str = "pca_pixels_vs_features.png") -> pathlib.Path:
    """Two maps side by side, coloured by digit: raw pixels and deep features. The fast run draws
    their PCA (the two directions of largest variance); the full run adds t-SNE maps of 50 digits
    per class (``tsne_pixels_vs_features.png``), which keep neighbours together where PCA cannot."""
    labels = np.asarray(labels)
    flat = np.reshape(pixels, (len(pixels), -1))
    maps = [("pca", "PCA", np.arange(len(labels)), filename)]
    if not fast:
        shown = np.concatenate([np.flatnonzero(labels == c)[:kaggle.TSNE_PER_CLASS]
                                for c in range(kaggle.NUM_CLASSES)])
        maps.append(("tsne", "t-SNE", shown, "tsne_pixels_vs_features.png"))
    path = None
    for method, name, rows, output in maps:
        plt = plots.pyplot(run)
        fig, axes = plt.subplots(1, 2, figsize=(11, 5))
        for ax, vectors, title in ((axes[0], flat[rows], "raw pixels (784)"),
                                   (axes[1], np.asarray(features)[rows],
                                    f"deep features ({features.shape[1]})")):
            xy = kaggle.pca_2d(vectors) if method == "pca" else kaggle.tsne_2d(vectors, seed=seed)
            points = ax.scatter(xy[:, 0], xy[:, 1], c=labels[rows], cmap="tab10", s=7, vmin=-0.5,
                                vmax=9.5)
            ax.set_title(f"{name} of {len(rows)} labelled digits: {title}", fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.colorbar(points, ax=axes, ticks=range(kaggle.NUM_CLASSES), label="digit")
        saved = plots.save(fig, run, output)
        path = path or saved
    return path


# ------------------------------------------------------------------------------ the leaderboard


class Leaderboard:
    """The submissions of a run: each one made by the lesson's ``submission_frame(ids,
    probabilities, class_names)``, written to ``<output-dir>/submissions/<name>.csv`` and scored
    by the competition's scorer (or against ``labels``, a CSV id,label, for a folder of images;
    not scored at all with ``score=False``). ``rows`` holds one ``{"method", "log_loss",
    "accuracy", "rows"}`` per scored submission, in the order of the calls."""

    def __init__(self, run, ids, submission_frame, *, class_names=kaggle.DIGITS,
                 labels: pathlib.Path | None = None, score: bool = True):
        self.run, self.ids, self.submission_frame = run, ids, submission_frame
        self.class_names, self.labels, self.score = class_names, labels, score
        self.rows: list[dict] = []

    def submit(self, name: str, model, inputs: np.ndarray) -> pathlib.Path:
        """Write the submission of ``model``'s probabilities for ``inputs`` (the test images or
        their features, in the order of the ids) and score it. Returns the CSV's path."""
        import pandas as pd

        frame = self.submission_frame(self.ids, probabilities(model, inputs), self.class_names)
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"submission_frame must return a pandas DataFrame, got "
                             f"{type(frame).__name__}")
        path = self.run.path(f"submissions/{slug(name)}.csv")
        frame.to_csv(path, index=False)
        if not self.score:
            runtime.say(self.run, f"  {name}: written to {path} (no --labels to score it against)")
            return path
        try:
            result = kaggle.score(path, self.labels)  # the scorer reads the labels, main() never does
        except kaggle.SubmissionError as error:
            raise ValueError(f"the leaderboard refuses {path}: {error}") from None
        self.rows.append({"method": name, **result})
        runtime.say(self.run, f"  {name} -> {path.name}: log loss {result['log_loss']:.4f}, "
                              f"accuracy {result['accuracy']:.4f}")
        return path

    def scored(self, name: str) -> dict:
        """The row of the submission called ``name``."""
        return next(row for row in self.rows if row["method"] == name)

    def report(self, title: str) -> None:
        """Print the leaderboard and write it to ``comparison.csv``, then read it: the first two
        rows (raw pixels, deep features) against each other, the last two (the fine-tuned network
        and the same network from scratch) against the deep features."""
        runtime.say(self.run, f"\nLeaderboard ({title}):")
        kaggle.report(lambda *parts: runtime.say(self.run, *parts), self.rows)
        kaggle.write_table(self.rows, self.run.path("comparison.csv"))
        runtime.say(self.run, kaggle.verdict(self.rows[0], self.rows[1], self.rows[-2],
                                             self.rows[-1]))


# ------------------------------------------------------------------------------ real use: a folder


def classify_folder(run, folder: pathlib.Path, *, size: int, weights: str,
                    labels: pathlib.Path | None, build, submission_frame, epochs: int,
                    learning_rate: float) -> dict:
    """Real use: ImageNet Inception v3's features of a folder of images (``folder/<class>/`` to
    learn from, ``folder/test/`` to predict; ``weights="none"``: random weights, an offline test
    only), a classifier ``build(features, classes)`` trained on them, its submission (scored
    against ``labels`` when given). Returns main()'s metrics."""
    x_train, y_train, classes, x_test, ids = kaggle.read_image_folder(folder, size)
    runtime.say(run, f"{folder}: {len(x_train)} training images of {len(classes)} classes, "
                     f"{len(x_test)} test images")
    weights = None if weights == "none" else weights
    train_features = kaggle.inception_v3_features(x_train, weights)
    test_features = kaggle.inception_v3_features(x_test, weights)
    model = build(train_features.shape[1], len(classes))
    train(run, "Inception v3 features: softmax regression", model, train_features, y_train,
          epochs, learning_rate, num_classes=len(classes))
    board = Leaderboard(run, ids, submission_frame, class_names=classes, labels=labels,
                        score=labels is not None)
    path = board.submit("submission", model, test_features)
    metrics = {"submission": str(path)}
    if board.rows:
        metrics.update(submission_log_loss=board.rows[0]["log_loss"],
                       submission_accuracy=board.rows[0]["accuracy"])
    return metrics
