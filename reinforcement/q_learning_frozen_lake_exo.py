"""
Title: Q-learning with a neural network on FrozenLake
Chapter: reinforcement (seminar slides 87-97)
Teaches: the action-value function Q(s, a) as a network (one-hot state in, one dense layer, four
    action values out); the Q-learning target r + gamma * max_a' Q(s', a'); the squared TD error
    of slide 94 minimised by gradient descent; epsilon-greedy exploration; judging a policy against
    the optimum that value iteration computes from the environment's own transition table.
Run time: about 50 s (20 s with --fast).

Task: an agent crosses a frozen lake (gymnasium's FrozenLake-v1, 4x4) from the top-left corner to
the goal in the bottom-right corner without falling into a hole. On the slippery lake each move goes
where it was meant only one time in three, so the best policy reaches the goal in 74.4% of the
episodes within gymnasium's 100-step limit. Fill in the functions marked TODO: the Q-network, the
Q-learning target and the training step. The greedy policy of your network must succeed in at
least 65% of 1000 episodes on the slippery lake, and always on the non-slippery one. Before any
episode is played, the check runs your three functions on made-up transitions and names what
differs from their docstrings. Check your work with
    python -m seminar check reinforcement/q_learning_frozen_lake
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import time

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from seminar import plots, runtime

# %% Settings

NUM_STATES = 16  # the 4x4 lake, states numbered row by row: state = 4 * row + column
NUM_ACTIONS = 4  # 0 = left, 1 = down, 2 = right, 3 = up
TIME_LIMIT = 100  # gymnasium ends (truncates) a FrozenLake-v1 episode after 100 steps
# Discount factor. The only reward is 1 at the goal, so Q(s, a) is a discounted chance of success;
# with gamma = 0.99 the greedy policy of the exact Q is the policy that succeeds most often
# (gamma = 0.9 already prefers a slightly riskier, faster path: 73.0% instead of 74.0%).
GAMMA = 0.99
# Lakes played side by side (a gymnasium vector environment): one batched network call chooses the
# 64 actions of a step, and one training step learns from the 64 transitions it produced.
NUM_ENVS = 64
# Plain gradient descent on the sum of squared TD errors (slide 94). With a one-hot input the
# network's weight W[s, a] is Q(s, a), and one step moves it by 2 * LEARNING_RATE * TD error: the
# tabular Q-learning update with alpha = 0.1. The rate decays linearly to a tenth of itself, so the
# estimates settle at the end. (Measured on seeds 0-7: alpha = 0.03 left Q far from converged after
# the fast run, with success between 0.38 and 0.73; alpha = 0.1 reached the best policy on all 8.)
LEARNING_RATE = 0.05
LEARNING_RATE_END_FRACTION = 0.1
# Exploration: epsilon falls linearly from 1 (random moves) to 0.1 over the first 80% of training.
EPSILON_START = 1.0
EPSILON_END = 0.1
EPSILON_DECAY_FRACTION = 0.8
# Steps of the 64 lakes: 3000 (1500 with --fast) steps are about 190 000 (96 000) transitions.
# Half the fast run (750 steps) already found the best policy on 6 of 8 seeds.
STEPS = 3000
STEPS_FAST = 1500
# The non-slippery lake is learnt much faster: 500 steps reached the goal on seeds 0-7 (as did 250).
CALM_STEPS = 500
# Episodes that measure the greedy policy's success rate: with 1000, the rate's standard error is
# 0.014, so the 0.65 threshold sits 6 standard errors under the 0.74 that training reaches.
EVAL_EPISODES = 10_000
EVAL_EPISODES_FAST = 1000
RECORD_EVERY = 50  # steps between two points of the success-rate curve

ARROWS = {0: (-1, 0), 1: (0, 1), 2: (1, 0), 3: (0, -1)}  # (column, row) moves of each action


# %% The lake and its exact model


def make_lake(slippery: bool) -> gym.Env:
    return gym.make("FrozenLake-v1", map_name="4x4", is_slippery=slippery)


def make_lakes(slippery: bool, num_envs: int) -> gym.vector.VectorEnv:
    """``num_envs`` lakes stepped together. After an episode ends, the next ``step`` resets that
    lake (gymnasium's default "next step" autoreset) and returns its start state."""
    return gym.make_vec("FrozenLake-v1", num_envs=num_envs, vectorization_mode="sync",
                        map_name="4x4", is_slippery=slippery)


def lake_model(slippery: bool):
    """The environment's own transition table ``env.unwrapped.P`` as arrays: transition
    probabilities T (16, 4, 16), expected rewards R (16, 4), and which states end an episode
    (holes and the goal), (16,)."""
    env = make_lake(slippery)
    transitions = np.zeros((NUM_STATES, NUM_ACTIONS, NUM_STATES))
    rewards = np.zeros((NUM_STATES, NUM_ACTIONS))
    for state, by_action in env.unwrapped.P.items():
        for action, outcomes in by_action.items():
            for probability, next_state, reward, _ in outcomes:
                transitions[state, action, next_state] += probability
                rewards[state, action] += probability * reward
    terminal = np.isin(env.unwrapped.desc.ravel(), [b"H", b"G"])
    env.close()
    return transitions, rewards, terminal


def value_iteration(model, horizon: int | None = TIME_LIMIT):
    """The best chance of reaching the goal within ``horizon`` steps (no limit for ``None``), by
    dynamic programming over the steps left: V_k(s) = max_a R(s, a) + sum_s' T(s, a, s') V_k-1(s').

    Returns V (16,), the best success probability from each state, and the best action in each
    state with ``horizon`` steps to go (16,).
    """
    transitions, rewards, terminal = model
    values = np.zeros(NUM_STATES)
    for step in range(horizon if horizon is not None else 100_000):
        q = rewards + transitions @ np.where(terminal, 0.0, values)  # (16, 4)
        new_values = np.where(terminal, 0.0, q.max(axis=1))
        if horizon is None and np.abs(new_values - values).max() < 1e-13:
            break
        values = new_values
    return values, np.where(terminal, 0, q.argmax(axis=1))


def exact_success(policy: np.ndarray, model, horizon: int = TIME_LIMIT) -> float:
    """The probability that ``policy`` (one action per state, (16,)) reaches the goal from the start
    within ``horizon`` steps: the same recursion as value iteration, without the max."""
    transitions, rewards, terminal = model
    states = np.arange(NUM_STATES)
    values = np.zeros(NUM_STATES)
    for _ in range(horizon):
        values = rewards[states, policy] + transitions[states, policy] @ np.where(terminal, 0.0, values)
        values = np.where(terminal, 0.0, values)
    return float(values[0])


def success_rate(policy: np.ndarray, slippery: bool, episodes: int, seed: int) -> float:
    """Play ``episodes`` episodes with a fixed policy (an action per state, looked up: no network
    call per step) and return the fraction that reach the goal."""
    env = make_lake(slippery)
    successes = 0.0
    for episode in range(episodes):
        state, _ = env.reset(seed=seed if episode == 0 else None)
        done = False
        while not done:
            state, reward, terminated, truncated, _ = env.step(int(policy[state]))
            done = terminated or truncated
        successes += reward
    env.close()
    return successes / episodes


# %% The Q-network


def build_q_network(num_states: int, num_actions: int) -> keras.Model:
    """The seminar's Q-network: a one-hot state (batch, num_states) in, one dense layer, the
    ``num_actions`` action values (batch, num_actions) out.

    Without a hidden layer, a bias or an activation, Q(s, a) is the weight W[s, a]: the network is
    a table that gradient descent fills in. Start the weights small and positive (uniform in
    [0, 0.01], as in the seminar) so that no action looks better than another at first.
    """
    # TODO: Return a network from one-hot states (batch, num_states) to action values (batch,
    #   num_actions) made of a single dense layer, no bias, no activation (so Q(s, a) is one
    #   weight), its weights drawn uniformly in [0, 0.01].
    raise NotImplementedError('TODO in build_q_network() (for a hint: python -m seminar hint reinforcement/q_learning_frozen_lake)')


@tf.function(reduce_retracing=True)
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
    # TODO: Compute one target per transition, (batch,): the reward, plus gamma times the best
    #   action value of the next state, and no future value where the episode terminated.
    raise NotImplementedError('TODO in q_learning_targets() (for a hint: python -m seminar hint reinforcement/q_learning_frozen_lake)')


@tf.function(reduce_retracing=True)
def train_step(model: keras.Model, states, actions, rewards, next_states, terminated,
               learning_rate) -> tf.Tensor:
    """One gradient-descent step on the loss of slide 94 over a batch of transitions
    (s, a, r, s', terminated), each argument of shape (batch,):

        J(theta) = sum over the batch of (Q(s, a, theta) - (r + gamma * max_a' Q(s', a', theta)))^2

    The target is computed with the same network but held fixed (Q-learning moves Q(s, a) towards
    the target, not the target towards Q(s, a)): no gradient flows through it. Only the taken
    action's value Q(s, a) enters J, not the other actions'. Take one plain gradient-descent step
    of size ``learning_rate`` on every trainable variable, in place (no optimizer), and return J,
    a scalar.
    """
    # TODO: With the targets held fixed, take the gradient of the sum over the batch of squared
    #   errors between the taken action's Q(s, a) and its target, move every variable against it
    #   by learning_rate in place, and return that loss.
    raise NotImplementedError('TODO in train_step() (for a hint: python -m seminar hint reinforcement/q_learning_frozen_lake)')


def greedy_policy(model: keras.Model) -> np.ndarray:
    """The greedy action of every state, (16,): one batched network call, then a lookup table."""
    return q_values(model, tf.range(NUM_STATES)).numpy().argmax(axis=1)


# %% Q-learning: the loop, shared by the network and the table


def epsilon_greedy(q: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """For each row of ``q`` (batch, actions): a random action with probability epsilon, else the
    best one."""
    random_actions = rng.integers(0, q.shape[1], size=len(q))
    return np.where(rng.random(len(q)) < epsilon, random_actions, q.argmax(axis=1))


def q_learning(slippery: bool, steps: int, q_of, learn, policy_of, args, rng, name: str):
    """Epsilon-greedy Q-learning on NUM_ENVS lakes at once.

    ``q_of(states)`` returns Q(s, .) as a NumPy array (batch, 4), ``learn(s, a, r, s', terminated,
    learning_rate)`` makes one update from a batch of transitions and ``policy_of()`` returns the
    current greedy policy (16,). Returns the curve [(transitions, exact success)] of the greedy
    policy during training.
    """
    model = lake_model(slippery)
    lakes = make_lakes(slippery, NUM_ENVS)
    states, _ = lakes.reset(seed=args.seed)
    just_reset = np.zeros(NUM_ENVS, dtype=bool)
    transitions, curve = 0, []
    started = time.perf_counter()
    for step in range(steps):
        progress = step / steps
        epsilon = max(EPSILON_END, EPSILON_START - (EPSILON_START - EPSILON_END) * progress / EPSILON_DECAY_FRACTION)
        learning_rate = LEARNING_RATE * (1.0 - (1.0 - LEARNING_RATE_END_FRACTION) * progress)
        actions = epsilon_greedy(q_of(states), epsilon, rng)
        next_states, rewards, terminated, truncated, _ = lakes.step(actions)
        # A lake whose episode ended at the previous step was only reset by this one: no transition.
        keep = ~just_reset
        learn(states[keep], actions[keep], rewards[keep], next_states[keep], terminated[keep], learning_rate)
        transitions += int(keep.sum())
        just_reset = terminated | truncated
        states = next_states
        if (step + 1) % RECORD_EVERY == 0 or step + 1 == steps:
            curve.append((transitions, exact_success(policy_of(), model)))
        if (step + 1) % max(1, steps // 5) == 0:
            runtime.say(args, f"  {name}: step {step + 1:5d}/{steps}  epsilon {epsilon:.2f}  greedy success "
                              f"{exact_success(policy_of(), model):.3f}  ({time.perf_counter() - started:.0f} s)")
    lakes.close()
    return curve


def check_your_functions() -> None:
    """Run the functions you write once, eagerly, on a small example: an error then points at your
    line rather than into a traced graph, and a wrong shape is caught before training."""
    network = build_q_network(NUM_STATES, NUM_ACTIONS)
    shape = tuple(network(tf.one_hot(tf.range(NUM_STATES), NUM_STATES)).shape)
    if shape != (NUM_STATES, NUM_ACTIONS):
        raise ValueError(f"build_q_network must map one-hot states (16, 16) to action values (16, 4), got {shape}")
    targets = q_learning_targets(tf.constant([0.0, 1.0]), tf.ones((2, NUM_ACTIONS)), tf.constant([0.0, 1.0]), GAMMA)
    if tuple(targets.shape) != (2,):
        raise ValueError(f"q_learning_targets must return one target per transition, shape (2,), got {tuple(targets.shape)}")
    states, actions = tf.constant([0, 1]), tf.constant([2, 1])
    eager_step = getattr(train_step, "python_function", train_step)  # the function under @tf.function
    loss = eager_step(network, states, actions, tf.constant([0.0, 1.0]), tf.constant([4, 5]),
                      tf.constant([0.0, 1.0]), tf.constant(0.0))
    if tuple(loss.shape) != ():
        raise ValueError(f"train_step must return the loss as a scalar, got shape {tuple(loss.shape)}")


def train_network(slippery: bool, steps: int, args, rng):
    """Q-learning with the Q-network; returns the network, its success curve and the loss of
    every training step (the checker reads it for NaN)."""
    network = build_q_network(NUM_STATES, NUM_ACTIONS)
    losses = []

    def q_of(states):
        return q_values(network, tf.constant(states, dtype=tf.int32)).numpy()

    def learn(states, actions, rewards, next_states, terminated, learning_rate):
        loss = train_step(network, tf.constant(states, tf.int32), tf.constant(actions, tf.int32),
                          tf.constant(rewards, tf.float32), tf.constant(next_states, tf.int32),
                          tf.constant(terminated, tf.float32), tf.constant(learning_rate, tf.float32))
        losses.append(float(loss))

    name = "Q-network" + ("" if slippery else " (non-slippery)")
    curve = q_learning(slippery, steps, q_of, learn, lambda: greedy_policy(network), args, rng, name)
    return network, curve, losses


def train_table(slippery: bool, steps: int, args, rng):
    """The baseline: tabular Q-learning, Q[s, a] += alpha * (target - Q[s, a]) one transition at a
    time, with alpha = 2 * learning rate (the step the network's gradient makes on its weight)."""
    table = np.zeros((NUM_STATES, NUM_ACTIONS))

    def learn(states, actions, rewards, next_states, terminated, learning_rate):
        for s, a, r, s_next, done in zip(states, actions, rewards, next_states, terminated):
            target = r + GAMMA * (1.0 - done) * table[s_next].max()
            table[s, a] += 2.0 * learning_rate * (target - table[s, a])

    curve = q_learning(slippery, steps, lambda states: table[states], learn,
                       lambda: table.argmax(axis=1), args, rng, "table")
    return table, curve


# %% Plots


def draw_lake(ax, values: np.ndarray, policy: np.ndarray, terminal: np.ndarray, title: str):
    """The 4x4 lake coloured by state value, with the policy's arrow in every frozen state."""
    grid = np.where(terminal, np.nan, values).reshape(4, 4)
    image = ax.imshow(grid, cmap="viridis", vmin=0.0, vmax=max(1e-9, float(np.nanmax(grid))))
    for state in range(NUM_STATES):
        row, column = divmod(state, 4)
        if terminal[state]:
            is_goal = state == NUM_STATES - 1
            ax.text(column, row, "GOAL" if is_goal else "hole", ha="center", va="center",
                    fontsize=9, color="green" if is_goal else "0.3", weight="bold")
            continue
        dx, dy = ARROWS[int(policy[state])]
        ax.annotate("", xy=(column + 0.3 * dx, row + 0.3 * dy), xytext=(column - 0.3 * dx, row - 0.3 * dy),
                    arrowprops=dict(arrowstyle="->", color="white", lw=2))
        ax.text(column, row + 0.38, f"{values[state]:.2f}", ha="center", va="center", fontsize=7, color="white")
    ax.text(0, -0.38, "start", ha="center", va="center", fontsize=7, color="white")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return image


def plot_policies(args, panels):
    plt = plots.pyplot(args)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.4))
    for ax, (values, policy, terminal, title) in zip(axes, panels):
        fig.colorbar(draw_lake(ax, values, policy, terminal, title), ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle("Greedy policies (arrows) and state values (colour, number)")
    return plots.save(fig, args, "policy.png")


def plot_success(args, curves: dict, optimum: float, final: dict):
    plt = plots.pyplot(args)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, curve in curves.items():
        x, y = zip(*curve)
        ax.plot(x, y, label=f"{name} (final, simulated: {final[name]:.3f})")
    ax.axhline(optimum, color="black", linestyle="--", label=f"optimum by value iteration: {optimum:.3f}")
    ax.axhline(0.65, color="red", linestyle=":", label="threshold 0.65")
    ax.set_xlabel("transitions seen")
    ax.set_ylabel("success probability of the greedy policy")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Slippery lake: success within 100 steps during training")
    return plots.save(fig, args, "success_rate.png")


# %% Main


def main(argv=None) -> dict:
    parser = runtime.make_parser(__file__, __doc__)
    parser.add_argument("--steps", type=runtime.positive_int, default=None,
                        help=f"steps of the {NUM_ENVS} lakes (default {STEPS}, {STEPS_FAST} with --fast)")
    parser.add_argument("--eval-episodes", type=runtime.positive_int, default=None,
                        help=f"episodes to measure success (default {EVAL_EPISODES}, {EVAL_EPISODES_FAST} with --fast)")
    args = runtime.parse_args(parser, argv)
    steps = args.steps if args.steps is not None else (STEPS_FAST if args.fast else STEPS)
    episodes = (args.eval_episodes if args.eval_episodes is not None
                else EVAL_EPISODES_FAST if args.fast else EVAL_EPISODES)
    rng = np.random.default_rng(args.seed)

    slippery_model = lake_model(slippery=True)
    optimum, _ = value_iteration(slippery_model, TIME_LIMIT)
    optimum_no_limit, best_policy = value_iteration(slippery_model, None)
    runtime.say(args, f"value iteration on the slippery lake: best success {optimum[0]:.4f} within "
                      f"{TIME_LIMIT} steps, {optimum_no_limit[0]:.4f} without a limit")

    check_your_functions()
    network, network_curve, td_losses = train_network(True, steps, args, rng)
    table, table_curve = train_table(True, steps, args, rng)
    policy, table_policy = greedy_policy(network), table.argmax(axis=1)
    network_success = success_rate(policy, True, episodes, seed=args.seed + 10_000)
    table_success = success_rate(table_policy, True, episodes, seed=args.seed + 20_000)
    runtime.say(args, f"slippery lake, {episodes} episodes: Q-network {network_success:.4f}, "
                      f"table {table_success:.4f}, optimum {optimum[0]:.4f} "
                      f"(ratio {network_success / optimum[0]:.3f})")

    calm_network, _, _ = train_network(False, min(steps, CALM_STEPS), args, rng)
    calm_policy = greedy_policy(calm_network)
    calm_success = success_rate(calm_policy, False, 100, seed=args.seed + 30_000)
    runtime.say(args, f"non-slippery lake: the Q-network's greedy policy succeeds in {calm_success:.0%} of episodes")

    terminal = slippery_model[2]
    all_states = tf.range(NUM_STATES)
    q_table = q_values(network, all_states).numpy()  # (16, 4): the network read as a table
    plot_policies(args, [
        (q_table.max(axis=1), policy, terminal,
         f"Q-network, slippery: max_a Q(s, a)\nsuccess {network_success:.3f}"),
        (optimum_no_limit, best_policy, terminal,
         f"value iteration, slippery: best success\nprobability from each state ({optimum[0]:.3f} in 100 steps)"),
        (q_values(calm_network, all_states).numpy().max(axis=1), calm_policy, terminal,
         f"Q-network, non-slippery: max_a Q(s, a)\nsuccess {calm_success:.2f}"),
    ])
    plot_success(args, {"Q-network": network_curve, "table": table_curve}, float(optimum[0]),
                 {"Q-network": network_success, "table": table_success})
    return {
        "success_rate": network_success,
        "success_ratio_to_optimum": network_success / float(optimum[0]),
        "exact_success": exact_success(policy, slippery_model),
        "tabular_success_rate": table_success,
        "non_slippery_success_rate": calm_success,
        "optimal_success": float(optimum[0]),
        "optimal_success_no_limit": float(optimum_no_limit[0]),
        "eval_episodes": episodes,
        # The evidence: the checker computes these policies' exact chances of success itself.
        "greedy_policy": policy,
        "non_slippery_policy": calm_policy,
        # For the diagnosis: Q(s, a) on the slippery lake (a discounted chance of success, so in
        # [0, 1]) and the loss of every training step (NaN, where it appeared).
        "q_table": q_table,
        "td_loss_curve": td_losses,
    }


if __name__ == "__main__":
    runtime.print_metrics(main())
