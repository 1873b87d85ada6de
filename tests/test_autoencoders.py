"""The autoencoders chapter: PCA and principal angles computed with TensorFlow against NumPy, the
checker's reconstruction measures (which hold the code size themselves, so a network that copies
its input cannot pass), the pictures of each solution, the denoising run, and a planted bug that
the check must fail. The generators (GMMN, GAN) and their judge are tested in test_judge.py and
test_generators.py.
"""

import math

import numpy as np
import pytest

from helpers import grading_of, measure
from seminar import autoencoding, manifest
from seminar.grader import checker
from seminar.grader.grading import EvidenceError

COURSE = manifest.load()
# The autoencoders: the exercises of the chapter whose grading holds a code size.
AUTOENCODERS = [e.id for e in COURSE.in_chapter("autoencoders")
                if "CODE_SIZE" in vars(grading_of(e.id))]


@pytest.fixture(scope="module")
def data():
    return autoencoding.load_mnist()


def check_of(exercise_id, metric):
    return next(c for c in COURSE.get(exercise_id).checks if c.metric == metric)


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
    evidence = {"encode": pca.encode, "decode": pca.decode, "code_size": 32}
    versus_pca = measure("autoencoders/autoencoder", "mse_vs_pca", **evidence)
    assert versus_pca == pytest.approx(1.0, abs=2e-3)
    assert 0.2 < measure("autoencoders/autoencoder", "mse_vs_mean_image", **evidence) < 0.3
    # PCA itself does not pass the autoencoder's check: the network must do better than linear.
    assert not check_of("autoencoders/autoencoder", "mse_vs_pca").passes(versus_pca, full=True)


def test_the_mean_image_fails_the_autoencoder_check(data):
    mean = data.x_train.mean(axis=0)
    ratio = measure("autoencoders/autoencoder", "mse_vs_mean_image", code_size=32,
                    encode=lambda images: np.zeros((len(images), 32), np.float32),
                    decode=lambda codes: np.tile(mean, (len(codes), 1)))
    assert ratio == pytest.approx(1.0, abs=0.01)
    assert not check_of("autoencoders/autoencoder", "mse_vs_mean_image").passes(ratio, full=False)


def test_a_network_that_copies_its_input_is_refused():
    """With a code as wide as the image, reconstruction is perfect and teaches nothing: the
    checker holds each exercise's code size itself."""
    with pytest.raises(EvidenceError, match=r"codes of shape \(1000, 32\)"):
        measure("autoencoders/autoencoder", "mse_vs_pca", code_size=32, encode=lambda x: x,
                decode=lambda c: c)
    with pytest.raises(EvidenceError, match="code has 32 numbers"):
        measure("autoencoders/conv_autoencoder", "test_mse", code_size=784, encode=lambda x: x,
                decode=lambda c: c)


@pytest.mark.parametrize("metrics, message", [
    ({"code_size": 32}, "must return 'encode'"),
    ({"code_size": 32, "encode": lambda x: np.zeros((len(x), 32)), "decode": lambda c: c[:, :3]},
     "one reconstruction of 784 pixels"),
    ({"encode": lambda x: x, "decode": lambda c: c}, "must return 'code_size'"),
])
def test_bad_evidence_gets_a_clear_error(metrics, message):
    with pytest.raises(EvidenceError, match=message):
        measure("autoencoders/conv_autoencoder", "test_mse", **metrics)


@pytest.mark.slow
def test_principal_angle_measure_tells_pca_from_random_directions(data):
    pca = autoencoding.fit_pca(data.x_train, 12)
    mixing = np.random.default_rng(0).normal(size=(12, 12))
    assert measure("autoencoders/linear_autoencoder", "largest_angle_degrees", code_size=12,
                   decoder_weights=mixing @ pca.components) < 0.5
    angle = measure("autoencoders/linear_autoencoder", "largest_angle_degrees", code_size=12,
                    decoder_weights=np.random.default_rng(1).normal(size=(12, 784)))
    assert angle > 80
    assert not check_of("autoencoders/linear_autoencoder",
                        "largest_angle_degrees").passes(angle, full=False)


# ------------------------------------------------------------------------- the solutions


# GMMN+AE has a code too, but its checks judge samples the checker draws itself (on another seed
# than main()'s report) and it has no PCA baseline: tests/test_generators.py covers it.
RECONSTRUCTING = [e for e in AUTOENCODERS if "measure_fid" not in vars(grading_of(e))]


@pytest.mark.slow
@pytest.mark.parametrize("exercise_id", RECONSTRUCTING)
def test_solution_reports_the_checkers_errors_and_its_baselines(exercise_id, solution_run):
    result, _ = solution_run(exercise_id)
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
