# %% [markdown]
"""
Title: $title

Chapter: $chapter (seminar slides $slides)

Teaches: a straight line fitted by gradient descent with tf.GradientTape. (The exercise that
    `python -m seminar new` writes: replace it with yours.)

Run time: a few seconds.

Task: fit y = slope * x + intercept to noisy points by gradient descent. Fill in the function
marked TODO: one gradient-descent step on the mean squared error. The fitted slope must come
within 1% of the line the points were drawn around. Check your work with

    python -m seminar check $id
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import numpy as np
import tensorflow as tf

from seminar import plots, runtime

# %% Settings

TRUE_SLOPE = 2.0  # the line the points are drawn around
TRUE_INTERCEPT = -1.0
NUM_POINTS = 1000
NOISE = 0.05  # the points' spread around the line: the fitted slope's standard error is about 0.003
LEARNING_RATE = 0.3  # x in [-1, 1]: a step of 0.3 on the mean loss is stable
STEPS = 300
STEPS_FAST = 100  # the error shrinks by a constant factor a step: 100 steps reach 1e-3


# %% The step


def train_step(x: tf.Tensor, y: tf.Tensor, slope: tf.Variable, intercept: tf.Variable,
               learning_rate: float) -> tf.Tensor:
    """One gradient-descent step on the mean squared error of the line ``slope * x + intercept``
    over the points ``x``, ``y`` (both (n,) float32). Changes both variables in place and returns
    the loss before the step, a scalar."""
    # SOLUTION: Compute the mean squared error of the line on the points where a tape sees it, take
    #   its gradient for both variables, and move each one against it by learning_rate, in place.
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(slope * x + intercept - y))
    gradients = tape.gradient(loss, [slope, intercept])
    for variable, gradient in zip([slope, intercept], gradients):
        variable.assign_sub(learning_rate * gradient)
    return loss
    # END SOLUTION


# %% The picture


def plot_fit(run, x, y, slope: float, intercept: float):
    """The points and the fitted line, drawn to fitted_line.png."""
    plt = plots.pyplot(run)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(x, y, ".", markersize=3, alpha=0.5, label="points")
    ends = np.array([-1.0, 1.0])
    ax.plot(ends, slope * ends + intercept, color="C3", label=f"y = {slope:.3f} x {intercept:+.3f}")
    ax.legend()
    return plots.save(fig, run, "fitted_line.png")


# %% Main


def main(argv=None) -> dict:
    parser = runtime.make_parser("$id", __doc__)
    parser.add_argument("--steps", type=runtime.positive_int, default=None,
                        help=f"gradient steps (default {STEPS}, {STEPS_FAST} with --fast)")
    args = runtime.parse_args(parser, argv)
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)
    steps = args.steps or (STEPS_FAST if args.fast else STEPS)

    rng = np.random.default_rng(args.seed)
    x = rng.uniform(-1.0, 1.0, NUM_POINTS).astype(np.float32)  # (n,)
    y = (TRUE_SLOPE * x + TRUE_INTERCEPT + rng.normal(0.0, NOISE, NUM_POINTS)).astype(np.float32)
    slope, intercept = tf.Variable(0.0), tf.Variable(0.0)
    step = tf.function(train_step)
    losses = [float(step(x, y, slope, intercept, LEARNING_RATE)) for _ in range(steps)]
    runtime.say(run, f"after {steps} steps: y = {float(slope.numpy()):.4f} x "
                     f"{float(intercept.numpy()):+.4f}, loss {losses[-1]:.5f}")
    plot_fit(run, x, y, float(slope.numpy()), float(intercept.numpy()))
    return {"slope": float(slope.numpy()), "intercept": float(intercept.numpy()),
            "final_loss": losses[-1],
            "loss_curve": losses}  # the evidence the checker reads: the loss of every step


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
