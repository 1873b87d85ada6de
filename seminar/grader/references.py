"""NumPy references that the grading modules compare the student's TensorFlow with: float64,
stable for any input, written from the definitions and independent of TensorFlow.
"""

from __future__ import annotations

import numpy as np


def sigmoid(values) -> np.ndarray:
    """1 / (1 + exp(-x)), written with tanh so that it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(values, np.float64)))


def relu(values) -> np.ndarray:
    return np.maximum(np.asarray(values, np.float64), 0.0)


def softplus(values) -> np.ndarray:
    """log(1 + exp(x)), stable for large |x|."""
    values = np.asarray(values, np.float64)
    return np.maximum(values, 0.0) + np.log1p(np.exp(-np.abs(values)))


def log_sigmoid(values) -> np.ndarray:
    """log sigmoid(x) = -softplus(-x), finite for large |x|."""
    return -softplus(-np.asarray(values, np.float64))


def log_softmax(logits, axis: int = -1) -> np.ndarray:
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(logits, axis: int = -1) -> np.ndarray:
    return np.exp(log_softmax(logits, axis))


def softmax_cross_entropy(logits, labels) -> np.ndarray:
    """Per-example cross-entropy of integer ``labels`` (n,) against softmax(``logits``) (n, k)."""
    labels = np.asarray(labels)
    return -log_softmax(logits)[np.arange(len(labels)), labels]


def sigmoid_cross_entropy(labels, logits) -> np.ndarray:
    """Per-element cross-entropy of ``labels`` (targets in [0, 1]) against sigmoid(``logits``),
    computed from the logits: softplus(z) - y z."""
    logits = np.asarray(logits, np.float64)
    return softplus(logits) - np.asarray(labels, np.float64) * logits


def probability_cross_entropy(labels, probabilities) -> np.ndarray:
    """The cross-entropy of ``probabilities`` clipped to [1e-7, 1 - 1e-7] as Keras clips them: what
    a loss on probabilities gives when it is handed something else (logits, say)."""
    p = np.clip(np.asarray(probabilities, np.float64), 1e-7, 1 - 1e-7)
    labels = np.asarray(labels, np.float64)
    return -(labels * np.log(p) + (1 - labels) * np.log(1 - p))


def pairwise_squared_distances(x, y) -> np.ndarray:
    """(n, m) squared Euclidean distances, by the definition (an (n, m, d) difference tensor)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(axis=-1)
