"""The same seed gives the same run on one machine (runtime.set_seed seeds Python, NumPy and
TensorFlow and turns on TensorFlow's deterministic kernels). Tested on cheap exercises that use
every source of randomness the chapters use: initial weights, a shuffled tf.data pipeline, NumPy's
generator, a gymnasium environment."""

import pytest

from seminar import manifest
from seminar.grader import checker


@pytest.mark.slow
@pytest.mark.parametrize("exercise_id", [e.id for e in manifest.load().in_chapter("sgd")])
def test_same_seed_same_metrics_twice_in_a_row(exercise_id, tmp_path):
    exercise = manifest.load().get(exercise_id)

    def once(seed, name):
        return checker.run_checks(exercise, exercise.solution_path, seed=seed,
                                  output_dir=tmp_path / name, quiet=True)

    first, second = once(3, "a"), once(3, "b")
    assert first.metrics.keys() == second.metrics.keys()
    timings = {"train_seconds"}
    assert {k: v for k, v in first.metrics.items() if k not in timings} == \
        {k: v for k, v in second.metrics.items() if k not in timings}
    assert [r.value for r in first.results] == [r.value for r in second.results]
    other = once(4, "c")
    assert [r.value for r in other.results] != [r.value for r in first.results], \
        "another seed should give another run"
