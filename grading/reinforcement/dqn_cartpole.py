"""Grading of reinforcement/dqn_cartpole.

The checker plays 20 CartPole episodes of its own, side by side, with main()'s Q-network and
scores its greedy policy's mean return. The probe checks that build_q_network's output is linear
(any real action value), epsilon_greedy explores at the rate asked, over every action, row by row,
td_targets is double DQN's target with the terminal mask, and train_step takes one optimizer step
down the Huber loss of the taken actions, on the Q-network only; every reference is computed here
independently. After training: a NaN in the TD loss, or a greedy policy that never beat a random
one.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from seminar.grader.findings import nan_finding
from seminar.grader.toolkit import (NEXT_Q_ONLINE, NEXT_Q_TARGET, PROBE_GAMMA, REWARDS,
                                    TERMINATED, Context, EvidenceError, Finding, as_array, close,
                                    epsilon_greedy_findings, td_target_mistakes, value_finding)

CHECK_SEED_OFFSET = 3_000_000  # the checker's episodes: seeds no training or evaluation uses
CHECK_EPISODES = 20
TD_LOSS_FIX = ("values that feed on themselves without a discount below 1 or without the terminal "
               "mask grow without bound; so does a step that climbs the loss")


def probe_dqn_cartpole(context: Context) -> list[Finding]:
    """dqn_cartpole: build_q_network's output is linear (any real action value);
    epsilon_greedy explores at the rate asked, over every action, row by row; td_targets is double
    DQN's target with the terminal mask; train_step takes one optimizer step down the Huber loss of
    the taken actions, on the Q-network only."""
    context.seed_frameworks()  # main() seeds again: this only fixes the probe
    remarks: list[Finding] = []  # not fatal (shown if the check fails): keep probing
    for part in (_dqn_network, epsilon_greedy_findings, _dqn_targets, _dqn_step):
        found = part(context)
        if any(f.fatal for f in found):
            return [f for f in found if f.fatal] + remarks
        remarks += found
    return remarks


def _dqn_network(context: Context) -> list[Finding]:
    build = context.function("build_q_network")
    hidden = 32
    network = build(4, 2, hidden)
    states = context.rng.normal(0.0, 2.0, (256, 4)).astype(np.float32)
    values = as_array(network(states))
    if values.shape != (256, 2):
        return [Finding("the network of build_q_network() does not give one value per action",
                        f"a batch of 256 observations (256, 4) gave shape {values.shape}; the "
                        f"docstring asks for (256, 2)")]
    if np.all(values >= 0.0):
        if np.allclose(values.sum(axis=1), 1.0, atol=1e-4):
            cause = "a softmax on the output layer of build_q_network(): action values are "
            detail = "every row sums to 1"
        elif np.all(values <= 1.0):
            cause = "a sigmoid on the output layer of build_q_network(): action values are "
            detail = "all 512 values lie in [0, 1]"
        else:
            cause = "an activation (ReLU?) on the output layer of build_q_network(): action values are "
            detail = f"all 512 values are >= 0 (min {values.min():.3g})"
        return [Finding(cause + "any real numbers (up to 100 here), and a clipped output stops "
                        "their gradient", f"on 256 random observations {detail}, although the "
                        f"weights were random", "the last Dense layer has no activation")]
    matrices = sorted(tuple(v.shape) for v in network.trainable_variables if len(v.shape) == 2)
    want = sorted([(4, hidden), (hidden, hidden), (hidden, 2)])
    if matrices != want:
        return [Finding("the network of build_q_network() is not two hidden layers of "
                        "hidden_units then a linear output, as the docstring asks",
                        f"with hidden_units = {hidden} its weight matrices are {matrices}, "
                        f"expected {want}", fatal=False)]
    return []


def _dqn_targets(context: Context) -> list[Finding]:
    function = context.function("td_targets")
    module_gamma = float(getattr(context.module, "GAMMA", 0.99))
    got = function(tf.constant(REWARDS), tf.constant(NEXT_Q_ONLINE), tf.constant(NEXT_Q_TARGET),
                   tf.constant(TERMINATED), PROBE_GAMMA)
    chosen = NEXT_Q_ONLINE.argmax(axis=1)
    value = _rows(NEXT_Q_TARGET, chosen)
    want = REWARDS + PROBE_GAMMA * (1.0 - TERMINATED) * value
    alive = PROBE_GAMMA * (1.0 - TERMINATED)
    wrong = {
        "td_targets() values the next action with the Q-network (the online network) instead of "
        "the target network: the target then moves with every step":
            REWARDS + alive * NEXT_Q_ONLINE.max(axis=1),
        "td_targets() takes the target network's own max (plain DQN): the docstring asks for double "
        "DQN, where the Q-network chooses the next action and the target network values it":
            REWARDS + alive * NEXT_Q_TARGET.max(axis=1),
        "td_targets() swaps the two networks: the target network chooses the next action and the "
        "Q-network values it; it must be the other way round":
            REWARDS + alive * _rows(NEXT_Q_ONLINE, NEXT_Q_TARGET.argmax(axis=1)),
        "td_targets() takes the argmax over the batch (axis 0) instead of over the actions (axis "
        "1): each transition must use the best action of ITS next state":
            REWARDS + alive * _rows(NEXT_Q_TARGET, NEXT_Q_ONLINE.argmax(axis=0)),
        "td_targets() takes the max over the batch (axis 0) instead of over the actions (axis 1)":
            REWARDS + alive * NEXT_Q_TARGET.max(axis=0),
    }
    wrong.update(td_target_mistakes(value, gamma=PROBE_GAMMA, module_gamma=module_gamma,
                                    function="td_targets"))
    found = value_finding("td_targets", got, want, wrong=wrong,
                          expected="the reward plus gamma times the target network's value of the "
                                   "Q-network's best next action, the reward alone after a "
                                   "terminal state")
    return [found] if found else []


def _rows(values: np.ndarray, columns: np.ndarray) -> np.ndarray:
    return values[np.arange(len(values)), columns]


def _small_network(weights: list[np.ndarray]):
    network = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8, activation="relu"),
                                keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    network.set_weights(weights)
    return network


def _forward(weights, states):
    """The probe's network, written out in TensorFlow (independent of the student's code)."""
    hidden = tf.nn.relu(states @ weights[0] + weights[1])
    hidden = tf.nn.relu(hidden @ weights[2] + weights[3])
    return hidden @ weights[4] + weights[5]


def _huber(errors):
    magnitude = tf.abs(errors)
    return tf.where(magnitude <= 1.0, 0.5 * tf.square(errors), magnitude - 0.5)


def _dqn_step(context: Context) -> list[Finding]:
    train_step = context.function("train_step")
    gamma = float(getattr(context.module, "GAMMA", 0.99))
    rng = context.rng
    shapes = [(4, 8), (8,), (8, 8), (8,), (8, 2), (2,)]
    online = [rng.normal(0.0, 0.5, shape).astype(np.float32) for shape in shapes]
    target = [rng.normal(0.0, 0.5, shape).astype(np.float32) for shape in shapes]
    batch = 6
    states = rng.normal(0.0, 1.0, (batch, 4)).astype(np.float32)
    next_states = rng.normal(0.0, 1.0, (batch, 4)).astype(np.float32)
    actions = np.array([0, 1, 1, 0, 1, 0], np.int32)
    rewards = np.array([0.2, 2.5, 1.0, 3.0, 0.1, 1.5], np.float32)  # TD errors both sides of 1
    terminated = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 1.0], np.float32)
    rate = 0.1

    q_network, target_network = _small_network(online), _small_network(target)
    optimizer = keras.optimizers.SGD(learning_rate=rate)  # a plain step: its size is known
    loss = train_step(q_network, target_network, optimizer, tf.constant(states), tf.constant(actions),
                      tf.constant(rewards), tf.constant(next_states), tf.constant(terminated))
    moved = np.concatenate([(as_array(v) - w).ravel() for v, w in zip(q_network.get_weights(), online)])
    target_moved = max(float(np.abs(as_array(v) - w).max()) for v, w in zip(target_network.get_weights(), target))
    if target_moved > 0.0:
        return [Finding("train_step() changes the target network: only the Q-network learns, the "
                        "target network is a frozen copy", f"a target network weight moved by "
                        f"{target_moved:.3g} in one step", "apply the gradients to "
                        "q_network.trainable_variables only")]

    next_online = _forward(online, next_states).numpy()
    next_target = _forward(target, next_states).numpy()
    alive = gamma * (1.0 - terminated)
    double = rewards + alive * _rows(next_target, next_online.argmax(axis=1))

    def change(targets, *, loss_of=_huber, all_actions=False, reduce="mean"):
        """The change of the Q-network's weights one SGD step of size rate makes."""
        variables = [tf.Variable(w) for w in online]
        with tf.GradientTape() as tape:
            q = _forward(variables, states)
            if all_actions:
                per_example = loss_of(q - targets[:, None])
            else:
                per_example = loss_of(tf.reduce_sum(q * tf.one_hot(actions, 2), axis=1) - targets)
            value = tf.reduce_mean(per_example) if reduce == "mean" else tf.reduce_sum(per_example)
        gradients = tape.gradient(value, variables)
        return np.concatenate([(-rate * g.numpy()).ravel() for g in gradients]), float(value)

    sizes = [int(np.prod(shape)) for shape in shapes]
    if np.abs(moved).max() == 0.0:
        return [Finding("train_step() does not change the Q-network: the gradients are None or "
                        "zero, or they are not applied", "after one step every weight of the "
                        "Q-network is where it started", "compute Q(s, a) from q_network inside "
                        "the `with tf.GradientTape()` block and apply the gradients of "
                        "q_network.trainable_variables with the optimizer")]
    still = [name for name, part in zip(("hidden kernel 1", "hidden bias 1", "hidden kernel 2",
                                         "hidden bias 2", "output kernel", "output bias"),
                                        np.split(np.abs(moved), np.cumsum(sizes)[:-1]))
             if part.max() == 0.0]
    if still:
        return [Finding("train_step() leaves some of the Q-network's variables unchanged: their "
                        "gradient is None or is not applied", f"unchanged: {', '.join(still)}",
                        "take the gradient with respect to all of q_network.trainable_variables")]

    accepted = {}  # correct: the mean Huber loss (Keras's default), or its sum (Adam is scale-free)
    for reduce in ("mean", "sum"):
        accepted[reduce] = change(double, reduce=reduce)
    for reduce, (want, value) in accepted.items():
        if close(moved, want, rtol=2e-3, atol=1e-6):
            found = value_finding("train_step", loss, value, rtol=2e-3, expected=(
                f"the Huber loss before the step ({reduce} over the batch) of the step it takes"))
            return [found] if found else []

    candidates = {
        "gradient ascent in train_step(): the step climbs the loss (apply the gradients "
        "themselves, not their negatives)": -accepted["mean"][0],
        "train_step() pulls every action's value towards the target, not only the value of the "
        "action taken: pick Q(s, a) of the taken action (one value per row) before the loss":
            change(double, all_actions=True)[0],
        "train_step() computes the targets with the Q-network alone: pass the target network's "
        "values of the next states to td_targets, the Q-network's only choose the action":
            change(rewards + alive * next_online.max(axis=1))[0],
        "train_step() passes the two networks to td_targets the wrong way round: the Q-network's "
        "values of the next states come first, then the target network's":
            change(rewards + alive * _rows(next_online, next_target.argmax(axis=1)))[0],
        "train_step()'s targets use the target network's own max (plain DQN), not double DQN":
            change(rewards + alive * next_target.max(axis=1))[0],
        "train_step()'s targets add a future value after a terminal state (no terminal mask)":
            change(rewards + gamma * _rows(next_target, next_online.argmax(axis=1)))[0],
        "train_step() uses the squared error, not the Huber loss the docstring asks for (a large "
        "TD error then gives a large step)": change(double, loss_of=tf.square)[0],
        "train_step() uses half the squared error, not the Huber loss the docstring asks for":
            change(double, loss_of=lambda e: 0.5 * tf.square(e))[0],
    }
    for cause, candidate in candidates.items():
        if close(moved, candidate, rtol=2e-3, atol=1e-6):
            return [Finding(cause, _step_evidence(moved, accepted["mean"][0]))]
    return [Finding("train_step() does not take one optimizer step down the Huber loss between "
                    "Q(s, a) and the double-DQN targets", _step_evidence(moved, accepted["mean"][0]),
                    "targets from td_targets outside the tape; inside, the taken action's value; "
                    "the gradient of q_network.trainable_variables applied with the optimizer")]


def _step_evidence(moved: np.ndarray, want: np.ndarray) -> str:
    """The weights where the step differs most from the expected one."""
    worst = np.sort(np.argsort(-np.abs(moved - want), kind="stable")[:4])
    got = [round(float(moved[i]), 5) for i in worst]
    expected = [round(float(want[i]), 5) for i in worst]
    return (f"one SGD step (rate 0.1) of the probe's small Q-network on 6 made-up transitions "
            f"moved the weights where it differs most by {got}; the expected step moves them by "
            f"{expected}")


def after_training(context: Context) -> list[Finding]:
    """After training: a NaN in the TD loss, or a greedy policy that never beat a random one."""
    metrics = context.metrics or {}
    found = nan_finding(metrics.get("td_loss_curve"), "round of gradient steps", "TD loss",
                        TD_LOSS_FIX)
    if found:
        return [found]
    greedy = metrics.get("greedy_curve")
    if greedy:
        best = float(np.max(greedy))
        # A random policy scores about 22 on CartPole; the solution's first evaluation (2000
        # transitions) already scores 47 on seed 0, its best 500 on seeds 0-19.
        if best < 100.0:
            return [Finding("the agent never learned to balance the pole: no greedy evaluation "
                            "during training beat 100 (a random policy scores about 22)",
                            f"greedy scores during training: "
                            f"{np.round(np.asarray(greedy, float), 1).tolist()}",
                            "your functions passed the checker's probes on small inputs, so "
                            "look at what the loop gives them: the settings at the top of the "
                            "file (learning rate, epsilon schedule, number of transitions) must "
                            "stay as the skeleton has them", fatal=False)]
    return []


def measure_mean_return(context: Context) -> float:
    """Mean return of main()'s Q-network's greedy policy over 20 CartPole-v1 episodes played side
    by side (one network call per step for all of them), on seeds of the checker's own."""
    import gymnasium as gym

    network = context.metrics.get("q_network")
    if not isinstance(network, keras.Model):
        raise EvidenceError("main() must return 'q_network', the trained Keras Q-network "
                            "(it is in the original skeleton's main)")

    @tf.function
    def act(states):
        return tf.argmax(network(states, training=False), axis=1)

    carts = gym.make_vec("CartPole-v1", num_envs=CHECK_EPISODES, vectorization_mode="sync")
    try:
        states, _ = carts.reset(seed=context.seed + CHECK_SEED_OFFSET)
        returns = np.zeros(CHECK_EPISODES)
        running = np.ones(CHECK_EPISODES, dtype=bool)
        while running.any():
            actions = act(tf.constant(states, tf.float32)).numpy()
            states, rewards, terminated, truncated, _ = carts.step(actions)
            returns += rewards * running
            running &= ~(terminated | truncated)
    finally:
        carts.close()
    return float(returns.mean())
