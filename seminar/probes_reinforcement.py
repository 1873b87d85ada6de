"""Diagnosis probes for the reinforcement chapter (q_learning_frozen_lake, dqn_cartpole): the
student's functions on a few made-up transitions, before any episode is played (see
seminar/diagnosis.py).

Every reference is computed here independently, in NumPy or with a Q-network the probe builds
itself (a fixed table, a small Keras model with known weights), so a bug in one of the student's
functions is named on its own: a TD target built from the wrong network, a missing terminal mask,
a max over the wrong axis, a step that climbs the loss. No environment is run.

After training, the evidence main() returns is read too: the loss of every training step (a NaN
and where it appeared), the learned Q-table (a discounted chance of success must lie in [0, 1]),
the greedy scores during training. The generic ``loss_curve`` reading of diagnosis.py is not used
here: a TD loss does not fall as a supervised loss does (it rises while the values spread from
the rewards, then settles), so "the loss grows" would accuse correct code.
"""

from __future__ import annotations

import math

import numpy as np

from seminar.diagnosis import Context, Finding, as_array, probe, value_finding

# ---------------------------------------------------------------------------- shared pieces

# A made-up batch of next-state action values, square on purpose (4 transitions, 4 actions): a
# max or an argmax over the wrong axis then gives a result of the right shape but wrong values,
# which the probe can name (with a batch of another size it would be a shape error).
_NEXT_Q_ONLINE = np.array([[1.0, 9.0, 3.0, 2.0],
                           [5.0, 1.0, 2.0, 8.0],
                           [7.0, 2.0, 6.0, 1.0],
                           [2.0, 3.0, 1.0, 4.0]], np.float32)
_NEXT_Q_TARGET = np.array([[6.0, 2.0, 4.0, 1.0],
                           [3.0, 9.0, 4.0, 2.0],
                           [2.0, 5.0, 8.0, 3.0],
                           [9.0, 1.0, 3.0, 7.0]], np.float32)
_REWARDS = np.array([1.0, 0.5, 1.0, 2.0], np.float32)
_TERMINATED = np.array([0.0, 1.0, 0.0, 0.0], np.float32)  # the second transition ends its episode
_PROBE_GAMMA = 0.5  # not the exercises' GAMMA (0.99), so that a hard-coded constant shows


def _rows(values: np.ndarray, columns: np.ndarray) -> np.ndarray:
    return values[np.arange(len(values)), columns]


def _target_candidates(next_values: np.ndarray, *, gamma: float, module_gamma: float,
                       rewards: np.ndarray = _REWARDS, terminated: np.ndarray = _TERMINATED,
                       function: str) -> dict[str, np.ndarray]:
    """What the usual mistakes give, given the value each transition's next state should have."""
    alive = 1.0 - terminated
    return {
        f"{function}() adds a future value after a terminal state: the terminal mask is missing, "
        f"so a hole, the goal or a fall still gets gamma times a next value":
            rewards + gamma * next_values,
        f"{function}() keeps the future value only AFTER a terminal state: the terminal mask is "
        f"inverted (multiply by 1 - terminated, not by terminated)":
            rewards + gamma * terminated * next_values,
        f"{function}() does not discount the next value: gamma is missing":
            rewards + alive * next_values,
        f"{function}() uses the constant GAMMA ({module_gamma:g}) instead of its gamma argument "
        f"(the checker passed gamma = {gamma:g})":
            rewards + module_gamma * alive * next_values,
    }


def _close(got: np.ndarray, want: np.ndarray, *, rtol: float = 1e-3, atol: float = 1e-5) -> bool:
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=rtol, atol=atol))


def _nan_finding(metrics: dict, unit: str) -> Finding | None:
    """A NaN or infinity in main()'s ``td_loss_curve``, with the step where it appeared."""
    curve = metrics.get("td_loss_curve")
    if curve is None:
        return None
    values = np.asarray(curve, dtype=np.float64).ravel()
    bad = np.flatnonzero(~np.isfinite(values))
    if not bad.size:
        return None
    first = int(bad[0])
    before = values[max(0, first - 3):first]
    return Finding(f"the TD loss became NaN or infinite at {unit} {first + 1} of {values.size}",
                   f"losses just before: {np.round(before, 4).tolist() if before.size else 'none'}",
                   "values that feed on themselves without a discount below 1 or without the "
                   "terminal mask grow without bound; so does a step that climbs the loss")


# ---------------------------------------------------------------------------- FrozenLake


@probe("frozen_lake_q_learning")
def frozen_lake_q_learning(context: Context) -> list[Finding]:
    """q_learning_frozen_lake: build_q_network is a table (one-hot in, linear, no bias, weights
    in [0, 0.01]); q_learning_targets against NumPy; one train_step on a fixed table against the
    tabular update it must make."""
    import keras

    keras.utils.set_random_seed(context.seed)  # main() seeds again: this only fixes the probe
    found = _lake_network(context)
    if found:
        return found
    found = _lake_targets(context)
    if found:
        return found
    return _lake_step(context)


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
    if not _close(got, mixed @ table, rtol=1e-3, atol=1e-5):
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
    import tensorflow as tf

    function = context.function("q_learning_targets")
    module_gamma = float(getattr(context.module, "GAMMA", 0.99))
    got = function(tf.constant(_REWARDS), tf.constant(_NEXT_Q_ONLINE), tf.constant(_TERMINATED),
                   _PROBE_GAMMA)
    best = _NEXT_Q_ONLINE.max(axis=1)
    want = _REWARDS + _PROBE_GAMMA * (1.0 - _TERMINATED) * best
    wrong = _target_candidates(best, gamma=_PROBE_GAMMA, module_gamma=module_gamma,
                               function="q_learning_targets")
    alive = _PROBE_GAMMA * (1.0 - _TERMINATED)
    wrong.update({
        "q_learning_targets() takes the max over the batch (axis 0) instead of over the actions "
        "(axis 1): each transition must use the best value of ITS next state":
            _REWARDS + alive * _NEXT_Q_ONLINE.max(axis=0),
        "q_learning_targets() averages the next state's action values instead of taking the best":
            _REWARDS + alive * _NEXT_Q_ONLINE.mean(axis=1),
        "q_learning_targets() adds up the next state's action values instead of taking the best":
            _REWARDS + alive * _NEXT_Q_ONLINE.sum(axis=1),
    })
    found = value_finding("q_learning_targets", got, want, wrong=wrong,
                          expected="the reward plus gamma times the best next value, the reward "
                                   "alone after a terminal state")
    return [found] if found else []


# A batch of 6 made-up transitions on the 4x4 lake. Their (s, a) pairs are distinct and no next
# state is among the states updated, so a step made one transition at a time (the table's way)
# and one made on the whole batch agree exactly. 5 is a hole, 15 the goal.
_LAKE_STATES = np.array([0, 1, 2, 6, 9, 14], np.int32)
_LAKE_ACTIONS = np.array([1, 2, 2, 1, 3, 2], np.int32)
_LAKE_REWARDS = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0], np.float32)
_LAKE_NEXT = np.array([4, 5, 3, 10, 13, 15], np.int32)
_LAKE_TERMINATED = np.array([0.0, 1.0, 0.0, 0.0, 0.0, 1.0], np.float32)
_LAKE_RATE = 0.1  # not the exercise's LEARNING_RATE (0.05), so that a hard-coded constant shows


def _lake_step(context: Context) -> list[Finding]:
    import keras
    import tensorflow as tf

    train_step = context.function("train_step")
    gamma = float(getattr(context.module, "GAMMA", 0.99))
    module_rate = getattr(context.module, "LEARNING_RATE", None)
    start = context.rng.uniform(0.1, 1.0, (16, 4)).astype(np.float32)  # every value different
    model = keras.Sequential([keras.Input(shape=(16,)), keras.layers.Dense(4, use_bias=False)])
    model.set_weights([start])

    s, a, r, s2, done = (_LAKE_STATES, _LAKE_ACTIONS, _LAKE_REWARDS, _LAKE_NEXT, _LAKE_TERMINATED)
    loss = train_step(model, tf.constant(s), tf.constant(a), tf.constant(r), tf.constant(s2),
                      tf.constant(done), tf.constant(_LAKE_RATE, tf.float32))
    moved = as_array(model.get_weights()[0]) - start

    def change(targets, *, rate=_LAKE_RATE, scale=1.0, all_actions=False, through_target=False):
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
    if module_rate is not None and not math.isclose(float(module_rate), _LAKE_RATE):
        wrong[f"train_step() steps by the constant LEARNING_RATE ({float(module_rate):g}) instead "
              f"of its learning_rate argument (the checker passed {_LAKE_RATE:g})"] = change(
            targets, rate=float(module_rate))
    if not _close(moved, want, rtol=1e-3, atol=1e-5):
        evidence = _lake_step_evidence(moved, want)
        for cause, candidate in wrong.items():
            if _close(moved, candidate, rtol=1e-3, atol=1e-5):
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
    return (f"one step of rate {_LAKE_RATE:g} on 6 made-up transitions (the taken pairs: "
            f"{', '.join(f'({s}, {a})' for s, a in zip(_LAKE_STATES, _LAKE_ACTIONS))}) moved {shown}")


@probe("frozen_lake_training")
def frozen_lake_training(context: Context) -> list[Finding]:
    """After training: the loss of every step (NaN?), and the learned Q-table in [0, 1]."""
    metrics = context.metrics or {}
    found = _nan_finding(metrics, "training step")
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


# ---------------------------------------------------------------------------- CartPole DQN


@probe("dqn_cartpole")
def dqn_cartpole(context: Context) -> list[Finding]:
    """dqn_cartpole: build_q_network's output is linear (any real action value);
    epsilon_greedy explores at the rate asked, over every action, row by row; td_targets is double
    DQN's target with the terminal mask; train_step takes one optimizer step down the Huber loss of
    the taken actions, on the Q-network only."""
    import keras

    keras.utils.set_random_seed(context.seed)  # main() seeds again: this only fixes the probe
    remarks: list[Finding] = []  # not fatal (shown if the check fails): keep probing
    for part in (_dqn_network, _dqn_epsilon_greedy, _dqn_targets, _dqn_step):
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


def _dqn_epsilon_greedy(context: Context) -> list[Finding]:
    function = context.function("epsilon_greedy")
    rows, actions = 3000, 3  # three actions: a random action drawn from {0, 1} only shows
    q = context.rng.normal(0.0, 1.0, (rows, actions))
    best = q.argmax(axis=1)

    def run(epsilon):
        return np.asarray(function(q.copy(), epsilon, np.random.default_rng(context.seed + 7)))

    chosen = run(0.0)
    if chosen.shape != (rows,):
        return [Finding("epsilon_greedy() does not return one action per row",
                        f"for q of shape ({rows}, {actions}) it returned shape {chosen.shape}; the "
                        f"docstring asks for ({rows},)",
                        "argmax over the actions (axis 1) gives one per row; draw one coin and "
                        "one random action per row")]
    greedy_share = float(np.mean(chosen == best))
    if greedy_share < 0.999:
        if np.mean(chosen == q.argmin(axis=1)) > 0.999:
            cause = "epsilon_greedy() takes the action of SMALLEST value (argmin) when it exploits"
        elif greedy_share < 0.5 and np.mean(np.asarray(run(1.0)) == best) > 0.999:
            cause = ("epsilon_greedy() explores with probability 1 - epsilon: the coin's comparison "
                     "is reversed (it always explores at epsilon = 0 and never at epsilon = 1)")
        elif greedy_share < 0.5:
            cause = "epsilon_greedy() explores even with epsilon = 0: it always (or mostly) explores"
        else:
            cause = "epsilon_greedy() does not take each row's best action when epsilon = 0"
        return [Finding(cause, f"with epsilon = 0, {greedy_share:.1%} of {rows} rows got their "
                               f"best action (argmax over the actions), expected all",
                        "with probability 1 - epsilon a row takes q.argmax over axis 1")]
    chosen = run(1.0)
    values, counts = np.unique(chosen, return_counts=True)
    if not np.isin(chosen, np.arange(actions)).all():
        return [Finding("epsilon_greedy() draws random actions outside 0 .. num_actions - 1",
                        f"with 3 actions and epsilon = 1 it chose {sorted(set(values.tolist()))[:8]}",
                        "the number of actions is q.shape[1]; the random action is an integer "
                        "from 0 to q.shape[1] - 1")]
    shares = {int(v): c / rows for v, c in zip(values, counts)}
    greedy_share = float(np.mean(chosen == best))
    if greedy_share > 0.9:
        return [Finding("epsilon_greedy() never explores: with epsilon = 1 it still takes the best "
                        "action", f"{greedy_share:.1%} of {rows} rows got their best action; a "
                        f"uniformly random one is the best 1 time in 3",
                        "with probability epsilon a row takes a uniformly random action")]
    if len(shares) == 1:
        return [Finding("epsilon_greedy() draws ONE random action for the whole batch instead of "
                        "one per row", f"with epsilon = 1 all {rows} rows chose action "
                        f"{int(values[0])}", "draw size=len(q) random actions")]
    missing = [k for k in range(actions) if shares.get(k, 0.0) < 0.2]
    if missing:
        return [Finding("epsilon_greedy()'s random action is not uniform over all the actions",
                        f"with 3 actions and epsilon = 1 the shares were "
                        f"{ {k: round(float(shares.get(k, 0.0)), 3) for k in range(actions)} }; each "
                        f"should be near 1/3 (action {missing[0]} is (almost) never drawn)",
                        "the upper bound of rng.integers is excluded: draw from 0 to q.shape[1], "
                        "not q.shape[1] - 1 nor a fixed number")]
    if greedy_share < 0.2:
        return [Finding("epsilon_greedy()'s random action avoids the best action: a uniformly "
                        "random action can be the best one too",
                        f"with 3 actions and epsilon = 1, {greedy_share:.1%} of the rows got their "
                        f"best action, expected about 1/3")]
    explored = float(np.mean(run(0.3) != best))
    expected = 0.3 * (actions - 1) / actions  # a random action differs from the best 2 times in 3
    if abs(explored - expected) > 0.035:  # the standard error is 0.007 on 3000 rows
        if abs(explored - 0.7 * (actions - 1) / actions) <= 0.035:
            cause = ("epsilon_greedy() explores with probability 1 - epsilon: the coin's "
                     "comparison is reversed")
        elif explored < 0.01 or abs(explored - (actions - 1) / actions) <= 0.035:
            cause = ("epsilon_greedy() tosses ONE coin for the whole batch: all rows explore "
                     "together, or none")
        else:
            cause = "epsilon_greedy() does not explore at the rate epsilon"
        return [Finding(cause, f"with epsilon = 0.3, {explored:.1%} of {rows} rows took another "
                               f"action than their best; expected {expected:.1%} (30% explore, "
                               f"and a random action is another one 2 times in 3)",
                        "one coin per row: a row explores when its coin falls below epsilon")]
    return []


def _dqn_targets(context: Context) -> list[Finding]:
    import tensorflow as tf

    function = context.function("td_targets")
    module_gamma = float(getattr(context.module, "GAMMA", 0.99))
    got = function(tf.constant(_REWARDS), tf.constant(_NEXT_Q_ONLINE), tf.constant(_NEXT_Q_TARGET),
                   tf.constant(_TERMINATED), _PROBE_GAMMA)
    chosen = _NEXT_Q_ONLINE.argmax(axis=1)
    value = _rows(_NEXT_Q_TARGET, chosen)
    want = _REWARDS + _PROBE_GAMMA * (1.0 - _TERMINATED) * value
    alive = _PROBE_GAMMA * (1.0 - _TERMINATED)
    wrong = {
        "td_targets() values the next action with the Q-network (the online network) instead of "
        "the target network: the target then moves with every step":
            _REWARDS + alive * _NEXT_Q_ONLINE.max(axis=1),
        "td_targets() takes the target network's own max (plain DQN): the docstring asks for double "
        "DQN, where the Q-network chooses the next action and the target network values it":
            _REWARDS + alive * _NEXT_Q_TARGET.max(axis=1),
        "td_targets() swaps the two networks: the target network chooses the next action and the "
        "Q-network values it; it must be the other way round":
            _REWARDS + alive * _rows(_NEXT_Q_ONLINE, _NEXT_Q_TARGET.argmax(axis=1)),
        "td_targets() takes the argmax over the batch (axis 0) instead of over the actions (axis "
        "1): each transition must use the best action of ITS next state":
            _REWARDS + alive * _rows(_NEXT_Q_TARGET, _NEXT_Q_ONLINE.argmax(axis=0)),
        "td_targets() takes the max over the batch (axis 0) instead of over the actions (axis 1)":
            _REWARDS + alive * _NEXT_Q_TARGET.max(axis=0),
    }
    wrong.update(_target_candidates(value, gamma=_PROBE_GAMMA, module_gamma=module_gamma,
                                    function="td_targets"))
    found = value_finding("td_targets", got, want, wrong=wrong,
                          expected="the reward plus gamma times the target network's value of the "
                                   "Q-network's best next action, the reward alone after a "
                                   "terminal state")
    return [found] if found else []


def _small_network(weights: list[np.ndarray]):
    import keras

    network = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8, activation="relu"),
                                keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    network.set_weights(weights)
    return network


def _forward(weights, states):
    """The probe's network, written out in TensorFlow (independent of the student's code)."""
    import tensorflow as tf

    hidden = tf.nn.relu(states @ weights[0] + weights[1])
    hidden = tf.nn.relu(hidden @ weights[2] + weights[3])
    return hidden @ weights[4] + weights[5]


def _huber(errors):
    import tensorflow as tf

    magnitude = tf.abs(errors)
    return tf.where(magnitude <= 1.0, 0.5 * tf.square(errors), magnitude - 0.5)


def _dqn_step(context: Context) -> list[Finding]:
    import keras
    import tensorflow as tf

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
        if _close(moved, want, rtol=2e-3, atol=1e-6):
            found = value_finding("train_step", loss, value, rtol=2e-3, expected=(
                f"the Huber loss before the step ({reduce} over the batch) of the step it takes"))
            return [found] if found else []

    squared = lambda errors: tf.square(errors)  # noqa: E731
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
        "TD error then gives a large step)": change(double, loss_of=squared)[0],
        "train_step() uses half the squared error, not the Huber loss the docstring asks for":
            change(double, loss_of=lambda e: 0.5 * tf.square(e))[0],
    }
    for cause, candidate in candidates.items():
        if _close(moved, candidate, rtol=2e-3, atol=1e-6):
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


@probe("dqn_cartpole_training")
def dqn_cartpole_training(context: Context) -> list[Finding]:
    """After training: a NaN in the TD loss, or a greedy policy that never beat a random one."""
    metrics = context.metrics or {}
    found = _nan_finding(metrics, "round of gradient steps")
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
