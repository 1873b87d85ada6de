"""Measures that several exercises share: what the checker computes itself from the evidence
``main()`` returns (predicted labels, a classify function, an encoder and decoder, a generator) and
from data it loads or draws itself. An exercise's grading module names them
(``measure_test_accuracy = measures.mnist_test_accuracy``) or calls them with its own settings.
Evidence that is missing or malformed raises :class:`EvidenceError`, saying what ``main()`` must
return.
"""

from __future__ import annotations

import functools

import numpy as np

from seminar.grader.findings import Finding
from seminar.grader.grading import Context, EvidenceError

EVAL_BATCH = 2000  # images per call of a student's function while measuring


# ---------------------------------------------------------------------------- exact values


def exact_fraction(cases) -> float:
    """The share of ``(call, expected value, expected dtype)`` whose call returns a TensorFlow
    tensor of exactly that value and dtype (a NumPy or Python value counts as wrong: the point is
    to compute it with TensorFlow)."""
    import tensorflow as tf

    correct = 0
    for call, expected, dtype in cases:
        value = call()
        correct += bool((tf.is_tensor(value) or isinstance(value, tf.Variable))
                        and value.dtype == dtype and np.array_equal(value.numpy(), expected))
    return correct / len(cases)


# ---------------------------------------------------------------------------- classifiers


def mnist_test_accuracy(context: Context) -> float:
    """The returned predicted labels of the 10000 MNIST test digits (``test_predictions``)
    against the labels loaded here."""
    from datasets import mnist

    (_, _), (_, y_test) = mnist.load()
    predicted = context.evidence("test_predictions", (len(y_test),))
    return float(np.mean(predicted.astype(np.int64) == y_test))


def classifier_accuracy(context: Context, key: str, described: str, images: np.ndarray,
                        labels: np.ndarray) -> float:
    """The accuracy of main()'s ``key``, a function from images to logits (n, 10), on ``images``
    the checker loaded, fed in batches of 2000. ``described`` says what the function is."""
    cached = context.cache.get(("accuracy", key))
    if cached is not None:
        return cached
    shape = "(n, " + ", ".join(str(side) for side in images.shape[1:]) + ")"
    classify = context.evidence_function(
        key, f"{described}: a function from float32 images {shape} in [0, 1] to logits (n, 10)")
    correct = 0
    for start in range(0, len(images), EVAL_BATCH):
        batch = images[start:start + EVAL_BATCH]
        try:
            logits = np.asarray(classify(batch), dtype=np.float64)
        except (TypeError, ValueError) as problem:
            raise EvidenceError(f"main()'s {key!r} must return an array or tensor of numbers, "
                                f"logits (n, 10); its output for {len(batch)} images is not one: "
                                f"{problem}") from problem
        if logits.shape != (len(batch), 10):
            raise EvidenceError(f"main()'s {key!r} must return logits of shape (n, 10) for images "
                                f"{shape}: for n = {len(batch)} images it returned shape "
                                f"{logits.shape}")
        if not np.all(np.isfinite(logits)):
            raise EvidenceError(f"main()'s {key!r} returned NaN or infinite logits (did the "
                                f"training diverge?)")
        correct += int(np.sum(np.argmax(logits, axis=1) == labels[start:start + EVAL_BATCH]))
    context.cache[("accuracy", key)] = accuracy = correct / len(images)
    return accuracy


@functools.lru_cache(maxsize=2)
def test_images(source: str) -> tuple[np.ndarray, np.ndarray]:
    """The 10000 test images of ``"mnist"`` or ``"fashion_mnist"``, loaded here: float32
    (10000, 28, 28) = raw / 255, and int64 labels."""
    import importlib

    (_, _), (x_test, y_test) = importlib.import_module(f"datasets.{source}").load()
    return x_test.astype(np.float32) / 255.0, y_test.astype(np.int64)


# ---------------------------------------------------------------------------- autoencoders


def require_code_size(context: Context, code_size: int) -> None:
    """main()'s ``code_size`` must be the exercise's."""
    from seminar.autoencoding import PIXELS

    returned = context.evidence_object("code_size", "the number of code units")
    if isinstance(returned, bool) or not isinstance(returned, (int, np.integer)) \
            or not 1 <= int(returned) <= PIXELS:
        raise EvidenceError(f"main() must return 'code_size', the number of code units, an "
                            f"integer between 1 and {PIXELS}; got {returned!r}")
    if int(returned) != code_size:
        raise EvidenceError(f"main() returned code_size {int(returned)}, but this exercise's code "
                            f"has {code_size} numbers (CODE_SIZE = {code_size} in the original "
                            f"file)")


def reconstruction_error(context: Context, code_size: int) -> float:
    """Per-pixel mean squared error of main()'s ``decode(encode(x))`` on the 10000 MNIST test
    digits, through a code of ``code_size`` numbers: the exercise holds the size, not the student's
    file, since through a larger code (or none) any network copies its input."""
    if "reconstruction" in context.cache:
        return context.cache["reconstruction"]
    from seminar import autoencoding

    require_code_size(context, code_size)
    encode, decode = context.metrics.get("encode"), context.metrics.get("decode")
    if not (callable(encode) and callable(decode)):
        raise EvidenceError("main() must return 'encode', a function from float32 images (n, 784) "
                            "in [0, 1] to codes (n, code_size), and 'decode', from codes back to "
                            "images (n, 784) (both are in the original skeleton's main)")
    reconstruct = autoencoding.through_code(encode, decode, code_size, error=EvidenceError,
                                            name="main()'s 'encode'")
    value = autoencoding.mean_squared_error(reconstruct, pca_reference().test,
                                            name="main()'s 'decode'", error=EvidenceError)
    context.cache["reconstruction"] = value
    return value


def error_vs_mean_image(context: Context, code_size: int) -> float:
    """That error divided by the error of predicting the mean training image for every digit."""
    reference = pca_reference()
    baseline = float(np.mean((reference.test.astype(np.float64) - reference.mean) ** 2))
    return reconstruction_error(context, code_size) / baseline


def error_vs_pca(context: Context, code_size: int) -> float:
    """That error divided by PCA's test error with ``code_size`` components (fitted here on the
    55000 training images, float64): below 1 means better than the best linear code."""
    return reconstruction_error(context, code_size) / pca_reference().test_error(code_size)


class PcaReference:
    """The 10000 test digits (float32 rows, pixel / 255), the mean of the 55000 training images of
    ``mnist_splits`` and the eigenvectors of their covariance (float64, largest first, one per
    row), computed once per process."""

    def __init__(self):
        from datasets import mnist
        from seminar.mnist_splits import mnist_splits

        (_, _), (x_test, _) = mnist.load()
        self.test = x_test.reshape(len(x_test), -1).astype(np.float32) / 255.0
        train = mnist_splits(flat=True).x_train
        pixels = train.shape[1]
        sums, products = np.zeros(pixels), np.zeros((pixels, pixels))
        for start in range(0, len(train), 5000):  # float64 by chunks: a full copy is 345 MB
            chunk = train[start:start + 5000].astype(np.float64)
            sums += chunk.sum(axis=0)
            products += chunk.T @ chunk
        self.mean = sums / len(train)
        values, vectors = np.linalg.eigh(products / len(train) - np.outer(self.mean, self.mean))
        order = np.argsort(values)[::-1]
        self.eigenvectors = vectors[:, order].T.copy()  # (784, 784): row i, the i-th direction
        self._errors: dict[int, float] = {}

    def test_error(self, k: int) -> float:
        """PCA's per-pixel test error with ``k`` components."""
        if k not in self._errors:
            components = self.eigenvectors[:k]
            centred = self.test.astype(np.float64) - self.mean
            residual = centred - (centred @ components.T) @ components
            self._errors[k] = float(np.mean(residual ** 2))
        return self._errors[k]


@functools.lru_cache(maxsize=1)
def pca_reference() -> PcaReference:
    return PcaReference()


# ---------------------------------------------------------------------------- generators


SAMPLE_SEED_OFFSET = 5_000_000  # their seed: the run's seed plus this, which no training uses


def generated_samples(context: Context) -> np.ndarray:
    """2000 samples from main()'s ``generate(n, seed)``, drawn once per context on a seed no
    training used (the run's seed plus :data:`SAMPLE_SEED_OFFSET`), as float32 images
    ``(2000, 28, 28, 1)`` in [0, 1]: the same samples for the same run, whichever reading draws
    them first."""
    if "samples" in context.cache:
        return context.cache["samples"]
    from seminar import judge

    expected = ("a function generate(n, seed) returning n samples of shape (n, 784), (n, 28, 28) "
                "or (n, 28, 28, 1) with pixels in [0, 1], the same ones for the same seed")
    generate = context.evidence_function("generate", expected)
    count = judge.SAMPLES
    samples = generate(count, (int(context.seed) + SAMPLE_SEED_OFFSET) % 2**32)
    try:
        shape = tuple(np.shape(samples))
    except Exception:  # noqa: BLE001  (a student's function may fail in any way: the probe fails)
        shape = ()
    if not shape or shape[0] != count:
        raise EvidenceError(f"generate({count}, seed) must return {count} samples, got "
                            f"shape {shape or type(samples).__name__}")
    try:
        images = judge.as_images(samples, what=f"generate({count}, seed)")
    except ValueError as error:
        raise EvidenceError(str(error)) from None
    context.cache["samples"] = images
    return images


def generated_figures(context: Context) -> dict:
    """Score the checker's 2000 samples (:func:`generated_samples`) with the digit judge
    (:mod:`seminar.judge`): ``fid``, ``inception_score`` and ``classes``, computed once for the
    three measures."""
    if "generated" in context.cache:
        return context.cache["generated"]
    from seminar import judge

    images = generated_samples(context)
    context.cache["generated"] = figures = judge.figures(judge.load_judge(), images)
    return figures


def generated_fid(context: Context) -> float:
    """FID of the samples against the 10000 test digits (lower is better)."""
    return float(generated_figures(context)["fid"])


def generated_inception_score(context: Context) -> float:
    """Inception score of the samples (1 to 10, higher is better)."""
    return float(generated_figures(context)["inception_score"])


def generated_classes(context: Context) -> float:
    """Digit classes the samples cover (0 to 10)."""
    return float(generated_figures(context)["classes"])



# ---------------------------------------------------------------------------- copied digits

# A generator that returns MNIST digits, or digits with a little noise or shifted by a few pixels,
# scores like real digits: the judge's FID cannot tell it from a perfect generator. What tells it is
# how close each sample is to one digit in particular: a sample is a near-copy when it is less than
# COPY_RATIO times as far from its nearest digit as from the next nearest, both compared after
# centring at half resolution (_centred_halves). New digits are about as far from their nearest
# as from their next nearest: of the 5000 validation digits, which no lesson trains on, against
# the 55000 training and 10000 test digits, 8 fall below 0.6 (0.16%), the lowest at 0.50, the
# median at 0.95. The solutions' samples (the checker's first 500) never do: lowest 0.815 (GMMN)
# and 0.797 (GAN) on the fast run, seeds 0-2; 0.805 and 0.754 on the full run, seed 0. Below it:
# copies all, copies with N(0, 0.1) noise 80% (FID 6), with N(0, 0.2) noise 33% (FID 26), copies
# shifted by 1 to 3 pixels 80-99%; digits blurred with sigma 1.5 none (FID 160), with sigma 1.0
# 9% (FID 72).
COPIES_CHECKED = 500  # the checker's first samples, compared with the 65000 digits
COPY_RATIO = 0.6
COPY_SHARE = 0.1  # more near-copies than this share of the samples fail the check
_COPY_CHUNK = 250  # samples per matrix product (250 x 65000 distances at a time)
_SOURCE_CHUNK = 2000  # digits centred at a time


def _centred_halves(images: np.ndarray) -> np.ndarray:
    """Images (n, 28, 28), pixels in [0, 1] (or uint8, 0 to 255) -> (n, 196) float32: each image
    moved by whole pixels (at most 4) so that the centre of mass of its pixels of at least half
    the full value sits at the centre, averaged over 2x2 blocks, less its mean. A digit shifted by
    a few pixels lands where the digit does; noise hardly moves it (its strokes make the mass),
    and the mean a noise clipped to [0, 1] adds goes away."""
    images = np.asarray(images).reshape(-1, 28, 28)
    if images.dtype == np.uint8:  # the data set's digits: the same numbers, in a quarter the bytes
        full, wide = 255.0, np.uint16
    else:
        images, full, wide = images.astype(np.float32, copy=False), 1.0, np.float32
    weights = np.where(images >= full / 2, images.astype(np.float32) / np.float32(full), 0.0)
    total = weights.sum(axis=(1, 2))
    positions = np.arange(28, dtype=np.float32)
    safe = np.where(total > 0, total, 1.0)
    shifts = [np.clip(np.where(total > 0, np.rint(13.5 - profile @ positions / safe), 0), -4, 4)
              .astype(int) for profile in (weights.sum(axis=2), weights.sum(axis=1))]
    centred = images.copy()
    moved = np.flatnonzero(shifts[0] | shifts[1])
    centred[moved] = 0
    for down, right in set(zip(shifts[0][moved].tolist(), shifts[1][moved].tolist())):
        which = moved[(shifts[0][moved] == down) & (shifts[1][moved] == right)]
        target = (slice(max(down, 0), 28 + min(down, 0)), slice(max(right, 0), 28 + min(right, 0)))
        source = (slice(max(-down, 0), 28 - max(down, 0)), slice(max(-right, 0), 28 - max(right, 0)))
        centred[(which, *target)] = images[(which, *source)]
    halves = (centred[:, 0::2, 0::2].astype(wide) + centred[:, 1::2, 0::2]
              + centred[:, 0::2, 1::2] + centred[:, 1::2, 1::2])
    halves = halves.reshape(-1, 196).astype(np.float32) * np.float32(0.25 / full)
    return halves - halves.mean(axis=1, keepdims=True)


class CopySource:
    """The digits a sample may be a copy of, in the space :func:`_centred_halves` maps them to:
    the 55000 training digits the generative lessons train on (``mnist_splits``) and the 10000
    test digits the judge compares with; computed once per process."""

    def __init__(self):
        from datasets import mnist
        from seminar.mnist_splits import SPLIT_SEED, VALIDATION_SIZE

        (x_train, _), (x_test, _) = mnist.load()
        # mnist_splits' training digits, without its float copies of the whole set
        order = np.random.default_rng(SPLIT_SEED).permutation(len(x_train))
        training = x_train[order[VALIDATION_SIZE:]]
        self.training = len(training)
        digits = (training, x_test)
        self.points = np.empty((sum(len(part) for part in digits), 196), np.float32)
        start = 0
        for part in digits:  # by chunks: the temporaries of a whole set would be 220 MB each
            for first in range(0, len(part), _SOURCE_CHUNK):
                chunk = part[first:first + _SOURCE_CHUNK]
                self.points[start:start + len(chunk)] = _centred_halves(chunk)
                start += len(chunk)
        self.squared_norms = np.einsum("ij,ij->i", self.points, self.points)

    def nearest(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each image, the index of its nearest digit and the ratio of the distance to it to
        the distance to the next nearest (0 for an exact copy, near 1 for a new digit)."""
        queries = _centred_halves(images)
        index, ratio = np.empty(len(queries), np.int64), np.empty(len(queries))
        for start in range(0, len(queries), _COPY_CHUNK):
            chunk = queries[start:start + _COPY_CHUNK]
            squared = (np.einsum("ij,ij->i", chunk, chunk)[:, None] - 2.0 * chunk @ self.points.T
                       + self.squared_norms[None, :])
            rows = np.arange(len(chunk))
            first = np.argmin(squared, axis=1)
            nearest = np.maximum(squared[rows, first], 0.0)
            squared[rows, first] = np.inf
            second = np.maximum(squared.min(axis=1), 0.0)
            index[start:start + len(chunk)] = first
            ratio[start:start + len(chunk)] = np.sqrt(nearest / np.maximum(second, 1e-12))
        return index, ratio

    def which(self, index: np.ndarray) -> tuple[int, int]:
        """How many of the indices are training digits' and how many test digits'."""
        return int(np.sum(index < self.training)), int(np.sum(index >= self.training))


@functools.lru_cache(maxsize=1)
def copy_source() -> CopySource:
    return CopySource()


def copies_finding(context: Context) -> Finding | None:
    """A fatal finding when more than :data:`COPY_SHARE` of the checker's first
    :data:`COPIES_CHECKED` samples are near-copies of MNIST digits (see :data:`COPY_RATIO`), or
    None: a generator that returns training digits scores FID near 1 without having learned
    anything."""
    images = generated_samples(context)[:COPIES_CHECKED]
    index, ratio = copy_source().nearest(images)
    copied = ratio < COPY_RATIO
    if copied.sum() <= COPY_SHARE * len(images):
        return None
    training, test = copy_source().which(index[copied])
    what = ("training digits" if not test else "test digits" if not training else
            f"MNIST digits ({training} training digits, {test} test digits)")
    return Finding(
        f"generate() returns copies of MNIST digits, not samples of its own: {int(copied.sum())} "
        f"of {len(images)} samples are copies of {what}",
        f"each of them is less than {COPY_RATIO:g} times as far from its nearest digit as from the "
        f"next nearest (compared centred, at half resolution; the median of the {len(images)} "
        f"samples is {float(np.median(ratio)):.2f}); new digits do that 8 times in 5000 (median "
        f"0.95), the solution's samples never",
        "generate(n, seed) must return the trained generator's images of n noise vectors drawn "
        "with that seed, not digits of the data set (also not with noise added or shifted)")
