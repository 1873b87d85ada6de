"""Diagnosis probes for the MNIST chapters (neural_nets, convnets, deep_features): the student's
functions on a few small inputs of the checker's, before any training (see seminar/diagnosis.py).

- ``softmax_regression``: the logits, the loss against NumPy, SGD steps that overfit 64 examples;
- ``mlp``: the initial weights (shapes, trainable variables, He's scale, no two units alike), the
  ReLU network's logits against NumPy, Adam steps that overfit 64 examples;
- ``one_conv`` and ``lenet``: the Keras model built by the student's function, called on random
  images: logits (no softmax, sigmoid or ReLU on them) of shape (batch, 10), the named
  convolutions at the docstring's shapes, the parameter count, the feature-map model (lenet), the
  compiled optimizer and loss (one_conv: from_logits must match the logits), and 64 examples
  memorised in a few dozen steps.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np

from seminar.diagnosis import (Context, Finding, as_array, logits_finding, overfit_finding, probe,
                               run_steps, shape_finding, step_findings, value_finding)


def _softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-example softmax cross-entropy, computed stably in NumPy (the reference)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probabilities[np.arange(len(labels)), labels]


@probe("softmax_regression")
def softmax_regression(context: Context) -> list[Finding]:
    """neural_nets/softmax: inference gives logits x W + b, cross_entropy the mean softmax
    cross-entropy from logits, and train_step an SGD step that overfits 64 examples."""
    import tensorflow as tf

    rng = context.rng
    images = rng.random((8, 784)).astype(np.float32)  # pixels in [0, 1], as the docstring says
    weights = rng.normal(0.0, 0.05, (784, 10)).astype(np.float32)
    bias = rng.normal(0.0, 0.1, (10,)).astype(np.float32)
    logits = context.function("inference")(tf.constant(images), tf.Variable(weights), tf.Variable(bias))
    want = images @ weights + bias
    found = (shape_finding("inference", logits, (8, 10)) or logits_finding("inference", logits)
             or value_finding("inference", logits, want, expected="images @ weights + bias"))
    if found:
        return [found]

    labels = rng.integers(0, 10, 8).astype(np.int32)
    loss = context.function("cross_entropy")(tf.constant(want), tf.constant(labels))
    per_example = _softmax_cross_entropy(want.astype(np.float64), labels)
    probabilities = np.exp(want) / np.exp(want).sum(axis=1, keepdims=True)
    found = value_finding("cross_entropy", loss, per_example.mean(), wrong={
        "cross_entropy() sums the losses of the batch instead of averaging them": per_example.sum(),
        "cross_entropy() applies a softmax to what are already logits (the loss applies its own)":
            _softmax_cross_entropy(probabilities, labels).mean(),
    }, expected="the mean over the batch of -log softmax(logits)[label]")
    if found:
        return [found]

    # A few SGD steps on 64 examples with random labels: 784 inputs separate 64 points, so a
    # working step drives the loss well down; the first steps show ascent or frozen variables.
    train_step = context.function("train_step")
    images = tf.constant(rng.random((64, 784)).astype(np.float32))
    labels = tf.constant(rng.integers(0, 10, 64).astype(np.int32))
    variables = {"weights": tf.Variable(tf.zeros((784, 10))), "bias": tf.Variable(tf.zeros((10,)))}
    rate = tf.constant(0.05)

    def step():
        return train_step(images, labels, variables["weights"], variables["bias"], rate)

    losses, moved = run_steps(step, variables, 4)
    found = step_findings("train_step", losses, moved)
    if found:
        return found
    more, _ = run_steps(step, variables, 196)
    final = float(tf.reduce_mean(_tf_cross_entropy(images @ variables["weights"] + variables["bias"], labels)))
    found = overfit_finding("train_step", losses + more + [final], target=0.1 * losses[0])
    return [found] if found else []


def _tf_cross_entropy(logits, labels):
    import tensorflow as tf

    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def _mean_cross_entropy(logits, labels) -> float:
    """The mean softmax cross-entropy of ``logits`` against integer ``labels``, in NumPy."""
    return float(_softmax_cross_entropy(as_array(logits), np.asarray(labels)).mean())


def _relu_logits_finding(function: str, outputs) -> Finding | None:
    """Logits that can never be negative, with many exactly 0: a ReLU on the output layer."""
    values = as_array(outputs)
    if values.size < 20 or not np.all(np.isfinite(values)) or np.any(values < 0):
        return None
    zeros = float(np.mean(values == 0))
    if zeros < 0.2:
        return None
    return Finding(f"a ReLU applied to the output layer in {function}(): logits must be free to be "
                   f"negative", f"all {values.size} outputs are >= 0 and {zeros:.0%} of them exactly 0, "
                   f"although the weights were random",
                   "the last layer returns h W + b with no activation")


# ---------------------------------------------------------------------------- neural_nets/mlp

MLP_SIZES = (784, 64, 32, 10)  # small enough to be quick, the exercise's depth (two hidden layers)


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
    import tensorflow as tf

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
    import tensorflow as tf

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


@probe("mlp")
def mlp(context: Context) -> list[Finding]:
    """neural_nets/mlp: init_layers gives He-scaled random weights and zero biases as trainable
    variables, inference the logits of ReLU hidden layers, train_step an Adam step that overfits 64
    examples."""
    import keras
    import tensorflow as tf

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
    found = (shape_finding("inference", logits, (8, sizes[-1])) or _relu_logits_finding("inference", logits)
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
    train_step = context.function("train_step")
    # A tf.function may create variables only on its first call, and Adam creates its own on its
    # first step: probe a fresh tf.function of the same code, so that main()'s first call is still
    # the first of the student's own.
    python_function = getattr(train_step, "python_function", None)
    if python_function is not None:
        train_step = tf.function(python_function)
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
    final = _mean_cross_entropy(_mlp_reference(as_array(images), [as_array(p) for p in params]),
                                as_array(labels).astype(int))
    found = overfit_finding("train_step", losses + more + [final], target=0.1 * losses[0])
    return findings + ([found] if found else [])


# ------------------------------------------------------------------ convnets: Keras models
#
# The student's build function, called on a batch of random images: logits of the right shape,
# the named convolutions at the docstring's shapes, and 64 examples memorised in a few dozen
# steps. Keras seeds its initialisers from the global seed, set here so that a probe is repeatable.

KERAS_FIX = ("the last Dense layer has no activation: the model returns logits, and the loss is "
             "computed from them (from_logits=True)")


def _keras_model(context: Context, function: str):
    import keras

    keras.utils.set_random_seed(context.seed)
    model = context.function(function)()
    if not isinstance(model, keras.Model):
        raise TypeError(f"{function}() must return a keras.Model, got {type(model).__name__}")
    return model


def _keras_output_findings(function: str, model, images: np.ndarray) -> list[Finding]:
    outputs = model(images, training=False)
    found = shape_finding(function, outputs, (len(images), 10), what="model output")
    if found:
        found.fix = found.fix or "the model ends with a flatten and a Dense layer of NUM_CLASSES units"
        return [found]
    # The ReLU first: its outputs lie in [0, 1] too when they are small, but many are exactly 0.
    found = _relu_logits_finding(function, outputs) or logits_finding(function, outputs)
    return [dataclasses.replace(found, fix=KERAS_FIX)] if found else []


def _layer_output_shapes(model) -> str:
    return ", ".join(f"{layer.name} {tuple(layer.output.shape[1:])}" for layer in model.layers)


def _named_layer_findings(function: str, model, shapes: dict) -> list[Finding]:
    """Each ``name: (h, w, channels)``: a layer of that name whose output has that shape."""
    for name, shape in shapes.items():
        try:
            layer = model.get_layer(name)
        except ValueError:
            return [Finding(f"{function}() has no layer named {name!r}: the plots look it up by name",
                            f"its layers: {', '.join(layer.name for layer in model.layers)}",
                            f"pass name={name!r} to that convolution")]
        got = tuple(layer.output.shape[1:])
        if got != tuple(shape):
            return [Finding(f"the layer {name!r} of {function}() gives maps of the wrong shape "
                            f"(check its padding and number of filters)",
                            f"{name} outputs {got}, the docstring asks for {tuple(shape)}; every "
                            f"layer: {_layer_output_shapes(model)}",
                            "\"same\" padding keeps height and width, \"valid\" (the default) "
                            "removes kernel size - 1 from each")]
    return []


def _parameter_finding(function: str, model, want: int, what: str) -> Finding | None:
    got = int(model.count_params())
    if got == want:
        return None
    return Finding(f"the layers of {function}() differ from the docstring's {what}",
                   f"{got} parameters, the docstring's model has {want}; output shape of every "
                   f"layer: {_layer_output_shapes(model)}",
                   "compare model.summary() with the shapes in the docstring")


def _keras_overfit_finding(function: str, model, rng, steps: int) -> Finding | None:
    """Train the compiled ``model`` on 64 random images with random labels, ``steps`` steps on the
    whole batch: a working network memorises them (the loss falls below a tenth of its start)."""
    images = rng.random((64, 28, 28, 1)).astype(np.float32)
    labels = rng.integers(0, 10, 64).astype(np.int32)
    losses = [float(model.train_on_batch(images, labels, return_dict=True)["loss"])
              for _ in range(steps)]
    losses.append(_mean_cross_entropy(model(images, training=False), labels))
    return overfit_finding(function, losses, target=0.1 * losses[0])


def _feature_map_findings(context: Context, model, images: np.ndarray, stages: dict) -> list[Finding]:
    """feature_map_model(model) returns, for ``images``, the outputs of the layers named in
    ``stages`` (in that order), equal to those layers applied one after the other."""
    import keras

    maps_model = context.function("feature_map_model")(model)
    if not isinstance(maps_model, keras.Model):
        return [Finding("feature_map_model() does not return a keras.Model",
                        f"it returned a {type(maps_model).__name__}")]
    with warnings.catch_warnings():  # Keras warns when inputs=model.inputs (a list) gets one array
        warnings.simplefilter("ignore", UserWarning)
        outputs = maps_model(images, training=False)
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    names = list(stages)
    if len(outputs) != len(names):
        return [Finding(f"feature_map_model() has {len(outputs)} output(s), the docstring asks for "
                        f"{len(names)} ({', '.join(names)})",
                        f"output shapes: {[tuple(np.shape(as_array(o))) for o in outputs]}",
                        "give keras.Model a list of outputs")]
    # The reference: the model's own layers applied one after the other, eagerly.
    reference = {}
    try:
        hidden = images
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            hidden = layer(hidden, training=False)
            if layer.name in stages:
                reference[layer.name] = as_array(hidden)
            if len(reference) == len(names):
                break
    except Exception:  # noqa: BLE001  (not a plain chain of layers: compare the shapes only)
        reference = {}
    for got, name in zip(outputs, names):
        want_shape = (len(images), *stages[name])
        found = shape_finding("feature_map_model", got, want_shape, what=f"{name} feature map")
        if found is None and name in reference:
            found = value_finding("feature_map_model", got, reference[name], rtol=1e-4, atol=1e-5,
                                  expected=f"the output of the layer {name!r}, after its ReLU")
        if found:
            return [found]
    return []


LENET_STAGES = {"conv1": (28, 28, 6), "conv2": (10, 10, 16)}
# 6 (25 + 1) + 16 (150 + 1) + 400 x 120 + 120 + 120 x 84 + 84 + 84 x 10 + 10
LENET_PARAMETERS = 61706
OVERFIT_STEPS = 80  # whole-batch Adam steps on 64 examples: the solutions go below a tenth of
#                    the start in 40-60 (LeNet-5) or 20-30 (one_conv); about 0.5 s


@probe("lenet")
def lenet(context: Context) -> list[Finding]:
    """convnets/lenet: build_lenet returns logits of shape (batch, 10) through LeNet-5's stages,
    feature_map_model the two convolutions' maps, and the network memorises 64 examples."""
    import keras

    rng = context.rng
    model = _keras_model(context, "build_lenet")
    images = rng.random((8, 28, 28, 1)).astype(np.float32)
    found = (_keras_output_findings("build_lenet", model, images)
             or _named_layer_findings("build_lenet", model, LENET_STAGES))
    if found:
        return found
    found = _parameter_finding("build_lenet", model, LENET_PARAMETERS, "LeNet-5")
    if found:
        return [found]
    found = _feature_map_findings(context, model, images, LENET_STAGES)
    if found:
        return found
    # main() compiles the model itself: the same loss here, on integer labels.
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    found = _keras_overfit_finding("build_lenet", model, rng, OVERFIT_STEPS)
    return [found] if found else []


def _compiled_loss_findings(model, images: np.ndarray, rng) -> list[Finding]:
    """The loss ``model`` was compiled with, on its own logits and integer labels, against the
    mean softmax cross-entropy from logits."""
    import keras

    logits = model(images, training=False)
    labels = rng.integers(0, 10, len(images)).astype(np.int32)
    try:
        got = model.compute_loss(x=images, y=labels, y_pred=logits, training=False)
    except Exception as error:  # noqa: BLE001  (a loss for one-hot rows given class numbers)
        return [Finding("the loss compile_model() configures cannot take the labels main() gives: "
                        "class numbers, shape (batch,)", f"on 8 logits and labels it raised "
                        f"{type(error).__name__}: {str(error).splitlines()[0][:200]}",
                        "use the sparse softmax cross-entropy, computed from logits")]
    got = float(as_array(got))
    want = _mean_cross_entropy(logits, labels)
    if math.isclose(got, want, rel_tol=1e-3, abs_tol=1e-4):
        return []
    as_probabilities = float(as_array(keras.losses.sparse_categorical_crossentropy(
        labels, logits, from_logits=False)).mean())
    evidence = (f"on 8 of the model's logits and random labels the compiled loss is {got:.4g}; the "
                f"softmax cross-entropy from logits is {want:.4g}")
    if math.isclose(got, as_probabilities, rel_tol=1e-3, abs_tol=1e-4):
        return [Finding("the loss compile_model() configures treats the model's logits as "
                        "probabilities (from_logits is False, the default): the model returns "
                        "logits, so the loss must be told from_logits=True", evidence)]
    if math.isclose(got, want * len(labels), rel_tol=1e-3, abs_tol=1e-4):
        # Adam does not care about the loss's scale: a sum trains as well, so it is only noted.
        return [Finding("the loss compile_model() configures sums over the batch instead of "
                        "averaging", f"on 8 of the model's logits and random labels the compiled "
                        f"loss is {got:.4g}, 8 times the mean softmax cross-entropy from logits "
                        f"({want:.4g})", fatal=False)]
    return [Finding("the loss compile_model() configures is not the mean softmax cross-entropy of "
                    "the logits against the class numbers", evidence,
                    "the sparse softmax cross-entropy, from logits")]


@probe("one_conv")
def one_conv(context: Context) -> list[Finding]:
    """convnets/one_conv: build_model returns logits through the named convolution; compile_model
    sets Adam at the given rate and the softmax cross-entropy from logits; 64 examples memorised."""
    import keras

    rng = context.rng
    filters = int(getattr(context.module, "FILTERS", 16))
    kernel = int(getattr(context.module, "KERNEL_SIZE", 5))
    model = _keras_model(context, "build_model")
    images = rng.random((8, 28, 28, 1)).astype(np.float32)
    found = (_keras_output_findings("build_model", model, images)
             or _named_layer_findings("build_model", model, {"conv1": (28, 28, filters)}))
    if found:
        return found
    found = _parameter_finding("build_model", model,
                               kernel * kernel * filters + filters + 14 * 14 * filters * 10 + 10,
                               "convolution, pooling and dense layer")
    if found:
        return [found]

    rate = 2e-3
    context.function("compile_model")(model, rate)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not getattr(model, "compiled", True):
        return [Finding("compile_model() does not compile the model", "model.optimizer is None "
                        "after the call", "call model.compile(...) on the model it is given")]
    if not isinstance(optimizer, keras.optimizers.Adam):
        return [Finding("compile_model() does not use the Adam optimizer the docstring asks for",
                        f"the model's optimizer is {type(optimizer).__name__}")]
    used = float(np.asarray(keras.ops.convert_to_numpy(optimizer.learning_rate)))
    if not math.isclose(used, rate, rel_tol=1e-5):
        return [Finding("compile_model() ignores its learning_rate argument",
                        f"called with learning_rate={rate:g}, the optimizer's rate is {used:g}",
                        "give the learning_rate argument to the optimizer (main passes a decaying "
                        "schedule)")]
    findings = _compiled_loss_findings(model, images, rng)
    if any(f.fatal for f in findings):
        return findings
    found = _keras_overfit_finding("compile_model", model, rng, OVERFIT_STEPS)
    return findings + ([found] if found else [])
