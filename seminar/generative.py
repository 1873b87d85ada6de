"""Plumbing shared by the generative exercises (the GMMN and the GAN), so that each exercise file
shows only its model, its loss and its training step.

    digits = generative.training_digits(args)                  # (55000, 784) float32 in [0, 1]
    noise = generative.Noise(NOISE_DIM, "uniform", args.seed)  # the training noise, seeded
    generate = generative.make_generate(generator, noise)      # generate(n, seed) -> (n, 28, 28)
    loop = generative.TrainingLoop(args, generate, ("mmd",), steps_per_epoch)
    for epoch in range(args.epochs):
        for real in generative.batches(digits, args.batch_size, rng):
            loop.step(train_step(real, noise.draw(args.batch_size)))
        loop.end_epoch()
    figures = loop.finish()                                    # the PNGs, the judge's figures

The pictures: one row of samples per epoch from the same fixed noise (``samples_per_epoch.png``,
the student watches digits form), the loss curves (``loss_curves.png``) and 100 final samples
(``samples.png``). The samples are then scored by the digit judge (:mod:`seminar.judge`): FID,
inception score and the number of digit classes covered, printed beside the judge's baselines
(real digits, blurred digits, the mean image, noise).
"""

from __future__ import annotations

import argparse
import math
import pathlib
import time

import numpy as np

from seminar import plots, runtime

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
PRINT_EVERY_SECONDS = 3.0
GENERATE_CHUNK = 1000  # generate() runs the generator on this many noise vectors at a time


# ------------------------------------------------------------------------------------ data


def training_digits(args: argparse.Namespace) -> np.ndarray:
    """The 55000 MNIST training digits (the validation split is held out, as in the other
    chapters) as ``(55000, 784)`` float32 rows with pixels in [0, 1]."""
    from seminar import vision

    data = vision.mnist_splits(flat=True)
    runtime.say(args, f"MNIST: {data.num_train} training digits, pixels in [0, 1]")
    return data.x_train


def batches(images: np.ndarray, batch_size: int, rng: np.random.Generator):
    """One epoch of ``images`` in a random order drawn from ``rng``, as float32 tensors
    ``(batch_size, 784)``. The last incomplete batch is dropped: every step compares batches of
    the same size (and the training step is traced once)."""
    import tensorflow as tf

    if batch_size > len(images):
        raise ValueError(f"--batch-size {batch_size} is larger than the {len(images)} training digits")
    order = rng.permutation(len(images))
    for start in range(0, len(images) - batch_size + 1, batch_size):
        yield tf.constant(images[np.sort(order[start:start + batch_size])])


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


# ------------------------------------------------------------------------------ checks


def check_generator(generator, noise_dim: int, where: str = "build_generator") -> None:
    """Raise ValueError unless the Keras model maps ``(batch, noise_dim)`` to ``(batch, 784)``."""
    if tuple(generator.input_shape) != (None, noise_dim) or tuple(generator.output_shape) != (None, PIXELS):
        raise ValueError(f"{where}() must return a model from noise (batch, {noise_dim}) to images "
                         f"(batch, {PIXELS}); got {generator.input_shape} -> {generator.output_shape}")


def check_squared_distances(squared_distances) -> None:
    """Compare the student's pairwise squared distances with NumPy's on a small case."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x, y = rng.uniform(size=(5, 7)).astype(np.float32), rng.uniform(size=(3, 7)).astype(np.float32)
    got = squared_distances(tf.constant(x), tf.constant(y))
    expected = ((x[:, None, :] - y[None, :, :]) ** 2).sum(axis=-1)
    if tuple(got.shape) != expected.shape:
        raise ValueError(f"squared_distances(x, y) with x (5, 7) and y (3, 7) must return a (5, 3) "
                         f"matrix of ||x_i - y_j||^2, got shape {tuple(got.shape)}")
    if not np.allclose(np.asarray(got), expected, atol=1e-4):
        i, j = np.unravel_index(np.argmax(np.abs(np.asarray(got) - expected)), expected.shape)
        raise ValueError(f"squared_distances(x, y)[{i}, {j}] must be ||x_{i} - y_{j}||^2 = "
                         f"{expected[i, j]:.4f}, got {float(got[i, j]):.4f}")


def check_mmd(mmd2, sigmas) -> None:
    """The student's squared MMD must be a scalar, 0 between a batch and itself, and agree with a
    NumPy computation on a small case."""
    import tensorflow as tf

    rng = np.random.default_rng(1)
    x = rng.uniform(size=(6, 20)).astype(np.float32)
    y = (rng.uniform(size=(4, 20)) * 2).astype(np.float32)
    got = mmd2(tf.constant(x), tf.constant(y), sigmas)
    if tuple(got.shape) != ():
        raise ValueError(f"mmd2 must return a scalar (shape ()), got shape {tuple(got.shape)}")

    def kernel(a, b):
        distances = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1).astype(np.float64)
        return sum(np.exp(-distances / (2.0 * s ** 2)) for s in sigmas)

    expected = kernel(x, x).mean() + kernel(y, y).mean() - 2.0 * kernel(x, y).mean()
    same = float(mmd2(tf.constant(x), tf.constant(x), sigmas))
    if abs(same) > 1e-4:
        raise ValueError(f"mmd2(x, x) must be 0 (a batch does not differ from itself), got {same:.4g}")
    if not math.isclose(float(got), expected, rel_tol=1e-3, abs_tol=1e-5):
        raise ValueError(f"mmd2 on a small test case (6 and 4 samples, sigmas {list(sigmas)}) must "
                         f"be mean k(x, x') + mean k(y, y') - 2 mean k(x, y) = {expected:.5f} "
                         f"(k: the sum of the Gaussian kernels), got {float(got):.5f}")


def check_gan_losses(discriminator_loss, generator_loss) -> None:
    """The two GAN losses must be scalars that reward the right thing."""
    import tensorflow as tf

    confident = tf.fill((8, 1), 6.0)  # logits: D says "real" with probability 0.998
    for name, value in [("discriminator_loss", discriminator_loss(confident, -confident)),
                        ("generator_loss", generator_loss(-confident))]:
        if tuple(value.shape) != ():
            raise ValueError(f"{name} must return a scalar (the mean over the batch), got shape "
                             f"{tuple(value.shape)}")
    right, wrong = float(discriminator_loss(confident, -confident)), float(discriminator_loss(-confident, confident))
    if not right < wrong:
        raise ValueError(f"discriminator_loss(real_logits, fake_logits) must be small when D calls "
                         f"real digits real and fakes fake ({right:.3f}) and large the other way "
                         f"round ({wrong:.3f})")
    fooled, rejected = float(generator_loss(confident)), float(generator_loss(-confident))
    if not rejected > 3.0 > fooled:
        raise ValueError(f"generator_loss(fake_logits) must be -log D(G(z)) averaged over the batch: "
                         f"large ({rejected:.3f}, expected about 6) when D rejects the fakes with "
                         f"logit -6, small ({fooled:.3f}) when D takes them for real")


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


# ------------------------------------------------------------------------------ the training loop


class TrainingLoop:
    """Progress, history and pictures around a hand-written training loop.

    ``step(values)`` takes what one training step returned (a scalar tensor, or a tuple of them,
    in the order of ``names``); it keeps the tensors and only reads them when it prints (every few
    seconds), so TensorFlow is not waited for at every step. ``end_epoch()`` prints the epoch's
    mean losses and draws the strip's row; ``finish()`` writes the pictures and judges 2000 samples.
    """

    def __init__(self, args: argparse.Namespace, generate, names: tuple[str, ...],
                 steps_per_epoch: int, title: str, log_scale: bool = False):
        self.args, self.generate, self.names, self.title = args, generate, tuple(names), title
        self.log_scale = log_scale  # draw the loss curves on a log scale
        self.steps_per_epoch = steps_per_epoch
        self.pending: list = []  # this epoch's step values (tensors), read at print time
        self.history: dict[str, list[float]] = {name: [] for name in self.names}  # per step
        self.epoch_means: dict[str, list[float]] = {name: [] for name in self.names}
        self.strip = [("start", generate(STRIP_SAMPLES, args.seed + STRIP_SEED_OFFSET))]
        self.writer = runtime.tensorboard_writer(args)
        self.epoch = 0
        self.train_seconds = 0.0
        self.train_cpu_seconds = 0.0
        self._last_print = time.perf_counter()
        self._epoch_started = None
        self._cpu_started = None

    def _start_clock(self) -> None:
        if self._epoch_started is None:
            self._epoch_started, self._cpu_started = time.perf_counter(), time.process_time()

    def step(self, values) -> None:
        self._start_clock()
        self.pending.append(values if isinstance(values, (tuple, list)) else (values,))
        now = time.perf_counter()
        if now - self._last_print >= PRINT_EVERY_SECONDS:
            self._last_print = now
            latest = self._read(self.pending[-min(len(self.pending), 20):])
            losses = "  ".join(f"{name} {np.mean(v):.4f}" for name, v in latest.items())
            runtime.say(self.args, f"  epoch {self.epoch + 1}/{self.args.epochs}  step "
                                   f"{len(self.pending)}/{self.steps_per_epoch}  {losses}")

    def _read(self, values: list) -> dict[str, np.ndarray]:
        if any(len(v) != len(self.names) for v in values):
            raise ValueError(f"the training step must return {len(self.names)} value(s): "
                             f"{', '.join(self.names)}; got {len(values[0])}")
        array = np.array([[float(x) for x in v] for v in values], dtype=np.float64)
        return {name: array[:, index] for index, name in enumerate(self.names)}

    def end_epoch(self) -> None:
        self._start_clock()
        seconds = time.perf_counter() - self._epoch_started
        self.train_seconds += seconds
        self.train_cpu_seconds += time.process_time() - self._cpu_started
        self._epoch_started = None
        values = self._read(self.pending) if self.pending else {n: np.array([np.nan]) for n in self.names}
        self.pending = []
        for name, series in values.items():
            if not np.all(np.isfinite(series)):
                raise FloatingPointError(f"the {name} loss became NaN or infinite in epoch "
                                         f"{self.epoch + 1}: check the loss for log(0) or a division by 0")
            self.history[name].extend(series.tolist())
            self.epoch_means[name].append(float(series.mean()))
        self.epoch += 1
        self.strip.append((f"epoch {self.epoch}", self.generate(STRIP_SAMPLES, self.args.seed + STRIP_SEED_OFFSET)))
        means = ", ".join(f"{name} {self.epoch_means[name][-1]:.4f}" for name in self.names)
        runtime.say(self.args, f"epoch {self.epoch}/{self.args.epochs}: {means} (mean over the "
                               f"epoch), {seconds:.1f} s")
        self._last_print = time.perf_counter()
        if self.writer is not None:
            import tensorflow as tf

            with self.writer.as_default():
                for name in self.names:
                    tf.summary.scalar(name, self.epoch_means[name][-1], step=self.epoch)

    def finish(self) -> dict:
        """Write the three pictures, judge 2000 samples and print the judge's table; return the
        final losses (mean over the last epoch), the judge's figures and the training time."""
        plot_strip(self.args, self.strip, f"{self.title}: the same noise after each epoch")
        plot_losses(self.args, self.history, self.steps_per_epoch, self.title, self.log_scale)
        plot_grid(self.args, self.generate(GRID_SAMPLES, self.args.seed + GRID_SEED_OFFSET),
                  f"{self.title}: {GRID_SAMPLES} samples after {self.epoch} epochs")
        figures = judge_samples(self.args, self.generate)
        runtime.say(self.args, f"trained for {self.train_seconds:.1f} s "
                               f"({self.train_cpu_seconds:.1f} CPU s); pictures in {self.args.output_dir}")
        final = {f"final_{name}": self.epoch_means[name][-1] for name in self.names}
        return {**final, **figures, "train_seconds": self.train_seconds}


def judge_samples(args: argparse.Namespace, generate, n: int = JUDGED_SAMPLES) -> dict:
    """Score ``n`` samples with the digit judge and print them beside its baselines:
    ``{"fid", "inception_score", "classes"}``."""
    from seminar import judge

    started = time.perf_counter()
    judged = judge.figures(judge.load_judge(), generate(n, args.seed + REPORT_SEED_OFFSET))
    if not getattr(args, "quiet", False):
        runtime.say(args, f"The digit judge on {n} samples ({time.perf_counter() - started:.1f} s):")
        judge.report(lambda *parts: runtime.say(args, *parts), judged,
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


def plot_strip(args, rows: list[tuple[str, np.ndarray]], title: str,
               filename: str = "samples_per_epoch.png") -> pathlib.Path:
    """One row of samples per epoch (``(label, (10, 28, 28))`` pairs), from the same noise; at
    most 12 rows, evenly spaced, always with the first and the last."""
    if len(rows) > STRIP_MAX_ROWS:
        keep = np.unique(np.round(np.linspace(0, len(rows) - 1, STRIP_MAX_ROWS)).astype(int))
        rows = [rows[i] for i in keep]
    return plots.plot_image_rows(args, [(label, samples[:STRIP_SAMPLES]) for label, samples in rows],
                                 filename, title)


def plot_losses(args, history: dict[str, list[float]], steps_per_epoch: int, title: str,
                log_scale: bool = False, filename: str = "loss_curves.png") -> pathlib.Path:
    """Each loss per step (light) and its running mean over about a tenth of an epoch, against
    epochs; on a log scale if ``log_scale`` (and every value is positive)."""
    plt = plots.pyplot(args)
    fig, ax = plt.subplots(figsize=(8, 3.8))
    window = max(1, steps_per_epoch // 10)
    for name, values in history.items():
        values = np.asarray(values)
        epochs = np.arange(1, len(values) + 1) / steps_per_epoch
        line, = ax.plot(epochs, values, alpha=0.25, linewidth=0.7)
        if len(values) >= window:
            smooth = np.convolve(values, np.ones(window) / window, mode="valid")
            ax.plot(epochs[window - 1:], smooth, color=line.get_color(),
                    label=f"{name} (running mean of {window} steps)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if log_scale and all(np.min(v) > 0 for v in history.values() if len(v)):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{title}: training losses", fontsize=10)
    return plots.save(fig, args, filename)


def plot_grid(args, samples: np.ndarray, title: str, filename: str = "samples.png") -> pathlib.Path:
    """``samples`` (100, 28, 28) as a 10 x 10 grid."""
    plt = plots.pyplot(args)
    columns = 10
    rows = math.ceil(len(samples) / columns)
    fig, ax = plt.subplots(figsize=(6.5, 0.65 * rows + 0.5))
    ax.imshow(_tile(samples, rows, columns), cmap="gray_r", vmin=0.0, vmax=1.0)
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    return plots.save(fig, args, filename)
