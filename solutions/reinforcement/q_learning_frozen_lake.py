# %% [markdown]
"""
Title: Q-learning with a neural network on FrozenLake

Chapter: reinforcement (seminar slides 87-97)

Teaches: the action-value function Q(s, a) as a network (one-hot state in, one dense layer, four
    action values out), the Q-learning target, slide 94's squared TD error minimised by gradient
    descent, epsilon-greedy exploration, a policy judged against value iteration's optimum.

Run time: about 50 s (20 s with --fast).

Task: cross a frozen lake (gymnasium's FrozenLake-v1, 4x4) to the goal without falling into a
hole; on the slippery lake a move goes where it was meant one time in three, and the best policy
succeeds 74.4% of the time. Fill in the four functions marked TODO: the Q-network, the Q-learning
target, the training step and the epsilon-greedy choice of actions. The greedy policy must succeed
at least 65% of the time on the slippery lake, and always on the non-slippery one. Check your work
with

    python -m seminar check reinforcement/q_learning_frozen_lake
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import keras
import numpy as np
import tensorflow as tf

from seminar import reinforcement, runtime

# %% Settings

NUM_STATES = 16  # the 4x4 lake, states numbered row by row: state = 4 * row + column
NUM_ACTIONS = 4  # 0 = left, 1 = down, 2 = right, 3 = up
# The only reward is 1 at the goal, so Q(s, a) is a discounted chance of success; with 0.99 the
# greedy policy of the exact Q is the one that succeeds most often (0.9 prefers a riskier path).
GAMMA = 0.99
NUM_ENVS = 64  # lakes played side by side: one network call acts, one training step learns, for all
# Plain gradient descent on the sum of squared TD errors: with a one-hot input one step moves
# W[s, a] = Q(s, a) by 2 * LEARNING_RATE * TD error, the tabular update with alpha = 0.1. The rate
# decays linearly to a tenth of itself, so that the estimates settle at the end.
LEARNING_RATE = 0.05
LEARNING_RATE_END_FRACTION = 0.1
# Exploration: epsilon falls linearly from 1 (random moves) to 0.1 over the first 80% of training.
EPSILON_START = 1.0
EPSILON_END = 0.1
EPSILON_DECAY_FRACTION = 0.8
STEPS = 3000  # steps of the 64 lakes: about 190 000 transitions (96 000 with --fast)
STEPS_FAST = 1500
CALM_STEPS = 500  # the non-slippery lake is learnt much faster
# Episodes that measure the greedy policy's success rate: with 1000, its standard error is 0.014.
EVAL_EPISODES = 10_000
EVAL_EPISODES_FAST = 1000


# %% The Q-network


def build_q_network(num_states: int, num_actions: int) -> keras.Model:
    """The seminar's Q-network: a one-hot state (batch, num_states) in, one dense layer, the
    ``num_actions`` action values (batch, num_actions) out.

    Without a hidden layer, a bias or an activation, Q(s, a) is the weight W[s, a]: the network is
    a table that gradient descent fills in. Start the weights small and positive (uniform in
    [0, 0.01], as in the seminar) so that no action looks better than another at first.
    """
    # SOLUTION: Return a network from one-hot states (batch, num_states) to action values (batch,
    #   num_actions) made of a single dense layer, no bias, no activation (so Q(s, a) is one
    #   weight), its weights drawn uniformly in [0, 0.01].
    return keras.Sequential([
        keras.Input(shape=(num_states,)),
        keras.layers.Dense(num_actions, use_bias=False,
                           kernel_initializer=keras.initializers.RandomUniform(0.0, 0.01)),
    ])
    # END SOLUTION


def q_values(model: keras.Model, states: tf.Tensor) -> tf.Tensor:
    """Q(s, .) for a batch of integer states (batch,): returns (batch, NUM_ACTIONS)."""
    return model(tf.one_hot(states, NUM_STATES))


def q_learning_targets(rewards: tf.Tensor, next_q_values: tf.Tensor, terminated: tf.Tensor,
                       gamma: float) -> tf.Tensor:
    """The Q-learning targets, one per transition (batch,): r + gamma * max_a' Q(s', a') (slide 94).

    ``rewards`` (batch,) float32; ``next_q_values`` is Q(s', .), (batch, NUM_ACTIONS);
    ``terminated`` (batch,) is 1.0 where s' is a hole or the goal. Nothing follows the end of an
    episode, so there the target is the reward alone. (An episode cut by the time limit is not
    terminated: its s' still has a future.) ``gamma`` is the discount to use (not a constant).
    """
    # SOLUTION: Compute one target per transition, (batch,): the reward, plus gamma times the best
    #   action value of the next state, and no future value where the episode terminated.
    return rewards + gamma * (1.0 - terminated) * tf.reduce_max(next_q_values, axis=1)
    # END SOLUTION


def train_step(model: keras.Model, states, actions, rewards, next_states, terminated,
               learning_rate) -> tf.Tensor:
    """One gradient-descent step on the loss of slide 94 over a batch of transitions
    (s, a, r, s', terminated), each argument of shape (batch,):

        J(theta) = sum over the batch of (Q(s, a, theta) - (r + gamma * max_a' Q(s', a', theta)))^2

    The target is computed with the same network but held fixed (Q-learning moves Q(s, a) towards
    the target, not the target towards Q(s, a)): no gradient flows through it. Only the taken
    action's value Q(s, a) enters J, not the other actions'. Take one plain gradient-descent step
    of size ``learning_rate`` on every trainable variable, in place (no optimizer), and return J,
    a scalar. (train_network() runs this inside a tf.function: use TensorFlow ops only.)
    """
    # SOLUTION: With the targets held fixed, take the gradient of the sum over the batch of squared
    #   errors between the taken action's Q(s, a) and its target, move every variable against it
    #   by learning_rate in place, and return that loss.
    targets = q_learning_targets(rewards, q_values(model, next_states), terminated, GAMMA)
    with tf.GradientTape() as tape:
        chosen = tf.gather(q_values(model, states), actions, batch_dims=1)  # Q(s, a), (batch,)
        loss = tf.reduce_sum(tf.square(chosen - tf.stop_gradient(targets)))
    gradients = tape.gradient(loss, model.trainable_variables)
    for variable, gradient in zip(model.trainable_variables, gradients):
        variable.assign_sub(learning_rate * gradient)
    return loss
    # END SOLUTION


# %% Q-learning: exploration, and the loop shared by the network and the table


def epsilon_greedy(q: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """The actions of a batch of lakes, (batch,) integers: for each row of ``q`` (batch,
    num_actions), a uniformly random action with probability ``epsilon`` (exploring), else the
    action of largest value. Draw every random number from ``rng``, so that a seed gives the same
    run."""
    # SOLUTION: For every row on its own: with probability epsilon a uniformly random action among
    #   all num_actions, otherwise that row's best action. Return (batch,) integers.
    random_actions = rng.integers(0, q.shape[1], size=len(q))
    return np.where(rng.random(len(q)) < epsilon, random_actions, q.argmax(axis=1))
    # END SOLUTION


def q_learning(slippery: bool, steps: int, values_of, learn, log, seed: int, rng) -> None:
    """Epsilon-greedy Q-learning on NUM_ENVS lakes at once. ``values_of(states)`` returns Q(s, .)
    as a NumPy array (batch, 4); ``learn(s, a, r, s', terminated, learning_rate)`` makes one update
    from a batch of transitions; ``log`` records the greedy policy's success as it learns."""
    lakes = reinforcement.make_lakes(slippery, NUM_ENVS)
    states, _ = lakes.reset(seed=seed)
    just_reset = np.zeros(NUM_ENVS, dtype=bool)
    for step in range(steps):
        progress = step / steps
        epsilon = max(EPSILON_END,
                      EPSILON_START - (EPSILON_START - EPSILON_END) * progress / EPSILON_DECAY_FRACTION)
        learning_rate = LEARNING_RATE * (1.0 - (1.0 - LEARNING_RATE_END_FRACTION) * progress)
        actions = epsilon_greedy(values_of(states), epsilon, rng)
        next_states, rewards, terminated, truncated, _ = lakes.step(actions)
        # A lake whose episode ended at the previous step was only reset by this one: no transition.
        keep = ~just_reset
        learn(states[keep], actions[keep], rewards[keep], next_states[keep], terminated[keep], learning_rate)
        just_reset = terminated | truncated
        states = next_states
        # Now and then: the greedy policy's exact chance of success, and a progress line.
        log.step(step, epsilon, kept=keep)
    lakes.close()


def train_network(run, slippery: bool, steps: int, seed: int, rng):
    """Q-learning with the Q-network. Returns the network, its greedy policy (16,), its log and
    the loss of every training step."""
    network = build_q_network(NUM_STATES, NUM_ACTIONS)
    values = tf.function(lambda states: q_values(network, states), reduce_retracing=True)
    train_on_batch = tf.function(lambda *batch: train_step(network, *batch), reduce_retracing=True)
    losses = []

    def learn(states, actions, rewards, next_states, terminated, learning_rate):
        losses.append(float(train_on_batch(
            tf.constant(states, tf.int32), tf.constant(actions, tf.int32), tf.constant(rewards, tf.float32),
            tf.constant(next_states, tf.int32), tf.constant(terminated, tf.float32),
            tf.constant(learning_rate, tf.float32))))

    def greedy_policy():
        return values(tf.range(NUM_STATES)).numpy().argmax(axis=1)

    log = reinforcement.LakeLog(run, "Q-network" + ("" if slippery else " (non-slippery)"), steps,
                                greedy_policy, slippery)
    q_learning(slippery, steps, lambda states: values(tf.constant(states, tf.int32)).numpy(), learn,
               log, seed, rng)
    return network, greedy_policy(), log, losses


# %% Main


def main(argv=None) -> dict:
    parser = runtime.make_parser("reinforcement/q_learning_frozen_lake", __doc__)
    parser.add_argument("--steps", type=runtime.positive_int, default=None,
                        help=f"steps of the {NUM_ENVS} lakes (default {STEPS}, {STEPS_FAST} with --fast)")
    parser.add_argument("--eval-episodes", type=runtime.positive_int, default=None,
                        help=f"episodes to measure success (default {EVAL_EPISODES}, {EVAL_EPISODES_FAST} with --fast)")
    args = runtime.parse_args(parser, argv)
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)
    steps = args.steps if args.steps is not None else (STEPS_FAST if args.fast else STEPS)
    episodes = (args.eval_episodes if args.eval_episodes is not None
                else EVAL_EPISODES_FAST if args.fast else EVAL_EPISODES)
    rng = np.random.default_rng(args.seed)

    optimum = reinforcement.lake_optimum(slippery=True)  # value iteration on the lake's own model
    runtime.say(run, f"value iteration on the slippery lake: best success {optimum.success:.4f} within "
                     f"100 steps, {optimum.success_no_limit:.4f} without a limit")

    network, policy, network_log, td_losses = train_network(run, True, steps, args.seed, rng)
    table = reinforcement.QTable(GAMMA)  # the baseline: the same loop fills in a table of Q(s, a)
    table_log = reinforcement.LakeLog(run, "table", steps, table.greedy_policy, slippery=True)
    q_learning(True, steps, table.values_of, table.learn, table_log, args.seed, rng)
    network_success = reinforcement.success_rate(policy, True, episodes, seed=args.seed + 10_000)
    table_success = reinforcement.success_rate(table.greedy_policy(), True, episodes, seed=args.seed + 20_000)
    runtime.say(run, f"slippery lake, {episodes} episodes: Q-network {network_success:.4f}, "
                     f"table {table_success:.4f}, optimum {optimum.success:.4f} "
                     f"(ratio {network_success / optimum.success:.3f})")

    calm_network, calm_policy, _, _ = train_network(run, False, min(steps, CALM_STEPS), args.seed, rng)
    calm_success = reinforcement.success_rate(calm_policy, False, 100, seed=args.seed + 30_000)
    runtime.say(run, f"non-slippery lake: the Q-network's greedy policy succeeds in {calm_success:.0%} "
                     f"of episodes")

    q_table = q_values(network, tf.range(NUM_STATES)).numpy()  # (16, 4): the network read as a table
    calm_values = q_values(calm_network, tf.range(NUM_STATES)).numpy().max(axis=1)
    reinforcement.plot_policies(run, optimum.terminal, [
        (q_table.max(axis=1), policy, f"Q-network, slippery: max_a Q(s, a)\nsuccess {network_success:.3f}"),
        (optimum.values_no_limit, optimum.best_policy, f"value iteration, slippery: best success\nprobability "
                                                       f"from each state ({optimum.success:.3f} in 100 steps)"),
        (calm_values, calm_policy, f"Q-network, non-slippery: max_a Q(s, a)\nsuccess {calm_success:.2f}"),
    ])
    reinforcement.plot_success(run, {"Q-network": network_log.curve, "table": table_log.curve},
                               optimum.success, {"Q-network": network_success, "table": table_success})
    return {
        "success_rate": network_success,
        "success_ratio_to_optimum": network_success / optimum.success,
        "exact_success": reinforcement.exact_success(policy, optimum.model),
        "tabular_success_rate": table_success,
        "non_slippery_success_rate": calm_success,
        "optimal_success": optimum.success,
        "optimal_success_no_limit": optimum.success_no_limit,
        "eval_episodes": episodes,
        # The evidence: the checker computes these policies' exact chances of success itself.
        "greedy_policy": policy,
        "non_slippery_policy": calm_policy,
        # For the diagnosis: Q(s, a) on the slippery lake (a discounted chance of success, so in
        # [0, 1]) and the loss of every training step (NaN, where it appeared).
        "q_table": q_table,
        "td_loss_curve": td_losses,
    }


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
