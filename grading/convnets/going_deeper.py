"""Grading of convnets/going_deeper.

The checker scores main()'s ``classify`` (the Inception-style network) and ``lenet_classify``
(LeNet-5 trained in the same run) on the 10000 Fashion-MNIST test images it loads itself. The
probes call the student's builders on small symbolic inputs and run what they return on a few
random images; what is compared is behaviour, never source text: shapes; batch normalisation seen
through its effect (the output does not change when the input is scaled and shifted) and through
its moving averages (the momentum read back from two updates); a ReLU seen through the sign of the
outputs; parameter counts computed from the student's own ``conv_block``; dropout seen as two
training-mode passes that differ.
"""

from __future__ import annotations

import keras
import numpy as np

from seminar.grader import measures
from seminar.grader.toolkit import (Context, Finding, as_array, build_finding, classifier_findings,
                                    dropout_finding, model_finding, run_model)

DEFAULT_BN_MOMENTUM = 0.99  # Keras's, the value a forgotten momentum= leaves


def probe_conv_block(context: Context) -> list[Finding]:
    """conv_block keeps h x w and gives ``filters`` channels, normalises over the batch (its output
    in training mode is unchanged when the input is scaled and shifted), with moving averages of
    momentum BN_MOMENTUM, and ends with a ReLU (no negative output)."""
    conv_block = context.function("conv_block")
    rng = context.rng
    block, found = build_finding("conv_block", lambda: _conv_block_model(conv_block, 3, 5, 3),
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
    outputs = run_model(block, images, True)
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
    plain = run_model(pointwise, large, True)
    moved = run_model(pointwise, 3.0 * large + 7.0, True)
    gap = float(np.max(np.abs(plain - moved)))
    if not np.allclose(plain, moved, atol=0.05):
        return [Finding("conv_block() does not normalise its convolution's output over the batch: "
                        "batch normalisation is missing (or runs in inference mode)",
                        f"in training mode, scaling the input by 3 and adding 7 changes the "
                        f"block's output by up to {gap:.3g}; batch normalisation would cancel both",
                        "put a keras.layers.BatchNormalization between the convolution and the "
                        "ReLU")]

    want = context.constant("BN_MOMENTUM", None)
    momenta = _momenta(pointwise, lambda: run_model(pointwise, images + 1.0, True))
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


def _conv_block_model(conv_block, channels: int, filters: int, size: int, side: int = 7):
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


def probe_inception(context: Context) -> list[Finding]:
    """inception_module keeps h x w and concatenates four branches on the channels (channel count
    f1 + f3 + f5 + fpool, chosen so that a sum of the branches would still run), and has the
    parameters of its six conv_blocks, as built by the student's own conv_block."""
    inception_module = context.function("inception_module")
    conv_block = context.function("conv_block")
    channels, width = 5, 6
    filters = (width, 4, width, 3, width, width)  # every branch gives 6 channels: 24 in all
    want = (None, 7, 7, 4 * width)
    inputs = keras.Input(shape=(7, 7, channels))
    outputs, found = build_finding(
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


def probe_network(context: Context) -> list[Finding]:
    """build_deeper: (batch, 28, 28, 1) -> (batch, 10) logits (no softmax, no ReLU), a layer named
    "features" giving 120 numbers per image (global average pooling), and dropout."""
    build_deeper = context.function("build_deeper")
    model, found = build_finding("build_deeper", build_deeper, "the checker's call")
    if found:
        return [found]
    found = model_finding("build_deeper", model)
    if found:
        return found
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
    logits = run_model(model, images, False)
    found = classifier_findings("build_deeper", logits, (8, 10))
    if found:
        return [found]
    found = dropout_finding("build_deeper", model, images)
    return [found] if found else []


# ---------------------------------------------------------------------------- measures


def _accuracy(context: Context, key: str, described: str) -> float:
    images, labels = measures.test_images("fashion_mnist")
    return measures.classifier_accuracy(context, key, described, images[..., None], labels)


def measure_test_accuracy(context: Context) -> float:
    """The deeper network's accuracy on the 10000 Fashion-MNIST test images."""
    return _accuracy(context, "classify", "the trained deeper network")


def measure_accuracy_gain(context: Context) -> float:
    """The deeper network's test accuracy minus LeNet-5's, both measured here."""
    return measure_test_accuracy(context) - _accuracy(context, "lenet_classify",
                                                      "the trained LeNet-5 baseline")
