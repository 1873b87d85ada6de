"""Grading of reinforcement/q_learning_frozen_lake.

The checker computes the exact chance that main()'s greedy policies reach the goal, from the
lake's own transition table (no sampling noise), on the slippery and the non-slippery lake. The
probe checks that build_q_network is a table (one-hot in, linear, no bias, weights in [0, 0.01]),
q_learning_targets against NumPy on made-up transitions, one train_step on a fixed table against
the tabular update it must make, and epsilon_greedy's rate of exploring, row by row. After
training, the loss of every step (a NaN?) and the learned Q-table (a discounted chance of success
lies in [0, 1]) are read; the generic loss-curve reading is not used here: a TD loss does not
fall as a supervised loss does.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from seminar.grader.findings import nan_finding
from seminar.grader.toolkit import (NEXT_Q_ONLINE, PROBE_GAMMA, REWARDS, TERMINATED, Context,
                                    EvidenceError, Finding, as_array, close,
                                    epsilon_greedy_findings, td_target_mistakes, value_finding)

LAKE_TIME_LIMIT = 100  # gymnasium ends a FrozenLake-v1 episode after 100 steps
# A batch of 6 made-up transitions on the 4x4 lake. Their (s, a) pairs are distinct and no next
# state is among the states updated, so a step made one transition at a time (the table's way)
# and one made on the whole batch agree exactly. 5 is a hole, 15 the goal.
STATES = np.array([0, 1, 2, 6, 9, 14], np.int32)
ACTIONS = np.array([1, 2, 2, 1, 3, 2], np.int32)
STEP_REWARDS = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0], np.float32)
NEXT_STATES = np.array([4, 5, 3, 10, 13, 15], np.int32)
STEP_TERMINATED = np.array([0.0, 1.0, 0.0, 0.0, 0.0, 1.0], np.float32)
RATE = 0.1  # not the exercise's LEARNING_RATE (0.05), so that a hard-coded constant shows
TD_LOSS_FIX = ("values that feed on themselves without a discount below 1 or without the terminal "
               "mask grow without bound; so does a step that climbs the loss")


def probe_frozen_lake_q_learning(context: Context) -> list[Finding]:
    """q_learning_frozen_lake: build_q_network is a table (one-hot in, linear, no bias, weights
    in [0, 0.01]); q_learning_targets against NumPy; one train_step on a fixed table against the
    tabular update it must make."""
    context.seed_frameworks()  # main() seeds again: this only fixes the probe
    found = _lake_network(context)
    if found:
        return found
    found = _lake_targets(context)
    if found:
        return found
    found = _lake_step(context)
    if found:
        return found
    return epsilon_greedy_findings(context)


def _lake_network(context: Context) -> list[Finding]:
    build = context.function("build_q_network")
    network = build(16, 4)
    one_hot = np.eye(16, dtype=np.float32)
    table = as_array(network(one_hot))
    if table.shape != (16, 4):
        return [Finding("the network of build_q_network() does not map one-hot states to one value "
                        "per action", f"16 one-hot states (16, 16) gave shape {table.shape}; the "
                        f"docstring asks for (16, 4)")]
    mixed = context.rng.normal(0.0, 1.0, (8, 16)).astype(np.float32)  # signs mixed, not one-hot
    got = as_array(network(mixed))
    if not close(got, mixed @ table, rtol=1e-3, atol=1e-5):
        zero = as_array(network(np.zeros((1, 16), np.float32)))
        if np.abs(zero).max() > 1e-6:
            return [Finding("the Q-network of build_q_network() has a bias: it is no longer a "
                            "table, Q(s, a) is not one weight, and every state shares the bias's "
                            "updates", f"an all-zero input gives {np.round(zero[0], 4).tolist()}, "
                            f"not zeros", "one dense layer without a bias (use_bias=False)")]
        return [Finding("the Q-network of build_q_network() is not linear in its input (an "
                        "activation, or a hidden layer): Q(s, a) is not the weight W[s, a]",
                        f"on inputs with negative entries it gives {np.round(got[0, :4], 4).tolist()} "
                        f"where a table gives {np.round((mixed @ table)[0, :4], 4).tolist()}",
                        "one dense layer, no activation")]
    if table.min() < -1e-7 or table.max() > 0.01 + 1e-7:
        return [Finding("the Q-network does not start small and positive: its weights are not "
                        "drawn in [0, 0.01] as the docstring asks",
                        f"the starting Q-values span [{table.min():.3g}, {table.max():.3g}]",
                        "a kernel initializer uniform in [0, 0.01]; Keras's default draws "
                        "weights of both signs, up to about 0.5 here, which makes some actions "
                        "look far better than others before anything is learned")]
    return []


def _lake_targets(context: Context) -> list[Finding]:
    function = context.function("q_learning_targets")
    module_gamma = float(getattr(context.module, "GAMMA", 0.99))
    got = function(tf.constant(REWARDS), tf.constant(NEXT_Q_ONLINE), tf.constant(TERMINATED),
                   PROBE_GAMMA)
    best = NEXT_Q_ONLINE.max(axis=1)
    want = REWARDS + PROBE_GAMMA * (1.0 - TERMINATED) * best
    wrong = td_target_mistakes(best, gamma=PROBE_GAMMA, module_gamma=module_gamma,
                               function="q_learning_targets")
    alive = PROBE_GAMMA * (1.0 - TERMINATED)
    wrong.update({
        "q_learning_targets() takes the max over the batch (axis 0) instead of over the actions "
        "(axis 1): each transition must use the best value of ITS next state":
            REWARDS + alive * NEXT_Q_ONLINE.max(axis=0),
        "q_learning_targets() averages the next state's action values instead of taking the best":
            REWARDS + alive * NEXT_Q_ONLINE.mean(axis=1),
        "q_learning_targets() adds up the next state's action values instead of taking the best":
            REWARDS + alive * NEXT_Q_ONLINE.sum(axis=1),
    })
    found = value_finding("q_learning_targets", got, want, wrong=wrong,
                          expected="the reward plus gamma times the best next value, the reward "
                                   "alone after a terminal state")
    return [found] if found else []


def _lake_step(context: Context) -> list[Finding]:
    train_step = context.function("train_step")
    gamma = float(getattr(context.module, "GAMMA", 0.99))
    module_rate = getattr(context.module, "LEARNING_RATE", None)
    start = context.rng.uniform(0.1, 1.0, (16, 4)).astype(np.float32)  # every value different
    model = keras.Sequential([keras.Input(shape=(16,)), keras.layers.Dense(4, use_bias=False)])
    model.set_weights([start])

    s, a, r, s2, done = (STATES, ACTIONS, STEP_REWARDS, NEXT_STATES, STEP_TERMINATED)
    loss = train_step(model, tf.constant(s), tf.constant(a), tf.constant(r), tf.constant(s2),
                      tf.constant(done), tf.constant(RATE, tf.float32))
    moved = as_array(model.get_weights()[0]) - start

    def change(targets, *, rate=RATE, scale=1.0, all_actions=False, through_target=False):
        """The weights' change a gradient step on scale * sum (Q - target)^2 makes."""
        gradient = np.zeros((16, 4))
        errors = start[s, a] - targets
        if all_actions:
            np.add.at(gradient, s, 2.0 * (start[s] - targets[:, None]))
        else:
            np.add.at(gradient, (s, a), 2.0 * errors)
        if through_target:
            np.add.at(gradient, (s2, start[s2].argmax(axis=1)), -2.0 * gamma * (1.0 - done) * errors)
        return -rate * scale * gradient

    best_next = start[s2].max(axis=1)
    targets = r + gamma * (1.0 - done) * best_next
    want = change(targets)
    if np.abs(moved).max() == 0.0:
        return [Finding("train_step() does not change the Q-network: the gradients are None or "
                        "zero, or the update is not applied to the variables",
                        "after one step on 6 transitions every weight is where it started",
                        "compute Q(s, a) from the model inside the `with tf.GradientTape()` block, "
                        "take the gradient with respect to model.trainable_variables, and update "
                        "each variable in place")]
    wrong = {
        "gradient ascent in train_step(): the step moves Q(s, a) away from its target (the "
        "update must subtract the step size times the gradient)": -want,
        "train_step() averages the squared errors over the batch instead of summing them: every "
        "step is 6 times too small here (64 times in training, too small for the fast run)":
            want / len(s),
        "train_step() halves the loss (1/2 of the squared error): every step is half the tabular "
        "update the docstring asks for": want / 2.0,
        "a gradient flows through the target in train_step(): the target must be held fixed "
        "(computed outside the tape, or wrapped in tf.stop_gradient), so that Q(s, a) moves "
        "towards it and not the target towards Q(s, a)": change(targets, through_target=True),
        "train_step() pulls every action's value of s towards the target, not only the value of "
        "the action taken (pick Q(s, a) of the taken action before the loss)":
            change(targets, all_actions=True),
        "train_step() adds a future value after a terminal state: the targets miss the terminal "
        "mask": change(r + gamma * best_next),
    }
    if module_rate is not None and not math.isclose(float(module_rate), RATE):
        wrong[f"train_step() steps by the constant LEARNING_RATE ({float(module_rate):g}) instead "
              f"of its learning_rate argument (the checker passed {RATE:g})"] = change(
            targets, rate=float(module_rate))
    if not close(moved, want, rtol=1e-3, atol=1e-5):
        evidence = _lake_step_evidence(moved, want)
        for cause, candidate in wrong.items():
            if close(moved, candidate, rtol=1e-3, atol=1e-5):
                return [Finding(cause, evidence)]
        return [Finding("train_step() does not make the Q-learning update: one gradient step on "
                        "the sum over the batch of (Q(s, a) - target)^2, the target held fixed",
                        evidence)]
    errors = start[s, a] - targets
    found = value_finding("train_step", loss, np.sum(errors ** 2), wrong={
        "train_step() returns the mean of the squared errors, not their sum (the loss it steps on)":
            np.mean(errors ** 2),
    }, expected="the loss J before the step: the sum over the batch of squared TD errors")
    return [found] if found else []


def _lake_step_evidence(moved: np.ndarray, want: np.ndarray) -> str:
    """The cells of the table where the step went most wrong, and what it did to them."""
    worst = np.argsort(-np.abs(moved - want).ravel(), kind="stable")[:4]
    cells = [divmod(int(i), 4) for i in worst if abs((moved - want).ravel()[i]) > 1e-6]
    shown = ", ".join(f"Q({state}, {action}) by {round(float(moved[state, action]), 4) + 0.0:+.4f} "
                      f"(expected {round(float(want[state, action]), 4) + 0.0:+.4f})"
                      for state, action in cells)
    return (f"one step of rate {RATE:g} on 6 made-up transitions (the taken pairs: "
            f"{', '.join(f'({s}, {a})' for s, a in zip(STATES, ACTIONS))}) moved {shown}")


def after_training(context: Context) -> list[Finding]:
    """After training: the loss of every step (NaN?), and the learned Q-table in [0, 1]."""
    metrics = context.metrics or {}
    found = nan_finding(metrics.get("td_loss_curve"), "training step", "TD loss",
                        TD_LOSS_FIX)
    if found:
        return [found]
    table = metrics.get("q_table")
    if table is None:
        return []
    table = as_array(table)
    # Q(s, a) is a discounted chance of reaching the goal: in [0, 1]. The solution's ends in
    # [0.0001, 0.86] (seed 0, fast run); a margin of 0.25 leaves room for noisy batch updates.
    if table.size and (table.min() < -0.25 or table.max() > 1.25):
        return [Finding("the learned Q-values leave [0, 1], where a discounted chance of reaching "
                        "the goal must lie", f"the Q-network's table spans [{table.min():.3g}, "
                        f"{table.max():.3g}] after training",
                        "the targets (gamma, the terminal mask) and the size of each step")]
    return []


# ---------------------------------------------------------------------------- measures


def exact_success(policy: np.ndarray, slippery: bool, horizon: int = LAKE_TIME_LIMIT) -> float:
    """The probability that a fixed policy (an action per state, (16,)) reaches the goal of the
    4x4 lake from the start within ``horizon`` steps, computed from the environment's own
    transition table (no sampling, so no noise)."""
    import gymnasium as gym

    env = gym.make("FrozenLake-v1", map_name="4x4", is_slippery=slippery)
    table = env.unwrapped.P
    desc = env.unwrapped.desc.ravel()
    env.close()
    terminal = np.isin(desc, [b"H", b"G"])
    success = np.zeros(len(desc))  # chance of reaching the goal within the remaining steps
    for _ in range(horizon):
        new = np.zeros(len(desc))
        for state in range(len(desc)):
            if terminal[state]:
                continue
            for probability, next_state, reward, _ in table[state][int(policy[state])]:
                new[state] += probability * (reward + (0.0 if terminal[next_state]
                                                       else success[next_state]))
        success = new
    return float(success[0])


def _policy(context: Context, key: str) -> np.ndarray:
    policy = context.evidence(key, (16,))
    if not np.isin(policy, np.arange(4)).all():
        raise EvidenceError(f"main()'s {key!r} must hold one action 0-3 per state")
    return policy.astype(np.int64)


def measure_success_rate(context: Context) -> float:
    return exact_success(_policy(context, "greedy_policy"), slippery=True)


def measure_non_slippery_success_rate(context: Context) -> float:
    return exact_success(_policy(context, "non_slippery_policy"), slippery=False)
