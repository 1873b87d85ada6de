"""The digit judge: an honest score for generated MNIST samples (the GMMN and GAN exercises).

A generator is not judged by its own loss. A small convnet, the *judge*, is trained once on MNIST's
60000 training digits with a fixed recipe and kept in the data cache like downloaded weights; a set
of samples is then scored by what the judge makes of them:

    judge = load_judge()                             # trained on first use (~15 s), then cached
    numbers = figures(judge, samples)                # (n, 784), (n, 28, 28) or (n, 28, 28, 1)
    report(print, numbers, baseline_figures(judge))  # where they sit, from real digits to noise

- ``fid``: the Frechet distance between Gaussian fits of the judge's penultimate features (128
  ReLU units) of the samples and of the 10000 MNIST test digits, an "FID for MNIST". 0 is a
  perfect match; lower is better. With 2000 samples, real digits score about 1 (finite-sample
  bias), not 0.
- ``inception_score``: ``exp(E_x KL(p(y|x) || p(y)))`` with the judge's softmax: up to 10 when every
  sample is a confident digit and the ten digits are equally common, 1 when all samples look alike.
- ``classes``: how many of the ten digits the samples cover. A sample votes for the judge's top
  class only when the judge gives it probability >= 0.5 (a blur between two digits votes for
  nothing); a digit counts when at least 2.5% of the samples (a quarter of its fair 10%) vote for
  it. So a collapsed generator scores few classes, and an evenly spread one scores 10.

The checker (:func:`seminar.grader.measures.generated_figures`) draws 2000 samples from the
``generate(n, seed)`` function that ``main()`` returns, on a seed no training used, and scores them
with :func:`figures`.

The judge's file ``mnist-judge-v<recipe>-<sha>.keras`` sits in the data cache
(``datasets.cache_dir()``) beside ``mnist-judge-v<recipe>.json``, which records the file's name,
its sha256, the recipe version and the test accuracy measured when it was trained. The record only
tells a damaged file or an older recipe: a judge is trusted for what it does, measured each time it
is loaded (:mod:`seminar.model_cache`). Its accuracy on the 10000 test digits must be >= 0.985, and
it must score its own baselines as a working judge does (:data:`BASELINE_BOUNDS`): real digits
near 1, blurred digits, noise and the mean image far above. A judge whose features were zeroed or
made constant keeps its accuracy but scores every set at FID 0, and fails there. A missing,
corrupt or failing judge is reported, retrained and written atomically (a temporary file in the
same folder, then ``os.replace``), so two processes training at once cannot leave a half-written
file. ``python -m seminar.judge`` prepares it ahead and prints the baselines.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import time

import numpy as np

from seminar import model_cache

# ------------------------------------------------------------------------------ the recipe

RECIPE_VERSION = 1  # bump whenever anything below that changes the trained weights changes
JUDGE_SEED = 20240652  # the judge's own seed: its initial weights and its shuffles
CONV_FILTERS = (16, 32)  # two 3x3 convolutions, each followed by 2x2 max pooling
FEATURES = 128  # the penultimate ReLU layer: the features the FID compares
EPOCHS = 2
BATCH_SIZE = 128
LEARNING_RATE = 3e-3  # Adam, cosine-decayed to 0 over the two epochs
MIN_TEST_ACCURACY = 0.985  # a judge below this on the 10000 test digits is not used

STEM = f"mnist-judge-v{RECIPE_VERSION}"
SIDECAR_NAME = f"{STEM}.json"  # the cache's record of the judge (seminar/model_cache.py)

# ------------------------------------------------------------------------------ the figures

SIDE = 28
PIXELS = SIDE * SIDE
PIXEL_TOLERANCE = 0.01  # samples may stray this far outside [0, 1] (then they are clipped)
CONFIDENCE = 0.5  # a sample votes for the judge's top class only with at least this probability
CLASS_SHARE = 0.025  # a class is covered when at least this share of the samples votes for it
BLUR_SIGMA = 1.5  # pixels, for the "blurred test digits" baseline
EVAL_BATCH = 1000

SAMPLES = 2000  # samples a set of figures is computed on, the checker's included


def _note(message: str) -> None:
    """One line on stderr, like the data cache's messages (printed even with --quiet)."""
    print(f"[judge] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ data


_MNIST: dict = {}


def _mnist():
    """MNIST as ``(x_train, y_train), (x_test, y_test)`` uint8 arrays, read once per process. The
    arrays are verified against pinned hashes by ``datasets.mnist``, so they are the same whatever
    folder they were read from (a test may move the cache after this)."""
    if "arrays" not in _MNIST:
        from datasets import mnist

        _MNIST["arrays"] = mnist.load()
    return _MNIST["arrays"]


def _to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 digits (n, 28, 28) -> float32 (n, 28, 28, 1) in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[..., None]


def as_images(samples, what: str = "samples") -> np.ndarray:
    """Samples of shape (n, 784), (n, 28, 28) or (n, 28, 28, 1), pixels in [0, 1], as float32
    ``(n, 28, 28, 1)``. A NumPy array, a TensorFlow tensor or anything ``np.asarray`` takes.
    Raise ValueError saying what was expected for another shape, too few samples, a non-numeric
    type, NaN/inf, or pixels outside [-0.01, 1.01] (values inside are clipped to [0, 1])."""
    try:
        array = np.asarray(samples)
    except Exception as error:  # noqa: BLE001  (e.g. a ragged list)
        raise ValueError(f"{what}: cannot be read as an array ({error}); expected n images of "
                         f"shape (n, 784), (n, 28, 28) or (n, 28, 28, 1)") from None
    if array.dtype.kind not in "fiu":
        raise ValueError(f"{what}: expected numbers (pixels in [0, 1]), got dtype {array.dtype}")
    shape = tuple(array.shape)
    if not (shape[1:] in ((PIXELS,), (SIDE, SIDE), (SIDE, SIDE, 1)) and len(shape) >= 2):
        raise ValueError(f"{what}: expected n images of shape (n, 784), (n, 28, 28) or "
                         f"(n, 28, 28, 1), got shape {shape}")
    if shape[0] < 2:
        raise ValueError(f"{what}: expected at least 2 images to fit a Gaussian to, got {shape[0]}")
    array = array.astype(np.float32).reshape(-1, SIDE, SIDE, 1)
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).reshape(len(array), -1).any(axis=1).sum())
        raise ValueError(f"{what}: {bad} of {len(array)} images hold NaN or inf; expected pixels "
                         f"in [0, 1]")
    low, high = float(array.min()), float(array.max())
    if low < -PIXEL_TOLERANCE or high > 1 + PIXEL_TOLERANCE:
        raise ValueError(f"{what}: pixels range over [{low:.4g}, {high:.4g}]; expected values in "
                         f"[0, 1] like MNIST's pixel / 255 (a sigmoid output, or clip them)")
    return np.clip(array, 0.0, 1.0)


# ------------------------------------------------------------------------------ the judge


@dataclasses.dataclass
class Judge:
    """The trained classifier and the reference statistics of the 10000 test digits."""

    model: object  # keras.Model: images (n, 28, 28, 1) -> logits (n, 10)
    path: pathlib.Path | None  # the verified file it was loaded from (None: not cached)
    test_accuracy: float
    reference_mean: np.ndarray  # (128,) float64: mean penultimate features of the test digits
    reference_cov: np.ndarray  # (128, 128) float64: their covariance
    reference_cov_sqrt: np.ndarray  # its symmetric square root, for the Frechet distance
    _outputs: object = dataclasses.field(default=None, repr=False)
    _baselines: dict = dataclasses.field(default_factory=dict, repr=False)

    def features_and_logits(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Penultimate features (n, 128) and logits (n, 10), float64, of float32 images
        (n, 28, 28, 1) in [0, 1] (see :func:`as_images`)."""
        if self._outputs is None:
            self._outputs = _outputs_function(self.model)
        import tensorflow as tf

        features, logits = [], []
        for start in range(0, len(images), EVAL_BATCH):
            f, z = self._outputs(tf.constant(images[start:start + EVAL_BATCH], tf.float32))
            features.append(f.numpy())
            logits.append(z.numpy())
        return (np.concatenate(features).astype(np.float64),
                np.concatenate(logits).astype(np.float64))


def _outputs_function(model):
    import keras
    import tensorflow as tf

    both = keras.Model(model.inputs, [model.get_layer("features").output, model.outputs[0]])
    return tf.function(lambda x: both(x, training=False), reduce_retracing=True)


def build_model():
    """The judge's architecture, with every initial weight drawn from :data:`JUDGE_SEED`."""
    import keras

    def init(offset):  # a separate seeded initializer per layer: no global random state is used
        return keras.initializers.GlorotUniform(seed=JUDGE_SEED + offset)

    inputs = keras.Input((SIDE, SIDE, 1), name="digits")
    h = keras.layers.Conv2D(CONV_FILTERS[0], 3, activation="relu", kernel_initializer=init(0),
                            name="conv1")(inputs)
    h = keras.layers.MaxPooling2D(name="pool1")(h)
    h = keras.layers.Conv2D(CONV_FILTERS[1], 3, activation="relu", kernel_initializer=init(1),
                            name="conv2")(h)
    h = keras.layers.MaxPooling2D(name="pool2")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.Dense(FEATURES, activation="relu", kernel_initializer=init(2),
                           name="features")(h)
    logits = keras.layers.Dense(10, kernel_initializer=init(3), name="logits")(h)
    return keras.Model(inputs, logits, name="mnist_judge")


def train_model():
    """Train the judge on the 60000 training digits with the fixed recipe; return the model.

    Deterministic: seeded initializers, shuffles from ``numpy.random.default_rng(JUDGE_SEED)`` and
    TensorFlow's deterministic kernels. Python's, NumPy's and TensorFlow's global generators are
    left untouched, so a run that trains the judge draws the same numbers as one that loads it."""
    import keras
    import tensorflow as tf

    try:
        tf.config.experimental.enable_op_determinism()  # what every seminar run turns on anyway
    except (AttributeError, RuntimeError):
        pass
    (x_train, y_train), _ = _mnist()
    x, y = _to_unit(x_train), y_train.astype(np.int32)
    model = build_model()
    steps_per_epoch = -(-len(x) // BATCH_SIZE)
    optimizer = keras.optimizers.Adam(
        keras.optimizers.schedules.CosineDecay(LEARNING_RATE, EPOCHS * steps_per_epoch))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    rng = np.random.default_rng(JUDGE_SEED)
    started = time.perf_counter()
    for epoch in range(EPOCHS):
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            loss = step(tf.constant(x[batch]), tf.constant(y[batch]))
        _note(f"  epoch {epoch + 1}/{EPOCHS}: last batch loss {float(loss):.4f} "
              f"({time.perf_counter() - started:.0f} s)")
    return model


def _reference(model) -> Judge:
    """Evaluate ``model`` on the 10000 test digits: its accuracy and their feature statistics."""
    _, (x_test, y_test) = _mnist()
    judge = Judge(model, None, 0.0, np.zeros(FEATURES), np.zeros((FEATURES, FEATURES)),
                  np.zeros((FEATURES, FEATURES)))
    features, logits = judge.features_and_logits(_to_unit(x_test))
    judge.test_accuracy = float(np.mean(np.argmax(logits, axis=1) == y_test))
    judge.reference_mean, judge.reference_cov = _gaussian(features)
    judge.reference_cov_sqrt = _sqrtm_psd(judge.reference_cov)
    return judge


def _cache() -> model_cache.CachedModel:
    return model_cache.CachedModel(
        stem=STEM, version=RECIPE_VERSION, what="the digit judge", tested_on="the test digits",
        minimum=MIN_TEST_ACCURACY, cost="about 15 s on 2 CPU cores",
        recipe={"conv_filters": list(CONV_FILTERS), "features": FEATURES, "epochs": EPOCHS,
                "batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE, "seed": JUDGE_SEED},
        train=train_model, evaluate=_reference, note=_note, verify=baseline_problem)


def _read_cached(folder: pathlib.Path):
    """``(the verified judge in folder, "", None)``, or ``(None, why not, the judge file to
    discard)`` (the file, when it exists but is corrupt, unloadable, inaccurate or misjudges its
    baselines)."""
    return _cache().read(folder)


_LOADED: dict[str, Judge] = {}


def load_judge() -> Judge:
    """The verified judge from the data cache, trained (and cached) first when it is missing,
    corrupt, of another recipe version, below 0.985 test accuracy or misjudging its baselines.
    Loaded once per process and cache folder."""
    return _cache().load(_LOADED)


# ------------------------------------------------------------------------------ the figures


def _gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of rows, float64."""
    features = np.asarray(features, np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix, by eigenvalues
    (tiny negative ones, round-off, clipped to 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mean1, cov1_sqrt, cov1, mean2, cov2) -> float:
    """``|m1 - m2|^2 + tr(C1) + tr(C2) - 2 tr((C1^1/2 C2 C1^1/2)^1/2)``: the squared Wasserstein-2
    distance between two Gaussians. ``C1^1/2 C2 C1^1/2`` is symmetric PSD, so its square root's
    trace is the sum of the square roots of its (clipped) eigenvalues; defined for singular
    covariances too (a generator that outputs one image has covariance 0)."""
    middle = cov1_sqrt @ cov2 @ cov1_sqrt
    values = np.linalg.eigvalsh((middle + middle.T) / 2)
    cross = np.sqrt(np.clip(values, 0.0, None)).sum()
    distance = np.sum((mean1 - mean2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2.0 * cross
    return float(max(distance, 0.0))


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def figures(judge: Judge, samples) -> dict:
    """Score samples ((n, 784), (n, 28, 28) or (n, 28, 28, 1), pixels in [0, 1]): a dict with
    ``fid`` (float, lower is better), ``inception_score`` (float, 1 to 10) and ``classes`` (int,
    0 to 10). Raises ValueError for unusable samples (see :func:`as_images`)."""
    images = as_images(samples)
    features, logits = judge.features_and_logits(images)
    mean, cov = _gaussian(features)
    fid = frechet_distance(judge.reference_mean, judge.reference_cov_sqrt, judge.reference_cov,
                           mean, cov)
    log_p = _log_softmax(logits)  # log p(y|x), (n, 10)
    p = np.exp(log_p)
    log_marginal = np.log(np.maximum(p.mean(axis=0), 1e-300))  # log p(y)
    kl = np.sum(p * (log_p - log_marginal), axis=1)  # KL(p(y|x) || p(y)) per sample
    inception_score = float(np.exp(kl.mean()))
    confident = p.max(axis=1) >= CONFIDENCE
    votes = np.bincount(np.argmax(p, axis=1)[confident], minlength=10)
    classes = int(np.sum(votes >= CLASS_SHARE * len(images)))
    return {"fid": fid, "inception_score": inception_score, "classes": classes}


def gaussian_blur(images: np.ndarray, sigma: float = BLUR_SIGMA) -> np.ndarray:
    """Blur images (n, 28, 28) with a Gaussian of ``sigma`` pixels (zero outside the image): the
    blur is separable, so it is ``K @ image @ K.T`` with a 28x28 matrix K of Gaussian weights."""
    offsets = np.arange(SIDE)[:, None] - np.arange(SIDE)[None, :]
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= np.exp(-0.5 * (np.arange(-SIDE + 1, SIDE) / sigma) ** 2).sum()  # a full row sums to 1
    kernel = kernel.astype(np.float32)
    return kernel @ np.asarray(images, np.float32) @ kernel.T


BASELINES = ("real training digits", "blurred test digits", "mean image", "uniform noise")


def baseline_samples(n: int = SAMPLES, seed: int = 0) -> dict[str, np.ndarray]:
    """The reference sample sets (float32 (n, 28, 28) in [0, 1]) of :func:`baseline_figures`."""
    (x_train, _), (x_test, _) = _mnist()
    rng = np.random.default_rng(seed)
    train = x_train.astype(np.float32) / 255.0
    test = x_test.astype(np.float32) / 255.0
    return {
        # What a perfect generator would score: digits the judge's reference (the test set) is not.
        "real training digits": train[rng.choice(len(train), n, replace=False)],
        "blurred test digits": gaussian_blur(test[rng.choice(len(test), n, replace=n > len(test))]),
        # A generator that learned only the average: n identical copies (covariance 0, which the
        # Frechet distance handles, so no noise is added).
        "mean image": np.repeat(train.mean(axis=0, keepdims=True), n, axis=0),
        "uniform noise": rng.uniform(0.0, 1.0, (n, SIDE, SIDE)).astype(np.float32),
    }


def baseline_figures(judge: Judge, n: int = SAMPLES, seed: int = 0) -> dict[str, dict]:
    """:func:`figures` of the reference sample sets, from a perfect generator (real training
    digits) to a useless one (uniform noise), for :func:`report`. Computed once per process for
    each judge, ``n`` and ``seed`` (about 1.5 CPU seconds for 2000 samples)."""
    if (n, seed) not in judge._baselines:
        judge._baselines[(n, seed)] = {name: figures(judge, samples)
                                       for name, samples in baseline_samples(n, seed).items()}
    return {name: dict(row) for name, row in judge._baselines[(n, seed)].items()}


# What a working judge makes of its baselines (2000 samples each, seed 0), with wide margins. The
# real judge (recipe 1) scores, over the baselines' seeds 0-2: real training digits 0.83-1.10,
# blurred test digits 159-161, the mean image 339, uniform noise 291. A judge with zeroed or
# constant features scores every set at 0: then a generator of noise passes.
BASELINE_BOUNDS = {"real training digits": (None, 10.0), "blurred test digits": (50.0, None),
                   "mean image": (100.0, None), "uniform noise": (100.0, None)}


def baseline_problem(judge: Judge) -> str | None:
    """Why ``judge`` does not score its baselines as a working judge does (see
    :data:`BASELINE_BOUNDS`), or None. The figures are kept for :func:`report`."""
    baselines = baseline_figures(judge)
    wrong = []
    for name, (low, high) in BASELINE_BOUNDS.items():
        fid = baselines[name]["fid"]
        if low is not None and not fid >= low:
            wrong.append(f"{name} {fid:.2f} (a working judge: at least {low:g})")
        elif high is not None and not fid <= high:
            wrong.append(f"{name} {fid:.2f} (a working judge: at most {high:g})")
    if not wrong:
        return None
    return ("misjudges its baselines: FID of " + ", ".join(wrong) + f" on {SAMPLES} samples "
            "each (a working judge scores real digits about 1, blurred digits 160, noise 290, the "
            "mean image 340)")


def report(say, generated: dict | None, baselines: dict[str, dict],
           name: str = "your generator") -> None:
    """Print a small aligned table: the generator's figures (unless None), then each baseline's.
    ``say`` is a print-like function (e.g. ``lambda *a: runtime.say(args, *a)``)."""
    rows = ([(name, generated)] if generated is not None else []) + list(baselines.items())
    width = max(len(row_name) for row_name, _ in rows)
    say(f"  {'':<{width}}  {'FID':>8}  {'IS':>5}  {'classes':>7}")
    for row_name, row in rows:
        say(f"  {row_name:<{width}}  {row['fid']:8.2f}  {row['inception_score']:5.2f}  "
            f"{row['classes']:>7d}")
    say("  (FID: lower is better, 0 = the test digits' statistics; IS: 1 to 10, higher is better; "
        "classes: digits covered, of 10)")


def main(argv=None) -> int:
    """``python -m seminar.judge``: train or verify the cached judge, print the baselines."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m seminar.judge",
                                     description="Prepare the digit judge and print its baselines.")
    parser.add_argument("--samples", type=int, default=SAMPLES)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    judge = load_judge()
    print(f"judge: {judge.path}  test accuracy {judge.test_accuracy:.4f}  "
          f"({time.perf_counter() - started:.1f} s)")
    started = time.perf_counter()
    baselines = baseline_figures(judge, n=args.samples)
    print(f"baselines on {args.samples} samples each ({time.perf_counter() - started:.1f} s):")
    report(print, None, baselines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
