"""What a check says when a run fails: a :class:`Finding` (a likely cause in plain words, with its
evidence), and what the loss curve ``main()`` returns says of every training run.

A check does not stop at ``[FAIL] test_accuracy = 0.047``. Before training, the probes of the
exercise's grading module (``grading/CHAPTER/NAME.py``, see :mod:`seminar.grader.grading`) call the
student's functions on tiny inputs of the checker's; after training, :func:`curve_findings` reads
the loss curve ``main()`` returns as evidence (``loss_curve``): a NaN and the step it appeared at,
a loss that grew or never moved, a loss far above what a working model reaches (the manifest's
``loss_at_most``), or a falling loss with accuracy at chance.

Each finding says the likely cause in plain words, with the numbers seen. A finding is *fatal*
when the code breaks the contract its docstring states: then the check fails even if the
threshold happens to be met (softmax applied to logits still classifies; it is still wrong).
"""

from __future__ import annotations

import dataclasses

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


def nan_finding(curve, unit: str, what: str = "training loss", fix: str = "") -> Finding | None:
    """The first NaN or infinity in a curve, with the point where it appeared and the values just
    before it."""
    if curve is None:
        return None
    values = np.asarray(curve, dtype=np.float64).ravel()
    bad = np.flatnonzero(~np.isfinite(values))
    if not bad.size:
        return None
    first = int(bad[0])
    before = values[max(0, first - 3):first]
    return Finding(f"the {what} became NaN or infinite at {unit} {first + 1} of {values.size}",
                   f"losses just before: {np.round(before, 4).tolist() if before.size else 'none'}",
                   fix or "a step size too large for the inputs' scale, inputs not scaled as the "
                          "docstring says, a log of 0, or a division by 0")


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
    found = nan_finding(values, unit)
    if found:
        return [found]
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
