"""Why a model fails: cheap probes of the student's functions, and what the training curve says.

A check does not stop at ``[FAIL] test_accuracy = 0.047``. Two kinds of probes look for the cause:

- *before training*, the probes an exercise lists in the manifest (``probes = [...]``) call the
  student's own functions on tiny inputs the checker makes (a batch of 8, a few SGD steps, 64
  examples to overfit) and compare them with what the docstring promises: logits that are
  logits, a loss equal to TensorFlow's on the same numbers, every variable moved by a step, the
  loss going down. A probe that finds a bug stops the check at once: no need to wait for a
  training run that cannot succeed;
- *after training*, :func:`curve_findings` reads the loss curve ``main()`` returns as evidence
  (``loss_curve``): a NaN and the step it appeared at, a loss that grew or never moved, a loss
  far above what a sane model reaches (the manifest's ``loss_at_most``), or a falling loss with
  accuracy at chance.

Each finding says the likely cause in plain words, with the numbers seen. A finding is *fatal*
when the code breaks the contract its docstring states: then the check fails even if the
threshold happens to be met (softmax applied to logits still classifies; it is still wrong).

A probe is ``probe(context) -> list[Finding]``, registered by name with :func:`probe`; chapter
modules (``seminar/probes_*.py``) hold them and are imported when an exercise names one.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import pathlib
import types

import numpy as np


@dataclasses.dataclass
class Finding:
    """One likely cause of a failure."""

    cause: str  # the bug in plain words, e.g. "softmax applied to the logits in inference()"
    evidence: str = ""  # what was seen: numbers, shapes
    fix: str = ""  # where to look
    fatal: bool = True  # breaks the docstring's contract: fails the check whatever the metrics

    def text(self) -> str:
        lines = [f"Likely cause: {self.cause}"]
        if self.evidence:
            lines.append(f"  Evidence: {self.evidence}")
        if self.fix:
            lines.append(f"  What to look at: {self.fix}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Finding":
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


@dataclasses.dataclass
class Context:
    """What a probe may use: the student's module, the seed, and a generator seeded from it."""

    module: types.ModuleType
    seed: int = 0
    metrics: dict | None = None  # main()'s dict, for probes that run after training

    def __post_init__(self):
        self.rng = np.random.default_rng(10_000 + self.seed)

    def function(self, name: str):
        """The student's function ``name`` (an AttributeError names what is missing)."""
        value = getattr(self.module, name, None)
        if value is None:
            raise AttributeError(f"the exercise file has no {name}(): the checker calls it (it is "
                                 f"in the original skeleton)")
        return value


PROBES: dict[str, object] = {}


def probe(name: str):
    """Register ``function(context) -> list[Finding]`` as the probe ``name``."""
    def register(function):
        if name in PROBES:
            raise ValueError(f"probe {name!r} registered twice")
        PROBES[name] = function
        return function
    return register


def _load_all() -> None:
    """Import every chapter's probe module (``seminar/probes_*.py``): they register themselves. They
    are imported on first use, so TensorFlow and the chapters' helpers load only for a check."""
    for path in sorted(pathlib.Path(__file__).parent.glob("probes_*.py")):
        importlib.import_module(f"seminar.{path.stem}")


def lookup(name: str):
    if name not in PROBES:
        _load_all()
    try:
        return PROBES[name]
    except KeyError:
        raise ValueError(f"unknown probe {name!r}; known: {', '.join(sorted(PROBES))}") from None


def run_probes(names, context: Context) -> list[Finding]:
    """Run the named probes in order and return their findings. The student's errors propagate
    (a TODO not filled in, a shape error): they are reported as the check would report them."""
    _seed_frameworks(context.seed)
    findings: list[Finding] = []
    try:
        for name in names:
            found = lookup(name)(context) or []
            findings.extend(found)
            if any(f.fatal for f in found):
                break  # the first broken function explains the rest; later probes would pile on
    finally:
        _forget_probe_state()
    return findings


def _seed_frameworks(seed: int) -> None:
    """Seed the generators that layers built by a probe draw their initial weights from, so that a
    probe gives the same verdict run after run (main() seeds everything again for its own run)."""
    import sys

    if "keras" in sys.modules or "tensorflow" in sys.modules:
        import keras

        keras.utils.set_random_seed(10_000 + seed)


def _forget_probe_state() -> None:
    """Leave Keras as a fresh process has it: the models the probes built, their layer names and
    the random state they drew from are dropped, so that main() computes exactly what a direct run
    of the file computes (without this, a probe's draws shifted going_deeper's accuracy by 3e-4)."""
    import sys

    if "keras" in sys.modules:
        import keras

        keras.backend.clear_session()


def render(findings: list[Finding]) -> str:
    return "\n".join(f.text() for f in findings)


# ---------------------------------------------------------------------------- probe toolkit
#
# Small comparisons that probes combine. Each returns a Finding, or None when all is well.


def as_array(value) -> np.ndarray:
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float64)


def shape_finding(function: str, got, want: tuple, what: str = "result") -> Finding | None:
    """A result of the wrong shape, with the (n,) - (n, 1) broadcast named when it is that."""
    got_shape = tuple(np.shape(as_array(got)))
    if got_shape == tuple(want):
        return None
    n = want[0] if want else None
    evidence = f"{function} returned shape {got_shape}, the docstring asks for {tuple(want)}"
    if n and n > 1 and got_shape == (n, n):
        return Finding(f"a shape broadcast in {function}(): a (n,) tensor combined with a (n, 1) "
                       f"one gives an (n, n) table of every pair", evidence,
                       "make both operands the same shape (tf.reshape, or index [:, 0]) before "
                       "subtracting or multiplying")
    if got_shape == tuple(want) + (1,) or got_shape + (1,) == tuple(want):
        return Finding(f"{function}() returns an extra or missing axis of length 1", evidence,
                       "the docstring gives the shape; reshape or squeeze to it")
    if len(want) == 0 and len(got_shape) == 1:
        return Finding(f"{function}() returns one value per example, not their mean", evidence,
                       "average over the batch")
    return Finding(f"{function}() returns a {what} of the wrong shape", evidence)


def logits_finding(function: str, outputs, *, classes_axis: int = -1) -> Finding | None:
    """Outputs that must be logits but look like probabilities: softmax rows summing to 1, or
    every value in [0, 1] (a sigmoid)."""
    values = as_array(outputs)
    if values.size == 0 or not np.all(np.isfinite(values)):
        return None
    if values.ndim >= 2 and values.shape[classes_axis] > 1 and np.all(values >= 0):
        sums = values.sum(axis=classes_axis)
        if np.allclose(sums, 1.0, atol=1e-4):
            return Finding(f"softmax applied to the logits in {function}()",
                           f"every row of {function}'s output sums to 1 (the first row: "
                           f"{np.round(values[0], 3).tolist()})",
                           "return the raw scores: the loss applies the softmax itself, from "
                           "logits, and argmax does not need it")
    if np.all((values >= 0) & (values <= 1)) and np.ptp(values) > 0:
        return Finding(f"a sigmoid (or softmax) applied to what must be logits in {function}()",
                       f"all {values.size} outputs lie in [0, 1] (min {values.min():.3g}, max "
                       f"{values.max():.3g}) although the weights were random",
                       "return the raw scores: the loss function takes logits")
    return None


def value_finding(function: str, got, want, *, rtol: float = 1e-3, atol: float = 1e-5,
                  wrong: dict | None = None, expected: str = "") -> Finding | None:
    """``got`` compared with the reference ``want``. ``wrong`` maps a plain-words cause to the value
    a known mistake would give; the first that matches is named."""
    got_values, want_values = as_array(got), as_array(want)
    if got_values.shape != want_values.shape:
        return shape_finding(function, got, want_values.shape)
    if not np.all(np.isfinite(got_values)) and np.all(np.isfinite(want_values)):
        return Finding(f"{function}() returns NaN or infinity on ordinary inputs",
                       f"got {_short(got_values)}; expected {_short(want_values)}",
                       "a log of 0, a division by 0, or a softmax computed by hand overflows; "
                       "use TensorFlow's fused op on logits")
    if np.allclose(got_values, want_values, rtol=rtol, atol=atol):
        return None
    for cause, value in (wrong or {}).items():
        candidate = as_array(value)
        if candidate.shape == got_values.shape and np.allclose(got_values, candidate, rtol=rtol, atol=atol):
            return Finding(cause, f"{function}() gave {_short(got_values)}; expected "
                                  f"{_short(want_values)}")
    return Finding(f"{function}() does not compute what its docstring says" +
                   (f" ({expected})" if expected else ""),
                   f"on the checker's small inputs it gave {_short(got_values)}; expected "
                   f"{_short(want_values)}")


def _short(values: np.ndarray) -> str:
    flat = np.asarray(values).ravel()
    text = np.array2string(flat[:4], precision=4, separator=", ")
    return text[:-1] + ", ...]" if flat.size > 4 else text


def step_findings(function: str, losses: list[float], moved: dict[str, float]) -> list[Finding]:
    """What a few training steps from a fixed start show: ``losses`` the loss before each step
    (and after the last), ``moved`` how much each variable changed (largest absolute change)."""
    findings = []
    for index, loss in enumerate(losses):
        if not math.isfinite(loss):
            return [Finding(f"the loss becomes NaN or infinite in {function}()",
                            f"loss at step {index}: {loss} (before: {_short(np.array(losses[:index]))})",
                            "a step size too large for the inputs' scale, a log of 0, or a "
                            "division by 0")]
    still = [name for name, change in moved.items() if not change > 0]
    if still and len(still) == len(moved):
        return [Finding(f"no variable changes in {function}(): the gradients are None or zero",
                        f"after {max(len(losses) - 1, 1)} steps every variable is where it "
                        f"started ({', '.join(still)})",
                        "compute the loss inside the `with tf.GradientTape()` block, from the "
                        "variables themselves (not from .numpy() copies), and apply the update")]
    if still:
        findings.append(Finding(f"some variables never change in {function}(): their gradient is "
                                f"None or zero", f"unchanged: {', '.join(still)}; changed: "
                                f"{', '.join(n for n in moved if n not in still)}",
                                "every trainable variable must be in the list given to "
                                "tape.gradient and to the update"))
    if len(losses) >= 3 and losses[-1] > losses[0] * 1.05 + 1e-6:
        findings.append(Finding(f"gradient ascent in {function}(): the loss grows from the first "
                                f"steps", f"loss {losses[0]:.4g} at the start, {losses[-1]:.4g} after "
                                f"{len(losses) - 1} steps",
                                "a step goes against the gradient: variable minus step size times "
                                "gradient"))
    return findings


def run_steps(step, variables: dict, steps: int) -> tuple[list[float], dict[str, float]]:
    """Call ``step()`` (one training step of the student's, returning the batch loss) ``steps``
    times. Returns the losses and, per variable name, its largest absolute change."""
    before = {name: as_array(v).copy() for name, v in variables.items()}
    losses = []
    for _ in range(steps):
        loss = float(as_array(step()).mean())
        losses.append(loss)
        if not math.isfinite(loss):
            break
    moved = {name: float(np.max(np.abs(as_array(v) - before[name]))) if before[name].size else 0.0
             for name, v in variables.items()}
    return losses, moved


def overfit_finding(function: str, losses: list[float], *, target: float, start: float | None = None,
                    examples: int = 64) -> Finding | None:
    """A model that cannot drive the loss on ``examples`` training examples below ``target``."""
    final = losses[-1]
    if math.isfinite(final) and final <= target:
        return None
    start = losses[0] if start is None else start
    return Finding(f"the model cannot overfit {examples} training examples with {function}()",
                   f"loss {start:.4g} at the start, {final:.4g} after {len(losses) - 1} steps on the "
                   f"same {examples} examples (a working model goes below {target:g})",
                   "check the model's output (logits), the loss, and that each step updates every "
                   "variable")


# ---------------------------------------------------------------------------- after training


def final_loss(curve) -> float | None:
    """The mean of the last tenth of a loss curve (None for no curve, NaN if it holds one)."""
    if curve is None:
        return None
    values = np.asarray(curve, dtype=np.float64).ravel()
    return float(values[-max(1, values.size // 10):].mean()) if values.size else None


USUAL_LOSS_CAUSE = ("inputs not scaled as the docstring says, or a step size too large for them")


def curve_findings(metrics: dict, *, loss_at_most: float | None = None,
                   loss_reference: str = "", loss_cause: str = "", chance: float | None = None,
                   accuracy_key: str | None = None) -> list[Finding]:
    """What the loss curve ``main()`` returned (``loss_curve``, one value per step or per epoch as
    ``loss_curve_unit`` says) tells about the run."""
    curve = metrics.get("loss_curve")
    if curve is None:
        return []
    values = np.asarray(curve, dtype=np.float64).ravel()
    if values.size == 0:
        return []
    unit = str(metrics.get("loss_curve_unit", "step"))
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        first = int(bad[0])
        before = values[max(0, first - 3):first]
        return [Finding(f"the training loss became NaN or infinite at {unit} {first + 1}",
                        f"losses just before: {_short(before) if before.size else 'none'}",
                        "a step size too large for the inputs' scale, inputs not scaled as the "
                        "docstring says, a log of 0, or a division by 0")]
    head = values[: max(1, values.size // 10)].mean()
    tail = final_loss(values)
    findings = []
    if loss_at_most is not None and tail > loss_at_most:
        findings.append(Finding("the training loss stays far above what a working model reaches: "
                                + (loss_cause or USUAL_LOSS_CAUSE),
                                f"training loss {tail:.4g} at the end (mean of the last tenth of "
                                f"the {unit}s); a working model ends below {loss_at_most:g}"
                                + (f" ({loss_reference})" if loss_reference else ""),
                                "the functions the loss goes through, and your curve beside the "
                                "solution's (learning_curve_vs_reference.png in the output folder)"
                                if loss_cause else
                                "check the inputs' range against the docstring (pixels in [0, 1]) "
                                "and the step size"))
    if values.size >= 3 and tail > head * 1.05 + 1e-9:
        findings.append(Finding("the training loss grows instead of falling (gradient ascent, or a "
                                "step size far too large)",
                                f"mean loss {head:.4g} over the first tenth of the {unit}s, "
                                f"{tail:.4g} over the last tenth",
                                "the update must subtract the step size times the gradient",
                                fatal=False))
    elif values.size >= 3 and tail > head * 0.99:
        findings.append(Finding("the training loss does not decrease",
                                f"mean loss {head:.4g} over the first tenth of the {unit}s, "
                                f"{tail:.4g} over the last tenth",
                                "are the gradients applied to the model's variables? is the step "
                                "size far too small?", fatal=False))
    if (chance is not None and accuracy_key and accuracy_key in metrics
            and not findings and tail < head * 0.9):
        accuracy = float(metrics[accuracy_key])
        if accuracy < chance * 1.5:
            findings.append(Finding("the loss falls but the accuracy stays at chance: predictions "
                                    "and labels are misaligned (the argmax over the wrong axis, "
                                    "shuffled labels, or one-hot rows compared with class numbers)",
                                    f"loss {head:.4g} -> {tail:.4g}, {accuracy_key} {accuracy:.3f} "
                                    f"(chance: {chance:.3f})", fatal=False))
    return findings
