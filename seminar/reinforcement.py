"""What the reinforcement lessons stand on, so that each lesson shows only what the student learns
(the Q-network, the TD target, the training step and the loop):

- FrozenLake: the lakes (gymnasium), their exact model and value iteration (the optimum a policy is
  judged against), a policy's exact and simulated chance of success, the tabular baseline, the
  log of a run (the greedy policy's success curve and a progress line), the plots;
- CartPole: the carts, the replay buffer, the greedy policy's evaluation, the log of a DQN run (the
  training episodes' returns, the greedy policy evaluated during training with its best weights
  kept, a progress line at each evaluation, TensorBoard, the training time), the plot.
"""

from __future__ import annotations

import dataclasses
import time

import gymnasium as gym
import numpy as np
import tensorflow as tf

from seminar import plots, runtime

# ==================================================================================== FrozenLake

LAKE_STATES = 16  # the 4x4 lake, states numbered row by row: state = 4 * row + column
LAKE_ACTIONS = 4  # 0 = left, 1 = down, 2 = right, 3 = up
LAKE_TIME_LIMIT = 100  # gymnasium ends (truncates) a FrozenLake-v1 episode after 100 steps
RECORD_EVERY = 50  # loop steps between two points of a run's success curve
ARROWS = {0: (-1, 0), 1: (0, 1), 2: (1, 0), 3: (0, -1)}  # (column, row) moves of each action


def make_lake(slippery: bool) -> gym.Env:
    return gym.make("FrozenLake-v1", map_name="4x4", is_slippery=slippery)


def make_lakes(slippery: bool, num_envs: int) -> gym.vector.VectorEnv:
    """``num_envs`` lakes stepped together. After an episode ends, the next ``step`` resets that
    lake (gymnasium's default "next step" autoreset) and returns its start state."""
    return gym.make_vec("FrozenLake-v1", num_envs=num_envs, vectorization_mode="sync",
                        map_name="4x4", is_slippery=slippery)


# ------------------------------------------------------------------ the exact model and the optimum


def lake_model(slippery: bool):
    """The environment's own transition table ``env.unwrapped.P`` as arrays: transition
    probabilities T (16, 4, 16), expected rewards R (16, 4), and which states end an episode
    (holes and the goal), (16,)."""
    env = make_lake(slippery)
    transitions = np.zeros((LAKE_STATES, LAKE_ACTIONS, LAKE_STATES))
    rewards = np.zeros((LAKE_STATES, LAKE_ACTIONS))
    for state, by_action in env.unwrapped.P.items():
        for action, outcomes in by_action.items():
            for probability, next_state, reward, _ in outcomes:
                transitions[state, action, next_state] += probability
                rewards[state, action] += probability * reward
    terminal = np.isin(env.unwrapped.desc.ravel(), [b"H", b"G"])
    env.close()
    return transitions, rewards, terminal


def value_iteration(model, horizon: int | None = LAKE_TIME_LIMIT):
    """The best chance of reaching the goal within ``horizon`` steps (no limit for ``None``), by
    dynamic programming over the steps left: V_k(s) = max_a R(s, a) + sum_s' T(s, a, s') V_k-1(s').

    Returns V (16,), the best success probability from each state, and the best action in each
    state with ``horizon`` steps to go (16,).
    """
    transitions, rewards, terminal = model
    values = np.zeros(LAKE_STATES)
    for _ in range(horizon if horizon is not None else 100_000):
        q = rewards + transitions @ np.where(terminal, 0.0, values)  # (16, 4)
        new_values = np.where(terminal, 0.0, q.max(axis=1))
        if horizon is None and np.abs(new_values - values).max() < 1e-13:
            break
        values = new_values
    return values, np.where(terminal, 0, q.argmax(axis=1))


def exact_success(policy: np.ndarray, model, horizon: int = LAKE_TIME_LIMIT) -> float:
    """The probability that ``policy`` (one action per state, (16,)) reaches the goal from the start
    within ``horizon`` steps: the same recursion as value iteration, without the max."""
    transitions, rewards, terminal = model
    states = np.arange(LAKE_STATES)
    values = np.zeros(LAKE_STATES)
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


@dataclasses.dataclass
class LakeOptimum:
    """Value iteration's answer on one lake: what a learned policy is judged against."""

    model: tuple  # (T, R, terminal) from lake_model
    values: np.ndarray  # the best chance of success within 100 steps from each state, (16,)
    values_no_limit: np.ndarray  # the same without a step limit, (16,)
    best_policy: np.ndarray  # the best action of each state without a limit, (16,)

    @property
    def success(self) -> float:
        """The best chance of reaching the goal from the start within 100 steps."""
        return float(self.values[0])

    @property
    def success_no_limit(self) -> float:
        return float(self.values_no_limit[0])

    @property
    def terminal(self) -> np.ndarray:
        return self.model[2]


def lake_optimum(slippery: bool) -> LakeOptimum:
    model = lake_model(slippery)
    values, _ = value_iteration(model, LAKE_TIME_LIMIT)
    values_no_limit, best_policy = value_iteration(model, None)
    return LakeOptimum(model, values, values_no_limit, best_policy)


# ------------------------------------------------------------------ a lake run: its log, the baseline


class LakeLog:
    """What the lake's Q-learning loop reports to, once per step: the exact chance of success of
    the greedy policy every RECORD_EVERY steps (``curve``: (transitions seen, success) pairs), and
    a progress line five times per run (none with ``--quiet``).

    ``greedy_policy()`` returns the learner's current greedy action in each state, (16,).
    """

    def __init__(self, run, name: str, steps: int, greedy_policy, slippery: bool):
        self.run, self.name, self.steps, self.greedy_policy = run, name, steps, greedy_policy
        self.model = lake_model(slippery)
        self.transitions = 0
        self.curve: list[tuple[int, float]] = []
        self._started = time.perf_counter()

    def step(self, step: int, epsilon: float, kept: np.ndarray) -> None:
        """Step ``step`` (from 0) of the loop is done; ``kept`` says which lakes made a transition."""
        self.transitions += int(kept.sum())
        if (step + 1) % RECORD_EVERY == 0 or step + 1 == self.steps:
            self.curve.append((self.transitions, exact_success(self.greedy_policy(), self.model)))
        if (step + 1) % max(1, self.steps // 5) == 0:
            runtime.say(self.run, f"  {self.name}: step {step + 1:5d}/{self.steps}  epsilon {epsilon:.2f}  "
                                  f"greedy success {exact_success(self.greedy_policy(), self.model):.3f}  "
                                  f"({time.perf_counter() - self._started:.0f} s)")


class QTable:
    """The baseline: tabular Q-learning, Q[s, a] += alpha * (target - Q[s, a]) one transition at a
    time, with alpha = 2 * learning rate (the step the one-hot network's gradient makes on its
    weight). It plugs into the lesson's loop as the network does: ``values_of``, ``learn``."""

    def __init__(self, gamma: float):
        self.gamma = gamma
        self.table = np.zeros((LAKE_STATES, LAKE_ACTIONS))

    def values_of(self, states: np.ndarray) -> np.ndarray:
        return self.table[states]

    def learn(self, states, actions, rewards, next_states, terminated, learning_rate) -> None:
        for s, a, r, s_next, done in zip(states, actions, rewards, next_states, terminated):
            target = r + self.gamma * (1.0 - done) * self.table[s_next].max()
            self.table[s, a] += 2.0 * learning_rate * (target - self.table[s, a])

    def greedy_policy(self) -> np.ndarray:
        return self.table.argmax(axis=1)


# ------------------------------------------------------------------ the lake's plots


def draw_lake(ax, values: np.ndarray, policy: np.ndarray, terminal: np.ndarray, title: str):
    """The 4x4 lake coloured by state value, with the policy's arrow in every frozen state."""
    grid = np.where(terminal, np.nan, values).reshape(4, 4)
    image = ax.imshow(grid, cmap="viridis", vmin=0.0, vmax=max(1e-9, float(np.nanmax(grid))))
    for state in range(LAKE_STATES):
        row, column = divmod(state, 4)
        if terminal[state]:
            is_goal = state == LAKE_STATES - 1
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


def plot_policies(run, terminal: np.ndarray, panels):
    """One lake per panel: ``panels`` is a list of (state values (16,), policy (16,), title)."""
    plt = plots.pyplot(run)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.4))
    for ax, (values, policy, title) in zip(axes, panels):
        fig.colorbar(draw_lake(ax, values, policy, terminal, title), ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle("Greedy policies (arrows) and state values (colour, number)")
    return plots.save(fig, run, "policy.png")


def plot_success(run, curves: dict, optimum: float, final: dict, threshold: float = 0.65):
    """The greedy policies' exact success during training (``curves``: name -> LakeLog.curve),
    against value iteration's optimum; ``final``: name -> the simulated final success rate."""
    plt = plots.pyplot(run)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, curve in curves.items():
        x, y = zip(*curve)
        ax.plot(x, y, label=f"{name} (final, simulated: {final[name]:.3f})")
    ax.axhline(optimum, color="black", linestyle="--", label=f"optimum by value iteration: {optimum:.3f}")
    ax.axhline(threshold, color="red", linestyle=":", label=f"threshold {threshold:g}")
    ax.set_xlabel("transitions seen")
    ax.set_ylabel("success probability of the greedy policy")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Slippery lake: success within 100 steps during training")
    return plots.save(fig, run, "success_rate.png")


# ==================================================================================== CartPole

CARTPOLE_MAX_RETURN = 500  # CartPole-v1 stops (truncates) an episode after 500 steps
CARTPOLE_SOLVED = 475  # gymnasium's reward_threshold for CartPole-v1
CARTPOLE_FAST_THRESHOLD = 195  # the fast check's threshold (exercises.toml)
# DQN's greedy policy swings during training: it is evaluated EVALUATIONS times, evenly over the
# run, on EVALUATION_EPISODES episodes played side by side (one network call per step serves them
# all), and the weights of the best evaluation are kept. On 100 episodes rather than 20, a policy
# that drops one episode in twenty no longer ties with a flawless one.
EVALUATIONS = 25
EVALUATION_EPISODES = 100
# Episode seeds (gymnasium's reset(seed=...)): training plays the run's seed, the k-th selection
# evaluation seed + SELECTION_SEED_OFFSET + k, the lesson's final evaluation its own offset, and
# the checker seed + 3 000 000: the reported score never comes from episodes used for training or
# for choosing the weights.
SELECTION_SEED_OFFSET = 10_000


def make_carts(num_envs: int) -> gym.vector.VectorEnv:
    """``num_envs`` CartPoles stepped together. After an episode ends, the next ``step`` resets
    that cart (gymnasium's default "next step" autoreset) and returns its first observation."""
    return gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")


class ReplayBuffer:
    """The last ``capacity`` transitions (s, a, r, s', terminated) in preallocated NumPy arrays,
    overwritten oldest first."""

    def __init__(self, capacity: int, observation_size: int):
        self.capacity, self.size, self.position = capacity, 0, 0
        self.states = np.zeros((capacity, observation_size), np.float32)
        self.actions = np.zeros(capacity, np.int32)
        self.rewards = np.zeros(capacity, np.float32)
        self.next_states = np.zeros((capacity, observation_size), np.float32)
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


def play_greedy(q_values, episodes: int, seed: int) -> np.ndarray:
    """Returns of the greedy policy of ``q_values`` (observations (batch, 4) -> action values) over
    ``episodes`` episodes played side by side: one call per step for all of them. (episodes,)."""
    carts = make_carts(episodes)
    states, _ = carts.reset(seed=seed)
    returns = np.zeros(episodes)
    running = np.ones(episodes, dtype=bool)
    while running.any():
        actions = q_values(states.astype(np.float32)).numpy().argmax(axis=1)
        states, rewards, terminated, truncated, _ = carts.step(actions)
        returns += rewards * running
        running &= ~(terminated | truncated)
    carts.close()
    return returns


def greedy_returns(network, episodes: int, seed: int) -> np.ndarray:
    """Returns of ``network``'s greedy policy over ``episodes`` new episodes, (episodes,)."""
    return play_greedy(tf.function(lambda states: network(states)), episodes, seed)


class CartPoleLog:
    """What DQN's loop reports to, once per environment step: the returns of the training
    episodes as they end (``episodes``: (transitions seen, return) pairs, also to TensorBoard with
    ``--tensorboard``), and every ``steps // EVALUATIONS`` steps an evaluation of the greedy policy
    on new episodes (``evaluations``: (transitions seen, mean return) pairs), whose best weights it
    keeps (``best_weights``), with a progress line (none with ``--quiet``)."""

    def __init__(self, run, network, steps: int, num_envs: int, seed: int):
        self.run, self.network, self.steps, self.seed = run, network, steps, seed
        self.episodes: list[tuple[int, float]] = []
        self.evaluations: list[tuple[int, float]] = []
        self.seen = 0
        self.best_score, self.best_weights = -np.inf, network.get_weights()
        self.train_seconds = 0.0
        self._returns = np.zeros(num_envs)
        self._greedy_values = tf.function(lambda states: network(states), reduce_retracing=True)
        self._writer = runtime.tensorboard_writer(run)
        self._started = time.perf_counter()

    def step(self, step: int, epsilon: float, kept: np.ndarray, rewards: np.ndarray,
             ended: np.ndarray) -> None:
        """Step ``step`` (from 0) of the loop is done: the carts' ``rewards``, which of them made a
        transition (``kept``), whose episode ``ended`` (terminated or truncated). Evaluates the
        greedy policy when it is time."""
        self.train_seconds = time.perf_counter() - self._started
        self.seen += int(kept.sum())
        self._returns += rewards * kept
        for index in np.flatnonzero(ended):
            self.episodes.append((self.seen, self._returns[index]))
            if self._writer is not None:
                with self._writer.as_default():
                    tf.summary.scalar("episode_return", self._returns[index], step=self.seen)
            self._returns[index] = 0.0
        if (step + 1) % max(1, self.steps // EVALUATIONS) != 0:
            return
        # Selection episodes: seeds of their own, never those of training or of the final score.
        seed = self.seed + SELECTION_SEED_OFFSET + len(self.evaluations)
        score = float(play_greedy(self._greedy_values, EVALUATION_EPISODES, seed).mean())
        self.evaluations.append((self.seen, score))
        if score >= self.best_score:  # ties go to the later, better-trained weights
            self.best_score, self.best_weights = score, self.network.get_weights()
        recent = np.mean([r for _, r in self.episodes[-20:]]) if self.episodes else 0.0
        runtime.say(self.run, f"  {self.seen:7d} transitions  episode {len(self.episodes):4d}  "
                              f"epsilon {epsilon:.2f}  return (last 20) {recent:6.1f}  "
                              f"greedy {score:6.1f}  ({time.perf_counter() - self._started:.0f} s)")

    @property
    def greedy_curve(self) -> list[float]:
        return [score for _, score in self.evaluations]


def plot_returns(run, log: CartPoleLog, final_mean: float, final_episodes: int):
    """The training episodes' returns, their running mean and the greedy evaluations."""
    plt = plots.pyplot(run)
    fig, ax = plt.subplots(figsize=(7, 4))
    if log.episodes:
        seen, returns = (np.array(v) for v in zip(*log.episodes))
        ax.plot(seen, returns, ".", markersize=2, alpha=0.4, label="training episodes (epsilon-greedy)")
        window = min(20, len(returns))
        smooth = np.convolve(returns, np.ones(window) / window, mode="valid")
        ax.plot(seen[window - 1:], smooth, label=f"mean of the last {window}")
    if log.evaluations:
        x, y = zip(*log.evaluations)
        ax.plot(x, y, "o-", label=f"greedy policy ({EVALUATION_EPISODES} episodes)")
    ax.axhline(CARTPOLE_SOLVED, color="black", linestyle="--", label=f"solved ({CARTPOLE_SOLVED})")
    ax.axhline(CARTPOLE_FAST_THRESHOLD, color="red", linestyle=":",
               label=f"fast-run threshold ({CARTPOLE_FAST_THRESHOLD})")
    ax.set_xlabel("transitions")
    ax.set_ylabel("episode return")
    ax.set_ylim(0, CARTPOLE_MAX_RETURN + 20)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"DQN on CartPole-v1: kept policy scores {final_mean:.1f} on {final_episodes} new episodes")
    return plots.save(fig, run, "episode_returns.png")
