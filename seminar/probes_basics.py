"""Diagnosis probes for the first two chapters (intro, sgd): the student's functions called on small
inputs of the checker's, before anything else runs (see seminar/diagnosis.py).

The intro exercises are judged by exact values; these probes say *why* a value is wrong: a Python or
NumPy value where a tensor is due, the wrong dtype, a variable made anew instead of changed in
place, ``make_graph`` returning a value instead of a ``tf.function``. The SGD probes compare the
student's closed form, loss and hand-derived gradient with references computed here (NumPy, and
TensorFlow's own tape on a loss of the checker's), and take one training step from a known point.
"""

from __future__ import annotations

import numpy as np

from seminar.diagnosis import Context, Finding, as_array, logits_finding, probe, shape_finding, value_finding

# ------------------------------------------------------------------------------------ helpers


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _kind(value) -> str:
    """Plain words for what a non-tensor value is."""
    if value is None:
        return "None (is the return statement missing?)"
    if isinstance(value, (np.ndarray, np.generic)):
        return f"a NumPy {'array' if isinstance(value, np.ndarray) else 'number'}"
    if isinstance(value, (str, bytes, int, float, bool, list, tuple)):
        return f"a Python {type(value).__name__}"
    return f"a {type(value).__module__}.{type(value).__name__}"


def tensor_finding(function: str, value, dtype=None, shape: tuple | None = None,
                   what: str = "its result") -> Finding | None:
    """``value`` must be a TensorFlow tensor (or variable) of ``dtype`` and ``shape``."""
    import tensorflow as tf

    if not tf.is_tensor(value):
        return Finding(f"{function}() returns {_kind(value)} as {what}, not a TensorFlow tensor",
                       f"got {_describe(value)}",
                       "build the value with TensorFlow operations: NumPy and plain Python values "
                       "cannot be part of a TensorFlow graph")
    if dtype is not None and value.dtype != dtype:
        return Finding(f"{function}() returns {what} with dtype {value.dtype.name}, the docstring asks "
                       f"for {dtype.name}", f"got {_describe(value)}",
                       "give the dtype when the tensor is made, or convert it")
    if shape is not None and tuple(value.shape) != tuple(shape):
        return Finding(f"{function}() returns {what} of shape {tuple(value.shape)}, the docstring asks "
                       f"for {tuple(shape)}", f"got {_describe(value)}")
    return None


def call_finding(function: str, call, inputs: str, refused: str | None = None,
                 steps: bool = False) -> tuple[object, Finding | None]:
    """Call ``call()``. A None gradient met by the update (``steps``: ``call`` is a training step),
    and, when ``refused`` names the cause, a TensorFlow shape or type error, become a finding;
    other errors propagate, and the check shows them with the line of the student's file (an
    unfilled TODO too)."""
    import tensorflow as tf

    try:
        return call(), None
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
        message = str(error).strip()
        lines = [line.strip() for line in message.splitlines() if line.strip()]
        # TensorFlow wraps errors raised while tracing ("in user code: ..."): the last line says it
        first = lines[-1] if lines else type(error).__name__
        if steps and any(sign in message for sign in ("NoneType", "(None)", "None values")):
            return None, Finding(f"a gradient is None in {function}(): the loss was not computed "
                                 f"from the variables inside the tape's `with` block",
                                 f"on {inputs}: {type(error).__name__}: {first[:200]}",
                                 "compute the loss inside the `with tf.GradientTape()` block, from "
                                 "the variables themselves")
        if refused:
            return None, Finding(refused, f"on {inputs}: {type(error).__name__}: {first[:240]}")
        raise


# ----------------------------------------------------------------------------- intro/hello_world


@probe("hello_world")
def hello_world(context: Context) -> list[Finding]:
    """intro/hello_world: each function on inputs of the checker's, with what is wrong in words."""
    import tensorflow as tf

    text = context.function("greeting")()
    found = tensor_finding("greeting", text, tf.string, what="the greeting")
    if found:
        return [found]
    if tuple(text.shape) != ():
        return [Finding("greeting() returns a list of strings, not one string",
                        f"shape {tuple(text.shape)}, the docstring asks for shape () (a scalar)")]
    if text.numpy() != b"Hello, TensorFlow!":
        return [Finding("greeting() returns another text than the docstring's",
                        f"got {text.numpy()!r}, expected b'Hello, TensorFlow!' (capitals, the comma "
                        f"and the exclamation mark count)")]

    add_constants = context.function("add_constants")
    for a, b in [(20, 22), (-7, 3)]:
        total = add_constants(a, b)
        found = (tensor_finding("add_constants", total, what="the sum")
                 or (Finding("add_constants() does not compute in 32-bit integers",
                             f"add_constants({a}, {b}) gave {_describe(total)}; the docstring asks for "
                             f"an int32 tensor") if total.dtype != tf.int32 else None)
                 or tensor_finding("add_constants", total, tf.int32, (), what="the sum")
                 or value_finding("add_constants", total, a + b, wrong={
                     "add_constants() subtracts instead of adding": a - b,
                     "add_constants() multiplies instead of adding": a * b},
                     expected=f"add_constants({a}, {b}) = {a + b}"))
        if found:
            return [found]

    found = _counter_finding(context.function("count_with_variable"))
    if found:
        return [found]
    return _graph_findings(context.function("make_graph"), context.rng)


def _counter_finding(count_with_variable) -> Finding | None:
    import tensorflow as tf

    for steps in (5, 3, 0):  # a second call must start again from 0
        created = []

        def creator(next_creator, **kwargs):
            created.append(kwargs.get("name"))
            return next_creator(**kwargs)

        with tf.variable_creator_scope(creator):
            counter = count_with_variable(steps)
        found = tensor_finding("count_with_variable", counter, what="the counter")
        if found:
            return found
        if len(created) > 1:
            return Finding("count_with_variable() creates a new tf.Variable at each step instead of "
                           "changing one variable in place",
                           f"count_with_variable({steps}) created {len(created)} variables",
                           "make the variable once, before the loop, and change its value with its own "
                           "in-place methods: model weights must stay the same objects while they train")
        if not isinstance(counter, tf.Variable):
            return Finding("count_with_variable() returns a plain tensor, not the tf.Variable it "
                           "counted with",
                           f"count_with_variable({steps}) returned {type(counter).__name__} "
                           f"{_describe(counter)}",
                           "`counter = counter + 1` makes a new tensor and leaves the variable "
                           "behind: change the variable itself in place, and return it")
        if not created:
            return Finding("count_with_variable() creates no variable of its own: it reuses one made "
                           "outside the function, so a call does not start from 0",
                           f"count_with_variable({steps}) created no tf.Variable; it returned "
                           f"{_describe(counter)}")
        found = (tensor_finding("count_with_variable", counter, tf.int32, (), what="the counter")
                 or value_finding("count_with_variable", counter, steps, wrong={
                     "count_with_variable() counts one step too many": steps + 1,
                     "count_with_variable() counts one step too few": steps - 1},
                     expected=f"the value {steps} after {steps} steps from 0"))
        if found:
            return found
    return None


def _graph_findings(make_graph, rng) -> list[Finding]:
    import tensorflow as tf

    graph = make_graph()
    if tf.is_tensor(graph) or isinstance(graph, (np.ndarray, np.generic, int, float)):
        return [Finding("make_graph() returns a value (the result of calling the function), not a "
                        "tf.function", f"got {_describe(graph)}",
                        "return the decorated function itself, without calling it: main() calls it "
                        "with the data to feed")]
    if isinstance(graph, tf.types.experimental.ConcreteFunction):
        return [Finding("make_graph() returns one concrete (already traced) graph, not the "
                        "tf.function", f"got {_describe(graph)}", "return the tf.function itself")]
    if not isinstance(graph, tf.types.experimental.GenericFunction):
        if callable(graph):
            return [Finding("make_graph() returns a plain Python function, not a tf.function: nothing "
                            "is traced into a graph", f"got {_describe(graph)}",
                            "make it a TensorFlow graph function (with an input signature)")]
        return [Finding(f"make_graph() returns {_kind(graph)}, not a tf.function", f"got {_describe(graph)}")]
    signature = graph.input_signature
    if signature is None:
        return [Finding("make_graph()'s tf.function has no input_signature (the placeholder): nothing "
                        "fixes its inputs' dtype, it retraces for every new dtype or shape, and main() "
                        "cannot ask it for its one graph", "graph.input_signature is None")]
    dtypes = [getattr(spec, "dtype", None) for spec in signature]
    if len(signature) != 2 or any(dtype != tf.float32 for dtype in dtypes):
        return [Finding("make_graph()'s input_signature does not declare two float32 inputs",
                        f"input_signature = {signature}",
                        "one TensorSpec per input, dtype float32, shape left free")]
    for shape in [(), (3,), (2, 3)]:
        x = np.round(rng.uniform(-4, 4, shape), 1).astype(np.float32)
        y = np.round(rng.uniform(-4, 4, shape), 1).astype(np.float32)
        result, found = call_finding(
            "make_graph", lambda: graph(tf.constant(x), tf.constant(y)),
            f"two float32 inputs of shape {shape}",
            refused=f"make_graph()'s tf.function refuses float32 inputs of shape {shape}: its "
                    f"input_signature fixes a shape, the docstring asks for any shape")
        if found:
            return [found]
        x64, y64 = x.astype(np.float64), y.astype(np.float64)
        want = x64 * y64 + x64
        found = (tensor_finding("make_graph", result, tf.float32, shape, what="as the graph's output")
                 or value_finding("make_graph", result, want, rtol=1e-5, atol=1e-5, wrong={
                     "make_graph()'s function computes x * y + y instead of x * y + x": x64 * y64 + y64,
                     "make_graph()'s function computes x * y, without the + x": x64 * y64,
                     "make_graph()'s function computes x + y instead of x * y + x": x64 + y64},
                     expected=f"x * y + x on inputs of shape {shape}"))
        if found:
            return [found]
    return []


# -------------------------------------------------------------------------------- intro/math_ops


@probe("math_ops")
def math_ops(context: Context) -> list[Finding]:
    """intro/math_ops: scalars in both dtypes, A^T B on non-square shapes, the element-wise sum, and
    the same functions traced in the graph."""
    import tensorflow as tf

    add_and_multiply = context.function("add_and_multiply")
    for a, b, dtype in [(7, 6, tf.int32), (1.5, 2.0, tf.float32), (7, 6, tf.float32)]:
        pair, found = call_finding("add_and_multiply", lambda: add_and_multiply(a, b, dtype),
                                   f"a = {a!r}, b = {b!r} and dtype = tf.{dtype.name}")
        if found:
            return [found]
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            return [Finding("add_and_multiply() must return a pair (a + b, a * b)",
                            f"add_and_multiply({a}, {b}, {dtype.name}) returned {_describe(pair)}")]
        for name, value in zip(("a + b", "a * b"), pair):
            found = tensor_finding("add_and_multiply", value, what=name)
            if found:
                return [found]
            if value.dtype != dtype:
                ignored = isinstance(a, int) and dtype != tf.int32
                cause = ("add_and_multiply() ignores its dtype argument" if ignored else
                         f"add_and_multiply() returns {name} with dtype {value.dtype.name}, not the "
                         f"dtype it is given")
                return [Finding(cause, f"add_and_multiply({a}, {b}, {dtype.name}) gave {name} = "
                                       f"{_describe(value)}", "make the tensors with the dtype argument")]
        got = (float(pair[0].numpy()), float(pair[1].numpy()))
        if got == (a * b, a + b) and a * b != a + b:
            return [Finding("add_and_multiply() returns (a * b, a + b): the pair is in the wrong order",
                            f"add_and_multiply({a}, {b}, {dtype.name}) gave {got}")]
        found = (value_finding("add_and_multiply", pair[0], a + b, expected=f"a + b = {a + b}")
                 or value_finding("add_and_multiply", pair[1], a * b, expected=f"a * b = {a * b}"))
        if found:
            return [found]

    rng = context.rng
    a = np.round(rng.uniform(-3, 3, (4, 2)), 1).astype(np.float32)  # (n, p), p != q on purpose
    b = np.round(rng.uniform(-3, 3, (4, 3)), 1).astype(np.float32)  # (n, q)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    transpose_matmul = context.function("transpose_matmul")
    product, found = call_finding("transpose_matmul",
                                  lambda: transpose_matmul(tf.constant(a), tf.constant(b)),
                                  "A of shape (4, 2) and B of shape (4, 3)")
    if found:
        return [found]
    found = tensor_finding("transpose_matmul", product, what="A^T B")
    if found:
        return [found]
    if tuple(product.shape) == (3, 2) and np.allclose(as_array(product), b64.T @ a64, atol=1e-4):
        return [Finding("transpose_matmul() computes B^T A, the transpose of A^T B: the transpose is "
                        "on the wrong matrix, or the product in the wrong order",
                        "on A of shape (4, 2) and B of shape (4, 3) it returned shape (3, 2); A^T B "
                        "has shape (2, 3)")]
    found = tensor_finding("transpose_matmul", product, tf.float32, (2, 3), what="A^T B") or value_finding(
        "transpose_matmul", product, a64.T @ b64, atol=1e-4, expected="A^T B")
    if found:
        return [found]

    b_same = np.round(rng.uniform(-3, 3, (4, 2)), 1).astype(np.float32)
    b_same64 = b_same.astype(np.float64)
    products = a64 * b_same64
    elementwise_product_sum = context.function("elementwise_product_sum")
    total, found = call_finding("elementwise_product_sum",
                                lambda: elementwise_product_sum(tf.constant(a), tf.constant(b_same)),
                                "A and B of shape (4, 2)")
    if found:
        return [found]
    found = tensor_finding("elementwise_product_sum", total, what="the sum")
    if found:
        return [found]
    if len(total.shape) == 1:
        return [Finding("elementwise_product_sum() adds up along one axis only, not every entry",
                        f"on A and B of shape (4, 2) it returned shape {tuple(total.shape)}: "
                        f"{_describe(total)}; the docstring asks for one number, shape ()")]
    found = tensor_finding("elementwise_product_sum", total, tf.float32, (), what="the sum") or value_finding(
        "elementwise_product_sum", total, products.sum(), atol=1e-4, wrong={
            "elementwise_product_sum() averages the entries instead of adding them up": products.mean(),
            "elementwise_product_sum() multiplies the two sums instead of summing the products":
                a64.sum() * b_same64.sum(),
            "elementwise_product_sum() sums every entry of a matrix product, not of the element-wise "
            "product": (a64.T @ b_same64).sum()},
        expected="the sum of all entries of A * B")
    if found:
        return [found]

    # The same functions inside the traced graph: a .numpy() or a NumPy call works eagerly only.
    matrix_graph = getattr(context.module, "matrix_graph", None)
    if matrix_graph is not None:
        try:
            matrix_graph(tf.constant(a), tf.constant(b_same))
        except Exception as error:  # noqa: BLE001  (any failure while tracing is the finding)
            if isinstance(error, NotImplementedError) and "TODO in " in str(error):
                raise  # an unfilled TODO: the check reports it itself
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            return [Finding("your functions work on actual numbers but fail inside the traced graph "
                            "matrix_graph(): a .numpy() call or a NumPy function needs values, which a "
                            "graph being traced does not have",
                            f"{type(error).__name__}: {first[:240]}", "use TensorFlow operations only")]
    return []


# ------------------------------------------------------------------------- sgd/linear_regression


def _regression_data(rng, n: int = 6):
    """A tiny regression problem: features [x, 1] (n, 2) and targets (n, 1), float32, and the same
    numbers in float64 for the references."""
    x = rng.normal(0.0, 1.0, n)
    features = np.stack([x, np.ones(n)], axis=1).astype(np.float32)
    targets = (features @ np.array([[0.8], [-0.5]]) + rng.normal(0.0, 0.3, (n, 1))).astype(np.float32)
    return features, targets, features.astype(np.float64), targets.astype(np.float64)


def _tape_gradient(features64, targets64, beta64) -> np.ndarray:
    """dJ/dbeta of the mean squared error by TensorFlow's tape, in float64, with the loss written
    here (not the student's)."""
    import tensorflow as tf

    beta = tf.Variable(beta64)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(tf.matmul(tf.constant(features64), beta) - tf.constant(targets64)))
    return tape.gradient(loss, beta).numpy()


def _finite_difference(features64, targets64, beta64, step: float = 1e-6) -> np.ndarray:
    def loss(beta):
        return float(np.mean((features64 @ beta - targets64) ** 2))

    gradient = np.zeros_like(beta64)
    for index in np.ndindex(beta64.shape):
        shift = np.zeros_like(beta64)
        shift[index] = step
        gradient[index] = (loss(beta64 + shift) - loss(beta64 - shift)) / (2 * step)
    return gradient


@probe("linear_regression")
def linear_regression(context: Context) -> list[Finding]:
    """sgd/linear_regression: the closed form against NumPy's least squares, the loss, the
    hand-derived gradient against TensorFlow's tape and a finite difference, one train_step from a
    known beta, and sample_batch's indices."""
    import tensorflow as tf

    rng = context.rng
    features, targets, features64, targets64 = _regression_data(rng)
    n = len(features)
    inputs = f"X of shape ({n}, 2) and y of shape ({n}, 1)"

    beta, found = call_finding("closed_form", lambda: context.function("closed_form")(
        tf.constant(features), tf.constant(targets)), inputs)
    if found:
        return [found]
    want, *_ = np.linalg.lstsq(features64, targets64, rcond=None)
    found = tensor_finding("closed_form", beta, what="beta") or tensor_finding(
        "closed_form", beta, shape=(2, 1), what="beta") or value_finding(
        "closed_form", beta, want, rtol=1e-3, atol=1e-4,
        expected=f"the least-squares beta of {n} points of the checker's (NumPy's lstsq)")
    if found:
        return [found]

    # Far from the least-squares beta (about [0.8, -0.5]), so that the gradient is large.
    beta64 = np.array([[-1.2], [1.5]]) + rng.normal(0.0, 0.3, (2, 1))
    beta32 = tf.constant(beta64, tf.float32)
    beta64 = beta32.numpy().astype(np.float64)
    residuals = features64 @ beta64 - targets64  # (n, 1)
    squared = residuals ** 2
    predictions, observed = (features64 @ beta64)[:, 0], targets64[:, 0]
    loss, found = call_finding("mean_squared_error", lambda: context.function("mean_squared_error")(
        tf.constant(features), tf.constant(targets), beta32), inputs + " and beta of shape (2, 1)")
    if found:
        return [found]
    found = tensor_finding("mean_squared_error", loss, what="the loss")
    if found:
        return [found]
    if np.ndim(as_array(loss)) >= 1 and as_array(loss).size > 1:
        table = as_array(loss).shape == (n, n)
        return [Finding(("a shape broadcast in mean_squared_error(): predictions of shape (n,) and "
                         "targets of shape (n, 1) give an (n, n) table of every pair") if table else
                        "mean_squared_error() returns one value per point, not their mean",
                        f"on {n} points it returned shape {as_array(loss).shape}; the docstring asks "
                        f"for one number, shape ()")]
    found = value_finding("mean_squared_error", loss, squared.mean(), rtol=1e-4, atol=1e-6, wrong={
        "a shape broadcast in mean_squared_error(): predictions of shape (n,) minus targets of shape "
        "(n, 1) (or the reverse) give an (n, n) table of every prediction against every target, and "
        "the mean runs over all n^2 pairs": np.mean((predictions[None, :] - observed[:, None]) ** 2),
        "mean_squared_error() sums the squared errors instead of averaging them (the slide's J is a "
        "sum; this J is the mean, so that one step size suits every batch size)": squared.sum(),
        "mean_squared_error() does not square the residuals": residuals.mean(),
        "mean_squared_error() returns the root of the mean squared error": np.sqrt(squared.mean()),
    }, expected="the mean over the points of (X beta - y)^2")
    if found:
        return [found]

    found = _gradient_finding(context.function("mse_gradient"), features, targets, features64,
                              targets64, beta32, beta64)
    if found:
        return [found]
    found = _regression_step_finding(context.function("train_step"), features, targets, features64,
                                     targets64, beta64)
    if found:
        return [found]
    found = _sample_batch_finding(context.function("sample_batch"), rng)
    return [found] if found else []


def _gradient_finding(mse_gradient, features, targets, features64, targets64, beta32, beta64):
    import tensorflow as tf

    n = len(features)
    want = _tape_gradient(features64, targets64, beta64)
    numeric = _finite_difference(features64, targets64, beta64)
    assert np.allclose(want, numeric, rtol=1e-5, atol=1e-7), "the two references disagree"
    got, found = call_finding("mse_gradient", lambda: mse_gradient(
        tf.constant(features), tf.constant(targets), beta32),
        f"X of shape ({n}, 2), y of shape ({n}, 1) and beta of shape (2, 1)")
    if found:
        return found
    found = tensor_finding("mse_gradient", got, what="the gradient")
    if found:
        return found
    shape = tuple(got.shape)
    evidence = (f"on {n} points of the checker's, mse_gradient() returned shape {shape}; the gradient "
                f"has beta's shape (2, 1)")
    if shape == (1, 2):
        return Finding("mse_gradient() returns the gradient transposed, (1, 2) instead of beta's (2, 1): "
                       "r^T X is the transpose of X^T r", evidence)
    if shape in ((2, n), (n, 2)) or shape == (n, n):
        return Finding("a shape broadcast in mse_gradient(): residuals of shape (n,) and (n, 1) "
                       "combined give an (n, n) table, and the gradient comes out with a point axis",
                       evidence, "keep the residuals X beta - y of shape (n, 1), like y")
    if shape != (2, 1):
        return shape_finding("mse_gradient", got, (2, 1), what="gradient")
    found = value_finding("mse_gradient", got, want, rtol=1e-3, atol=1e-5, wrong={
        "mse_gradient() is missing the factor 2 that differentiating the square brings down": want / 2,
        "mse_gradient() is the gradient of the SUM of the squared errors (the slide's J), not of their "
        f"mean: it is n = {n} times too large; divide by the number of points": want * n,
        "mse_gradient() is the gradient of the sum over the points (n times too large) and misses the "
        "factor 2 of the square": want * n / 2,
        "mse_gradient() divides by the number of points twice": want / n,
        "mse_gradient() has the wrong sign (y - X beta instead of X beta - y): a step against it climbs "
        "the loss": -want,
        f"mse_gradient() divides by 17, the size of the whole data set, not by the number of points it "
        f"is given (here {n})": want * n / 17,
    }, expected="dJ/dbeta of J = mean((X beta - y)^2)")
    if found:
        found.evidence += " (tf.GradientTape and a central finite difference agree on the expected value)"
    return found


def _regression_step_finding(train_step, features, targets, features64, targets64, beta64):
    import tensorflow as tf

    rate = 0.1
    beta = tf.Variable(beta64.astype(np.float32))
    loss, found = call_finding("train_step", lambda: train_step(
        tf.constant(features), tf.constant(targets), beta, tf.constant(rate, tf.float32)),
        f"{len(features)} points and beta of shape (2, 1)", steps=True)
    if found:
        return found
    after = beta.numpy().astype(np.float64)
    if np.array_equal(after, beta64.astype(np.float32).astype(np.float64)):
        return Finding("no variable changes in train_step(): beta is where it started, so its "
                       "gradient is None or zero, or the update is not applied in place",
                       f"beta before and after one step: {beta64.ravel().round(4).tolist()}",
                       "compute the loss inside the `with tf.GradientTape()` block and change beta in "
                       "place (`beta = beta - ...` only rebinds a name)")
    gradient = _tape_gradient(features64, targets64, beta64)
    step = rate * gradient
    found = value_finding("train_step", after, beta64 - step, rtol=1e-3, atol=1e-5, wrong={
        "gradient ascent in train_step(): beta moved along the gradient, up the loss": beta64 + step,
        "train_step() moves beta by the whole gradient, without the step size learning_rate":
            beta64 - gradient,
    }, expected=f"beta - learning_rate * dJ/dbeta with learning_rate = {rate}")
    if found:
        return found
    if loss is None:
        return Finding("train_step() returns nothing; the docstring asks for the loss before the step")
    before = float(np.mean((features64 @ beta64 - targets64) ** 2))
    return value_finding("train_step", loss, before, rtol=1e-3, atol=1e-6, wrong={
        "train_step() returns the loss after the step; the docstring asks for the loss before it":
            float(np.mean((features64 @ after - targets64) ** 2))},
        expected="the loss before the step")


def _sample_batch_finding(sample_batch, rng) -> Finding | None:
    num_points, batch_size, trials = 17, 8, 200
    seeds = rng.integers(0, 2**31, trials)

    def draw(seed, points=num_points, size=batch_size):
        value = sample_batch(np.random.default_rng(int(seed)), points, size)
        return np.asarray(value.numpy() if hasattr(value, "numpy") else value)

    first = draw(seeds[0])
    call = f"sample_batch(rng, num_points={num_points}, batch_size={batch_size})"
    if first.shape != (batch_size,):
        return Finding(f"sample_batch() returns shape {first.shape}, not batch_size indices",
                       f"{call} returned {_describe(first)}; the docstring asks for shape ({batch_size},)")
    if not np.issubdtype(first.dtype, np.integer):
        return Finding(f"sample_batch() returns {first.dtype} values, not integer indices",
                       f"{call} returned {_describe(first)}", "indices pick rows: they are integers")
    batches = [first] + [draw(seed) for seed in seeds[1:]]
    outside = sorted({int(i) for batch in batches for i in batch if not 0 <= i < num_points})
    if outside:
        return Finding("sample_batch() returns indices outside range(num_points)",
                       f"{call} gave {outside[:5]} in {trials} draws")
    repeated = sum(len(set(batch.tolist())) < batch_size for batch in batches)
    if repeated:
        return Finding("sample_batch() draws the same point twice in one batch (sampling with "
                       "replacement): a batch must hold batch_size different points",
                       f"{repeated} of {trials} batches drawn by {call} held a repeated index",
                       "draw without replacement")
    seen = set(np.concatenate(batches).tolist())
    if len(seen) < num_points:
        return Finding("sample_batch() never draws some of the points: the sample must come from all "
                       "num_points of them",
                       f"in {trials} draws of {call} only the indices {sorted(seen)} appeared")
    if len({tuple(batch.tolist()) for batch in batches}) == 1:
        return Finding("sample_batch() always returns the same indices: the batch is not random",
                       f"{trials} draws of {call} all gave {first.tolist()}")
    if not np.array_equal(draw(seeds[0]), first) or not np.array_equal(draw(seeds[1]), batches[1]):
        return Finding("sample_batch() does not draw from the generator rng it is given (NumPy's global "
                       "functions, or a generator of its own?): the same seed gives other batches, so "
                       "--seed does not reproduce a run",
                       f"two generators seeded with {int(seeds[0])} gave {first.tolist()} and "
                       f"{draw(seeds[0]).tolist()}", "use the rng argument's own methods")
    everything = draw(seeds[0], 5, 5)
    if sorted(everything.tolist()) != list(range(5)):
        return Finding("sample_batch() with batch_size = num_points does not return every point once",
                       f"sample_batch(rng, 5, 5) gave {everything.tolist()}")
    return None


# ----------------------------------------------------------------------------- sgd/binary_classif


def _softplus(values: np.ndarray) -> np.ndarray:
    return np.maximum(values, 0.0) + np.log1p(np.exp(-np.abs(values)))


def _binary_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-point sigmoid cross-entropy from logits, stable for any |logit| (the reference)."""
    return _softplus(logits) - labels * logits


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * values))


@probe("binary_classif")
def binary_classif(context: Context) -> list[Finding]:
    """sgd/binary_classif: logits of shape (batch,) that are logits, the mean sigmoid cross-entropy
    from logits (also for large logits), and one SGD step from a known point."""
    import tensorflow as tf

    rng = context.rng
    points = rng.normal(0.0, 1.0, (8, 2)).astype(np.float32)
    weights = np.array([[1.5], [-2.0]], np.float32)  # logits well outside [0, 1]: a sigmoid shows
    bias = np.array([0.3], np.float32)
    points64, weights64 = points.astype(np.float64), weights.astype(np.float64)
    want = (points64 @ weights64)[:, 0] + 0.3
    got, found = call_finding("logits", lambda: context.function("logits")(
        tf.constant(points), tf.Variable(weights), tf.Variable(bias)),
        "points of shape (8, 2), weights (2, 1) and bias (1,)")
    if found:
        return [found]
    found = tensor_finding("logits", got, what="the logits")
    if found:
        return [found]
    shape = tuple(got.shape)
    if shape in ((8, 1), (1, 8)):
        return [Finding(f"logits() returns shape {shape}, where the labels have shape (batch,) = (8,): "
                        f"it keeps the length-1 axis of the weights, so against the labels the loss "
                        f"fails or broadcasts to a (batch, batch) table of every pair",
                        f"logits of 8 points: shape {shape}, expected (8,)",
                        "remove the length-1 axis so that there is one logit per point")]
    found = (shape_finding("logits", got, (8,)) or logits_finding("logits", got)
             or value_finding("logits", got, want, wrong={
                 "logits() leaves out the bias": want - 0.3},
                 expected="each point's weighted sum plus the bias"))
    if found:
        return [found]

    labels = rng.integers(0, 2, 8).astype(np.float64)
    labels[:2] = [0.0, 1.0]  # both classes, whatever the draw
    logit_values = want.astype(np.float32)
    z = logit_values.astype(np.float64)
    per_point = _binary_cross_entropy(z, labels)
    cross_entropy = context.function("cross_entropy")
    loss, found = call_finding("cross_entropy", lambda: cross_entropy(
        tf.constant(labels, tf.float32), tf.constant(logit_values)), "labels (8,) and logits (8,)")
    if found:
        return [found]
    found = tensor_finding("cross_entropy", loss, what="the loss")
    if found:
        return [found]
    if as_array(loss).size > 1:
        per_point_values = as_array(loss).size == 8
        return [Finding("cross_entropy() returns one loss per point, not their mean" if per_point_values
                        else "a shape broadcast in cross_entropy(): (batch,) and (batch, 1) combined give "
                             "a table of every pair",
                        f"on 8 points it returned shape {tuple(loss.shape)}; the docstring asks for one "
                        f"number")]
    log_softmax = z - np.log(np.exp(z - z.max()).sum()) - z.max()
    found = value_finding("cross_entropy", loss, per_point.mean(), rtol=1e-4, atol=1e-6, wrong={
        "cross_entropy() applies a sigmoid to what are already logits: the with-logits loss applies its "
        "own, so it sees sigmoid(sigmoid(z))": _binary_cross_entropy(_sigmoid(z), labels).mean(),
        "cross_entropy() sums the losses of the batch instead of averaging them": per_point.sum(),
        "cross_entropy() swaps labels and logits": _binary_cross_entropy(labels, z).mean(),
        "cross_entropy() counts a label 1 as 0 and 0 as 1": _binary_cross_entropy(z, 1 - labels).mean(),
        "cross_entropy() is a softmax cross-entropy over the whole batch, as if the batch were one "
        "distribution: one logit per point calls for the sigmoid cross-entropy":
            -(labels * log_softmax).sum(),
    }, expected="the mean over the points of the binary cross-entropy between label and sigmoid(logit)")
    if found:
        return [found]

    large = np.array([60.0, -60.0, 35.0, -35.0, 80.0, -80.0, 20.0, -20.0], np.float32)
    large_labels = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    reference = _binary_cross_entropy(large.astype(np.float64), large_labels).mean()
    loss = cross_entropy(tf.constant(large_labels, tf.float32), tf.constant(large))
    values = as_array(loss)
    if not np.all(np.isfinite(values)):
        return [Finding("cross_entropy() overflows for large logits: it goes through sigmoid "
                        "probabilities, which round to exactly 0 or 1 once |logit| is large, and log(0) "
                        "is infinite",
                        f"on logits {large.tolist()} with labels {large_labels.tolist()} it gave "
                        f"{values.ravel().tolist()}; the loss there is {reference:.4g}",
                        "compute the loss from the logits themselves, as the docstring asks")]
    if not np.allclose(values, reference, rtol=1e-3):
        return [Finding("cross_entropy() is wrong for large logits: probabilities rounded or clipped "
                        "before the log lose the loss of confidently wrong points",
                        f"on logits {large.tolist()} with labels {large_labels.tolist()} it gave "
                        f"{values.ravel().tolist()}; the loss there is {reference:.4g}",
                        "compute the loss from the logits themselves, as the docstring asks")]

    found = _binary_step_finding(context.function("train_step"), rng)
    return [found] if found else []


def _binary_step_finding(train_step, rng) -> Finding | None:
    import tensorflow as tf

    points = rng.normal(0.0, 1.0, (64, 2))
    labels = (points @ np.array([1.0, 1.0]) + rng.normal(0.0, 0.5, 64) > 0).astype(np.float64)
    weights0 = rng.normal(0.0, 0.5, (2, 1)).astype(np.float32).astype(np.float64)
    bias0 = np.array([0.25])
    points = points.astype(np.float32).astype(np.float64)
    rate = 0.5
    variables = {"weights": tf.Variable(weights0.astype(np.float32)),
                 "bias": tf.Variable(bias0.astype(np.float32))}
    loss, found = call_finding("train_step", lambda: train_step(
        tf.constant(points, tf.float32), tf.constant(labels, tf.float32), variables["weights"],
        variables["bias"], tf.constant(rate, tf.float32)),
        "64 points, weights (2, 1) and bias (1,)", steps=True)
    if found:
        return found
    z = (points @ weights0)[:, 0] + bias0[0]
    error = _sigmoid(z) - labels  # dLoss/dlogit of each point
    gradients = {"weights": points.T @ error[:, None] / len(points), "bias": np.array([error.mean()])}
    start = {"weights": weights0, "bias": bias0}
    after = {name: variable.numpy().astype(np.float64) for name, variable in variables.items()}
    still = [name for name in after if np.array_equal(after[name], start[name].astype(np.float32))]
    if still:
        moved = [name for name in after if name not in still]
        return Finding("no variable changes in train_step(): the gradients are None or zero, or the "
                       "update is not applied in place" if not moved else
                       f"some variables never change in train_step(): {', '.join(still)}",
                       f"after one step: unchanged {', '.join(still)}"
                       + (f"; changed {', '.join(moved)}" if moved else ""),
                       "every variable must be in the list given to tape.gradient and be updated in "
                       "place (`weights = weights - ...` only rebinds a name)")
    for name in after:
        found = value_finding("train_step", after[name], start[name] - rate * gradients[name], rtol=1e-3,
                              atol=1e-5, wrong={
                                  f"gradient ascent in train_step(): {name} moved along the gradient, up "
                                  f"the loss": start[name] + rate * gradients[name],
                                  f"train_step() moves {name} by the whole gradient, without the step "
                                  f"size learning_rate": start[name] - gradients[name]},
                              expected=f"{name} - learning_rate * gradient, after one step from a "
                                       f"known point")
        if found:
            return found
    if loss is None:
        return Finding("train_step() returns nothing; the docstring asks for the batch loss")
    return value_finding("train_step", loss, _binary_cross_entropy(z, labels).mean(), rtol=1e-3,
                         atol=1e-6, expected="the batch loss (before the step)")
