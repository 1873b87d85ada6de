"""Grading of intro/hello_world.

The checker calls the five functions with inputs of its own and compares each result exactly
(value, dtype, shape). The probe says *why* a result is wrong: a Python or NumPy value where a
tensor is due, the wrong dtype, a variable made anew instead of changed in place, ``make_graph``
returning a value instead of a ``tf.function``.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from seminar.grader.measures import exact_fraction
from seminar.grader.toolkit import (Context, Finding, call_finding, describe, kind, tensor_finding,
                                    value_finding)


def probe_hello_world(context: Context) -> list[Finding]:
    """intro/hello_world: each function on inputs of the checker's, with what is wrong in words."""
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
                             f"add_constants({a}, {b}) gave {describe(total)}; the docstring asks for "
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
    for steps in (5, 3, 0):  # a second call must start again from 0
        created = []

        def creator(next_creator, **kwargs):
            created.append(kwargs.get("name"))  # noqa: B023  (called in this iteration only)
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
                           f"{describe(counter)}",
                           "`counter = counter + 1` makes a new tensor and leaves the variable "
                           "behind: change the variable itself in place, and return it")
        if not created:
            return Finding("count_with_variable() creates no variable of its own: it reuses one made "
                           "outside the function, so a call does not start from 0",
                           f"count_with_variable({steps}) created no tf.Variable; it returned "
                           f"{describe(counter)}")
        found = (tensor_finding("count_with_variable", counter, tf.int32, (), what="the counter")
                 or value_finding("count_with_variable", counter, steps, wrong={
                     "count_with_variable() counts one step too many": steps + 1,
                     "count_with_variable() counts one step too few": steps - 1},
                     expected=f"the value {steps} after {steps} steps from 0"))
        if found:
            return found
    return None


def _graph_findings(make_graph, rng) -> list[Finding]:
    graph = make_graph()
    if tf.is_tensor(graph) or isinstance(graph, (np.ndarray, np.generic, int, float)):
        return [Finding("make_graph() returns a value (the result of calling the function), not a "
                        "tf.function", f"got {describe(graph)}",
                        "return the decorated function itself, without calling it: main() calls it "
                        "with the data to feed")]
    if isinstance(graph, tf.types.experimental.ConcreteFunction):
        return [Finding("make_graph() returns one concrete (already traced) graph, not the "
                        "tf.function", f"got {describe(graph)}", "return the tf.function itself")]
    if not isinstance(graph, tf.types.experimental.GenericFunction):
        if callable(graph):
            return [Finding("make_graph() returns a plain Python function, not a tf.function: nothing "
                            "is traced into a graph", f"got {describe(graph)}",
                            "make it a TensorFlow graph function (with an input signature)")]
        return [Finding(f"make_graph() returns {kind(graph)}, not a tf.function", f"got {describe(graph)}")]
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
            "make_graph", functools.partial(graph, tf.constant(x), tf.constant(y)),
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


def measure_fraction_correct(context) -> float:
    """The share of the five results that are exact on inputs of the checker's choosing."""
    module = context.module
    graph = module.make_graph()
    return exact_fraction([
        (lambda: module.greeting(), b"Hello, TensorFlow!", tf.string),
        (lambda: module.add_constants(20, 22), 42, tf.int32),
        (lambda: module.count_with_variable(5), 5, tf.int32),
        (lambda: graph(tf.constant(-2.0), tf.constant(5.0)), -12.0, tf.float32),
        (lambda: graph(tf.constant([3.0, 0.5]), tf.constant([2.0, 4.0])), [9.0, 2.5], tf.float32),
    ])
