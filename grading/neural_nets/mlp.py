"""Grading of neural_nets/mlp.

The checker scores main()'s predicted labels of the 10000 test digits against the labels it loads
itself. The probe checks the initial weights (shapes, trainable variables, He's scale, no two units
alike), the ReLU network's logits against NumPy (with the usual mistakes named), and Adam steps
that learn 64 examples by heart.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from seminar.grader import measures
from seminar.grader.toolkit import (Context, Finding, as_array, fresh_function, logits_finding,
                                    mean_cross_entropy, overfit_finding, relu_logits_finding,
                                    run_steps, shape_finding, step_findings, value_finding)


MLP_SIZES = (784, 64, 32, 10)  # small enough to be quick, the exercise's depth (two hidden layers)


def probe_mlp(context: Context) -> list[Finding]:
    """neural_nets/mlp: init_layers gives He-scaled random weights and zero biases as trainable
    variables, inference the logits of ReLU hidden layers, train_step an Adam step that overfits 64
    examples."""
    rng = context.rng
    sizes = MLP_SIZES
    params = context.function("init_layers")(sizes, 1234)
    findings = _mlp_init_findings(params, sizes)
    if any(f.fatal for f in findings):
        return findings

    # inference on the checker's own parameters (biases nonzero, so that forgetting one shows).
    values = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        values += [rng.normal(0.0, math.sqrt(2.0 / fan_in), (fan_in, fan_out)).astype(np.float32),
                   rng.normal(0.0, 0.1, (fan_out,)).astype(np.float32)]
    images = rng.random((8, sizes[0])).astype(np.float32)  # pixels in [0, 1], as in main()
    logits = context.function("inference")(tf.constant(images), [tf.Variable(v) for v in values])
    want = _mlp_reference(images, values)
    found = (shape_finding("inference", logits, (8, sizes[-1])) or relu_logits_finding("inference", logits)
             or logits_finding("inference", logits)
             or value_finding("inference", logits, want, rtol=1e-3, atol=1e-4, wrong={
                 "no ReLU between the layers in inference(): the network is a linear model (a "
                 "product of matrices is one matrix), no better than softmax regression":
                     _mlp_reference(images, values, relu_hidden=False),
                 "a ReLU applied to the output layer in inference(): logits must be free to be "
                 "negative": _mlp_reference(images, values, relu_last=True),
                 "the biases are not added in inference()":
                     _mlp_reference(images, values, with_bias=False),
             }, expected="relu(h W + b) for each hidden layer, h W + b for the last"))
    if found:
        return findings + [found]

    # Adam steps on 64 examples with random labels, from the checker's parameters: the first steps
    # show ascent or frozen variables; a working step memorises them within 150 steps.
    # A fresh tf.function of a decorated step: Adam creates its variables on its first call, which
    # must stay main()'s (see toolkit.fresh_function).
    train_step = fresh_function(context.function("train_step"))
    images = tf.constant(rng.random((64, sizes[0])).astype(np.float32))
    labels = tf.constant(rng.integers(0, sizes[-1], 64).astype(np.int32))
    variables = {("W" if i % 2 == 0 else "b") + str(i // 2 + 1): tf.Variable(v)
                 for i, v in enumerate(values)}
    params = list(variables.values())
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)

    def step():
        return train_step(images, labels, params, optimizer)

    losses, moved = run_steps(step, variables, 4)
    found = step_findings("train_step", losses, moved)
    if found:
        return findings + found
    more, _ = run_steps(step, variables, 146)
    final = mean_cross_entropy(_mlp_reference(as_array(images), [as_array(p) for p in params]),
                                as_array(labels).astype(int))
    found = overfit_finding("train_step", losses + more + [final], target=0.1 * losses[0])
    return findings + ([found] if found else [])


def _mlp_reference(images: np.ndarray, values: list, relu_last: bool = False,
                   relu_hidden: bool = True, with_bias: bool = True) -> np.ndarray:
    """The MLP's forward pass in NumPy (float64), and the outputs of a few known mistakes."""
    hidden = np.asarray(images, np.float64)
    for layer, (weights, bias) in enumerate(zip(values[0::2], values[1::2])):
        hidden = hidden @ weights + (bias if with_bias else 0.0)
        last = layer == len(values) // 2 - 1
        if (relu_hidden and not last) or (relu_last and last):
            hidden = np.maximum(hidden, 0.0)
    return hidden


def _mlp_init_findings(params, sizes) -> list[Finding]:
    """init_layers(sizes) against its docstring: [W1, b1, ...] trainable tf.Variables of the right
    shapes, weights drawn at random with He's standard deviation, biases at 0."""
    expected = [shape for fan_in, fan_out in zip(sizes[:-1], sizes[1:])
                for shape in ((fan_in, fan_out), (fan_out,))]
    if not isinstance(params, (list, tuple)):
        return [Finding("init_layers() does not return a list of variables",
                        f"it returned a {type(params).__name__}", "return [W1, b1, W2, b2, ...]")]
    shapes = [tuple(np.shape(as_array(p))) for p in params]
    if shapes != expected:
        return [Finding("init_layers() returns variables of the wrong number or shapes",
                        f"for sizes {sizes} it returned shapes {shapes}; the docstring asks for {expected}",
                        "one (fan_in, fan_out) weight matrix and one (fan_out,) bias per pair of "
                        "consecutive sizes, weights first")]
    not_variables = [i for i, p in enumerate(params) if not (isinstance(p, tf.Variable) and p.trainable)]
    if not_variables:
        return [Finding("init_layers() returns tensors that are not trainable tf.Variables: the "
                        "optimizer cannot update them", f"items {not_variables} of the list are "
                        f"{', '.join(sorted({type(params[i]).__name__ for i in not_variables}))}",
                        "wrap each initial value in tf.Variable(...)")]
    values = [as_array(p) for p in params]
    # Symmetry: a weight matrix whose columns are all equal (zeros, or one constant) gives units
    # that compute the same value on every input and receive the same gradient: they never differ.
    same = [index for index, weights in enumerate(values[0::2])
            if weights.shape[1] > 1 and float(np.max(np.ptp(weights, axis=1))) == 0.0]
    if same:
        return [_symmetry_finding(values, same)]
    findings = []
    scaled = []
    for layer, (weights, fan_in) in enumerate(zip(values[0::2], sizes[:-1]), start=1):
        he = math.sqrt(2.0 / fan_in)
        ratio, centre = float(weights.std()) / he, abs(float(weights.mean())) / he
        if not 0.7 <= ratio <= 1.4 or centre > 0.2:
            scaled.append(f"W{layer} ({fan_in}, {weights.shape[1]}): mean {weights.mean():.3g}, standard "
                          f"deviation {weights.std():.3g} (He: mean 0, {he:.3g})")
    if scaled:
        findings.append(Finding("init_layers() does not draw the weights as the docstring says: mean "
                                "0 and standard deviation sqrt(2 / fan_in) (He initialisation); "
                                "badly scaled weights make the activations vanish or explode "
                                "from layer to layer", "; ".join(scaled),
                                "the standard deviation depends on each layer's fan_in"))
    biased = [f"b{layer}" for layer, bias in enumerate(values[1::2], start=1) if np.any(bias != 0)]
    if biased:
        findings.append(Finding("init_layers() starts some biases away from 0", f"nonzero: "
                                f"{', '.join(biased)} (the docstring starts them at 0)", fatal=False))
    return findings


def _symmetry_finding(values: list, same: list[int]) -> Finding:
    """Weights with equal columns: show the identical hidden units and the zero gradients."""
    layers = ", ".join(f"W{i + 1}" + (" (all zero)" if not np.any(values[2 * i]) else "") for i in same)
    images = np.random.default_rng(0).random((16, values[0].shape[0]))
    variables = [tf.Variable(v) for v in values]
    with tf.GradientTape() as tape:
        hidden = tf.constant(images)
        for index in range(0, len(variables), 2):
            hidden = hidden @ variables[index] + variables[index + 1]
            if index < len(variables) - 2:
                hidden = tf.nn.relu(hidden)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=np.arange(16) % hidden.shape[1], logits=hidden))
    gradients = tape.gradient(loss, variables)
    zero = [("W" if i % 2 == 0 else "b") + str(i // 2 + 1) for i, g in enumerate(gradients)
            if g is None or not np.any(as_array(g))]
    hidden_layers = [i for i in same if 2 * i < len(values) - 2]
    units = values[2 * hidden_layers[0]].shape[1] if hidden_layers else 0
    evidence = f"every column of {layers} is the same"
    if units:
        evidence += (f", so the {units} units of hidden layer {hidden_layers[0] + 1} compute the "
                     f"same value on every image and get the same gradient")
    if zero:
        evidence += f"; on a batch the gradient is exactly 0 for {', '.join(zero)}"
    return Finding("the weights start equal (zero initialisation): every hidden unit computes, and "
                   "learns, the same thing (symmetry), so the network is no wider than one unit",
                   evidence, "draw every weight matrix at random, with the standard deviation the "
                   "docstring gives")


measure_test_accuracy = measures.mnist_test_accuracy
