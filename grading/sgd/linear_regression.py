"""Grading of sgd/linear_regression.

The checker fits the 17 points itself by least squares in float64 and measures the coefficients
main() returns for mini-batch SGD and full-batch gradient descent against that optimum. The probe
compares the closed form with NumPy's least squares, the loss, the hand-derived gradient with
TensorFlow's tape and a central finite difference, takes one training step from a known beta, and
draws batches from sample_batch.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seminar.grader.toolkit import (Context, Finding, as_array, call_finding, describe,
                                    shape_finding, tensor_finding, value_finding)


def probe_linear_regression(context: Context) -> list[Finding]:
    """sgd/linear_regression: the closed form against NumPy's least squares, the loss, the
    hand-derived gradient against TensorFlow's tape and a finite difference, one train_step from a
    known beta, and sample_batch's indices."""
    rng = context.rng
    features, targets, features64, targets64 = _regression_data(rng)
    n = len(features)
    inputs = f"X of shape ({n}, 2) and y of shape ({n}, 1)"

    beta, found = call_finding("closed_form", lambda: context.function("closed_form")(
        tf.constant(features), tf.constant(targets)), inputs)
    if found:
        return [found]
    want, *_ = np.linalg.lstsq(features64, targets64, rcond=None)
    found = tensor_finding("closed_form", beta, what="beta") or tensor_finding(
        "closed_form", beta, shape=(2, 1), what="beta") or value_finding(
        "closed_form", beta, want, rtol=1e-3, atol=1e-4,
        expected=f"the least-squares beta of {n} points of the checker's (NumPy's lstsq)")
    if found:
        return [found]

    # Far from the least-squares beta (about [0.8, -0.5]), so that the gradient is large.
    beta64 = np.array([[-1.2], [1.5]]) + rng.normal(0.0, 0.3, (2, 1))
    beta32 = tf.constant(beta64, tf.float32)
    beta64 = beta32.numpy().astype(np.float64)
    residuals = features64 @ beta64 - targets64  # (n, 1)
    squared = residuals ** 2
    predictions, observed = (features64 @ beta64)[:, 0], targets64[:, 0]
    loss, found = call_finding("mean_squared_error", lambda: context.function("mean_squared_error")(
        tf.constant(features), tf.constant(targets), beta32), inputs + " and beta of shape (2, 1)")
    if found:
        return [found]
    found = tensor_finding("mean_squared_error", loss, what="the loss")
    if found:
        return [found]
    if np.ndim(as_array(loss)) >= 1 and as_array(loss).size > 1:
        table = as_array(loss).shape == (n, n)
        return [Finding(("a shape broadcast in mean_squared_error(): predictions of shape (n,) and "
                         "targets of shape (n, 1) give an (n, n) table of every pair") if table else
                        "mean_squared_error() returns one value per point, not their mean",
                        f"on {n} points it returned shape {as_array(loss).shape}; the docstring asks "
                        f"for one number, shape ()")]
    found = value_finding("mean_squared_error", loss, squared.mean(), rtol=1e-4, atol=1e-6, wrong={
        "a shape broadcast in mean_squared_error(): predictions of shape (n,) minus targets of shape "
        "(n, 1) (or the reverse) give an (n, n) table of every prediction against every target, and "
        "the mean runs over all n^2 pairs": np.mean((predictions[None, :] - observed[:, None]) ** 2),
        "mean_squared_error() sums the squared errors instead of averaging them (the slide's J is a "
        "sum; this J is the mean, so that one step size suits every batch size)": squared.sum(),
        "mean_squared_error() does not square the residuals": residuals.mean(),
        "mean_squared_error() returns the root of the mean squared error": np.sqrt(squared.mean()),
    }, expected="the mean over the points of (X beta - y)^2")
    if found:
        return [found]

    found = _gradient_finding(context.function("mse_gradient"), features, targets, features64,
                              targets64, beta32, beta64)
    if found:
        return [found]
    found = _regression_step_finding(context.function("train_step"), features, targets, features64,
                                     targets64, beta64)
    if found:
        return [found]
    found = _sample_batch_finding(context.function("sample_batch"), rng)
    return [found] if found else []


def _regression_data(rng, n: int = 6):
    """A tiny regression problem: features [x, 1] (n, 2) and targets (n, 1), float32, and the same
    numbers in float64 for the references."""
    x = rng.normal(0.0, 1.0, n)
    features = np.stack([x, np.ones(n)], axis=1).astype(np.float32)
    targets = (features @ np.array([[0.8], [-0.5]]) + rng.normal(0.0, 0.3, (n, 1))).astype(np.float32)
    return features, targets, features.astype(np.float64), targets.astype(np.float64)


def _tape_gradient(features64, targets64, beta64) -> np.ndarray:
    """dJ/dbeta of the mean squared error by TensorFlow's tape, in float64, with the loss written
    here (not the student's)."""
    beta = tf.Variable(beta64)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(tf.matmul(tf.constant(features64), beta) - tf.constant(targets64)))
    return tape.gradient(loss, beta).numpy()


def _finite_difference(features64, targets64, beta64, step: float = 1e-6) -> np.ndarray:
    def loss(beta):
        return float(np.mean((features64 @ beta - targets64) ** 2))

    gradient = np.zeros_like(beta64)
    for index in np.ndindex(beta64.shape):
        shift = np.zeros_like(beta64)
        shift[index] = step
        gradient[index] = (loss(beta64 + shift) - loss(beta64 - shift)) / (2 * step)
    return gradient


def _gradient_finding(mse_gradient, features, targets, features64, targets64, beta32, beta64):
    n = len(features)
    want = _tape_gradient(features64, targets64, beta64)
    numeric = _finite_difference(features64, targets64, beta64)
    assert np.allclose(want, numeric, rtol=1e-5, atol=1e-7), "the two references disagree"
    got, found = call_finding("mse_gradient", lambda: mse_gradient(
        tf.constant(features), tf.constant(targets), beta32),
        f"X of shape ({n}, 2), y of shape ({n}, 1) and beta of shape (2, 1)")
    if found:
        return found
    found = tensor_finding("mse_gradient", got, what="the gradient")
    if found:
        return found
    shape = tuple(got.shape)
    evidence = (f"on {n} points of the checker's, mse_gradient() returned shape {shape}; the gradient "
                f"has beta's shape (2, 1)")
    if shape == (1, 2):
        return Finding("mse_gradient() returns the gradient transposed, (1, 2) instead of beta's (2, 1): "
                       "r^T X is the transpose of X^T r", evidence)
    if shape in ((2, n), (n, 2)) or shape == (n, n):
        return Finding("a shape broadcast in mse_gradient(): residuals of shape (n,) and (n, 1) "
                       "combined give an (n, n) table, and the gradient comes out with a point axis",
                       evidence, "keep the residuals X beta - y of shape (n, 1), like y")
    if shape != (2, 1):
        return shape_finding("mse_gradient", got, (2, 1), what="gradient")
    found = value_finding("mse_gradient", got, want, rtol=1e-3, atol=1e-5, wrong={
        "mse_gradient() is missing the factor 2 that differentiating the square brings down": want / 2,
        "mse_gradient() is the gradient of the SUM of the squared errors (the slide's J), not of their "
        f"mean: it is n = {n} times too large; divide by the number of points": want * n,
        "mse_gradient() is the gradient of the sum over the points (n times too large) and misses the "
        "factor 2 of the square": want * n / 2,
        "mse_gradient() divides by the number of points twice": want / n,
        "mse_gradient() has the wrong sign (y - X beta instead of X beta - y): a step against it climbs "
        "the loss": -want,
        f"mse_gradient() divides by 17, the size of the whole data set, not by the number of points it "
        f"is given (here {n})": want * n / 17,
    }, expected="dJ/dbeta of J = mean((X beta - y)^2)")
    if found:
        found.evidence += " (tf.GradientTape and a central finite difference agree on the expected value)"
    return found


def _regression_step_finding(train_step, features, targets, features64, targets64, beta64):
    rate = 0.1
    beta = tf.Variable(beta64.astype(np.float32))
    loss, found = call_finding("train_step", lambda: train_step(
        tf.constant(features), tf.constant(targets), beta, tf.constant(rate, tf.float32)),
        f"{len(features)} points and beta of shape (2, 1)", steps=True)
    if found:
        return found
    after = beta.numpy().astype(np.float64)
    if np.array_equal(after, beta64.astype(np.float32).astype(np.float64)):
        return Finding("no variable changes in train_step(): beta is where it started, so its "
                       "gradient is None or zero, or the update is not applied in place",
                       f"beta before and after one step: {beta64.ravel().round(4).tolist()}",
                       "compute the loss inside the `with tf.GradientTape()` block and change beta in "
                       "place (`beta = beta - ...` only rebinds a name)")
    gradient = _tape_gradient(features64, targets64, beta64)
    step = rate * gradient
    found = value_finding("train_step", after, beta64 - step, rtol=1e-3, atol=1e-5, wrong={
        "gradient ascent in train_step(): beta moved along the gradient, up the loss": beta64 + step,
        "train_step() moves beta by the whole gradient, without the step size learning_rate":
            beta64 - gradient,
    }, expected=f"beta - learning_rate * dJ/dbeta with learning_rate = {rate}")
    if found:
        return found
    if loss is None:
        return Finding("train_step() returns nothing; the docstring asks for the loss before the step")
    before = float(np.mean((features64 @ beta64 - targets64) ** 2))
    return value_finding("train_step", loss, before, rtol=1e-3, atol=1e-6, wrong={
        "train_step() returns the loss after the step; the docstring asks for the loss before it":
            float(np.mean((features64 @ after - targets64) ** 2))},
        expected="the loss before the step")


def _sample_batch_finding(sample_batch, rng) -> Finding | None:
    num_points, batch_size, trials = 17, 8, 200
    seeds = rng.integers(0, 2**31, trials)

    def draw(seed, points=num_points, size=batch_size):
        value = sample_batch(np.random.default_rng(int(seed)), points, size)
        return np.asarray(value.numpy() if hasattr(value, "numpy") else value)

    first = draw(seeds[0])
    call = f"sample_batch(rng, num_points={num_points}, batch_size={batch_size})"
    if first.shape != (batch_size,):
        return Finding(f"sample_batch() returns shape {first.shape}, not batch_size indices",
                       f"{call} returned {describe(first)}; the docstring asks for shape ({batch_size},)")
    if not np.issubdtype(first.dtype, np.integer):
        return Finding(f"sample_batch() returns {first.dtype} values, not integer indices",
                       f"{call} returned {describe(first)}", "indices pick rows: they are integers")
    batches = [first] + [draw(seed) for seed in seeds[1:]]
    outside = sorted({int(i) for batch in batches for i in batch if not 0 <= i < num_points})
    if outside:
        return Finding("sample_batch() returns indices outside range(num_points)",
                       f"{call} gave {outside[:5]} in {trials} draws")
    repeated = sum(len(set(batch.tolist())) < batch_size for batch in batches)
    if repeated:
        return Finding("sample_batch() draws the same point twice in one batch (sampling with "
                       "replacement): a batch must hold batch_size different points",
                       f"{repeated} of {trials} batches drawn by {call} held a repeated index",
                       "draw without replacement")
    seen = set(np.concatenate(batches).tolist())
    if len(seen) < num_points:
        return Finding("sample_batch() never draws some of the points: the sample must come from all "
                       "num_points of them",
                       f"in {trials} draws of {call} only the indices {sorted(seen)} appeared")
    if len({tuple(batch.tolist()) for batch in batches}) == 1:
        return Finding("sample_batch() always returns the same indices: the batch is not random",
                       f"{trials} draws of {call} all gave {first.tolist()}")
    if not np.array_equal(draw(seeds[0]), first) or not np.array_equal(draw(seeds[1]), batches[1]):
        return Finding("sample_batch() does not draw from the generator rng it is given (NumPy's global "
                       "functions, or a generator of its own?): the same seed gives other batches, so "
                       "--seed does not reproduce a run",
                       f"two generators seeded with {int(seeds[0])} gave {first.tolist()} and "
                       f"{draw(seeds[0]).tolist()}", "use the rng argument's own methods")
    everything = draw(seeds[0], 5, 5)
    if sorted(everything.tolist()) != list(range(5)):
        return Finding("sample_batch() with batch_size = num_points does not return every point once",
                       f"sample_batch(rng, 5, 5) gave {everything.tolist()}")
    return None


# ---------------------------------------------------------------------------- measures


def _optimum() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 17 points' design matrix [(x - mean) / std, 1], targets, and least-squares beta (2, 1),
    in float64 with NumPy."""
    from datasets import toy

    x, y = (v.astype(np.float64) for v in toy.linear_regression_points())
    features = np.stack([(x - x.mean()) / x.std(), np.ones_like(x)], axis=1)
    beta, *_ = np.linalg.lstsq(features, y[:, None], rcond=None)
    return features, y[:, None], beta


def _relative_error(context: Context, key: str) -> float:
    _, _, beta_star = _optimum()
    beta = context.evidence(key, (2, 1)).astype(np.float64)
    return float(np.linalg.norm(beta - beta_star) / np.linalg.norm(beta_star))


def measure_sgd_coef_rel_error(context: Context) -> float:
    return _relative_error(context, "beta_sgd")


def measure_gd_coef_rel_error(context: Context) -> float:
    return _relative_error(context, "beta_gd")


def measure_sgd_loss_rel_gap(context: Context) -> float:
    features, targets, beta_star = _optimum()
    beta = context.evidence("beta_sgd", (2, 1)).astype(np.float64)

    def loss(b):
        return float(np.mean((features @ b - targets) ** 2))

    return (loss(beta) - loss(beta_star)) / loss(beta_star)
