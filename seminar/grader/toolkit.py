"""What the grading modules (``grading/CHAPTER/NAME.py``) share: small comparisons that turn what
a student's function returned into a :class:`Finding`, a likely cause in plain words with its
evidence, or ``None`` when all is well.

- values: :func:`shape_finding`, :func:`value_finding` (with the known mistakes named),
  :func:`logits_finding` and :func:`relu_logits_finding`, :func:`tensor_finding`;
- calls: :func:`call_finding` turns the error of a call on the checker's input into a finding;
- training: :func:`run_steps` and :func:`step_findings` (a few steps from a known start),
  :func:`overfit_finding` (64 examples learned by heart), :func:`compiled_step` (the student's
  step compiled as ``main()`` compiles it), :func:`keras_overfit_losses`;
- Keras models: :func:`model_finding`, :func:`run_model`, :func:`classifier_findings`,
  :func:`dropout_finding`, :func:`named_variables`, :func:`dense_network`.

The NumPy references are in :mod:`seminar.grader.references`.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np

from seminar.grader.findings import Finding
from seminar.grader.grading import Context, EvidenceError  # noqa: F401  (for the grading modules)
from seminar.grader.references import probability_cross_entropy, softmax_cross_entropy


# ---------------------------------------------------------------------------- words for values


def as_array(value) -> np.ndarray:
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float64)


def short(values) -> str:
    """The first four numbers of an array, for evidence."""
    flat = np.asarray(values).ravel()
    text = np.array2string(flat[:4], precision=4, separator=", ")
    return text[:-1] + ", ...]" if flat.size > 4 else text


def describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def kind(value) -> str:
    """Plain words for what a value that should have been a tensor is."""
    if value is None:
        return "None (is the return statement missing?)"
    if isinstance(value, (np.ndarray, np.generic)):
        return f"a NumPy {'array' if isinstance(value, np.ndarray) else 'number'}"
    if isinstance(value, (str, bytes, int, float, bool, list, tuple)):
        return f"a Python {type(value).__name__}"
    return f"a {type(value).__module__}.{type(value).__name__}"


def error_text(error: BaseException, limit: int = 300) -> str:
    """An error's type and whole message on one line, without Keras's terminal colour codes."""
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(error)).split())
    return f"{type(error).__name__}: {text[:limit]}{' ...' if len(text) > limit else ''}"


def last_line(error: BaseException, limit: int = 240) -> str:
    """An error's type and the last line of its message: TensorFlow wraps an error raised while
    tracing ("in user code: ..."), and its last line says what went wrong."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {(lines[-1] if lines else '')[:limit]}"


def is_unfilled_todo(error: BaseException) -> bool:
    return isinstance(error, NotImplementedError) and "TODO in " in str(error)


# ---------------------------------------------------------------------------- values


def shape_finding(function: str, got, want: tuple, what: str = "result") -> Finding | None:
    """A result of the wrong shape, with the (n,) - (n, 1) broadcast named when it is that."""
    got_shape = tuple(np.shape(as_array(got)))
    if got_shape == tuple(want):
        return None
    n = want[0] if want else None
    evidence = f"{function} returned shape {got_shape}, the docstring asks for {tuple(want)}"
    if n and n > 1 and got_shape == (n, n):
        return Finding(f"a shape broadcast in {function}(): a (n,) tensor combined with a (n, 1) "
                       f"one gives an (n, n) table of every pair", evidence,
                       "make both operands the same shape (tf.reshape, or index [:, 0]) before "
                       "subtracting or multiplying")
    if got_shape == tuple(want) + (1,) or got_shape + (1,) == tuple(want):
        return Finding(f"{function}() returns an extra or missing axis of length 1", evidence,
                       "the docstring gives the shape; reshape or squeeze to it")
    if len(want) == 0 and len(got_shape) == 1:
        return Finding(f"{function}() returns one value per example, not their mean", evidence,
                       "average over the batch")
    return Finding(f"{function}() returns a {what} of the wrong shape", evidence)


def value_finding(function: str, got, want, *, rtol: float = 1e-3, atol: float = 1e-5,
                  wrong: dict | None = None, expected: str = "") -> Finding | None:
    """``got`` compared with the reference ``want``. ``wrong`` maps a plain-words cause to the value
    a known mistake would give; the first that matches is named."""
    got_values, want_values = as_array(got), as_array(want)
    if got_values.shape != want_values.shape:
        return shape_finding(function, got, want_values.shape)
    if not np.all(np.isfinite(got_values)) and np.all(np.isfinite(want_values)):
        return Finding(f"{function}() returns NaN or infinity on ordinary inputs",
                       f"got {short(got_values)}; expected {short(want_values)}",
                       "a log of 0, a division by 0, or a softmax computed by hand overflows; "
                       "use TensorFlow's fused op on logits")
    if np.allclose(got_values, want_values, rtol=rtol, atol=atol):
        return None
    for cause, value in (wrong or {}).items():
        candidate = as_array(value)
        if candidate.shape == got_values.shape and np.allclose(got_values, candidate, rtol=rtol,
                                                               atol=atol):
            return Finding(cause, f"{function}() gave {short(got_values)}; expected "
                                  f"{short(want_values)}")
    return Finding(f"{function}() does not compute what its docstring says" +
                   (f" ({expected})" if expected else ""),
                   f"on the checker's small inputs it gave {short(got_values)}; expected "
                   f"{short(want_values)}")


def logits_finding(function: str, outputs, *, classes_axis: int = -1) -> Finding | None:
    """Outputs that must be logits but look like probabilities: softmax rows summing to 1, or
    every value in [0, 1] (a sigmoid)."""
    values = as_array(outputs)
    if values.size == 0 or not np.all(np.isfinite(values)):
        return None
    if values.ndim >= 2 and values.shape[classes_axis] > 1 and np.all(values >= 0):
        sums = values.sum(axis=classes_axis)
        if np.allclose(sums, 1.0, atol=1e-4):
            return Finding(f"softmax applied to the logits in {function}()",
                           f"every row of {function}'s output sums to 1 (the first row: "
                           f"{np.round(values[0], 3).tolist()})",
                           "return the raw scores: the loss applies the softmax itself, from "
                           "logits, and argmax does not need it")
    if np.all((values >= 0) & (values <= 1)) and np.ptp(values) > 0:
        return Finding(f"a sigmoid (or softmax) applied to what must be logits in {function}()",
                       f"all {values.size} outputs lie in [0, 1] (min {values.min():.3g}, max "
                       f"{values.max():.3g}) although the weights were random",
                       "return the raw scores: the loss function takes logits")
    return None


def relu_logits_finding(function: str, outputs) -> Finding | None:
    """Logits that are never negative, with exact zeros among them: a ReLU on the output layer
    (random weights give about half of them exactly 0)."""
    values = as_array(outputs)
    if values.size < 20 or not np.all(np.isfinite(values)) or np.any(values < 0):
        return None
    zeros = float(np.mean(values == 0))
    if zeros <= 0.05:
        return None
    return Finding(f"a ReLU applied to the output layer in {function}(): logits must be free to be "
                   f"negative", f"all {values.size} outputs are >= 0 and {zeros:.0%} of them "
                   f"exactly 0, although the weights were random",
                   "the last layer has no activation (no activation=\"relu\")")


def tensor_finding(function: str, value, dtype=None, shape: tuple | None = None,
                   what: str = "its result") -> Finding | None:
    """``value`` must be a TensorFlow tensor (or variable) of ``dtype`` and ``shape``."""
    import tensorflow as tf

    if not tf.is_tensor(value):
        return Finding(f"{function}() returns {kind(value)} as {what}, not a TensorFlow tensor",
                       f"got {describe(value)}",
                       "build the value with TensorFlow operations: NumPy and plain Python values "
                       "cannot be part of a TensorFlow graph")
    if dtype is not None and value.dtype != dtype:
        return Finding(f"{function}() returns {what} with dtype {value.dtype.name}, the docstring "
                       f"asks for {dtype.name}", f"got {describe(value)}",
                       "give the dtype when the tensor is made, or convert it")
    if shape is not None and tuple(value.shape) != tuple(shape):
        return Finding(f"{function}() returns {what} of shape {tuple(value.shape)}, the docstring "
                       f"asks for {tuple(shape)}", f"got {describe(value)}")
    return None


# ---------------------------------------------------------------------------- calls


def gradient_finding(function: str, error: BaseException, inputs: str = "",
                     fix: str = "") -> Finding | None:
    """The errors TensorFlow and Keras raise when no gradient reaches a variable (the forward pass
    outside the tape, or from copies of the variables), as a finding; None for any other error."""
    message = str(error)
    if isinstance(error, ValueError) and "No gradients provided" in message:
        cause = (f"no gradient reaches the variables in {function}(): the optimizer got None for "
                 f"every one")
        evidence = f"the optimizer raised: {str(error).strip().splitlines()[-1].strip()}"
    elif any(sign in message for sign in ("NoneType", "(None)", "None values")):
        cause = (f"a gradient is None in {function}(): the loss was not computed from the "
                 f"variables inside the tape's `with` block")
        evidence = (f"on {inputs}: " if inputs else "") + last_line(error, 200)
    else:
        return None
    return Finding(cause, evidence, fix or "compute the loss inside the `with tf.GradientTape()` "
                                           "block, from the variables themselves")


def call_finding(function: str, call, inputs: str, refused: str | None = None,
                 steps: bool = False, fix: str = "") -> tuple[object, Finding | None]:
    """``(call(), None)``, or ``(None, Finding)`` for an error the call raised on the checker's
    ``inputs``: a missing gradient when ``call`` is a training step (``steps``), and, when
    ``refused`` names the cause, a TensorFlow, shape or type error. Other errors propagate (an
    unfilled TODO among them), and the check shows them with the line of the student's file."""
    import tensorflow as tf

    try:
        return call(), None
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
        found = gradient_finding(function, error, inputs) if steps else None
        if found is not None:
            return None, found
        if refused:
            return None, Finding(refused, f"on {inputs}: {last_line(error)}", fix)
        raise


def build_finding(function: str, build, what: str, fix: str = ""):
    """``(build(), None)``, or ``(None, Finding)`` when the student's builder raises a Keras or
    shape error on the checker's input (the whole message kept: Keras says the shapes in its
    middle). An unfilled TODO propagates: the check reports it as such."""
    try:
        return build(), None
    except NotImplementedError:
        raise
    except (ValueError, TypeError) as error:
        return None, Finding(f"{function}() fails on {what}", error_text(error), fix)


# ---------------------------------------------------------------------------- training steps


def run_steps(step, variables: dict, steps: int) -> tuple[list[float], dict[str, float]]:
    """Call ``step()`` (one training step of the student's, returning the batch loss) ``steps``
    times. Returns the losses and, per variable name, its largest absolute change."""
    before = {name: as_array(v).copy() for name, v in variables.items()}
    losses = []
    for _ in range(steps):
        loss = float(as_array(step()).mean())
        losses.append(loss)
        if not math.isfinite(loss):
            break
    moved = {name: float(np.max(np.abs(as_array(v) - before[name]))) if before[name].size else 0.0
             for name, v in variables.items()}
    return losses, moved


def step_findings(function: str, losses: list[float], moved: dict[str, float]) -> list[Finding]:
    """What a few training steps from a fixed start show: ``losses`` the loss before each step
    (and after the last), ``moved`` how much each variable changed (largest absolute change)."""
    findings = []
    for index, loss in enumerate(losses):
        if not math.isfinite(loss):
            return [Finding(f"the loss becomes NaN or infinite in {function}()",
                            f"loss at step {index}: {loss} (before: {short(np.array(losses[:index]))})",
                            "a step size too large for the inputs' scale, a log of 0, or a "
                            "division by 0")]
    still = [name for name, change in moved.items() if not change > 0]
    if still and len(still) == len(moved):
        return [Finding(f"no variable changes in {function}(): the gradients are None or zero",
                        f"after {max(len(losses) - 1, 1)} steps every variable is where it "
                        f"started ({', '.join(still)})",
                        "compute the loss inside the `with tf.GradientTape()` block, from the "
                        "variables themselves (not from .numpy() copies), and apply the update")]
    if still:
        findings.append(Finding(f"some variables never change in {function}(): their gradient is "
                                f"None or zero", f"unchanged: {', '.join(still)}; changed: "
                                f"{', '.join(n for n in moved if n not in still)}",
                                "every trainable variable must be in the list given to "
                                "tape.gradient and to the update"))
    if len(losses) >= 3 and losses[-1] > losses[0] * 1.05 + 1e-6:
        findings.append(Finding(f"gradient ascent in {function}(): the loss grows from the first "
                                f"steps", f"loss {losses[0]:.4g} at the start, {losses[-1]:.4g} after "
                                f"{len(losses) - 1} steps",
                                "a step goes against the gradient: variable minus step size times "
                                "gradient"))
    return findings


def overfit_finding(function: str, losses: list[float], *, target: float, start: float | None = None,
                    examples: int = 64) -> Finding | None:
    """A model that cannot drive the loss on ``examples`` training examples below ``target``."""
    final = losses[-1]
    if math.isfinite(final) and final <= target:
        return None
    start = losses[0] if start is None else start
    return Finding(f"the model cannot overfit {examples} training examples with {function}()",
                   f"loss {start:.4g} at the start, {final:.4g} after {len(losses) - 1} steps on the "
                   f"same {examples} examples (a working model goes below {target:g})",
                   "check the model's output (logits), the loss, and that each step updates every "
                   "variable")


def fresh_function(step):
    """A new ``tf.function`` of a step the student decorated with ``@tf.function`` (the step itself
    otherwise): a ``tf.function`` may create variables (an optimizer's slots) on its first call
    only, and that call must stay main()'s, with main()'s own optimizer."""
    import tensorflow as tf

    python_function = getattr(step, "python_function", None)
    return tf.function(python_function) if python_function is not None else step


def compiled_step(train_step, *objects):
    """The student's ``train_step`` compiled as main() compiles it: a ``tf.function`` of a closure
    over the probe's own networks (or variables) and optimizer, called with the batch tensors alone
    (every lesson's step takes its tensors first). A step decorated with ``@tf.function`` is
    unwrapped first (see :func:`fresh_function`)."""
    import tensorflow as tf

    inner = getattr(train_step, "python_function", train_step)
    return tf.function(lambda *tensors: inner(*tensors, *objects))


def mean_cross_entropy(logits, labels) -> float:
    """The mean softmax cross-entropy of ``logits`` against integer ``labels``, in NumPy."""
    return float(softmax_cross_entropy(as_array(logits), np.asarray(labels)).mean())


def keras_overfit_losses(model, inputs: np.ndarray, labels: np.ndarray, steps: int,
                         learning_rate: float = 1e-2) -> list[float]:
    """Whole-batch training steps of a classifier of logits on integer labels: with the model's
    own compiled optimizer and loss when it has them (``train_on_batch``), else Adam at
    ``learning_rate`` on the softmax cross-entropy. Returns the loss before each step, then the
    final loss in inference mode (dropout off), for :func:`overfit_finding`."""
    import keras
    import tensorflow as tf

    if getattr(model, "optimizer", None) is not None:
        losses = [float(model.train_on_batch(inputs, labels, return_dict=True)["loss"])
                  for _ in range(steps)]
        return losses + [mean_cross_entropy(run_model(model, inputs, False), labels)]
    optimizer = keras.optimizers.Adam(learning_rate)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x, y = tf.constant(inputs), tf.constant(labels)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    losses = [float(loss_fn(y, model(x, training=False)))]
    for _ in range(steps):
        loss = float(step())
        if not math.isfinite(loss):
            return losses + [loss]
    return losses + [float(loss_fn(y, model(x, training=False)))]


def steps_finding(function: str, step, variables: dict, count: int, fix: str):
    """:func:`run_steps`, with a missing gradient turned into a finding (``fix`` says where to
    look): ``((losses, moved), None)`` or ``((None, None), Finding)``."""
    try:
        return run_steps(step, variables, count), None
    except (ValueError, TypeError) as error:
        found = gradient_finding(function, error, fix=fix)
        if found is None:
            raise
        return (None, None), found


# ---------------------------------------------------------------------------- images


def low_rank_images(rng: np.random.Generator, n: int, rank: int = 5, pixels: int = 784) -> np.ndarray:
    """``n`` synthetic images (n, pixels) in [0, 1]: convex mixtures of ``rank`` random patterns, so
    that a code of ``rank`` numbers can reconstruct them exactly (a network can learn them by heart)."""
    patterns = rng.random((rank, pixels))
    weights = rng.dirichlet(np.ones(rank), size=n)
    return (weights @ patterns).astype(np.float32)


def range_finding(function: str, outputs, docstring_range: str, fix: str) -> Finding | None:
    """Outputs that must be pixels in [0, 1] (the docstring's range) but are not."""
    values = as_array(outputs)
    if values.size and np.all(np.isfinite(values)) and values.min() >= 0.0 and values.max() <= 1.0:
        return None
    return Finding(f"{function}() returns values outside {docstring_range}, the range of the pixels "
                   f"it predicts",
                   f"on random inputs its outputs range from {values.min():.3g} to {values.max():.3g}",
                   fix)


def code_size_finding(function: str, got, want: tuple, default: int | None) -> Finding | None:
    """A network whose output is not ``want``, the constant ``default`` (CODE_SIZE) used where its
    argument was asked for named."""
    got_shape = tuple(np.shape(as_array(got)))
    if got_shape == want:
        return None
    if default is not None and got_shape == want[:-1] + (default,) and default != want[-1]:
        return Finding(f"{function}() ignores its code_size argument",
                       f"{function}({want[-1]}) gave codes of shape {got_shape}",
                       "use the argument code_size, not the constant CODE_SIZE")
    fix = "model.summary() prints each layer's output shape"
    if len(want) == 4 and len(got_shape) == 4 and got_shape[1:3] != want[1:3]:
        fix = ("a convolution or transposed convolution without padding=\"same\" changes the "
               "height and width by a few pixels; " + fix)
    return Finding(f"{function}() builds a network with outputs of the wrong shape",
                   f"for inputs of batch {want[0]} it returned shape {got_shape}; the docstring "
                   f"asks for {want}", fix)


def reconstruction_mistakes(reconstructions: np.ndarray, targets: np.ndarray, function: str,
                            cross_entropy: bool = True) -> dict:
    """The values a reconstruction loss takes under the usual mistakes (the docstring: the mean
    over images and pixels of the squared error), for :func:`value_finding`'s ``wrong``."""
    errors = (reconstructions - targets).reshape(len(targets), -1)
    mistakes = {
        f"{function} sums the squared errors over the pixels: the docstring asks for their mean "
        f"over images and pixels": (errors ** 2).sum(axis=1).mean(),
        f"{function} sums the squared errors over the batch and the pixels instead of averaging "
        f"them": (errors ** 2).sum(),
        f"{function} takes the mean absolute error, not the mean squared error": np.abs(errors).mean(),
        f"{function} returns the square root of the mean squared error": math.sqrt((errors ** 2).mean()),
    }
    if cross_entropy:
        mistakes[f"{function} uses the binary cross-entropy, not the mean squared error the "
                 f"docstring asks"] = probability_cross_entropy(
            targets.reshape(len(targets), -1), reconstructions.reshape(len(targets), -1)).mean()
    return mistakes


# ---------------------------------------------------------------------------- TD targets
#
# A made-up batch of next-state action values, square on purpose (4 transitions, 4 actions): a
# max or an argmax over the wrong axis then gives a result of the right shape but wrong values,
# which a probe can name (with a batch of another size it would be a shape error).
NEXT_Q_ONLINE = np.array([[1.0, 9.0, 3.0, 2.0],
                          [5.0, 1.0, 2.0, 8.0],
                          [7.0, 2.0, 6.0, 1.0],
                          [2.0, 3.0, 1.0, 4.0]], np.float32)
NEXT_Q_TARGET = np.array([[6.0, 2.0, 4.0, 1.0],
                          [3.0, 9.0, 4.0, 2.0],
                          [2.0, 5.0, 8.0, 3.0],
                          [9.0, 1.0, 3.0, 7.0]], np.float32)
REWARDS = np.array([1.0, 0.5, 1.0, 2.0], np.float32)
TERMINATED = np.array([0.0, 1.0, 0.0, 0.0], np.float32)  # the second transition ends its episode
PROBE_GAMMA = 0.5  # not the exercises' GAMMA (0.99), so that a hard-coded constant shows


def td_target_mistakes(next_values: np.ndarray, *, module_gamma: float, function: str,
                       gamma: float = PROBE_GAMMA, rewards: np.ndarray = REWARDS,
                       terminated: np.ndarray = TERMINATED) -> dict[str, np.ndarray]:
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


def epsilon_greedy_findings(context: Context) -> list[Finding]:
    """The student's ``epsilon_greedy(q, epsilon, rng)`` on 3000 rows of three actions: each row's
    best action at epsilon 0, uniform random actions at 1 (every action, one per row), and the
    rate of exploring at 0.3; the usual mistakes named."""
    function = context.function("epsilon_greedy")
    rows, actions = 3000, 3  # three actions: a random action drawn from {0, 1} only shows
    q = context.rng.normal(0.0, 1.0, (rows, actions))
    best = q.argmax(axis=1)

    def run(epsilon):
        return np.asarray(function(q.copy(), epsilon, context.generator(7)))

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


def close(got: np.ndarray, want: np.ndarray, *, rtol: float = 1e-3, atol: float = 1e-5) -> bool:
    """Same shape and values within the tolerances."""
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=rtol, atol=atol))


# ---------------------------------------------------------------------------- Keras models


def model_finding(function: str, value) -> Finding | None:
    """None when ``value`` is a ``keras.Model``; otherwise what the function returned instead."""
    import keras

    if isinstance(value, keras.Model):
        return None
    return Finding(f"{function}() must return a keras.Model, it returned a "
                   f"{type(value).__name__}", fix="end with keras.Model(inputs, outputs) or a "
                                                  "keras.Sequential")


def run_model(model, inputs, training: bool) -> np.ndarray:
    """``model(inputs, training=...)`` as a float64 array, without Keras's warning about a model
    whose named input is given a plain array."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return as_array(model(inputs, training=training))


def classifier_findings(function: str, outputs, want: tuple, fix: str = "") -> Finding | None:
    """The three usual faults of a classifier's outputs: the shape, a ReLU on the logits, a softmax
    (or sigmoid) on them. ``fix`` replaces the activation findings' advice."""
    found = shape_finding(function, outputs, want, "model output")
    if found:
        found.fix = found.fix or "the model ends with a flatten and a Dense layer of one unit per class"
        return found
    # The ReLU first: its outputs lie in [0, 1] too when they are small, but many are exactly 0.
    found = relu_logits_finding(function, outputs) or logits_finding(function, outputs)
    if found and fix:
        found.fix = fix
    return found


def layer_shapes(model) -> str:
    """Every layer's name and output shape, for evidence."""
    return ", ".join(f"{layer.name} {tuple(layer.output.shape[1:])}" for layer in model.layers)


def named_layer_findings(function: str, model, shapes: dict) -> Finding | None:
    """Each ``name: (h, w, channels)`` of ``shapes``: a layer of that name whose output has that
    shape (the plots look layers up by name)."""
    for name, shape in shapes.items():
        try:
            layer = model.get_layer(name)
        except ValueError:
            return Finding(f"{function}() has no layer named {name!r}: the plots look it up by name",
                           f"its layers: {', '.join(layer.name for layer in model.layers)}",
                           f"pass name={name!r} to that convolution")
        got = tuple(layer.output.shape[1:])
        if got != tuple(shape):
            return Finding(f"the layer {name!r} of {function}() gives maps of the wrong shape "
                           f"(check its padding and number of filters)",
                           f"{name} outputs {got}, the docstring asks for {tuple(shape)}; every "
                           f"layer: {layer_shapes(model)}",
                           "\"same\" padding keeps height and width, \"valid\" (the default) "
                           "removes kernel size - 1 from each")
    return None


def parameter_finding(function: str, model, want: int, what: str) -> Finding | None:
    """A model whose parameter count is not the docstring's architecture's."""
    got = int(model.count_params())
    if got == want:
        return None
    return Finding(f"the layers of {function}() differ from the docstring's {what}",
                   f"{got} parameters, the docstring's model has {want}; output shape of every "
                   f"layer: {layer_shapes(model)}",
                   "compare model.summary() with the shapes in the docstring")


def dropout_finding(function: str, model, inputs) -> Finding | None:
    """Dropout makes two training-mode passes over the same inputs differ; without it they agree
    (batch normalisation in training mode depends only on the batch)."""
    if np.allclose(run_model(model, inputs, True), run_model(model, inputs, True), rtol=1e-5,
                   atol=1e-6):
        return Finding(f"no dropout in the model of {function}(), which the docstring asks for",
                       "two passes in training mode over the same inputs give the same outputs "
                       "(dropout would zero a different random part of the units each time)",
                       "add a keras.layers.Dropout layer where the docstring puts it")
    return None


def named_variables(prefix: str, network) -> dict:
    """``{"encoder kernel 1": variable, "encoder bias 1": ..., "encoder kernel 2": ...}``."""
    named, counts = {}, {}
    for variable in network.trainable_variables:
        kind_name = variable.path.rsplit("/", 1)[-1]
        counts[kind_name] = counts.get(kind_name, 0) + 1
        named[f"{prefix} {kind_name} {counts[kind_name]}"] = variable
    return named


def dense_network(sizes, activations, rng: np.random.Generator, name: str, scale: float = 1.0):
    """A ``keras.Sequential`` of Dense layers with weights drawn from ``rng`` (Glorot-like scale):
    the probe's own network, deterministic and free of dropout or batch normalisation."""
    import keras

    layers = [keras.Input((sizes[0],))]
    layers += [keras.layers.Dense(units, activation=activation)
               for units, activation in zip(sizes[1:], activations)]
    network = keras.Sequential(layers, name=name)
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        weights.append(rng.normal(0.0, scale * math.sqrt(2.0 / (fan_in + fan_out)),
                                  (fan_in, fan_out)).astype(np.float32))
        weights.append(rng.normal(0.0, 0.05, (fan_out,)).astype(np.float32))
    network.set_weights(weights)
    return network
