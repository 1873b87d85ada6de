"""
Title: Deep Q-learning (DQN) on CartPole
Chapter: reinforcement (seminar slides 87-97)
Teaches: Q-learning with a deeper network on a continuous state (slide 96): a multilayer Q-network,
    an experience replay buffer, a target network that holds the TD target still, double-DQN
    targets, epsilon-greedy exploration, the Huber loss, batched tf.function calls instead of one
    call per environment step, and judging the greedy policy on episodes it never trained on nor
    chose its weights on.
Run time: about 35 s (20 s with --fast) on 2 CPU cores, once TensorFlow has loaded.

Task: balance a pole on a cart (gymnasium's CartPole-v1): every step the pole stays up earns 1,
and an episode stops after 500 steps. Fill in the functions marked TODO: the Q-network, the
epsilon-greedy choice of actions, the TD targets computed with the target network, and the
training step. The greedy policy must average at least 195 over 20 new episodes after the fast run
(475, CartPole-v1's "solved" level, after the full run). Before any episode is played, the check
runs your four functions on made-up inputs and names what differs from their docstrings. Check
your work with
    python -m seminar check reinforcement/dqn_cartpole
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

OBSERVATION_SIZE = 4  # cart position, cart velocity, pole angle, pole angular velocity
NUM_ACTIONS = 2  # push the cart left or right
MAX_RETURN = 500  # CartPole-v1 stops (truncates) an episode after 500 steps
SOLVED_RETURN = 475  # gymnasium's reward_threshold for CartPole-v1
GAMMA = 0.99  # a horizon of about 100 steps: long enough to see a fall coming
# Two hidden ReLU layers of 256 units (rl-baselines3-zoo's tuned CartPole DQN): with 128, the
# greedy policy held 475 or more less often late in the fast run (31 of the last 10 evaluations
# of 8 seeds, against 45).
HIDDEN_UNITS = 256
# Carts played side by side: one batched network call chooses the actions of all 16.
NUM_ENVS = 16
# Environment transitions of the whole run (the per-seed results are in exercises.toml).
TRANSITIONS = 100_000
TRANSITIONS_FAST = 50_000
# Experience replay: the last 100 000 transitions (the whole run); learning starts once 1000 are
# stored, and mini-batches are drawn uniformly at random, which breaks the correlation between
# consecutive steps that makes plain online Q-learning unstable.
REPLAY_CAPACITY = 100_000
LEARNING_STARTS = 1000
# Every 256 new transitions, 64 gradient steps on mini-batches of 128 in one tf.function call: a
# quarter of a step per transition. (A call costs about 1 ms whatever it does, so 64 steps per call
# are much cheaper than 64 calls; and a step on 128 transitions costs 0.9 ms against 0.7 ms on 64,
# so this replays as many transitions as rl-zoo's half step on 64 in two thirds of the time.)
TRAIN_EVERY = 256
UPDATES_PER_ROUND = 64
BATCH_SIZE = 128
# The target network is a copy of the Q-network refreshed before every round (every 64 gradient
# steps): within a round the targets stand still, as in supervised regression.
TARGET_SYNC_ROUNDS = 1
# Adam's step size falls linearly from 2.3e-3 towards 0 over the run's gradient steps: large steps
# learn fast early, small ones keep a good greedy policy from being trained away late (at
# rl-zoo's constant 2.3e-3 it still swung between 15 and 500 in the fast run's last fifth).
LEARNING_RATE = 2.3e-3
# The largest norm of a gradient step: a rare huge TD error cannot throw the network far.
GRADIENT_CLIP_NORM = 10.0
# Exploration: epsilon falls linearly from 1 to 0.02 over the first 10% of the run. (Over 16% to
# 0.04, rl-zoo's values, the greedy policy first scored 475 later on 6 of the 8 seeds of 0-19
# slowest to learn.)
EPSILON_START = 1.0
EPSILON_END = 0.02
EPSILON_DECAY_FRACTION = 0.1
# DQN's greedy policy swings during training: it is evaluated 25 times, evenly over the run, on 100
# episodes played side by side, and the weights of the best evaluation are kept. One network call
# per step serves all 100 episodes, so they cost hardly more than 20; and on 20 episodes a policy
# that drops 1 episode in 20 can tie with a flawless one (a full run's kept policy then scored 477).
# The best score is biased upwards (a maximum of noisy scores): the reported score comes from
# FINAL_EPISODES other episodes.
EVALUATIONS = 25
EVALUATION_EPISODES = 100
FINAL_EPISODES = 20
# Episode seeds (gymnasium's reset(seed=...)): training plays seed, the k-th selection evaluation
# seed + SELECTION_SEED_OFFSET + k (k < 2 * EVALUATIONS), the final evaluation seed +
# FINAL_SEED_OFFSET, and seminar's checker its own seed + 3 000 000: the reported score never comes
# from episodes used for training or for choosing the weights.
SELECTION_SEED_OFFSET = 10_000
FINAL_SEED_OFFSET = 1_000_000


# %% Environments


def make_carts(num_envs: int) -> gym.vector.VectorEnv:
    """``num_envs`` CartPoles stepped together. After an episode ends, the next ``step`` resets
    that cart (gymnasium's default "next step" autoreset) and returns its first observation."""
    return gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")


class ReplayBuffer:
    """The last ``capacity`` transitions (s, a, r, s', terminated) in preallocated NumPy arrays,
    overwritten oldest first."""

    def __init__(self, capacity: int):
        self.capacity, self.size, self.position = capacity, 0, 0
        self.states = np.zeros((capacity, OBSERVATION_SIZE), np.float32)
        self.actions = np.zeros(capacity, np.int32)
        self.rewards = np.zeros(capacity, np.float32)
        self.next_states = np.zeros((capacity, OBSERVATION_SIZE), np.float32)
        self.terminated = np.zeros(capacity, np.float32)

    def add(self, states, actions, rewards, next_states, terminated) -> None:
        """Store a batch of transitions, each argument with a first axis of the same length."""
        slots = (self.position + np.arange(len(actions))) % self.capacity
        self.states[slots], self.actions[slots], self.rewards[slots] = states, actions, rewards
        self.next_states[slots], self.terminated[slots] = next_states, terminated
        self.position = (self.position + len(actions)) % self.capacity
        self.size = min(self.size + len(actions), self.capacity)

    def sample(self, rng: np.random.Generator, num_batches: int, batch_size: int):
        """``num_batches`` mini-batches drawn uniformly: arrays of shape (num_batches, batch_size, ...)."""
        index = rng.integers(0, self.size, size=(num_batches, batch_size))
        return (self.states[index], self.actions[index], self.rewards[index],
                self.next_states[index], self.terminated[index])


# %% The Q-network, the policy and the learning step


def build_q_network(observation_size: int, num_actions: int, hidden_units: int) -> keras.Model:
    """A multilayer Q-network: observations (batch, observation_size) in, one value per action
    (batch, num_actions) out. Two hidden ReLU layers; the output layer is linear, since action
    values are any real numbers (here between 0 and about 100)."""
    # TODO: Return a network from observations (batch, observation_size) to one value per action
    #   (batch, num_actions): two hidden ReLU layers of hidden_units each, then a linear output.
    raise NotImplementedError('TODO in build_q_network() (for a hint: python -m seminar hint reinforcement/dqn_cartpole)')


@tf.function(reduce_retracing=True)
def q_values(network: keras.Model, states: tf.Tensor) -> tf.Tensor:
    """Q(s, .) for a batch of observations (batch, 4): one graph call for the whole batch."""
    return network(states)


def epsilon_greedy(q: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """Actions for a batch of states, (batch,) integers: for each row of ``q`` (batch, num_actions),
    a uniformly random action with probability ``epsilon``, else the action of largest value.
    Draw every random number from ``rng``, so that a seed gives the same run."""
    # TODO: For every row on its own: with probability epsilon a uniformly random action among
    #   all num_actions, otherwise that row's best action. Return (batch,) integers.
    raise NotImplementedError('TODO in epsilon_greedy() (for a hint: python -m seminar hint reinforcement/dqn_cartpole)')


def td_targets(rewards: tf.Tensor, next_q_online: tf.Tensor, next_q_target: tf.Tensor,
               terminated: tf.Tensor, gamma: float) -> tf.Tensor:
    """The TD targets ``r + gamma * Q_target(s', a*)`` (batch,), with the target network.

    ``next_q_online`` and ``next_q_target`` are Q(s', .) of the Q-network and of the target network,
    (batch, num_actions). The next action a* is the Q-network's best one, and the target network
    values it (double DQN: the max of the target network alone overestimates the values, since the
    max of noisy estimates is biased upwards; in a first version of this script without the
    best-weights rule, the plain max ended the fast run at 85 and 150 on seeds 0 and 1, where double
    DQN reached 500 on both). ``terminated`` (batch,) is 1.0 where the pole fell or the cart left
    the track: nothing follows, the target is the reward alone. A truncated episode (500 steps) is
    not terminated.
    """
    # TODO: Compute the TD target for every transition, (batch,): the reward, plus the discounted
    #   value the target network gives the Q-network's best next action, and no future value
    #   after a terminal state.
    raise NotImplementedError('TODO in td_targets() (for a hint: python -m seminar hint reinforcement/dqn_cartpole)')


def train_step(q_network: keras.Model, target_network: keras.Model, optimizer: keras.Optimizer,
               states, actions, rewards, next_states, terminated) -> tf.Tensor:
    """One gradient step on a mini-batch from the replay buffer; returns the loss.

    ``states`` and ``next_states`` are (batch, 4) float32, ``actions`` (batch,) int32, ``rewards``
    and ``terminated`` (batch,) float32. The loss is the Huber loss between Q(s, a) and the TD
    targets: quadratic for small errors, linear for large ones, so one surprising transition cannot
    throw the network far. Only the value of the action taken, Q(s, a), is compared with its target.
    Only the Q-network learns, by one step of ``optimizer``; the targets are constants.
    (This runs inside train_rounds, a tf.function: use TensorFlow ops only.)
    """
    # TODO: With TD targets from both networks held fixed (discount GAMMA), take one optimizer
    #   step on the Q-network's variables only, down the Huber loss between the taken action's
    #   Q(s, a) (not every action's) and its target. Return the loss.
    raise NotImplementedError('TODO in train_step() (for a hint: python -m seminar hint reinforcement/dqn_cartpole)')


@tf.function(reduce_retracing=True)
def train_rounds(q_network, target_network, optimizer, states, actions, rewards, next_states,
                 terminated) -> tf.Tensor:
    """``train_step`` on each of a stack of mini-batches (first axis), in one graph call; returns
    the mean loss."""
    total = tf.constant(0.0)
    count = tf.shape(actions)[0]
    for k in tf.range(count):
        total += train_step(q_network, target_network, optimizer, states[k], actions[k],
                            rewards[k], next_states[k], terminated[k])
    return total / tf.cast(count, tf.float32)


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    target.set_weights(source.get_weights())


def check_your_functions() -> None:
    """Run the functions you write once, eagerly, on a small example (throwaway networks): an
    error then points at your line rather than into a traced graph, and a wrong shape is caught
    before training."""
    network = build_q_network(OBSERVATION_SIZE, NUM_ACTIONS, HIDDEN_UNITS)
    states = np.zeros((3, OBSERVATION_SIZE), np.float32)
    shape = tuple(network(states).shape)
    if shape != (3, NUM_ACTIONS):
        raise ValueError(f"build_q_network must map observations (batch, {OBSERVATION_SIZE}) to "
                         f"action values (batch, {NUM_ACTIONS}); for a batch of 3 it gave {shape}")
    actions = np.asarray(epsilon_greedy(np.zeros((3, NUM_ACTIONS)), 0.5, np.random.default_rng(0)))
    if actions.shape != (3,) or not np.isin(actions, np.arange(NUM_ACTIONS)).all():
        raise ValueError(f"epsilon_greedy must return one action in 0..{NUM_ACTIONS - 1} per row, got {actions!r}")
    rewards, terminated = tf.ones(3), tf.constant([0.0, 0.0, 1.0])
    targets = td_targets(rewards, tf.zeros((3, NUM_ACTIONS)), tf.zeros((3, NUM_ACTIONS)), terminated, GAMMA)
    if tuple(targets.shape) != (3,):
        raise ValueError(f"td_targets must return one target per transition, shape (3,), got {tuple(targets.shape)}")
    loss = train_step(network, build_q_network(OBSERVATION_SIZE, NUM_ACTIONS, HIDDEN_UNITS),
                      keras.optimizers.Adam(LEARNING_RATE), states, tf.zeros(3, tf.int32), rewards,
                      states, terminated)
    if tuple(loss.shape) != ():
        raise ValueError(f"train_step must return the loss as a scalar, got shape {tuple(loss.shape)}")


# %% Evaluation


def evaluate(network: keras.Model, episodes: int, seed: int) -> np.ndarray:
    """Returns of the greedy policy over ``episodes`` episodes played side by side: one network call
    per step for all of them. Returns (episodes,) floats."""
    carts = make_carts(episodes)
    states, _ = carts.reset(seed=seed)
    returns = np.zeros(episodes)
    running = np.ones(episodes, dtype=bool)
    while running.any():
        actions = q_values(network, states.astype(np.float32)).numpy().argmax(axis=1)
        states, rewards, terminated, truncated, _ = carts.step(actions)
        returns += rewards * running
        running &= ~(terminated | truncated)
    carts.close()
    return returns


# %% Training


def train(args, transitions: int, rng: np.random.Generator):
    """DQN on NUM_ENVS carts for ``transitions`` transitions. Returns the Q-network (with the best
    evaluated weights), the returns of the training episodes with the transition count at which
    each ended, and the evaluations made during training."""
    q_network = build_q_network(OBSERVATION_SIZE, NUM_ACTIONS, HIDDEN_UNITS)
    target_network = build_q_network(OBSERVATION_SIZE, NUM_ACTIONS, HIDDEN_UNITS)
    copy_weights(q_network, target_network)
    steps = max(1, transitions // NUM_ENVS)
    # The step size decays linearly (PolynomialDecay's default power is 1) to reach 0 after
    # transitions * UPDATES_PER_ROUND / TRAIN_EVERY gradient steps; learning starts after 1000
    # transitions, so the run's last step is taken at a few percent of LEARNING_RATE.
    decay_steps = max(1, transitions * UPDATES_PER_ROUND // TRAIN_EVERY)
    schedule = keras.optimizers.schedules.PolynomialDecay(LEARNING_RATE, decay_steps, end_learning_rate=0.0)
    optimizer = keras.optimizers.Adam(schedule, global_clipnorm=GRADIENT_CLIP_NORM)
    # Adam's moment variables are made now: a tf.function may create variables only the first time
    # it runs, and train_rounds meets a new optimizer every time main() is called.
    optimizer.build(q_network.trainable_variables)
    buffer = ReplayBuffer(REPLAY_CAPACITY)
    writer = runtime.tensorboard_writer(args)

    carts = make_carts(NUM_ENVS)
    states, _ = carts.reset(seed=args.seed)
    just_reset = np.zeros(NUM_ENVS, dtype=bool)
    episode_return = np.zeros(NUM_ENVS)
    episodes, evaluations = [], []  # (transitions, return), (transitions, mean greedy return)
    round_losses = []  # the mean TD loss of every round of gradient steps (the checker reads it)
    best_score, best_weights = -np.inf, q_network.get_weights()
    seen, since_training, rounds_done = 0, 0, 0
    started = time.perf_counter()
    for step in range(steps):
        epsilon = max(EPSILON_END, EPSILON_START - (EPSILON_START - EPSILON_END) * step / (EPSILON_DECAY_FRACTION * steps))
        actions = epsilon_greedy(q_values(q_network, states).numpy(), epsilon, rng)
        next_states, rewards, terminated, truncated, _ = carts.step(actions)
        # A cart whose episode ended at the previous step was only reset by this one: no transition.
        keep = ~just_reset
        buffer.add(states[keep], actions[keep], rewards[keep], next_states[keep], terminated[keep])
        seen += int(keep.sum())
        since_training += int(keep.sum())
        episode_return += rewards * keep
        done = terminated | truncated
        for index in np.flatnonzero(done):
            episodes.append((seen, episode_return[index]))
            if writer is not None:
                with writer.as_default():
                    tf.summary.scalar("episode_return", episode_return[index], step=seen)
            episode_return[index] = 0.0
        just_reset = done
        states = next_states

        if buffer.size >= LEARNING_STARTS and since_training >= TRAIN_EVERY:
            since_training = 0
            if rounds_done % TARGET_SYNC_ROUNDS == 0:
                copy_weights(q_network, target_network)
            batch = buffer.sample(rng, UPDATES_PER_ROUND, BATCH_SIZE)
            round_losses.append(float(train_rounds(q_network, target_network, optimizer, *batch)))
            rounds_done += 1

        if (step + 1) % max(1, steps // EVALUATIONS) == 0:
            # Selection episodes: seeds of their own, never those of the final evaluation.
            score = float(evaluate(q_network, EVALUATION_EPISODES,
                                   seed=args.seed + SELECTION_SEED_OFFSET + len(evaluations)).mean())
            evaluations.append((seen, score))
            if score >= best_score:  # ties go to the later, better-trained weights
                best_score, best_weights = score, q_network.get_weights()
            recent = np.mean([r for _, r in episodes[-20:]]) if episodes else 0.0
            runtime.say(args, f"  {seen:7d} transitions  episode {len(episodes):4d}  epsilon {epsilon:.2f}  "
                              f"return (last 20) {recent:6.1f}  greedy {score:6.1f}  "
                              f"({time.perf_counter() - started:.0f} s)")
    carts.close()
    q_network.set_weights(best_weights)
    return q_network, episodes, evaluations, round_losses


# %% Plot


def plot_returns(args, episodes, evaluations, final_mean: float):
    plt = plots.pyplot(args)
    fig, ax = plt.subplots(figsize=(7, 4))
    if episodes:
        seen, returns = (np.array(v) for v in zip(*episodes))
        ax.plot(seen, returns, ".", markersize=2, alpha=0.4, label="training episodes (epsilon-greedy)")
        window = min(20, len(returns))
        smooth = np.convolve(returns, np.ones(window) / window, mode="valid")
        ax.plot(seen[window - 1:], smooth, label=f"mean of the last {window}")
    if evaluations:
        x, y = zip(*evaluations)
        ax.plot(x, y, "o-", label=f"greedy policy ({EVALUATION_EPISODES} episodes)")
    ax.axhline(SOLVED_RETURN, color="black", linestyle="--", label=f"solved ({SOLVED_RETURN})")
    ax.axhline(195, color="red", linestyle=":", label="fast-run threshold (195)")
    ax.set_xlabel("transitions")
    ax.set_ylabel("episode return")
    ax.set_ylim(0, MAX_RETURN + 20)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"DQN on CartPole-v1: kept policy scores {final_mean:.1f} on {FINAL_EPISODES} new episodes")
    return plots.save(fig, args, "episode_returns.png")


# %% Main


def main(argv=None) -> dict:
    parser = runtime.make_parser(__file__, __doc__)
    parser.add_argument("--transitions", type=runtime.positive_int, default=None,
                        help=f"environment transitions (default {TRANSITIONS}, {TRANSITIONS_FAST} with --fast)")
    args = runtime.parse_args(parser, argv)
    transitions = args.transitions or (TRANSITIONS_FAST if args.fast else TRANSITIONS)
    rng = np.random.default_rng(args.seed)

    check_your_functions()
    started = time.perf_counter()
    q_network, episodes, evaluations, round_losses = train(args, transitions, rng)
    train_seconds = time.perf_counter() - started
    # The reported score: new episodes, seeded apart from training and from the selection above.
    final = evaluate(q_network, FINAL_EPISODES, seed=args.seed + FINAL_SEED_OFFSET)
    runtime.say(args, f"greedy policy on {FINAL_EPISODES} new episodes: mean return {final.mean():.1f} "
                      f"(min {final.min():.0f}, max {final.max():.0f}); training took {train_seconds:.0f} s")
    plot_returns(args, episodes, evaluations, float(final.mean()))
    return {
        "mean_return": float(final.mean()),
        "min_return": float(final.min()),
        "best_evaluation": max((score for _, score in evaluations), default=float("nan")),
        "training_episodes": len(episodes),
        "train_seconds": train_seconds,
        "q_network": q_network,  # the kept network: the checker plays its own episodes with it
        # For the diagnosis: the mean TD loss of every round of gradient steps (NaN, where it
        # appeared) and the greedy scores during training.
        "td_loss_curve": round_losses,
        "greedy_curve": [score for _, score in evaluations],
    }


if __name__ == "__main__":
    runtime.print_metrics(main())
