"""The reinforcement-learning chapter against references.

FrozenLake: value iteration on the environment's own transition table (seminar/reinforcement.py)
reproduces the known optimum (0.744 within gymnasium's 100-step limit, 14/17 = 0.824 without one),
and the exact success probabilities agree with simulated episodes; the one-layer Q-network on
one-hot states makes exactly the tabular Q-learning update, the one the tabular baseline makes;
the solution's greedy policy comes close to the optimum on the slippery lake, as does the tabular
baseline, and always reaches the goal on the non-slippery one. CartPole: the DQN pieces against
NumPy, and the solution's greedy policy above the threshold.

The fast thresholds were measured on more seeds than the suite runs (one seed each, to keep this
file within a few minutes on 2 cores); the per-seed figures are in exercises.toml.
"""

import numpy as np
import pytest
import tensorflow as tf

from seminar import manifest, reinforcement
from seminar.grader import checker

COURSE = manifest.load()
LAKE = "reinforcement/q_learning_frozen_lake"
CARTPOLE = "reinforcement/dqn_cartpole"


@pytest.fixture(scope="module")
def lake():
    return checker.load_module(COURSE.get(LAKE).solution_path)


@pytest.fixture(scope="module")
def dqn():
    return checker.load_module(COURSE.get(CARTPOLE).solution_path)


# ------------------------------------------------------------------------------------ FrozenLake


def test_value_iteration_reproduces_the_known_optimum():
    model = reinforcement.lake_model(slippery=True)
    within_limit, _ = reinforcement.value_iteration(model, 100)
    no_limit, best_policy = reinforcement.value_iteration(model, None)
    assert within_limit[0] == pytest.approx(0.7442, abs=5e-4)
    assert no_limit[0] == pytest.approx(14 / 17, abs=1e-9)  # 0.8235...
    # The best fixed policy (the one without a limit) loses a little to the time limit.
    assert reinforcement.exact_success(best_policy, model) == pytest.approx(0.7402, abs=5e-4)
    calm, _ = reinforcement.value_iteration(reinforcement.lake_model(slippery=False), 100)
    assert calm[0] == pytest.approx(1.0)
    optimum = reinforcement.lake_optimum(slippery=True)  # what the lesson reads
    assert (optimum.success, optimum.success_no_limit) == (within_limit[0], no_limit[0])


@pytest.mark.slow
def test_exact_success_agrees_with_simulated_episodes():
    """The DP on env.unwrapped.P and gymnasium's own episodes describe the same lake."""
    model = reinforcement.lake_model(slippery=True)
    _, best_policy = reinforcement.value_iteration(model, None)
    rng = np.random.default_rng(0)
    for policy in (best_policy, rng.integers(0, 4, size=16)):
        exact = reinforcement.exact_success(policy, model)
        simulated = reinforcement.success_rate(policy, True, 2000, seed=123)
        standard_error = np.sqrt(max(exact * (1 - exact), 1e-4) / 2000)
        assert abs(simulated - exact) < 4 * standard_error, (exact, simulated)


def test_q_learning_targets_stop_at_the_end_of_an_episode(lake):
    rewards = tf.constant([0.0, 1.0, 0.0])
    next_q = tf.constant([[0.1, 0.5, 0.2, 0.0], [0.3, 0.3, 0.9, 0.1], [0.0, 0.0, 0.0, 0.4]])
    terminated = tf.constant([0.0, 1.0, 0.0])
    targets = lake.q_learning_targets(rewards, next_q, terminated, 0.9).numpy()
    np.testing.assert_allclose(targets, [0.9 * 0.5, 1.0, 0.9 * 0.4], rtol=1e-6)


def test_the_one_hot_network_makes_the_tabular_update(lake):
    """One gradient step on slide 94's loss moves W[s, a] by 2 * rate * TD error, like the table
    of the tabular baseline."""
    network = lake.build_q_network(16, 4)
    before = network.get_weights()[0].copy()  # (16, 4): W[s, a] = Q(s, a)
    states, actions = np.array([0, 4, 14]), np.array([1, 0, 2])
    rewards, next_states, terminated = np.array([0.0, 0.0, 1.0]), np.array([4, 8, 15]), np.array([0.0, 0.0, 1.0])
    rate = 0.05
    lake.train_step(network, tf.constant(states, tf.int32), tf.constant(actions, tf.int32),
                    tf.constant(rewards, tf.float32), tf.constant(next_states, tf.int32),
                    tf.constant(terminated, tf.float32), tf.constant(rate, tf.float32))
    expected = before.copy()
    for s, a, r, s_next, done in zip(states, actions, rewards, next_states, terminated):
        target = r + lake.GAMMA * (1 - done) * before[s_next].max()
        expected[s, a] += 2 * rate * (target - before[s, a])
    np.testing.assert_allclose(network.get_weights()[0], expected, rtol=1e-5, atol=1e-7)
    table = reinforcement.QTable(lake.GAMMA)
    table.table = before.astype(np.float64)
    table.learn(states, actions, rewards, next_states, terminated, rate)
    np.testing.assert_allclose(table.table, expected, rtol=1e-5, atol=1e-7)


def test_frozen_lake_solution_comes_close_to_value_iteration(solution_run):
    result, output_dir = solution_run(LAKE)
    metrics = result.metrics
    assert metrics["optimal_success"] == pytest.approx(0.7442, abs=5e-4)
    assert metrics["optimal_success_no_limit"] == pytest.approx(14 / 17, abs=1e-6)
    assert metrics["eval_episodes"] >= 1000
    # The greedy policy of the network, and the tabular baseline's, against the optimum.
    assert metrics["success_rate"] >= 0.65
    assert metrics["exact_success"] >= 0.9 * metrics["optimal_success"]
    assert metrics["tabular_success_rate"] >= 0.65
    assert metrics["non_slippery_success_rate"] == 1.0
    for name in ("policy.png", "success_rate.png"):
        assert (output_dir / name).stat().st_size > 10_000


@pytest.mark.slow
def test_frozen_lake_same_seed_same_metrics(tmp_path):
    exercise = COURSE.get(LAKE)
    short = ("--steps", "100", "--eval-episodes", "100")
    first = checker.run_checks(exercise, exercise.solution_path, output_dir=tmp_path / "a", quiet=True,
                               extra_args=short)
    again = checker.run_checks(exercise, exercise.solution_path, output_dir=tmp_path / "b", quiet=True,
                               extra_args=short)
    assert first.metrics == again.metrics


# -------------------------------------------------------------------------------------- CartPole


def test_double_dqn_targets_match_numpy(dqn):
    rng = np.random.default_rng(0)
    rewards = np.ones(5, np.float32)
    online, target = rng.normal(size=(5, 2)).astype(np.float32), rng.normal(size=(5, 2)).astype(np.float32)
    terminated = np.array([0, 1, 0, 0, 1], np.float32)
    got = dqn.td_targets(tf.constant(rewards), tf.constant(online), tf.constant(target),
                         tf.constant(terminated), 0.99).numpy()
    wanted = rewards + 0.99 * (1 - terminated) * target[np.arange(5), online.argmax(axis=1)]
    np.testing.assert_allclose(got, wanted, rtol=1e-6)


@pytest.mark.parametrize("where", ["the DQN solution", "the FrozenLake solution"])
def test_epsilon_greedy_explores_at_the_rate_asked(dqn, lake, where):
    epsilon_greedy = (dqn if where == "the DQN solution" else lake).epsilon_greedy
    rng = np.random.default_rng(0)
    q = np.tile(np.array([[0.0, 1.0]]), (20_000, 1))
    assert (epsilon_greedy(q, 0.0, rng) == 1).all()
    # With epsilon = 0.2, a random action is the worse one half of the time: 10% of the rows.
    assert np.mean(epsilon_greedy(q, 0.2, rng) == 0) == pytest.approx(0.1, abs=0.01)
    assert np.mean(epsilon_greedy(q, 1.0, rng) == 0) == pytest.approx(0.5, abs=0.02)


def test_replay_buffer_keeps_the_latest_transitions():
    buffer = reinforcement.ReplayBuffer(capacity=5, observation_size=4)
    for start in (0, 3, 6):  # 9 transitions through 5 slots
        index = np.arange(start, start + 3)
        states = np.repeat(index[:, None], 4, axis=1)
        buffer.add(states, index % 2, index, states + 0.5, np.zeros(3))
    assert buffer.size == 5
    assert sorted(buffer.rewards.tolist()) == [4.0, 5.0, 6.0, 7.0, 8.0]
    states, actions, rewards, next_states, terminated = buffer.sample(np.random.default_rng(0), 3, 4)
    assert states.shape == (3, 4, 4) and actions.shape == (3, 4)
    np.testing.assert_array_equal(states[..., 0], rewards)
    np.testing.assert_array_equal(next_states[..., 3], rewards + 0.5)
    np.testing.assert_array_equal(actions, rewards % 2)


def test_dqn_solution_balances_the_pole(solution_run):
    result, output_dir = solution_run(CARTPOLE)
    assert result.metrics["mean_return"] >= 195  # the solution's own 20 final episodes
    # ... and the checker's 20 episodes, played with the returned Q-network on seeds of its own.
    assert result.passed, "\n".join(r.line() for r in result.results)
    assert (output_dir / "episode_returns.png").stat().st_size > 10_000


@pytest.mark.slow
def test_dqn_reports_episodes_it_never_trained_or_selected_on(dqn, monkeypatch, tmp_path):
    """Training, the evaluations that choose the kept weights, and the final evaluation that gives
    the reported score each play episodes of their own seeds."""
    seeds = []
    real_play = reinforcement.play_greedy

    def recording_play(q_values, episodes, seed):
        seeds.append(seed)
        return real_play(q_values, episodes, seed)

    monkeypatch.setattr(reinforcement, "play_greedy", recording_play)
    metrics = dqn.main(["--transitions", "1500", "--seed", "3", "--quiet", "--output-dir", str(tmp_path)])
    *selection, final = seeds  # main's final evaluation comes after all those of train()
    assert len(selection) >= reinforcement.EVALUATIONS
    assert len(set(selection)) == len(selection) and final not in selection
    assert 3 not in seeds  # the training carts' seed
    assert isinstance(metrics["q_network"], tf.keras.Model)


@pytest.mark.parametrize("transitions", ["0", "-5"])
def test_dqn_refuses_a_run_without_transitions(dqn, tmp_path, transitions):
    with pytest.raises(SystemExit):
        dqn.main(["--transitions", transitions, "--quiet", "--output-dir", str(tmp_path)])


@pytest.mark.slow
def test_dqn_same_seed_same_metrics(tmp_path):
    exercise = COURSE.get(CARTPOLE)
    short = ("--transitions", "1500")
    first = checker.run_checks(exercise, exercise.solution_path, output_dir=tmp_path / "a", quiet=True,
                               extra_args=short)
    again = checker.run_checks(exercise, exercise.solution_path, output_dir=tmp_path / "b", quiet=True,
                               extra_args=short)
    def drop_time(metrics):
        return {k: v for k, v in metrics.items() if k != "train_seconds"}
    assert drop_time(first.metrics) == drop_time(again.metrics)
