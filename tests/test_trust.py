"""What a check must not let pass: a cached model that keeps its accuracy but whose features were
replaced, a generator that returns MNIST digits (or digits with noise, or shifted), and the GAN's
spec violations that still draw digits (its networks not in training mode, a log of a sigmoid in
two steps).

The forged models are built in seconds from the real ones' weights, in a temporary cache folder,
each with a record that names it and holds its true sha256: the record is no evidence, what the
model does is.
"""

import json
import types

import numpy as np
import pytest
import tensorflow as tf

from datasets import _download
from helpers import context_for, probe
from seminar import judge, manifest, pretrained
from seminar.grader import checker, grading, measures

COURSE = manifest.load()
GENERATORS = ["autoencoders/gmmn", "autoencoders/gan", "autoencoders/gmmn_autoencoder"]


def write_forged(folder, model, stem, record_name, version, accuracy):
    """``model`` saved in ``folder`` as the cache would keep it, with a record naming it."""
    import keras  # noqa: F401  (the model's own)

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-forged.keras"
    model.save(path)
    record = {"file": path.name, "sha256": _download.sha256_of(path), "recipe_version": version,
              "test_accuracy": accuracy, "recipe": {}}
    (folder / record_name).write_text(json.dumps(record))
    return path


# ------------------------------------------------------------------------------ the digit judge


@pytest.fixture(scope="module")
def the_judge():
    return judge.load_judge()


def zeroed_judge(real):
    """The judge's weights, its layer "features" replaced by zeros beside the real one, renamed:
    the logits are the real judge's (accuracy 0.9882), every image's features are 0, so every
    set of samples scores FID 0."""
    import keras

    x = inputs = keras.Input((judge.SIDE, judge.SIDE, 1), name="digits")
    for name in ("conv1", "pool1", "conv2", "pool2", "flatten"):
        x = real.model.get_layer(name)(x)
    hidden_layer = keras.layers.Dense(judge.FEATURES, activation="relu", name="hidden")
    hidden = hidden_layer(x)
    hidden_layer.set_weights(real.model.get_layer("features").get_weights())
    features = keras.layers.Rescaling(0.0, name="features")(hidden)
    logits_layer = keras.layers.Dense(10, name="logits")
    logits = logits_layer(keras.layers.Add(name="unchanged")([hidden, features]))
    logits_layer.set_weights(real.model.get_layer("logits").get_weights())
    return keras.Model(inputs, logits, name="mnist_judge")


@pytest.mark.slow
def test_a_judge_with_zeroed_features_is_refused(the_judge, tmp_path):
    path = write_forged(tmp_path, zeroed_judge(the_judge), judge.STEM, judge.SIDECAR_NAME,
                        judge.RECIPE_VERSION, the_judge.test_accuracy)
    loaded, reason, unusable = judge._read_cached(tmp_path)
    assert loaded is None and unusable == path, reason
    assert "misjudges its baselines" in reason and "blurred test digits 0.00" in reason, reason


@pytest.mark.slow
def test_a_forged_judge_is_discarded_and_retrained(the_judge, tmp_path, monkeypatch, capfd):
    """The loading path: the forgery is reported, removed, and the judge trained again (here the
    training returns the real judge's weights, to keep the test short)."""
    import keras

    forged = write_forged(tmp_path, zeroed_judge(the_judge), judge.STEM, judge.SIDECAR_NAME,
                          judge.RECIPE_VERSION, the_judge.test_accuracy)

    def train_model():
        model = keras.models.clone_model(the_judge.model)
        model.set_weights(the_judge.model.get_weights())
        return model

    monkeypatch.setattr(judge, "train_model", train_model)
    monkeypatch.setenv(_download.CACHE_VARIABLE, str(tmp_path))
    monkeypatch.setattr(judge, "_LOADED", {})
    capfd.readouterr()
    fresh = judge.load_judge()
    err = capfd.readouterr().err
    assert "training the digit judge once" in err and "misjudges its baselines" in err, err
    assert not forged.exists() and fresh.path.parent == tmp_path
    baselines = judge.baseline_figures(fresh)
    assert baselines["real training digits"]["fid"] < 3 < 150 < baselines["blurred test digits"]["fid"]


@pytest.mark.slow
def test_the_real_judge_scores_its_baselines_within_the_bounds(the_judge):
    assert judge.baseline_problem(the_judge) is None
    baselines = judge.baseline_figures(the_judge)
    for name, (low, high) in judge.BASELINE_BOUNDS.items():  # wide margins
        fid = baselines[name]["fid"]
        assert (low is None or fid > 2.5 * low) and (high is None or fid < high / 5), (name, fid)


# ------------------------------------------------------------------------------ the pretrained network


def zeroed_pretrained(real):
    """The pretrained network's weights, its layer "features" replaced by zeros beside the real
    features: its logits and accuracy (0.90) are the real network's."""
    import keras

    trunk = keras.Model(real.model.inputs, real.model.get_layer("features_grid").output,
                        name="trunk")
    inputs = keras.Input((pretrained.SIDE, pretrained.SIDE, 1), name="pixels")
    hidden = keras.layers.Flatten(name="hidden")(trunk(inputs))
    features = keras.layers.Rescaling(0.0, name="features")(hidden)
    logits_layer = keras.layers.Dense(10, name="logits")
    logits = logits_layer(keras.layers.Add(name="unchanged")([hidden, features]))
    logits_layer.set_weights(real.model.get_layer("logits").get_weights())
    return keras.Model(inputs, logits, name="fashion_inception")


@pytest.mark.slow
def test_a_pretrained_network_with_zeroed_features_is_refused(tmp_path):
    real = pretrained.load_pretrained()
    path = write_forged(tmp_path, zeroed_pretrained(real), pretrained.STEM,
                        pretrained.SIDECAR_NAME, pretrained.RECIPE_VERSION, real.test_accuracy)
    loaded, reason, unusable = pretrained._read_cached(tmp_path)
    assert loaded is None and unusable == path, reason
    assert "answers otherwise than through its features" in reason, reason
    forged = pretrained.evaluate(zeroed_pretrained(real))
    assert forged.test_accuracy == pytest.approx(real.test_accuracy)  # the floor alone passed it
    assert forged.feature_accuracy == pytest.approx(0.1, abs=0.02)


def test_features_that_do_not_tell_the_classes_apart_are_refused():
    network = pretrained.Pretrained(None, None, 0.9, feature_accuracy=0.1, logits_gap=0.0)
    assert "do not tell the classes apart" in pretrained.behaviour_problem(network)
    network = pretrained.Pretrained(None, None, 0.9, feature_accuracy=0.84, logits_gap=1e-5)
    assert pretrained.behaviour_problem(network) is None
    labels = np.tile(np.arange(10), 20)  # both halves hold every class
    separated = np.random.default_rng(0).normal(size=(200, 10)) + 10 * np.eye(10)[labels]
    assert pretrained.nearest_mean_accuracy(separated, labels) == 1.0
    assert pretrained.nearest_mean_accuracy(np.ones((200, 10)), labels) == pytest.approx(0.1)


@pytest.mark.slow
def test_the_real_pretrained_network_passes_its_own_checks():
    real = pretrained.load_pretrained()
    assert real.feature_accuracy > 2 * pretrained.MIN_FEATURE_ACCURACY  # 0.839
    assert real.logits_gap < 1e-4  # 5e-6
    assert pretrained.behaviour_problem(real) is None


# ------------------------------------------------------------------------------ copied digits


@pytest.fixture(scope="module")
def digits():
    from seminar.mnist_splits import mnist_splits

    data = mnist_splits()
    return types.SimpleNamespace(train=data.x_train[..., 0], validation=data.x_val[..., 0],
                                 test=data.x_test[..., 0])


def after(exercise_id, generate, seed=0):
    """The findings read after training from main()'s ``generate``."""
    exercise = COURSE.get(exercise_id)
    return grading.run_after(grading.load(exercise),
                             context_for(exercise_id, seed=seed, generate=generate))


def picked(images, change=lambda chosen, rng: chosen):
    """``generate(n, seed)`` returning n of ``images`` chosen with ``seed``, changed by ``change``."""
    def generate(n, seed):
        rng = np.random.default_rng(seed)
        chosen = images[rng.choice(len(images), n, replace=False)]
        return np.clip(change(chosen, rng), 0.0, 1.0).astype(np.float32)

    return generate


COPIES = {
    "copies": lambda chosen, rng: chosen,
    "copies with N(0, 0.05) noise": lambda chosen, rng: chosen + rng.normal(0, 0.05, chosen.shape),
    "copies with N(0, 0.1) noise": lambda chosen, rng: chosen + rng.normal(0, 0.1, chosen.shape),
    "copies shifted 2 pixels down, 1 left": lambda chosen, rng: np.roll(chosen, (2, -1), (1, 2)),
}


@pytest.mark.slow
@pytest.mark.parametrize("exercise_id", GENERATORS)
@pytest.mark.parametrize("kind", list(COPIES))
def test_a_generator_that_returns_training_digits_fails(exercise_id, kind, digits):
    found = [f for f in after(exercise_id, picked(digits.train, COPIES[kind]))
             if "copies of training digits" in f.cause]
    assert found and found[0].fatal, kind
    count = int(found[0].cause.split(" samples are copies")[0].split()[-3])
    assert count > 0.5 * measures.COPIES_CHECKED, found[0].cause


@pytest.mark.slow
def test_a_generator_that_returns_test_digits_fails(digits):
    (found,) = after("autoencoders/gmmn", picked(digits.test))
    assert "copies of test digits" in found.cause and found.fatal


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["held-out digits", "blurred training digits"])
def test_new_digits_and_blurred_digits_are_not_copies(kind, digits):
    """Digits no lesson trains on (the validation split) are what a perfect generator draws; a
    blurred digit is no copy (the FID sees the blur: 160 for sigma 1.5)."""
    generate = (picked(digits.validation) if kind == "held-out digits" else
                picked(digits.train, lambda chosen, rng: judge.gaussian_blur(chosen, 1.5)))
    assert after("autoencoders/gmmn", generate) == []


@pytest.mark.slow
def test_held_out_digits_sit_far_from_the_copy_bound(digits):
    """The bound against the 5000 validation digits: 0.2% of them fall below it, the check fails
    from 10%."""
    _, ratio = measures.copy_source().nearest(digits.validation)
    assert np.mean(ratio < measures.COPY_RATIO) < 0.005
    assert np.median(ratio) > 0.9


@pytest.mark.slow
def test_the_copy_source_is_the_digits_the_lessons_train_on(digits):
    source = measures.copy_source()
    assert source.training == len(digits.train)
    np.testing.assert_allclose(source.points[:source.training],
                               measures._centred_halves(digits.train), atol=1e-6)
    np.testing.assert_allclose(source.points[source.training:],
                               measures._centred_halves(digits.test), atol=1e-6)


def test_centring_undoes_a_shift():
    image = np.zeros((28, 28), np.float32)
    image[10:18, 12:15] = 1.0
    moved = np.roll(image, (3, -2), (0, 1))
    np.testing.assert_array_equal(measures._centred_halves(image[None]),
                                  measures._centred_halves(moved[None]))


# ------------------------------------------------------------------------------ the GAN's contract


@pytest.fixture(scope="module")
def gan():
    return checker.load_module(COURSE.get("autoencoders/gan").solution_path)


def gan_with(gan, **functions):
    names = ("discriminator_loss", "generator_loss", "train_step", "REAL_LABEL")
    return types.SimpleNamespace(**{**{name: getattr(gan, name) for name in names}, **functions})


@pytest.mark.slow
@pytest.mark.parametrize("loss, words", [
    ("two_steps", "generator_loss() overflows for large logits"),
    ("clipped", "generator_loss() takes the log of a clipped probability"),
])
def test_a_generator_loss_that_is_not_computed_from_the_logits_is_caught(gan, loss, words):
    import keras

    def two_steps(fake_logits):
        return -tf.reduce_mean(tf.math.log(tf.sigmoid(fake_logits)))

    def clipped(fake_logits):
        return keras.losses.BinaryCrossentropy()(tf.ones_like(fake_logits), tf.sigmoid(fake_logits))

    (found,) = probe("autoencoders/gan", gan_with(gan, generator_loss=locals()[loss]))
    assert words in found.cause and found.fatal, found.cause


@pytest.mark.slow
def test_a_discriminator_loss_in_two_steps_is_caught(gan):
    def two_steps(real_logits, fake_logits):
        real, fake = tf.sigmoid(real_logits), tf.sigmoid(fake_logits)
        return (-tf.reduce_mean(gan.REAL_LABEL * tf.math.log(real)
                                + (1 - gan.REAL_LABEL) * tf.math.log(1 - real))
                - tf.reduce_mean(tf.math.log(1 - fake)))

    (found,) = probe("autoencoders/gan", gan_with(gan, discriminator_loss=two_steps))
    assert "discriminator_loss() overflows for large logits" in found.cause and found.fatal


@pytest.mark.slow
def test_a_training_step_not_in_training_mode_is_caught(gan):
    def inference_mode(real, noise, generator, discriminator, generator_optimizer,
                       discriminator_optimizer):
        with tf.GradientTape() as generator_tape, tf.GradientTape() as discriminator_tape:
            fakes = generator(noise)
            real_logits = discriminator(real)
            fake_logits = discriminator(fakes, training=True)
            d_loss = gan.discriminator_loss(real_logits, fake_logits)
            g_loss = gan.generator_loss(fake_logits)
        d_variables = discriminator.trainable_variables
        g_variables = generator.trainable_variables
        discriminator_optimizer.apply_gradients(
            zip(discriminator_tape.gradient(d_loss, d_variables), d_variables))
        generator_optimizer.apply_gradients(
            zip(generator_tape.gradient(g_loss, g_variables), g_variables))
        return d_loss, g_loss

    (found,) = probe("autoencoders/gan", gan_with(gan, train_step=inference_mode))
    assert "does not run the generator and the discriminator in training mode" in found.cause
    assert "training=None" in found.evidence and found.fatal
    assert probe("autoencoders/gan", gan) == []  # the solution calls both with training=True
