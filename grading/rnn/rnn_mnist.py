"""Grading of rnn/rnn_mnist.

The checker scores main()'s ``rnn_classify`` (the hand-written simple RNN) and ``lstm_classify``
(the Keras LSTM) itself on the 10000 MNIST test digits it loads. The probes compare rnn_states
with the recurrence computed in NumPy on random inputs, weights and h0 (and, when it differs, the
known mistake it matches: h0 ignored, U transposed, the states shifted by one step...), then inside
a tf.function whose batch size is unknown, as the training step runs it; and build_lstm's model
giving one row of logits per image. After training, the LSTM's loss curve is read as the RNN's is.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seminar.grader import measures
from seminar.grader.findings import curve_findings
from seminar.grader.references import relu, sigmoid
from seminar.grader.toolkit import (Context, Finding, as_array, logits_finding, shape_finding,
                                    short, value_finding)

RNN_BATCH, RNN_STEPS, RNN_INPUTS, RNN_UNITS = 3, 28, 28, 5  # 28 rows of 28 pixels, as main() has


def reference_states(inputs, W, U, b, h0, *, activation=np.tanh, carry: bool = True) -> np.ndarray:
    """The simple RNN's states h_1 ... h_T in NumPy (float64): (batch, steps, units). With
    ``carry=False`` every step starts again from h0 (the state is not carried along)."""
    h = h0
    states = []
    for t in range(inputs.shape[1]):
        h = activation(inputs[:, t] @ W + (h if carry else h0) @ U + b)
        states.append(h)
    return np.stack(states, axis=1)


def _rnn_case(rng: np.random.Generator):
    """Pixels in [0, 1] as main() gives them, weights small enough that tanh is not saturated, and
    an h0 that is neither zeros nor ones (so that ignoring it shows)."""
    inputs = rng.uniform(0.0, 1.0, (RNN_BATCH, RNN_STEPS, RNN_INPUTS))
    W = rng.normal(0.0, 0.15, (RNN_INPUTS, RNN_UNITS))
    U = rng.normal(0.0, 0.5, (RNN_UNITS, RNN_UNITS))
    b = rng.normal(0.0, 0.3, (RNN_UNITS,))
    h0 = rng.uniform(-0.9, 0.9, (RNN_BATCH, RNN_UNITS))
    return inputs, W, U, b, h0


def _recurrence_mistakes(inputs, W, U, b, h0) -> dict:
    """What rnn_states would return with each known mistake, the cause in plain words as the key."""
    ref = reference_states(inputs, W, U, b, h0)
    zeros, ones = np.zeros_like(h0), np.ones_like(h0)
    return {
        "rnn_states() ignores the h0 it is given: the recurrence starts from zeros":
            reference_states(inputs, W, U, b, zeros),
        "rnn_states() ignores the h0 it is given: the recurrence starts from ones":
            reference_states(inputs, W, U, b, ones),
        "U is transposed in rnn_states(): the state is a row vector, multiplied on the left of U "
        "(h U, not U h)": reference_states(inputs, W, U.T, b, h0),
        "the states are shifted by one step: rnn_states() returns h0 ... h_(steps-1) instead of "
        "h_1 ... h_steps (h0 is not one of them, the state after the last row is)":
            np.concatenate([h0[:, None], ref[:, :-1]], axis=1),
        "ReLU in rnn_states() where the simple RNN has tanh": reference_states(
            inputs, W, U, b, h0, activation=relu),
        "a sigmoid in rnn_states() where the simple RNN has tanh": reference_states(
            inputs, W, U, b, h0, activation=sigmoid),
        "no tanh in rnn_states(): the state must be squashed at every step": reference_states(
            inputs, W, U, b, h0, activation=lambda x: x),
        "the bias b is left out of rnn_states()": reference_states(inputs, W, U, np.zeros_like(b), h0),
        "the state is not carried from step to step in rnn_states(): every h_t is computed from "
        "h0 instead of from h_(t-1)": reference_states(inputs, W, U, b, h0, carry=False),
        "rnn_states() reads column t of each image at step t (inputs[:, :, t]) instead of row t "
        "(inputs[:, t])": reference_states(inputs.transpose(0, 2, 1), W, U, b, h0),
    }


def _states_shape_finding(got: np.ndarray, ref: np.ndarray) -> Finding | None:
    batch, steps, units = ref.shape
    shape = got.shape
    if shape == ref.shape:
        return None
    evidence = f"rnn_states returned shape {shape}, the docstring asks for {ref.shape} (batch, steps, units)"
    if shape == (batch, units):
        same = np.allclose(got, ref[:, -1], rtol=1e-3, atol=1e-4)
        return Finding("rnn_states() returns only the last state h_steps: the classifier reads it, but "
                       "the docstring asks for every state h_1 ... h_steps (the pictures show them all)",
                       evidence + ("; it equals the last state" if same else ""),
                       "keep each new state in a list and stack them along axis 1")
    if shape == (steps, batch, units):
        return Finding("rnn_states() stacks the states along axis 0 (time first): (steps, batch, units) "
                       "instead of (batch, steps, units)", evidence,
                       "stack along axis 1, or transpose the result")
    if shape == (batch, steps + 1, units):
        return Finding("rnn_states() returns h0 among the states: steps + 1 of them instead of "
                       "h_1 ... h_steps", evidence, "leave h0 out of the returned states")
    return shape_finding("rnn_states", got, ref.shape, what="tensor of states")


def probe_recurrence(context: Context) -> list[Finding]:
    """rnn/rnn_mnist: rnn_states against the NumPy recurrence on 3 random 'images' of 28 rows, with
    random weights and a random h0; then the same call inside a tf.function whose batch size is
    unknown, as the training step runs it."""
    rnn_states = context.function("rnn_states")
    inputs, W, U, b, h0 = _rnn_case(context.rng)
    ref = reference_states(inputs, W, U, b, h0)
    args = [tf.constant(a, tf.float32) for a in (inputs, W, U, b, h0)]
    got = as_array(rnn_states(*args))
    found = _states_shape_finding(got, ref) or value_finding(
        "rnn_states", got, ref, rtol=1e-3, atol=1e-4, wrong=_recurrence_mistakes(inputs, W, U, b, h0),
        expected="h_t = tanh(x_t W + h_(t-1) U + b) from h0, the states h_1 ... h_steps")
    if found:
        return [found]

    # The training step runs rnn_states inside a tf.function, where the batch size is unknown (None)
    # while tracing; code that needs it as a Python number or calls .numpy() fails only there.
    signature = [tf.TensorSpec((None, RNN_STEPS, RNN_INPUTS), tf.float32),
                 tf.TensorSpec((RNN_INPUTS, RNN_UNITS), tf.float32),
                 tf.TensorSpec((RNN_UNITS, RNN_UNITS), tf.float32),
                 tf.TensorSpec((RNN_UNITS,), tf.float32),
                 tf.TensorSpec((None, RNN_UNITS), tf.float32)]
    try:
        traced = as_array(tf.function(rnn_states, input_signature=signature)(*args))
    except Exception as error:  # noqa: BLE001  (any failure there is the finding)
        lines = str(error).strip().splitlines() or [""]
        message = lines[-1].strip()
        if not message.startswith(type(error).__name__):
            message = f"{type(error).__name__}: {message}"
        if "out of scope" in str(error) or "while_body" in str(error):
            return [Finding("the loop over the rows counts to a tensor (range(tf.shape(inputs)[1]) "
                            "or another tensor), so inside a tf.function TensorFlow turns it into "
                            "a graph loop, where states appended to a Python list cannot be used "
                            "after the loop",
                            f"{type(error).__name__} while tracing rnn_states in a tf.function",
                            "count the loop with a Python number: the number of rows is known "
                            "while tracing (inputs.shape[1], 28 here); only the batch size is "
                            "unknown, and tf.shape(inputs)[0] is for that")]
        return [Finding("rnn_states() works when called directly but fails inside a tf.function, "
                        "where the training step runs it (there the batch size is unknown, None, "
                        "while TensorFlow traces the function)",
                        message[:300],
                        "use TensorFlow ops on the tensors given (no .numpy(), no NumPy); take the "
                        "batch size from tf.shape(inputs)[0], the other sizes from the static "
                        "shapes (inputs.shape[1], W.shape[1])")]
    found = value_finding("rnn_states", traced, ref, rtol=1e-3, atol=1e-4,
                          expected="the same states inside a tf.function as when called directly")
    return [found] if found else []


def probe_lstm(context: Context) -> list[Finding]:
    """rnn/rnn_mnist: build_lstm(8) maps 4 random images (4, 28, 28) to logits (4, 10), one row per
    image (not one per row of pixels), raw scores rather than probabilities."""
    model = context.function("build_lstm")(8)
    images = context.rng.uniform(0.0, 1.0, (4, RNN_STEPS, RNN_INPUTS)).astype(np.float32)
    logits = as_array(model(tf.constant(images), training=False))
    if logits.shape == (4, RNN_STEPS, 10):
        return [Finding("the LSTM in build_lstm() outputs one vector per row of pixels "
                        "(return_sequences=True), so the model gives logits for every row, not one "
                        "row of logits per image",
                        f"the model's output for 4 images has shape {logits.shape}, expected (4, 10)",
                        "let the LSTM return only its output after the last row")]
    if logits.shape != (4, 10):
        return [Finding("build_lstm()'s model gives outputs of the wrong shape: one row of 10 logits "
                        "per image, (batch, 10)",
                        f"for 4 images (4, 28, 28) it gave shape {logits.shape}, expected (4, 10)")]
    found = logits_finding("build_lstm", logits)
    if found:
        return [found]
    if not np.all(np.isfinite(logits)):
        return [Finding("build_lstm()'s model gives NaN or infinite outputs for ordinary images",
                        f"outputs: {short(logits)}")]
    return []


def after_lstm_curve(context: Context) -> list[Finding]:
    """After training (rnn/rnn_mnist): the LSTM's loss curve (main()'s ``lstm_loss_curve``) read the
    way the checker reads ``loss_curve`` (the hand-written RNN's), with the same bound."""
    metrics = context.metrics or {}
    if metrics.get("lstm_loss_curve") is None:
        return []
    exercise = context.exercise
    found = curve_findings({"loss_curve": metrics["lstm_loss_curve"]},
                           loss_at_most=exercise.loss_at_most,
                           loss_reference=exercise.loss_reference, chance=exercise.chance,
                           accuracy_key="lstm_test_accuracy" if "lstm_test_accuracy" in metrics else None)
    for finding in found:
        finding.cause = "the LSTM (build_lstm): " + finding.cause
    return found


def _accuracy(context: Context, key: str, described: str) -> float:
    images, labels = measures.test_images("mnist")
    return measures.classifier_accuracy(context, key, described, images, labels)


def measure_rnn_test_accuracy(context: Context) -> float:
    return _accuracy(context, "rnn_classify", "the hand-written simple RNN")


def measure_lstm_test_accuracy(context: Context) -> float:
    return _accuracy(context, "lstm_classify", "the Keras LSTM")
