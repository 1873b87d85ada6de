# %% [markdown]
"""
Title: Basic maths with TensorFlow, and the schema of the graph

Chapter: intro (seminar slide 13)

Teaches: arithmetic on integer and float tensors, matrix products and reductions, all with
    TensorFlow ops only (no NumPy), and how a traced tf.function becomes a graph of operations.

Run time: about 5 s.

Task: fill in the functions marked TODO using TensorFlow operations only. Then draw the schema of
the code by hand, and compare with outputs/intro/math_ops/graph_schema.png. Check your work with

    python -m seminar check intro/math_ops
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import numpy as np
import tensorflow as tf

from seminar import plots, runtime

# %% The data: two scalars and two matrices

# A and B both have shape (3, 2), so A^T B has shape (2, 2) and A * B (element-wise) shape (3, 2).
MATRIX_A = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
MATRIX_B = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]


# %% Scalars: the same operations on integers and on floats


def add_and_multiply(a, b, dtype: tf.DType) -> tuple[tf.Tensor, tf.Tensor]:
    """Return ``(a + b, a * b)`` as tensors of ``dtype`` (tf.int32 or tf.float32), shape ()."""
    # SOLUTION: Make a and b tensors of the dtype you are given (whatever Python type they come
    #   in as), then return their sum and their product, computed by TensorFlow, in that order.
    a = tf.constant(a, dtype=dtype)
    b = tf.constant(b, dtype=dtype)
    return tf.add(a, b), tf.multiply(a, b)
    # END SOLUTION


# %% Matrices


def transpose_matmul(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Return ``A^T B`` for ``a`` of shape (n, p) and ``b`` of shape (n, q): shape (p, q)."""
    # SOLUTION: Return the matrix product of A's transpose with B, (p, q), with TensorFlow ops
    #   only (it must also work inside a traced graph).
    return tf.matmul(a, b, transpose_a=True)
    # END SOLUTION


def elementwise_product_sum(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Return the sum of all entries of the element-wise product ``A * B`` (shape ())."""
    # SOLUTION: Multiply A and B entry by entry (same shape, no matrix product), then add up
    #   every entry of the result into one number, with TensorFlow ops only.
    return tf.reduce_sum(tf.multiply(a, b))
    # END SOLUTION


# %% The graph: all the matrix maths as one traced function


@tf.function(input_signature=[tf.TensorSpec(shape=(None, None), dtype=tf.float32, name="A"),
                              tf.TensorSpec(shape=(None, None), dtype=tf.float32, name="B")])
def matrix_graph(a, b):
    """``(A^T B, sum(A * B))`` traced once as a graph: its inputs are what you feed."""
    return transpose_matmul(a, b), elementwise_product_sum(a, b)


def main(argv=None) -> dict:
    parser = runtime.make_parser("intro/math_ops", __doc__)
    args = runtime.parse_args(parser, argv)
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)

    int_sum, int_product = add_and_multiply(2, 3, tf.int32)
    float_sum, float_product = add_and_multiply(2.5, 4.0, tf.float32)
    a = tf.constant(MATRIX_A)
    b = tf.constant(MATRIX_B)
    product, total = matrix_graph(a, b)

    # The reference values come from NumPy, which the exercise itself must not use.
    a_np, b_np = np.array(MATRIX_A), np.array(MATRIX_B)
    results = {
        "int add": (int_sum, 5, tf.int32),
        "int multiply": (int_product, 6, tf.int32),
        "float add": (float_sum, 6.5, tf.float32),
        "float multiply": (float_product, 10.0, tf.float32),
        "A^T B": (product, a_np.T @ b_np, tf.float32),
        "sum(A * B)": (total, float((a_np * b_np).sum()), tf.float32),
    }
    fraction_correct = runtime.fraction_exact(run, results)

    concrete = matrix_graph.get_concrete_function()
    schema = plots.draw_graph(concrete, run, "graph_schema.png", "A^T B and sum(A * B): the traced graph")
    runtime.say(run, f"graph schema written to {schema}")
    return {"fraction_correct": fraction_correct,
            "graph_operations": len(concrete.graph.get_operations())}


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
