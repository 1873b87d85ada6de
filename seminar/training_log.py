"""The record of a training run, one row per epoch: what a lesson's loop reports to, so that the
loop itself stays as plain as TensorFlow's quickstart.

    log = TrainingLog(run, epochs=args.epochs, evaluate=held_out_metrics)
    for epoch in range(args.epochs):
        losses = []
        for images, labels in log.batches(dataset):   # a progress bar; times the epoch
            losses.append(train_step(images, labels))
        log.epoch(epoch, loss=losses)                 # held-out metrics, one line, a history row

A model trained with Keras's ``fit`` reports to the same log through ``log.keras_callback()``.

What the log keeps:

- every batch loss (``loss_curve``), which the checker reads for NaN, ascent or a stall;
- one row per epoch: the mean training loss, the held-out metrics that ``evaluate()`` returns,
  the epoch's training seconds (evaluation not counted); ``table()`` gives them as a pandas
  DataFrame, ``write_csv()`` writes them to ``history.csv`` in the output folder;
- TensorBoard scalars of every row with ``--tensorboard``;
- the training time, wall and CPU, for ``summary()``.
"""

from __future__ import annotations

import math
import pathlib
import time
from typing import Callable, Iterable, Iterator

from seminar import runtime


# What Keras's own progress bar already shows of a row, or what it need not show.
KERAS_SHOWS = ("epoch", "epoch_seconds", "train_seconds", "loss", "train_accuracy")


def _float(value) -> float:
    """A Python float from a number, a scalar tensor or a NumPy scalar."""
    return float(value.numpy()) if hasattr(value, "numpy") else float(value)


def _scalar_loss(value) -> float:
    """A batch's loss as a float; a clear error when the training step returned more than one
    number (a loss per example, not averaged), which would otherwise fail deep in a conversion."""
    shape = tuple(getattr(value, "shape", ()))
    if shape not in ((), (1,)):
        raise ValueError(f"the training step must return the batch's loss as one number (the mean "
                         f"over the batch), got a tensor of shape {shape}: average it")
    return float(value.numpy().reshape(())) if hasattr(value, "numpy") else float(value)


def _length(batches) -> int | None:
    """How many batches an iterable yields, when it can tell (a list, a finite tf.data pipeline)."""
    try:
        return len(batches)
    except TypeError:
        pass
    cardinality = getattr(batches, "cardinality", None)
    if cardinality is not None:
        count = int(cardinality())
        if count >= 0:  # -1: infinite, -2: unknown
            return count
    return None


class TrainingLog:
    """Per-epoch log of a training run (see the module's docstring for the loop it serves).

    ``evaluate()``, when given, returns the held-out metrics to measure after each epoch, e.g.
    ``{"val_accuracy": 0.97}``; the log calls it with the clock stopped. ``steps_per_epoch`` sizes
    the progress bar when the batches cannot tell their number.
    """

    def __init__(self, run: runtime.RunContext, *, epochs: int,
                 evaluate: Callable[[], dict] | None = None, steps_per_epoch: int | None = None,
                 name: str = "train"):
        self.run = run
        self.epochs = epochs
        self.evaluate = evaluate
        self.steps_per_epoch = steps_per_epoch
        self.name = name
        self.rows: list[dict] = []
        self.loss_curve: list[float] = []
        self.loss_curve_unit = "step"
        self.train_seconds = 0.0
        self.train_cpu_seconds = 0.0
        self._epoch_seconds = 0.0
        self._writer = None
        self._started: tuple[float, float] | None = None
        self._timed = False  # whether batches() or Keras timed this epoch
        self._last_mark = (time.perf_counter(), time.process_time())  # the end of the last epoch

    # ------------------------------------------------------------------ timing

    def _start(self) -> None:
        self._started = (time.perf_counter(), time.process_time())
        self._timed = True

    def _stop(self) -> None:
        if self._started is None:
            return
        wall, cpu = self._started
        elapsed = time.perf_counter() - wall
        self._epoch_seconds += elapsed
        self.train_seconds += elapsed
        self.train_cpu_seconds += time.process_time() - cpu
        self._started = None

    # ------------------------------------------------------------------ the loop's two calls

    def batches(self, batches: Iterable, steps: int | None = None) -> Iterator:
        """Yield the epoch's batches, timing them and drawing a progress bar (none with
        ``--quiet``). The time between batches is the training time of the epoch."""
        steps = steps or _length(batches) or self.steps_per_epoch
        bar = None
        if not self.run.quiet:
            import keras

            print(f"Epoch {len(self.rows) + 1}/{self.epochs}", flush=True)
            bar = keras.utils.Progbar(steps)
        last_drawn = 0.0
        self._start()
        done = 0
        try:
            for batch in batches:
                yield batch
                done += 1
                # Redrawn about ten times a second, and once at the end: Keras's bar finishes
                # its line itself when it reaches ``steps``.
                if bar is not None and (time.perf_counter() - last_drawn >= 0.1 or done == steps):
                    last_drawn = time.perf_counter()
                    bar.update(done)
        finally:
            self._stop()
        if bar is not None and done != steps:  # fewer batches than announced: end the line
            bar.update(done, finalize=True)

    def epoch(self, epoch: int, loss=None, **values) -> dict:
        """Record epoch ``epoch`` (counted from 0): ``loss`` is the list of its batch losses (floats
        or scalar tensors; they join ``loss_curve``) or one number (the epoch's mean loss); other
        keyword values (a training accuracy) go into the row as they are. Measures ``evaluate()``,
        prints one line, writes TensorBoard scalars, and returns the row.

        A loop that does not iterate through :meth:`batches` is timed from the end of the previous
        epoch (or from the log's creation) to this call."""
        return self._record(epoch, loss, values, print_line=True)

    def _record(self, epoch: int, loss, values: dict, *, print_line: bool) -> dict:
        self._stop()
        if not self._timed:
            self._started = self._last_mark
            self._stop()
        self._timed = False
        row = {"epoch": epoch + 1, "epoch_seconds": self._epoch_seconds,
               "train_seconds": self.train_seconds}
        self._epoch_seconds = 0.0
        if loss is not None:
            if isinstance(loss, (list, tuple)):
                batch_losses = [_scalar_loss(value) for value in loss]
                self.loss_curve += batch_losses
                row["loss"] = sum(batch_losses) / max(len(batch_losses), 1)
            else:
                row["loss"] = _float(loss)
                self.loss_curve.append(row["loss"])
                self.loss_curve_unit = "epoch"
        row.update({key: _float(value) for key, value in values.items() if value is not None})
        if self.evaluate is not None:
            row.update({key: _float(value) for key, value in self.evaluate().items()})
        self.rows.append(row)
        if print_line:
            self._print(row)
        self._to_tensorboard(row)
        self._last_mark = (time.perf_counter(), time.process_time())
        return row

    def _print(self, row: dict) -> None:
        shown = ", ".join(f"{key.replace('_', ' ')} {value:.4f}" for key, value in row.items()
                          if key not in ("epoch", "epoch_seconds", "train_seconds"))
        runtime.say(self.run, f"  epoch {row['epoch']}/{self.epochs}: {shown} "
                              f"({row['epoch_seconds']:.1f} s)")

    def _to_tensorboard(self, row: dict) -> None:
        if not self.run.tensorboard:
            return
        import tensorflow as tf

        if self._writer is None:
            self._writer = runtime.tensorboard_writer(self.run, self.name)
        with self._writer.as_default():
            for key, value in row.items():
                if key != "epoch":
                    tf.summary.scalar(key, value, step=row["epoch"])
        self._writer.flush()

    # ------------------------------------------------------------------ Keras's fit

    def keras_callback(self):
        """A Keras callback through which ``model.fit`` reports to this log: every batch's loss
        (Keras's running mean over the epoch so far) joins ``loss_curve``, and each epoch ends
        with :meth:`epoch` (its loss, its training accuracy when compiled with it, ``evaluate()``).
        The held-out metrics also go into Keras's logs, so its progress bar shows them."""
        import keras

        log = self

        class ReportToLog(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                log._start()

            def on_train_batch_end(self, batch, logs=None):
                if logs and "loss" in logs:
                    log.loss_curve.append(_float(logs["loss"]))

            def on_epoch_end(self, epoch, logs=None):
                logs = logs if logs is not None else {}
                log._stop()
                curve = list(log.loss_curve)  # kept batch by batch above: the epoch's mean is
                row = log._record(epoch, logs.get("loss"),  # not appended to it
                                  {"train_accuracy": logs.get("accuracy")}, print_line=False)
                log.loss_curve, log.loss_curve_unit = curve, "step"
                # Keras's progress bar prints the epoch's line: give it the held-out metrics.
                for key, value in row.items():
                    if key not in KERAS_SHOWS:
                        logs.setdefault(key, value)

        return ReportToLog()

    # ------------------------------------------------------------------ after training

    def column(self, name: str) -> list[float]:
        return [row[name] for row in self.rows if name in row]

    @property
    def final_loss(self) -> float:
        """The last epoch's mean training loss (NaN before the first epoch)."""
        values = self.column("loss")
        return values[-1] if values else math.nan

    def table(self):
        """The history as a pandas DataFrame, one row per epoch."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def write_csv(self, filename: str = "history.csv") -> pathlib.Path:
        path = self.run.path(filename)
        self.table().to_csv(path, index=False)
        return path

    def summary(self, examples_per_epoch: int | None = None) -> dict:
        """Training time for ``main``'s result: seconds (wall and CPU, all threads: above the wall
        time when both cores work), seconds per epoch, and examples per second when
        ``examples_per_epoch`` is given."""
        epochs = max(len(self.rows), 1)
        summary = {"train_seconds": self.train_seconds,
                   "train_cpu_seconds": self.train_cpu_seconds,
                   "epoch_seconds": self.train_seconds / epochs}
        if examples_per_epoch:
            summary["examples_per_second"] = examples_per_epoch * epochs / max(self.train_seconds, 1e-9)
        return summary

    def evidence(self) -> dict:
        """What the checker reads of the training: the loss curve and its unit, the final loss."""
        return {"loss_curve": list(self.loss_curve), "loss_curve_unit": self.loss_curve_unit,
                "final_loss": self.final_loss}
