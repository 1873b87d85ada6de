# %% [markdown]
"""
Title: Hello, TensorFlow: constants, variables and the graph you feed

Chapter: intro (seminar slides 10-12)

Teaches: tf.constant, tf.Variable, and a tf.function with an input signature, the TensorFlow 2
    form of the seminar's "draw your graph, feed data, optimize" (placeholders and sessions are gone:
    a traced function is the graph, its arguments are the placeholders, calling it feeds data).

Run time: about 5 s (most of it importing TensorFlow).

Task: fill in the four functions marked TODO. Then check your work with

    python -m seminar check intro/hello_world
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import tensorflow as tf

from seminar import plots, runtime

# %% Constants: fixed values in the graph


def greeting() -> tf.Tensor:
    """Return the string tensor ``b"Hello, TensorFlow!"`` (shape (), dtype tf.string)."""
    # SOLUTION: Return the greeting as a TensorFlow string tensor that never changes (not a
    #   Python str): a fixed value in the graph.
    return tf.constant("Hello, TensorFlow!")
    # END SOLUTION


def add_constants(a: int, b: int) -> tf.Tensor:
    """Return ``a + b`` computed by TensorFlow from two int32 constants (shape (), tf.int32)."""
    # SOLUTION: Turn a and b into two 32-bit integer TensorFlow constants and let TensorFlow add
    #   them: the result is an int32 tensor, not a Python int.
    return tf.add(tf.constant(a, dtype=tf.int32), tf.constant(b, dtype=tf.int32))
    # END SOLUTION


# %% Variables: state that training changes


def count_with_variable(steps: int) -> tf.Variable:
    """Create a ``tf.Variable`` starting at 0 (int32), add 1 to it ``steps`` times, return it.

    A constant can never change; a variable keeps its value between calls, which is what model
    weights need.
    """
    # SOLUTION: Create ONE int32 variable holding 0 and add 1 to it steps times, changing that
    #   same variable in place each time; return the variable itself.
    counter = tf.Variable(0, dtype=tf.int32)
    for _ in range(steps):
        counter.assign_add(1)
    return counter
    # END SOLUTION


# %% The graph you feed: a tf.function with an input signature (the old placeholders)


def make_graph() -> tf.types.experimental.GenericFunction:
    """Return a ``tf.function`` computing ``x * y + x`` for two float32 inputs of any shape.

    The ``input_signature`` plays the seminar's placeholder: it fixes the inputs' dtype and lets
    TensorFlow trace one graph, which every call then feeds with new values.
    """
    # SOLUTION: Define a function of x and y that returns x * y + x, turn it into a TensorFlow
    #   graph function whose signature accepts two float32 inputs of any shape (and nothing
    #   else), and return that function itself, not the result of a call.
    @tf.function(input_signature=[tf.TensorSpec(shape=None, dtype=tf.float32),
                                  tf.TensorSpec(shape=None, dtype=tf.float32)])
    def multiply_add(x, y):
        return tf.add(tf.multiply(x, y), x)

    return multiply_add
    # END SOLUTION


# %% Run everything and compare with the expected values


def main(argv=None) -> dict:
    parser = runtime.make_parser("intro/hello_world", __doc__)
    args = runtime.parse_args(parser, argv)
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)

    graph = make_graph()
    fed_scalar = graph(tf.constant(3.0), tf.constant(4.0))  # 3 * 4 + 3
    fed_vector = graph(tf.constant([1.0, 2.0]), tf.constant([10.0, 20.0]))  # feed other data
    results = {
        "greeting": (greeting(), b"Hello, TensorFlow!", tf.string),
        "add_constants": (add_constants(2, 3), 5, tf.int32),
        "count_with_variable": (count_with_variable(7), 7, tf.int32),
        "graph_scalar": (fed_scalar, 15.0, tf.float32),
        "graph_vector": (fed_vector, [11.0, 42.0], tf.float32),
    }
    fraction_correct = runtime.fraction_exact(run, results)

    concrete = graph.get_concrete_function()
    schema = plots.draw_graph(concrete, run, "graph_schema.png", "x * y + x: the graph TensorFlow traced")
    runtime.say(run, f"graph schema written to {schema}")
    return {"fraction_correct": fraction_correct,
            "graph_operations": len(concrete.graph.get_operations())}


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
