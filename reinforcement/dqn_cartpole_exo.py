# %% [markdown]
"""
Title: Deep Q-learning (DQN) on CartPole

Chapter: reinforcement (seminar slides 87-97)

Teaches: Q-learning with a multilayer Q-network on a continuous state (slide 96), experience
    replay, a target network, double-DQN targets, the Huber loss, epsilon-greedy exploration.

Run time: about 35 s (20 s with --fast) on 2 CPU cores, once TensorFlow has loaded.

Task: balance a pole on a cart (gymnasium's CartPole-v1: 1 point per step, at most 500). Fill in
the four functions marked TODO: the Q-network, the epsilon-greedy choice of actions, the TD
targets and the training step. The greedy policy must average at least 195 over 20 new episodes
after the fast run (475 after the full run). Check your work with

    python -m seminar check reinforcement/dqn_cartpole
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import keras
import numpy as np
import tensorflow as tf

from seminar import reinforcement, runtime

# %% Settings

OBSERVATION_SIZE = 4  # cart position, cart velocity, pole angle, pole angular velocity
NUM_ACTIONS = 2  # push the cart left or right
GAMMA = 0.99  # a horizon of about 100 steps: long enough to see a fall coming
HIDDEN_UNITS = 256  # two hidden layers of 256 (rl-baselines3-zoo's tuned CartPole DQN)
NUM_ENVS = 16  # carts played side by side: one network call chooses the actions of all 16
# Environment transitions of the whole run: the full run solves CartPole (475), the fast one gets
# well past 195.
TRANSITIONS = 100_000
TRANSITIONS_FAST = 50_000
# Experience replay: the whole run's transitions; learning starts once 1000 are stored. Uniform
# mini-batches break the correlation of consecutive steps that makes online Q-learning unstable.
REPLAY_CAPACITY = 100_000
LEARNING_STARTS = 1000
# Every 256 new transitions, a round of 64 gradient steps on mini-batches of 128 in one graph call
# (a call costs about 1 ms whatever it does): a quarter of a step per transition. The target
# network is refreshed before every round, so the targets stand still within one.
TRAIN_EVERY = 256
UPDATES_PER_ROUND = 64
BATCH_SIZE = 128
# Adam's step falls linearly from 2.3e-3 (rl-zoo's) to 0 over the run: large steps learn fast
# early, small ones keep a good greedy policy from being trained away late.
LEARNING_RATE = 2.3e-3
GRADIENT_CLIP_NORM = 10.0  # a rare huge TD error cannot throw the network far
# Exploration: epsilon falls linearly from 1 to 0.02 over the first 10% of the run.
EPSILON_START = 1.0
EPSILON_END = 0.02
EPSILON_DECAY_FRACTION = 0.1
# The reported score: episodes of their own seeds, never played in training or in choosing the
# kept weights (the selection's evaluations are in seminar/reinforcement.py).
FINAL_EPISODES = 20
FINAL_SEED_OFFSET = 1_000_000


# %% The Q-network, the policy and the learning step


def build_q_network(observation_size: int, num_actions: int, hidden_units: int) -> keras.Model:
    """A multilayer Q-network: observations (batch, observation_size) in, one value per action
    (batch, num_actions) out. Two hidden ReLU layers; the output layer is linear, since action
    values are any real numbers (here between 0 and about 100)."""
    # TODO: Return a network from observations (batch, observation_size) to one value per action
    #   (batch, num_actions): two hidden ReLU layers of hidden_units each, then a linear output.
    raise NotImplementedError('TODO in build_q_network() (for a hint: python -m seminar hint reinforcement/dqn_cartpole)')


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
    max of noisy estimates is biased upwards). ``terminated`` (batch,) is 1.0 where the pole fell or
    the cart left the track: nothing follows, the target is the reward alone. A truncated episode
    (500 steps) is not terminated.
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
    (train() runs this inside a tf.function: use TensorFlow ops only.)
    """
    # TODO: With TD targets from both networks held fixed (discount GAMMA), take one optimizer
    #   step on the Q-network's variables only, down the Huber loss between the taken action's
    #   Q(s, a) (not every action's) and its target. Return the loss.
    raise NotImplementedError('TODO in train_step() (for a hint: python -m seminar hint reinforcement/dqn_cartpole)')


# %% Training


def train(run, transitions: int, seed: int, rng: np.random.Generator):
    """DQN on NUM_ENVS carts for ``transitions`` transitions. Returns the Q-network, holding the
    best weights the greedy evaluations found, the run's log (episodes, evaluations) and the mean
    TD loss of every round of gradient steps."""
    q_network = build_q_network(OBSERVATION_SIZE, NUM_ACTIONS, HIDDEN_UNITS)
    target_network = build_q_network(OBSERVATION_SIZE, NUM_ACTIONS, HIDDEN_UNITS)
    target_network.set_weights(q_network.get_weights())
    steps = max(1, transitions // NUM_ENVS)
    # The step size falls linearly (PolynomialDecay's default power is 1) to 0 over the run's gradient steps.
    decay_steps = max(1, transitions * UPDATES_PER_ROUND // TRAIN_EVERY)
    schedule = keras.optimizers.schedules.PolynomialDecay(LEARNING_RATE, decay_steps, end_learning_rate=0.0)
    optimizer = keras.optimizers.Adam(schedule, global_clipnorm=GRADIENT_CLIP_NORM)

    act = tf.function(lambda states: q_network(states), reduce_retracing=True)  # Q(s, .) of a batch

    @tf.function(reduce_retracing=True)
    def train_round(states, actions, rewards, next_states, terminated) -> tf.Tensor:
        """train_step on each of a stack of mini-batches (first axis) in one graph call: the mean loss."""
        total, count = tf.constant(0.0), tf.shape(actions)[0]
        for k in tf.range(count):
            total += train_step(q_network, target_network, optimizer, states[k], actions[k],
                                rewards[k], next_states[k], terminated[k])
        return total / tf.cast(count, tf.float32)

    buffer = reinforcement.ReplayBuffer(REPLAY_CAPACITY, OBSERVATION_SIZE)
    log = reinforcement.CartPoleLog(run, q_network, steps, NUM_ENVS, seed)
    carts = reinforcement.make_carts(NUM_ENVS)
    states, _ = carts.reset(seed=seed)
    just_reset = np.zeros(NUM_ENVS, dtype=bool)
    since_training, td_losses = 0, []
    for step in range(steps):
        epsilon = max(EPSILON_END,
                      EPSILON_START - (EPSILON_START - EPSILON_END) * step / (EPSILON_DECAY_FRACTION * steps))
        actions = epsilon_greedy(act(states).numpy(), epsilon, rng)
        next_states, rewards, terminated, truncated, _ = carts.step(actions)
        # A cart whose episode ended at the previous step was only reset by this one: no transition.
        keep = ~just_reset
        buffer.add(states[keep], actions[keep], rewards[keep], next_states[keep], terminated[keep])
        since_training += int(keep.sum())
        just_reset = terminated | truncated
        states = next_states

        if buffer.size >= LEARNING_STARTS and since_training >= TRAIN_EVERY:
            since_training = 0
            target_network.set_weights(q_network.get_weights())
            td_losses.append(float(train_round(*buffer.sample(rng, UPDATES_PER_ROUND, BATCH_SIZE))))
        # The episodes' returns; now and then the greedy policy evaluated and a progress line.
        log.step(step, epsilon, kept=keep, rewards=rewards, ended=just_reset)
    carts.close()
    q_network.set_weights(log.best_weights)
    return q_network, log, td_losses


# %% Main


def main(argv=None) -> dict:
    parser = runtime.make_parser("reinforcement/dqn_cartpole", __doc__)
    parser.add_argument("--transitions", type=runtime.positive_int, default=None,
                        help=f"environment transitions (default {TRANSITIONS}, {TRANSITIONS_FAST} with --fast)")
    args = runtime.parse_args(parser, argv)
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)
    transitions = args.transitions or (TRANSITIONS_FAST if args.fast else TRANSITIONS)
    rng = np.random.default_rng(args.seed)

    q_network, log, td_losses = train(run, transitions, args.seed, rng)
    final = reinforcement.greedy_returns(q_network, FINAL_EPISODES, seed=args.seed + FINAL_SEED_OFFSET)
    runtime.say(run, f"greedy policy on {FINAL_EPISODES} new episodes: mean return {final.mean():.1f} (min "
                     f"{final.min():.0f}, max {final.max():.0f}); training took {log.train_seconds:.0f} s")
    reinforcement.plot_returns(run, log, float(final.mean()), FINAL_EPISODES)
    return {
        "mean_return": float(final.mean()),
        "min_return": float(final.min()),
        "best_evaluation": max(log.greedy_curve, default=float("nan")),
        "training_episodes": len(log.episodes),
        "train_seconds": log.train_seconds,
        "q_network": q_network,  # the kept network: the checker plays its own episodes with it
        # For the diagnosis: the mean TD loss of every round of gradient steps (NaN, where it
        # appeared) and the greedy scores during training.
        "td_loss_curve": td_losses,
        "greedy_curve": log.greedy_curve,
    }


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
