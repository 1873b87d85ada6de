"""The training log every epoch-based lesson reports to (seminar/training_log.py): what it keeps
of the losses, what it writes, and the clear error for a training step that returns a loss per
example instead of the batch's mean."""

import pathlib

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from seminar import runtime
from seminar.training_log import TrainingLog


def quiet_log(tmp_path: pathlib.Path, **kwargs) -> TrainingLog:
    return TrainingLog(runtime.RunContext(tmp_path, quiet=True), **kwargs)


def test_batch_losses_join_the_curve_and_each_epoch_keeps_their_mean(tmp_path):
    log = quiet_log(tmp_path, epochs=2, evaluate=lambda: {"val_accuracy": 0.5})
    for epoch, losses in enumerate([[tf.constant(3.0), np.float32(1.0)], [0.5, 0.25]]):
        for _ in log.batches(losses):
            pass
        log.epoch(epoch, loss=losses)
    assert log.loss_curve == [3.0, 1.0, 0.5, 0.25] and log.loss_curve_unit == "step"
    assert log.column("loss") == [2.0, 0.375] and log.final_loss == 0.375
    assert log.evidence() == {"loss_curve": [3.0, 1.0, 0.5, 0.25], "loss_curve_unit": "step",
                              "final_loss": 0.375}
    table = pd.read_csv(log.write_csv())
    assert list(table["epoch"]) == [1, 2] and list(table["val_accuracy"]) == [0.5, 0.5]
    assert table["epoch_seconds"].sum() == pytest.approx(log.train_seconds)


def test_one_number_per_epoch_makes_an_epoch_curve(tmp_path):
    log = quiet_log(tmp_path, epochs=2)
    log.epoch(0, loss=0.9)
    log.epoch(1, loss=tf.constant(0.4))
    assert log.loss_curve == pytest.approx([0.9, 0.4]) and log.loss_curve_unit == "epoch"


def test_a_loss_per_example_gets_a_clear_error(tmp_path):
    log = quiet_log(tmp_path, epochs=1)
    with pytest.raises(ValueError, match=r"one number \(the mean over the batch\), got a tensor of shape \(4,\)"):
        log.epoch(0, loss=[tf.ones((4,))])
