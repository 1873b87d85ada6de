"""The autoencoders chapter: PCA and principal angles computed with TensorFlow against NumPy, the
checker's reconstruction measures (which hold the code size themselves, so a network that copies
its input cannot pass), the pictures of each solution, the denoising run, and a planted bug that
the check must fail. The generators (GMMN, GAN) and their judge are tested in test_judge.py and
test_generators.py.
"""

import math
import types

import numpy as np
import pytest

from seminar import autoencoding, checker, manifest, measures

COURSE = manifest.load()
PICTURES = {
    "autoencoders/autoencoder": ["reconstructions.png", "loss_curves.png"],
    "autoencoders/linear_autoencoder": ["reconstructions.png", "directions.png", "subspace_curves.png"],
    "autoencoders/conv_autoencoder": ["reconstructions.png", "loss_curves.png", "code_walk.png"],
}


@pytest.fixture(scope="module")
def data():
    return autoencoding.load_mnist()


def context_for(exercise_id, **metrics):
    """A measures.Context as the checker builds it after running ``exercise_id``'s main()."""
    module = types.ModuleType("exercise")
    module.__file__ = str(COURSE.get(exercise_id).solution_path)
    return measures.Context(module=module, metrics=metrics, seed=0, full=False)


def check_of(exercise_id, measure):
    return next(c for c in COURSE.get(exercise_id).checks if c.measure == measure)


# ------------------------------------------------------------------------- PCA and angles


@pytest.mark.slow
def test_pca_with_tensorflow_matches_numpy(data):
    images = data.x_train[:3000]
    pca = autoencoding.fit_pca(images, 8)
    centred = images.astype(np.float64) - images.mean(axis=0, dtype=np.float64)
    _, singular, right = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(pca.variances, singular[:8] ** 2 / len(images), rtol=1e-3)
    # The same subspace (each component up to its sign).
    assert autoencoding.largest_angle_degrees(pca.components, right[:8]) < 0.5
    reconstructed = pca.reconstruct(images)
    expected = images.mean(axis=0) + (centred @ right[:8].T) @ right[:8]
    np.testing.assert_allclose(reconstructed, expected, atol=2e-3)
    assert pca.train_mse() == pytest.approx(np.mean((reconstructed - images) ** 2), rel=1e-3)


def test_largest_angle_of_known_subspaces():
    basis = np.eye(784)[:3]
    assert autoencoding.largest_angle_degrees(basis, basis) == pytest.approx(0.0, abs=1e-6)
    # A mixture of the same directions spans the same space.
    assert autoencoding.largest_angle_degrees(np.array([[1, 1, 0], [0, 2, -1], [3, 0, 1]]) @ basis,
                                              basis) == pytest.approx(0.0, abs=1e-5)
    tilted = basis.copy()
    tilted[2] = math.cos(math.radians(30)) * basis[2] + math.sin(math.radians(30)) * np.eye(784)[5]
    assert autoencoding.largest_angle_degrees(tilted, basis) == pytest.approx(30.0, abs=1e-6)
    assert autoencoding.largest_angle_degrees(np.eye(784)[3:6], basis) == pytest.approx(90.0)
    dependent = np.stack([basis[0], basis[1], basis[0] + basis[1]])
    assert autoencoding.largest_angle_degrees(dependent, basis) == 90.0


# ------------------------------------------------------------------------- the checker's measures


@pytest.mark.slow
def test_pca_as_an_autoencoder_scores_one_against_pca(data):
    pca = autoencoding.fit_pca(data.x_train, 32)
    context = context_for("autoencoders/autoencoder", encode=pca.encode, decode=pca.decode,
                          code_size=32)
    assert measures.run("autoencoder_mse_vs_pca", context) == pytest.approx(1.0, abs=2e-3)
    assert 0.2 < measures.run("autoencoder_mse_vs_mean_image", context) < 0.3
    # PCA itself does not pass the autoencoder's check: the network must do better than linear.
    assert not check_of("autoencoders/autoencoder", "autoencoder_mse_vs_pca").passes(
        measures.run("autoencoder_mse_vs_pca", context), full=True)


def test_the_mean_image_fails_the_autoencoder_check(data):
    mean = data.x_train.mean(axis=0)
    context = context_for("autoencoders/autoencoder", code_size=32,
                          encode=lambda images: np.zeros((len(images), 32), np.float32),
                          decode=lambda codes: np.tile(mean, (len(codes), 1)))
    ratio = measures.run("autoencoder_mse_vs_mean_image", context)
    assert ratio == pytest.approx(1.0, abs=0.01)
    assert not check_of("autoencoders/autoencoder", "autoencoder_mse_vs_mean_image").passes(ratio, full=False)


def test_a_network_that_copies_its_input_is_refused():
    """With a code as wide as the image, reconstruction is perfect and teaches nothing: the
    checker holds each exercise's code size itself."""
    copy = context_for("autoencoders/autoencoder", code_size=32, encode=lambda x: x, decode=lambda c: c)
    with pytest.raises(measures.EvidenceError, match=r"codes of shape \(1000, 32\)"):
        measures.run("autoencoder_test_mse", copy)
    widened = context_for("autoencoders/conv_autoencoder", code_size=784, encode=lambda x: x,
                          decode=lambda c: c)
    with pytest.raises(measures.EvidenceError, match="code has 32 numbers"):
        measures.run("autoencoder_test_mse", widened)


@pytest.mark.parametrize("metrics, message", [
    ({"code_size": 32}, "must return 'encode'"),
    ({"code_size": 32, "encode": lambda x: np.zeros((len(x), 32)), "decode": lambda c: c[:, :3]},
     "one reconstruction of 784 pixels"),
    ({"encode": lambda x: x, "decode": lambda c: c}, "must return 'code_size'"),
])
def test_bad_evidence_gets_a_clear_error(metrics, message):
    with pytest.raises(measures.EvidenceError, match=message):
        measures.run("autoencoder_test_mse", context_for("autoencoders/autoencoder", **metrics))


@pytest.mark.slow
def test_principal_angle_measure_tells_pca_from_random_directions(data):
    pca = autoencoding.fit_pca(data.x_train, 12)
    mixing = np.random.default_rng(0).normal(size=(12, 12))
    mixed = context_for("autoencoders/linear_autoencoder", code_size=12,
                        decoder_weights=mixing @ pca.components)
    assert measures.run("linear_autoencoder_largest_angle", mixed) < 0.5
    random = context_for("autoencoders/linear_autoencoder", code_size=12,
                         decoder_weights=np.random.default_rng(1).normal(size=(12, 784)))
    angle = measures.run("linear_autoencoder_largest_angle", random)
    assert angle > 80
    assert not check_of("autoencoders/linear_autoencoder",
                        "linear_autoencoder_largest_angle").passes(angle, full=False)


# ------------------------------------------------------------------------- the solutions


@pytest.mark.slow
@pytest.mark.parametrize("exercise_id", sorted(PICTURES))
def test_solution_draws_its_pictures_and_reports_its_baselines(exercise_id, solution_run):
    result, output_dir = solution_run(exercise_id)
    for name in PICTURES[exercise_id]:
        assert (output_dir / name).stat().st_size > 5000, f"{name} missing or empty"
    metrics = result.metrics
    # main()'s own figures agree with what the checker measured.
    for check in result.results:
        assert check.value == pytest.approx(metrics[check.check.metric], rel=1e-4)
    assert metrics["pca_mse"] < metrics["mean_image_mse"]


def test_conv_autoencoder_beats_the_dense_one(solution_run):
    conv, _ = solution_run("autoencoders/conv_autoencoder")
    dense, _ = solution_run("autoencoders/autoencoder")
    assert conv.metrics["test_mse"] < dense.metrics["test_mse"]


@pytest.mark.slow
def test_linear_autoencoder_epochs_are_passes_up_to_its_step_budget(tmp_path):
    """The linear autoencoder trains a number of steps, not of epochs: its log's epochs are passes
    over the training images (108 batches of 512), the last one cut at the step budget."""
    exercise = COURSE.get("autoencoders/linear_autoencoder")
    module = checker.load_module(exercise.solution_path)
    metrics = module.main(["--steps", "150", "--seed", "0", "--output-dir", str(tmp_path), "--quiet"])
    assert len(metrics["loss_curve"]) == 150 and metrics["loss_curve_unit"] == "step"
    history = (tmp_path / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 2  # a header, then the epochs of 108 and 42 steps
    assert 0.0 <= metrics["largest_angle_degrees"] <= 90.0
    assert (tmp_path / "subspace_curves.png").stat().st_size > 5000


@pytest.mark.slow
def test_denoising_run_cleans_noisy_digits(tmp_path):
    exercise = COURSE.get("autoencoders/conv_autoencoder")
    module = checker.load_module(exercise.solution_path)
    metrics = module.main(["--fast", "--epochs", "1", "--noise", "0.3", "--seed", "0",
                           "--output-dir", str(tmp_path), "--quiet"])
    assert metrics["denoised_mse"] < 0.3 * metrics["noisy_input_mse"]
    assert (tmp_path / "denoising.png").stat().st_size > 5000


@pytest.mark.slow
def test_training_only_the_decoder_fails_the_check(tmp_path):
    """A planted bug: the gradient step leaves the encoder at its random start."""
    exercise = COURSE.get("autoencoders/autoencoder")
    source = exercise.solution_path.read_text()
    buggy = source.replace("variables = encoder.trainable_variables + decoder.trainable_variables",
                           "variables = decoder.trainable_variables")
    assert buggy != source
    path = tmp_path / "autoencoder_exo.py"
    path.write_text(buggy)
    result = checker.run_checks(exercise, path, output_dir=tmp_path / "out", quiet=True)
    assert not result.passed, "\n".join(r.line() for r in result.results)
