"""The intro chapter: exact values, and the traced graph that the schema draws."""

import numpy as np
import pytest
import tensorflow as tf

from seminar import manifest, plots
from seminar.grader import checker

COURSE = manifest.load()


@pytest.fixture(scope="module")
def hello():
    return checker.load_module(COURSE.get("intro/hello_world").solution_path)


@pytest.fixture(scope="module")
def math_ops():
    return checker.load_module(COURSE.get("intro/math_ops").solution_path)


def test_hello_world_values(hello):
    assert hello.greeting().numpy() == b"Hello, TensorFlow!"
    total = hello.add_constants(2, 3)
    assert total.dtype == tf.int32 and total.numpy() == 5
    counter = hello.count_with_variable(7)
    assert isinstance(counter, tf.Variable) and counter.numpy() == 7
    graph = hello.make_graph()
    assert graph(tf.constant(3.0), tf.constant(4.0)).numpy() == 15.0
    np.testing.assert_array_equal(graph(tf.constant([1.0, 2.0]), tf.constant([10.0, 20.0])), [11.0, 42.0])
    with pytest.raises((TypeError, ValueError)):
        graph(tf.constant(1), tf.constant(2))  # the input signature accepts float32 only


def test_math_ops_values(math_ops):
    int_sum, int_product = math_ops.add_and_multiply(2, 3, tf.int32)
    assert (int_sum.dtype, int_sum.numpy(), int_product.numpy()) == (tf.int32, 5, 6)
    float_sum, float_product = math_ops.add_and_multiply(2.5, 4.0, tf.float32)
    assert (float_sum.dtype, float_sum.numpy(), float_product.numpy()) == (tf.float32, 6.5, 10.0)
    a, b = tf.constant(math_ops.MATRIX_A), tf.constant(math_ops.MATRIX_B)
    np.testing.assert_array_equal(math_ops.transpose_matmul(a, b), [[6.0, 8.0], [8.0, 10.0]])
    assert math_ops.elementwise_product_sum(a, b).numpy() == 16.0


def test_math_ops_graph_has_the_schema_the_slide_asks_for(math_ops):
    nodes, edges = plots.graph_edges(math_ops.matrix_graph.get_concrete_function())
    kinds = dict(nodes)
    placeholders = {name for name, kind in nodes if kind == "Placeholder"}
    assert len(placeholders) == 2, "A and B are the graph's two inputs"
    matmuls = [name for name, kind in nodes if kind in ("MatMul", "BatchMatMulV2")]
    assert len(matmuls) == 1
    assert {source for source, target in edges if target == matmuls[0]} == placeholders
    multiply = [name for name, kind in nodes if kind == "Mul"]
    assert len(multiply) == 1
    assert any(kinds[target] == "Sum" for source, target in edges if source == multiply[0])


@pytest.mark.parametrize("exercise_id", [e.id for e in manifest.load().in_chapter("intro")])
def test_schema_image_is_written(exercise_id, solution_run):
    result, output_dir = solution_run(exercise_id)
    assert result.metrics["fraction_correct"] == 1.0
    image = output_dir / "graph_schema.png"
    assert image.is_file() and image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
