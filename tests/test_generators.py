"""The generators of the autoencoders chapter (GMMN and GAN): their parts against NumPy, the
evidence the checker samples from, their pictures, and planted mistakes that the probes catch
before any training. The judge that scores the samples is tested in test_judge.py."""

import types

import numpy as np
import pytest
import tensorflow as tf

from helpers import context_for, grading_of
from seminar import generative, manifest, runtime
from seminar.grader import checker, grading, measures

COURSE = manifest.load()
# The generators: the exercises whose samples the checker scores with the digit judge.
GENERATORS = [e.id for e in COURSE.exercises
              if grading.load(e).measures.get("fid") is measures.generated_fid]


def solution(exercise_id):
    return checker.load_module(COURSE.get(exercise_id).solution_path)


@pytest.fixture(scope="module")
def gmmn():
    return solution("autoencoders/gmmn")


@pytest.fixture(scope="module")
def gan():
    return solution("autoencoders/gan")


@pytest.fixture(scope="module")
def gmmn_ae():
    return solution("autoencoders/gmmn_autoencoder")


def test_squared_distances_and_mmd_match_numpy(gmmn):
    rng = np.random.default_rng(3)
    x, y = rng.uniform(size=(7, 30)).astype(np.float32), rng.uniform(size=(5, 30)).astype(np.float32)
    distances = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(gmmn.squared_distances(tf.constant(x), tf.constant(y)).numpy(), distances,
                               rtol=1e-4, atol=1e-4)
    sigmas = (1.0, 4.0)

    def kernel(a, b):
        d = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return sum(np.exp(-d / (2 * s * s)) for s in sigmas)

    expected = kernel(x, x).mean() + kernel(y, y).mean() - 2 * kernel(x, y).mean()
    assert float(gmmn.mmd2(tf.constant(x), tf.constant(y), sigmas)) == pytest.approx(expected, rel=1e-3)


def test_gan_losses_are_the_cross_entropies_of_slide_64(gan):
    real_logits = tf.constant([[2.0], [-1.0]])
    fake_logits = tf.constant([[0.5], [-3.0]])

    def bce(target, logits):
        p = 1 / (1 + np.exp(-logits))
        return float(np.mean(-(target * np.log(p) + (1 - target) * np.log(1 - p))))

    d_expected = bce(gan.REAL_LABEL, real_logits.numpy()) + bce(0.0, fake_logits.numpy())
    assert float(gan.discriminator_loss(real_logits, fake_logits)) == pytest.approx(d_expected, rel=1e-5)
    # Non-saturating: -log D(G(z)), not log(1 - D(G(z))).
    assert float(gan.generator_loss(fake_logits)) == pytest.approx(bce(1.0, fake_logits.numpy()), rel=1e-5)


def test_a_wrong_mmd_is_caught_before_training(gmmn):
    def forgets_the_cross_term(x, y, sigmas):
        def k(a, b):
            return tf.add_n([tf.exp(-gmmn.squared_distances(a, b) / (2.0 * s ** 2)) for s in sigmas])

        return tf.reduce_mean(k(x, x)) + tf.reduce_mean(k(y, y))

    module = types.SimpleNamespace(squared_distances=gmmn.squared_distances,
                                   mmd2=forgets_the_cross_term, SIGMAS=gmmn.SIGMAS)
    (found,) = grading_of("autoencoders/gmmn").probe_gmmn(context_for("autoencoders/gmmn", module))
    assert "mmd2()" in found.cause and found.fatal


def test_a_saturating_generator_loss_is_caught_before_training(gan):
    def saturating(fake_logits):  # minus D's loss on the fakes: log(1 - D(G(z)))
        return -tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.zeros_like(fake_logits), logits=fake_logits))

    module = types.SimpleNamespace(discriminator_loss=gan.discriminator_loss,
                                   generator_loss=saturating, REAL_LABEL=gan.REAL_LABEL)
    (found,) = grading_of("autoencoders/gan").probe_gan(context_for("autoencoders/gan", module))
    assert "saturating generator loss" in found.cause and found.fatal


@pytest.mark.slow
def test_the_shared_mmd_is_the_gmmn_lessons(gmmn):
    """seminar/generative.py's squared distances and MMD^2, which GMMN+AE's lesson calls, give what
    the pixel GMMN's solution gives (bandwidths as a list or as a tensor)."""
    rng = np.random.default_rng(5)
    x, y = rng.uniform(size=(9, 12)).astype(np.float32), rng.uniform(size=(6, 12)).astype(np.float32)
    np.testing.assert_allclose(generative.squared_distances(x, y).numpy(),
                               gmmn.squared_distances(tf.constant(x), tf.constant(y)).numpy(), atol=1e-5)
    sigmas = (0.3, 1.0, 2.5)
    want = float(gmmn.mmd2(tf.constant(x), tf.constant(y), sigmas))
    assert float(generative.mmd2(x, y, sigmas)) == pytest.approx(want, rel=1e-5)
    assert float(generative.mmd2(x, y, tf.constant(sigmas))) == pytest.approx(want, rel=1e-5)


def test_gmmn_ae_codes_go_into_the_unit_range_and_back(gmmn_ae):
    codes = np.random.default_rng(1).normal(3.0, 8.0, (200, 32)).astype(np.float32)
    low, high = codes.min(axis=0), codes.max(axis=0)
    scaled = gmmn_ae.scale_codes(tf.constant(codes), low, high).numpy()
    np.testing.assert_allclose(scaled.min(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(scaled.max(axis=0), 1.0, atol=1e-6)
    np.testing.assert_allclose(gmmn_ae.unscale_codes(tf.constant(scaled), low, high).numpy(), codes,
                               rtol=1e-5, atol=1e-4)


def test_gmmn_ae_bandwidths_follow_the_codes_and_the_probe_names_pixel_bandwidths(gmmn_ae):
    """The bandwidths are the median distance between different codes times each scale (NumPy),
    so codes 10 times as spread get bandwidths 10 times as wide; bandwidths() that returns the
    pixel GMMN's fixed ones fails the probe by name, and so does a median that keeps the zeros of
    the pairs i = i; a correct one computed another way (NumPy) passes."""
    codes = np.random.default_rng(2).uniform(size=(60, 32)).astype(np.float32)
    distances = np.sqrt(((codes[:, None] - codes[None]) ** 2).sum(-1))
    median = np.median(distances[~np.eye(60, dtype=bool)])
    got = gmmn_ae.bandwidths(tf.constant(codes), (0.5, 2.0)).numpy()
    np.testing.assert_allclose(got, [0.5 * median, 2.0 * median], rtol=1e-5)
    np.testing.assert_allclose(gmmn_ae.bandwidths(tf.constant(10 * codes), (0.5, 2.0)).numpy(), 10 * got,
                               rtol=1e-4)

    def probe(bandwidths):
        module = types.SimpleNamespace(bandwidths=bandwidths, BANDWIDTH_SCALES=gmmn_ae.BANDWIDTH_SCALES)
        context = context_for("autoencoders/gmmn_autoencoder", module)
        return grading_of("autoencoders/gmmn_autoencoder").probe_bandwidths(context)

    (found,) = probe(lambda codes, scales=(): tf.constant(generative.PIXEL_SIGMAS))
    assert "ignores the codes' scale" in found.cause and found.fatal

    def with_the_diagonal(codes, scales):
        d = np.sqrt(((np.asarray(codes)[:, None] - np.asarray(codes)[None]) ** 2).sum(-1))
        return np.median(d) * np.asarray(scales, np.float32)

    (found,) = probe(with_the_diagonal)
    assert "pairs i = i" in found.cause

    def in_numpy(codes, scales):
        c = np.asarray(codes, np.float64)
        d = np.sqrt(((c[:, None] - c[None]) ** 2).sum(-1))[~np.eye(len(c), dtype=bool)]
        return np.median(d) * np.asarray(scales)

    assert probe(in_numpy) is None


@pytest.mark.slow
def test_gmmn_ae_a_decoder_changed_after_the_autoencoder_is_named(gmmn_ae):
    """After training: the checker's own test error through encode and decode, far above the one
    main() measured before the GMMN phase, names the decoder trained in the GMMN phase."""
    rng = np.random.default_rng(0)
    projection = rng.normal(size=(784, 32)).astype(np.float32) / 28.0

    def encode(images):
        return np.asarray(images, np.float32) @ projection

    def decode(codes):  # the mean image whatever the code: a decoder that no longer decodes
        return np.full((len(codes), 784), 0.13, np.float32)

    grading_module = grading_of("autoencoders/gmmn_autoencoder")
    evidence = dict(encode=encode, decode=decode, code_size=32)
    found = grading_module.after_decoder_unchanged(
        context_for("autoencoders/gmmn_autoencoder", autoencoder_test_mse=0.005, **evidence))
    assert found is not None and "decoder changed during the GMMN phase" in found.cause
    error = measures.reconstruction_error(context_for("autoencoders/gmmn_autoencoder", **evidence), 32)
    assert grading_module.after_decoder_unchanged(
        context_for("autoencoders/gmmn_autoencoder", autoencoder_test_mse=error, **evidence)) is None


@pytest.mark.parametrize("exercise_id", GENERATORS)
def test_generator_reports_the_judges_classes(exercise_id, solution_run):
    result, _ = solution_run(exercise_id)
    assert 1 <= result.metrics["classes"] <= 10


@pytest.mark.parametrize("exercise_id", GENERATORS)
def test_generators_samples_are_not_copies(exercise_id, solution_run):
    """The solutions' samples are their own (no near-copy of an MNIST digit among the checker's
    first 500: see seminar/grader/measures.py); tests/test_trust.py has generators that copy."""
    result, _ = solution_run(exercise_id)
    assert grading.load(COURSE.get(exercise_id)).module.after_copies is measures.copies_finding
    assert not [f for f in result.findings if "copies of" in f.cause], result.findings


def test_generate_depends_on_its_seed_alone(gan):
    """The evidence the checker samples from: the same seed, the same samples, whatever the global
    random state; another seed, other samples."""
    network = gan.build_generator()
    generate = generative.make_generate(network, generative.Noise(gan.NOISE_DIM, "normal", seed=0))
    first = generate(50, 7)
    tf.random.set_seed(123)
    np.random.seed(123)
    again, other = generate(50, 7), generate(50, 8)
    assert first.shape == (50, 28, 28) and first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert 0.0 <= float(first.min()) and float(first.max()) <= 1.0


def test_an_epoch_of_batches_has_a_length_and_drops_the_incomplete_batch():
    images = np.arange(10 * 784, dtype=np.float32).reshape(10, 784)
    epoch = generative.batches(images, 4, np.random.default_rng(0))
    batches = list(epoch)
    assert len(epoch) == len(batches) == 2  # the last 2 images wait for the next epoch
    assert all(tuple(batch.shape) == (4, 784) for batch in batches)
    assert len({int(row[0]) for batch in batches for row in batch.numpy()}) == 8


def test_generator_log_keeps_each_players_curve_and_stops_at_a_nan(tmp_path):
    """A GAN reports two lists of batch losses per epoch: both are kept per step, their means go
    into the epoch's row, a row of samples joins the strip; a NaN loss stops the run, naming it."""
    def generate(n, seed):
        return np.full((n, 28, 28), 0.5, np.float32)

    log = generative.GeneratorLog(runtime.RunContext(tmp_path, quiet=True), epochs=2,
                                  generate=generate, seed=0)
    row = log.epoch(0, d_loss=[1.0, tf.constant(2.0)], g_loss=[3.0, 5.0])
    assert log.curves == {"d_loss": [1.0, 2.0], "g_loss": [3.0, 5.0]}
    assert (row["d_loss"], row["g_loss"]) == (1.5, 4.0) and len(log.strip) == 2
    assert log.loss_curve == []  # a GAN has no single loss curve
    with pytest.raises(FloatingPointError, match="g_loss became NaN or infinite in epoch 2"):
        log.epoch(1, d_loss=[1.0], g_loss=[float("nan")])
