"""Diagnosis probes for the Keras models of ``convnets/going_deeper`` and
``deep_features/classif_deep_features`` (see seminar/diagnosis.py): the student's builders called on
small symbolic inputs, the models they return run on a few random images or vectors, and compared
with what the docstrings promise. No training and no data set: each probe takes well under a second
once TensorFlow is loaded.

What is compared is behaviour, never source text: shapes; logits that are not probabilities;
batch normalisation seen through its effect (the output does not change when the input is scaled
and shifted) and through its moving averages (the momentum read back from two updates); a ReLU seen
through the sign of the outputs; dropout seen as two training-mode passes that differ; parameter
counts computed from the student's own ``conv_block``; which weights a model trains, by identity;
a submission's cells compared with the probabilities given.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np

from seminar.diagnosis import (Context, Finding, as_array, logits_finding, overfit_finding, probe,
                               shape_finding, value_finding)

DEFAULT_BN_MOMENTUM = 0.99  # Keras's, the value a forgotten momentum= leaves
CELL_TOLERANCE = 1e-4  # a submission's cells against the probabilities (4 decimals pass)


# ---------------------------------------------------------------------------- shared helpers


def _first_line(error: BaseException, limit: int = 300) -> str:
    """The error's message on one line, without Keras's terminal colour codes."""
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(error)).split())
    return f"{type(error).__name__}: {text[:limit]}{' ...' if len(text) > limit else ''}"


def _build(function: str, build, what: str, fix: str = ""):
    """``(result, None)`` or ``(None, Finding)`` when the student's builder raises a Keras or shape
    error on the checker's input. An unfilled TODO (NotImplementedError) propagates: the checker
    reports it as such."""
    try:
        return build(), None
    except NotImplementedError:
        raise
    except (ValueError, TypeError) as error:
        return None, Finding(f"{function}() fails on {what}", _first_line(error), fix)


def _run(model, inputs, training: bool) -> np.ndarray:
    """``model(inputs, training=...)`` as NumPy, without Keras's warning about a model whose input
    has a name (the pretrained network's "pixels") called on a plain tensor."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return as_array(model(inputs, training=training))


def _is_model(value) -> bool:
    import keras

    return isinstance(value, keras.Model)


def _not_a_model(function: str, value) -> Finding:
    return Finding(f"{function}() must return a keras.Model, it returned a "
                   f"{type(value).__name__}", fix="end with keras.Model(inputs, outputs) or a "
                                                  "keras.Sequential")


def _relu_on_logits(function: str, outputs) -> Finding | None:
    """Logits that are all >= 0 with exact zeros among them: a ReLU on the last layer."""
    values = as_array(outputs)
    if values.size and np.all(values >= 0) and np.mean(values == 0) > 0.05:
        return Finding(f"a ReLU (activation=\"relu\") on the last layer of {function}(): logits "
                       f"must be free to be negative",
                       f"all {values.size} outputs are >= 0 and {int(np.sum(values == 0))} are "
                       f"exactly 0, on random inputs", "the last Dense layer has no activation")
    return None


def _output_findings(function: str, outputs, want: tuple) -> Finding | None:
    """The usual three about a classifier's outputs: shape, ReLU on the logits, softmax on them."""
    return (shape_finding(function, outputs, want, "logits") or _relu_on_logits(function, outputs)
            or logits_finding(function, outputs))


def _dropout_finding(function: str, model, inputs) -> Finding | None:
    """Dropout makes two training-mode passes over the same inputs differ; without it they agree
    (batch normalisation in training mode depends only on the batch)."""
    first = _run(model, inputs, True)
    second = _run(model, inputs, True)
    if np.allclose(first, second, rtol=1e-5, atol=1e-6):
        return Finding(f"no dropout in the model of {function}(), which the docstring asks for",
                       "two passes in training mode over the same inputs give the same outputs "
                       "(dropout would zero a different random part of the units each time)",
                       "add a keras.layers.Dropout layer where the docstring puts it")
    return None


def _affine_finding(function: str, model, rng, width: int, *, want_affine: bool,
                    hidden: str = "") -> Finding | None:
    """Whether the model (inference mode) is an affine function of its input:
    f(a x + (1 - a) y) = a f(x) + (1 - a) f(y)."""
    x = rng.normal(0.0, 1.0, (16, width)).astype(np.float32)
    y = rng.normal(0.0, 1.0, (16, width)).astype(np.float32)
    a = 0.3
    mixed = _run(model, a * x + (1 - a) * y, False)
    combined = a * _run(model, x, False) + (1 - a) * _run(model, y, False)
    affine = np.allclose(mixed, combined, rtol=1e-3, atol=1e-4)
    gap = float(np.max(np.abs(mixed - combined)))
    if want_affine and not affine:
        return Finding(f"{function}() is not an affine function of its input: a hidden layer or "
                       f"an activation where there must be none",
                       f"f(0.3 x + 0.7 y) differs from 0.3 f(x) + 0.7 f(y) by up to {gap:.3g}",
                       "softmax regression is one Dense layer with no activation")
    if not want_affine and affine:
        return Finding(f"{function}() is an affine function of its input: its {hidden} has no "
                       f"ReLU, so the layers collapse into one linear map",
                       f"f(0.3 x + 0.7 y) equals 0.3 f(x) + 0.7 f(y) on random inputs (largest "
                       f"difference {gap:.2g})", f"give the {hidden} activation=\"relu\"")
    return None


# ============================================================================ convnets/going_deeper


def _conv_block_model(conv_block, channels: int, filters: int, size: int, side: int = 7):
    import keras

    inputs = keras.Input(shape=(side, side, channels))
    return keras.Model(inputs, conv_block(inputs, filters, size))


def _momenta(model, run) -> np.ndarray:
    """The momentum of every moving average in ``model``, read back from two updates:
    v1 = m v0 + (1 - m) s and v2 = m v1 + (1 - m) s give m = (v2 - v1) / (v1 - v0)."""
    variables = list(model.non_trainable_variables)
    v0 = [as_array(v).copy() for v in variables]
    run()
    v1 = [as_array(v).copy() for v in variables]
    run()
    v2 = [as_array(v).copy() for v in variables]
    momenta = []
    for a, b, c in zip(v0, v1, v2):
        step = b - a
        keep = np.abs(step) > 1e-4
        momenta.extend(((c - b)[keep] / step[keep]).ravel().tolist())
    return np.asarray(momenta)


@probe("going_deeper_conv_block")
def going_deeper_conv_block(context: Context) -> list[Finding]:
    """conv_block keeps h x w and gives ``filters`` channels, normalises over the batch (its output
    in training mode is unchanged when the input is scaled and shifted), with moving averages of
    momentum BN_MOMENTUM, and ends with a ReLU (no negative output)."""
    conv_block = context.function("conv_block")
    rng = context.rng
    block, found = _build("conv_block", lambda: _conv_block_model(conv_block, 3, 5, 3),
                          "a (None, 7, 7, 3) input with 5 filters of size 3")
    if found:
        return [found]
    shape = tuple(block.output_shape)
    if shape != (None, 7, 7, 5):
        if shape[1:3] != (7, 7):
            return [Finding("conv_block() changes the spatial size: the convolution must keep "
                            "h x w",
                            f"conv_block(x, 5, 3) on (None, 7, 7, 3) gives {shape}, the docstring "
                            f"asks for (None, 7, 7, 5)", 'padding="same" keeps h x w')]
        return [Finding("conv_block() does not give `filters` channels",
                        f"conv_block(x, 5, 3) on (None, 7, 7, 3) gives {shape}, the docstring asks "
                        f"for (None, 7, 7, 5)")]

    images = rng.normal(0.0, 1.0, (16, 7, 7, 3)).astype(np.float32)
    outputs = _run(block, images, True)
    if outputs.min() < -1e-6:
        return [Finding("conv_block() does not end with a ReLU: its output has negative values",
                        f"outputs down to {outputs.min():.3g} on random inputs (a ReLU gives none "
                        f"below 0; {np.mean(outputs < 0):.0%} are negative)",
                        "ReLU comes last, after the batch normalisation")]

    # A 1x1 block sees no padding: conv(3 x + 7) is, per channel, 3 conv(x) plus a constant, which
    # batch normalisation in training mode removes exactly, up to its epsilon: var / (var + eps)
    # differs from 9 var / (9 var + eps). Inputs of standard deviation 10 make every channel's
    # variance dwarf epsilon (1e-3), so a correct block moves by well under 0.01 whatever its
    # random weights (at standard deviation 1, a channel with small weights moved by 0.07).
    pointwise = _conv_block_model(conv_block, 3, 5, 1)
    large = 10.0 * images
    plain = _run(pointwise, large, True)
    moved = _run(pointwise, 3.0 * large + 7.0, True)
    gap = float(np.max(np.abs(plain - moved)))
    if not np.allclose(plain, moved, atol=0.05):
        return [Finding("conv_block() does not normalise its convolution's output over the batch: "
                        "batch normalisation is missing (or runs in inference mode)",
                        f"in training mode, scaling the input by 3 and adding 7 changes the "
                        f"block's output by up to {gap:.3g}; batch normalisation would cancel both",
                        "put a keras.layers.BatchNormalization between the convolution and the "
                        "ReLU")]

    want = getattr(context.module, "BN_MOMENTUM", None)
    momenta = _momenta(pointwise, lambda: _run(pointwise, images + 1.0, True))
    if want is not None and momenta.size:
        seen = float(np.median(momenta))
        if abs(seen - float(want)) > 0.005:
            default = abs(seen - DEFAULT_BN_MOMENTUM) < 0.005
            return [Finding("conv_block()'s batch normalisation " +
                            ("keeps Keras's default momentum 0.99" if default else
                             f"uses the momentum {seen:.3g}") +
                            f", not BN_MOMENTUM = {want}",
                            f"its moving averages keep {seen:.3g} of their value at each training "
                            f"step (measured from two updates): the statistics used at test time "
                            f"average over the last {1 / max(1 - seen, 1e-3):.0f} steps or so and "
                            f"lag behind the training (the comment on BN_MOMENTUM gives the cost)",
                            "pass momentum=BN_MOMENTUM to the BatchNormalization layer")]
    return []


def _inception_counts(conv_block, channels: int, filters: tuple) -> tuple[int, dict]:
    """The parameter count of an Inception module built from the student's conv_block as the
    docstring says, and the counts of known mistakes."""
    f1, f3r, f3, f5r, f5, fp = filters
    cache: dict = {}

    def block(cin, f, k):
        if (cin, f, k) not in cache:
            cache[cin, f, k] = _conv_block_model(conv_block, cin, f, k).count_params()
        return cache[cin, f, k]

    one, pool = block(channels, f1, 1), block(channels, fp, 1)
    three = block(channels, f3r, 1) + block(f3r, f3, 3)
    five = block(channels, f5r, 1) + block(f5r, f5, 5)
    right = one + three + five + pool
    wrong = {
        "the 3x3 branch has no 1x1 reduction (its 3x3 block reads the module's input directly)":
            one + block(channels, f3, 3) + five + pool,
        "the 5x5 branch has no 1x1 reduction (its 5x5 block reads the module's input directly)":
            one + three + block(channels, f5, 5) + pool,
        "neither the 3x3 nor the 5x5 branch has its 1x1 reduction":
            one + block(channels, f3, 3) + block(channels, f5, 5) + pool,
        "the 3x3 and 5x5 kernel sizes are swapped between the two branches":
            one + block(channels, f3r, 1) + block(f3r, f3, 5) + block(channels, f5r, 1)
            + block(f5r, f5, 3) + pool,
    }
    return right, wrong


@probe("going_deeper_inception")
def going_deeper_inception(context: Context) -> list[Finding]:
    """inception_module keeps h x w and concatenates four branches on the channels (channel count
    f1 + f3 + f5 + fpool, chosen so that a sum of the branches would still run), and has the
    parameters of its six conv_blocks, as built by the student's own conv_block."""
    import keras

    inception_module = context.function("inception_module")
    conv_block = context.function("conv_block")
    channels, width = 5, 6
    filters = (width, 4, width, 3, width, width)  # every branch gives 6 channels: 24 in all
    want = (None, 7, 7, 4 * width)
    inputs = keras.Input(shape=(7, 7, channels))
    outputs, found = _build(
        "inception_module", lambda: inception_module(inputs, filters),
        f"a (None, 7, 7, {channels}) input with filters {filters}",
        "every branch must keep the 7x7 size before they are joined: 'same' padding, and the "
        "3x3 max pooling with strides=1")
    if found:
        if "shape" in found.evidence.lower():
            found.cause = ("inception_module() cannot join its branches: one of them changes the "
                           "spatial size (a pooling with the default stride halves it)")
        return [found]
    shape = tuple(getattr(outputs, "shape", ()))
    if shape != want:
        evidence = (f"on a (None, 7, 7, {channels}) input with filters {filters} it returns "
                    f"{shape}; the docstring asks for {want} ({width}+{width}+{width}+{width} "
                    f"channels)")
        if shape == (None, 7, 7, width):
            cause = ("the branches are added (or only one is returned) instead of concatenated on "
                     "the channel axis")
            fix = "join the four branches with keras.layers.Concatenate on the last axis"
        elif shape == (None, 7, 7, 3 * width + channels):
            cause = "the pooling branch has no 1x1 projection to fpool channels"
            fix = "after the 3x3 max pooling, a 1x1 conv_block with fpool filters"
        elif len(shape) == 4 and shape[3] == width and (shape[1] == 28 or shape[2] == 28):
            cause = "the branches are concatenated along the height or the width, not the channels"
            fix = "concatenate on the last axis (axis=-1)"
        elif len(shape) == 4 and shape[1:3] != (7, 7):
            cause = "inception_module() changes the spatial size: every branch must keep h x w"
            fix = "'same' padding everywhere, the max pooling with strides=1"
        else:
            cause = "inception_module() does not return the four branches' channels concatenated"
            fix = "four branches from the same x, joined on the channel axis"
        return [Finding(cause, evidence, fix)]

    module = keras.Model(inputs, outputs)
    right, wrong = _inception_counts(conv_block, channels, filters)
    got = module.count_params()
    if got != right:
        for cause, count in wrong.items():
            if got == count:
                return [Finding(cause, f"the module has {got} parameters; with every branch as the "
                                       f"docstring says (built from your conv_block) it has "
                                       f"{right}")]
        return [Finding("inception_module()'s branches are not the docstring's (1x1; 1x1 then "
                        "3x3; 1x1 then 5x5; 3x3 max pooling then 1x1, each convolution a "
                        "conv_block, all from the same input)",
                        f"the module has {got} parameters; built as the docstring says from your "
                        f"conv_block it has {right}",
                        "each branch starts from the module's input x; the reductions are 1x1")]
    return []


@probe("going_deeper_network")
def going_deeper_network(context: Context) -> list[Finding]:
    """build_deeper: (batch, 28, 28, 1) -> (batch, 10) logits (no softmax, no ReLU), a layer named
    "features" giving 120 numbers per image (global average pooling), and dropout."""
    build_deeper = context.function("build_deeper")
    model, found = _build("build_deeper", build_deeper, "the checker's call")
    if found:
        return [found]
    if not _is_model(model):
        return [_not_a_model("build_deeper", model)]
    if tuple(model.input_shape) != (None, 28, 28, 1):
        return [Finding("build_deeper()'s model does not take (batch, 28, 28, 1) images",
                        f"its input shape is {model.input_shape}")]
    try:
        features = model.get_layer("features")
    except ValueError:
        return [Finding('build_deeper() has no layer named "features"',
                        "its last six layers: "
                        + ", ".join(layer.name for layer in model.layers[-6:]),
                        'name the global average pooling: GlobalAveragePooling2D(name="features")')]
    feature_shape = tuple(features.output.shape)
    if feature_shape != (None, 120):
        return [Finding('the "features" layer does not average each channel over the 7x7 positions '
                        '(one 120-number vector per image)',
                        f'"features" outputs {feature_shape}, the docstring asks for (None, 120)',
                        "global average pooling after the second Inception module, not a Flatten")]
    images = context.rng.random((8, 28, 28, 1)).astype(np.float32)  # pixel / 255, in [0, 1]
    logits = _run(model, images, False)
    found = _output_findings("build_deeper", logits, (8, 10))
    if found:
        return [found]
    found = _dropout_finding("build_deeper", model, images)
    return [found] if found else []


# ============================================================== deep_features/classif_deep_features

# A pretrained network's architecture in miniature: the same layer names ("stem", "stem_bn", the
# Inception modules, "features_grid", "features", "dropout", "logits") with a few channels, random
# weights. Its "features" layer gives 9 x 20 = 180 numbers.
_SMALL_MODULES = ((4, (4, 4), (2, 4), 4), (4, (4, 8), (2, 4), 4))
_SMALL_STEM = 4


def _small_network(seed: int):
    from seminar import pretrained

    return pretrained.build_model(modules=_SMALL_MODULES, stem_filters=_SMALL_STEM,
                                  seed=20_000 + seed)


def _reference_features(network, images) -> np.ndarray:
    """The "features" layer's output computed from the layer before it: the grid, flattened row by
    row in NumPy."""
    import keras

    grid = keras.Model(network.inputs, network.get_layer("features_grid").output)
    values = _run(grid, images, False)
    return values.reshape(len(values), -1)


@probe("deep_features_extractor")
def deep_features_extractor(context: Context) -> list[Finding]:
    """feature_extractor: the network's own "features" output for the same images (shape and
    values), from a small network of the pretrained architecture with random weights."""
    network = _small_network(context.seed)
    feature_extractor = context.function("feature_extractor")
    extractor, found = _build("feature_extractor", lambda: feature_extractor(network),
                              "a small network of the pretrained architecture")
    if found:
        return [found]
    if not _is_model(extractor):
        return [_not_a_model("feature_extractor", extractor)]
    images = context.rng.random((4, 28, 28, 1)).astype(np.float32)
    got = _run(extractor, images, False)
    want = _reference_features(network, images)
    if got.shape != want.shape:
        evidence = (f"on 4 images it returns {got.shape}; that network's \"features\" layer "
                    f"gives {want.shape}")
        if got.shape == (4, 10):
            return [Finding('feature_extractor() stops at the network\'s logits (its last layer), '
                            'not at the layer named "features"', evidence)]
        if got.ndim == 4:
            return [Finding('feature_extractor() stops at a map of the network (before the layer '
                            'named "features" flattens it)', evidence)]
        return [Finding('feature_extractor() does not output the layer named "features"', evidence)]
    found = value_finding("feature_extractor", got, want, rtol=1e-4, atol=1e-5,
                          expected='the trained network\'s own "features" output')
    if found:
        found.cause = ('feature_extractor() does not reuse the network\'s own layers up to '
                       '"features" (a copy with new weights, or another layer)')
        return [found]
    return []


def _overfit(model, inputs: np.ndarray, labels: np.ndarray, steps: int, learning_rate: float):
    """Full-batch Adam steps on the cross-entropy of the logits; the loss before each step, then
    the final loss in inference mode (dropout off)."""
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(learning_rate)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x, y = tf.constant(inputs), tf.constant(labels)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    losses = [float(loss_fn(y, model(x, training=False)))]
    for _ in range(steps):
        loss = float(step())
        if not math.isfinite(loss):
            losses.append(loss)
            return losses
    losses.append(float(loss_fn(y, model(x, training=False))))
    return losses


@probe("deep_features_heads")
def deep_features_heads(context: Context) -> list[Finding]:
    """The three heads on feature vectors: softmax_regression (affine, num_classes logits), mlp and
    reshaped_conv (logits, not affine, with dropout; reshaped_conv follows its ``shape``), and an
    MLP that overfits 64 random vectors with random labels."""
    rng = context.rng
    width, classes = 12, 5
    model, found = _build("softmax_regression",
                          lambda: context.function("softmax_regression")(width, classes),
                          f"num_inputs={width}, num_classes={classes}")
    if found:
        return [found]
    if not _is_model(model):
        return [_not_a_model("softmax_regression", model)]
    vectors = rng.normal(0.0, 1.0, (16, width)).astype(np.float32)
    outputs = _run(model, vectors, False)
    if as_array(outputs).shape == (16, 10):
        return [Finding("softmax_regression() ignores num_classes: it always gives 10 logits",
                        f"softmax_regression({width}, num_classes={classes}) returns (16, 10) "
                        f"for 16 vectors", "use the argument num_classes, not NUM_CLASSES")]
    found = (_output_findings("softmax_regression", outputs, (16, classes))
             or _affine_finding("softmax_regression", model, rng, width, want_affine=True))
    if found:
        return [found]

    grid = (3, 3, 4)  # not the pretrained network's (3, 3, 128): reshaped_conv must follow `shape`
    grid_width = int(np.prod(grid))
    heads = [("mlp", lambda: context.function("mlp")(width), width, "hidden layer"),
             ("reshaped_conv", lambda: context.function("reshaped_conv")(grid_width, shape=grid),
              grid_width, "convolution")]
    for name, build, inputs_width, hidden in heads:
        fix = ("view the vector as `shape` (the argument), not a fixed (3, 3, 128)"
               if name == "reshaped_conv" else "")
        model, found = _build(name, build, f"num_inputs={inputs_width}" +
                              (f", shape={grid}" if name == "reshaped_conv" else ""), fix)
        if found:
            if name == "reshaped_conv" and "target_shape" in found.evidence:
                found.cause = "reshaped_conv() does not view the vectors as its argument `shape`"
            return [found]
        if not _is_model(model):
            return [_not_a_model(name, model)]
        vectors = rng.normal(0.0, 1.0, (16, inputs_width)).astype(np.float32)
        found = (_output_findings(name, _run(model, vectors, False), (16, 10))
                 or _affine_finding(name, model, rng, inputs_width, want_affine=False,
                                    hidden=hidden)
                 or _dropout_finding(name, model, vectors))
        if found:
            return [found]

    # 64 random vectors of 12 numbers with random labels: 256 ReLU units memorise them easily.
    model = context.function("mlp")(width)
    vectors = rng.normal(0.0, 1.0, (64, width)).astype(np.float32)
    labels = rng.integers(0, 10, 64).astype(np.int32)
    losses = _overfit(model, vectors, labels, steps=100, learning_rate=1e-2)
    found = overfit_finding("mlp", losses, target=0.5)
    return [found] if found else []


def _layer_parameters(layer) -> list:
    """A layer's weights that training may change (a batch normalisation's moving averages never
    are), whether the layer is frozen or not."""
    moving = {id(v) for v in (getattr(layer, "moving_mean", None),
                              getattr(layer, "moving_variance", None)) if v is not None}
    return [v for v in layer.weights if id(v) not in moving]


@probe("deep_features_fine_tune")
def deep_features_fine_tune(context: Context) -> list[Finding]:
    """fine_tune_model: images -> the network's "features" -> the head, as logits, equal to the
    head applied to the network's features; the stem and every batch normalisation frozen, the
    other layers up to "features" and the head trainable (checked weight by weight)."""
    import keras

    network = _small_network(context.seed)
    width = int(network.get_layer("features").output.shape[-1])
    head = keras.Sequential([keras.Input((width,)), keras.layers.Dense(10)], name="probe_head")
    model, found = _build("fine_tune_model",
                          lambda: context.function("fine_tune_model")(network, head),
                          "a small network of the pretrained architecture and a softmax-regression "
                          "head", 'feed the output of the layer named "features" to the head')
    if found:
        if "incompatible" in found.evidence:
            found.cause = ('fine_tune_model() feeds the head something other than the output of '
                           'the layer named "features"')
        return [found]
    if not _is_model(model):
        return [_not_a_model("fine_tune_model", model)]
    images = context.rng.random((4, 28, 28, 1)).astype(np.float32)
    logits = _run(model, images, False)
    found = _output_findings("fine_tune_model", logits, (4, 10))
    if found:
        return [found]
    want = _run(head, _reference_features(network, images), False)
    found = value_finding("fine_tune_model", logits, want, rtol=1e-4, atol=1e-5,
                          expected='the head applied to the network\'s "features" output')
    if found:
        found.cause = ("fine_tune_model() does not run the images through the network's own "
                       "layers up to \"features\", then the given head")
        return [found]

    trainable = {id(v) for v in model.trainable_weights}
    stem, batch_norm, body, names = [], [], [], {}
    past_features = False
    for layer in network.layers:
        if past_features:  # the old network's dropout and logits are not in the new model
            break
        past_features = layer.name == "features"
        for variable in _layer_parameters(layer):
            names[id(variable)] = layer.name
            if layer.name.startswith("stem"):
                stem.append(variable)
            elif isinstance(layer, keras.layers.BatchNormalization):
                batch_norm.append(variable)
            else:
                body.append(variable)
    head_weights = list(head.weights)
    trains = {key: [v for v in group if id(v) in trainable]
              for key, group in (("stem", stem), ("bn", batch_norm), ("body", body),
                                 ("head", head_weights))}
    expected = len(body) + len(head_weights)
    evidence = (f"the model trains {len(model.trainable_weights)} weight tensors; the docstring's "
                f"freezing leaves {expected} ({len(body)} of the layers after the stem, "
                f"{len(head_weights)} of the head): of the stem's {len(stem)} it trains "
                f"{len(trains['stem'])}, of the batch normalisations' {len(batch_norm)} it trains "
                f"{len(trains['bn'])}, of the other layers' {len(body)} it trains "
                f"{len(trains['body'])}, of the head's {len(head_weights)} it trains "
                f"{len(trains['head'])}")
    if trains["stem"] and trains["bn"]:
        return [Finding("the pretrained network is left trainable: its stem and its batch "
                        "normalisations must be frozen", evidence,
                        "set trainable = False on the stem's layers and on every "
                        "BatchNormalization layer, True on the others")]
    if trains["stem"]:
        return [Finding("the stem (the layers whose names start with \"stem\") is left trainable: "
                        "it must be frozen", evidence)]
    if trains["bn"]:
        return [Finding("the batch normalisations are left trainable: they must be frozen (with "
                        "1000 images their statistics would drift from Fashion-MNIST's)", evidence,
                        "set trainable = False on every keras.layers.BatchNormalization")]
    if not trains["body"]:
        return [Finding("the whole pretrained network is frozen: only the head trains, which is "
                        "the deep-features classifier again, not fine-tuning", evidence,
                        "only the stem and the batch normalisations stay frozen")]
    if len(trains["body"]) < len(body):
        frozen = sorted({names[id(v)] for v in body if id(v) not in trainable})
        return [Finding("some layers after the stem are frozen although the docstring has them "
                        "train", evidence + f"; frozen: {', '.join(frozen[:6])}"
                        + (" ..." if len(frozen) > 6 else ""))]
    if len(trains["head"]) < len(head_weights):
        return [Finding("the head is frozen in the fine-tuned model: it must train with the "
                        "network", evidence)]
    return []


def _softmax(values: np.ndarray) -> np.ndarray:
    shifted = values - values.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    return exps / exps.sum(axis=1, keepdims=True)


def _frame_findings(submission_frame, ids: np.ndarray, probabilities: np.ndarray,
                    class_names) -> Finding | None:
    import pandas as pd

    call = ("submission_frame(ids, probabilities)" if class_names is None else
            f"submission_frame(ids, probabilities, class_names={tuple(class_names)})")
    names = [str(k) for k in range(10)] if class_names is None else list(class_names)
    arguments = (ids, probabilities) if class_names is None else (ids, probabilities, class_names)
    frame, found = _build("submission_frame", lambda: submission_frame(*arguments),
                          f"{len(ids)} ids and {len(names)} classes ({call})",
                          "one column per name in class_names, in their order")
    if found:
        return found
    if not isinstance(frame, pd.DataFrame):
        return Finding(f"submission_frame() must return a pandas DataFrame, it returned a "
                       f"{type(frame).__name__}")
    columns = [str(c) for c in frame.columns]
    wanted = ["id"] + [f"class_{name}" for name in names]
    evidence = f"{call} has the columns {columns}; the docstring asks for {wanted}"
    if "id" not in columns:
        index = np.asarray(frame.index)
        if index.shape == ids.shape and np.array_equal(index.astype(np.int64), ids):
            return Finding("the ids are the DataFrame's index, not a column \"id\": the CSV "
                           "(written with index=False) would have no ids", evidence,
                           "add the ids as a column named \"id\"")
        return Finding("the submission has no column \"id\"", evidence)
    if sorted(columns) != sorted(wanted):
        return Finding("the submission's columns are not \"id\" and class_<name> for each class "
                       "name", evidence)
    if columns != wanted:
        if columns[0] != "id":
            return Finding("the column \"id\" must come first", evidence)
        return Finding("the class columns are not in the order of class_names", evidence)
    if len(frame) != len(ids):
        return Finding("the submission does not have one row per test image",
                       f"{call} has {len(frame)} rows for {len(ids)} ids")
    try:
        got_ids = frame["id"].to_numpy().astype(np.int64)
        cells = frame[wanted[1:]].to_numpy().astype(np.float64)
    except (TypeError, ValueError) as error:
        return Finding("the submission's cells are not numbers", _first_line(error))
    if not np.array_equal(got_ids, ids):
        return Finding("the column \"id\" does not hold the given ids, in their order",
                       f"ids given {ids.tolist()}, column \"id\" {got_ids.tolist()}",
                       "use the ids argument (the test images' ids), not a new numbering")
    if np.allclose(cells, probabilities, rtol=1e-4, atol=CELL_TOLERANCE):
        return None
    for k in range(len(names)):  # a column holding another class's probabilities
        match = [j for j in range(len(names))
                 if np.allclose(cells[:, k], probabilities[:, j], rtol=1e-4, atol=CELL_TOLERANCE)]
        if match and match[0] != k:
            return Finding("the probability columns are in the wrong class order",
                           f"column class_{names[k]} holds the probabilities of class "
                           f"{names[match[0]]}",
                           "column k holds probabilities[:, k], the class class_names[k]")
    wrong = {
        "the submission holds the logarithms of the probabilities (the log loss takes the log "
        "itself): its cells must be probabilities in [0, 1], each row summing to 1":
            np.log(probabilities),
        "a softmax applied again to what are already probabilities": _softmax(probabilities),
        "the probabilities are transposed or reshaped: row i must be test image i":
            probabilities.T.reshape(probabilities.shape),
    }
    found = value_finding("submission_frame", cells, probabilities, rtol=1e-4, atol=CELL_TOLERANCE,
                          wrong=wrong, expected="the probabilities given, one row per id")
    sums = cells.sum(axis=1)
    if found and not np.allclose(sums, 1.0, atol=1e-3):
        found.evidence += f"; row sums {np.round(sums[:3], 4).tolist()} (each must be 1)"
    return found


@probe("deep_features_submission")
def deep_features_submission(context: Context) -> list[Finding]:
    """submission_frame: the column "id" (the given ids, in order) then class_<name> per class in
    class_names' order, each row the given probabilities (summing to 1): with the digits (the
    default) and with three named classes."""
    submission_frame = context.function("submission_frame")
    rng = context.rng
    ids = np.array([7, 3, 12, 5], dtype=np.int64)  # not 1..n: the ids must come from the argument
    for classes in (None, ("cat", "dog", "eel")):
        count = 10 if classes is None else len(classes)
        probabilities = rng.dirichlet(np.ones(count), size=len(ids))
        found = _frame_findings(submission_frame, ids, probabilities, classes)
        if found:
            return [found]
    return []
