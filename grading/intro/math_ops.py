"""Grading of intro/math_ops.

The checker calls the functions on matrices of its own and compares the six results exactly with
NumPy's. The probe tries scalars in both dtypes, A^T B on non-square shapes (so that B^T A shows),
the element-wise sum, and the same functions traced into the graph.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from seminar.grader.measures import exact_fraction
from seminar.grader.toolkit import (Context, Finding, as_array, call_finding, describe,
                                    tensor_finding, value_finding)


def probe_math_ops(context: Context) -> list[Finding]:
    """intro/math_ops: scalars in both dtypes, A^T B on non-square shapes, the element-wise sum, and
    the same functions traced in the graph."""
    add_and_multiply = context.function("add_and_multiply")
    for a, b, dtype in [(7, 6, tf.int32), (1.5, 2.0, tf.float32), (7, 6, tf.float32)]:
        pair, found = call_finding("add_and_multiply", functools.partial(add_and_multiply, a, b, dtype),
                                   f"a = {a!r}, b = {b!r} and dtype = tf.{dtype.name}")
        if found:
            return [found]
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            return [Finding("add_and_multiply() must return a pair (a + b, a * b)",
                            f"add_and_multiply({a}, {b}, {dtype.name}) returned {describe(pair)}")]
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
                                       f"{describe(value)}", "make the tensors with the dtype argument")]
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
                        f"{describe(total)}; the docstring asks for one number, shape ()")]
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
    matrix_graph = context.constant("matrix_graph", None)
    if matrix_graph is not None:
        try:
            matrix_graph(tf.constant(a), tf.constant(b_same))
        except Exception as error:
            if isinstance(error, NotImplementedError) and "TODO in " in str(error):
                raise  # an unfilled TODO: the check reports it itself
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            return [Finding("your functions work on actual numbers but fail inside the traced graph "
                            "matrix_graph(): a .numpy() call or a NumPy function needs values, which a "
                            "graph being traced does not have",
                            f"{type(error).__name__}: {first[:240]}", "use TensorFlow operations only")]
    return []


def measure_fraction_correct(context: Context) -> float:
    """The share of the six results that are exact, on matrices of the checker's, against NumPy."""
    module = context.module
    a = np.array([[1.0, -2.0], [0.5, 3.0], [4.0, 1.5]], np.float32)  # (3, 2)
    b = np.array([[2.0, 1.0], [-1.0, 0.0], [3.0, 2.0]], np.float32)  # (3, 2)
    return exact_fraction([
        (lambda: module.add_and_multiply(7, 6, tf.int32)[0], 13, tf.int32),
        (lambda: module.add_and_multiply(7, 6, tf.int32)[1], 42, tf.int32),
        (lambda: module.add_and_multiply(1.5, 2.0, tf.float32)[0], 3.5, tf.float32),
        (lambda: module.add_and_multiply(1.5, 2.0, tf.float32)[1], 3.0, tf.float32),
        (lambda: module.matrix_graph(tf.constant(a), tf.constant(b))[0], a.T @ b, tf.float32),
        (lambda: module.matrix_graph(tf.constant(a), tf.constant(b))[1], float((a * b).sum()),
         tf.float32),
    ])
