"""Diagnosis probes for the autoencoders chapter (dense, linear and convolutional autoencoders, the
GMMN and the GAN): the student's functions on a few small inputs of the checker's, compared with
NumPy references, before any training (see seminar/diagnosis.py); and, after training, what the
GAN's two loss curves say.

Where a function receives networks (a training step), the probe hands it small networks of its own
whose weights it knows, so that the reference is computed in NumPy from the same weights and any
architecture the student chose elsewhere does not matter.
"""

from __future__ import annotations

import math

import numpy as np

from seminar.diagnosis import (Context, Finding, as_array, overfit_finding, probe, run_steps,
                               shape_finding, step_findings, value_finding)

PIXELS = 28 * 28
# The dense autoencoder's overfit probe: its own networks and step on 64 images that a 5-number
# code reconstructs exactly. The solution gets to about 6e-5 in 100 steps, seeds 0-2 (the target
# is 1e-3 there): a working model clears a tenth of the mean image's error with room to spare.
OVERFIT_STEPS = 100
OVERFIT_FRACTION = 0.1


# ------------------------------------------------------------------------------ NumPy references


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * values))


def _bce_logits(labels, logits: np.ndarray) -> np.ndarray:
    """Per-element binary cross-entropy of ``labels`` against sigmoid(``logits``), stably."""
    logits = np.asarray(logits, np.float64)
    return np.maximum(logits, 0.0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))


def _keras_bce(labels, values: np.ndarray) -> np.ndarray:
    """The cross-entropy of ``values`` taken as probabilities, clipped to [1e-7, 1 - 1e-7] as Keras
    does: what a probability loss gives when handed logits."""
    p = np.clip(np.asarray(values, np.float64), 1e-7, 1 - 1e-7)
    return -(labels * np.log(p) + (1 - labels) * np.log(1 - p))


def _pairwise(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n, m) squared Euclidean distances, by the definition (an (n, m, d) difference tensor)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(axis=-1)


def _kernel(x, y, sigmas, scale=lambda sigma: 2.0 * sigma ** 2, reduce=sum) -> np.ndarray:
    distances = _pairwise(x, y)
    return reduce([np.exp(-distances / scale(sigma)) for sigma in sigmas])


def _mmd2(x, y, sigmas, *, cross=2.0, unbiased=False, **kernel) -> float:
    """The biased estimate (means over all pairs, i = j included) unless ``unbiased``."""
    kxx, kyy, kxy = (_kernel(a, b, sigmas, **kernel) for a, b in ((x, x), (y, y), (x, y)))
    if unbiased:
        n, m = len(x), len(y)
        within = ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)))
    else:
        within = kxx.mean() + kyy.mean()
    return float(within - cross * kxy.mean())


def _low_rank_images(rng: np.random.Generator, n: int, rank: int = 5) -> np.ndarray:
    """``n`` synthetic images (n, 784) in [0, 1]: convex mixtures of ``rank`` random patterns, so
    that a code of ``rank`` numbers can reconstruct them exactly (a network can overfit them)."""
    patterns = rng.random((rank, PIXELS))
    weights = rng.dirichlet(np.ones(rank), size=n)
    return (weights @ patterns).astype(np.float32)


# ------------------------------------------------------------------------------ helpers


def _dense_network(sizes, activations, rng: np.random.Generator, name: str, scale: float = 1.0):
    """A keras.Sequential of Dense layers with weights drawn from ``rng`` (Glorot-like scale):
    the probe's own network, deterministic and free of dropout or batch normalisation."""
    import keras

    layers = [keras.Input((sizes[0],))]
    layers += [keras.layers.Dense(units, activation=activation)
               for units, activation in zip(sizes[1:], activations)]
    network = keras.Sequential(layers, name=name)
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        weights.append(rng.normal(0.0, scale * math.sqrt(2.0 / (fan_in + fan_out)),
                                  (fan_in, fan_out)).astype(np.float32))
        weights.append(rng.normal(0.0, 0.05, (fan_out,)).astype(np.float32))
    network.set_weights(weights)
    return network


def _compiled(train_step, *objects):
    """The student's ``train_step`` compiled as main() compiles it: a ``tf.function`` of a closure
    over the probe's own networks (or variables) and optimizer, called with the batch tensors alone
    (every lesson's step takes its tensors first). A ``train_step`` the student decorated with
    ``@tf.function`` is unwrapped first: such a function may create variables (an optimizer's
    slots) on its first call only, and main() must make that call with its own optimizer."""
    import tensorflow as tf

    inner = getattr(train_step, "python_function", train_step)
    return tf.function(lambda *tensors: inner(*tensors, *objects))


def _named_variables(prefix: str, network) -> dict:
    """``{"encoder kernel 1": variable, "encoder bias 1": ..., "encoder kernel 2": ...}``."""
    named, counts = {}, {}
    for variable in network.trainable_variables:
        kind = variable.path.rsplit("/", 1)[-1]
        counts[kind] = counts.get(kind, 0) + 1
        named[f"{prefix} {kind} {counts[kind]}"] = variable
    return named


def _no_gradient(function: str, error: Exception, where: str) -> Finding | None:
    """Keras's optimizer refuses a step where every gradient is None: name the cause."""
    if isinstance(error, ValueError) and "No gradients provided" in str(error):
        return Finding(f"no gradient reaches the variables in {function}(): the optimizer got None "
                       f"for every one",
                       f"the optimizer raised: {str(error).strip().splitlines()[-1].strip()}",
                       where)
    return None


def _steps(function: str, step, variables: dict, count: int, where: str):
    """run_steps, with Keras's "No gradients provided" error turned into a finding."""
    try:
        return run_steps(step, variables, count), None
    except ValueError as error:
        found = _no_gradient(function, error, where)
        if found is None:
            raise
        return (None, None), found


def _range_finding(function: str, outputs, docstring_range: str, fix: str) -> Finding | None:
    """Outputs that must be pixels in [0, 1] (the docstring's range) but are not."""
    values = as_array(outputs)
    if values.size and np.all(np.isfinite(values)) and values.min() >= 0.0 and values.max() <= 1.0:
        return None
    return Finding(f"{function}() returns values outside {docstring_range}, the range of the pixels "
                   f"it predicts",
                   f"on random inputs its outputs range from {values.min():.3g} to {values.max():.3g}",
                   fix)


def _code_size_finding(function: str, got, want: tuple, default: int | None) -> Finding | None:
    got_shape = tuple(np.shape(as_array(got)))
    if got_shape == want:
        return None
    if default is not None and got_shape == want[:-1] + (default,) and default != want[-1]:
        return Finding(f"{function}() ignores its code_size argument",
                       f"{function}({want[-1]}) gave codes of shape {got_shape}",
                       "use the argument code_size, not the constant CODE_SIZE")
    fix = "model.summary() prints each layer's output shape"
    if len(want) == 4 and len(got_shape) == 4 and got_shape[1:3] != want[1:3]:
        fix = ("a convolution or transposed convolution without padding=\"same\" changes the "
               "height and width by a few pixels; " + fix)
    return Finding(f"{function}() builds a network with outputs of the wrong shape",
                   f"for inputs of batch {want[0]} it returned shape {got_shape}; the docstring "
                   f"asks for {want}", fix)


def _reconstruction_wrong_values(reconstructions: np.ndarray, targets: np.ndarray, function: str) -> dict:
    """The values a reconstruction loss takes under the usual mistakes (the docstring: the mean
    over images and pixels of the squared error)."""
    errors = (reconstructions - targets).reshape(len(targets), -1)
    clipped = np.clip(reconstructions, 1e-7, 1 - 1e-7).reshape(len(targets), -1)
    flat = targets.reshape(len(targets), -1)
    return {
        f"{function} sums the squared errors over the pixels: the docstring asks for their mean "
        f"over images and pixels": (errors ** 2).sum(axis=1).mean(),
        f"{function} sums the squared errors over the batch and the pixels instead of averaging "
        f"them": (errors ** 2).sum(),
        f"{function} takes the mean absolute error, not the mean squared error": np.abs(errors).mean(),
        f"{function} returns the square root of the mean squared error": math.sqrt((errors ** 2).mean()),
        f"{function} uses the binary cross-entropy, not the mean squared error the docstring asks":
            -(flat * np.log(clipped) + (1 - flat) * np.log(1 - clipped)).mean(),
    }


# ------------------------------------------------------------------------------ the dense autoencoder


@probe("dense_autoencoder")
def dense_autoencoder(context: Context) -> list[Finding]:
    """autoencoders/autoencoder: the encoder and decoder shapes, the decoder's pixels in (0, 1), the
    training step's loss against NumPy and its update of both networks, and the whole thing
    overfitting 64 images."""
    import keras
    import tensorflow as tf

    rng = context.rng
    module = context.module
    keras.utils.set_random_seed(10_000 + context.seed)  # the student's networks start the same way
    code_size = 6  # not CODE_SIZE: the functions must build what their argument asks
    images = rng.random((8, PIXELS)).astype(np.float32)
    encoder = context.function("build_encoder")(code_size)
    codes = encoder(tf.constant(images), training=False)
    found = _code_size_finding("build_encoder", codes, (8, code_size), getattr(module, "CODE_SIZE", None))
    if found:
        return [found]
    notes = []
    if np.all(as_array(codes) >= 0.0):
        notes.append(Finding("the code passes through a ReLU or a sigmoid in build_encoder(): every "
                             "code number is >= 0, so the code loses half its range",
                             f"codes of 8 random images: min {as_array(codes).min():.3g}",
                             "the last layer of the encoder has no activation", fatal=False))
    decoder = context.function("build_decoder")(code_size)
    wide_codes = rng.normal(0.0, 3.0, (8, code_size)).astype(np.float32)
    outputs = decoder(tf.constant(wide_codes), training=False)
    found = (_code_size_finding("build_decoder", outputs, (8, PIXELS), None)
             or _range_finding("build_decoder", outputs, "(0, 1)",
                               "the decoder's last layer squashes its 784 outputs into (0, 1) "
                               "(a sigmoid), like the pixels it predicts"))
    if found:
        return notes + [found]

    # The training step on small networks of the probe's own (784 -> 16 -> 4 -> 16 -> 784).
    small_encoder = _dense_network([PIXELS, 16, 4], ["relu", None], rng, "probe_encoder")
    small_decoder = _dense_network([4, 16, PIXELS], ["relu", "sigmoid"], rng, "probe_decoder")
    batch = _low_rank_images(rng, 16)
    reconstructions = as_array(small_decoder(small_encoder(batch)))
    want = float(((reconstructions - batch) ** 2).mean())
    variables = {**_named_variables("encoder", small_encoder), **_named_variables("decoder", small_decoder)}
    step = _compiled(context.function("train_step"), small_encoder, small_decoder,
                     keras.optimizers.Adam(3e-3))
    (losses, moved), found = _steps(
        "train_step", lambda: step(tf.constant(batch)),
        variables, 5, "call both networks inside the `with tf.GradientTape()` block and take the "
                      "gradient of the loss for both networks' trainable variables")
    if found:
        return notes + [found]
    found = value_finding("train_step", losses[0], want, rtol=1e-3, atol=1e-6,
                          wrong=_reconstruction_wrong_values(reconstructions, batch, "train_step"),
                          expected="the mean over images and pixels of (g(f(x)) - x)^2, computed "
                                   "before the step")
    if found:
        return notes + [found]
    found = step_findings("train_step", losses, moved)
    if found:
        return notes + found

    # Overfit: the student's own networks and step on 64 low-rank images.
    keras.utils.set_random_seed(10_000 + context.seed)
    encoder = context.function("build_encoder")(getattr(module, "CODE_SIZE", 32))
    decoder = context.function("build_decoder")(getattr(module, "CODE_SIZE", 32))
    images = tf.constant(_low_rank_images(rng, 64))
    step = _compiled(context.function("train_step"), encoder, decoder, keras.optimizers.Adam(3e-3))
    start = float(np.var(as_array(images), axis=0).sum() / PIXELS)  # the mean image's error
    losses, _ = run_steps(lambda: step(images), {}, OVERFIT_STEPS)
    final = float(tf.reduce_mean(tf.square(decoder(encoder(images)) - images)))
    found = overfit_finding("train_step", losses + [final], target=OVERFIT_FRACTION * start,
                            start=losses[0])
    return notes + ([found] if found else [])



# ------------------------------------------------------------------------------ the linear autoencoder


@probe("linear_autoencoder")
def linear_autoencoder(context: Context) -> list[Finding]:
    """autoencoders/linear_autoencoder: the initial matrices (shapes, trainable variables, small
    random values, not zeros), the linear reconstruction against NumPy, and the training step's
    loss and update of both matrices."""
    import keras
    import tensorflow as tf

    rng = context.rng
    module = context.module
    code_size = 5
    stddev = float(getattr(module, "INIT_STDDEV", 0.01))
    init_weights = context.function("init_weights")
    pair = init_weights(code_size, 3)
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        return [Finding("init_weights() must return the pair (w_enc, w_dec)",
                        f"it returned {type(pair).__name__}")]
    for name, value, want in (("w_enc", pair[0], (PIXELS, code_size)),
                              ("w_dec", pair[1], (code_size, PIXELS))):
        if not isinstance(value, tf.Variable) or not value.trainable:
            return [Finding(f"init_weights() returns {name} as a {type(value).__name__}, not a trainable "
                            f"tf.Variable: the optimizer cannot update it in place",
                            fix="wrap the drawn values in tf.Variable(...)")]
        found = shape_finding("init_weights", value, want, f"matrix {name}")
        if found:
            found.evidence = f"{name}: " + found.evidence
            return [found]
        values = as_array(value)
        if not np.any(values):
            return [Finding(f"init_weights() starts {name} at zeros: at W_enc = W_dec = 0 both "
                            f"gradients are zero (each is a product with the other matrix), so "
                            f"training never starts",
                            f"every entry of {name} is 0", "draw both matrices from "
                            "generator.normal with standard deviation INIT_STDDEV")]
        spread = float(values.std())
        if not 0.5 * stddev <= spread <= 2.0 * stddev:
            return [Finding(f"init_weights() draws {name} with the wrong spread: the docstring asks "
                            f"for a standard deviation of INIT_STDDEV = {stddev:g}",
                            f"the entries of {name} have standard deviation {spread:.3g}",
                            "pass stddev=INIT_STDDEV to generator.normal")]

    # The reconstruction: two matrix products, nothing else.
    reconstruct = context.function("reconstruct_centred")
    centred = rng.normal(0.0, 0.3, (8, PIXELS)).astype(np.float32)
    w_enc = rng.normal(0.0, 0.05, (PIXELS, code_size)).astype(np.float32)
    w_dec = rng.normal(0.0, 0.3, (code_size, PIXELS)).astype(np.float32)
    got = reconstruct(tf.constant(centred), tf.Variable(w_enc), tf.Variable(w_dec))
    codes = centred.astype(np.float64) @ w_enc
    want = codes @ w_dec
    found = value_finding("reconstruct_centred", got, want, rtol=1e-3, atol=1e-4, wrong={
        "an activation in reconstruct_centred(): a ReLU on the code (a linear autoencoder has "
        "none)": np.maximum(codes, 0) @ w_dec,
        "an activation in reconstruct_centred(): a sigmoid on the code (a linear autoencoder has "
        "none)": _sigmoid(codes) @ w_dec,
        "an activation in reconstruct_centred(): a tanh on the code (a linear autoencoder has "
        "none)": np.tanh(codes) @ w_dec,
        "an activation in reconstruct_centred(): a sigmoid on the output (a linear autoencoder "
        "has none; the images are centred, so their values are not in [0, 1])": _sigmoid(want),
    }, expected="(centred W_enc) W_dec")
    if found:
        return [found]

    # The training step: its loss against NumPy, then a few steps.
    batch = (_low_rank_images(rng, 32) - 0.5).astype(np.float32)
    start_enc = rng.normal(0.0, 0.05, (PIXELS, code_size)).astype(np.float32)
    start_dec = rng.normal(0.0, 0.05, (code_size, PIXELS)).astype(np.float32)
    variables = {"w_enc": tf.Variable(start_enc), "w_dec": tf.Variable(start_dec)}
    reconstructions = batch.astype(np.float64) @ start_enc @ start_dec
    want = float(((reconstructions - batch) ** 2).mean())
    # Adam at 3e-3: over 4 steps a correct step lowers the loss to 0.81-0.91 of its start (seeds
    # 0-39); at 1e-2 its first steps overshoot and the loss rose by up to 6%, which read as ascent.
    step = _compiled(context.function("train_step"), variables["w_enc"], variables["w_dec"],
                     keras.optimizers.Adam(3e-3))
    (losses, moved), found = _steps(
        "train_step", lambda: step(tf.constant(batch)),
        variables, 5, "compute the loss inside the `with tf.GradientTape()` block from w_enc and "
                      "w_dec themselves, and take its gradient for both")
    if found:
        return [found]
    wrong = _reconstruction_wrong_values(reconstructions, batch, "train_step")
    wrong = {cause: value for cause, value in wrong.items() if "cross-entropy" not in cause}
    found = value_finding("train_step", losses[0], want, rtol=1e-3, atol=1e-6, wrong=wrong,
                          expected="the mean over images and pixels of the squared reconstruction "
                                   "error, computed before the step")
    if found:
        return [found]
    return step_findings("train_step", losses, moved)


# ------------------------------------------------------------------ the convolutional autoencoder


@probe("conv_autoencoder")
def conv_autoencoder(context: Context) -> list[Finding]:
    """autoencoders/conv_autoencoder: the encoder and decoder shapes, the decoder's pixels in
    (0, 1), the compiled autoencoder (decoder after encoder, the learning rate it was given, its
    compiled loss against NumPy) and the gradient of that loss reaching every weight of both
    networks. No training step: Keras's fit applies the gradients itself."""
    import keras
    import tensorflow as tf

    rng = context.rng
    module = context.module
    keras.utils.set_random_seed(10_000 + context.seed)
    code_size = 6
    images = _low_rank_images(rng, 8).reshape(8, 28, 28, 1)
    encoder = context.function("build_encoder")(code_size)
    codes = encoder(tf.constant(images), training=False)
    found = _code_size_finding("build_encoder", codes, (8, code_size), getattr(module, "CODE_SIZE", None))
    if found:
        return [found]
    decoder = context.function("build_decoder")(code_size)
    outputs = decoder(tf.constant(rng.normal(0.0, 3.0, (8, code_size)).astype(np.float32)), training=False)
    found = (_code_size_finding("build_decoder", outputs, (8, 28, 28, 1), None)
             or _range_finding("build_decoder", outputs, "(0, 1)",
                               "the decoder's last layer squashes its outputs into (0, 1) (a "
                               "sigmoid), like the pixels it predicts"))
    if found:
        return [found]

    learning_rate = 0.00123
    autoencoder = context.function("build_autoencoder")(encoder, decoder, learning_rate)
    if not isinstance(autoencoder, keras.Model) or getattr(autoencoder, "optimizer", None) is None:
        return [Finding("build_autoencoder() must return a compiled keras.Model",
                        f"it returned {type(autoencoder).__name__}"
                        + ("" if not isinstance(autoencoder, keras.Model) else " without an optimizer"),
                        "call the model's compile(optimizer=..., loss=...) before returning it")]
    chained = as_array(decoder(encoder(tf.constant(images), training=False), training=False))
    predicted = as_array(autoencoder(tf.constant(images), training=False))
    found = value_finding("build_autoencoder", predicted, chained, rtol=1e-4, atol=1e-5,
                          expected="its output must be decoder(encoder(images)), with the two "
                                   "networks it was given")
    if found:
        found.cause = ("the model build_autoencoder() returns is not decoder(encoder(images)) with "
                       "the encoder and the decoder it was given")
        return [found]
    rate = autoencoder.optimizer.learning_rate
    rate = float(as_array(rate(0) if callable(rate) else rate))
    if not math.isclose(rate, learning_rate, rel_tol=1e-4):
        return [Finding("build_autoencoder() ignores its learning_rate: the optimizer steps at "
                        "another rate (and main()'s cosine schedule is lost)",
                        f"build_autoencoder(encoder, decoder, {learning_rate}) compiled an optimizer "
                        f"with learning rate {rate:.4g}",
                        "pass learning_rate to the optimizer")]
    # The compiled loss, and its gradient for every weight of both networks.
    targets = _low_rank_images(rng, 8).reshape(8, 28, 28, 1)
    with tf.GradientTape() as tape:
        reconstructions = autoencoder(tf.constant(images), training=True)
        loss = autoencoder.compute_loss(x=images, y=targets, y_pred=reconstructions)
    values = as_array(reconstructions)
    found = value_finding("build_autoencoder", loss, float(((values - targets) ** 2).mean()),
                          rtol=1e-3, atol=1e-6,
                          wrong=_reconstruction_wrong_values(values, targets, "the compiled loss"),
                          expected="the compiled loss must be the per-pixel mean squared error")
    if found:
        return [found]
    trained = {id(variable) for variable in autoencoder.trainable_variables}
    for name, network in (("encoder", encoder), ("decoder", decoder)):
        if not any(id(variable) in trained for variable in network.weights):
            return [Finding(f"the compiled autoencoder never trains the {name}: none of its weights "
                            f"is among the model's trainable variables",
                            f"{len(network.weights)} weights in the {name}, none trainable in the "
                            f"model build_autoencoder() returned",
                            f"chain the two networks given as arguments and leave the {name} "
                            f"trainable")]
    gradients = tape.gradient(loss, autoencoder.trainable_variables)
    still = [variable.path for variable, gradient in zip(autoencoder.trainable_variables, gradients)
             if gradient is None or not np.any(as_array(gradient))]
    if still:
        return [Finding("some weights of the compiled autoencoder get no gradient from its loss "
                        "(None or zero)", f"no gradient: {', '.join(still)}",
                        "the model's output must come from both networks' layers")]
    return []


# ------------------------------------------------------------------------------ the GMMN


@probe("gmmn")
def gmmn(context: Context) -> list[Finding]:
    """autoencoders/gmmn: the pairwise squared distances and the squared MMD against NumPy on tiny
    samples (with the usual mistakes named: a norm broadcast along the wrong axis, the sign of the
    cross term, the bandwidths, the unbiased estimate), then the training step's loss and its
    update of the generator."""
    import keras
    import tensorflow as tf

    rng = context.rng
    module = context.module
    squared_distances = context.function("squared_distances")

    # Equal batch sizes first: there a norm added along the wrong axis gives no shape error.
    x, y = rng.random((4, 7)).astype(np.float32), (rng.random((4, 7)) * 1.5).astype(np.float32)
    got = squared_distances(tf.constant(x), tf.constant(y))
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    x_norms, y_norms, dots = (x64 ** 2).sum(1), (y64 ** 2).sum(1), x64 @ y64.T
    want = _pairwise(x, y)
    found = value_finding("squared_distances", got, want, rtol=1e-4, atol=1e-4, wrong={
        "the squared norms of y added as a column in squared_distances(): ||y_j||^2 must vary "
        "along each row, as a (1, m) row (or transpose the (m, 1) column)":
            x_norms[:, None] - 2 * dots + y_norms[:, None],
        "the squared norms of x added as a row in squared_distances(): a (n,) vector broadcasts "
        "along the last axis; keep it an (n, 1) column (keepdims=True)":
            x_norms[None, :] - 2 * dots + y_norms[None, :],
        "the cross term of squared_distances() has the wrong sign: ||x - y||^2 = ||x||^2 "
        "- 2 x.y + ||y||^2": x_norms[:, None] + 2 * dots + y_norms[None, :],
        "the cross term of squared_distances() misses its factor 2":
            x_norms[:, None] - dots + y_norms[None, :],
        "squared_distances() returns the distances, not their squares": np.sqrt(want),
    }, expected="entry (i, j) = ||x_i - y_j||^2")
    if found:
        return [found]
    x, y = rng.random((5, 7)).astype(np.float32), rng.random((3, 7)).astype(np.float32)
    found = value_finding("squared_distances", squared_distances(tf.constant(x), tf.constant(y)),
                          _pairwise(x, y), rtol=1e-4, atol=1e-4,
                          expected="for x (5, 7) and y (3, 7), the (5, 3) matrix of ||x_i - y_j||^2")
    if found:
        return [found]

    # The squared MMD, with bandwidths of the probe's own (not SIGMAS) on tiny samples.
    mmd2 = context.function("mmd2")
    sigmas = (0.7, 2.5)
    x = rng.random((6, 5)).astype(np.float32)
    y = (0.3 + 1.2 * rng.random((5, 5))).astype(np.float32)
    got = mmd2(tf.constant(x), tf.constant(y), sigmas)
    default = tuple(getattr(module, "SIGMAS", ()))
    wrong = {
        "mmd2() adds the cross term: MMD^2 subtracts 2 mean k(x, y)": _mmd2(x, y, sigmas, cross=-2.0),
        "mmd2() subtracts the cross term once: MMD^2 subtracts 2 mean k(x, y)":
            _mmd2(x, y, sigmas, cross=1.0),
        "mmd2() leaves the pairs i = j out of the means of k(x, x) and k(y, y) (the unbiased "
        "estimate): the docstring's means run over all pairs": _mmd2(x, y, sigmas, unbiased=True),
        "the kernel's bandwidth in mmd2(): exp(-d / sigma^2) instead of exp(-d / (2 sigma^2))":
            _mmd2(x, y, sigmas, scale=lambda s: s ** 2),
        "the kernel's bandwidth in mmd2(): sigma is not squared, exp(-d / (2 sigma)) instead of "
        "exp(-d / (2 sigma^2))": _mmd2(x, y, sigmas, scale=lambda s: 2.0 * s),
        "the kernel's bandwidth in mmd2(): exp(-d * 2 sigma^2) multiplies where it must divide":
            _mmd2(x, y, sigmas, scale=lambda s: 1.0 / (2.0 * s ** 2)),
        "mmd2() averages the kernels over the sigmas: the kernel is their sum":
            _mmd2(x, y, sigmas, reduce=lambda terms: sum(terms) / len(terms)),
        "mmd2() returns the MMD (a square root), not MMD^2": math.sqrt(max(_mmd2(x, y, sigmas), 0.0)),
    }
    if default and default != sigmas:
        wrong = {"mmd2() ignores its sigmas argument and uses SIGMAS": _mmd2(x, y, default), **wrong}
    found = value_finding("mmd2", got, _mmd2(x, y, sigmas), rtol=1e-3, atol=1e-5, wrong=wrong,
                          expected=f"mean k(x, x') + mean k(y, y') - 2 mean k(x, y) over all pairs, "
                                   f"k the sum of the Gaussian kernels of bandwidths {list(sigmas)}")
    if found:
        return [found]

    # The training step, on a small generator of the probe's own (3 -> 16 -> 784).
    generator = _dense_network([3, 16, PIXELS], ["relu", "sigmoid"], rng, "probe_generator", scale=3.0)
    real = tf.constant(_low_rank_images(rng, 16))
    noise = tf.constant(rng.uniform(-1.0, 1.0, (16, 3)).astype(np.float32))
    fakes = as_array(generator(noise))
    train_sigmas = default or sigmas
    want = math.sqrt(max(_mmd2(fakes, as_array(real), train_sigmas), 1e-12))
    step = _compiled(context.function("train_step"), generator, keras.optimizers.Adam(5e-3))
    (losses, moved), found = _steps(
        "train_step", lambda: step(real, noise), _named_variables("generator", generator), 5,
        "generate the batch from the noise inside the `with tf.GradientTape()` block, so that the "
        "tape sees the path from the generator's weights to the loss")
    if found:
        return [found]
    found = value_finding("train_step", losses[0], want, rtol=2e-3, atol=1e-5, wrong={
        "train_step() returns MMD^2: the docstring asks for the loss it minimises, the MMD (the "
        "square root of MMD^2)": want ** 2,
    }, expected="the MMD (not squared) between the generated batch and the real one, before the step")
    if found:
        return [found]
    return step_findings("train_step", losses, moved)


# ------------------------------------------------------------------------------ the GAN


def _gan_networks(rng: np.random.Generator):
    """A small generator (3 -> 16 -> 784, sigmoid pixels) and discriminator (784 -> 8 -> 1 logit)
    of the probe's own, with NumPy twins that compute the same outputs from given weights. Hidden
    units are tanh, not ReLU: a dead ReLU layer gives an exactly zero gradient on some draws, which
    would read as "this network never changes"."""
    generator = _dense_network([3, 16, PIXELS], ["tanh", "sigmoid"], rng, "probe_generator", scale=3.0)
    discriminator = _dense_network([PIXELS, 8, 1], ["tanh", None], rng, "probe_discriminator")

    def generate(weights, noise):
        w1, b1, w2, b2 = (np.asarray(w, np.float64) for w in weights)
        return _sigmoid(np.tanh(noise @ w1 + b1) @ w2 + b2)

    def discriminate(weights, images):
        w1, b1, w2, b2 = (np.asarray(w, np.float64) for w in weights)
        return np.tanh(images @ w1 + b1) @ w2 + b2

    return generator, discriminator, generate, discriminate


@probe("gan")
def gan(context: Context) -> list[Finding]:
    """autoencoders/gan: both losses against NumPy on given logits (with the usual mistakes named:
    the labels swapped, the saturating generator loss, a sigmoid before a with-logits loss), then
    one training step on small networks of the probe's own: each network must move, D's step must
    lower D's loss and G's step G's loss, and the step must return (d_loss, g_loss)."""
    import keras
    import tensorflow as tf

    rng = context.rng
    real_label = float(getattr(context.module, "REAL_LABEL", 1.0))

    def d_reference(real_logits, fake_logits, real_target=real_label, fake_target=0.0):
        return float(_bce_logits(real_target, real_logits).mean()
                     + _bce_logits(fake_target, fake_logits).mean())

    def g_reference(fake_logits):
        return float(_bce_logits(1.0, fake_logits).mean())

    real_logits = rng.normal(0.5, 2.0, (8, 1)).astype(np.float32)
    fake_logits = rng.normal(-0.5, 2.0, (8, 1)).astype(np.float32)
    got = context.function("discriminator_loss")(tf.constant(real_logits), tf.constant(fake_logits))
    real_p, fake_p = _sigmoid(real_logits.astype(np.float64)), _sigmoid(fake_logits.astype(np.float64))
    wrong = {
        "the discriminator's labels are swapped: real digits must get the target REAL_LABEL, the "
        "fakes 0": d_reference(real_logits, fake_logits, 0.0, real_label),
        "the discriminator's labels are swapped (real digits 0, fakes 1): real digits must get "
        "the target REAL_LABEL, the fakes 0": d_reference(real_logits, fake_logits, 0.0, 1.0),
        "a sigmoid applied to the logits before a loss that takes logits (it applies its own): "
        "discriminator_loss() squashes D's scores twice":
            d_reference(real_p, fake_p),
        "discriminator_loss() treats the logits as probabilities (a cross-entropy on "
        "probabilities, e.g. from_logits left False): the inputs are logits":
            float(_keras_bce(real_label, real_logits).mean() + _keras_bce(0.0, fake_logits).mean()),
        "the real digits' target is 1 in discriminator_loss(): the docstring asks REAL_LABEL "
        "(one-sided label smoothing)": d_reference(real_logits, fake_logits, 1.0, 0.0),
        "the fakes' target is smoothed too in discriminator_loss(): only the real digits get "
        "REAL_LABEL, the fakes 0 (one-sided smoothing)":
            d_reference(real_logits, fake_logits, real_label, 1.0 - real_label),
        "discriminator_loss() averages the two cross-entropies: the docstring asks for their sum":
            d_reference(real_logits, fake_logits) / 2.0,
        "discriminator_loss() sums over the batch instead of averaging":
            d_reference(real_logits, fake_logits) * len(real_logits),
    }
    found = value_finding("discriminator_loss", got, d_reference(real_logits, fake_logits),
                          rtol=1e-4, atol=1e-5, wrong=wrong,
                          expected="the mean cross-entropy of the real logits against REAL_LABEL "
                                   "plus that of the fake logits against 0")
    if found:
        return [found]

    got = context.function("generator_loss")(tf.constant(fake_logits))
    found = value_finding("generator_loss", got, g_reference(fake_logits), rtol=1e-4, atol=1e-5, wrong={
        "the saturating generator loss log(1 - D(G(z))) (minus D's loss on the fakes): while D "
        "rejects the fakes it is flat and G learns nothing; the docstring asks for -log D(G(z))":
            float(-_bce_logits(0.0, fake_logits).mean()),
        "generator_loss() gives the fakes the target 0 ('fake'): G would learn to be rejected; "
        "its target is 1": float(_bce_logits(0.0, fake_logits).mean()),
        "generator_loss() uses the smoothed target REAL_LABEL: smoothing is for D only, G's "
        "target is 1": float(_bce_logits(real_label, fake_logits).mean()),
        "a sigmoid applied to the logits before a loss that takes logits (it applies its own) in "
        "generator_loss()": g_reference(fake_p),
        "generator_loss() treats the logits as probabilities (a cross-entropy on probabilities, "
        "e.g. from_logits left False): the input is logits": float(_keras_bce(1.0, fake_logits).mean()),
        "generator_loss() sums over the batch instead of averaging":
            g_reference(fake_logits) * len(fake_logits),
    }, expected="the mean of -log sigmoid(fake_logits), the cross-entropy against the target 1")
    if found:
        return [found]

    # One training step on the probe's small networks, all references in NumPy.
    keras.utils.set_random_seed(10_000 + context.seed)
    generator, discriminator, generate, discriminate = _gan_networks(rng)
    real = _low_rank_images(rng, 16)
    noise = rng.normal(0.0, 1.0, (16, 3)).astype(np.float32)
    g_before, d_before = generator.get_weights(), discriminator.get_weights()
    fakes_before = generate(g_before, noise)
    d_loss_before = d_reference(discriminate(d_before, real), discriminate(d_before, fakes_before))
    g_loss_before = g_reference(discriminate(d_before, fakes_before))
    # Plain SGD with a small step: it moves each weight in proportion to its gradient, so a correct
    # step lowers each player's loss to first order. Adam's first step moves every weight by the
    # full rate whatever its gradient, which on 784 inputs overshot and raised D's loss on some draws.
    step = _compiled(context.function("train_step"), generator, discriminator,
                     keras.optimizers.SGD(0.01), keras.optimizers.SGD(0.01))
    try:
        returned = step(tf.constant(real), tf.constant(noise))
    except ValueError as error:
        found = _no_gradient("train_step", error, "compute the fakes, both sets of logits and both "
                                                  "losses inside the tapes; take each gradient "
                                                  "from the tape that watched its network")
        if found is None:
            raise
        return [found]
    if not isinstance(returned, (tuple, list)) or len(returned) != 2:
        return [Finding("train_step() must return the pair (d_loss, g_loss)",
                        f"it returned {type(returned).__name__}")]
    g_after, d_after = generator.get_weights(), discriminator.get_weights()
    moved = {"generator": max(float(np.max(np.abs(a - b))) for a, b in zip(g_after, g_before)),
             "discriminator": max(float(np.max(np.abs(a - b))) for a, b in zip(d_after, d_before))}
    still = [name for name, change in moved.items() if not change > 0]
    if still:
        return [Finding(f"the {' and the '.join(still)}'s variables never change in train_step(): "
                        f"their gradient is None or zero",
                        "after one step: " + ", ".join(f"{name} weights moved by at most {change:.3g}"
                                                       for name, change in moved.items()),
                        "compute the fakes and both sets of logits inside the tapes; each "
                        "optimizer gets the gradient of its own network's loss for that "
                        "network's trainable variables")]
    # Each player's own step must lower its own loss (the other player held where it was).
    fakes_after = generate(g_after, noise)
    d_loss_d_moved = d_reference(discriminate(d_after, real), discriminate(d_after, fakes_before))
    g_loss_g_moved = g_reference(discriminate(d_before, fakes_after))
    if d_loss_d_moved > d_loss_before:
        return [Finding("the discriminator's step raises its own loss in train_step(): D climbs its "
                        "loss (gradient ascent), or is updated with G's loss",
                        f"D's loss on the same batch {d_loss_before:.5g} before D's step, "
                        f"{d_loss_d_moved:.5g} after it (G held fixed)",
                        "D's optimizer applies the gradient of discriminator_loss for "
                        "discriminator.trainable_variables")]
    if g_loss_g_moved > g_loss_before:
        return [Finding("the generator's step makes D's verdict on its fakes worse in train_step(): "
                        "G climbs its loss, or is updated with D's loss (G must minimise "
                        "generator_loss)",
                        f"G's loss {g_loss_before:.5g} before G's step, {g_loss_g_moved:.5g} after "
                        f"it (D held fixed)",
                        "G's optimizer applies the gradient of generator_loss for "
                        "generator.trainable_variables")]
    # The returned losses: D's and G's on this batch, before the step (or, for a step that moves
    # one player and then the other, against the player already moved).
    d_loss, g_loss = (float(as_array(value)) for value in returned)
    d_accepted = [d_loss_before,
                  d_reference(discriminate(d_before, real), discriminate(d_before, fakes_after))]
    g_accepted = [g_loss_before, g_reference(discriminate(d_after, fakes_before))]

    def near(value, candidates):
        return any(math.isclose(value, c, rel_tol=2e-3, abs_tol=1e-5) for c in candidates)

    if near(d_loss, d_accepted) and near(g_loss, g_accepted):
        return []
    if near(g_loss, d_accepted) and near(d_loss, g_accepted):
        return [Finding("train_step() returns (g_loss, d_loss): the docstring asks for (d_loss, g_loss)",
                        f"it returned ({d_loss:.5g}, {g_loss:.5g}); D's loss was {d_loss_before:.5g}, "
                        f"G's {g_loss_before:.5g}")]
    return [Finding("train_step() returns losses that are not D's and G's on this batch",
                    f"it returned ({d_loss:.5g}, {g_loss:.5g}); expected D's loss {d_loss_before:.5g} "
                    f"and G's {g_loss_before:.5g} (computed before the step)",
                    "return discriminator_loss and generator_loss as computed in the step")]


# ------------------------------------------------------------------ after training: the GAN's game


def _tenth(values: np.ndarray) -> tuple[float, float]:
    """The mean over the first and over the last tenth of a curve."""
    n = max(1, values.size // 10)
    return float(values[:n].mean()), float(values[-n:].mean())


@probe("gan_game")
def gan_game(context: Context) -> list[Finding]:
    """autoencoders/gan, after training: the two players' loss curves (main()'s d_loss_curve and
    g_loss_curve) read as a game, not as losses that must fall. A correct GAN's losses hover (the
    solution's, fast run: D about 1.2, G about 1.1 to 1.3 from the first tenth to the last). Two
    readings, neither fatal (the judge's figures decide): D wins outright (its loss near the floor
    that label smoothing leaves, G's far above: seen with G's learning rate cut 100 times, D 0.47
    and G 4.4 over the last tenth), and a generator that draws no digit or collapsed onto one or
    two classes."""
    metrics = context.metrics or {}
    if "d_loss_curve" not in metrics or "g_loss_curve" not in metrics:
        return []
    d_curve = np.asarray(metrics["d_loss_curve"], np.float64).ravel()
    g_curve = np.asarray(metrics["g_loss_curve"], np.float64).ravel()
    if min(d_curve.size, g_curve.size) < 10 or not np.all(np.isfinite(np.r_[d_curve, g_curve])):
        return []
    real_label = float(getattr(context.module, "REAL_LABEL", 1.0))
    floor = float(_bce_logits(real_label, np.array([math.log(real_label / (1 - real_label))]))[0]
                  if 0 < real_label < 1 else 0.0)  # D's least loss: the entropy of its target
    findings = []
    d_head, d_tail = _tenth(d_curve)
    g_head, g_tail = _tenth(g_curve)
    if d_tail < floor + 0.35 and g_tail > 2.5:
        findings.append(Finding(
            "the discriminator wins the game: it rejects the fakes with confidence while the "
            "generator's loss stays high, so G learns little (G's step too small or not applied "
            "in training mode, or D trained much harder than G)",
            f"D's loss {d_head:.3g} -> {d_tail:.3g} (its floor with REAL_LABEL = {real_label:g}: "
            f"{floor:.3g}); G's loss {g_head:.3g} -> {g_tail:.3g} (first -> last tenth of the "
            f"steps; the solution's hover near D 1.2, G 1.1)",
            "check that each step updates G with the gradient of generator_loss at the same "
            "learning rate as D, with both networks in training mode", fatal=False))
    classes = metrics.get("classes")
    if classes is not None and int(classes) == 0:
        findings.append(Finding(
            "the generator draws no digit yet: the judge is confident about none of its samples",
            "the judge found 0 classes among main()'s samples",
            "see whether D's and G's losses moved at all; a working GAN draws digits of most "
            "classes after the fast run", fatal=False))
    elif classes is not None and int(classes) <= 2:
        findings.append(Finding(
            "the generator collapsed: its samples cover one or two digit classes (mode collapse)",
            f"the judge found {int(classes)} classes among main()'s samples",
            "the non-saturating generator loss, D's label smoothing and both networks in training "
            "mode help; so does a learning rate no larger than the solution's", fatal=False))
    return findings
