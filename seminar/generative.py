"""Plumbing shared by the generative exercises (the GMMN and the GAN), so that each exercise file
shows only its model, its loss and its training step.

    digits = generative.training_digits(run)                   # (55000, 784) float32 in [0, 1]
    noise = generative.Noise(NOISE_DIM, "uniform", args.seed)  # the training noise, seeded
    generate = generative.make_generate(generator, noise)      # generate(n, seed) -> (n, 28, 28)
    log = generative.GeneratorLog(run, epochs=args.epochs, generate=generate, seed=args.seed)
    for epoch in range(args.epochs):
        losses = []
        for real in log.batches(generative.batches(digits, args.batch_size, rng)):
            losses.append(step(real, noise.draw(args.batch_size)))
        log.epoch(epoch, loss=losses)          # a GAN: log.epoch(epoch, d_loss=..., g_loss=...)
    metrics = generative.report(run, log, "GMMN")              # the PNGs, the judge's figures

The pictures: one row of samples per epoch from the same fixed noise (``samples_per_epoch.png``,
the student watches digits form), the loss curves (``loss_curves.png``) and 100 final samples
(``samples.png``). The samples are then scored by the digit judge (:mod:`seminar.judge`): FID,
inception score and the number of digit classes covered, printed beside the judge's baselines
(real digits, blurred digits, the mean image, noise).
"""

from __future__ import annotations

import math
import pathlib
import time

import numpy as np

from seminar import plots, runtime
from seminar.training_log import TrainingLog

SIDE = 28
PIXELS = SIDE * SIDE
STRIP_SAMPLES = 10  # samples per row of the per-epoch strip
STRIP_MAX_ROWS = 12  # a longer run shows evenly spaced epochs (always the first and the last)
GRID_SAMPLES = 100
JUDGED_SAMPLES = 2000  # the checker judges 2000 samples too
# The seeds of the pictures' and the report's samples: the run's seed plus these offsets, which no
# training draws from (the checker uses the run's seed plus 5_000_000, see seminar/judge.py).
STRIP_SEED_OFFSET = 1_000_000
GRID_SEED_OFFSET = 2_000_000
REPORT_SEED_OFFSET = 3_000_000
GENERATE_CHUNK = 1000  # generate() runs the generator on this many noise vectors at a time


# ------------------------------------------------------------------------------------ data


def training_digits(run: runtime.RunContext | None = None) -> np.ndarray:
    """The 55000 MNIST training digits (the validation split is held out, as in the other
    chapters) as ``(55000, 784)`` float32 rows with pixels in [0, 1]."""
    from seminar.mnist_splits import mnist_splits

    data = mnist_splits(flat=True)
    if run is not None:
        runtime.say(run, f"MNIST: {data.num_train} training digits, pixels in [0, 1]")
    return data.x_train


def batches(images: np.ndarray, batch_size: int, rng: np.random.Generator) -> "Batches":
    """One epoch of ``images`` in a random order drawn from ``rng``: see :class:`Batches`."""
    if batch_size > len(images):
        raise ValueError(f"--batch-size {batch_size} is larger than the {len(images)} training digits")
    return Batches(images, batch_size, rng.permutation(len(images)))


class Batches:
    """The batches of one epoch, float32 tensors ``(batch_size, 784)`` in the order ``order`` (a
    permutation of the images); ``len()`` is their number, for the progress bar. The last
    incomplete batch is dropped: every step compares batches of the same size (and the training
    step is traced once)."""

    def __init__(self, images: np.ndarray, batch_size: int, order: np.ndarray):
        self.images, self.batch_size, self.order = images, batch_size, order

    def __len__(self) -> int:
        return len(self.images) // self.batch_size

    def __iter__(self):
        import tensorflow as tf

        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield tf.constant(self.images[np.sort(self.order[start:start + self.batch_size])])


class Noise:
    """The generator's input: ``dim`` numbers per sample, uniform in [-1, 1] (``kind="uniform"``)
    or standard normal (``kind="normal"``), drawn from a ``tf.random.Generator`` of its own, so
    that drawing noise never disturbs the global random state (and the reverse)."""

    KINDS = ("uniform", "normal")

    def __init__(self, dim: int, kind: str, seed: int):
        import tensorflow as tf

        if kind not in self.KINDS:
            raise ValueError(f"noise kind must be one of {self.KINDS}, got {kind!r}")
        self.dim, self.kind = int(dim), kind
        self._generator = tf.random.Generator.from_seed(seed)

    def draw(self, n: int, generator=None):
        """``(n, dim)`` float32 noise from this source's generator (or from ``generator``)."""
        generator = generator or self._generator
        if self.kind == "uniform":
            return generator.uniform((n, self.dim), -1.0, 1.0)
        return generator.normal((n, self.dim))

    def seeded(self, n: int, seed: int):
        """``(n, dim)`` noise that depends only on ``seed``: the same seed, the same noise."""
        import tensorflow as tf

        return self.draw(n, tf.random.Generator.from_seed(seed))


# ------------------------------------------------------------------------------ moment matching

# The pixel GMMN's kernel bandwidths (autoencoders/gmmn's SIGMAS), in pixel units: two MNIST digits
# are typically at distance 7-10. Right for pixels, far too wide for codes of another scale.
PIXEL_SIGMAS = (2.0, 5.0, 10.0, 20.0, 40.0, 80.0)
# The pixel GMMN's generator: autoencoders/gmmn's, the paper's for MNIST.
GMMN_NOISE_DIM = 10
GMMN_HIDDEN_UNITS = (64, 256, 256, 1024)


def squared_distances(x, y):
    """All pairwise squared Euclidean distances, ``(n, m)`` for ``x`` (n, d) and ``y`` (m, d), every
    entry >= 0, from one matrix product: what autoencoders/gmmn's student writes, given here to
    the lessons that build on it."""
    import tensorflow as tf

    x_norms = tf.reduce_sum(tf.square(x), axis=1, keepdims=True)  # (n, 1)
    y_norms = tf.reduce_sum(tf.square(y), axis=1, keepdims=True)  # (m, 1)
    return tf.maximum(x_norms - 2.0 * tf.matmul(x, y, transpose_b=True) + tf.transpose(y_norms), 0.0)


def mmd2(x, y, sigmas):
    """The squared maximum mean discrepancy (the biased estimate, every pair included) between the
    samples ``x`` (n, d) and ``y`` (m, d) with the kernel sum_sigma exp(-||a - b||^2 / (2 sigma^2)),
    a scalar: autoencoders/gmmn's ``mmd2``. ``sigmas`` may be numbers or a 1-D tensor."""
    import tensorflow as tf

    sigmas = tf.reshape(tf.cast(sigmas, tf.float32), (-1, 1, 1))

    def kernel(a, b):
        return tf.reduce_sum(tf.exp(-squared_distances(a, b)[None] / (2.0 * tf.square(sigmas))), axis=0)

    return tf.reduce_mean(kernel(x, x)) + tf.reduce_mean(kernel(y, y)) - 2.0 * tf.reduce_mean(kernel(x, y))


def dense_generator(noise_dim: int, hidden_units, outputs: int, name: str = "generator"):
    """A Keras generator: noise ``(batch, noise_dim)`` -> ReLU layers of ``hidden_units`` ->
    ``(batch, outputs)`` through a sigmoid (every output in (0, 1))."""
    import keras

    layers = [keras.Input((noise_dim,))]
    layers += [keras.layers.Dense(units, activation="relu") for units in hidden_units]
    layers += [keras.layers.Dense(outputs, activation="sigmoid")]
    return keras.Sequential(layers, name=name)


def train_pixel_gmmn(run: runtime.RunContext, digits: np.ndarray, *, steps: int, seed: int,
                     batch_size: int = 250, learning_rate: float = 5e-3):
    """autoencoders/gmmn's pixel-space GMMN (its generator, bandwidths, batch and Adam), trained
    for ``steps`` steps on ``digits`` (n, 784), for a comparison: returns ``(generate, seconds)``,
    ``generate(n, seed)`` as :func:`make_generate`'s, and the training's wall-clock seconds."""
    import keras
    import tensorflow as tf

    generator = dense_generator(GMMN_NOISE_DIM, GMMN_HIDDEN_UNITS, PIXELS, "pixel_gmmn_generator")
    optimizer = keras.optimizers.Adam(learning_rate)
    noise = Noise(GMMN_NOISE_DIM, "uniform", seed)

    @tf.function
    def step(real, vectors):
        with tf.GradientTape() as tape:
            loss = tf.sqrt(tf.maximum(mmd2(generator(vectors, training=True), real, PIXEL_SIGMAS), 1e-12))
        optimizer.apply_gradients(zip(tape.gradient(loss, generator.trainable_variables),
                                      generator.trainable_variables))
        return loss

    order = np.random.default_rng(seed)
    runtime.say(run, f"The pixel-space GMMN, for comparison: {steps} steps on batches of {batch_size}")
    started, done = time.perf_counter(), 0
    while done < steps:
        for real in batches(digits, batch_size, order):
            step(real, noise.draw(batch_size))
            done += 1
            if done == steps:
                break
    seconds = time.perf_counter() - started
    runtime.say(run, f"  trained in {seconds:.1f} s")
    return make_generate(generator, noise), seconds


# ------------------------------------------------------------------------------ sampling


def make_generate(generator, noise: Noise):
    """The evidence for the checker: ``generate(n, seed)`` returns ``n`` samples, float32
    ``(n, 28, 28)`` with pixels in [0, 1], from noise drawn with a generator seeded by ``seed``
    alone (the same seed gives the same samples; the global random state is not touched). The
    network runs in inference mode (batch normalisation uses its moving averages)."""

    def generate(n: int, seed: int) -> np.ndarray:
        n = int(n)
        if n < 1:
            raise ValueError(f"generate(n, seed) needs n >= 1, got {n}")
        vectors = noise.seeded(n, int(seed))
        chunks = [np.asarray(generator(vectors[start:start + GENERATE_CHUNK], training=False))
                  for start in range(0, n, GENERATE_CHUNK)]
        samples = np.concatenate(chunks).astype(np.float32)
        if samples.shape[1:] not in ((PIXELS,), (SIDE, SIDE), (SIDE, SIDE, 1)):
            raise ValueError(f"the generator must output images (n, {PIXELS}), got {samples.shape}")
        return samples.reshape(n, SIDE, SIDE)

    return generate


# ------------------------------------------------------------------------------ the training log


class GeneratorLog(TrainingLog):
    """The :class:`~seminar.training_log.TrainingLog` of a generator. After each epoch it also
    draws samples from the same fixed noise (a row of ``samples_per_epoch.png``), and stops the run
    with a clear message when a loss is NaN or infinite.

    A GMMN reports its loss as any model does, ``log.epoch(epoch, loss=losses)``. A GAN has no
    single loss (each player's progress raises the other's loss) but one per player, each given as
    its list of batch losses: ``log.epoch(epoch, d_loss=d_losses, g_loss=g_losses)``; they are kept
    per step in ``log.curves`` (the loss of a GMMN there too, as ``"loss"``).
    """

    def __init__(self, run: runtime.RunContext, *, epochs: int, generate, seed: int,
                 name: str = "train"):
        super().__init__(run, epochs=epochs, name=name)
        self.generate, self.seed = generate, seed
        self.player_curves: dict[str, list[float]] = {}
        self.strip = [("start", generate(STRIP_SAMPLES, seed + STRIP_SEED_OFFSET))]

    @property
    def curves(self) -> dict[str, list[float]]:
        """Every loss per step: ``{"loss": ...}`` for one loss, or one curve per player."""
        single = {"loss": self.loss_curve} if self.loss_curve else {}
        return {**single, **self.player_curves}

    def epoch(self, epoch: int, loss=None, **losses) -> dict:
        """Record the epoch as :meth:`TrainingLog.epoch` does, ``losses`` being lists of batch
        losses (tensors or floats) named by player; then draw the strip's row of samples."""
        means = {}
        for name, values in losses.items():
            values = [float(value) for value in values]
            self.player_curves.setdefault(name, []).extend(values)
            means[name] = sum(values) / max(len(values), 1)
        row = super().epoch(epoch, loss=loss, **means)
        for name in ([] if loss is None else ["loss"]) + list(losses):
            if not math.isfinite(row[name]):
                raise FloatingPointError(f"the {name} became NaN or infinite in epoch {epoch + 1}: "
                                         f"check the loss for log(0) or a division by 0")
        samples = self.generate(STRIP_SAMPLES, self.seed + STRIP_SEED_OFFSET)  # the same noise
        self.strip.append((f"epoch {epoch + 1}", samples))
        return row


def report(run: runtime.RunContext, log: GeneratorLog, title: str, *, log_scale: bool = False) -> dict:
    """Write the three pictures and the history, judge 2000 samples and print the judge's table;
    return the final losses (means over the last epoch), the judge's figures and the training
    time. ``log_scale`` draws the loss curves on a log scale."""
    plot_strip(run, log.strip, f"{title}: the same noise after each epoch")
    plot_losses(run, log.curves, len(log.rows), title, log_scale)
    plot_grid(run, log.generate(GRID_SAMPLES, log.seed + GRID_SEED_OFFSET),
              f"{title}: {GRID_SAMPLES} samples after {len(log.rows)} epochs")
    log.write_csv()
    figures = judge_samples(run, log.generate, log.seed)
    runtime.say(run, f"trained for {log.train_seconds:.1f} s ({log.train_cpu_seconds:.1f} CPU s); "
                     f"pictures in {run.output_dir}")
    final = {f"final_{name}": log.rows[-1][name] for name in log.curves}
    return {**final, **figures, **log.summary()}


def judge_samples(run: runtime.RunContext, generate, seed: int, n: int = JUDGED_SAMPLES) -> dict:
    """Score ``n`` samples (drawn with the run's ``seed`` plus an offset of their own) with the
    digit judge and print them beside its baselines: ``{"fid", "inception_score", "classes"}``."""
    from seminar import judge

    started = time.perf_counter()
    judged = judge.figures(judge.load_judge(), generate(n, seed + REPORT_SEED_OFFSET))
    if not run.quiet:
        runtime.say(run, f"The digit judge on {n} samples ({time.perf_counter() - started:.1f} s):")
        judge.report(lambda *parts: runtime.say(run, *parts), judged,
                     judge.baseline_figures(judge.load_judge(), n=n))
    return {"fid": float(judged["fid"]), "inception_score": float(judged["inception_score"]),
            "classes": int(judged["classes"])}


# ------------------------------------------------------------------------------ pictures


def _tile(samples: np.ndarray, rows: int, columns: int, gap: int = 2) -> np.ndarray:
    """Samples ``(rows * columns, 28, 28)`` as one image with white gaps between them."""
    canvas = np.zeros((rows * (SIDE + gap) - gap, columns * (SIDE + gap) - gap), np.float32)
    for index, image in enumerate(np.asarray(samples).reshape(-1, SIDE, SIDE)[:rows * columns]):
        r, c = divmod(index, columns)
        canvas[r * (SIDE + gap):r * (SIDE + gap) + SIDE, c * (SIDE + gap):c * (SIDE + gap) + SIDE] = image
    return canvas


def plot_strip(run: runtime.RunContext, rows: list[tuple[str, np.ndarray]], title: str,
               filename: str = "samples_per_epoch.png") -> pathlib.Path:
    """One row of samples per epoch (``(label, (10, 28, 28))`` pairs), from the same noise; at
    most 12 rows, evenly spaced, always with the first and the last."""
    if len(rows) > STRIP_MAX_ROWS:
        keep = np.unique(np.round(np.linspace(0, len(rows) - 1, STRIP_MAX_ROWS)).astype(int))
        rows = [rows[i] for i in keep]
    return plots.plot_image_rows(run, [(label, samples[:STRIP_SAMPLES]) for label, samples in rows],
                                 filename, title)


def plot_losses(run: runtime.RunContext, curves: dict[str, list[float]], epochs: int, title: str,
                log_scale: bool = False, filename: str = "loss_curves.png") -> pathlib.Path:
    """Each loss per step (light) and its running mean over about a tenth of an epoch, against
    epochs (the curves hold ``epochs`` of them); on a log scale if ``log_scale`` (and every value
    is positive)."""
    plt = plots.pyplot(run)
    fig, ax = plt.subplots(figsize=(8, 3.8))
    steps = max((len(values) for values in curves.values()), default=0)
    steps_per_epoch = max(1, steps // max(epochs, 1))
    window = max(1, steps_per_epoch // 10)
    for name, values in curves.items():
        values = np.asarray(values)
        at = np.arange(1, len(values) + 1) / steps_per_epoch  # in epochs
        line, = ax.plot(at, values, alpha=0.25, linewidth=0.7)
        if len(values) >= window:
            smooth = np.convolve(values, np.ones(window) / window, mode="valid")
            ax.plot(at[window - 1:], smooth, color=line.get_color(),
                    label=f"{name} (running mean of {window} steps)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if log_scale and all(np.min(v) > 0 for v in curves.values() if len(v)):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{title}: training losses", fontsize=10)
    return plots.save(fig, run, filename)


def plot_grid(run: runtime.RunContext, samples: np.ndarray, title: str,
              filename: str = "samples.png") -> pathlib.Path:
    """``samples`` (100, 28, 28) as a 10 x 10 grid."""
    plt = plots.pyplot(run)
    columns = 10
    rows = math.ceil(len(samples) / columns)
    fig, ax = plt.subplots(figsize=(6.5, 0.65 * rows + 0.5))
    ax.imshow(_tile(samples, rows, columns), cmap="gray_r", vmin=0.0, vmax=1.0)
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    return plots.save(fig, run, filename)


def plot_beside(run: runtime.RunContext, panels: list[tuple[str, np.ndarray]], filename: str,
                title: str | None = None) -> pathlib.Path:
    """Sample grids side by side, one panel per ``(label, samples (100, 28, 28))``, each 10 x 10."""
    plt = plots.pyplot(run)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 4.0), squeeze=False)
    for ax, (label, samples) in zip(axes[0], panels):
        samples = np.asarray(samples, np.float32).reshape(-1, SIDE, SIDE)[:GRID_SAMPLES]
        rows = math.ceil(len(samples) / 10)
        ax.imshow(_tile(samples, rows, 10), cmap="gray_r", vmin=0.0, vmax=1.0)
        ax.axis("off")
        ax.set_title(label, fontsize=10)
    if title:
        fig.suptitle(title)
    return plots.save(fig, run, filename)
