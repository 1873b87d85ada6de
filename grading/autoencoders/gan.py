"""Grading of autoencoders/gan.

The checker draws 2000 samples from main()'s ``generate(n, seed)`` on a seed no training used and
scores them with the digit judge (FID, inception score, classes covered). The probe compares both
losses with NumPy on given logits (the usual mistakes named: the labels swapped, the saturating
generator loss, a sigmoid before a with-logits loss), then on logits of +-150, where a log of a
sigmoid computed in two steps overflows; then it takes one training step on small networks of its
own: both networks must be called in training mode, each must move, D's step must lower D's loss
and G's step G's loss, and the step must return (d_loss, g_loss). After training, the two loss
curves are read as a game, and the samples must not be copies of MNIST digits.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from seminar.grader import measures
from seminar.grader.references import probability_cross_entropy, sigmoid, sigmoid_cross_entropy
from seminar.grader.toolkit import (Context, Finding, as_array, compiled_step, dense_network,
                                    gradient_finding, low_rank_images, value_finding)

PIXELS = 28 * 28


def probe_gan(context: Context) -> list[Finding]:
    """autoencoders/gan: both losses against NumPy on given logits (with the usual mistakes named:
    the labels swapped, the saturating generator loss, a sigmoid before a with-logits loss) and on
    logits of +-150 (a log of a sigmoid in two steps overflows there), then one training step on
    small networks of the probe's own: both networks called in training mode, each must move, D's
    step must lower D's loss and G's step G's loss, and the step must return (d_loss, g_loss)."""
    rng = context.rng
    real_label = float(context.constant("REAL_LABEL", 1.0))

    def d_reference(real_logits, fake_logits, real_target=real_label, fake_target=0.0):
        return float(sigmoid_cross_entropy(real_target, real_logits).mean()
                     + sigmoid_cross_entropy(fake_target, fake_logits).mean())

    def g_reference(fake_logits):
        return float(sigmoid_cross_entropy(1.0, fake_logits).mean())

    real_logits = rng.normal(0.5, 2.0, (8, 1)).astype(np.float32)
    fake_logits = rng.normal(-0.5, 2.0, (8, 1)).astype(np.float32)
    got = context.function("discriminator_loss")(tf.constant(real_logits), tf.constant(fake_logits))
    real_p, fake_p = sigmoid(real_logits.astype(np.float64)), sigmoid(fake_logits.astype(np.float64))
    wrong = {
        "the discriminator's labels are swapped: real digits must get the target REAL_LABEL, the "
        "fakes 0": d_reference(real_logits, fake_logits, 0.0, real_label),
        "the discriminator's labels are swapped (real digits 0, fakes 1): real digits must get "
        "the target REAL_LABEL, the fakes 0": d_reference(real_logits, fake_logits, 0.0, 1.0),
        "a sigmoid applied to the logits before a loss that takes logits (it applies its own): "
        "discriminator_loss() squashes D's scores twice":
            d_reference(real_p, fake_p),
        "discriminator_loss() treats the logits as probabilities (a cross-entropy on "
        "probabilities, e.g. from_logits left False): the inputs are logits":
            float(probability_cross_entropy(real_label, real_logits).mean()
                  + probability_cross_entropy(0.0, fake_logits).mean()),
        "the real digits' target is 1 in discriminator_loss(): the docstring asks REAL_LABEL "
        "(one-sided label smoothing)": d_reference(real_logits, fake_logits, 1.0, 0.0),
        "the fakes' target is smoothed too in discriminator_loss(): only the real digits get "
        "REAL_LABEL, the fakes 0 (one-sided smoothing)":
            d_reference(real_logits, fake_logits, real_label, 1.0 - real_label),
        "discriminator_loss() averages the two cross-entropies: the docstring asks for their sum":
            d_reference(real_logits, fake_logits) / 2.0,
        "discriminator_loss() sums over the batch instead of averaging":
            d_reference(real_logits, fake_logits) * len(real_logits),
    }
    found = value_finding("discriminator_loss", got, d_reference(real_logits, fake_logits),
                          rtol=1e-4, atol=1e-5, wrong=wrong,
                          expected="the mean cross-entropy of the real logits against REAL_LABEL "
                                   "plus that of the fake logits against 0")
    if found:
        return [found]
    # D sure of itself and wrong: a real digit at -150, a fake at +150.
    real_large, fake_large = real_logits.copy(), fake_logits.copy()
    real_large[0], fake_large[1] = -LARGE_LOGIT, LARGE_LOGIT
    found = _large_logits_finding(
        "discriminator_loss",
        context.function("discriminator_loss")(tf.constant(real_large), tf.constant(fake_large)),
        d_reference(real_large, fake_large),
        float(probability_cross_entropy(real_label, sigmoid(real_large)).mean()
              + probability_cross_entropy(0.0, sigmoid(fake_large)).mean()),
        f"with one real digit's logit at -{LARGE_LOGIT:g} and one fake's at +{LARGE_LOGIT:g}")
    if found:
        return [found]

    got = context.function("generator_loss")(tf.constant(fake_logits))
    found = value_finding("generator_loss", got, g_reference(fake_logits), rtol=1e-4, atol=1e-5, wrong={
        "the saturating generator loss log(1 - D(G(z))) (minus D's loss on the fakes): while D "
        "rejects the fakes it is flat and G learns nothing; the docstring asks for -log D(G(z))":
            float(-sigmoid_cross_entropy(0.0, fake_logits).mean()),
        "generator_loss() gives the fakes the target 0 ('fake'): G would learn to be rejected; "
        "its target is 1": float(sigmoid_cross_entropy(0.0, fake_logits).mean()),
        "generator_loss() uses the smoothed target REAL_LABEL: smoothing is for D only, G's "
        "target is 1": float(sigmoid_cross_entropy(real_label, fake_logits).mean()),
        "a sigmoid applied to the logits before a loss that takes logits (it applies its own) in "
        "generator_loss()": g_reference(fake_p),
        "generator_loss() treats the logits as probabilities (a cross-entropy on probabilities, "
        "e.g. from_logits left False): the input is logits": float(probability_cross_entropy(1.0, fake_logits).mean()),
        "generator_loss() sums over the batch instead of averaging":
            g_reference(fake_logits) * len(fake_logits),
    }, expected="the mean of -log sigmoid(fake_logits), the cross-entropy against the target 1")
    if found:
        return [found]
    # A fake that D rejects with confidence, logit -150: where G must learn most, -log D(G(z)) is
    # 150 and its slope -1; log(sigmoid(-150)) in two steps is log(0) in float32.
    fake_large = fake_logits.copy()
    fake_large[0] = -LARGE_LOGIT
    found = _large_logits_finding(
        "generator_loss", context.function("generator_loss")(tf.constant(fake_large)),
        g_reference(fake_large),
        float(probability_cross_entropy(1.0, sigmoid(fake_large)).mean()),
        f"with one fake's logit at -{LARGE_LOGIT:g} (D sure it is fake)")
    if found:
        return [found]

    # One training step on the probe's small networks, all references in NumPy.
    context.seed_frameworks()
    generator, discriminator, generate, discriminate = _gan_networks(rng)
    modes = {"generator": [], "discriminator": []}  # the training flag of each call in the step
    generator = _noting_mode(generator, modes["generator"])
    discriminator = _noting_mode(discriminator, modes["discriminator"])
    real = low_rank_images(rng, 16)
    noise = rng.normal(0.0, 1.0, (16, 3)).astype(np.float32)
    g_before, d_before = generator.get_weights(), discriminator.get_weights()
    fakes_before = generate(g_before, noise)
    d_loss_before = d_reference(discriminate(d_before, real), discriminate(d_before, fakes_before))
    g_loss_before = g_reference(discriminate(d_before, fakes_before))
    # Plain SGD with a small step: it moves each weight in proportion to its gradient, so a correct
    # step lowers each player's loss to first order. Adam's first step moves every weight by the
    # full rate whatever its gradient, which on 784 inputs overshot and raised D's loss on some draws.
    step = compiled_step(context.function("train_step"), generator, discriminator,
                     keras.optimizers.SGD(0.01), keras.optimizers.SGD(0.01))
    try:
        returned = step(tf.constant(real), tf.constant(noise))
    except ValueError as error:
        found = gradient_finding("train_step", error, fix="compute the fakes, both sets of logits and both "
                                                  "losses inside the tapes; take each gradient "
                                                  "from the tape that watched its network")
        if found is None:
            raise
        return [found]
    if not isinstance(returned, (tuple, list)) or len(returned) != 2:
        return [Finding("train_step() must return the pair (d_loss, g_loss)",
                        f"it returned {type(returned).__name__}")]
    found = _training_mode_finding(modes)
    if found:
        return [found]
    g_after, d_after = generator.get_weights(), discriminator.get_weights()
    moved = {"generator": max(float(np.max(np.abs(a - b))) for a, b in zip(g_after, g_before)),
             "discriminator": max(float(np.max(np.abs(a - b))) for a, b in zip(d_after, d_before))}
    still = [name for name, change in moved.items() if not change > 0]
    if still:
        return [Finding(f"the {' and the '.join(still)}'s variables never change in train_step(): "
                        f"their gradient is None or zero",
                        "after one step: " + ", ".join(f"{name} weights moved by at most {change:.3g}"
                                                       for name, change in moved.items()),
                        "compute the fakes and both sets of logits inside the tapes; each "
                        "optimizer gets the gradient of its own network's loss for that "
                        "network's trainable variables")]
    # Each player's own step must lower its own loss (the other player held where it was).
    fakes_after = generate(g_after, noise)
    d_loss_d_moved = d_reference(discriminate(d_after, real), discriminate(d_after, fakes_before))
    g_loss_g_moved = g_reference(discriminate(d_before, fakes_after))
    if d_loss_d_moved > d_loss_before:
        return [Finding("the discriminator's step raises its own loss in train_step(): D climbs its "
                        "loss (gradient ascent), or is updated with G's loss",
                        f"D's loss on the same batch {d_loss_before:.5g} before D's step, "
                        f"{d_loss_d_moved:.5g} after it (G held fixed)",
                        "D's optimizer applies the gradient of discriminator_loss for "
                        "discriminator.trainable_variables")]
    if g_loss_g_moved > g_loss_before:
        return [Finding("the generator's step makes D's verdict on its fakes worse in train_step(): "
                        "G climbs its loss, or is updated with D's loss (G must minimise "
                        "generator_loss)",
                        f"G's loss {g_loss_before:.5g} before G's step, {g_loss_g_moved:.5g} after "
                        f"it (D held fixed)",
                        "G's optimizer applies the gradient of generator_loss for "
                        "generator.trainable_variables")]
    # The returned losses: D's and G's on this batch, before the step (or, for a step that moves
    # one player and then the other, against the player already moved).
    d_loss, g_loss = (float(as_array(value)) for value in returned)
    d_accepted = [d_loss_before,
                  d_reference(discriminate(d_before, real), discriminate(d_before, fakes_after))]
    g_accepted = [g_loss_before, g_reference(discriminate(d_after, fakes_before))]

    def near(value, candidates):
        return any(math.isclose(value, c, rel_tol=2e-3, abs_tol=1e-5) for c in candidates)

    if near(d_loss, d_accepted) and near(g_loss, g_accepted):
        return []
    if near(g_loss, d_accepted) and near(d_loss, g_accepted):
        return [Finding("train_step() returns (g_loss, d_loss): the docstring asks for (d_loss, g_loss)",
                        f"it returned ({d_loss:.5g}, {g_loss:.5g}); D's loss was {d_loss_before:.5g}, "
                        f"G's {g_loss_before:.5g}")]
    return [Finding("train_step() returns losses that are not D's and G's on this batch",
                    f"it returned ({d_loss:.5g}, {g_loss:.5g}); expected D's loss {d_loss_before:.5g} "
                    f"and G's {g_loss_before:.5g} (computed before the step)",
                    "return discriminator_loss and generator_loss as computed in the step")]


LARGE_LOGIT = 150.0  # a logit where sigmoid rounds to 0 or 1 in float32


def _large_logits_finding(function: str, got, want: float, clipped: float, inputs: str):
    """The loss on logits of +-150 against the exact value: an overflow (log(0) once the sigmoid
    rounds to 0 or 1) or a log of a clipped probability (a loss that stops growing there, with no
    gradient: what the stable loss on logits avoids) named."""
    value = as_array(got)
    if value.shape == () and not np.isfinite(value):
        return Finding(f"{function}() overflows for large logits: log(sigmoid(x)) computed in two "
                       f"steps is log(0) = -inf once sigmoid(x) rounds to 0 (or 1) in float32",
                       f"{inputs} it returned {float(value)}; expected {want:.4g}",
                       "compute the cross-entropy from the logits in one stable step "
                       "(tf.nn.sigmoid_cross_entropy_with_logits, or softplus)")
    return value_finding(function, got, want, rtol=1e-3, atol=1e-3, wrong={
        f"{function}() takes the log of a clipped probability (a sigmoid, then a cross-entropy on "
        f"probabilities): for large logits the loss stops growing and its gradient vanishes; "
        f"compute it from the logits": clipped,
    }, expected=f"the same cross-entropy, exact for large logits ({inputs}: {want:.4g})")


class _ModeNote(keras.layers.Layer):
    """The identity, noting the ``training`` flag each call receives."""

    def __init__(self, seen: list, **kwargs):
        super().__init__(**kwargs)
        self.note = seen.append  # not the list itself: Keras would track a copy of it

    def call(self, inputs, training=None):
        self.note(training)
        return inputs


def _noting_mode(network, seen: list):
    """``network`` followed by a layer that notes in ``seen`` the ``training`` flag of each call
    (the same weights, the same outputs)."""
    noted = keras.Sequential([keras.Input(network.inputs[0].shape[1:]), network, _ModeNote(seen)],
                             name=f"{network.name}_noted")
    seen.clear()  # building it called the layer once, with no flag
    return noted


def _training_mode_finding(modes: dict) -> Finding | None:
    """The docstring asks for both networks in training mode (``training=True``) in the step: D's
    dropout is on only then, and G's batch normalisation uses the batch's statistics."""
    wrong = {name: seen for name, seen in modes.items()
             if not seen or any(mode is not True for mode in seen)}
    if not wrong:
        return None
    return Finding(
        f"train_step() does not run the {' and the '.join(wrong)} in training mode: the docstring "
        f"asks for all in training mode, where D's dropout is on and G's batch normalisation uses "
        f"the batch's statistics",
        "in one step: " + "; ".join(
            f"the {name} was called with training=" + ", ".join(str(m) for m in seen)
            if seen else f"the {name} was never called" for name, seen in modes.items()),
        "call generator(..., training=True) and discriminator(..., training=True) inside the "
        "step, for the real and the fake batch alike")


def _gan_networks(rng: np.random.Generator):
    """A small generator (3 -> 16 -> 784, sigmoid pixels) and discriminator (784 -> 8 -> 1 logit)
    of the probe's own, with NumPy twins that compute the same outputs from given weights. Hidden
    units are tanh, not ReLU: a dead ReLU layer gives an exactly zero gradient on some draws, which
    would read as "this network never changes"."""
    generator = dense_network([3, 16, PIXELS], ["tanh", "sigmoid"], rng, "probe_generator", scale=3.0)
    discriminator = dense_network([PIXELS, 8, 1], ["tanh", None], rng, "probe_discriminator")

    def generate(weights, noise):
        w1, b1, w2, b2 = (np.asarray(w, np.float64) for w in weights)
        return sigmoid(np.tanh(noise @ w1 + b1) @ w2 + b2)

    def discriminate(weights, images):
        w1, b1, w2, b2 = (np.asarray(w, np.float64) for w in weights)
        return np.tanh(images @ w1 + b1) @ w2 + b2

    return generator, discriminator, generate, discriminate


def after_game(context: Context) -> list[Finding]:
    """autoencoders/gan, after training: the two players' loss curves (main()'s d_loss_curve and
    g_loss_curve) read as a game, not as losses that must fall. A correct GAN's losses hover (the
    solution's, fast run: D about 1.2, G about 1.1 to 1.3 from the first tenth to the last). Two
    readings, neither fatal (the judge's figures decide): D wins outright (its loss near the floor
    that label smoothing leaves, G's far above: seen with G's learning rate cut 100 times, D 0.47
    and G 4.4 over the last tenth), and a generator that draws no digit or collapsed onto one or
    two classes."""
    metrics = context.metrics or {}
    if "d_loss_curve" not in metrics or "g_loss_curve" not in metrics:
        return []
    d_curve = np.asarray(metrics["d_loss_curve"], np.float64).ravel()
    g_curve = np.asarray(metrics["g_loss_curve"], np.float64).ravel()
    if min(d_curve.size, g_curve.size) < 10 or not np.all(np.isfinite(np.r_[d_curve, g_curve])):
        return []
    real_label = float(context.constant("REAL_LABEL", 1.0))
    floor = float(sigmoid_cross_entropy(real_label, np.array([math.log(real_label / (1 - real_label))]))[0]
                  if 0 < real_label < 1 else 0.0)  # D's least loss: the entropy of its target
    findings = []
    d_head, d_tail = _tenth(d_curve)
    g_head, g_tail = _tenth(g_curve)
    if d_tail < floor + 0.35 and g_tail > 2.5:
        findings.append(Finding(
            "the discriminator wins the game: it rejects the fakes with confidence while the "
            "generator's loss stays high, so G learns little (G's step too small or not applied "
            "in training mode, or D trained much harder than G)",
            f"D's loss {d_head:.3g} -> {d_tail:.3g} (its floor with REAL_LABEL = {real_label:g}: "
            f"{floor:.3g}); G's loss {g_head:.3g} -> {g_tail:.3g} (first -> last tenth of the "
            f"steps; the solution's hover near D 1.2, G 1.1)",
            "check that each step updates G with the gradient of generator_loss at the same "
            "learning rate as D, with both networks in training mode", fatal=False))
    classes = metrics.get("classes")
    if classes is not None and int(classes) == 0:
        findings.append(Finding(
            "the generator draws no digit yet: the judge is confident about none of its samples",
            "the judge found 0 classes among main()'s samples",
            "see whether D's and G's losses moved at all; a working GAN draws digits of most "
            "classes after the fast run", fatal=False))
    elif classes is not None and int(classes) <= 2:
        findings.append(Finding(
            "the generator collapsed: its samples cover one or two digit classes (mode collapse)",
            f"the judge found {int(classes)} classes among main()'s samples",
            "the non-saturating generator loss, D's label smoothing and both networks in training "
            "mode help; so does a learning rate no larger than the solution's", fatal=False))
    return findings


def _tenth(values: np.ndarray) -> tuple[float, float]:
    """The mean over the first and over the last tenth of a curve."""
    n = max(1, values.size // 10)
    return float(values[:n].mean()), float(values[-n:].mean())


after_copies = measures.copies_finding  # a generator that returns MNIST digits scores FID ~1
measure_fid = measures.generated_fid
measure_inception_score = measures.generated_inception_score
measure_classes = measures.generated_classes
