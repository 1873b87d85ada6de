"""What every exercise script shares: its command-line flags, seeding and output folder.

An exercise's ``main(argv=None)`` does::

    args = runtime.parse_args(runtime.make_parser("convnets/lenet", __doc__, epochs=20,
                                                  fast_epochs=2, batch_size=32), argv)
    runtime.set_seed(args.seed)               # the same seed gives the same run
    run = runtime.RunContext.from_args(args)  # where plots and logs go, --show, --quiet

and then ``args.seed``, ``args.epochs``, ``args.batch_size``, ``args.fast`` are there, the same in
every chapter. Plotting and reporting take the small ``run`` context, not the whole ``args``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import pathlib
import sys
import tempfile

from seminar.manifest import REPO_ROOT

OUTPUT_ROOT_VARIABLE = "SEMINAR_OUTPUT_DIR"


def exercise_id_from_path(script_path: str | os.PathLike) -> str:
    """``.../sgd/linear_regression_exo.py`` and ``.../solutions/sgd/linear_regression.py`` both
    give ``"sgd/linear_regression"``; an id (``"sgd/linear_regression"``) is returned as it is."""
    text = str(script_path)
    if not text.endswith(".py"):
        return text
    path = pathlib.Path(text)
    return f"{path.parent.name}/{path.stem.removesuffix('_exo')}"


def default_output_dir(exercise_id: str) -> pathlib.Path:
    """``outputs/<chapter>/<name>`` in the repository, or under ``$SEMINAR_OUTPUT_DIR``."""
    root = os.environ.get(OUTPUT_ROOT_VARIABLE)
    base = pathlib.Path(root) if root else REPO_ROOT / "outputs"
    return base / exercise_id


# ---------------------------------------------------------------- flag types
#
# argparse ``type=`` functions that refuse a value out of range at the command line, with a message
# saying what is expected, instead of a traceback deep in training (``--seed -1`` in NumPy) or a
# value silently replaced by the default (``--steps 0`` read as "not given").


def positive_int(text: str) -> int:
    """An integer >= 1: a number of epochs, steps, episodes, examples per batch."""
    value = _parse_number(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0, such as a seed (NumPy refuses negative seeds)."""
    value = _parse_number(text, int, "a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0, such as a learning rate or a number of seconds (``nan`` and ``inf``
    are refused: a NaN learning rate trains nothing and says nothing)."""
    value = _parse_number(text, float, "a number")
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number greater than 0, got {text}")
    return value


def _parse_number(text: str, kind: type, described: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {described}, got {text!r}") from None


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a flag's default, unless it has none worth showing (None, False) or its help already
    says it ("default 10, 1 with --fast")."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS \
                or "default" in text:
            return text
        return super()._get_help_string(action)


def make_parser(exercise: str, description: str | None, *, epochs: int | None = None,
                fast_epochs: int | None = None, batch_size: int | None = None,
                learning_rate: float | None = None) -> argparse.ArgumentParser:
    """The flags every exercise takes; a script adds its own with ``parser.add_argument``.

    ``exercise`` is the exercise's id, ``"chapter/name"`` (it names the output folder); a file's
    path is accepted too. An id works where a file has no ``__file__``, as in a notebook.

    ``epochs`` is the full run's default and ``fast_epochs`` the ``--fast`` run's; an explicit
    ``--epochs`` wins over both. Scripts without epochs (or a batch size, or a learning rate)
    leave them ``None`` and the flag is not offered.
    """
    parser = argparse.ArgumentParser(
        description=(description or "").strip().splitlines()[0] if description else None,
        formatter_class=_DefaultsFormatter,
    )
    parser.set_defaults(exercise_id=exercise_id_from_path(exercise),
                        fast_epochs=fast_epochs if fast_epochs is not None else epochs)
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="random seed: the same seed gives the same run")
    parser.add_argument("--fast", action="store_true",
                        help="a short run, for checks and CI (fewer epochs and/or less data)")
    if epochs is not None:
        parser.add_argument("--epochs", type=positive_int, default=None,
                            help=f"passes over the training data (default {epochs}, {fast_epochs} with --fast)")
        parser.set_defaults(full_epochs=epochs)
    if batch_size is not None:
        parser.add_argument("--batch-size", type=positive_int, default=batch_size, help="examples per SGD step")
    if learning_rate is not None:
        parser.add_argument("--learning-rate", type=positive_float, default=learning_rate,
                            help="the optimizer's step size")
    parser.add_argument("--output-dir", type=pathlib.Path, default=None,
                        help="where plots and logs go (default: outputs/<chapter>/<exercise>)")
    parser.add_argument("--show", action="store_true", help="also show the plots on screen")
    parser.add_argument("--tensorboard", action="store_true",
                        help="write TensorBoard logs to <output-dir>/tensorboard")
    parser.add_argument("--quiet", action="store_true", help="print no progress, only the result")
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``argv``, resolve the defaults that depend on ``--fast``, and create the output folder
    (a folder that cannot be written is a usage error now, not after the training). Seeding is the
    caller's explicit next step: ``runtime.set_seed(args.seed)``.

    In a notebook (a ``# %%`` cell run in Jupyter or VS Code) ``sys.argv`` holds the kernel's own
    arguments, so ``argv=None`` there means "no flags": ``main()`` is the full run, as a script
    without flags; ``main(["--fast"])`` the fast one.
    """
    if argv is None and in_notebook():
        argv = []
    args = parser.parse_args(argv)
    if hasattr(args, "epochs"):
        if args.epochs is None:
            args.epochs = args.fast_epochs if args.fast else args.full_epochs
        if args.epochs < 1:
            parser.error("--epochs must be at least 1")
    if getattr(args, "batch_size", 1) < 1:
        parser.error("--batch-size must be at least 1")
    if args.seed >= 2**32:  # the type refused negative seeds; NumPy refuses these too
        parser.error(f"argument --seed: must be below 2**32 = {2**32}, got {args.seed}")
    given = args.output_dir is not None
    if args.output_dir is None:
        args.output_dir = default_output_dir(args.exercise_id)
    args.output_dir = pathlib.Path(args.output_dir)
    _require_writable_folder(parser, args.output_dir, given)
    return args


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (Jupyter, JupyterLab, VS Code's notebooks, a
    hosted notebook service), where a file's last cell runs the fast run and plots show inline."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and "ipykernel" in sys.modules and hasattr(shell, "kernel")


def _require_writable_folder(parser: argparse.ArgumentParser, folder: pathlib.Path,
                             given: bool) -> None:
    """Create ``folder`` and write (and delete) a file in it, so that a folder that cannot hold
    the plots stops the script now, with a usage error, and not at its first plot after the whole
    training (a path under a regular file, a read-only folder, a name the system refuses)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as error:
        if given:
            advice = "pass --output-dir a folder you can write to"
        else:
            advice = (f"pass --output-dir a folder you can write to, or set {OUTPUT_ROOT_VARIABLE} "
                      f"to one")
        parser.error(f"cannot write plots and logs to {folder} ({error.strerror or error}); {advice}")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and ask TensorFlow for deterministic kernels, so that a
    run is reproducible on the same machine."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)  # seeds Python's, NumPy's and TensorFlow's generators
    tf.config.experimental.enable_op_determinism()


@dataclasses.dataclass(frozen=True)
class RunContext:
    """What plotting and reporting need to know of a run, and nothing else: where its plots and
    logs go, whether to show the plots on screen, whether to print progress, whether to write
    TensorBoard logs. Build one from the parsed flags with :meth:`from_args`, or by hand in a test
    or a notebook: ``RunContext(pathlib.Path("out"))``."""

    output_dir: pathlib.Path
    show: bool = False
    quiet: bool = False
    tensorboard: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "RunContext":
        return cls(pathlib.Path(args.output_dir), show=bool(getattr(args, "show", False)),
                   quiet=bool(getattr(args, "quiet", False)),
                   tensorboard=bool(getattr(args, "tensorboard", False)))

    def path(self, filename: str) -> pathlib.Path:
        """``<output-dir>/<filename>``, its folder created."""
        path = self.output_dir / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def tensorboard_writer(run, name: str = "train"):
    """A ``tf.summary`` writer under ``<output-dir>/tensorboard/<name>`` when ``--tensorboard`` is
    given, else ``None``. Open the logs with ``tensorboard --logdir <output-dir>/tensorboard``."""
    if not getattr(run, "tensorboard", False):
        return None
    import tensorflow as tf

    return tf.summary.create_file_writer(str(pathlib.Path(run.output_dir) / "tensorboard" / name))


def say(run, *parts) -> None:
    """Print progress unless ``--quiet`` (``run``: a :class:`RunContext` or the parsed flags)."""
    if not getattr(run, "quiet", False):
        print(*parts, flush=True)


def print_metrics(metrics: dict) -> None:
    """Print the metrics ``main`` returns, one per line (numbers only: the evidence main() also
    returns for the checker, arrays and models, is not printed)."""
    metrics = {k: v for k, v in metrics.items()
               if (isinstance(v, (int, float, str)) or getattr(v, "shape", None) == ())
               and k != "loss_curve_unit"}  # evidence for the checker, not a result
    width = max((len(k) for k in metrics), default=0)
    for key, value in metrics.items():
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        print(f"  {key:<{width}}  {shown}")


def fraction_exact(run, results: dict) -> float:
    """Compare tensors with their exact expected values and print one line each.

    ``results`` maps a name to ``(tensor, expected value, expected dtype)``. A value that is not a
    TensorFlow tensor (a Python number, a NumPy array) counts as wrong: the point is to compute it
    with TensorFlow. Returns the fraction of exact matches.
    """
    import numpy as np
    import tensorflow as tf

    correct = 0
    for name, (value, expected, dtype) in results.items():
        expected_text = np.asarray(expected).tolist()
        if not (tf.is_tensor(value) or isinstance(value, tf.Variable)):
            say(run, f"BAD {name}: expected a TensorFlow tensor, got {type(value).__name__} {value!r}")
            continue
        computed = value.numpy()
        ok = value.dtype == dtype and np.array_equal(computed, expected)
        correct += ok
        say(run, f"{'ok ' if ok else 'BAD'} {name} = {np.asarray(computed).tolist()} "
                  f"({value.dtype.name}; expected {expected_text}, {dtype.name})")
    return correct / len(results)
