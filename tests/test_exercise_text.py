"""The detector behind the rule "TODOs state the goal, hints together show at most one line of the
solution" (seminar/tools/verify.py applies it to every exercise): lines are compared "up to names
and spacing" (seminar/tools/answers.py)."""

from __future__ import annotations

from seminar.tools import answers


def test_the_detector_finds_an_answer_up_to_names_and_spacing():
    solution = ("def f(images, weights, bias):\n"
                "    # SOLUTION: the logits\n"
                "    logits = tf.matmul(images, weights) + bias\n"
                "    return logits\n"
                "    # END SOLUTION\n")
    assert answers.lines_shown(solution, "Use tf.matmul( x,w )+b here.") == [
        "logits = tf.matmul(images, weights) + bias"]
    assert answers.lines_shown(solution, "Multiply with tf.matmul, then add the bias.") == []
    assert answers.lines_shown(solution, "tf.add(tf.matmul(x, w), b)") == []
