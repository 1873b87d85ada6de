"""The autoencoders chapter's plumbing, so that each exercise file shows only its encoder, its
decoder and its training step:

    data = autoencoding.load_mnist(run)                      # flat float32 pixels in [0, 1]
    batches = autoencoding.training_batches(data.x_train, args.batch_size, args.seed)
    log = TrainingLog(run, epochs=args.epochs,               # and the validation error per epoch
                      evaluate=autoencoding.validation(data.x_val, reconstruct))
    ...                                                      # the training loop reports to log
    return autoencoding.report(run, data, encode, decode, CODE_SIZE, log)

Here too: principal component analysis with TensorFlow (:func:`fit_pca`, the linear baseline every
autoencoder is compared with), the reconstruction error of any ``reconstruct`` function
(:func:`mean_squared_error`), the principal angles between two subspaces, the pictures (digits above
their reconstructions, training curves, learned directions, walks through code space).

Every error is the mean over pixels and images of ``(reconstruction - image) ** 2``, pixels in
[0, 1]: the number the training loss also averages.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib

import numpy as np

from seminar import plots, runtime
from seminar.mnist_splits import SIDE, MnistSplits, mnist_splits
from seminar.plots import plot_image_rows
from seminar.training_log import TrainingLog

PIXELS = SIDE * SIDE
EVAL_BATCH = 1000  # images per call of a reconstruct function when measuring


# ----------------------------------------------------------------------------------- data


def load_mnist(run: runtime.RunContext | None = None) -> MnistSplits:
    """MNIST as flat rows: ``x_train`` (55000, 784), ``x_val`` (5000, 784), ``x_test`` (10000, 784),
    float32 pixels in [0, 1] (``mnist_splits``; the labels are there but unused)."""
    data = mnist_splits(flat=True)
    if run is not None:
        runtime.say(run, f"MNIST: {data.num_train} training, {len(data.x_val)} validation and "
                         f"{len(data.x_test)} test digits, {PIXELS} pixels in [0, 1] each")
    return data


def as_images(flat) -> np.ndarray:
    """``(n, 784)`` rows as ``(n, 28, 28, 1)`` images (what a convolution takes)."""
    return np.asarray(flat, dtype=np.float32).reshape(-1, SIDE, SIDE, 1)


def add_noise(images, noise: float, seed):
    """``images`` plus Gaussian noise of standard deviation ``noise``, clipped back to [0, 1];
    ``seed`` is a stateless seed (a shape (2,) integer tensor), so the noise is reproducible."""
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    seed = seed if tf.is_tensor(seed) else tf.constant(seed, tf.int64)
    noisy = images + noise * tf.random.stateless_normal(tf.shape(images), seed=seed)
    return tf.clip_by_value(noisy, 0.0, 1.0)


def training_batches(images: np.ndarray, batch_size: int, seed: int, *, pairs: bool = False,
                     noise: float = 0.0, image_shape: bool = False):
    """A ``tf.data.Dataset`` of shuffled training batches (reshuffled at each pass, from ``seed``).

    By default it yields image batches ``(batch, 784)``, one pass over ``images`` per iteration
    (``dataset.take(n)`` stops a pass after ``n`` batches). With ``pairs`` it yields
    ``(inputs, targets)`` for ``model.fit`` and never ends (give fit ``steps_per_epoch``): the
    targets are the images themselves and so are the inputs, or, with ``noise`` > 0, the images
    plus fresh Gaussian noise at every pass (a denoising autoencoder).
    With ``image_shape`` the images are ``(batch, 28, 28, 1)``.
    """
    import tensorflow as tf

    images = as_images(images) if image_shape else np.asarray(images, np.float32)
    dataset = (tf.data.Dataset.from_tensor_slices(images)
               .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
               .batch(batch_size))
    if pairs:
        dataset = dataset.repeat()
        if noise > 0:
            # One stateless seed per batch: (the run's seed, the batch's number since the start).
            numbered = tf.data.Dataset.zip((tf.data.Dataset.counter(), dataset))
            dataset = numbered.map(lambda number, batch: (
                add_noise(batch, noise, tf.stack([tf.constant(seed, tf.int64), number])), batch))
        else:
            dataset = dataset.map(lambda batch: (batch, batch))
    return dataset.prefetch(tf.data.AUTOTUNE)


def steps_per_pass(num_images: int, batch_size: int) -> int:
    """Batches in one pass over the training images (the last one may be smaller)."""
    return math.ceil(num_images / batch_size)


# ----------------------------------------------------------------------------------- a trained autoencoder


def dense_autoencoder(code_size: int = 32, hidden_units: int = 256):
    """The dense autoencoder of autoencoders/autoencoder (``encoder``: 784 -> ``hidden_units``
    ReLU -> ``code_size``, a code of any real numbers; ``decoder``: ``code_size`` -> ``hidden_units``
    ReLU -> 784 sigmoid pixels), for the lessons that start from a trained one."""
    import keras

    encoder = keras.Sequential([keras.Input((PIXELS,)), keras.layers.Dense(hidden_units, activation="relu"),
                                keras.layers.Dense(code_size)], name="encoder")
    decoder = keras.Sequential([keras.Input((code_size,)), keras.layers.Dense(hidden_units, activation="relu"),
                                keras.layers.Dense(PIXELS, activation="sigmoid")], name="decoder")
    return encoder, decoder


def fit_autoencoder(run: runtime.RunContext, data: MnistSplits, encoder, decoder, *, epochs: int,
                    batch_size: int, learning_rate: float, seed: int) -> TrainingLog:
    """Train ``encoder`` and ``decoder`` together on the training digits, as autoencoders/autoencoder
    does (per-pixel mean squared error, Adam decayed along a cosine to 0), with Keras's ``fit``;
    the validation error after each epoch. Returns the training log."""
    import keras

    autoencoder = keras.Sequential([encoder, decoder], name="autoencoder")
    steps = steps_per_pass(data.num_train, batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps * epochs)
    autoencoder.compile(keras.optimizers.Adam(schedule), loss="mse")
    log = TrainingLog(run, epochs=epochs, steps_per_epoch=steps, name="autoencoder", evaluate=validation(
        data.x_val, lambda images: autoencoder(images, training=False).numpy()))
    autoencoder.fit(training_batches(data.x_train, batch_size, seed, pairs=True), epochs=epochs,
                    steps_per_epoch=steps, shuffle=False, verbose=0 if run.quiet else 2,
                    callbacks=[log.keras_callback()])
    return log


# ----------------------------------------------------------------------------------- errors


def through_code(encode, decode, code_size: int, *, error: type = ValueError, name: str = "encode"):
    """``decode(encode(images))`` as one function of float32 rows (n, 784), refusing a code that is
    not (n, code_size): the bottleneck is what makes an autoencoder more than a copy."""

    def reconstruct(images):
        codes = np.asarray(encode(images), dtype=np.float32)
        if codes.shape != (len(images), code_size):
            raise error(f"{name} must turn {len(images)} images into codes of shape "
                        f"({len(images)}, {code_size}), got {codes.shape}")
        return decode(codes)

    return reconstruct


def mean_squared_error(reconstruct, images: np.ndarray, targets: np.ndarray | None = None, *,
                       batch_size: int = EVAL_BATCH, name: str = "reconstruct",
                       error: type = ValueError) -> float:
    """Per-pixel mean squared error of ``reconstruct(batch)`` against ``images`` (n, 784), or
    against ``targets`` (n, 784) when given (the clean images of noisy inputs), computed batch by
    batch in float64. ``reconstruct`` takes float32 rows (batch, 784) and returns anything with
    batch * 784 numbers (a NumPy array or a tensor, flat or (batch, 28, 28, 1)); anything else
    raises ``error`` saying so."""
    if not callable(reconstruct):
        raise error(f"{name} must be a function from images (n, 784) to reconstructions, "
                    f"got {type(reconstruct).__name__}")
    images = np.asarray(images, np.float32).reshape(len(images), PIXELS)
    targets = images if targets is None else np.asarray(targets, np.float32).reshape(images.shape)
    total = 0.0
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        try:
            output = np.asarray(reconstruct(batch), dtype=np.float64)
        except (TypeError, ValueError) as problem:
            raise error(f"{name} must return an array or tensor of numbers for images (n, 784); its "
                        f"output for {len(batch)} images is not one: {problem}") from problem
        if output.size != batch.size:
            raise error(f"{name} must return one reconstruction of {PIXELS} pixels per image: "
                        f"(n, 784) or (n, 28, 28, 1) for n = {len(batch)} images, got shape {output.shape}")
        total += float(np.sum((output.reshape(batch.shape) - targets[start:start + batch_size]) ** 2))
    return total / images.size


def mean_image_mse(train: np.ndarray, test: np.ndarray) -> float:
    """The error of the laziest "autoencoder": every image reconstructed as the mean training image."""
    mean = np.asarray(train, np.float64).mean(axis=0)
    return float(np.mean((np.asarray(test, np.float64) - mean) ** 2))


# ----------------------------------------------------------------------------------- PCA


@dataclasses.dataclass
class Pca:
    """The best linear code of size k: reconstruct ``mean + ((x - mean) V^T) V``, where the rows of
    ``components`` (k, 784) are the top-k eigenvectors of the training images' covariance."""

    mean: np.ndarray  # (784,) float32: the mean training image
    components: np.ndarray  # (k, 784) float32: orthonormal rows, largest variance first
    variances: np.ndarray  # (k,) the variance of the training images along each component
    total_variance: float  # summed over the 784 pixels
    covariance: np.ndarray  # (784, 784) float64: the training images' covariance

    def encode(self, images) -> np.ndarray:
        return (np.asarray(images, np.float32).reshape(-1, PIXELS) - self.mean) @ self.components.T

    def decode(self, codes) -> np.ndarray:
        return self.mean + np.asarray(codes, np.float32) @ self.components

    def reconstruct(self, images) -> np.ndarray:
        return self.decode(self.encode(images))

    def train_mse(self) -> float:
        """Its error on the training images: the variance left out, per pixel."""
        return (self.total_variance - float(np.sum(self.variances))) / PIXELS

    def linear_train_mse(self, w_enc, w_dec) -> float:
        """The training error of the linear autoencoder x -> mean + (x - mean) W_enc W_dec, from
        the covariance C alone (no pass over the images): trace(R^T C R) / 784, R = I - W_enc W_dec."""
        residual = np.eye(PIXELS) - np.asarray(w_enc, np.float64) @ np.asarray(w_dec, np.float64)
        return float(np.sum((self.covariance @ residual) * residual)) / PIXELS


def fit_pca(images: np.ndarray, k: int) -> Pca:
    """PCA with TensorFlow: the covariance of the centred images (784, 784; summed in float32), then
    its eigenvectors (``tf.linalg.eigh``, in float64) sorted by decreasing eigenvalue; keep the
    first ``k``."""
    import tensorflow as tf

    if not 1 <= k <= PIXELS:
        raise ValueError(f"the number of principal components must be between 1 and {PIXELS}, got {k}")
    x = tf.constant(np.asarray(images, np.float32).reshape(-1, PIXELS))
    mean = tf.reduce_mean(x, axis=0)
    centred = x - mean
    covariance = tf.matmul(centred, centred, transpose_a=True) / tf.cast(tf.shape(x)[0], tf.float32)
    covariance = tf.cast(covariance, tf.float64)
    values, vectors = tf.linalg.eigh(covariance)  # increasing eigenvalues
    values, vectors = values[::-1], vectors[:, ::-1]
    return Pca(mean=mean.numpy(), components=tf.transpose(vectors[:, :k]).numpy().astype(np.float32),
               variances=values[:k].numpy(), total_variance=float(tf.reduce_sum(values)),
               covariance=covariance.numpy())


def largest_angle_degrees(rows, components) -> float:
    """The largest principal angle, in degrees, between the space spanned by ``rows`` (k, 784) and
    the space spanned by the orthonormal rows of ``components`` (m, 784), computed with TensorFlow
    in float64: 0 when the first space lies in the second, 90 when some direction of it is
    orthogonal to the second (also when ``rows`` are linearly dependent: they span fewer than k
    dimensions)."""
    import tensorflow as tf

    a = tf.cast(tf.convert_to_tensor(rows), tf.float64)
    b = tf.cast(tf.convert_to_tensor(components), tf.float64)
    singular, _, right = tf.linalg.svd(a)  # a = U diag(s) V^T: V's columns span the rows of a
    if float(singular[-1]) <= 1e-6 * float(singular[0]):
        return 90.0
    outside = right - tf.matmul(b, tf.matmul(b, right), transpose_a=True)  # the part not in span(b)
    sine = float(tf.reduce_max(tf.linalg.svd(outside, compute_uv=False)))
    return math.degrees(math.asin(min(sine, 1.0)))


# ----------------------------------------------------------------------------------- held out


def validation(x_val: np.ndarray, reconstruct):
    """The ``evaluate`` of a :class:`~seminar.training_log.TrainingLog`: after each epoch, the
    reconstruction error of ``reconstruct`` on the 5000 validation digits, ``{"val_mse": ...}``."""

    def evaluate() -> dict:
        return {"val_mse": mean_squared_error(reconstruct, x_val)}

    return evaluate


def distance_to_pca(pca: Pca, w_enc, w_dec):
    """The ``evaluate`` of a linear autoencoder's log: after each epoch, how far its matrices are
    from PCA's optimum: the largest principal angle between the decoder's span and the principal
    subspace, in degrees, and the training error relative to PCA's (exact, from the covariance)."""

    def evaluate() -> dict:
        return {"largest_angle_degrees": largest_angle_degrees(w_dec, pca.components),
                "train_mse_vs_pca": pca.linear_train_mse(w_enc, w_dec) / pca.train_mse()}

    return evaluate


# ----------------------------------------------------------------------------------- report


def report(run: runtime.RunContext, data: MnistSplits, encode, decode, code_size: int,
           log: TrainingLog, *, name: str = "autoencoder", pca: Pca | None = None,
           shown: int = 10) -> dict:
    """Measure ``decode(encode(x))`` on the 10000 test digits against two baselines, PCA with the
    same code size (fitted here with TensorFlow) and the mean training image; print the three
    errors; draw test digits above their reconstructions (``reconstructions.png``) and the training
    curves (``loss_curves.png``); write the history (``history.csv``); return the metrics with the
    evidence the checker reads: the training log's loss curve, and ``encode`` (images (n, 784) ->
    codes (n, code_size)), ``decode`` and ``code_size``, from which it measures the errors itself."""
    reconstruct = through_code(encode, decode, code_size)
    test_mse = mean_squared_error(reconstruct, data.x_test)
    baseline = mean_image_mse(data.x_train, data.x_test)
    pca = pca if pca is not None else fit_pca(data.x_train, code_size)
    pca_mse = mean_squared_error(pca.reconstruct, data.x_test)
    width = max(len(name), 20)
    runtime.say(run, f"Test reconstruction error (per-pixel MSE, {len(data.x_test)} digits), after "
                     f"{log.train_seconds:.1f} s of training:")
    runtime.say(run, f"  {name:<{width}} {test_mse:.5f}   (code size {code_size})")
    runtime.say(run, f"  {f'PCA, {code_size} components':<{width}} {pca_mse:.5f}")
    runtime.say(run, f"  {'mean training image':<{width}} {baseline:.5f}")
    originals = data.x_test[:shown]
    plot_image_rows(run, [("test digit", originals), (name, _as_rows(reconstruct(originals))),
                          (f"PCA-{code_size}", pca.reconstruct(originals))],
                    "reconstructions.png",
                    f"Test digits and their reconstructions from a code of {code_size} numbers")
    log.write_csv()
    plot_training_curves(run, log, {f"PCA-{code_size} (test)": pca_mse, "mean image (test)": baseline})
    metrics = {"test_mse": test_mse, "mean_image_mse": baseline, "pca_mse": pca_mse,
               "mse_vs_mean_image": test_mse / baseline, "mse_vs_pca": test_mse / pca_mse,
               **held_out(log), **log.evidence(), **log.summary(data.num_train)}
    # The evidence: the checker measures the errors itself with these (see measure_test_mse).
    metrics.update(encode=encode, decode=decode, code_size=int(code_size))
    return metrics


def held_out(log: TrainingLog) -> dict:
    """What the log's ``evaluate`` measured after the last epoch (the validation error, the
    distance to PCA), without the training figures of the row."""
    return {key: value for key, value in log.rows[-1].items()
            if key not in ("epoch", "loss", "epoch_seconds", "train_seconds")}


def _as_rows(images) -> np.ndarray:
    return np.asarray(images, np.float32).reshape(-1, PIXELS)


def denoising_report(run: runtime.RunContext, images: np.ndarray, reconstruct, noise: float,
                     seed: int, shown: int = 10) -> dict:
    """A denoising autoencoder on ``images`` (the test digits) with Gaussian noise of deviation
    ``noise`` (drawn from ``seed``, apart from the training's noise): the error of the noisy
    images and of their reconstructions against the clean ones, printed, returned and drawn
    (``denoising.png``: noisy inputs, outputs, originals)."""
    noisy = add_noise(images, noise, [seed, 2**31 - 1]).numpy()
    metrics = {"noisy_input_mse": float(np.mean((noisy - images) ** 2)),
               "denoised_mse": mean_squared_error(reconstruct, noisy, images)}
    runtime.say(run, f"Noisy test digits: error {metrics['noisy_input_mse']:.5f} before, "
                     f"{metrics['denoised_mse']:.5f} after the autoencoder")
    plot_image_rows(run, [("noisy input", noisy[:shown]), ("output", reconstruct(noisy[:shown])),
                          ("original", images[:shown])],
                    "denoising.png", f"Denoising: test digits with Gaussian noise of deviation {noise}")
    return metrics


# ----------------------------------------------------------------------------------- pictures


def plot_training_curves(run: runtime.RunContext, log: TrainingLog, baselines: dict[str, float],
                         filename: str = "loss_curves.png") -> pathlib.Path:
    """Training loss and validation error per epoch (when the log measured it), with the
    baselines' test errors as lines."""
    plt = plots.pyplot(run)
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6.5, 4))
    epochs = log.column("epoch")
    ax.plot(epochs, log.column("loss"), "o-", label="training loss (mean over the epoch)")
    if log.column("val_mse"):
        ax.plot(epochs, log.column("val_mse"), "s-", label="validation MSE (after the epoch)")
    for (label, value), style in zip(baselines.items(), ["--", ":", "-."]):
        ax.axhline(value, linestyle=style, color="0.4", label=f"{label}: {value:.4f}")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("per-pixel mean squared error")
    if len(epochs) <= 12:
        ax.set_xticks(epochs)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    ax.set_title("Reconstruction error during training")
    return plots.save(fig, run, filename)


def plot_subspace_curves(run: runtime.RunContext, log: TrainingLog,
                         filename: str = "subspace_curves.png") -> pathlib.Path:
    """A linear autoencoder converging to PCA, from its log (:func:`distance_to_pca`): the
    largest principal angle to the top-k principal subspace and the training error relative to
    PCA's, after each epoch."""
    plt = plots.pyplot(run)
    epochs = log.column("epoch")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(epochs, log.column("largest_angle_degrees"), "o-")
    left.set_yscale("log")
    left.set_ylabel("degrees")
    left.set_title("Largest angle to the principal subspace")
    ratios = np.asarray(log.column("train_mse_vs_pca"))
    right.plot(epochs, np.maximum(ratios - 1.0, 1e-12), "o-")  # > 0: PCA is the optimum
    right.set_yscale("log")
    right.set_ylabel("MSE / PCA's MSE - 1")
    right.set_title("Training error above PCA's optimum")
    for ax in (left, right):
        ax.set_xlabel("epoch (a pass over the training images)")
        ax.grid(alpha=0.3, which="both")
    return plots.save(fig, run, filename)


def plot_directions(run: runtime.RunContext, decoder_weights: np.ndarray, pca: Pca, angle: float,
                    filename: str = "directions.png") -> pathlib.Path:
    """A linear decoder's k directions (the rows of its (k, 784) matrix) beside the k principal
    components, and each component projected on the decoder's span: the decoder's own rows are
    mixtures of components (any invertible mixing of the code gives the same reconstructions), but
    when the span is right each component survives the projection unchanged."""
    weights = np.asarray(decoder_weights, np.float64)
    _, _, right = np.linalg.svd(weights, full_matrices=False)  # orthonormal basis of the rows' span
    components = np.asarray(pca.components, np.float64)
    projected = (components @ right.T) @ right
    k = len(components)
    return plot_image_rows(
        run, [("principal\ncomponents", components), ("decoder\nrows", weights),
              ("components\nprojected on\nthe decoder's\nspan", projected)],
        filename, f"{k} principal components and a linear decoder's {k} directions "
                  f"(largest angle between the spans: {angle:.2f} degrees)", signed=True)


def plot_code_walks(run: runtime.RunContext, encode, decode, images: np.ndarray,
                    pairs: list[tuple[int, int]], steps: int = 10,
                    filename: str = "code_walk.png") -> pathlib.Path:
    """For each pair (i, j) of ``images`` (n, 784): decode the codes (1 - t) f(x_i) + t f(x_j) for
    ``steps`` values of t from 0 to 1 (a walk through code space), and below it the same walk in
    pixel space, (1 - t) x_i + t x_j, a mere cross-fade. ``encode`` maps images (n, 784) to codes,
    ``decode`` codes to images."""
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    rows = []
    for first, second in pairs:
        codes = np.asarray(encode(images[[first, second]]), np.float32)
        walk = (1.0 - t) * codes[0] + t * codes[1]
        rows.append((f"code space\ntest #{first} -> #{second}", _as_rows(decode(walk))))
        rows.append(("pixel space", (1.0 - t) * images[first] + t * images[second]))
    return plot_image_rows(run, rows, filename,
                           "Walks between test digits: decoded mixtures of their codes, "
                           "and mixtures of their pixels")
