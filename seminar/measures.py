"""Headline metrics the checker measures itself, instead of taking ``main()``'s word for them.

``main()`` returns its metrics and, beside them, the *evidence* a metric is computed from: the
predicted labels of the test digits, the kept Q-network, the greedy policy, the fitted
coefficients. A check whose manifest entry names a ``measure`` is judged on the value computed here
from that evidence and from data this module loads itself (the test labels, fresh episodes, fresh
held-out points), so returning a good-looking number cannot pass a check by accident.

Each measure is ``measure(context) -> float``; :func:`run` looks it up by name. Evidence that is
missing or has the wrong shape raises :class:`EvidenceError` with a sentence saying what
``main()`` must return.
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np


class EvidenceError(ValueError):
    """``main()`` did not return what a measure needs (a missing key, a wrong shape)."""


@dataclasses.dataclass
class Context:
    """What a measure may look at: the exercise's module, the dict ``main()`` returned, the seed
    and whether this was the full run."""

    module: types.ModuleType
    metrics: dict
    seed: int
    full: bool

    def evidence(self, key: str, shape: tuple | None = None) -> np.ndarray:
        """``metrics[key]`` as a NumPy array of the given shape (``None`` in a shape: any size)."""
        if key not in self.metrics:
            raise EvidenceError(f"main() must return {key!r} in its dict for the checker to measure "
                                f"the result itself (it is in the original skeleton's main)")
        value = np.asarray(self.metrics[key])
        if shape is not None and (value.ndim != len(shape) or any(
                want is not None and got != want for got, want in zip(value.shape, shape))):
            raise EvidenceError(f"main()'s {key!r} has shape {value.shape}, expected "
                                f"{tuple('any' if s is None else s for s in shape)}")
        return value


# ---------------------------------------------------------------- TensorFlow basics


def _exact(value, expected, dtype) -> bool:
    import tensorflow as tf

    if not (tf.is_tensor(value) or isinstance(value, tf.Variable)):
        return False
    return value.dtype == dtype and np.array_equal(value.numpy(), expected)


def hello_world_exact(context: Context) -> float:
    """Call the student's functions with inputs of the checker's choosing and compare exactly."""
    import tensorflow as tf

    module = context.module
    graph = module.make_graph()
    cases = [
        (lambda: module.greeting(), b"Hello, TensorFlow!", tf.string),
        (lambda: module.add_constants(20, 22), 42, tf.int32),
        (lambda: module.count_with_variable(5), 5, tf.int32),
        (lambda: graph(tf.constant(-2.0), tf.constant(5.0)), -12.0, tf.float32),
        (lambda: graph(tf.constant([3.0, 0.5]), tf.constant([2.0, 4.0])), [9.0, 2.5], tf.float32),
    ]
    return _fraction(cases)


def math_ops_exact(context: Context) -> float:
    """The student's maths on values of the checker's choosing, against NumPy."""
    import tensorflow as tf

    module = context.module
    a = np.array([[1.0, -2.0], [0.5, 3.0], [4.0, 1.5]], np.float32)  # (3, 2)
    b = np.array([[2.0, 1.0], [-1.0, 0.0], [3.0, 2.0]], np.float32)  # (3, 2)
    cases = [
        (lambda: module.add_and_multiply(7, 6, tf.int32)[0], 13, tf.int32),
        (lambda: module.add_and_multiply(7, 6, tf.int32)[1], 42, tf.int32),
        (lambda: module.add_and_multiply(1.5, 2.0, tf.float32)[0], 3.5, tf.float32),
        (lambda: module.add_and_multiply(1.5, 2.0, tf.float32)[1], 3.0, tf.float32),
        (lambda: module.matrix_graph(tf.constant(a), tf.constant(b))[0], a.T @ b, tf.float32),
        (lambda: module.matrix_graph(tf.constant(a), tf.constant(b))[1], float((a * b).sum()), tf.float32),
    ]
    return _fraction(cases)


def _fraction(cases) -> float:
    correct = 0
    for call, expected, dtype in cases:
        correct += _exact(call(), expected, dtype)
    return correct / len(cases)


# ---------------------------------------------------------------- SGD


def _linear_regression_optimum() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 17 points' design matrix [(x - mean) / std, 1], targets, and least-squares beta (2, 1),
    in float64 with NumPy."""
    from datasets import toy

    x, y = (v.astype(np.float64) for v in toy.linear_regression_points())
    features = np.stack([(x - x.mean()) / x.std(), np.ones_like(x)], axis=1)
    beta, *_ = np.linalg.lstsq(features, y[:, None], rcond=None)
    return features, y[:, None], beta


def _relative_error(context: Context, key: str) -> float:
    _, _, beta_star = _linear_regression_optimum()
    beta = context.evidence(key, (2, 1)).astype(np.float64)
    return float(np.linalg.norm(beta - beta_star) / np.linalg.norm(beta_star))


def sgd_coef_rel_error(context: Context) -> float:
    return _relative_error(context, "beta_sgd")


def gd_coef_rel_error(context: Context) -> float:
    return _relative_error(context, "beta_gd")


def sgd_loss_rel_gap(context: Context) -> float:
    features, targets, beta_star = _linear_regression_optimum()
    beta = context.evidence("beta_sgd", (2, 1)).astype(np.float64)

    def loss(b):
        return float(np.mean((features @ b - targets) ** 2))

    return (loss(beta) - loss(beta_star)) / loss(beta_star)


# Fresh points for the classifier: a seed offset the solution never draws from.
HELD_OUT_SEED_OFFSET = 777_000
HELD_OUT_POINTS = 2000


def binary_held_out_accuracy(context: Context) -> float:
    """Accuracy of the returned classifier on 2000 new points of the unit square."""
    from datasets import toy

    classify = context.metrics.get("classify")
    if not callable(classify):
        raise EvidenceError("main() must return 'classify', a function from points (n, 2) to 0/1 "
                            "labels (it is in the original skeleton's main)")
    points, labels = toy.unit_square(HELD_OUT_POINTS, seed=context.seed + HELD_OUT_SEED_OFFSET)
    predicted = np.asarray(classify(points)).reshape(-1)
    if predicted.shape != labels.shape:
        raise EvidenceError(f"classify returned shape {predicted.shape} for {len(points)} points")
    return float(np.mean(predicted == labels))


# ---------------------------------------------------------------- MNIST


def mnist_test_accuracy(context: Context) -> float:
    """The returned predicted labels of the 10000 test digits against the labels loaded here."""
    from datasets import mnist

    (_, _), (_, y_test) = mnist.load()
    predicted = context.evidence("test_predictions", (len(y_test),))
    return float(np.mean(predicted.astype(np.int64) == y_test))


# ---------------------------------------------------------------- reinforcement learning

LAKE_TIME_LIMIT = 100  # gymnasium ends a FrozenLake-v1 episode after 100 steps


def lake_exact_success(policy: np.ndarray, slippery: bool, horizon: int = LAKE_TIME_LIMIT) -> float:
    """The probability that a fixed policy (an action per state, (16,)) reaches the goal of the
    4x4 lake from the start within ``horizon`` steps, computed from the environment's own
    transition table (no sampling, so no noise)."""
    import gymnasium as gym

    env = gym.make("FrozenLake-v1", map_name="4x4", is_slippery=slippery)
    table = env.unwrapped.P
    desc = env.unwrapped.desc.ravel()
    env.close()
    num_states = len(desc)
    terminal = np.isin(desc, [b"H", b"G"])
    success = np.zeros(num_states)  # chance of reaching the goal within the remaining steps
    for _ in range(horizon):
        new = np.zeros(num_states)
        for state in range(num_states):
            if terminal[state]:
                continue
            for probability, next_state, reward, _ in table[state][int(policy[state])]:
                new[state] += probability * (reward + (0.0 if terminal[next_state] else success[next_state]))
        success = new
    return float(success[0])


def _lake_policy(context: Context, key: str) -> np.ndarray:
    policy = context.evidence(key, (16,))
    if not np.isin(policy, np.arange(4)).all():
        raise EvidenceError(f"main()'s {key!r} must hold one action 0-3 per state")
    return policy.astype(np.int64)


def frozen_lake_success(context: Context) -> float:
    return lake_exact_success(_lake_policy(context, "greedy_policy"), slippery=True)


def frozen_lake_non_slippery_success(context: Context) -> float:
    return lake_exact_success(_lake_policy(context, "non_slippery_policy"), slippery=False)


# CartPole episodes for the checker: seeds no training, selection or final evaluation uses.
CARTPOLE_CHECK_SEED_OFFSET = 3_000_000
CARTPOLE_CHECK_EPISODES = 20


def cartpole_greedy_return(context: Context, episodes: int = CARTPOLE_CHECK_EPISODES) -> float:
    """Mean return of the returned Q-network's greedy policy over 20 CartPole-v1 episodes played
    side by side (one network call per step for all of them), on seeds of the checker's own."""
    import gymnasium as gym
    import keras
    import tensorflow as tf

    network = context.metrics.get("q_network")
    if not isinstance(network, keras.Model):
        raise EvidenceError("main() must return 'q_network', the trained Keras Q-network "
                            "(it is in the original skeleton's main)")
    act = tf.function(lambda states: tf.argmax(network(states, training=False), axis=1))
    carts = gym.make_vec("CartPole-v1", num_envs=episodes, vectorization_mode="sync")
    try:
        states, _ = carts.reset(seed=context.seed + CARTPOLE_CHECK_SEED_OFFSET)
        returns = np.zeros(episodes)
        running = np.ones(episodes, dtype=bool)
        while running.any():
            actions = act(tf.constant(states, tf.float32)).numpy()
            states, rewards, terminated, truncated, _ = carts.step(actions)
            returns += rewards * running
            running &= ~(terminated | truncated)
    finally:
        carts.close()
    return float(returns.mean())


# ---------------------------------------------------------------- autoencoders and generators
#
# The autoencoder measures live in seminar/autoencoding.py (PCA, reconstruction errors, principal
# angles), the generator measures in seminar/judge.py (a cached digit classifier scores samples the
# checker draws itself). Both import TensorFlow, so they are looked up when a check needs them.


def _lazy(module_name: str, function_name: str):
    def measure(context: Context) -> float:
        import importlib

        module = importlib.import_module(f"seminar.{module_name}")
        return getattr(module, function_name)(context)

    measure.__name__ = function_name
    return measure


MEASURES = {
    "hello_world_exact": hello_world_exact,
    "math_ops_exact": math_ops_exact,
    "sgd_coef_rel_error": sgd_coef_rel_error,
    "sgd_loss_rel_gap": sgd_loss_rel_gap,
    "gd_coef_rel_error": gd_coef_rel_error,
    "binary_held_out_accuracy": binary_held_out_accuracy,
    "mnist_test_accuracy": mnist_test_accuracy,
    "frozen_lake_success": frozen_lake_success,
    "frozen_lake_non_slippery_success": frozen_lake_non_slippery_success,
    "cartpole_greedy_return": cartpole_greedy_return,
    "autoencoder_test_mse": _lazy("autoencoding", "measure_test_mse"),
    "autoencoder_mse_vs_mean_image": _lazy("autoencoding", "measure_mse_vs_mean_image"),
    "autoencoder_mse_vs_pca": _lazy("autoencoding", "measure_mse_vs_pca"),
    "linear_autoencoder_largest_angle": _lazy("autoencoding", "measure_largest_angle_degrees"),
    "generated_fid": _lazy("judge", "measure_fid"),
    "generated_inception_score": _lazy("judge", "measure_inception_score"),
    "generated_classes": _lazy("judge", "measure_classes"),
    "fashion_test_accuracy": _lazy("deeper", "measure_fashion_test_accuracy"),
    "gain_over_lenet": _lazy("deeper", "measure_gain_over_lenet"),
    "submission_accuracy": _lazy("kaggle", "measure_submission_accuracy"),
    "submission_log_loss": _lazy("kaggle", "measure_submission_log_loss"),
    "rnn_test_accuracy": _lazy("sequences", "measure_rnn_test_accuracy"),
    "lstm_test_accuracy": _lazy("sequences", "measure_lstm_test_accuracy"),
    "analogy_accuracy": _lazy("embeddings", "measure_analogy_accuracy"),
    "word2vec_lesson_functions": _lazy("embeddings", "measure_lesson_functions"),
}


def run(name: str, context: Context) -> float:
    """Compute the measure ``name`` (a key of :data:`MEASURES`)."""
    try:
        measure = MEASURES[name]
    except KeyError:
        raise ValueError(f"unknown measure {name!r}; known: {', '.join(sorted(MEASURES))}") from None
    return float(measure(context))
